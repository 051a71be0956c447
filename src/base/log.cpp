#include "base/log.h"

#include <unistd.h>

#include <atomic>
#include <string>

namespace vireo {
namespace {
std::atomic<LogLevel> g_level{LogLevel::Warn};
}

LogLevel log_level() { return g_level.load(std::memory_order_relaxed); }
void set_log_level(LogLevel level) { g_level.store(level, std::memory_order_relaxed); }

void log_line(LogLevel level, std::string_view message) {
  // The terminal may be in raw mode while a guest runs: end lines with CR LF so
  // messages start at column 0 either way. One write() keeps lines whole across threads.
  std::string line = "vireo: ";
  if (level == LogLevel::Error) line += "error: ";
  if (level == LogLevel::Warn) line += "warning: ";
  line += message;
  line += "\r\n";
  ssize_t unused = ::write(STDERR_FILENO, line.data(), line.size());
  (void)unused;
}

}  // namespace vireo
