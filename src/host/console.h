// Console: the host terminal while a guest runs.
//
// start() takes over the input side: when the input is a terminal it is switched to raw
// mode (no echo, no line editing, no signals from Ctrl-C/Ctrl-Z/Ctrl-\ — those keys go
// to the guest — and no CR/NL translation in either direction). The terminal is put
// back by stop(), by the destructor, at exit(), and from handlers for SIGTERM, SIGINT,
// SIGHUP, SIGQUIT, SIGABRT and SIGSEGV, so it is never left raw. Those handlers
// restore the terminal and then run the handler that was installed before (or, if
// there was none, end the process with the signal's default action); a signal that
// was ignored stays ignored.
//
// A thread polls the input and a wake pipe (stop() ends it promptly), runs the bytes
// through the EscapeParser (Ctrl-A X quits, Ctrl-A H prints help) and offers the guest
// bytes to the input callback, which returns how many it accepted; the rest are kept
// and offered again every few milliseconds. End of input stops reading, not the VM.
// When the input is not a terminal (pipes, CI) nothing is switched and no help is
// printed, but escapes still work.
//
// Only one Console may run at a time in a process.
#pragma once

#include <unistd.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <thread>
#include <vector>

#include "host/escape_parser.h"

namespace vireo {

class Console {
 public:
  // Offered guest input; returns how many bytes (a prefix) were accepted.
  using InputCallback = std::function<size_t(const uint8_t* data, size_t len)>;
  // Escape commands typed by the user (called from the console's thread).
  using EventCallback = std::function<void(EscapeEvent event)>;

  static constexpr int kRetryMillis = 5;       // how often refused input is offered again
  static constexpr size_t kMaxPending = 64 * 1024;  // stop reading input above this backlog

  // `input_fd` is read but not owned (stdin by default; tests pass a pipe or a pty).
  explicit Console(int input_fd = STDIN_FILENO);
  ~Console();
  Console(const Console&) = delete;
  Console& operator=(const Console&) = delete;

  // Throws vireo::Error when another Console is running or the thread cannot start.
  // The callbacks run on the console's thread; they must not call stop().
  void start(InputCallback on_input, EventCallback on_event);
  // Ends the input thread and gives the terminal back. Idempotent.
  void stop();

  bool running() const { return thread_.joinable(); }
  // Whether start() found a terminal (and switched it to raw mode).
  bool is_terminal() const { return terminal_; }

  // Writes guest output to stdout completely (retries on EINTR, waits on EAGAIN,
  // continues after partial writes). Used as the UART's output sink.
  static void write_output(const uint8_t* data, size_t len);

 private:
  void run();
  void deliver(std::vector<uint8_t>& pending);
  void handle_event(EscapeEvent event);

  int input_fd_;
  int wake_read_ = -1;
  int wake_write_ = -1;
  bool terminal_ = false;
  InputCallback on_input_;
  EventCallback on_event_;
  EscapeParser parser_;
  std::thread thread_;
};

}  // namespace vireo
