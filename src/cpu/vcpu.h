// Vcpu and Accelerator: the one interface behind which KVM (cpu/kvm) and the
// emulator (cpu/emu) run guest code. Both dispatch the guest's port and MMIO accesses
// to the same IoBus objects and read/write the same GuestMemory.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "cpu/cpu_state.h"

namespace vireo {

class GuestMemory;
class IoBus;
class IrqLine;
class VmControl;

// What every accelerator is given: the machine it runs.
struct MachineContext {
  GuestMemory* memory = nullptr;
  IoBus* pio = nullptr;
  IoBus* mmio = nullptr;
  VmControl* control = nullptr;
  unsigned num_cpus = 1;
};

enum class VcpuExitKind {
  Stopped,        // kick() was called (the VM is stopping)
  Shutdown,       // the guest triple-faulted / shut the CPU down
  Halted,         // hlt with no way to wake (interrupts disabled, no irqchip)
  InternalError,  // the accelerator could not go on (emulation failure, ...)
};

struct VcpuExit {
  VcpuExitKind kind = VcpuExitKind::Stopped;
  std::string message;
};

class Vcpu {
 public:
  virtual ~Vcpu() = default;
  virtual unsigned index() const = 0;
  virtual void set_state(const X86CpuState& state) = 0;
  virtual X86CpuState get_state() = 0;
  // Runs guest code on the calling thread until the VM must act. Port and MMIO
  // accesses are handled inside, through the MachineContext's buses.
  virtual VcpuExit run() = 0;
  // Thread-safe: makes a run() in progress (or the next one) return Stopped soon.
  virtual void kick() = 0;
};

class Accelerator {
 public:
  virtual ~Accelerator() = default;
  virtual std::string name() const = 0;
  // The VM's memory is final when this is called; the accelerator maps it.
  virtual std::unique_ptr<Vcpu> create_vcpu(unsigned index) = 0;
  // An interrupt input of the machine's interrupt controller (ISA IRQ / GSI number).
  virtual std::unique_ptr<IrqLine> create_irq_line(unsigned gsi) = 0;
};

}  // namespace vireo
