#include "cpu/emu/emu_vcpu.h"

#include <algorithm>
#include <chrono>

#include "base/log.h"
#include "cpu/emu/cpuid_policy.h"
#include "devices/current_cpu.h"
#include "devices/local_apic.h"

namespace vireo::emu {

EmuVcpu::EmuVcpu(const MachineContext& machine, unsigned index) : cpu_(machine, index) {
  cpu_.set_halt_waiter(&EmuVcpu::wait_in_hlt, this);
  wait_for_sipi_ = index > 0;
}

EmuVcpu::~EmuVcpu() = default;

X86CpuState EmuVcpu::startup_state(uint8_t vector) {
  X86CpuState st;
  Segment data;
  data.selector = 0;
  data.base = 0;
  data.limit = 0xffff;
  data.type = 3;  // read/write, accessed
  data.s = true;
  data.present = true;
  st.ds = st.es = st.fs = st.gs = st.ss = data;
  st.cs = data;
  st.cs.selector = static_cast<uint16_t>(vector << 8);
  st.cs.base = uint64_t(vector) << 12;
  st.cs.type = 0xb;  // execute/read, accessed
  st.ldt = data;
  st.ldt.type = 2;
  st.ldt.s = false;
  st.tr = data;
  st.tr.type = 0xb;  // busy TSS
  st.tr.s = false;
  st.gdt = DescriptorTable{0, 0xffff};
  st.idt = DescriptorTable{0, 0xffff};
  st.rip = 0;
  st.rflags = 2;
  st.cr0 = 0x60000010;
  // EDX holds the processor signature, as CPUID leaf 1 reports it in EAX.
  st.gpr[RDX] = cpuid_policy(1, 0, CpuidContext{}).eax;
  return st;
}

void EmuVcpu::attach_local_apic(LocalApic* apic) {
  apic_ = apic;
  cpu_.set_interrupt_source(apic);
  cpu_.set_local_apic(apic);
}

void EmuVcpu::set_state(const X86CpuState& st) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    wait_for_sipi_ = false;
  }
  EmuCpuState& s = cpu_.s;
  for (unsigned i = 0; i < 16; ++i) s.gpr[i] = st.gpr[i];
  s.rip = st.rip;
  s.flags.set_rflags(st.rflags);
  s.seg[ES] = st.es;
  s.seg[CS] = st.cs;
  s.seg[SS] = st.ss;
  s.seg[DS] = st.ds;
  s.seg[FS] = st.fs;
  s.seg[GS] = st.gs;
  s.tr = st.tr;
  s.ldt = st.ldt;
  s.gdt = st.gdt;
  s.idt = st.idt;
  s.cr0 = st.cr0;
  s.cr2 = st.cr2;
  s.cr3 = st.cr3;
  s.cr4 = st.cr4;
  s.cr8 = st.cr8;
  s.efer = st.efer;
  cpu_.state_changed();
}

X86CpuState EmuVcpu::get_state() {
  const EmuCpuState& s = cpu_.s;
  X86CpuState st;
  for (unsigned i = 0; i < 16; ++i) st.gpr[i] = s.gpr[i];
  st.rip = s.rip;
  st.rflags = s.flags.rflags();
  st.es = s.seg[ES];
  st.cs = s.seg[CS];
  st.ss = s.seg[SS];
  st.ds = s.seg[DS];
  st.fs = s.seg[FS];
  st.gs = s.seg[GS];
  st.tr = s.tr;
  st.ldt = s.ldt;
  st.gdt = s.gdt;
  st.idt = s.idt;
  st.cr0 = s.cr0;
  st.cr2 = s.cr2;
  st.cr3 = s.cr3;
  st.cr4 = s.cr4;
  st.cr8 = s.cr8;
  st.efer = s.efer;
  return st;
}

bool EmuVcpu::wait_for_startup() {
  uint8_t vector;
  {
    std::unique_lock<std::mutex> lock(mu_);
    if (!wait_for_sipi_) return true;
    cv_.wait(lock, [this] { return sipi_pending_ || kicked_.load(); });
    if (!sipi_pending_) return false;
    sipi_pending_ = false;
    vector = sipi_vector_;
  }
  set_state(startup_state(vector));
  cpu_.s.dr[6] = 0xffff0ff0;
  cpu_.s.dr[7] = 0x400;
  cpu_.state_changed();
  return true;
}

VcpuExit EmuVcpu::run() {
  set_current_cpu(index());
  for (;;) {
    if (!wait_for_startup()) {
      kicked_.store(false);
      return {VcpuExitKind::Stopped, ""};
    }
    VcpuExit exit = cpu_.run(stop_);
    if (tracer_) std::fflush(nullptr);
    if (exit.kind != VcpuExitKind::Stopped) return exit;
    stop_.store(false);
    if (kicked_.exchange(false)) return exit;
    // Otherwise an INIT stopped the loop: wait_for_startup() waits for the SIPI.
  }
}

void EmuVcpu::kick() {
  kicked_.store(true);
  stop_.store(true);
  wake();
}

void EmuVcpu::wake() {
  std::lock_guard<std::mutex> lock(mu_);
  woken_ = true;
  cv_.notify_all();
}

void EmuVcpu::receive_init() {
  if (index() == 0) {
    log_warn("vCPU 0 received INIT: ignored (there is no firmware to restart the boot processor into)");
    return;
  }
  std::lock_guard<std::mutex> lock(mu_);
  wait_for_sipi_ = true;
  sipi_pending_ = false;
  stop_.store(true);
  woken_ = true;
  cv_.notify_all();
}

void EmuVcpu::receive_sipi(uint8_t vector) {
  std::lock_guard<std::mutex> lock(mu_);
  if (!wait_for_sipi_ || sipi_pending_) return;  // only a waiting processor starts
  sipi_pending_ = true;
  sipi_vector_ = vector;
  cv_.notify_all();
}

bool EmuVcpu::waiting_for_sipi() {
  std::lock_guard<std::mutex> lock(mu_);
  return wait_for_sipi_ && !sipi_pending_;
}

bool EmuVcpu::wait_in_hlt(void* self) {
  auto* v = static_cast<EmuVcpu*>(self);
  std::unique_lock<std::mutex> lock(v->mu_);
  auto woken = [v] { return v->woken_; };
  if (v->apic_) {
    // Sleep until something wakes the CPU (an interrupt, kick, INIT) or the APIC
    // timer's next deadline, whichever comes first.
    uint64_t deadline = v->apic_->next_deadline_ns();
    if (v->extra_timer_) deadline = std::min(deadline, v->extra_timer_());
    if (deadline == LocalApic::kNever) {
      v->cv_.wait(lock, woken);
    } else {
      std::chrono::steady_clock::time_point when{std::chrono::nanoseconds(deadline)};
      v->cv_.wait_until(lock, when, woken);
    }
  } else {
    // Interrupt sources that only become pending with time are polled again at
    // least every millisecond.
    v->cv_.wait_for(lock, std::chrono::milliseconds(1), woken);
  }
  v->woken_ = false;
  return true;
}

void EmuVcpu::set_trace(std::FILE* out) {
  tracer_ = out ? std::make_unique<Tracer>(out) : nullptr;
  cpu_.set_tracer(tracer_.get());
}

}  // namespace vireo::emu
