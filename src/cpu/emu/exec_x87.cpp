// The x87 subset the emulated CPU implements: what kernels use to detect and
// initialise the FPU (FNINIT, FNSTSW, FNSTCW, FLDCW, FNCLEX). The register stack and
// arithmetic are not modelled; any other x87 instruction is reported as
// unimplemented.
#include "cpu/emu/exec_common.h"

namespace vireo::emu {
namespace {

void check_fpu(EmuCpu& c) {
  if (c.s.cr0 & (x86::CR0_EM | x86::CR0_TS)) c.fault(kNM);
}

void exec_d9(EmuCpu& c, const DecodedInsn& d) {
  check_fpu(c);
  unsigned r = (d.modrm >> 3) & 7;
  if (d.mem() && r == 7) {  // FNSTCW m16
    c.write(c.operand_address(d), 2, c.s.fcw);
    return;
  }
  if (d.mem() && r == 5) {  // FLDCW m16
    c.s.fcw = uint16_t(c.read(c.operand_address(d), 2));
    return;
  }
  c.unimplemented(d, "x87 instruction not implemented");
}

void exec_db(EmuCpu& c, const DecodedInsn& d) {
  check_fpu(c);
  if (d.modrm == 0xe3) {  // FNINIT
    c.s.fcw = 0x37f;
    c.s.fsw = 0;
    c.s.ftw = 0;
    return;
  }
  if (d.modrm == 0xe2) {  // FNCLEX
    c.s.fsw &= 0x7f00;
    return;
  }
  c.unimplemented(d, "x87 instruction not implemented");
}

void exec_dd(EmuCpu& c, const DecodedInsn& d) {
  check_fpu(c);
  if (d.mem() && ((d.modrm >> 3) & 7) == 7) {  // FNSTSW m16
    c.write(c.operand_address(d), 2, c.s.fsw);
    return;
  }
  c.unimplemented(d, "x87 instruction not implemented");
}

void exec_df(EmuCpu& c, const DecodedInsn& d) {
  check_fpu(c);
  if (d.modrm == 0xe0) {  // FNSTSW AX
    c.set_reg(RAX, 2, c.s.fsw, true);
    return;
  }
  c.unimplemented(d, "x87 instruction not implemented");
}

void exec_x87_other(EmuCpu& c, const DecodedInsn& d) {
  check_fpu(c);
  c.unimplemented(d, "x87 instruction not implemented");
}

}  // namespace

void register_x87(HandlerTable& t) {
  for (unsigned op = 0xd8; op <= 0xdf; ++op) set_handler(t, kMapOne, op, exec_x87_other);
  set_handler(t, kMapOne, 0xd9, exec_d9);
  set_handler(t, kMapOne, 0xdb, exec_db);
  set_handler(t, kMapOne, 0xdd, exec_dd);
  set_handler(t, kMapOne, 0xdf, exec_df);
}

}  // namespace vireo::emu
