// SystemControlPortB: the PC's port 0x61 (system control port B, "NMI status and
// control"), the guest's handle on PIT counter 2 and the speaker.
//
//   bit 0  counter 2 GATE (read/write)
//   bit 1  speaker data enable (read/write; there is no speaker, the bit is stored)
//   bit 2  parity check enable, bit 3 I/O channel check enable (read/write, stored;
//          no NMI source exists, so they have no effect)
//   bit 4  refresh cycle toggle (read-only): flips on every read, so loops that wait
//          for it to change make progress
//   bit 5  counter 2 OUT (read-only)
//   bits 6, 7  I/O channel check and parity error status (read-only, always 0)
//
// Linux calibrates the TSC against counter 2 through this port (set GATE, program
// counter 2 in mode 0, wait for bit 5). Used by the emulator only: under KVM the
// in-kernel PIT serves it.
#pragma once

#include <cstdint>
#include <mutex>

#include "bus/io_device.h"

namespace vireo {

class IoBus;
class Pit8254;

class SystemControlPortB final : public IoDevice {
 public:
  static constexpr uint16_t kPort = 0x61;

  // `pit` must outlive this device.
  explicit SystemControlPortB(Pit8254& pit);

  // Registers port 0x61.
  void attach_to(IoBus& pio);

  uint64_t io_read(uint64_t offset, unsigned size) override;
  void io_write(uint64_t offset, unsigned size, uint64_t value) override;

 private:
  Pit8254& pit_;
  std::mutex mu_;
  uint8_t control_ = 0;  // bits 3:0 as written
  bool refresh_ = false;
};

}  // namespace vireo
