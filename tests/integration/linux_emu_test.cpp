// The default Debian guest (scripts/make-guest.sh) booted by vireo's own x86-64
// interpreter (--accel emu): the kernel runs from the bzImage to the busybox /init
// with one and with two vCPUs (the second started by INIT/SIPI through real mode),
// runs a command and powers off; a guest panic ends vireo with status 2 (pvpanic).
// Each boot takes about a minute here.
#include <sys/stat.h>

#include <fstream>
#include <sstream>

#include "vireo_test_support.h"

using namespace vireo::test;

namespace {

ProcessResult boot_linux_emu(unsigned cpus, const std::string& command) {
  return run_vireo({"--accel", "emu", "--cpus", std::to_string(cpus), "--memory", "256M", "--kernel",
                    guest_file("vmlinuz"), "--initrd", guest_file("initramfs.cpio.gz"), "--cmdline",
                    "console=ttyS0 quiet -- " + command},
                   420);
}

}  // namespace

class LinuxEmu : public ::testing::TestWithParam<unsigned> {};

TEST_P(LinuxEmu, RunsACommandAndPowersOff) {
  SKIP_WITHOUT_GUEST();
  unsigned cpus = GetParam();
  auto r = boot_linux_emu(cpus, "uname -r; nproc");
  EXPECT_FALSE(r.timed_out);
  EXPECT_EQ(r.exit_status, 0) << r.err;
  EXPECT_NE(r.out.find("vireo-guest: ready"), std::string::npos) << r.out;
  // uname -r prints the packaged kernel's release; nproc counts the CPUs that came online.
  EXPECT_NE(r.out.find(read_text(guest_file("kernel-version")) + "\r\n" + std::to_string(cpus) + "\r\n"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("vireo-guest: exit status 0"), std::string::npos) << r.out;
}

INSTANTIATE_TEST_SUITE_P(Cpus, LinuxEmu, ::testing::Values(1u, 2u));

TEST(LinuxEmuPanic, GuestPanicGivesExitStatus2) {
  SKIP_WITHOUT_GUEST();
  // SysRq 'c' crashes the kernel; its pvpanic driver tells vireo.
  auto r = boot_linux_emu(1, "echo c > /proc/sysrq-trigger");
  EXPECT_FALSE(r.timed_out);
  EXPECT_EQ(r.exit_status, 2) << r.err;
  EXPECT_NE(r.err.find("panicked"), std::string::npos) << r.err;
  EXPECT_EQ(r.out.find("vireo-guest: exit status"), std::string::npos) << r.out;
}
