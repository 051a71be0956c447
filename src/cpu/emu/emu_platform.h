// EmuPlatform: the interrupt and timer hardware of a machine whose CPUs are run by
// the emulator — one local APIC per vCPU on the APIC bus, the I/O APIC, the ISA/GSI
// router, the legacy 8259A PIC pair and the 8254 PIT with port 0x61 (under KVM the
// in-kernel irqchip and PIT do all of this). EmuAccelerator owns it. It
//   - maps the local APIC window and the I/O APIC on the MMIO bus and the PIC's and
//     PIT's ports on the port bus;
//   - hands devices their interrupt lines (create_irq_line: ISA IRQ / GSI numbers, as
//     the MADT describes them);
//   - connects each vCPU to its local APIC: the APIC is the CPU's interrupt source and
//     serves IA32_APIC_BASE, IA32_TSC_DEADLINE and CR8; the APIC wakes the vCPU from
//     HLT, and the vCPU sleeps in HLT until the APIC timer's next deadline;
//   - delivers INIT and start-up IPIs to the target vCPU (EmuVcpu::receive_init/_sipi);
//   - lets vCPU 0 keep the PIT's time: its interrupt polls look at the PIT when counter
//     0's next edge is due, and its HLT sleeps no longer than that edge.
#pragma once

#include <memory>
#include <mutex>
#include <vector>

#include "bus/irq_line.h"
#include "cpu/vcpu.h"
#include "devices/interrupt_controllers.h"
#include "devices/pic8259.h"
#include "devices/pit8254.h"
#include "devices/port61.h"

namespace vireo::emu {

class EmuVcpu;

class EmuPlatform {
 public:
  // Registers the controllers on machine.mmio and machine.pio.
  explicit EmuPlatform(const MachineContext& machine);
  ~EmuPlatform();
  EmuPlatform(const EmuPlatform&) = delete;
  EmuPlatform& operator=(const EmuPlatform&) = delete;

  // Wires vCPU vcpu.index() to its local APIC. Call before the vCPU runs; the vCPU
  // must outlive the platform's use of it (until the machine stops).
  void attach(EmuVcpu& vcpu);
  // The line of ISA IRQ / GSI `gsi` (0-23, not 2); throws vireo::Error otherwise.
  std::unique_ptr<IrqLine> create_irq_line(unsigned gsi);

  InterruptControllers& controllers() { return controllers_; }
  Pic8259Pair& pic() { return pic_; }
  Pit8254& pit() { return *pit_; }

 private:
  class BootCpuInterrupts;
  void init_sipi(unsigned target, bool init, uint8_t vector);

  InterruptControllers controllers_;
  Pic8259Pair pic_;
  std::unique_ptr<IrqLine> pit_irq_;
  std::unique_ptr<Pit8254> pit_;
  std::unique_ptr<SystemControlPortB> port61_;
  std::unique_ptr<BootCpuInterrupts> boot_cpu_interrupts_;
  std::mutex mu_;
  std::vector<EmuVcpu*> vcpus_;  // by index; null until attached
};

}  // namespace vireo::emu
