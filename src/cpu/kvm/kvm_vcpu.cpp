#include "cpu/kvm/kvm_vcpu.h"

#include <signal.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <mutex>

#include "base/error.h"
#include "base/log.h"
#include "bus/io_bus.h"
#include "cpu/kvm/kvm_accelerator.h"
#include "cpu/kvm/kvm_cpuid_abi.h"
#include "memory/guest_memory.h"

namespace vireo {
namespace {

// kick() interrupts KVM_RUN with this signal; its handler does nothing, the point is
// the EINTR (the handler is installed without SA_RESTART).
constexpr int kKickSignal = SIGUSR1;

void install_kick_handler() {
  static std::once_flag once;
  std::call_once(once, [] {
    struct sigaction sa {};
    sa.sa_handler = [](int) {};
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0;
    ::sigaction(kKickSignal, &sa, nullptr);
  });
}

}  // namespace

kvm_segment to_kvm(const Segment& s) {
  kvm_segment k{};
  k.base = s.base;
  k.limit = s.limit;
  k.selector = s.selector;
  k.type = s.type;
  k.present = s.present;
  k.dpl = s.dpl;
  k.db = s.db;
  k.s = s.s;
  k.l = s.l;
  k.g = s.g;
  k.avl = s.avl;
  k.unusable = s.unusable;
  return k;
}

Segment from_kvm(const kvm_segment& k) {
  Segment s;
  s.base = k.base;
  s.limit = k.limit;
  s.selector = k.selector;
  s.type = k.type;
  s.present = k.present;
  s.dpl = k.dpl;
  s.db = k.db;
  s.s = k.s;
  s.l = k.l;
  s.g = k.g;
  s.avl = k.avl;
  s.unusable = k.unusable;
  return s;
}


KvmVcpu::KvmVcpu(KvmAccelerator& vm, unsigned index) : vm_(vm), ctx_(vm.context()), index_(index) {
  install_kick_handler();
  fd_ = ::ioctl(vm_.vm_fd(), KVM_CREATE_VCPU, static_cast<unsigned long>(index));
  if (fd_ < 0) fail("KVM_CREATE_VCPU {} failed: {}", index, std::strerror(errno));
  run_size_ = vm_.system().vcpu_mmap_size();
  void* p = ::mmap(nullptr, run_size_, PROT_READ | PROT_WRITE, MAP_SHARED, fd_, 0);
  if (p == MAP_FAILED) fail("mmap of vCPU {} run area failed: {}", index, std::strerror(errno));
  run_ = static_cast<kvm_run*>(p);
  setup_cpuid();
  setup_fpu_and_lapic();
}

KvmVcpu::~KvmVcpu() {
  if (run_) ::munmap(run_, run_size_);
  if (fd_ >= 0) ::close(fd_);
}

void KvmVcpu::setup_cpuid() {
  std::vector<kvm_cpuid_entry2> entries = vm_.system().supported_cpuid();
  for (kvm_cpuid_entry2& e : entries) {
    switch (e.function) {
      case 1:
        // Initial APIC ID and logical processor count; say we are a hypervisor guest.
        e.ebx = (e.ebx & 0x0000ffff) | (std::min(ctx_.num_cpus, 255u) << 16) | (index_ << 24);
        if (ctx_.num_cpus > 1) e.edx |= 1u << 28;  // HTT: the count above is valid
        e.ecx |= 1u << 31;
        break;
      case 0xb:
      case 0x1f:
        e.edx = index_;  // x2APIC ID
        break;
      default:
        break;
    }
  }
  std::vector<uint8_t> buf = make_cpuid2_buffer(entries);
  if (::ioctl(fd_, kKvmSetCpuid2, buf.data()) < 0) fail("KVM_SET_CPUID2 failed: {}", std::strerror(errno));
}

void KvmVcpu::setup_fpu_and_lapic() {
  // The x87/SSE reset state: FCW 0x37f (all exceptions masked), MXCSR 0x1f80.
  kvm_fpu fpu{};
  fpu.fcw = 0x37f;
  fpu.mxcsr = 0x1f80;
  if (::ioctl(fd_, KVM_SET_FPU, &fpu) < 0) log_debug("KVM_SET_FPU: {}", std::strerror(errno));

  // As a PC's firmware does: LINT0 is ExtINT (the 8259 PIC), LINT1 is NMI.
  kvm_lapic_state lapic{};
  if (::ioctl(fd_, KVM_GET_LAPIC, &lapic) == 0) {
    auto reg = [&](unsigned off) -> uint32_t* { return reinterpret_cast<uint32_t*>(lapic.regs + off); };
    constexpr unsigned kLvtLint0 = 0x350, kLvtLint1 = 0x360;
    constexpr uint32_t kDeliveryExtInt = 7u << 8, kDeliveryNmi = 4u << 8, kDeliveryMask = 7u << 8;
    *reg(kLvtLint0) = (*reg(kLvtLint0) & ~kDeliveryMask) | kDeliveryExtInt;
    *reg(kLvtLint1) = (*reg(kLvtLint1) & ~kDeliveryMask) | kDeliveryNmi;
    if (::ioctl(fd_, KVM_SET_LAPIC, &lapic) < 0) log_debug("KVM_SET_LAPIC: {}", std::strerror(errno));
  }
}

void set_kvm_state(int vcpu_fd, const X86CpuState& st) {
  kvm_sregs sregs{};
  if (::ioctl(vcpu_fd, KVM_GET_SREGS, &sregs) < 0) fail("KVM_GET_SREGS failed: {}", std::strerror(errno));
  sregs.cs = to_kvm(st.cs);
  sregs.ds = to_kvm(st.ds);
  sregs.es = to_kvm(st.es);
  sregs.fs = to_kvm(st.fs);
  sregs.gs = to_kvm(st.gs);
  sregs.ss = to_kvm(st.ss);
  sregs.tr = to_kvm(st.tr);
  sregs.ldt = to_kvm(st.ldt);
  sregs.gdt.base = st.gdt.base;
  sregs.gdt.limit = st.gdt.limit;
  sregs.idt.base = st.idt.base;
  sregs.idt.limit = st.idt.limit;
  sregs.cr0 = st.cr0;
  sregs.cr2 = st.cr2;
  sregs.cr3 = st.cr3;
  sregs.cr4 = st.cr4;
  sregs.cr8 = st.cr8;
  sregs.efer = st.efer;
  if (::ioctl(vcpu_fd, KVM_SET_SREGS, &sregs) < 0) fail("KVM_SET_SREGS failed: {}", std::strerror(errno));

  kvm_regs regs{};
  const auto& g = st.gpr;
  regs.rax = g[RAX], regs.rbx = g[RBX], regs.rcx = g[RCX], regs.rdx = g[RDX];
  regs.rsi = g[RSI], regs.rdi = g[RDI], regs.rsp = g[RSP], regs.rbp = g[RBP];
  regs.r8 = g[R8], regs.r9 = g[R9], regs.r10 = g[R10], regs.r11 = g[R11];
  regs.r12 = g[R12], regs.r13 = g[R13], regs.r14 = g[R14], regs.r15 = g[R15];
  regs.rip = st.rip;
  regs.rflags = st.rflags;
  if (::ioctl(vcpu_fd, KVM_SET_REGS, &regs) < 0) fail("KVM_SET_REGS failed: {}", std::strerror(errno));
}

void KvmVcpu::set_state(const X86CpuState& st) { set_kvm_state(fd_, st); }

X86CpuState KvmVcpu::get_state() {
  X86CpuState st;
  kvm_sregs sregs{};
  kvm_regs regs{};
  if (::ioctl(fd_, KVM_GET_SREGS, &sregs) < 0) fail("KVM_GET_SREGS failed: {}", std::strerror(errno));
  if (::ioctl(fd_, KVM_GET_REGS, &regs) < 0) fail("KVM_GET_REGS failed: {}", std::strerror(errno));
  st.cs = from_kvm(sregs.cs);
  st.ds = from_kvm(sregs.ds);
  st.es = from_kvm(sregs.es);
  st.fs = from_kvm(sregs.fs);
  st.gs = from_kvm(sregs.gs);
  st.ss = from_kvm(sregs.ss);
  st.tr = from_kvm(sregs.tr);
  st.ldt = from_kvm(sregs.ldt);
  st.gdt = {sregs.gdt.base, sregs.gdt.limit};
  st.idt = {sregs.idt.base, sregs.idt.limit};
  st.cr0 = sregs.cr0;
  st.cr2 = sregs.cr2;
  st.cr3 = sregs.cr3;
  st.cr4 = sregs.cr4;
  st.cr8 = sregs.cr8;
  st.efer = sregs.efer;
  auto& g = st.gpr;
  g[RAX] = regs.rax, g[RBX] = regs.rbx, g[RCX] = regs.rcx, g[RDX] = regs.rdx;
  g[RSI] = regs.rsi, g[RDI] = regs.rdi, g[RSP] = regs.rsp, g[RBP] = regs.rbp;
  g[R8] = regs.r8, g[R9] = regs.r9, g[R10] = regs.r10, g[R11] = regs.r11;
  g[R12] = regs.r12, g[R13] = regs.r13, g[R14] = regs.r14, g[R15] = regs.r15;
  st.rip = regs.rip;
  st.rflags = regs.rflags;
  return st;
}

void KvmVcpu::kick() {
  stop_.store(true);
  run_->immediate_exit = 1;
  if (running_.load()) ::pthread_kill(thread_.load(), kKickSignal);
}

void KvmVcpu::handle_io() {
  auto& io = run_->io;
  uint8_t* data = reinterpret_cast<uint8_t*>(run_) + io.data_offset;
  // data_offset comes from the kernel, but keep every access inside the run area.
  if (io.data_offset >= run_size_ || static_cast<uint64_t>(io.size) * io.count > run_size_ - io.data_offset) return;
  for (uint32_t i = 0; i < io.count; ++i, data += io.size) {
    if (io.direction == KVM_EXIT_IO_OUT) {
      ctx_.pio->write_bytes(io.port, data, io.size);
    } else {
      ctx_.pio->read_bytes(io.port, data, io.size);
    }
  }
}

void KvmVcpu::handle_mmio() {
  auto& m = run_->mmio;
  unsigned len = m.len > 8 ? 8 : m.len;
  if (m.is_write) {
    ctx_.mmio->write_bytes(m.phys_addr, m.data, len);
  } else {
    ctx_.mmio->read_bytes(m.phys_addr, m.data, len);
  }
}

VcpuExit KvmVcpu::run() {
  thread_.store(::pthread_self());
  running_.store(true);
  struct Clear {
    std::atomic<bool>& r;
    ~Clear() { r.store(false); }
  } clear{running_};
  for (;;) {
    if (stop_.load()) return {VcpuExitKind::Stopped, ""};
    int rc = ::ioctl(fd_, KVM_RUN, 0);
    if (rc < 0) {
      if (errno == EINTR || errno == EAGAIN) {
        run_->immediate_exit = 0;
        continue;
      }
      return {VcpuExitKind::InternalError, fmt::format("KVM_RUN failed: {}", std::strerror(errno))};
    }
    switch (run_->exit_reason) {
      case KVM_EXIT_IO:
        handle_io();
        break;
      case KVM_EXIT_MMIO:
        handle_mmio();
        break;
      case KVM_EXIT_HLT:
        return {VcpuExitKind::Halted, "the guest halted"};
      case KVM_EXIT_SHUTDOWN:
        return {VcpuExitKind::Shutdown, "the guest triple-faulted (CPU shutdown)"};
      case KVM_EXIT_SYSTEM_EVENT:
        if (run_->system_event.type == KVM_SYSTEM_EVENT_RESET)
          return {VcpuExitKind::Shutdown, "the guest reset the system"};
        return {VcpuExitKind::Shutdown, "the guest shut the system down"};
      case KVM_EXIT_INTR:
        break;
      case KVM_EXIT_FAIL_ENTRY:
        return {VcpuExitKind::InternalError,
                fmt::format("KVM could not enter the guest (hardware entry failure reason {:#x})",
                            run_->fail_entry.hardware_entry_failure_reason)};
      case KVM_EXIT_INTERNAL_ERROR: {
        X86CpuState st = get_state();
        return {VcpuExitKind::InternalError,
                fmt::format("KVM internal error (suberror {}{}) at rip {:#x}", run_->internal.suberror,
                            run_->internal.suberror == KVM_INTERNAL_ERROR_EMULATION ? ": instruction emulation failed"
                                                                                   : "",
                            st.rip)};
      }
      default:
        return {VcpuExitKind::InternalError, fmt::format("unexpected KVM exit reason {}", run_->exit_reason)};
    }
  }
}

}  // namespace vireo
