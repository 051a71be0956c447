// Control transfer: Jcc, JMP, CALL, RET (near and far), LOOP/LOOPcc, JrCXZ, INT n,
// INT3, INTO, INT1, IRET.
#include "base/error.h"
#include "cpu/emu/exec_common.h"

namespace vireo::emu {
namespace {

// Near-branch operand size: 64 in 64-bit mode, else the operand size.
inline unsigned branch_size(EmuCpu& c, const DecodedInsn& d) { return c.mode() == CpuMode::Long64 ? 8 : d.osize; }

inline void relative_jump(EmuCpu& c, const DecodedInsn& d) {
  c.jump(c.next_rip + sext(d.imm, d.imm_size), branch_size(c, d));
}

void exec_jcc(EmuCpu& c, const DecodedInsn& d) {
  if (c.s.flags.condition(d.opcode() & 15)) relative_jump(c, d);
}

void exec_jmp_rel(EmuCpu& c, const DecodedInsn& d) { relative_jump(c, d); }

void exec_call_rel(EmuCpu& c, const DecodedInsn& d) {
  unsigned size = branch_size(c, d);
  uint64_t target = c.next_rip + sext(d.imm, d.imm_size);
  c.push(c.next_rip, size);
  c.jump(target, size);
}

void exec_ret(EmuCpu& c, const DecodedInsn& d) {
  unsigned size = branch_size(c, d);
  const uint64_t rsp = c.s.gpr[RSP];
  uint64_t target = c.pop(size);
  if (c.mode() == CpuMode::Long64 && !c.is_canonical(target)) {
    c.s.gpr[RSP] = rsp;  // a faulting RET leaves RSP as it was
    c.fault(kGP, 0);
  }
  if (d.opcode() == 0xc2) c.set_sp(c.s.gpr[RSP] + (d.imm & 0xffff));
  c.jump(target, size);
}

// LOOP, LOOPE, LOOPNE (E2 E1 E0) and JrCXZ (E3); the counter size is the address size.
void exec_loop(EmuCpu& c, const DecodedInsn& d) {
  unsigned asz = d.asize;
  uint64_t count = c.s.gpr[RCX] & size_mask(asz);
  bool take;
  if (d.opcode() == 0xe3) {
    take = count == 0;
  } else {
    count = (count - 1) & size_mask(asz);
    c.set_reg(RCX, asz, count, true);
    take = count != 0;
    if (d.opcode() == 0xe1) take = take && c.s.flags.zf();
    if (d.opcode() == 0xe0) take = take && !c.s.flags.zf();
  }
  if (take) relative_jump(c, d);
}

void exec_int(EmuCpu& c, const DecodedInsn& d) { c.deliver(uint8_t(d.imm), false, 0, true, c.next_rip); }
void exec_int3(EmuCpu& c, const DecodedInsn&) { c.deliver(kBP, false, 0, true, c.next_rip); }
void exec_into(EmuCpu& c, const DecodedInsn&) {
  if (c.s.flags.of()) c.deliver(kOF, false, 0, true, c.next_rip);
}
void exec_int1(EmuCpu& c, const DecodedInsn&) { c.deliver(kDB, false, 0, false, c.next_rip); }

// RFLAGS bits POPF/IRET may change at the current privilege (SDM Vol. 2 "POPF", "IRET").
uint64_t merge_rflags(EmuCpu& c, uint64_t old, uint64_t v, uint8_t cpl) {
  uint64_t changeable = rf::kArith | rf::TF | rf::DF | rf::NT | rf::AC | rf::ID | rf::RF;
  uint64_t iopl = (old >> 12) & 3;
  if (cpl == 0) changeable |= rf::IOPL | rf::IF;
  else if (cpl <= iopl) changeable |= rf::IF;
  (void)c;
  return (old & ~changeable) | (v & changeable);
}

// IRET/IRETD/IRETQ in protected and IA-32e mode (SDM Vol. 2 "IRET"): task returns
// (NT = 1) and virtual-8086 are not supported.
void exec_iret(EmuCpu& c, const DecodedInsn& d) {
  unsigned size = d.osize;
  c.s.flags.materialize();
  uint64_t old_flags = c.s.flags.rflags();
  if (c.real_mode()) {
    // Real-address mode: pop IP, CS and FLAGS; every flag may change except VM and
    // VIF/VIP (SDM Vol. 2 "IRET", REAL-ADDRESS-MODE).
    uint64_t new_rip = c.pop(size);
    uint16_t new_cs = uint16_t(c.pop(size));
    uint64_t new_flags = c.pop(size);
    uint64_t keep = size == 2 ? ~0xffffull : (rf::VM | rf::VIF | rf::VIP | ~0xffffffffull);
    c.s.flags.set_rflags(((old_flags & keep) | (new_flags & ~keep)) | 2);
    c.load_real_mode_segment(CS, new_cs);
    c.next_rip = new_rip & size_mask(size);
    c.request_poll();
    return;
  }
  if (old_flags & rf::NT) c.unimplemented(d, "IRET with NT set (task return)");
  bool m64 = c.mode() == CpuMode::Long64;
  uint64_t sp = c.s.gpr[RSP] & size_mask(c.stack_size());
  auto at = [&](unsigned i) { return c.read(c.linear(SS, (sp + i * size) & size_mask(c.stack_size())), size); };
  uint64_t new_rip = at(0);
  uint16_t new_cs = uint16_t(at(1));
  uint64_t new_flags = at(2);
  if (size == 2) new_flags = (old_flags & ~0xffffull) | (new_flags & 0xffff);
  if ((new_cs & ~3u) == 0) c.fault(kGP, 0);
  uint8_t rpl = new_cs & 3;
  if (rpl < c.s.cpl) c.fault(kGP, new_cs & 0xfffc);
  Segment cs = EmuCpu::parse_descriptor(c.read_descriptor(new_cs), new_cs);
  if (!cs.s || !(cs.type & 8)) c.fault(kGP, new_cs & 0xfffc);
  if ((cs.type & 4) ? cs.dpl > rpl : cs.dpl != rpl) c.fault(kGP, new_cs & 0xfffc);
  if (!cs.present) c.fault(kNP, new_cs & 0xfffc);
  if (c.long_mode() && cs.l && cs.db) c.fault(kGP, new_cs & 0xfffc);
  bool pop_stack = m64 || rpl > c.s.cpl;
  uint64_t new_rsp = 0;
  uint16_t new_ss = 0;
  if (pop_stack) {
    new_rsp = at(3);
    new_ss = uint16_t(at(4));
  }
  bool target64 = c.long_mode() && cs.l;
  if (target64 && !c.is_canonical(new_rip)) c.fault(kGP, 0);
  // Commit: CS (may switch to compatibility mode), then SS:RSP, flags and RIP.
  uint8_t old_cpl = c.s.cpl;
  Segment ss;
  if (pop_stack) {
    if ((new_ss & ~3u) == 0) {
      if (!(target64 && rpl != 3)) c.fault(kGP, 0);
      ss.selector = new_ss;
      ss.unusable = true;
      ss.present = false;
      ss.dpl = rpl;
      ss.db = true;
      ss.limit = 0;
    } else {
      if ((new_ss & 3) != rpl) c.fault(kGP, new_ss & 0xfffc);
      ss = EmuCpu::parse_descriptor(c.read_descriptor(new_ss), new_ss);
      if (!ss.s || (ss.type & 8) || !(ss.type & 2) || ss.dpl != rpl) c.fault(kGP, new_ss & 0xfffc);
      if (!ss.present) c.fault(kSS, new_ss & 0xfffc);
    }
  }
  cs.selector = new_cs;
  c.set_cs(cs, rpl);
  c.s.flags.set_rflags(merge_rflags(c, old_flags, new_flags, old_cpl));
  if (pop_stack) {
    c.set_segment(SS, ss);
    c.s.gpr[RSP] = target64 ? new_rsp : (new_rsp & size_mask(ss.db ? 4 : 2));
  } else {
    c.set_sp(sp + 3 * size);
  }
  // Returning to an outer level: data segments the new level may not use become null.
  if (rpl > old_cpl) {
    for (unsigned sreg : {unsigned(ES), unsigned(DS), unsigned(FS), unsigned(GS)}) {
      const Segment& sg = c.s.seg[sreg];
      bool data_or_nonconforming = !(sg.type & 8) || !(sg.type & 4);
      if (!sg.unusable && data_or_nonconforming && sg.dpl < rpl) {
        Segment null;
        null.selector = 0;
        null.unusable = true;
        null.present = false;
        null.base = (sreg == FS || sreg == GS) ? sg.base : 0;
        c.set_segment(sreg, null);
      }
    }
  }
  c.next_rip = target64 ? new_rip : new_rip & size_mask(size == 2 ? 2 : 4);
  c.request_poll();  // IF may have been set
}

// RETF / RETF imm16 (SDM Vol. 2 "RET", protected-mode far return).
void exec_retf(EmuCpu& c, const DecodedInsn& d) {
  unsigned size = d.osize;
  if (c.real_mode()) {
    uint64_t new_rip = c.pop(size);
    uint16_t new_cs = uint16_t(c.pop(size));
    if (d.opcode() == 0xca) c.set_sp(c.s.gpr[RSP] + (d.imm & 0xffff));
    c.load_real_mode_segment(CS, new_cs);
    c.next_rip = new_rip & size_mask(size);
    return;
  }
  uint64_t sp = c.s.gpr[RSP] & size_mask(c.stack_size());
  auto at = [&](uint64_t off) { return c.read(c.linear(SS, (sp + off) & size_mask(c.stack_size())), size); };
  uint64_t new_rip = at(0);
  uint16_t new_cs = uint16_t(at(size));
  uint64_t imm = d.opcode() == 0xca ? (d.imm & 0xffff) : 0;
  if ((new_cs & ~3u) == 0) c.fault(kGP, 0);
  uint8_t rpl = new_cs & 3;
  if (rpl < c.s.cpl) c.fault(kGP, new_cs & 0xfffc);
  Segment cs = EmuCpu::parse_descriptor(c.read_descriptor(new_cs), new_cs);
  if (!cs.s || !(cs.type & 8)) c.fault(kGP, new_cs & 0xfffc);
  if ((cs.type & 4) ? cs.dpl > rpl : cs.dpl != rpl) c.fault(kGP, new_cs & 0xfffc);
  if (!cs.present) c.fault(kNP, new_cs & 0xfffc);
  if (rpl > c.s.cpl) {
    uint64_t new_rsp = at(2 * size + imm);
    uint16_t new_ss = uint16_t(at(3 * size + imm));
    Segment ss = EmuCpu::parse_descriptor(c.read_descriptor(new_ss), new_ss);
    if ((new_ss & ~3u) == 0 || (new_ss & 3) != rpl || !ss.s || (ss.type & 8) || !(ss.type & 2) || ss.dpl != rpl)
      c.fault(kGP, new_ss & 0xfffc);
    cs.selector = new_cs;
    c.set_cs(cs, rpl);
    c.set_segment(SS, ss);
    c.s.gpr[RSP] = c.mode() == CpuMode::Long64 ? new_rsp + imm : (new_rsp + imm) & size_mask(ss.db ? 4 : 2);
  } else {
    cs.selector = new_cs;
    c.set_cs(cs, rpl);
    c.set_sp(sp + 2 * size + imm);
  }
  c.next_rip = c.mode() == CpuMode::Long64 ? new_rip : new_rip & size_mask(size);
}

// EA / 9A: direct far JMP / CALL (32-bit modes only).
void exec_far_direct(EmuCpu& c, const DecodedInsn& d) {
  c.far_transfer(d.imm2, d.imm, d.opcode() == 0x9a, d.osize);
}

}  // namespace

// FF /2 /3 /4 /5.
void exec_group5_control(EmuCpu& c, const DecodedInsn& d) {
  unsigned r = (d.modrm >> 3) & 7;
  if (r == 2 || r == 4) {
    unsigned size = branch_size(c, d);
    uint64_t target = c.read_rm(d, size);
    if (c.mode() == CpuMode::Long64 && !c.is_canonical(target)) c.fault(kGP, 0);
    if (r == 2) c.push(c.next_rip, size);
    c.jump(target, size);
    return;
  }
  // Far: m16:16, m16:32 or m16:64 (REX.W).
  if (!d.mem()) c.fault(kUD);
  unsigned off_size = d.osize;
  uint64_t la = c.operand_address(d);
  uint64_t offset = c.read(la, off_size);
  uint16_t sel = uint16_t(c.read(la + off_size, 2));
  c.far_transfer(sel, offset, r == 3, off_size);
}

void register_control(HandlerTable& t) {
  for (unsigned op = 0x70; op <= 0x7f; ++op) set_handler(t, kMapOne, op, exec_jcc);
  for (unsigned op = 0x80; op <= 0x8f; ++op) set_handler(t, kMap0F, op, exec_jcc);
  set_handler(t, kMapOne, 0xeb, exec_jmp_rel);
  set_handler(t, kMapOne, 0xe9, exec_jmp_rel);
  set_handler(t, kMapOne, 0xe8, exec_call_rel);
  set_handler(t, kMapOne, 0xc3, exec_ret);
  set_handler(t, kMapOne, 0xc2, exec_ret);
  for (unsigned op = 0xe0; op <= 0xe3; ++op) set_handler(t, kMapOne, op, exec_loop);
  set_handler(t, kMapOne, 0xcd, exec_int);
  set_handler(t, kMapOne, 0xcc, exec_int3);
  set_handler(t, kMapOne, 0xce, exec_into);
  set_handler(t, kMapOne, 0xf1, exec_int1);
  set_handler(t, kMapOne, 0xcf, exec_iret);
  set_handler(t, kMapOne, 0xca, exec_retf);
  set_handler(t, kMapOne, 0xcb, exec_retf);
  set_handler(t, kMapOne, 0xea, exec_far_direct);
  set_handler(t, kMapOne, 0x9a, exec_far_direct);
}

}  // namespace vireo::emu
