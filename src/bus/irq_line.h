// IrqLine: one interrupt input of the guest's interrupt controller.
//
// Each accelerator implements it: KVM drives a GSI of the in-kernel irqchip
// (KVM_IRQ_LINE); the emulator drives a pin of its emulated IOAPIC/PIC. Devices see
// only this interface.
#pragma once

namespace vireo {

class IrqLine {
 public:
  virtual ~IrqLine() = default;
  // Level of the line; a level-triggered device holds it while it needs service.
  virtual void set_level(bool asserted) = 0;
  // An edge: raise and lower the line.
  void pulse() {
    set_level(true);
    set_level(false);
  }
};

// A line that goes nowhere (devices built without an interrupt, unit tests).
class NullIrqLine final : public IrqLine {
 public:
  void set_level(bool) override {}
};

}  // namespace vireo
