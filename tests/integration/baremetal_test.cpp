// Bare-metal test guests (tests/guests/*.asm, tiny bzImages) under each accelerator:
// KVM (any KVM, including PVM, where their ring-0 code is emulated by KVM) and the
// emulator.
#include <iterator>

#include "vireo_test_support.h"

using namespace vireo::test;

namespace {

class BareMetal : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (GetParam() == "kvm") {
      std::string why = kvm_unavailable_reason();
      if (!why.empty()) GTEST_SKIP() << "needs /dev/kvm: " << why;
    }
  }
  std::vector<std::string> args(const std::string& guest) const {
    return {"--accel", GetParam(), "--kernel", guest_path(guest), "--memory", "64M"};
  }
};

}  // namespace

TEST_P(BareMetal, BootProtocolStateSeenFromInside) {
  std::string initrd = "VIREO-INITRD-OK!" + std::string(5000, 'x') + "END!";
  std::string initrd_path = temp_file("boot_check_initrd", initrd);
  auto a = args("boot_check");
  a.insert(a.end(), {"--initrd", initrd_path, "--cmdline", "vireo-boot-check answer=42", "--device",
                           "debug-exit"});
  auto r = run_vireo(a);
  EXPECT_FALSE(r.timed_out);
  EXPECT_EQ(r.exit_status, (0x10 << 1) | 1) << r.err;
  EXPECT_NE(r.err.find("guest debug: boot check passed"), std::string::npos) << r.err;
}

TEST_P(BareMetal, BootCheckNoticesAWrongCommandLine) {
  // The same guest must fail its command-line check when given another one: the
  // check above is real.
  std::string initrd_path = temp_file("boot_check_initrd2", "VIREO-INITRD-OK!END!");
  auto a = args("boot_check");
  a.insert(a.end(), {"--initrd", initrd_path, "--cmdline", "something else", "--device", "debug-exit"});
  auto r = run_vireo(a);
  EXPECT_EQ(r.exit_status, (4 << 1) | 1) << r.err;
}

TEST_P(BareMetal, UartOutputReachesTheTerminalAndPowerOffExitsZero) {
  auto r = run_vireo(args("uart_hello"));
  EXPECT_FALSE(r.timed_out);
  EXPECT_EQ(r.exit_status, 0) << r.err;
  EXPECT_NE(r.out.find("hello from the vireo uart\r\n"), std::string::npos) << "stdout: " << r.out;
}

TEST_P(BareMetal, I8042ResetEndsVireoWithZero) {
  auto r = run_vireo(args("reset_i8042"));
  EXPECT_FALSE(r.timed_out);
  EXPECT_EQ(r.exit_status, 0) << r.err;
  EXPECT_NE(r.err.find("resetting through the i8042"), std::string::npos) << r.err;
}

TEST_P(BareMetal, AcpiResetRegisterEndsVireoWithZero) {
  auto r = run_vireo(args("reset_acpi"));
  EXPECT_FALSE(r.timed_out);
  EXPECT_EQ(r.exit_status, 0) << r.err;
  EXPECT_NE(r.err.find("resetting through the ACPI reset register"), std::string::npos) << r.err;
}

TEST_P(BareMetal, TripleFaultIsReportedWithNonZeroExit) {
  auto r = run_vireo(args("triple_fault"));
  EXPECT_FALSE(r.timed_out);
  EXPECT_FALSE(r.core_dumped);
  EXPECT_EQ(r.exit_status, 2) << r.err;
  EXPECT_NE(r.err.find("triple"), std::string::npos) << r.err;
}

TEST_P(BareMetal, UnclaimedMmioAndPortsReadAllOnes) {
  auto a = args("mmio_probe");
  a.insert(a.end(), {"--device", "debug-exit"});
  auto r = run_vireo(a);
  EXPECT_FALSE(r.timed_out);
  EXPECT_EQ(r.exit_status, (0x10 << 1) | 1) << r.err;
}

TEST_P(BareMetal, GuestPanicIsReportedWithNonZeroExit) {
  auto a = args("panic");
  a.insert(a.end(), {"--device", "debug-exit"});
  auto r = run_vireo(a);
  EXPECT_FALSE(r.timed_out);
  EXPECT_EQ(r.exit_status, 2) << r.err;
  EXPECT_NE(r.err.find("panicked"), std::string::npos) << r.err;
}

INSTANTIATE_TEST_SUITE_P(Accel, BareMetal, ::testing::Values("kvm", "emu"),
                         [](const auto& info) { return info.param; });

TEST(BareMetalEmu, TraceWritesDisassembledInstructions) {
  std::string trace = ::testing::TempDir() + "uart_trace.txt";
  auto r = run_vireo({"--accel", "emu", "--kernel", guest_path("uart_hello"), "--memory", "64M", "--trace", trace});
  EXPECT_EQ(r.exit_status, 0) << r.err;
  std::ifstream in(trace);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  // The guest's first instructions: mov dx, 0x3fb; mov al, 0x80; out dx, al.
  EXPECT_NE(text.find("100200"), std::string::npos) << text.substr(0, 2000);
  EXPECT_NE(text.find("out dx, al"), std::string::npos) << text.substr(0, 2000);
}

TEST(BareMetalKvmOnly, TraceNeedsTheEmulator) {
  auto r = run_vireo({"--accel", "kvm", "--kernel", guest_path("uart_hello"), "--trace", "/tmp/x"});
  EXPECT_EQ(r.exit_status, 1);
  EXPECT_NE(r.err.find("--trace needs the emulator"), std::string::npos) << r.err;
}

TEST_P(BareMetal, SerialInputIsInterruptDrivenThroughTheIoapic) {
  std::string input = "hello vireo\nq";
  auto r = run_vireo(args("uart_echo"), 60, &input);
  EXPECT_FALSE(r.timed_out);
  EXPECT_EQ(r.exit_status, 0) << r.err;
  EXPECT_NE(r.out.find("HELLO VIREO\n"), std::string::npos) << "stdout: " << r.out << "\nstderr: " << r.err;
}
