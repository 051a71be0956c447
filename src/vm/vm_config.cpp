#include "vm/vm_config.h"

#include <cstdlib>
#include <sstream>

#include "arch/x86/layout.h"
#include "base/error.h"

namespace vireo {
namespace {

uint64_t parse_number(const std::string& key, const std::string& value) {
  if (value.empty()) fail("--device: {} needs a value", key);
  char* end = nullptr;
  errno = 0;
  unsigned long long v = std::strtoull(value.c_str(), &end, 0);
  if (errno != 0 || *end != '\0' || value[0] == '-') fail("--device: {}={} is not a number", key, value);
  return v;
}

}  // namespace

DeviceSpec parse_device_spec(const std::string& text) {
  std::stringstream ss(text);
  std::string part;
  std::getline(ss, part, ',');
  DeviceSpec spec;
  spec.kind = part;
  if (spec.kind == "debug-exit") {
    spec.iobase = x86::kDebugExitPort;
    spec.iosize = 4;
  } else {
    fail("--device: unknown device '{}' (known: debug-exit)", spec.kind);
  }
  while (std::getline(ss, part, ',')) {
    auto eq = part.find('=');
    std::string key = part.substr(0, eq);
    std::string value = eq == std::string::npos ? "" : part.substr(eq + 1);
    if (key == "iobase") {
      spec.iobase = parse_number(key, value);
      if (spec.iobase > 0xffff) fail("--device: iobase {:#x} is not an I/O port (0-0xffff)", spec.iobase);
    } else if (key == "iosize") {
      spec.iosize = parse_number(key, value);
      if (spec.iosize != 1 && spec.iosize != 2 && spec.iosize != 4)
        fail("--device: iosize must be 1, 2 or 4, not {}", spec.iosize);
    } else {
      fail("--device {}: unknown option '{}' (known: iobase, iosize)", spec.kind, key);
    }
  }
  if (spec.iobase + spec.iosize > 0x10000) fail("--device: ports {:#x}+{} run past 0xffff", spec.iobase, spec.iosize);
  return spec;
}

}  // namespace vireo
