#include "host/console.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <termios.h>
#include <unistd.h>

#include <cassert>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>
#include <system_error>

#include "base/error.h"
#include "base/log.h"

namespace vireo {
namespace {

// The terminal state to put back. Read by signal handlers: only lock-free atomics and
// data written before `g_raw` is set.
struct SavedTerminal {
  int fd = -1;
  struct termios attributes {};
};
SavedTerminal g_saved;
std::atomic<bool> g_raw{false};
static_assert(std::atomic<bool>::is_always_lock_free, "signal handlers need a lock-free flag");

std::atomic<bool> g_console_running{false};

constexpr int kRestoreSignals[] = {SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGABRT, SIGSEGV};
constexpr size_t kSignalCount = sizeof(kRestoreSignals) / sizeof(kRestoreSignals[0]);
struct sigaction g_previous[kSignalCount];
bool g_installed[kSignalCount];

// Async-signal-safe: an atomic exchange and tcsetattr().
void restore_terminal() {
  if (g_raw.exchange(false)) tcsetattr(g_saved.fd, TCSANOW, &g_saved.attributes);
}

void on_fatal_signal(int sig, siginfo_t* info, void* context) {
  const int saved_errno = errno;
  restore_terminal();
  size_t i = 0;
  while (i < kSignalCount && kRestoreSignals[i] != sig) ++i;
  const struct sigaction* previous = i < kSignalCount ? &g_previous[i] : nullptr;
  if (previous && (previous->sa_flags & SA_SIGINFO) && previous->sa_sigaction) {
    previous->sa_sigaction(sig, info, context);
  } else if (previous && previous->sa_handler != SIG_DFL && previous->sa_handler != SIG_IGN) {
    previous->sa_handler(sig);
  } else {
    // Default action: reinstate it and send the signal again. It is blocked while this
    // handler runs, so it takes effect as soon as the handler returns (a fault
    // re-executes the faulting instruction and ends the same way).
    struct sigaction dfl {};
    dfl.sa_handler = SIG_DFL;
    sigemptyset(&dfl.sa_mask);
    sigaction(sig, &dfl, nullptr);
    raise(sig);
  }
  errno = saved_errno;
}

void install_signal_handlers() {
  for (size_t i = 0; i < kSignalCount; ++i) {
    g_installed[i] = false;
    if (sigaction(kRestoreSignals[i], nullptr, &g_previous[i]) != 0) continue;
    if (!(g_previous[i].sa_flags & SA_SIGINFO) && g_previous[i].sa_handler == SIG_IGN) continue;  // stays ignored
    struct sigaction action {};
    action.sa_sigaction = on_fatal_signal;
    action.sa_flags = SA_SIGINFO | SA_RESTART;
    sigemptyset(&action.sa_mask);
    g_installed[i] = sigaction(kRestoreSignals[i], &action, nullptr) == 0;
  }
}

void remove_signal_handlers() {
  for (size_t i = 0; i < kSignalCount; ++i) {
    if (g_installed[i]) sigaction(kRestoreSignals[i], &g_previous[i], nullptr);
    g_installed[i] = false;
  }
}

void write_all(int fd, const void* data, size_t len) {
  const uint8_t* p = static_cast<const uint8_t*>(data);
  while (len > 0) {
    ssize_t n = ::write(fd, p, len);
    if (n > 0) {
      p += n;
      len -= static_cast<size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      // Someone made the descriptor non-blocking: wait until it drains.
      struct pollfd pfd {fd, POLLOUT, 0};
      if (poll(&pfd, 1, -1) < 0 && errno != EINTR) return;
      continue;
    }
    static std::atomic<bool> warned{false};
    if (!warned.exchange(true)) {
      log_warn("guest output dropped: writing to descriptor {} failed: {}", fd, n < 0 ? strerror(errno) : "no progress");
    }
    return;
  }
}

void close_fd(int& fd) {
  if (fd >= 0) ::close(fd);
  fd = -1;
}

}  // namespace

Console::Console(int input_fd) : input_fd_(input_fd) {}

Console::~Console() { stop(); }

void Console::write_output(const uint8_t* data, size_t len) { write_all(STDOUT_FILENO, data, len); }

void Console::start(InputCallback on_input, EventCallback on_event) {
  if (thread_.joinable()) fail("console: start() called twice; stop() it first");
  if (g_console_running.exchange(true)) fail("console: another console already owns the terminal input");
  on_input_ = std::move(on_input);
  on_event_ = std::move(on_event);

  int pipe_fds[2];
  if (pipe2(pipe_fds, O_CLOEXEC | O_NONBLOCK) != 0) {
    g_console_running = false;
    fail("console: cannot create its wake pipe: {}", strerror(errno));
  }
  wake_read_ = pipe_fds[0];
  wake_write_ = pipe_fds[1];

  terminal_ = false;
  struct termios attributes {};
  if (isatty(input_fd_) && tcgetattr(input_fd_, &attributes) == 0) {
    terminal_ = true;
    g_saved.fd = input_fd_;
    g_saved.attributes = attributes;
    static std::once_flag at_exit_once;
    std::call_once(at_exit_once, [] { std::atexit(restore_terminal); });
    install_signal_handlers();
    struct termios raw = attributes;
    cfmakeraw(&raw);  // no echo, no canonical mode, no ISIG, no CR/NL translation, 8 bits
    g_raw = true;  // before tcsetattr: a signal in between still restores
    if (tcsetattr(input_fd_, TCSANOW, &raw) != 0) {
      log_warn("console: cannot switch the terminal to raw mode: {}", strerror(errno));
      g_raw = false;
    }
    log_line(LogLevel::Info, std::string("console escape: ") + EscapeParser::kHelpText);
  }

  try {
    thread_ = std::thread([this] { run(); });
  } catch (const std::system_error& e) {
    restore_terminal();
    remove_signal_handlers();
    close_fd(wake_read_);
    close_fd(wake_write_);
    g_console_running = false;
    fail("console: cannot start its input thread: {}", e.what());
  }
}

void Console::stop() {
  if (wake_write_ < 0) return;  // not started, or already stopped
  assert(thread_.get_id() != std::this_thread::get_id() && "console callbacks must not stop the console");
  const uint8_t byte = 1;
  ssize_t unused = ::write(wake_write_, &byte, 1);
  (void)unused;
  if (thread_.joinable()) thread_.join();
  if (terminal_) {
    restore_terminal();
    remove_signal_handlers();
  }
  close_fd(wake_read_);
  close_fd(wake_write_);
  g_console_running = false;
}

void Console::run() {
  std::vector<uint8_t> pending;  // guest bytes not yet accepted
  bool input_open = true;
  uint8_t buffer[4096];
  for (;;) {
    struct pollfd fds[2] = {{wake_read_, POLLIN, 0}, {input_fd_, POLLIN, 0}};
    const bool want_input = input_open && pending.size() < kMaxPending;
    const int timeout = pending.empty() ? -1 : kRetryMillis;
    int ready = poll(fds, want_input ? 2 : 1, timeout);
    if (ready < 0) {
      if (errno == EINTR) continue;
      log_warn("console: poll failed: {}; guest input stops", strerror(errno));
      return;
    }
    if (fds[0].revents) return;  // stop()
    if (want_input && fds[1].revents) {
      ssize_t got = (fds[1].revents & POLLNVAL) ? 0 : ::read(input_fd_, buffer, sizeof buffer);
      if (got > 0) {
        EscapeParser::Output out = parser_.feed(buffer, static_cast<size_t>(got));
        pending.insert(pending.end(), out.guest_bytes.begin(), out.guest_bytes.end());
        for (EscapeEvent event : out.events) handle_event(event);
      } else if (got == 0) {
        input_open = false;  // end of input: the guest keeps running without it
      } else if (errno != EINTR && errno != EAGAIN && errno != EWOULDBLOCK) {
        // A terminal that went away (EIO after hangup) ends input like EOF does.
        log_warn("console: reading input failed: {}; guest input stops", strerror(errno));
        input_open = false;
      }
    }
    deliver(pending);
  }
}

void Console::deliver(std::vector<uint8_t>& pending) {
  if (pending.empty() || !on_input_) {
    if (!on_input_) pending.clear();
    return;
  }
  size_t accepted = on_input_(pending.data(), pending.size());
  if (accepted > pending.size()) accepted = pending.size();
  pending.erase(pending.begin(), pending.begin() + static_cast<std::ptrdiff_t>(accepted));
}

void Console::handle_event(EscapeEvent event) {
  if (event == EscapeEvent::Help && terminal_) {
    log_line(LogLevel::Info, EscapeParser::kHelpText);
  }
  if (on_event_) on_event_(event);
}

}  // namespace vireo
