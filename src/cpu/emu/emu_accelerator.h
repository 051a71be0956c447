// EmuAccelerator: runs guests in vireo's own x86-64 interpreter. It needs nothing
// from the host but memory, so it works where /dev/kvm is missing or cannot run the
// guest.
#pragma once

#include <atomic>
#include <cstdio>
#include <memory>
#include <string>

#include "bus/irq_line.h"
#include "cpu/emu/jit.h"
#include "cpu/vcpu.h"

namespace vireo::emu {

class EmuPlatform;

// An interrupt input of a machine without emulated interrupt controllers: it
// remembers its level so a test can read it.
class RecordingIrqLine final : public IrqLine {
 public:
  explicit RecordingIrqLine(unsigned gsi) : gsi_(gsi) {}
  void set_level(bool asserted) override { level_.store(asserted); }
  bool level() const { return level_.load(); }
  unsigned gsi() const { return gsi_; }

 private:
  unsigned gsi_;
  std::atomic<bool> level_{false};
};

struct EmuOptions {
  // Build the machine's interrupt hardware (local APICs, I/O APIC, PIC: EmuPlatform)
  // and wire every vCPU to it. Off: bare CPUs for instruction-level tests, whose HLT
  // with interrupts enabled ends run(), and whose IRQ lines go nowhere.
  bool interrupt_controllers = false;
  // The translation tier (jit.h): hot 64-bit blocks run as host code. A block is
  // translated once it has run jit_threshold times.
  bool jit = true;
  unsigned jit_threshold = 16;
  size_t jit_arena_bytes = JitCache::kArenaBytes;  // translated code per vCPU (emptied when full)
};

class EmuAccelerator final : public Accelerator {
 public:
  // `machine` (memory, buses) must outlive the accelerator and its vCPUs.
  explicit EmuAccelerator(const MachineContext& machine, EmuOptions options = {});
  ~EmuAccelerator() override;

  std::string name() const override { return "emu"; }
  // Returns an EmuVcpu (cpu/emu/emu_vcpu.h).
  std::unique_ptr<Vcpu> create_vcpu(unsigned index) override;
  std::unique_ptr<IrqLine> create_irq_line(unsigned gsi) override;

  // Instruction trace for vCPUs created after this call (nullptr: none). The FILE is
  // not owned; all vCPUs write to it.
  void set_trace(std::FILE* out) { trace_ = out; }
  // The interrupt hardware; null without EmuOptions::interrupt_controllers.
  EmuPlatform* platform() { return platform_.get(); }

 private:
  MachineContext machine_;
  EmuOptions options_;
  std::unique_ptr<EmuPlatform> platform_;
  std::FILE* trace_ = nullptr;
};

}  // namespace vireo::emu
