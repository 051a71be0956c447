// The default Debian guest (scripts/make-guest.sh) booted by vireo's own x86-64
// interpreter (--accel emu): the kernel runs from the bzImage to the busybox /init
// with one and with two vCPUs (the second started by INIT/SIPI through real mode),
// runs a command and powers off; a guest panic ends vireo with status 2 (pvpanic); the
// same work gives the same results with the translation tier and without it.
// Each boot takes a few seconds here (several without the translation tier).
#include <sys/stat.h>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "vireo_test_support.h"

using namespace vireo::test;

namespace {

ProcessResult boot_linux_emu(unsigned cpus, const std::string& command, const std::string& jit = "on") {
  return run_vireo({"--accel", "emu", "--jit", jit, "--cpus", std::to_string(cpus), "--memory", "256M", "--kernel",
                    guest_file("vmlinuz"), "--initrd", guest_file("initramfs.cpio.gz"), "--cmdline",
                    "console=ttyS0 quiet -- " + command},
                   420);
}

// The lines of `out` that hold an md5sum result ("<32 hex digits>  <name>").
std::vector<std::string> md5_lines(const std::string& out) {
  std::vector<std::string> lines;
  std::istringstream in(out);
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.size() > 34 && line.find_first_not_of("0123456789abcdef") == 32 && line.compare(32, 2, "  ") == 0)
      lines.push_back(line);
  }
  return lines;
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

// The same guest work with the translation tier and with the interpreter alone: both
// must compute the same (checksums of the busybox binary, directly and through a gzip
// round trip, and shell arithmetic).
TEST(LinuxEmuTiers, TranslatedAndInterpretedGuestsAgree) {
  SKIP_WITHOUT_GUEST();
  const std::string command =
      "md5sum /bin/busybox; gzip -c /bin/busybox | gunzip | md5sum; echo product $((12345*6789))";
  auto translated = boot_linux_emu(1, command, "on");
  auto interpreted = boot_linux_emu(1, command, "off");
  for (const ProcessResult* r : {&translated, &interpreted}) {
    EXPECT_FALSE(r->timed_out);
    EXPECT_EQ(r->exit_status, 0) << r->err;
    EXPECT_NE(r->out.find("product 83810205"), std::string::npos) << r->out;
    EXPECT_NE(r->out.find("vireo-guest: exit status 0"), std::string::npos) << r->out;
  }
  std::vector<std::string> a = md5_lines(translated.out), b = md5_lines(interpreted.out);
  ASSERT_EQ(a.size(), 2u) << translated.out;
  ASSERT_EQ(b.size(), 2u) << interpreted.out;
  EXPECT_EQ(a[0].substr(0, 32), a[1].substr(0, 32));  // the gzip round trip gives the file back
  EXPECT_EQ(a, b);
}

TEST(LinuxEmuPanic, GuestPanicGivesExitStatus2) {
  SKIP_WITHOUT_GUEST();
  // SysRq 'c' crashes the kernel; its pvpanic driver tells vireo.
  auto r = boot_linux_emu(1, "echo c > /proc/sysrq-trigger");
  EXPECT_FALSE(r.timed_out);
  EXPECT_EQ(r.exit_status, 2) << r.err;
  EXPECT_NE(r.err.find("panicked"), std::string::npos) << r.err;
  EXPECT_EQ(r.out.find("vireo-guest: exit status"), std::string::npos) << r.out;
}
