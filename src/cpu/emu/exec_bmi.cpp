// BMI1's VEX-encoded instructions (SDM Vol. 2 "ANDN", "BEXTR", "BLSI", "BLSMSK",
// "BLSR"): general-register operations in map VEX.0F38, 32-bit with VEX.W0 and
// 64-bit with VEX.W1 in 64-bit mode (the decoder sets d.osize). TZCNT, the legacy-
// encoded member of BMI1, is in exec_bit.cpp.
//
// They dispatch through their own handler slots: the decoder gives VEX instructions
// the maps kMapVex0F.. (decoder.h), so legacy 0F 38 F2/F3/F7 never reach them, and
// every VEX slot not registered here raises #UD (exec_registry.cpp).
//
// Undefined flags: where the SDM leaves AF, PF (and for BEXTR SF) undefined, vireo
// gives what the (AMD) CPU of the differential tests gives: ANDN, BLSI, BLSMSK and BLSR set PF
// from the result and clear AF; BEXTR sets PF from the result, clears SF and sets AF.
#include "cpu/emu/exec_common.h"

namespace vireo::emu {
namespace {

// The exception conditions of VEX-encoded general-register instructions (SDM Vol. 2
// 2.5.1, Table 2-29, "Type 13"): #UD in real-address and virtual-8086 mode and with
// VEX.L = 1. (A LOCK, 66, F2, F3 or REX prefix before VEX is #UD at decode.) BMI1's
// instructions all have VEX.pp = 0 (NP); the other pp values of these opcodes are
// BMI2 (PDEP, PEXT, SARX, SHLX, SHRX), which CPUID does not offer.
void check_bmi1_form(EmuCpu& c, const DecodedInsn& d) {
  if (c.real_mode() || (c.s.flags.bits & rf::VM)) c.fault(kUD);
  if (d.vex_l || d.sse_prefix() != 0) c.fault(kUD);
}

// VEX.LZ.0F38.W0/W1 F2 /r: ANDN r, vvvv, r/m — DEST = NOT SRC1 AND SRC2. SF ZF from
// the result, CF OF cleared (a logic operation's flags).
void exec_andn(EmuCpu& c, const DecodedInsn& d) {
  check_bmi1_form(c, d);
  const unsigned size = d.osize;
  const uint64_t src2 = c.read_rm(d, size);
  const uint64_t res = ~c.reg(d, d.vvvv, size) & src2 & size_mask(size);
  c.set_reg(d, d.reg, size, res);
  c.s.flags.set_lazy_result(FlagOp::Logic, size, res);
}

// VEX.LZ.0F38.W0/W1 F7 /r: BEXTR r, r/m, vvvv — the LEN = SRC2[15:8] bits of SRC1 from
// bit START = SRC2[7:0], SRC1 taken as zero-extended to 512 bits (so a START at or
// beyond the operand width gives 0, and bits past the top are 0). ZF from the
// result; CF and OF cleared.
void exec_bextr(EmuCpu& c, const DecodedInsn& d) {
  check_bmi1_form(c, d);
  const unsigned size = d.osize;
  const unsigned bits = size * 8;
  const uint64_t src1 = c.read_rm(d, size);
  const uint64_t control = c.reg(d, d.vvvv, size);
  const unsigned start = control & 0xff;
  const unsigned len = (control >> 8) & 0xff;
  uint64_t res = start < bits ? src1 >> start : 0;
  if (len < 64) res &= (1ull << len) - 1;
  c.set_reg(d, d.reg, size, res);
  c.s.flags.set_arith(rf::kArith, rf::AF | (res == 0 ? rf::ZF : 0) | (parity_even(res) ? rf::PF : 0));
}

// VEX.LZ.0F38.W0/W1 F3 /1 /2 /3: BLSR, BLSMSK, BLSI vvvv, r/m (the destination is
// VEX.vvvv). SF from the result, OF cleared. BLSR: (SRC - 1) AND SRC, ZF from the
// result, CF = (SRC == 0). BLSMSK: (SRC - 1) XOR SRC, ZF cleared (the result is
// never 0), CF = (SRC == 0). BLSI: (-SRC) AND SRC, ZF from the result, CF =
// (SRC != 0). /0 and /4../7 are #UD.
void exec_bmi1_group17(EmuCpu& c, const DecodedInsn& d) {
  check_bmi1_form(c, d);
  const unsigned op = (d.modrm >> 3) & 7;
  if (op < 1 || op > 3) c.fault(kUD);
  const unsigned size = d.osize;
  const uint64_t src = c.read_rm(d, size);
  uint64_t res;
  bool cf;
  switch (op) {
    case 1: res = (src - 1) & src; cf = src == 0; break;
    case 2: res = (src - 1) ^ src; cf = src == 0; break;
    default: res = (0 - src) & src; cf = src != 0; break;
  }
  res &= size_mask(size);
  c.set_reg(d, d.vvvv, size, res);
  set_status_flags(c, cf, false, res, size);
}

}  // namespace

void register_bmi(HandlerTable& t) {
  set_handler(t, kMapVex0F38, 0xf2, exec_andn);
  set_handler(t, kMapVex0F38, 0xf3, exec_bmi1_group17);
  set_handler(t, kMapVex0F38, 0xf7, exec_bextr);
}

}  // namespace vireo::emu
