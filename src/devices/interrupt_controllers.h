// InterruptControllers: the APIC side of the emulated machine's interrupt system,
// wired together: one local APIC per vCPU on an ApicBus, the I/O APIC delivering
// through that bus and receiving its EOIs, and the IrqRouter that hands devices their
// lines. The legacy PIC pair (built elsewhere) plugs in with attach_pic().
//
// Under KVM none of this exists: the in-kernel irqchip does the same job.
#pragma once

#include <memory>

#include "devices/apic_bus.h"
#include "devices/ext_int_source.h"
#include "devices/ioapic.h"
#include "devices/irq_router.h"
#include "devices/legacy_irq_sink.h"

namespace vireo {

class IoBus;

class InterruptControllers {
 public:
  // The I/O APIC takes id num_cpus, as the MADT says (arch/x86/acpi.cpp).
  explicit InterruptControllers(const ApicBusConfig& config);

  // Registers the local APIC window at x86::kLapicAddr and the I/O APIC at
  // x86::kIoapicAddr (4 KiB each).
  void add_to(IoBus& mmio);
  // The PIC pair: its inputs are driven by the router (ISA IRQs 0-15), its output
  // reaches every local APIC's LINT0. Call before any thread runs; either may be null.
  void attach_pic(LegacyIrqSink* inputs, ExtIntSource* output);

  ApicBus& apics() { return bus_; }
  LocalApic& apic(unsigned cpu) { return bus_.apic(cpu); }
  Ioapic& ioapic() { return ioapic_; }
  IrqRouter& router() { return router_; }

 private:
  ApicBus bus_;
  Ioapic ioapic_;
  IrqRouter router_;
};

}  // namespace vireo
