// Data movement and flag manipulation: MOV (all forms), MOV Sreg, LEA, MOVZX, MOVSX,
// MOVSXD, CBW/CWDE/CDQE, CWD/CDQ/CQO, LAHF/SAHF, CLC STC CMC CLD STD, XLAT, NOPs and
// hints, MOVNTI.
#include "cpu/emu/exec_common.h"

namespace vireo::emu {
namespace {

void exec_mov_rm_r(EmuCpu& c, const DecodedInsn& d) {  // 88 89
  unsigned size = byte_or_v(d);
  c.write_rm(d, size, c.reg(d, d.reg, size));
}

void exec_mov_r_rm(EmuCpu& c, const DecodedInsn& d) {  // 8A 8B
  unsigned size = byte_or_v(d);
  c.set_reg(d, d.reg, size, c.read_rm(d, size));
}

void exec_mov_rm_sreg(EmuCpu& c, const DecodedInsn& d) {  // 8C
  unsigned sreg = (d.modrm >> 3) & 7;
  if (sreg > GS) c.fault(kUD);
  uint16_t sel = c.s.seg[sreg].selector;
  if (d.mod == 3) {
    c.set_reg(d, d.rm, d.osize, sel);  // register forms zero-extend the selector
  } else {
    c.write(c.operand_address(d), 2, sel);
  }
}

void exec_mov_sreg_rm(EmuCpu& c, const DecodedInsn& d) {  // 8E
  unsigned sreg = (d.modrm >> 3) & 7;
  if (sreg > GS || sreg == CS) c.fault(kUD);
  uint16_t sel = uint16_t(c.read_rm(d, 2));
  c.load_data_segment(sreg, sel);
  if (sreg == SS) c.interrupt_shadow = true;
}

void exec_lea(EmuCpu& c, const DecodedInsn& d) {  // 8D
  if (!d.mem()) c.fault(kUD);
  c.set_reg(d, d.reg, d.osize, c.effective_address(d));
}

void exec_mov_moffs(EmuCpu& c, const DecodedInsn& d) {  // A0..A3
  unsigned size = byte_or_v(d);
  uint64_t la = c.linear(d.seg, uint64_t(d.disp) & size_mask(d.asize));
  if (d.opcode() < 0xa2) {
    c.set_reg(RAX, size, c.read(la, size), true);
  } else {
    c.write(la, size, c.s.gpr[RAX] & size_mask(size));
  }
}

void exec_mov_r8_imm(EmuCpu& c, const DecodedInsn& d) {  // B0..B7
  c.set_reg(d, (d.opcode() & 7) | ((d.rex & 1) << 3), 1, d.imm);
}

void exec_mov_r_imm(EmuCpu& c, const DecodedInsn& d) {  // B8..BF
  c.set_reg(d, (d.opcode() & 7) | ((d.rex & 1) << 3), d.osize, d.imm);
}

void exec_mov_rm_imm(EmuCpu& c, const DecodedInsn& d) {  // C6 C7 /0
  if ((d.modrm >> 3) & 7) c.fault(kUD);  // XABORT/XBEGIN (RTM) are not offered
  unsigned size = byte_or_v(d);
  c.write_rm(d, size, imm_sx(d, size));
}

void exec_movzx(EmuCpu& c, const DecodedInsn& d) {  // 0F B6 B7
  unsigned src = d.opcode() == 0xb6 ? 1 : 2;
  c.set_reg(d, d.reg, d.osize, c.read_rm(d, src));
}

void exec_movsx(EmuCpu& c, const DecodedInsn& d) {  // 0F BE BF
  unsigned src = d.opcode() == 0xbe ? 1 : 2;
  c.set_reg(d, d.reg, d.osize, sext(c.read_rm(d, src), src) & size_mask(d.osize));
}

void exec_movsxd(EmuCpu& c, const DecodedInsn& d) {  // 63 (64-bit mode)
  if (c.mode() != CpuMode::Long64) c.unimplemented(d, "ARPL is not implemented");
  unsigned src = d.osize == 8 ? 4 : d.osize;
  c.set_reg(d, d.reg, d.osize, sext(c.read_rm(d, src), src) & size_mask(d.osize));
}

void exec_cbw(EmuCpu& c, const DecodedInsn& d) {  // 98
  unsigned half = d.osize / 2;
  c.set_reg(RAX, d.osize, sext(c.s.gpr[RAX] & size_mask(half), half) & size_mask(d.osize), true);
}

void exec_cwd(EmuCpu& c, const DecodedInsn& d) {  // 99
  bool negative = c.s.gpr[RAX] & sign_bit(d.osize);
  c.set_reg(RDX, d.osize, negative ? ~0ull : 0, true);
}

void exec_sahf(EmuCpu& c, const DecodedInsn&) {  // 9E
  uint64_t ah = (c.s.gpr[RAX] >> 8) & 0xff;
  c.s.flags.set_arith(rf::CF | rf::PF | rf::AF | rf::ZF | rf::SF, ah);
}

void exec_lahf(EmuCpu& c, const DecodedInsn&) {  // 9F
  uint64_t f = (c.s.flags.rflags() & 0xd5) | 0x02;
  c.s.gpr[RAX] = (c.s.gpr[RAX] & ~0xff00ull) | (f << 8);
}

void exec_flag_op(EmuCpu& c, const DecodedInsn& d) {  // F5 F8 F9 FC FD
  switch (d.opcode()) {
    case 0xf5: c.s.flags.set_arith(rf::CF, c.s.flags.cf() ? 0 : rf::CF); break;
    case 0xf8: c.s.flags.set_arith(rf::CF, 0); break;
    case 0xf9: c.s.flags.set_arith(rf::CF, rf::CF); break;
    case 0xfc: c.s.flags.bits &= ~rf::DF; break;
    default: c.s.flags.bits |= rf::DF; break;
  }
}

void exec_xlat(EmuCpu& c, const DecodedInsn& d) {  // D7
  uint64_t off = (c.s.gpr[RBX] + (c.s.gpr[RAX] & 0xff)) & size_mask(d.asize);
  c.set_reg(RAX, 1, c.read(c.linear(d.seg, off), 1), true);
}

void exec_nop(EmuCpu&, const DecodedInsn&) {}

void exec_movnti(EmuCpu& c, const DecodedInsn& d) {  // 0F C3
  if (!d.mem()) c.fault(kUD);
  c.write_rm(d, d.osize, c.reg(d, d.reg, d.osize));
}

}  // namespace

void register_move(HandlerTable& t) {
  set_handler(t, kMapOne, 0x88, exec_mov_rm_r);
  set_handler(t, kMapOne, 0x89, exec_mov_rm_r);
  set_handler(t, kMapOne, 0x8a, exec_mov_r_rm);
  set_handler(t, kMapOne, 0x8b, exec_mov_r_rm);
  set_handler(t, kMapOne, 0x8c, exec_mov_rm_sreg);
  set_handler(t, kMapOne, 0x8e, exec_mov_sreg_rm);
  set_handler(t, kMapOne, 0x8d, exec_lea);
  for (unsigned op = 0xa0; op <= 0xa3; ++op) set_handler(t, kMapOne, op, exec_mov_moffs);
  for (unsigned op = 0xb0; op <= 0xb7; ++op) set_handler(t, kMapOne, op, exec_mov_r8_imm);
  for (unsigned op = 0xb8; op <= 0xbf; ++op) set_handler(t, kMapOne, op, exec_mov_r_imm);
  set_handler(t, kMapOne, 0xc6, exec_mov_rm_imm);
  set_handler(t, kMapOne, 0xc7, exec_mov_rm_imm);
  set_handler(t, kMap0F, 0xb6, exec_movzx);
  set_handler(t, kMap0F, 0xb7, exec_movzx);
  set_handler(t, kMap0F, 0xbe, exec_movsx);
  set_handler(t, kMap0F, 0xbf, exec_movsx);
  set_handler(t, kMapOne, 0x63, exec_movsxd);
  set_handler(t, kMapOne, 0x98, exec_cbw);
  set_handler(t, kMapOne, 0x99, exec_cwd);
  set_handler(t, kMapOne, 0x9e, exec_sahf);
  set_handler(t, kMapOne, 0x9f, exec_lahf);
  for (unsigned op : {0xf5u, 0xf8u, 0xf9u, 0xfcu, 0xfdu}) set_handler(t, kMapOne, op, exec_flag_op);
  set_handler(t, kMapOne, 0xd7, exec_xlat);
  set_handler(t, kMapOne, 0x9b, exec_nop);  // FWAIT: no pending x87 exceptions here
  for (unsigned op = 0x18; op <= 0x1f; ++op) set_handler(t, kMap0F, op, exec_nop);  // hint NOPs, PREFETCHh
  set_handler(t, kMap0F, 0x0d, exec_nop);  // PREFETCHW
  set_handler(t, kMap0F, 0xc3, exec_movnti);
}

}  // namespace vireo::emu
