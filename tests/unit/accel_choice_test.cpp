#include <gtest/gtest.h>

#include "vm/accel_choice.h"

using namespace vireo;

namespace {
KvmProbe probe(KvmKind kind) { return {kind, "detail"}; }
}  // namespace

TEST(AccelChoice, AutoPrefersHardwareKvm) {
  auto d = choose_accelerator(AccelChoice::Auto, probe(KvmKind::Hardware), true, true);
  EXPECT_TRUE(d.ok);
  EXPECT_EQ(d.chosen, AccelChoice::Kvm);
  EXPECT_NE(d.reason.find("auto"), std::string::npos);
}

TEST(AccelChoice, AutoFallsBackToTheEmulatorOnPvm) {
  auto d = choose_accelerator(AccelChoice::Auto, probe(KvmKind::Pvm), true, true);
  EXPECT_TRUE(d.ok);
  EXPECT_EQ(d.chosen, AccelChoice::Emu);
  EXPECT_NE(d.reason.find("PVM"), std::string::npos) << d.reason;
}

TEST(AccelChoice, AutoWithoutKvmUsesTheEmulator) {
  auto d = choose_accelerator(AccelChoice::Auto, probe(KvmKind::Missing), true, true);
  EXPECT_TRUE(d.ok);
  EXPECT_EQ(d.chosen, AccelChoice::Emu);
}

TEST(AccelChoice, AutoSaysSoWhenNothingCanBootLinux) {
  auto d = choose_accelerator(AccelChoice::Auto, probe(KvmKind::Pvm), true, false);
  EXPECT_FALSE(d.ok);
  EXPECT_NE(d.reason.find("no accelerator"), std::string::npos) << d.reason;
}

TEST(AccelChoice, ExplicitKvmNeedsADevice) {
  EXPECT_FALSE(choose_accelerator(AccelChoice::Kvm, probe(KvmKind::Missing), true, true).ok);
  EXPECT_FALSE(choose_accelerator(AccelChoice::Kvm, probe(KvmKind::NoPermission), true, true).ok);
  auto d = choose_accelerator(AccelChoice::Kvm, probe(KvmKind::Pvm), true, true);
  EXPECT_TRUE(d.ok);
  EXPECT_EQ(d.chosen, AccelChoice::Kvm);
}

TEST(AccelChoice, ExplicitEmuAlwaysWorksWhenBuilt) {
  auto d = choose_accelerator(AccelChoice::Emu, probe(KvmKind::Hardware), true, false);
  EXPECT_TRUE(d.ok);
  EXPECT_EQ(d.chosen, AccelChoice::Emu);
}
