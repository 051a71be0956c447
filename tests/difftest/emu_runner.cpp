#include "difftest/emu_runner.h"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "base/error.h"
#include "bus/io_bus.h"
#include "bus/io_device.h"
#include "cpu/vcpu.h"
#include "difftest/guest_image.h"
#include "memory/guest_memory.h"

#if VIREO_HAVE_EMU
#include "cpu/emu/emu_accelerator.h"
#include "cpu/emu/emu_vcpu.h"
#endif

namespace vireo::difftest {
namespace {

// ---- the binding to the interpreter: its accelerator and its SSE registers, which
// X86CpuState does not carry. Everything else goes through Vcpu.

#if VIREO_HAVE_EMU
constexpr bool kHaveEmu = true;
std::unique_ptr<Accelerator> create_emu_accelerator(const MachineContext& ctx, bool jit) {
  return std::make_unique<emu::EmuAccelerator>(ctx, emu::EmuOptions{.jit = jit, .jit_threshold = 1});
}
uint64_t emu_instructions(Vcpu& vcpu, bool translated) {
  auto* v = dynamic_cast<emu::EmuVcpu*>(&vcpu);
  if (!v) return 0;
  return translated ? v->cpu().jit_instructions : v->cpu().instructions;
}
// The SSE registers through EmuVcpu::cpu(), after set_state.
bool set_emu_sse(Vcpu& vcpu, const TestCase& tc) {
  auto* v = dynamic_cast<emu::EmuVcpu*>(&vcpu);
  if (!v) return false;
  emu::EmuCpuState& s = v->cpu().s;
  for (unsigned i = 0; i < 16; ++i) {
    s.xmm[i].lo = tc.xmm[i].lo;
    s.xmm[i].hi = tc.xmm[i].hi;
  }
  s.mxcsr = tc.mxcsr;
  return true;
}
bool get_emu_sse(Vcpu& vcpu, Result& r) {
  auto* v = dynamic_cast<emu::EmuVcpu*>(&vcpu);
  if (!v) return false;
  const emu::EmuCpuState& s = v->cpu().s;
  for (unsigned i = 0; i < 16; ++i) r.xmm[i] = {s.xmm[i].lo, s.xmm[i].hi};
  r.mxcsr = s.mxcsr;
  r.sse_valid = true;
  return true;
}
#else
constexpr bool kHaveEmu = false;
std::unique_ptr<Accelerator> create_emu_accelerator(const MachineContext&, bool) { return nullptr; }
uint64_t emu_instructions(Vcpu&, bool) { return 0; }
bool set_emu_sse(Vcpu&, const TestCase&) { return false; }
bool get_emu_sse(Vcpu&, Result&) { return false; }
#endif

// The device behind the two unbacked pages: records the first store and stops the
// vCPU that made it.
class EndDevice final : public IoDevice {
 public:
  void arm(Vcpu* vcpu) {
    vcpu_ = vcpu;
    hit_.store(false);
    addr_ = 0;
    reads_ = 0;
  }
  uint64_t io_read(uint64_t, unsigned) override {
    ++reads_;
    if (vcpu_) vcpu_->kick();
    return 0;
  }
  void io_write(uint64_t offset, unsigned, uint64_t) override {
    if (!hit_.exchange(true)) addr_ = kEndMmioGpa + offset;
    if (vcpu_) vcpu_->kick();
  }
  bool hit() const { return hit_.load(); }
  uint64_t address() const { return addr_; }
  unsigned reads() const { return reads_; }

 private:
  Vcpu* vcpu_ = nullptr;
  std::atomic<bool> hit_{false};
  uint64_t addr_ = 0;
  unsigned reads_ = 0;
};

}  // namespace

struct EmuRunner::Machine {
  GuestMemory memory{kRamSize};
  IoBus pio{"pio"};
  IoBus mmio{"mmio"};
  EndDevice end;
  std::unique_ptr<Accelerator> accel;
  std::unique_ptr<Vcpu> vcpu;
  unsigned timeout_ms = 0;

  // A watchdog that kicks the vCPU when a case runs past its deadline.
  std::thread watchdog;
  std::mutex mu;
  std::condition_variable cv;
  bool quit = false;
  bool armed = false;
  bool fired = false;
  std::chrono::steady_clock::time_point deadline;

