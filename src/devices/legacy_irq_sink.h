// LegacyIrqSink: the ISA interrupt inputs IRQ 0-15 of the legacy PIC pair. The
// interrupt router drives them alongside the I/O APIC pins (devices/irq_router.h).
#pragma once

namespace vireo {

class LegacyIrqSink {
 public:
  virtual ~LegacyIrqSink() = default;
  // The electrical level of ISA input `irq` (0-15; never 2, the cascade). Called from
  // any thread, possibly with the raising device's lock held.
  virtual void set_irq(unsigned irq, bool level) = 0;
};

}  // namespace vireo
