// InterruptSource: where the emulated CPU's external interrupts come from (the
// emulated LAPIC/PIC). The vCPU polls it between instructions while RFLAGS.IF = 1 and
// no interrupt shadow is active; a source that raises an interrupt while the vCPU
// sleeps in HLT calls EmuVcpu::wake().
#pragma once

#include <cstdint>

namespace vireo::emu {

class InterruptSource {
 public:
  virtual ~InterruptSource() = default;
  // True when a maskable interrupt is ready for delivery. Called often: keep it cheap.
  virtual bool pending() = 0;
  // Takes the highest-priority pending interrupt (the INTA cycle) and returns its vector.
  virtual uint8_t acknowledge() = 0;
};

}  // namespace vireo::emu
