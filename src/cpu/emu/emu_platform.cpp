#include "cpu/emu/emu_platform.h"

#include <atomic>
#include <chrono>

#include "base/error.h"
#include "base/log.h"
#include "bus/io_bus.h"
#include "cpu/emu/emu_vcpu.h"

namespace vireo::emu {

namespace {

ApicBusConfig bus_config(const MachineContext& machine) {
  ApicBusConfig config;
  config.num_cpus = machine.num_cpus;
  // The APIC timer's crystal clock and the TSC rate are the ones CPUID 0x15 announces
  // (cpuid_policy.cpp); both run on the host's monotonic clock, as EmuCpu::read_tsc does.
  config.timer_hz = kApicTimerHz;
  config.tsc_hz = kGuestTscHz;
  return config;
}

uint64_t steady_ns() {
  return uint64_t(std::chrono::duration_cast<std::chrono::nanoseconds>(
                      std::chrono::steady_clock::now().time_since_epoch())
                      .count());
}

}  // namespace

// vCPU 0's interrupt source: its local APIC, and the PIT's clock. While counter 0 has
// an edge scheduled, each poll compares the clock with it and lets the PIT raise
// IRQ 0 when it is due (the PIT counts from elapsed time; only its interrupt needs a
// poll). Nothing is read while the PIT is idle, as it is under Linux on this machine.
class EmuPlatform::BootCpuInterrupts final : public InterruptSource {
 public:
  BootCpuInterrupts(LocalApic& apic, Pit8254& pit) : apic_(apic), pit_(pit) {}

  bool pending() override {
    uint64_t due = deadline_.load(std::memory_order_relaxed);
    if (due != Pit8254::kNever) [[unlikely]] {
      uint64_t now = steady_ns();
      if (now >= due) {
        pit_.poll(now);
        refresh();
      }
    }
    return apic_.pending();
  }
  uint8_t acknowledge() override { return apic_.acknowledge(); }

  void refresh() { deadline_.store(pit_.next_event_ns(), std::memory_order_relaxed); }
  uint64_t deadline() const { return deadline_.load(std::memory_order_relaxed); }

 private:
  LocalApic& apic_;
  Pit8254& pit_;
  std::atomic<uint64_t> deadline_{Pit8254::kNever};
};

EmuPlatform::EmuPlatform(const MachineContext& machine)
    : controllers_(bus_config(machine)), vcpus_(machine.num_cpus, nullptr) {
  if (!machine.pio || !machine.mmio) fail("the emulated interrupt controllers need both I/O buses");
  controllers_.attach_pic(&pic_, &pic_);
  controllers_.add_to(*machine.mmio);
  pic_.attach_to(*machine.pio);
  // The PIT's clock is the APICs' (the host's steady clock).
  pit_irq_ = controllers_.router().make_irq_line(0);
  pit_ = std::make_unique<Pit8254>(*pit_irq_, steady_ns);
  pit_->attach_to(*machine.pio);
  port61_ = std::make_unique<SystemControlPortB>(*pit_);
  port61_->attach_to(*machine.pio);
  boot_cpu_interrupts_ = std::make_unique<BootCpuInterrupts>(controllers_.apic(0), *pit_);
  controllers_.apics().set_init_sipi_handler(
      [this](unsigned target, bool init, uint8_t vector) { init_sipi(target, init, vector); });
}

EmuPlatform::~EmuPlatform() = default;

void EmuPlatform::attach(EmuVcpu& vcpu) {
  unsigned index = vcpu.index();
  if (index >= vcpus_.size()) fail("vCPU {} has no local APIC ({} vCPUs)", index, vcpus_.size());
  LocalApic& apic = controllers_.apic(index);
  apic.set_wake([&vcpu] { vcpu.wake(); });
  apic.set_tsc_reader([&vcpu] { return vcpu.cpu().read_tsc(); });
  vcpu.attach_local_apic(&apic);
  if (index == 0) {
    BootCpuInterrupts* source = boot_cpu_interrupts_.get();
    vcpu.set_interrupt_source(source);
    vcpu.set_extra_timer([source] { return source->deadline(); });
    // The guest programmed counter 0: its next edge may be earlier than the one vCPU 0
    // sleeps towards.
    pit_->set_deadline_listener([source, &vcpu] {
      source->refresh();
      vcpu.wake();
    });
  }
  std::lock_guard<std::mutex> lock(mu_);
  vcpus_[index] = &vcpu;
}

std::unique_ptr<IrqLine> EmuPlatform::create_irq_line(unsigned gsi) { return controllers_.router().make_irq_line(gsi); }

void EmuPlatform::init_sipi(unsigned target, bool init, uint8_t vector) {
  EmuVcpu* vcpu = nullptr;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (target < vcpus_.size()) vcpu = vcpus_[target];
  }
  if (!vcpu) return;
  if (init) {
    vcpu->receive_init();
  } else {
    vcpu->receive_sipi(vector);
  }
}

}  // namespace vireo::emu
