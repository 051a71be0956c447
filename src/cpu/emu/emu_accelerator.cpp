#include "cpu/emu/emu_accelerator.h"

#include "base/error.h"
#include "cpu/emu/emu_platform.h"
#include "cpu/emu/emu_vcpu.h"

namespace vireo::emu {

EmuAccelerator::EmuAccelerator(const MachineContext& machine, EmuOptions options) : machine_(machine), options_(options) {
  if (!machine.memory || !machine.pio || !machine.mmio) fail("the emulator needs guest memory and both I/O buses");
  if (options.interrupt_controllers) platform_ = std::make_unique<EmuPlatform>(machine_);
}

EmuAccelerator::~EmuAccelerator() = default;

std::unique_ptr<Vcpu> EmuAccelerator::create_vcpu(unsigned index) {
  if (index >= machine_.num_cpus) fail("vCPU index {} is out of range ({} vCPUs)", index, machine_.num_cpus);
  auto vcpu = std::make_unique<EmuVcpu>(machine_, index);
  if (trace_) vcpu->set_trace(trace_);
  if (options_.jit && !trace_) vcpu->cpu().enable_jit(options_.jit_threshold, options_.jit_arena_bytes);
  if (platform_) platform_->attach(*vcpu);
  return vcpu;
}

std::unique_ptr<IrqLine> EmuAccelerator::create_irq_line(unsigned gsi) {
  if (platform_) return platform_->create_irq_line(gsi);
  return std::make_unique<RecordingIrqLine>(gsi);
}

}  // namespace vireo::emu
