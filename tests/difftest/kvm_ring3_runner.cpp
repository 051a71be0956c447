#include "difftest/kvm_ring3_runner.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <memory>
#include <vector>

#include "cpu/kvm/kvm_vcpu.h"
#include "difftest/guest_image.h"

namespace vireo::difftest {
namespace {

constexpr int kTimeoutSignal = SIGUSR2;

// The kvm_run of the vCPU whose case is running, for the timeout signal handler.
std::atomic<kvm_run*> g_running{nullptr};

void on_timeout(int) {
  // Makes a KVM_RUN in progress return EINTR (the signal does that) and one about to
  // start return at once (immediate_exit covers the race before the ioctl).
  if (kvm_run* r = g_running.load()) r->immediate_exit = 1;
}

}  // namespace

std::string KvmRing3Runner::kvm_flavour() {
  struct stat st;
  if (::stat("/sys/module/kvm_pvm", &st) == 0) return "pvm";
  if (::stat("/sys/module/kvm_intel", &st) == 0) return "vmx";
  if (::stat("/sys/module/kvm_amd", &st) == 0) return "svm";
  return "unknown";
}

KvmRing3Runner::KvmRing3Runner(unsigned timeout_ms) : timeout_ms_(timeout_ms) {
  kvm_fd_ = ::open("/dev/kvm", O_RDWR | O_CLOEXEC);
  if (kvm_fd_ < 0) throw KvmUnavailable(fmt::format("/dev/kvm does not open: {}", std::strerror(errno)));
  if (::ioctl(kvm_fd_, KVM_GET_API_VERSION, 0) != KVM_API_VERSION) fail("/dev/kvm: unexpected KVM API version");
  vm_fd_ = ::ioctl(kvm_fd_, KVM_CREATE_VM, 0);
  if (vm_fd_ < 0) fail("KVM_CREATE_VM failed: {}", std::strerror(errno));

  void* mem = ::mmap(nullptr, kRamSize, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (mem == MAP_FAILED) fail("cannot map {} bytes of guest memory", kRamSize);
  ram_ = static_cast<uint8_t*>(mem);
  write_system_structures(ram_);
  kvm_userspace_memory_region region{};
  region.slot = 0;
  region.guest_phys_addr = 0;
  region.memory_size = kRamSize;
  region.userspace_addr = reinterpret_cast<uint64_t>(ram_);
  if (::ioctl(vm_fd_, KVM_SET_USER_MEMORY_REGION, &region) < 0)
    fail("KVM_SET_USER_MEMORY_REGION failed: {}", std::strerror(errno));

  vcpu_fd_ = ::ioctl(vm_fd_, KVM_CREATE_VCPU, 0);
  if (vcpu_fd_ < 0) fail("KVM_CREATE_VCPU failed: {}", std::strerror(errno));
  int size = ::ioctl(kvm_fd_, KVM_GET_VCPU_MMAP_SIZE, 0);
  if (size <= 0) fail("KVM_GET_VCPU_MMAP_SIZE failed");
  run_size_ = size_t(size);
  void* r = ::mmap(nullptr, run_size_, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu_fd_, 0);
  if (r == MAP_FAILED) fail("cannot map kvm_run: {}", std::strerror(errno));
  run_ = static_cast<kvm_run*>(r);

  // CPUID: what KVM supports, so the guest's view matches the host features
  // (ring-3 code runs natively anyway; cpuid itself is not among the tested
  // instructions).
  std::vector<uint8_t> buf(sizeof(kvm_cpuid2) + 256 * sizeof(kvm_cpuid_entry2));
  auto* cpuid = reinterpret_cast<kvm_cpuid2*>(buf.data());
  cpuid->nent = 256;
  if (::ioctl(kvm_fd_, KVM_GET_SUPPORTED_CPUID, cpuid) == 0) {
    if (::ioctl(vcpu_fd_, KVM_SET_CPUID2, cpuid) < 0) fail("KVM_SET_CPUID2 failed: {}", std::strerror(errno));
  }
  if (::ioctl(vcpu_fd_, KVM_GET_SREGS, &base_sregs_) < 0) fail("KVM_GET_SREGS failed: {}", std::strerror(errno));

  // The per-case time limit: a one-shot timer that signals this thread.
  struct sigaction sa{};
  sa.sa_handler = on_timeout;
  sigemptyset(&sa.sa_mask);
  ::sigaction(kTimeoutSignal, &sa, nullptr);
  sigevent sev{};
  sev.sigev_notify = SIGEV_THREAD_ID;
  sev.sigev_signo = kTimeoutSignal;
  sev._sigev_un._tid = pid_t(::syscall(SYS_gettid));
  auto* t = new timer_t;
  if (::timer_create(CLOCK_MONOTONIC, &sev, t) < 0) {
    delete t;
    fail("timer_create failed: {}", std::strerror(errno));
  }
  timer_ = t;
}

KvmRing3Runner::~KvmRing3Runner() {
  if (timer_) {
    ::timer_delete(*static_cast<timer_t*>(timer_));
    delete static_cast<timer_t*>(timer_);
  }
  if (run_) ::munmap(run_, run_size_);
  if (vcpu_fd_ >= 0) ::close(vcpu_fd_);
  if (vm_fd_ >= 0) ::close(vm_fd_);
  if (ram_) ::munmap(ram_, kRamSize);
  if (kvm_fd_ >= 0) ::close(kvm_fd_);
}

void KvmRing3Runner::set_state(const TestCase& tc) {
  X86CpuState s = initial_cpu_state(tc);
  kvm_sregs sregs = base_sregs_;
  sregs.cs = to_kvm(s.cs);
  sregs.ds = to_kvm(s.ds);
  sregs.es = to_kvm(s.es);
  sregs.fs = to_kvm(s.fs);
  sregs.gs = to_kvm(s.gs);
  sregs.ss = to_kvm(s.ss);
  sregs.tr = to_kvm(s.tr);
  sregs.ldt = to_kvm(s.ldt);
  sregs.gdt.base = s.gdt.base;
  sregs.gdt.limit = s.gdt.limit;
  sregs.idt.base = s.idt.base;
  sregs.idt.limit = s.idt.limit;
  sregs.cr0 = s.cr0;
  sregs.cr2 = 0;
  sregs.cr3 = s.cr3;
  sregs.cr4 = s.cr4;
  sregs.efer = s.efer;
  std::memset(sregs.interrupt_bitmap, 0, sizeof sregs.interrupt_bitmap);
  // A case that completed leaves the system registers as they were set (it ran in
  // ring 3 only), so they are loaded again only after an exception or a failure.
  // This saves a third of the time per case here.
  if (!sregs_loaded_) {
    if (::ioctl(vcpu_fd_, KVM_SET_SREGS, &sregs) < 0) fail("KVM_SET_SREGS failed: {}", std::strerror(errno));
    sregs_loaded_ = true;
  }

  kvm_regs regs{};
  __u64* g[16] = {&regs.rax, &regs.rcx, &regs.rdx, &regs.rbx, &regs.rsp, &regs.rbp, &regs.rsi, &regs.rdi,
                     &regs.r8,  &regs.r9,  &regs.r10, &regs.r11, &regs.r12, &regs.r13, &regs.r14, &regs.r15};
  for (unsigned i = 0; i < 16; ++i) *g[i] = s.gpr[i];
  regs.rip = tc.uses_sse ? kSseEntryGpa : s.rip;
  regs.rflags = s.rflags;
  if (::ioctl(vcpu_fd_, KVM_SET_REGS, &regs) < 0) fail("KVM_SET_REGS failed: {}", std::strerror(errno));


}

// One KVM_RUN with the time limit armed. Returns the MMIO store address that ended
// it, or fills `r` with a timeout/error outcome and returns ~0.
uint64_t KvmRing3Runner::run_to_mmio_store(Result& r) {
  timer_t timer = *static_cast<timer_t*>(timer_);
  itimerspec its{};
  its.it_value.tv_sec = timeout_ms_ / 1000;
  its.it_value.tv_nsec = long(timeout_ms_ % 1000) * 1000000;
  run_->immediate_exit = 0;
  g_running.store(run_);
  ::timer_settime(timer, 0, &its, nullptr);
  int rc = ::ioctl(vcpu_fd_, KVM_RUN, 0);
  int err = errno;
  itimerspec off{};
  ::timer_settime(timer, 0, &off, nullptr);
  g_running.store(nullptr);
  run_->immediate_exit = 0;

  constexpr uint64_t kNone = ~0ull;
  if (rc < 0) {
    if (err == EINTR) {
      r.outcome = Outcome::Timeout;
      r.message = fmt::format("no exit within {} ms", timeout_ms_);
    } else {
      r.outcome = Outcome::Error;
      r.message = fmt::format("KVM_RUN failed: {}", std::strerror(err));
    }
    return kNone;
  }
  r.outcome = Outcome::Error;
  switch (run_->exit_reason) {
    case KVM_EXIT_MMIO:
      if (run_->mmio.is_write) return run_->mmio.phys_addr;
      r.message = fmt::format("MMIO read at {:#x}", run_->mmio.phys_addr);
      return kNone;
    case KVM_EXIT_SHUTDOWN:
      r.message = "KVM_EXIT_SHUTDOWN (triple fault)";
      return kNone;
    case KVM_EXIT_INTERNAL_ERROR:
      r.message = fmt::format("KVM_EXIT_INTERNAL_ERROR suberror {}", run_->internal.suberror);
      return kNone;
    default:
      r.message = fmt::format("unexpected KVM exit reason {}", run_->exit_reason);
      return kNone;
  }
}

Result KvmRing3Runner::run(const TestCase& tc) {
  load_test_case(ram_, tc);
  set_state(tc);
  Result r;
  uint64_t addr = run_to_mmio_store(r);
  if (addr == ~0ull) {
    sregs_loaded_ = false;
    return r;
  }
  r = collect(tc, addr);
  if (r.outcome != Outcome::Completed) sregs_loaded_ = false;
  if (r.outcome == Outcome::Completed && tc.uses_sse) {
    // Resume into the epilogue after the end store (and its `jmp $`): it saves the
    // SSE state with FXSAVE and ends with a second store.
    kvm_regs regs{};
    if (::ioctl(vcpu_fd_, KVM_GET_REGS, &regs) < 0) fail("KVM_GET_REGS failed: {}", std::strerror(errno));
    regs.rip = sse_epilogue_address(tc);
    if (::ioctl(vcpu_fd_, KVM_SET_REGS, &regs) < 0) fail("KVM_SET_REGS failed: {}", std::strerror(errno));
    Result second;
    uint64_t addr2 = run_to_mmio_store(second);
    if (addr2 != kEndMmioGpa + 8) {
      sregs_loaded_ = false;
      r.outcome = Outcome::Error;
      r.message = second.message.empty() ? fmt::format("SSE epilogue ended at {:#x}", addr2) : second.message;
      return r;
    }
    read_sse_image(ram_, r);
  }
  return r;
}

Result KvmRing3Runner::collect(const TestCase& tc, uint64_t mmio_addr) {
  Result r;
  kvm_regs regs{};
  if (::ioctl(vcpu_fd_, KVM_GET_REGS, &regs) < 0) {
    r.outcome = Outcome::Error;
    r.message = fmt::format("KVM_GET_REGS failed: {}", std::strerror(errno));
    return r;
  }
  const uint64_t g[16] = {regs.rax, regs.rcx, regs.rdx, regs.rbx, regs.rsp, regs.rbp, regs.rsi, regs.rdi,
                          regs.r8,  regs.r9,  regs.r10, regs.r11, regs.r12, regs.r13, regs.r14, regs.r15};
  for (unsigned i = 0; i < 16; ++i) r.gpr[i] = g[i];
  r.rip = regs.rip;
  r.rflags = regs.rflags;
  read_user_memory(ram_, r);

  if (mmio_addr == kEndMmioGpa) {
    // KVM completes the store before it exits, so RIP is past it. Both runners
    // report the store's own address.
    uint64_t store = kCodeGpa + tc.code.size();
    if (r.rip != store + end_store_bytes().size()) {
      r.outcome = Outcome::Error;
      r.message = fmt::format("end store reached with RIP {:#x}, expected {:#x}", r.rip,
                              store + end_store_bytes().size());
      return r;
    }
    r.rip = store;
    r.outcome = Outcome::Completed;
    return r;
  }
  if (mmio_addr >= kFaultMmioGpa && mmio_addr < kFaultMmioGpa + kNumVectors) {
    kvm_sregs sregs{};
    if (::ioctl(vcpu_fd_, KVM_GET_SREGS, &sregs) < 0) {
      r.outcome = Outcome::Error;
      r.message = fmt::format("KVM_GET_SREGS failed: {}", std::strerror(errno));
      return r;
    }
    r.outcome = Outcome::Exception;
    r.vector = uint8_t(mmio_addr - kFaultMmioGpa);
    r.cr2 = sregs.cr2;
    if (!read_exception_frame(ram_, regs.rsp, r.vector, r)) {
      r.outcome = Outcome::Error;
      r.message = fmt::format("exception {} with an unexpected ring-0 RSP {:#x}", vector_name(r.vector), regs.rsp);
    }
    return r;
  }
  r.outcome = Outcome::Error;
  r.message = fmt::format("MMIO store to unexpected address {:#x}", mmio_addr);
  return r;
}

}  // namespace vireo::difftest