  void watch() {
    std::unique_lock<std::mutex> lock(mu);
    while (!quit) {
      if (!armed) {
        cv.wait(lock);
        continue;
      }
      if (cv.wait_until(lock, deadline) == std::cv_status::timeout && armed && !quit) {
        fired = true;
        armed = false;
        vcpu->kick();
      }
    }
  }
};

bool EmuRunner::available() { return kHaveEmu; }

EmuRunner::EmuRunner(unsigned timeout_ms, bool jit) : m_(std::make_unique<Machine>()) {
  m_->timeout_ms = timeout_ms;
  write_system_structures(m_->memory.host_ptr(0, kRamSize));
  m_->mmio.add(kEndMmioGpa, 2 * kPageSize, &m_->end, "difftest-end");
  MachineContext ctx;
  ctx.memory = &m_->memory;
  ctx.pio = &m_->pio;
  ctx.mmio = &m_->mmio;
  ctx.num_cpus = 1;
  m_->accel = create_emu_accelerator(ctx, jit);
  if (!m_->accel) fail("the interpreter (cpu/emu) is not part of this build");
  m_->vcpu = m_->accel->create_vcpu(0);
  m_->watchdog = std::thread([this] { m_->watch(); });
}

EmuRunner::~EmuRunner() {
  {
    std::lock_guard<std::mutex> lock(m_->mu);
    m_->quit = true;
  }
  m_->cv.notify_all();
  if (m_->watchdog.joinable()) m_->watchdog.join();
}

uint64_t EmuRunner::instructions() const { return emu_instructions(*m_->vcpu, false); }
uint64_t EmuRunner::translated_instructions() const { return emu_instructions(*m_->vcpu, true); }

Result EmuRunner::run(const TestCase& tc) {
  Machine& m = *m_;
  uint8_t* ram = m.memory.host_ptr(0, kRamSize);
  load_test_case(ram, tc);
  Vcpu& vcpu = *m.vcpu;
  m.end.arm(&vcpu);
  vcpu.set_state(initial_cpu_state(tc));
  bool sse = tc.uses_sse && set_emu_sse(vcpu, tc);

  {
    std::lock_guard<std::mutex> lock(m.mu);
    m.fired = false;
    m.armed = true;
    m.deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(m.timeout_ms);
  }
  m.cv.notify_all();
  VcpuExit exit = vcpu.run();
  bool timed_out;
  {
    std::lock_guard<std::mutex> lock(m.mu);
    m.armed = false;
    timed_out = m.fired;
  }

  Result r;
  X86CpuState s = vcpu.get_state();
  if (!m.end.hit()) {
    r.outcome = timed_out ? Outcome::Timeout : Outcome::Error;
    r.message = timed_out ? fmt::format("no end store within {} ms", m.timeout_ms)
                          : fmt::format("vCPU exit {} before the end store: {}", int(exit.kind), exit.message);
    if (m.end.reads()) r.message = "MMIO read of the end page";
    r.rip = s.rip;
    return r;
  }
  r.gpr = s.gpr;
  r.rip = s.rip;
  r.rflags = s.rflags;
  read_user_memory(ram, r);
  uint64_t addr = m.end.address();
  if (addr == kEndMmioGpa) {
    // The end store's own address. The interpreter stops a few instructions later,
    // in the `jmp $` that follows the store.
    uint64_t store = kCodeGpa + tc.code.size();
    if (r.rip != store && r.rip != store + end_store_bytes().size()) {
      r.outcome = Outcome::Error;
      r.message = fmt::format("end store reached with RIP {:#x}, expected {:#x}", r.rip, store);
      return r;
    }
    r.rip = store;
    r.outcome = Outcome::Completed;
    if (sse) get_emu_sse(vcpu, r);
    return r;
  }
  if (addr >= kFaultMmioGpa && addr < kFaultMmioGpa + kNumVectors) {
    r.outcome = Outcome::Exception;
    r.vector = uint8_t(addr - kFaultMmioGpa);
    r.cr2 = s.cr2;
    if (!read_exception_frame(ram, s.gpr[4], r.vector, r)) {
      r.outcome = Outcome::Error;
      r.message = fmt::format("exception {} with an unexpected ring-0 RSP {:#x}", vector_name(r.vector), s.gpr[4]);
    }
    return r;
  }
  r.outcome = Outcome::Error;
  r.message = fmt::format("MMIO store to unexpected address {:#x}", addr);
  return r;
}

}  // namespace vireo::difftest
