#include "devices/interrupt_controllers.h"

#include "arch/x86/layout.h"
#include "bus/io_bus.h"

namespace vireo {

static_assert(Ioapic::kPins == x86::kIoapicPins, "the MADT and the I/O APIC must agree on the pin count");

InterruptControllers::InterruptControllers(const ApicBusConfig& config)
    : bus_(config),
      ioapic_(static_cast<uint8_t>(config.num_cpus), [this](const ApicMessage& m) { bus_.deliver(m); }),
      router_(ioapic_) {
  bus_.set_eoi_listener([this](uint8_t vector) { ioapic_.end_of_interrupt(vector); });
}

void InterruptControllers::add_to(IoBus& mmio) {
  mmio.add(x86::kLapicAddr, ApicBus::kWindowSize, &bus_, "local APIC");
  mmio.add(x86::kIoapicAddr, Ioapic::kWindowSize, &ioapic_, "I/O APIC");
}

void InterruptControllers::attach_pic(LegacyIrqSink* inputs, ExtIntSource* output) {
  router_.set_legacy_sink(inputs);
  bus_.set_ext_int_source(output);
}

}  // namespace vireo
