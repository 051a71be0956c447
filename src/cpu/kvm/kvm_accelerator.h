// KvmAccelerator: one KVM virtual machine — guest memory slots, the in-kernel
// irqchip (PIC, IOAPIC, LAPICs) and PIT — and the factory for its vCPUs and IRQ lines.
#pragma once

#include <memory>
#include <vector>

#include "cpu/kvm/kvm_system.h"
#include "cpu/vcpu.h"

namespace vireo {

class KvmAccelerator final : public Accelerator {
 public:
  // Creates the VM and maps every region of ctx.memory. Throws vireo::Error.
  explicit KvmAccelerator(const MachineContext& ctx);
  ~KvmAccelerator() override;

  std::string name() const override { return "kvm"; }
  std::unique_ptr<Vcpu> create_vcpu(unsigned index) override;
  std::unique_ptr<IrqLine> create_irq_line(unsigned gsi) override;

  int vm_fd() const { return vm_fd_; }
  const KvmSystem& system() const { return system_; }
  const MachineContext& context() const { return ctx_; }

 private:
  MachineContext ctx_;
  KvmSystem system_;
  int vm_fd_ = -1;
};

}  // namespace vireo
