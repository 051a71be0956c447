// EmuVcpu: a vCPU run by vireo's x86-64 interpreter (EmuCpu) behind the common Vcpu
// interface.
//
// Activity states (SDM Vol. 3 9.4 / 11.4.7.3): vCPU 0, and any vCPU whose state was
// set, runs; the other vCPUs start in wait-for-SIPI. An INIT IPI puts an application
// processor back into wait-for-SIPI (the bootstrap processor ignores INIT: with no
// firmware there is nothing to restart it into); a start-up IPI to a processor that
// waits starts it in real mode at CS = vector << 8, IP = 0; SIPIs to a running
// processor are ignored. run() blocks in wait-for-SIPI until the SIPI or kick().
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <functional>
#include <memory>
#include <mutex>

#include "cpu/emu/emu_cpu.h"
#include "cpu/emu/trace.h"
#include "cpu/vcpu.h"

namespace vireo {
class LocalApic;
}

namespace vireo::emu {

class EmuVcpu final : public Vcpu {
 public:
  EmuVcpu(const MachineContext& machine, unsigned index);
  ~EmuVcpu() override;

  unsigned index() const override { return cpu_.index(); }
  void set_state(const X86CpuState& state) override;
  X86CpuState get_state() override;
  VcpuExit run() override;
  void kick() override;

  // Where external interrupts come from (the emulated LAPIC/PIC); not owned. Set it
  // before run(). Without one, HLT with IF = 1 ends run() with Halted.
  void set_interrupt_source(InterruptSource* source) { cpu_.set_interrupt_source(source); }
  // This vCPU's local APIC (not owned; set before run()): the interrupt source, the
  // APIC MSRs and CR8, and the timer deadline that bounds a sleep in HLT.
  void attach_local_apic(LocalApic* apic);
  // Another timer whose interrupts this vCPU polls for (the PIT on vCPU 0): when its
  // next event is due on the steady clock (UINT64_MAX: none). HLT sleeps no longer.
  // Set before run().
  void set_extra_timer(std::function<uint64_t()> next_event_ns) { extra_timer_ = std::move(next_event_ns); }
  // Thread-safe: wakes a run() parked in HLT so it polls the interrupt source again.
  void wake();
  // Thread-safe, from the APIC bus: an INIT or a start-up IPI for this vCPU.
  void receive_init();
  void receive_sipi(uint8_t vector);
  // Whether the vCPU waits for a start-up IPI (for tests and diagnostics).
  bool waiting_for_sipi();
  // Writes an instruction trace to `out` (not owned); nullptr turns it off.
  void set_trace(std::FILE* out);
  // The interpreter itself, for tests and the differential harness (XMM registers,
  // MSRs, the instruction count).
  EmuCpu& cpu() { return cpu_; }

  // The register state a processor starts with after a start-up IPI with `vector`
  // (SDM Vol. 3 Table 9-1, with CS from the SIPI as 9.4.4.1 / 11.6.1 describe).
  static X86CpuState startup_state(uint8_t vector);

 private:
  static bool wait_in_hlt(void* self);
  // Blocks while waiting for a SIPI; false when kick() ended the wait.
  bool wait_for_startup();

  EmuCpu cpu_;
  LocalApic* apic_ = nullptr;
  std::function<uint64_t()> extra_timer_;
  std::atomic<bool> stop_{false};    // makes EmuCpu::run return
  std::atomic<bool> kicked_{false};  // the stop is kick()'s (else an INIT's)
  std::unique_ptr<Tracer> tracer_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool woken_ = false;
  bool wait_for_sipi_ = false;  // guarded by mu_
  bool sipi_pending_ = false;   // guarded by mu_
  uint8_t sipi_vector_ = 0;     // guarded by mu_
};

}  // namespace vireo::emu
