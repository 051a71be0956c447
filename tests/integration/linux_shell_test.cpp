// The default guest's interactive shell on a terminal, as `make run` gives it: commands
// run, Ctrl-C reaches the foreground process, and `poweroff` / `reboot` typed in the
// guest end vireo with exit status 0 and give the terminal back in its normal mode.
#include <sys/stat.h>
#include <termios.h>

#include "pty_run.h"
#include "vireo_test_support.h"

using namespace vireo::test;

namespace {

// --accel auto: KVM where it has hardware virtualization, else the emulator.
std::vector<std::string> shell_args() {
  return {VIREO_BINARY, "-q", "run", "--kernel", guest_file("vmlinuz"), "--initrd", guest_file("initramfs.cpio.gz"),
          "--cmdline", "console=ttyS0 reboot=acpi quiet", "--cpus", "2"};
}

void expect_terminal_restored(int slave) {
  struct termios t {};
  ASSERT_EQ(tcgetattr(slave, &t), 0);
  EXPECT_TRUE((t.c_lflag & ICANON) && (t.c_lflag & ECHO) && (t.c_lflag & ISIG)) << "terminal left in raw mode";
}

class LinuxShell : public ::testing::Test {
 protected:
  void SetUp() override {
    SKIP_WITHOUT_GUEST();
  }
};

}  // namespace

TEST_F(LinuxShell, CommandsCtrlCAndPoweroff) {
  PtyRun run(shell_args());
  ASSERT_GT(run.pid, 0);
  ASSERT_TRUE(run.wait_for("/ # ", 400)) << run.output;
  run.type("echo $((6 * 7))\r");
  ASSERT_TRUE(run.wait_for("\n42", 60)) << run.output;
  // Ctrl-C goes to the guest's foreground process, not to vireo.
  run.type("sleep 1000\r");
  ASSERT_TRUE(run.wait_for("sleep 1000\r\n", 60)) << run.output;
  // Give the shell time to start the command in the foreground (slow under the
  // emulator); a Ctrl-C that reaches the prompt instead would prove nothing.
  run.wait_for("\x01never", 3);
  run.type("\x03");
  run.type("echo interrupted-$?\r");
  ASSERT_TRUE(run.wait_for("interrupted-130", 60)) << run.output;
  run.type("poweroff\r");
  EXPECT_EQ(run.wait_exit(120), 0) << run.output;
  expect_terminal_restored(run.slave);
}

TEST_F(LinuxShell, RebootEndsVireoWithZero) {
  PtyRun run(shell_args());
  ASSERT_GT(run.pid, 0);
  ASSERT_TRUE(run.wait_for("/ # ", 400)) << run.output;
  run.type("reboot\r");
  EXPECT_EQ(run.wait_exit(120), 0) << run.output;
  expect_terminal_restored(run.slave);
}
