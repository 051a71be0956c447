// KvmRing3Runner: runs test cases in ring 3 of a raw KVM vCPU, the reference side
// of the differential tests. Self-contained (plain ioctls on /dev/kvm), one VM and
// one vCPU created once and reused for every case.
//
// Why ring 3: on a PVM host (KVM without VT-x) ring-3 guest code runs natively on
// the real CPU, while ring-0 code goes through KVM's instruction emulator, which is
// slow and incomplete. So every test case starts directly in 64-bit ring 3 (the
// sregs are set, no boot code runs) and ends with a store to an unbacked page: an
// MMIO exit. Exceptions go through the IDT to a ring-0 stub that makes one MMIO
// store naming the vector (a plain mov, which KVM's emulator handles).
//
// Measured on this host's PVM /dev/kvm (kvm_pvm, kernel 6.18):
// - KVM_SET_SREGS straight into 64-bit ring 3 (CS DPL 3 / RPL 3, L=1; SS, DS, ES
//   DPL 3; TR a busy 64-bit TSS; CR0 PE|MP|ET|NE|WP|PG, CR4 PAE|OSFXSR|OSXMMEXCPT,
//   EFER SCE|LME|LMA|NXE) is accepted, and the code runs natively. RFLAGS.IF may be
//   0 or 1 (PUSHF shows what was set); the cases run with IF=1.
// - KVM_SET_FPU / KVM_GET_FPU do not reach the guest's SSE state (the guest saw
//   MXCSR 0x1f80 and zero XMM registers whatever was set; MXCSR read back as 0),
//   and KVM_GET_XSAVE fails with EINVAL. So SSE state travels through guest memory:
//   SSE cases enter at kSseEntryGpa, an FXRSTOR of the initial image that falls
//   through into the code, and after the end store's exit the vCPU is resumed into
//   an FXSAVE and a second store (two exits for SSE cases, one for the rest).
// - Native in ring 3: SSE2, CMPXCHG16B (with and without LOCK), PUSHF, RDTSC-class
//   code; CPUID exits to KVM and completes. Faults are delivered through the guest
//   IDT: #DE, #UD (UD2), #BP (INT3, RIP after it), #GP (CLI at CPL 3, misaligned
//   MOVDQA), #PF with the right error code and CR2, #DB (TF); the pushed RFLAGS has
//   RF set for faults. The ring-0 stub's single MOV to an unbacked page is emulated
//   by KVM without trouble.
// - KVM completes the end store before the MMIO exit: RIP is past it.
// - About 120 us per case here (one KVM_SET_REGS, one KVM_RUN with the MMIO exit,
//   one KVM_GET_REGS, and the copies of the 68 KiB user memory in and out);
//   KVM_SET_SREGS is skipped after a case that completed in ring 3.
#pragma once

#include <linux/kvm.h>

#include <array>
#include <cstdint>
#include <string>

#include "base/error.h"
#include "difftest/program.h"

namespace vireo::difftest {

// /dev/kvm does not exist or does not open: the caller skips the reference side.
class KvmUnavailable : public Error {
 public:
  using Error::Error;
};

class KvmRing3Runner {
 public:
  // Throws KvmUnavailable when /dev/kvm does not open, vireo::Error when it opens
  // but the VM cannot be set up.
  explicit KvmRing3Runner(unsigned timeout_ms = 500);
  ~KvmRing3Runner();
  KvmRing3Runner(const KvmRing3Runner&) = delete;
  KvmRing3Runner& operator=(const KvmRing3Runner&) = delete;

  Result run(const TestCase& tc);

  // What kind of KVM this is ("pvm", "vmx", "svm" or "unknown"), for reports.
  static std::string kvm_flavour();

 private:
  void set_state(const TestCase& tc);
  uint64_t run_to_mmio_store(Result& r);
  Result collect(const TestCase& tc, uint64_t mmio_addr);

  unsigned timeout_ms_;
  int kvm_fd_ = -1;
  int vm_fd_ = -1;
  int vcpu_fd_ = -1;
  uint8_t* ram_ = nullptr;
  kvm_run* run_ = nullptr;
  size_t run_size_ = 0;
  kvm_sregs base_sregs_{};
  bool sregs_loaded_ = false;
  void* timer_ = nullptr;  // timer_t
};

}  // namespace vireo::difftest
