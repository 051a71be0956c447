// Error handling: expected failures (bad configuration, missing files, a host
// without /dev/kvm, a hostile guest value) are thrown as vireo::Error and printed
// by the CLI as one line. Bugs are asserts.
#pragma once

#include <fmt/format.h>

#include <stdexcept>
#include <string>
#include <utility>

namespace vireo {

class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// A guest-physical access outside guest RAM (from boot code or a device's DMA).
class GuestMemoryError : public Error {
 public:
  using Error::Error;
};

template <typename... Args>
[[noreturn]] void fail(fmt::format_string<Args...> format, Args&&... args) {
  throw Error(fmt::format(format, std::forward<Args>(args)...));
}

}  // namespace vireo
