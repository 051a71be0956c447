// KvmVcpu: one vCPU of a KVM VM, run on the calling thread. Port and MMIO exits are
// dispatched to the machine's IoBus objects.
#pragma once

#include <linux/kvm.h>
#include <pthread.h>

#include <atomic>
#include <vector>

#include "cpu/vcpu.h"

namespace vireo {

class KvmAccelerator;

// X86CpuState <-> KVM's register structures.
kvm_segment to_kvm(const Segment& s);
Segment from_kvm(const kvm_segment& k);
// Loads `state` into a KVM vCPU (KVM_SET_SREGS + KVM_SET_REGS). Throws vireo::Error.
void set_kvm_state(int vcpu_fd, const X86CpuState& state);

class KvmVcpu final : public Vcpu {
 public:
  KvmVcpu(KvmAccelerator& vm, unsigned index);
  ~KvmVcpu() override;

  unsigned index() const override { return index_; }
  void set_state(const X86CpuState& state) override;
  X86CpuState get_state() override;
  VcpuExit run() override;
  void kick() override;

 private:
  void setup_cpuid();
  void setup_fpu_and_lapic();
  void handle_io();
  void handle_mmio();

  KvmAccelerator& vm_;
  const MachineContext& ctx_;
  unsigned index_;
  int fd_ = -1;
  kvm_run* run_ = nullptr;
  size_t run_size_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<pthread_t> thread_{};
  std::atomic<bool> running_{false};
};

}  // namespace vireo
