// Stack instructions: PUSH/POP (registers, r/m, immediates, segment registers),
// PUSHF/POPF, PUSHA/POPA, ENTER, LEAVE.
#include "cpu/emu/exec_common.h"

namespace vireo::emu {
namespace {

void exec_push_reg(EmuCpu& c, const DecodedInsn& d) {
  unsigned r = (d.opcode() & 7) | ((d.rex & 1) << 3);
  c.push(c.s.gpr[r] & size_mask(d.osize), d.osize);
}

void exec_pop_reg(EmuCpu& c, const DecodedInsn& d) {
  unsigned r = (d.opcode() & 7) | ((d.rex & 1) << 3);
  uint64_t v = c.pop(d.osize);
  c.set_reg(r, d.osize, v, true);
}

void exec_push_imm(EmuCpu& c, const DecodedInsn& d) { c.push(imm_sx(d, d.osize), d.osize); }

// 8F /0: POP r/m. The address is computed with RSP after the pop (SDM Vol. 2 "POP").
void exec_pop_rm(EmuCpu& c, const DecodedInsn& d) {
  if ((d.modrm >> 3) & 7) c.fault(kUD);
  uint64_t old_rsp = c.s.gpr[RSP];
  uint64_t v = c.pop(d.osize);
  if (d.mod == 3) {
    c.set_reg(d, d.rm, d.osize, v);
    return;
  }
  try {
    c.write(c.operand_address(d), d.osize, v);
  } catch (const GuestFault&) {
    c.s.gpr[RSP] = old_rsp;
    throw;
  }
}

// PUSH/POP of segment registers: 06 07 0E 16 17 1E 1F, 0F A0 A1 A8 A9.
unsigned sreg_of(const DecodedInsn& d) {
  if (d.map() == kMap0F) return d.opcode() < 0xa8 ? FS : GS;
  return (d.opcode() >> 3) & 3;
}

void exec_push_sreg(EmuCpu& c, const DecodedInsn& d) { c.push(c.s.seg[sreg_of(d)].selector, d.osize); }

void exec_pop_sreg(EmuCpu& c, const DecodedInsn& d) {
  unsigned sreg = sreg_of(d);
  uint64_t rsp = c.s.gpr[RSP] & size_mask(c.stack_size());
  uint16_t sel = uint16_t(c.read(c.linear(SS, rsp), 2));
  c.load_data_segment(sreg, sel);
  c.set_sp(rsp + d.osize);
  if (sreg == SS) c.interrupt_shadow = true;
}

void exec_pushf(EmuCpu& c, const DecodedInsn& d) {
  c.push(c.s.flags.rflags() & ~(rf::VM | rf::RF) & size_mask(d.osize), d.osize);
}

// POPF (SDM Vol. 2 "POPF"): IOPL changes only at CPL 0, IF only when CPL <= IOPL;
// VM, VIF, VIP are never set here (no virtual-8086 mode).
void exec_popf(EmuCpu& c, const DecodedInsn& d) {
  uint64_t v = c.pop(d.osize);
  uint64_t old = c.s.flags.rflags();
  uint64_t changeable = rf::kArith | rf::TF | rf::DF | rf::NT | rf::AC | rf::ID;
  uint64_t iopl = (old >> 12) & 3;
  if (c.s.cpl == 0) changeable |= rf::IOPL | rf::IF;
  else if (c.s.cpl <= iopl) changeable |= rf::IF;
  changeable &= size_mask(d.osize);
  c.s.flags.set_rflags((old & ~changeable & ~rf::RF) | (v & changeable));
  c.request_poll();
}

void exec_pusha(EmuCpu& c, const DecodedInsn& d) {
  uint64_t sp = c.s.gpr[RSP];
  for (unsigned r = 0; r < 8; ++r) c.push(r == RSP ? sp : c.s.gpr[r], d.osize);
}

void exec_popa(EmuCpu& c, const DecodedInsn& d) {
  for (int r = 7; r >= 0; --r) {
    uint64_t v = c.pop(d.osize);
    if (r != RSP) c.set_reg(unsigned(r), d.osize, v, true);
  }
}

// ENTER imm16, imm8 (SDM Vol. 2 "ENTER").
void exec_enter(EmuCpu& c, const DecodedInsn& d) {
  unsigned size = d.osize;
  unsigned level = d.imm2 & 31;
  uint64_t frame = 0;
  unsigned ss = c.stack_size();
  c.push(c.s.gpr[RBP] & size_mask(size), size);
  frame = c.s.gpr[RSP] & size_mask(ss);
  if (level > 0) {
    uint64_t bp = c.s.gpr[RBP];
    for (unsigned i = 1; i < level; ++i) {
      bp -= size;
      c.push(c.read(c.linear(SS, bp & size_mask(ss)), size), size);
    }
    c.push(frame, size);
  }
  c.set_reg(RBP, size, frame, true);
  c.set_sp((c.s.gpr[RSP] - (d.imm & 0xffff)) & size_mask(ss));
}

void exec_leave(EmuCpu& c, const DecodedInsn& d) {
  unsigned ss = c.stack_size();
  uint64_t bp = c.s.gpr[RBP] & size_mask(ss);
  uint64_t v = c.read(c.linear(SS, bp), d.osize);
  c.set_sp(bp + d.osize);
  c.set_reg(RBP, d.osize, v, true);
}

}  // namespace

// FF /6: PUSH r/m. 64-bit by default in 64-bit mode (66 makes it 16-bit); the decoder
// cannot know, as FF /0 /1 default to 32 bits.
void exec_push_rm(EmuCpu& c, const DecodedInsn& d) {
  unsigned size = d.osize;
  if (c.mode() == CpuMode::Long64) size = (d.has(kPrefixOpSize) && !d.rex_w()) ? 2 : 8;
  c.push(c.read_rm(d, size), size);
}

void register_stack(HandlerTable& t) {
  for (unsigned op = 0x50; op <= 0x57; ++op) set_handler(t, kMapOne, op, exec_push_reg);
  for (unsigned op = 0x58; op <= 0x5f; ++op) set_handler(t, kMapOne, op, exec_pop_reg);
  set_handler(t, kMapOne, 0x68, exec_push_imm);
  set_handler(t, kMapOne, 0x6a, exec_push_imm);
  set_handler(t, kMapOne, 0x8f, exec_pop_rm);
  for (unsigned op : {0x06u, 0x0eu, 0x16u, 0x1eu}) set_handler(t, kMapOne, op, exec_push_sreg);
  for (unsigned op : {0x07u, 0x17u, 0x1fu}) set_handler(t, kMapOne, op, exec_pop_sreg);
  set_handler(t, kMap0F, 0xa0, exec_push_sreg);
  set_handler(t, kMap0F, 0xa8, exec_push_sreg);
  set_handler(t, kMap0F, 0xa1, exec_pop_sreg);
  set_handler(t, kMap0F, 0xa9, exec_pop_sreg);
  set_handler(t, kMapOne, 0x9c, exec_pushf);
  set_handler(t, kMapOne, 0x9d, exec_popf);
  set_handler(t, kMapOne, 0x60, exec_pusha);
  set_handler(t, kMapOne, 0x61, exec_popa);
  set_handler(t, kMapOne, 0xc8, exec_enter);
  set_handler(t, kMapOne, 0xc9, exec_leave);
}

}  // namespace vireo::emu
