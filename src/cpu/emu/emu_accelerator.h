// EmuAccelerator: runs guests in vireo's own x86-64 interpreter. It needs nothing
// from the host but memory, so it works where /dev/kvm is missing or cannot run the
// guest.
#pragma once

#include <atomic>
#include <cstdio>
#include <memory>
#include <string>

#include "bus/irq_line.h"
#include "cpu/vcpu.h"

namespace vireo::emu {

// An interrupt input until the emulated interrupt controllers exist: it remembers
// its level so a controller (or a test) can read it.
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

class EmuAccelerator final : public Accelerator {
 public:
  // `machine` (memory, buses) must outlive the accelerator and its vCPUs.
  explicit EmuAccelerator(const MachineContext& machine);

  std::string name() const override { return "emu"; }
  // Returns an EmuVcpu (cpu/emu/emu_vcpu.h).
  std::unique_ptr<Vcpu> create_vcpu(unsigned index) override;
  std::unique_ptr<IrqLine> create_irq_line(unsigned gsi) override;

  // Instruction trace for vCPUs created after this call (nullptr: none). The FILE is
  // not owned; all vCPUs write to it.
  void set_trace(std::FILE* out) { trace_ = out; }

 private:
  MachineContext machine_;
  std::FILE* trace_ = nullptr;
};

}  // namespace vireo::emu
