// DebugExit: a test device that ends the VM with a status chosen by the guest.
//
// Writing a value V (of the access's size) to any of its ports stops the VM with
// exit status (V << 1) | 1: the status is always odd, so it can never be mistaken for
// vireo's own success (0). Reads return 0.
// Port and width are configurable; the common choice is 4 ports at
// x86::kDebugExitPort.
#pragma once

#include <cstdint>

#include "arch/x86/layout.h"
#include "bus/io_device.h"
#include "vm/vm_control.h"

namespace vireo {

class IoBus;

class DebugExit final : public IoDevice {
 public:
  static constexpr uint16_t kDefaultIoSize = 4;

  // Throws vireo::Error when the range is empty or runs past port 0xffff.
  DebugExit(VmControl& vm, uint16_t iobase = x86::kDebugExitPort, uint16_t iosize = kDefaultIoSize);

  uint16_t iobase() const { return iobase_; }
  uint16_t iosize() const { return iosize_; }

  // Registers [iobase, iobase + iosize) on the port bus.
  void attach_to(IoBus& pio);

  uint64_t io_read(uint64_t offset, unsigned size) override;
  void io_write(uint64_t offset, unsigned size, uint64_t value) override;

 private:
  VmControl& vm_;
  uint16_t iobase_;
  uint16_t iosize_;
};

}  // namespace vireo
