// Bare-metal test guests (tests/guests/*.asm, tiny bzImages) under the KVM accelerator.
// They run on any KVM, including PVM, where their ring-0 code is emulated by KVM.
#include "vireo_test_support.h"

using namespace vireo::test;

namespace {

std::vector<std::string> kvm_args(const std::string& guest) {
  return {"--accel", "kvm", "--kernel", guest_path(guest), "--memory", "64M"};
}

}  // namespace

TEST(BareMetalKvm, BootProtocolStateSeenFromInside) {
  SKIP_WITHOUT_KVM();
  std::string initrd = "VIREO-INITRD-OK!" + std::string(5000, 'x') + "END!";
  std::string initrd_path = temp_file("boot_check_initrd", initrd);
  auto args = kvm_args("boot_check");
  args.insert(args.end(), {"--initrd", initrd_path, "--cmdline", "vireo-boot-check answer=42", "--device",
                           "debug-exit"});
  auto r = run_vireo(args);
  EXPECT_FALSE(r.timed_out);
  EXPECT_EQ(r.exit_status, (0x10 << 1) | 1) << r.err;
  EXPECT_NE(r.err.find("guest debug: boot check passed"), std::string::npos) << r.err;
}

TEST(BareMetalKvm, BootCheckNoticesAWrongCommandLine) {
  // The same guest must fail its command-line check when given another one: the
  // check above is real.
  SKIP_WITHOUT_KVM();
  std::string initrd_path = temp_file("boot_check_initrd2", "VIREO-INITRD-OK!END!");
  auto args = kvm_args("boot_check");
  args.insert(args.end(), {"--initrd", initrd_path, "--cmdline", "something else", "--device", "debug-exit"});
  auto r = run_vireo(args);
  EXPECT_EQ(r.exit_status, (4 << 1) | 1) << r.err;
}

TEST(BareMetalKvm, UartOutputReachesTheTerminalAndPowerOffExitsZero) {
  SKIP_WITHOUT_KVM();
  auto r = run_vireo(kvm_args("uart_hello"));
  EXPECT_FALSE(r.timed_out);
  EXPECT_EQ(r.exit_status, 0) << r.err;
  EXPECT_NE(r.out.find("hello from the vireo uart\r\n"), std::string::npos) << "stdout: " << r.out;
}

TEST(BareMetalKvm, I8042ResetEndsVireoWithZero) {
  SKIP_WITHOUT_KVM();
  auto r = run_vireo(kvm_args("reset_i8042"));
  EXPECT_FALSE(r.timed_out);
  EXPECT_EQ(r.exit_status, 0) << r.err;
  EXPECT_NE(r.err.find("resetting through the i8042"), std::string::npos) << r.err;
}

TEST(BareMetalKvm, AcpiResetRegisterEndsVireoWithZero) {
  SKIP_WITHOUT_KVM();
  auto r = run_vireo(kvm_args("reset_acpi"));
  EXPECT_FALSE(r.timed_out);
  EXPECT_EQ(r.exit_status, 0) << r.err;
  EXPECT_NE(r.err.find("resetting through the ACPI reset register"), std::string::npos) << r.err;
}

TEST(BareMetalKvm, TripleFaultIsReportedWithNonZeroExit) {
  SKIP_WITHOUT_KVM();
  auto r = run_vireo(kvm_args("triple_fault"));
  EXPECT_FALSE(r.timed_out);
  EXPECT_FALSE(r.core_dumped);
  EXPECT_EQ(r.exit_status, 2) << r.err;
  EXPECT_NE(r.err.find("triple"), std::string::npos) << r.err;
}

TEST(BareMetalKvm, UnclaimedMmioAndPortsReadAllOnes) {
  SKIP_WITHOUT_KVM();
  auto args = kvm_args("mmio_probe");
  args.insert(args.end(), {"--device", "debug-exit"});
  auto r = run_vireo(args);
  EXPECT_FALSE(r.timed_out);
  EXPECT_EQ(r.exit_status, (0x10 << 1) | 1) << r.err;
}

TEST(BareMetalKvm, GuestPanicIsReportedWithNonZeroExit) {
  SKIP_WITHOUT_KVM();
  auto args = kvm_args("panic");
  args.insert(args.end(), {"--device", "debug-exit"});
  auto r = run_vireo(args);
  EXPECT_FALSE(r.timed_out);
  EXPECT_EQ(r.exit_status, 2) << r.err;
  EXPECT_NE(r.err.find("panicked"), std::string::npos) << r.err;
}
