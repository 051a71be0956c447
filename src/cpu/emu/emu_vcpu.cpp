#include "cpu/emu/emu_vcpu.h"

#include <chrono>

namespace vireo::emu {

EmuVcpu::EmuVcpu(const MachineContext& machine, unsigned index) : cpu_(machine, index) {
  cpu_.set_halt_waiter(&EmuVcpu::wait_in_hlt, this);
}

EmuVcpu::~EmuVcpu() = default;

void EmuVcpu::set_state(const X86CpuState& st) {
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

VcpuExit EmuVcpu::run() {
  VcpuExit exit = cpu_.run(stop_);
  if (exit.kind == VcpuExitKind::Stopped) stop_.store(false);
  if (tracer_) std::fflush(nullptr);
  return exit;
}

void EmuVcpu::kick() {
  stop_.store(true);
  wake();
}

void EmuVcpu::wake() {
  std::lock_guard<std::mutex> lock(mu_);
  woken_ = true;
  cv_.notify_all();
}

bool EmuVcpu::wait_in_hlt(void* self) {
  auto* v = static_cast<EmuVcpu*>(self);
  std::unique_lock<std::mutex> lock(v->mu_);
  // Bounded wait: interrupt sources that only become pending with time (timers) are
  // polled again at least every millisecond.
  v->cv_.wait_for(lock, std::chrono::milliseconds(1), [v] { return v->woken_; });
  v->woken_ = false;
  return true;
}

void EmuVcpu::set_trace(std::FILE* out) {
  tracer_ = out ? std::make_unique<Tracer>(out) : nullptr;
  cpu_.set_tracer(tracer_.get());
}

}  // namespace vireo::emu
