#include "devices/debug_console.h"

#include <unistd.h>

#include <cerrno>

#include "bus/io_bus.h"

namespace vireo {

DebugConsole::DebugConsole(LineSink sink) : sink_(std::move(sink)) {}

DebugConsole::~DebugConsole() { flush(); }

DebugConsole::LineSink DebugConsole::stderr_sink() {
  return [](std::string_view line) {
    // The terminal may be raw while a guest runs: end with CR LF so the next line
    // starts at column 0 either way.
    std::string text = "guest debug: ";
    text += line;
    text += "\r\n";
    const char* p = text.data();
    size_t left = text.size();
    while (left > 0) {
      ssize_t n = ::write(STDERR_FILENO, p, left);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return;  // stderr is gone: nothing sensible to do with the text
      p += n;
      left -= static_cast<size_t>(n);
    }
  };
}

void DebugConsole::attach_to(IoBus& pio) { pio.add(x86::kDebugConsolePort, 1, this, "debug console"); }

uint64_t DebugConsole::io_read(uint64_t, unsigned) { return kReadValue; }

void DebugConsole::io_write(uint64_t offset, unsigned size, uint64_t value) {
  // One port: a wider write is taken as its bytes in order (a string-out of words
  // to port 0xE9 still prints every byte).
  if (offset != 0) return;
  std::lock_guard<std::mutex> lock(mu_);
  for (unsigned i = 0; i < size && i < 8; ++i) put(static_cast<uint8_t>(value >> (8 * i)));
}

void DebugConsole::flush() {
  std::lock_guard<std::mutex> lock(mu_);
  pending_cr_ = false;
  if (!line_.empty()) emit_line();
}

void DebugConsole::put(uint8_t byte) {
  // "\r\n" ends a line like "\n"; a "\r" followed by anything else is shown escaped.
  if (byte == '\n') {
    pending_cr_ = false;
    emit_line();
    return;
  }
  if (pending_cr_) {
    pending_cr_ = false;
    append_escaped('\r');
  }
  if (byte == '\r') {
    pending_cr_ = true;
    return;
  }
  append_escaped(byte);
}

void DebugConsole::append_escaped(uint8_t byte) {
  if ((byte < 0x20 && byte != '\t') || byte == 0x7f) {
    // The text ends up on the host's terminal: never pass control sequences through.
    static const char kHex[] = "0123456789abcdef";
    line_ += "\\x";
    line_ += kHex[byte >> 4];
    line_ += kHex[byte & 0xf];
  } else {
    line_ += static_cast<char>(byte);
  }
  if (line_.size() >= kMaxLine) emit_line();
}

void DebugConsole::emit_line() {
  if (sink_) sink_(line_);
  line_.clear();
}

}  // namespace vireo
