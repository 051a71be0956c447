// vireo on a real terminal (a pseudo-terminal here): guest output appears, typed keys
// reach the guest, Ctrl-A X quits, and the terminal's mode is restored on exit.
#include <termios.h>
#include <unistd.h>

#include "pty_run.h"
#include "vireo_test_support.h"

using namespace vireo::test;

namespace {

std::vector<std::string> echo_guest(const std::string& accel) {
  return {VIREO_BINARY, "-q", "run", "--accel", accel, "--kernel", guest_path("uart_echo"), "--memory", "64M"};
}

void expect_cooked(int slave) {
  struct termios t {};
  ASSERT_EQ(tcgetattr(slave, &t), 0);
  EXPECT_TRUE(t.c_lflag & ICANON) << "terminal left without canonical mode";
  EXPECT_TRUE(t.c_lflag & ECHO) << "terminal left without echo";
  EXPECT_TRUE(t.c_lflag & ISIG) << "terminal left without signals";
}

}  // namespace

class Terminal : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (GetParam() == "kvm") {
      std::string why = kvm_unavailable_reason();
      if (!why.empty()) GTEST_SKIP() << "needs /dev/kvm: " << why;
    }
  }
};

TEST_P(Terminal, KeysReachTheGuestAndPowerOffRestoresTheTerminal) {
  PtyRun run(echo_guest(GetParam()));
  ASSERT_GT(run.pid, 0);
  ASSERT_TRUE(run.wait_for("echo ready", 30)) << run.output;
  // Raw mode: keys go to the guest one by one, without waiting for a newline, and
  // what comes back is the guest's (upper-case) echo.
  run.type("typed keys");
  ASSERT_TRUE(run.wait_for("TYPED KEYS", 30)) << run.output;
  run.type("q");  // the guest powers off
  EXPECT_EQ(run.wait_exit(30), 0) << run.output;
  expect_cooked(run.slave);
}

TEST_P(Terminal, CtrlAXQuitsAndRestoresTheTerminal) {
  PtyRun run(echo_guest(GetParam()));
  ASSERT_GT(run.pid, 0);
  ASSERT_TRUE(run.wait_for("echo ready", 30)) << run.output;
  run.type("\x01x");
  EXPECT_EQ(run.wait_exit(30), 0) << run.output;
  expect_cooked(run.slave);
}

INSTANTIATE_TEST_SUITE_P(Accel, Terminal, ::testing::Values("kvm", "emu"), [](const auto& info) { return info.param; });
