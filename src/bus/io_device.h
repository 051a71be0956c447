// IoDevice: something that answers port or MMIO accesses.
#pragma once

#include <cstdint>

namespace vireo {

class IoDevice {
 public:
  virtual ~IoDevice() = default;
  // `offset` is relative to the base the device was registered at; `size` is 1, 2, 4
  // or 8 bytes; values are little-endian, zero-extended. Called from vCPU threads,
  // possibly several at once: a device protects its own state.
  virtual uint64_t io_read(uint64_t offset, unsigned size) = 0;
  virtual void io_write(uint64_t offset, unsigned size, uint64_t value) = 0;
};

}  // namespace vireo
