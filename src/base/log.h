// Minimal leveled logging to stderr. The guest console owns stdout; everything
// vireo itself says goes to stderr, prefixed with "vireo: ".
#pragma once

#include <fmt/format.h>

#include <string_view>

namespace vireo {

enum class LogLevel { Error = 0, Warn = 1, Info = 2, Debug = 3 };

LogLevel log_level();
void set_log_level(LogLevel level);
void log_line(LogLevel level, std::string_view message);

template <typename... Args>
void log_error(fmt::format_string<Args...> f, Args&&... a) {
  log_line(LogLevel::Error, fmt::format(f, std::forward<Args>(a)...));
}
template <typename... Args>
void log_warn(fmt::format_string<Args...> f, Args&&... a) {
  if (log_level() >= LogLevel::Warn) log_line(LogLevel::Warn, fmt::format(f, std::forward<Args>(a)...));
}
template <typename... Args>
void log_info(fmt::format_string<Args...> f, Args&&... a) {
  if (log_level() >= LogLevel::Info) log_line(LogLevel::Info, fmt::format(f, std::forward<Args>(a)...));
}
template <typename... Args>
void log_debug(fmt::format_string<Args...> f, Args&&... a) {
  if (log_level() >= LogLevel::Debug) log_line(LogLevel::Debug, fmt::format(f, std::forward<Args>(a)...));
}

}  // namespace vireo
