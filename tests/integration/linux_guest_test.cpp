// The default Debian guest (scripts/make-guest.sh) booted by vireo: run a command in
// the guest, check what the guest itself reports, and the exit status.
#include <sys/stat.h>

#include <fstream>
#include <sstream>

#include "vireo_test_support.h"

using namespace vireo::test;

namespace {

#define SKIP_WITHOUT_HW_KVM()                                                                          \
  do {                                                                                                 \
    std::string why = kvm_hw_unavailable_reason();                                                    \
    if (!why.empty()) GTEST_SKIP() << "Linux under KVM needs hardware virtualization: " << why;       \
  } while (0)

ProcessResult boot_linux_kvm(unsigned cpus, const std::string& command) {
  return run_vireo({"--accel", "kvm", "--cpus", std::to_string(cpus), "--memory", "512M", "--kernel",
                    guest_file("vmlinuz"), "--initrd", guest_file("initramfs.cpio.gz"), "--cmdline",
                    "console=ttyS0 quiet -- " + command},
                   300);
}

}  // namespace

class LinuxKvm : public ::testing::TestWithParam<unsigned> {};

TEST_P(LinuxKvm, RunsACommandAndPowersOff) {
  SKIP_WITHOUT_GUEST();
  SKIP_WITHOUT_HW_KVM();
  unsigned cpus = GetParam();
  auto r = boot_linux_kvm(cpus, "uname -r; nproc");
  EXPECT_FALSE(r.timed_out);
  EXPECT_EQ(r.exit_status, 0) << r.err;
  EXPECT_NE(r.out.find("vireo-guest: ready"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find(read_text(guest_file("kernel-version")) + "\r\n" + std::to_string(cpus) + "\r\n"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("vireo-guest: exit status 0"), std::string::npos) << r.out;
}

INSTANTIATE_TEST_SUITE_P(Cpus, LinuxKvm, ::testing::Values(1u, 2u));

TEST(LinuxKvmPanic, GuestPanicGivesNonZeroExit) {
  SKIP_WITHOUT_GUEST();
  SKIP_WITHOUT_HW_KVM();
  auto r = boot_linux_kvm(1, "echo c > /proc/sysrq-trigger");
  EXPECT_FALSE(r.timed_out);
  EXPECT_EQ(r.exit_status, 2) << r.err;
  EXPECT_NE(r.err.find("panicked"), std::string::npos) << r.err;
}

TEST(LinuxAuto, SaysWhichAcceleratorOrWhyNone) {
  // `vireo run` with --accel auto either boots (hardware KVM, or the emulator once it
  // boots Linux) or says in one line why nothing here can.
  SKIP_WITHOUT_GUEST();
  auto r = run_vireo({"--kernel", guest_file("vmlinuz"), "--initrd", guest_file("initramfs.cpio.gz"), "--cmdline",
                      "console=ttyS0 quiet -- true"},
                     600);
  EXPECT_FALSE(r.timed_out);
  if (r.exit_status != 0) {
    EXPECT_EQ(r.exit_status, 1) << r.err;
    EXPECT_EQ(count_lines(r.err), 1) << r.err;
    EXPECT_NE(r.err.find("no accelerator"), std::string::npos) << r.err;
  } else {
    EXPECT_NE(r.err.find("auto:"), std::string::npos) << r.err;
  }
}
