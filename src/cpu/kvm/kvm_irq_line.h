// KvmIrqLine: a GSI of KVM's in-kernel irqchip, driven with KVM_IRQ_LINE. With the
// default routing, GSIs 0-15 reach both the PIC pair and the IOAPIC, 16-23 the IOAPIC.
#pragma once

#include "bus/irq_line.h"

namespace vireo {

class KvmIrqLine final : public IrqLine {
 public:
  KvmIrqLine(int vm_fd, unsigned gsi) : vm_fd_(vm_fd), gsi_(gsi) {}
  void set_level(bool asserted) override;

 private:
  int vm_fd_;
  unsigned gsi_;
};

}  // namespace vireo
