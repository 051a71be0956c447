#include "devices/apic_bus.h"

#include <cassert>

#include "base/error.h"
#include "base/log.h"
#include "devices/current_cpu.h"

namespace vireo {

ApicBus::ApicBus(const ApicBusConfig& config) {
  if (config.num_cpus == 0 || config.num_cpus > 254)
    fail("{} vCPUs cannot be given local APICs: xAPIC ids go from 0 to 253", config.num_cpus);
  for (unsigned cpu = 0; cpu < config.num_cpus; ++cpu) {
    LocalApicConfig c;
    c.cpu_index = cpu;
    c.timer_hz = config.timer_hz;
    c.tsc_hz = config.tsc_hz;
    c.now_ns = config.now_ns;
    auto apic = std::make_unique<LocalApic>(std::move(c));
    apic->set_ipi_sender([this, cpu](const ApicMessage& m) { deliver(m, cpu); });
    apics_.push_back(std::move(apic));
  }
}

LocalApic& ApicBus::apic(unsigned cpu) {
  assert(cpu < apics_.size());
  return *apics_[cpu];
}

void ApicBus::set_eoi_listener(std::function<void(uint8_t)> listener) {
  for (auto& apic : apics_) apic->set_eoi_listener(listener);
}

void ApicBus::set_ext_int_source(ExtIntSource* source) {
  for (auto& apic : apics_) apic->set_ext_int_source(source);
  if (source) {
    source->set_intr_listener([this] {
      for (auto& apic : apics_) apic->ext_int_raised();
    });
  }
}

void ApicBus::deliver(const ApicMessage& m, std::optional<unsigned> from_cpu) {
  for (unsigned cpu = 0; cpu < apics_.size(); ++cpu) {
    // Who is addressed (SDM 11.6.1, destination shorthand; 11.6.2, destination).
    bool addressed = false;
    switch (m.shorthand) {
      case ApicShorthand::None: addressed = apics_[cpu]->matches(m.destination, m.logical); break;
      case ApicShorthand::Self: addressed = from_cpu && *from_cpu == cpu; break;
      case ApicShorthand::AllIncludingSelf: addressed = true; break;
      case ApicShorthand::AllExcludingSelf: addressed = !from_cpu || *from_cpu != cpu; break;
    }
    if (!addressed) continue;

    switch (m.mode) {
      case ApicDeliveryMode::LowestPriority:
        // Arbitration among the addressed APICs picks the lowest-numbered one.
        apics_[cpu]->accept_fixed(m.vector, m.level_triggered);
        return;
      case ApicDeliveryMode::Fixed: apics_[cpu]->accept_fixed(m.vector, m.level_triggered); break;
      case ApicDeliveryMode::Init:
        apics_[cpu]->init_reset();
        if (init_sipi_) init_sipi_(cpu, true, 0);
        break;
      case ApicDeliveryMode::StartUp:
        if (init_sipi_) init_sipi_(cpu, false, m.vector);
        break;
      default:
        if (!warned_mode_.exchange(true)) {
          log_warn("apic: a message with delivery mode {} (SMI, NMI or ExtINT) was dropped: not emulated",
                   static_cast<unsigned>(m.mode));
        }
        return;
    }
  }
}

LocalApic* ApicBus::accessing_apic() {
  unsigned cpu = current_cpu();
  if (cpu >= apics_.size()) {
    assert(false && "the current vCPU index was not set on this thread");
    return nullptr;
  }
  return apics_[cpu].get();
}

uint64_t ApicBus::io_read(uint64_t offset, unsigned size) {
  LocalApic* apic = accessing_apic();
  return apic ? apic->mmio_read(offset, size) : 0;
}

void ApicBus::io_write(uint64_t offset, unsigned size, uint64_t value) {
  if (LocalApic* apic = accessing_apic()) apic->mmio_write(offset, size, value);
}

}  // namespace vireo
