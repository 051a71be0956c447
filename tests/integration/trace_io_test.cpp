// --trace-io logs each port or MMIO address that no device claims, once.
#include "vireo_test_support.h"

using namespace vireo::test;

namespace {
size_t count(const std::string& text, const std::string& needle) {
  size_t n = 0;
  for (size_t p = text.find(needle); p != std::string::npos; p = text.find(needle, p + 1)) ++n;
  return n;
}
}  // namespace

TEST(TraceIo, LogsEachUnclaimedAddressOnce) {
  // The probe kernel reads PCI config data (0xcfc) once per device slot: 32 reads.
  std::string kernel = std::string(VIREO_MULTIBOOT_GUEST_DIR) + "/mb_pci_probe.elf";
  auto r = run_vireo({"--accel", "emu", "--kernel", kernel, "--memory", "64M", "--device", "debug-exit", "--trace-io"});
  EXPECT_EQ(r.exit_status, (0x10 << 1) | 1) << r.err;
  EXPECT_EQ(count(r.err, "unclaimed port read 0xcfc size 4 value 0xffffffff"), 1u) << r.err;
  EXPECT_EQ(count(r.err, "unclaimed mmio read 0x20000010 size 2 value 0xffff"), 1u) << r.err;
  EXPECT_EQ(count(r.err, "unclaimed port read 0xf4"), 0u) << "the debug-exit port is claimed:\n" << r.err;
}

TEST(TraceIo, SilentWithoutTheFlag) {
  std::string kernel = std::string(VIREO_MULTIBOOT_GUEST_DIR) + "/mb_pci_probe.elf";
  auto r = run_vireo({"--accel", "emu", "--kernel", kernel, "--memory", "64M", "--device", "debug-exit"});
  EXPECT_EQ(r.exit_status, (0x10 << 1) | 1) << r.err;
  EXPECT_EQ(r.err.find("vireo: unclaimed"), std::string::npos) << r.err;
}
