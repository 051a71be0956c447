// Parsing of user-given sizes such as "512M", "2G", "1048576".
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace vireo {

// Accepts a decimal number with an optional binary suffix K, M, G, T (case-insensitive,
// an optional trailing "iB" or "B"). A bare number is bytes. Throws vireo::Error with a
// clear message on malformed input or overflow.
uint64_t parse_size(std::string_view text);

// The shortest exact form with a binary suffix: 536870912 -> "512M", 1536 -> "1536".
std::string format_size(uint64_t bytes);

constexpr uint64_t KiB = 1024;
constexpr uint64_t MiB = 1024 * KiB;
constexpr uint64_t GiB = 1024 * MiB;

}  // namespace vireo
