#include "cpu/emu/emu_platform.h"

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

}  // namespace

EmuPlatform::EmuPlatform(const MachineContext& machine)
    : controllers_(bus_config(machine)), vcpus_(machine.num_cpus, nullptr) {
  if (!machine.pio || !machine.mmio) fail("the emulated interrupt controllers need both I/O buses");
  controllers_.attach_pic(&pic_, &pic_);
  controllers_.add_to(*machine.mmio);
  pic_.attach_to(*machine.pio);
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
