#include "host/console.h"

#include <fcntl.h>
#include <pty.h>
#include <signal.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "base/error.h"

using namespace vireo;
using namespace std::chrono_literals;

namespace {

bool wait_until(const std::function<bool()>& done, std::chrono::milliseconds limit = 5000ms) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < deadline) {
    if (done()) return true;
    std::this_thread::sleep_for(1ms);
  }
  return done();
}

// Collects what the console hands to the guest and the escape events.
struct Sink {
  std::mutex mu;
  std::string bytes;
  std::vector<EscapeEvent> events;
  size_t accept_per_call = SIZE_MAX;  // how many bytes each offer takes
  int offers = 0;

  Console::InputCallback input() {
    return [this](const uint8_t* d, size_t n) {
      std::lock_guard<std::mutex> lock(mu);
      ++offers;
      size_t take = std::min(n, accept_per_call);
      bytes.append(reinterpret_cast<const char*>(d), take);
      return take;
    };
  }
  Console::EventCallback event() {
    return [this](EscapeEvent e) {
      std::lock_guard<std::mutex> lock(mu);
      events.push_back(e);
    };
  }
  std::string got() {
    std::lock_guard<std::mutex> lock(mu);
    return bytes;
  }
  size_t event_count() {
    std::lock_guard<std::mutex> lock(mu);
    return events.size();
  }
};

struct Pipe {
  int r = -1, w = -1;
  Pipe() { EXPECT_EQ(pipe(&r), 0); }
  ~Pipe() {
    if (r >= 0) close(r);
    if (w >= 0) close(w);
  }
  void put(const std::string& s) { ASSERT_EQ(write(w, s.data(), s.size()), static_cast<ssize_t>(s.size())); }
};

}  // namespace

TEST(Console, PipeInputReachesGuestAndEscapesWork) {
  Pipe in;
  Sink sink;
  Console console(in.r);
  console.start(sink.input(), sink.event());
  EXPECT_FALSE(console.is_terminal());
  in.put("hello\x01");
  in.put("x after");
  ASSERT_TRUE(wait_until([&] { return sink.got() == "hello after" && sink.event_count() == 1; })) << sink.got();
  EXPECT_EQ(sink.events[0], EscapeEvent::Quit);
  console.stop();
  EXPECT_FALSE(console.running());
}

TEST(Console, RefusedBytesAreOfferedAgainInOrder) {
  Pipe in;
  Sink sink;
  sink.accept_per_call = 1;
  Console console(in.r);
  console.start(sink.input(), sink.event());
  in.put("abcdef");
  ASSERT_TRUE(wait_until([&] { return sink.got() == "abcdef"; })) << sink.got();
  EXPECT_GE(sink.offers, 6);
}

TEST(Console, EndOfInputDoesNotEndTheConsoleAndStopIsPrompt) {
  Sink sink;
  Pipe in;
  Console console(in.r);
  console.start(sink.input(), sink.event());
  in.put("z");
  close(in.w);
  in.w = -1;
  ASSERT_TRUE(wait_until([&] { return sink.got() == "z"; }));
  std::this_thread::sleep_for(20ms);
  EXPECT_TRUE(console.running());
  auto t0 = std::chrono::steady_clock::now();
  console.stop();
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 1s);
}

TEST(Console, OnlyOneConsoleAtATime) {
  Pipe a, b;
  Sink sink;
  Console first(a.r), second(b.r);
  first.start(sink.input(), sink.event());
  EXPECT_THROW(second.start(sink.input(), sink.event()), Error);
  first.stop();
  second.start(sink.input(), sink.event());
  second.stop();
}

