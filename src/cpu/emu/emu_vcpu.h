// EmuVcpu: a vCPU run by vireo's x86-64 interpreter (EmuCpu) behind the common Vcpu
// interface.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <memory>
#include <mutex>

#include "cpu/emu/emu_cpu.h"
#include "cpu/emu/trace.h"
#include "cpu/vcpu.h"

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
  // Thread-safe: wakes a run() parked in HLT so it polls the interrupt source again.
  void wake();
  // Writes an instruction trace to `out` (not owned); nullptr turns it off.
  void set_trace(std::FILE* out);
  // The interpreter itself, for tests and the differential harness (XMM registers,
  // MSRs, the instruction count).
  EmuCpu& cpu() { return cpu_; }

 private:
  static bool wait_in_hlt(void* self);

  EmuCpu cpu_;
  std::atomic<bool> stop_{false};
  std::unique_ptr<Tracer> tracer_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool woken_ = false;
};

}  // namespace vireo::emu
