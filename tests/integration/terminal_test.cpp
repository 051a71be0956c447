// vireo on a real terminal (a pseudo-terminal here): guest output appears, typed keys
// reach the guest, Ctrl-A X quits, and the terminal's mode is restored on exit.
#include <fcntl.h>
#include <poll.h>
#include <pty.h>
#include <sys/ioctl.h>
#include <signal.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include "vireo_test_support.h"

using namespace vireo::test;

namespace {

struct PtyRun {
  pid_t pid = -1;
  int master = -1;
  int slave = -1;  // kept open so the terminal's mode can be read after vireo exits
  std::string output;

  explicit PtyRun(const std::vector<std::string>& args) {
    if (openpty(&master, &slave, nullptr, nullptr, nullptr) != 0) return;
    pid = fork();
    if (pid == 0) {
      setsid();
      ioctl(slave, TIOCSCTTY, 0);
      dup2(slave, 0);
      dup2(slave, 1);
      dup2(slave, 2);
      std::vector<char*> argv;
      for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
      argv.push_back(nullptr);
      execv(argv[0], argv.data());
      _exit(127);
    }
  }
  ~PtyRun() {
    if (pid > 0) {
      kill(pid, SIGKILL);
      waitpid(pid, nullptr, 0);
    }
    if (master >= 0) close(master);
    if (slave >= 0) close(slave);
  }
  // Reads output until `needle` appears or the time runs out.
  bool wait_for(const std::string& needle, double seconds) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
    while (output.find(needle) == std::string::npos) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) return false;
      struct pollfd p = {master, POLLIN, 0};
      if (poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
      char buf[4096];
      ssize_t n = read(master, buf, sizeof buf);
      if (n <= 0) return false;
      output.append(buf, static_cast<size_t>(n));
    }
    return true;
  }
  void type(const std::string& keys) { ASSERT_EQ(write(master, keys.data(), keys.size()), ssize_t(keys.size())); }
  int wait_exit(double seconds) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
    int status = 0;
    while (std::chrono::steady_clock::now() < deadline) {
      wait_for("\x01never", 0.05);  // keep draining output
      if (waitpid(pid, &status, WNOHANG) == pid) {
        pid = -1;
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      }
    }
    return -1;
  }
};

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
