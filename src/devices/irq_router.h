// IrqRouter: the emulated machine's interrupt wiring. make_irq_line() gives a device
// the IrqLine for its ISA IRQ or GSI:
//   - ISA IRQ 0 (the PIT) reaches I/O APIC pin 2 (the MADT's interrupt source
//     override) and PIC input 0;
//   - ISA IRQs 1 and 3-15 reach I/O APIC pin n and PIC input n (IRQ 2 is the PIC
//     cascade: no device can have it);
//   - GSIs 16-23 reach I/O APIC pin n only.
// Several lines made for the same number are wire-ORed: the input is asserted while
// any of them is.
//
// Thread-safe: a line may be driven from any thread, also with the driving device's
// lock held. The lock order is device -> router -> I/O APIC / PIC -> local APIC.
#pragma once

#include <array>
#include <memory>
#include <mutex>

#include "bus/irq_line.h"
#include "devices/legacy_irq_sink.h"

namespace vireo {

class Ioapic;

class IrqRouter {
 public:
  static constexpr unsigned kLines = 24;  // numbers 0-23
  static constexpr unsigned kIsaIrqs = 16;

  // `ioapic` and `pic` (may be null: no legacy PIC) must outlive the router and its lines.
  explicit IrqRouter(Ioapic& ioapic, LegacyIrqSink* pic = nullptr);

  // Connects the legacy PIC when it is built after the router. Call it before any
  // line is driven.
  void set_legacy_sink(LegacyIrqSink* pic) { pic_ = pic; }

  // Throws vireo::Error for IRQ 2 and numbers past 23.
  std::unique_ptr<IrqLine> make_irq_line(unsigned gsi_or_isa_irq);

  // The I/O APIC pin an ISA IRQ / GSI number reaches.
  static unsigned ioapic_pin(unsigned gsi_or_isa_irq) { return gsi_or_isa_irq == 0 ? 2 : gsi_or_isa_irq; }

 private:
  class Line;
  // A line of number `n` changed its level.
  void set_level(unsigned n, bool asserted);

  Ioapic& ioapic_;
  LegacyIrqSink* pic_;
  std::mutex mu_;
  std::array<unsigned, kLines> asserted_count_{};
};

}  // namespace vireo
