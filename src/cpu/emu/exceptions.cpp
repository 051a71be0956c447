#include "cpu/emu/exceptions.h"

#include <fmt/format.h>

#include "cpu/emu/emu_cpu.h"

namespace vireo::emu {

const char* vector_name(uint8_t vector) {
  static const char* const kNames[] = {"#DE", "#DB", "NMI", "#BP", "#OF", "#BR", "#UD", "#NM", "#DF", "vector 9",
                                       "#TS", "#NP", "#SS", "#GP", "#PF", "vector 15", "#MF", "#AC", "#MC", "#XM"};
  return vector < 20 ? kNames[vector] : "interrupt";
}

// Interrupt and exception delivery in IA-32e mode (SDM Vol. 3 6.14): a 16-byte gate
// in the IDT, a 64-bit code segment, a stack switch on a privilege change or through
// the IST (6.14.5), a 16-byte-aligned stack and a frame of SS RSP RFLAGS CS RIP
// (+ error code).
void EmuCpu::deliver(uint8_t vector, bool has_error, uint32_t error, bool soft, uint64_t return_rip, bool is_fault) {
  if (real_mode()) {
    deliver_real_mode(vector, return_rip);
    return;
  }
  if (!long_mode()) {
    throw CpuExit{VcpuExitKind::InternalError,
                  fmt::format("{} (vector {}, error {:#x}) at rip {:#x} in 32-bit protected mode: the emulator "
                              "delivers exceptions and interrupts only in long mode",
                              vector_name(vector), vector, error, s.rip)};
  }
  single_step_ = false;  // an instruction that delivers an event does not single-step trap
  const uint32_t ext = soft ? 0 : 1;  // EXT bit of error codes (6.13)
  const uint32_t idt_err = vector * 8u + 2 + ext;
  if (vector * 16u + 15 > s.idt.limit) fault(kGP, idt_err);
  uint64_t gate_la = s.idt.base + vector * 16u;
  uint64_t lo = read_sys(gate_la, 8);
  uint64_t hi = read_sys(gate_la + 8, 8);
  unsigned type = (lo >> 40) & 0xf;
  unsigned gate_dpl = (lo >> 45) & 3;
  if (type != 0xe && type != 0xf) fault(kGP, idt_err);
  if (soft && gate_dpl < s.cpl) fault(kGP, idt_err);
  if (!((lo >> 47) & 1)) fault(kNP, idt_err);
  uint64_t target = (lo & 0xffff) | ((lo >> 32) & 0xffff0000ull) | (hi << 32);
  uint16_t sel = static_cast<uint16_t>(lo >> 16);
  unsigned ist = (lo >> 32) & 7;
  if ((sel & ~3u) == 0) fault(kGP, ext);
  Segment cs = parse_descriptor(read_descriptor(sel), sel);
  uint32_t sel_err = (sel & 0xfffc) | ext;
  if (!cs.s || !(cs.type & 8) || !cs.l || cs.db || cs.dpl > s.cpl) fault(kGP, sel_err);
  if (!cs.present) fault(kNP, sel_err);
  uint8_t new_cpl = (cs.type & 4) ? s.cpl : cs.dpl;
  if (!is_canonical(target)) fault(kGP, ext);

  uint64_t rsp = s.gpr[RSP];
  bool stack_switch = new_cpl < s.cpl;
  auto tss_rsp = [&](uint32_t offset) {
    if (offset + 7 > s.tr.limit || s.tr.unusable) fault(kTS, (s.tr.selector & 0xfffc) | ext);
    return read_sys(s.tr.base + offset, 8);
  };
  if (ist) {
    rsp = tss_rsp(0x24 + (ist - 1) * 8);
  } else if (stack_switch) {
    rsp = tss_rsp(4 + new_cpl * 8);
  }
  if (!is_canonical(rsp)) fault(kSS, ext);
  rsp &= ~0xfull;

  s.flags.materialize();
  uint64_t rflags = s.flags.rflags();
  uint64_t frame[6];
  unsigned n = 0;
  if (has_error) frame[n++] = error;
  frame[n++] = return_rip;
  frame[n++] = s.seg[CS].selector;
  frame[n++] = is_fault ? (rflags | rf::RF) : rflags;
  frame[n++] = s.gpr[RSP];
  frame[n++] = s.seg[SS].selector;
  // Frame writes use the new privilege level's rights (supervisor for CPL < 3).
  bool as_user = new_cpl == 3;
  uint64_t top = rsp - 8 * n;
  // Written in push order (SS first) so a fault names the address hardware would.
  for (unsigned i = n; i-- > 0;) write_as(top + 8 * i, 8, frame[i], as_user);

  // Commit (CR2 of a #PF was set when the fault was raised).
  uint64_t clear = rf::TF | rf::NT | rf::RF | rf::VM;
  if (type == 0xe) clear |= rf::IF;
  s.flags.set_rflags(rflags & ~clear);
  cs.selector = static_cast<uint16_t>((sel & ~3u) | new_cpl);
  if (stack_switch) {
    Segment ss;
    ss.selector = new_cpl;
    ss.unusable = true;
    ss.present = false;
    ss.dpl = new_cpl;
    ss.db = true;
    ss.limit = 0;
    s.seg[SS] = ss;
  }
  set_cs(cs, new_cpl);
  s.gpr[RSP] = top;
  s.rip = target;
  next_rip = target;
  interrupt_shadow = false;
}

// Real-address mode (SDM Vol. 3 20.1.4): the interrupt vector table at IDTR.base
// holds a 4-byte IP:CS pointer per vector; FLAGS, CS and IP are pushed as 16-bit
// words, and IF, TF, AC and RF are cleared. Error codes are not pushed. A vector
// beyond the IDTR limit raises #GP, which becomes #DF and then a shutdown.
void EmuCpu::deliver_real_mode(uint8_t vector, uint64_t return_rip) {
  single_step_ = false;  // as deliver(): the delivering instruction does not single-step trap
  if (vector * 4u + 3 > s.idt.limit) fault(kGP, 0);
  uint64_t entry = read_sys((s.idt.base + vector * 4u) & 0xffffffffull, 4);
  s.flags.materialize();
  uint64_t rflags = s.flags.rflags();
  push(rflags & 0xffff, 2);
  push(s.seg[CS].selector, 2);
  push(return_rip & 0xffff, 2);
  s.flags.set_rflags(rflags & ~(rf::IF | rf::TF | rf::AC | rf::RF));
  load_real_mode_segment(CS, static_cast<uint16_t>(entry >> 16));
  s.rip = entry & 0xffff;
  next_rip = s.rip;
  interrupt_shadow = false;
}

}  // namespace vireo::emu
