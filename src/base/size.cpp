#include "base/size.h"

#include <cctype>
#include <string>

#include "base/error.h"

namespace vireo {

uint64_t parse_size(std::string_view text) {
  std::string_view s = text;
  if (s.empty()) fail("empty size: expected a number such as 512M or 2G");
  uint64_t value = 0;
  size_t i = 0;
  while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) {
    uint64_t digit = static_cast<uint64_t>(s[i] - '0');
    if (value > (UINT64_MAX - digit) / 10) fail("size '{}' is too large", text);
    value = value * 10 + digit;
    ++i;
  }
  if (i == 0) fail("malformed size '{}': expected a number such as 512M or 2G", text);
  std::string suffix;
  for (; i < s.size(); ++i) suffix += static_cast<char>(std::toupper(static_cast<unsigned char>(s[i])));
  uint64_t mult = 1;
  if (suffix.empty() || suffix == "B") {
    mult = 1;
  } else if (suffix == "K" || suffix == "KB" || suffix == "KIB") {
    mult = KiB;
  } else if (suffix == "M" || suffix == "MB" || suffix == "MIB") {
    mult = MiB;
  } else if (suffix == "G" || suffix == "GB" || suffix == "GIB") {
    mult = GiB;
  } else if (suffix == "T" || suffix == "TB" || suffix == "TIB") {
    mult = 1024 * GiB;
  } else {
    fail("malformed size '{}': unknown suffix (use K, M, G or T)", text);
  }
  if (value != 0 && mult > UINT64_MAX / value) fail("size '{}' is too large", text);
  return value * mult;
}

std::string format_size(uint64_t bytes) {
  static const char* const suffixes[] = {"", "K", "M", "G", "T"};
  unsigned i = 0;
  while (i < 4 && bytes != 0 && bytes % 1024 == 0) {
    bytes /= 1024;
    ++i;
  }
  return std::to_string(bytes) + suffixes[i];
}

}  // namespace vireo