TEST(Console, TerminalIsRawWhileRunningAndRestoredAfter) {
  int master = -1, slave = -1;
  ASSERT_EQ(openpty(&master, &slave, nullptr, nullptr, nullptr), 0);
  struct termios before {};
  ASSERT_EQ(tcgetattr(slave, &before), 0);
  ASSERT_TRUE(before.c_lflag & ICANON) << "a fresh pty starts in cooked mode";
  {
    Sink sink;
    Console console(slave);
    console.start(sink.input(), sink.event());
    EXPECT_TRUE(console.is_terminal());
    struct termios during {};
    ASSERT_EQ(tcgetattr(slave, &during), 0);
    EXPECT_FALSE(during.c_lflag & (ICANON | ECHO | ISIG));
    EXPECT_FALSE(during.c_iflag & (ICRNL | IXON));
    EXPECT_FALSE(during.c_oflag & OPOST);
    // Ctrl-C and CR reach the guest as bytes; Ctrl-A Ctrl-A is one Ctrl-A.
    ASSERT_EQ(write(master, "\x03\r\x01\x01", 4), 4);
    ASSERT_TRUE(wait_until([&] { return sink.got() == std::string("\x03\r\x01", 3); })) << sink.got().size();
    console.stop();
  }
  struct termios after {};
  ASSERT_EQ(tcgetattr(slave, &after), 0);
  EXPECT_EQ(after.c_lflag, before.c_lflag);
  EXPECT_EQ(after.c_iflag, before.c_iflag);
  EXPECT_EQ(after.c_oflag, before.c_oflag);
  close(master);
  close(slave);
}

TEST(Console, FatalSignalRestoresTheTerminal) {
  int master = -1, slave = -1;
  ASSERT_EQ(openpty(&master, &slave, nullptr, nullptr, nullptr), 0);
  int ready[2];
  ASSERT_EQ(pipe(ready), 0);
  pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    // The child leaves the terminal raw and is then killed by SIGTERM.
    Console console(slave);
    console.start([](const uint8_t*, size_t n) { return n; }, [](EscapeEvent) {});
    char c = console.is_terminal() ? 'r' : 'n';
    if (write(ready[1], &c, 1) != 1) _exit(3);
    for (;;) pause();
  }
  close(ready[1]);
  char c = 0;
  ASSERT_EQ(read(ready[0], &c, 1), 1);
  EXPECT_EQ(c, 'r');
  struct termios during {};
  ASSERT_EQ(tcgetattr(slave, &during), 0);
  EXPECT_FALSE(during.c_lflag & ICANON) << "the child switched the pty to raw mode";
  kill(child, SIGTERM);
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  EXPECT_TRUE(WIFSIGNALED(status));
  if (WIFSIGNALED(status)) {
    EXPECT_EQ(WTERMSIG(status), SIGTERM) << "re-raised with the default action";
  }
  struct termios after {};
  ASSERT_EQ(tcgetattr(slave, &after), 0);
  EXPECT_TRUE(after.c_lflag & ICANON);
  EXPECT_TRUE(after.c_lflag & ECHO);
  close(ready[0]);
  close(master);
  close(slave);
}

TEST(Console, WriteOutputWritesEverythingThroughANonBlockingPipe) {
  // Put a non-blocking pipe on stdout and read it slowly: write_output must wait out
  // EAGAIN and partial writes.
  std::fflush(stdout);
  int saved_stdout = dup(STDOUT_FILENO);
  ASSERT_GE(saved_stdout, 0);
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  ASSERT_EQ(fcntl(fds[1], F_SETFL, O_NONBLOCK), 0);
  ASSERT_EQ(dup2(fds[1], STDOUT_FILENO), STDOUT_FILENO);
  close(fds[1]);

  std::string expected;
  for (int i = 0; expected.size() < 512 * 1024; ++i) expected += std::to_string(i) + ",";
  std::string received;
  std::thread reader([&] {
    char buf[3000];
    for (;;) {
      ssize_t n = read(fds[0], buf, sizeof buf);
      if (n <= 0) break;
      received.append(buf, static_cast<size_t>(n));
      std::this_thread::sleep_for(50us);
    }
  });
  Console::write_output(reinterpret_cast<const uint8_t*>(expected.data()), expected.size());
  ASSERT_EQ(dup2(saved_stdout, STDOUT_FILENO), STDOUT_FILENO);  // closes the pipe's last writer
  close(saved_stdout);
  reader.join();
  close(fds[0]);
  EXPECT_EQ(received.size(), expected.size());
  EXPECT_TRUE(received == expected);
}
