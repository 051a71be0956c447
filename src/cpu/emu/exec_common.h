// Helpers shared by the instruction families (exec_*.cpp) and each family's
// registration function. Handlers are free functions: void(EmuCpu&, const DecodedInsn&).
#pragma once

#include "cpu/emu/emu_cpu.h"

namespace vireo::emu {

// Sign-extends the low `bytes` bytes of v.
inline uint64_t sext(uint64_t v, unsigned bytes) {
  unsigned shift = 64 - bytes * 8;
  return bytes >= 8 ? v : uint64_t(int64_t(v << shift) >> shift);
}

// The size of a b/v operand pair: opcode bit 0 clear means a byte operand.
inline unsigned byte_or_v(const DecodedInsn& d) { return (d.opcode() & 1) ? d.osize : 1; }

// The immediate of d sign-extended to `size` bytes (Ib/Iz forms).
inline uint64_t imm_sx(const DecodedInsn& d, unsigned size) {
  return sext(d.imm, d.imm_size) & size_mask(size);
}

// Sets the six status flags from an explicit value (shifts, multiplies, bit ops).
inline void set_status_flags(EmuCpu& c, bool cf, bool of, uint64_t res, unsigned size, bool af = false) {
  res &= size_mask(size);
  if (!af) {  // kept lazily: SF ZF PF are computed from res only if read
    c.s.flags.set_lazy_result(FlagOp::Result, size, res, (cf ? 1u : 0u) | (of ? 2u : 0u));
    return;
  }
  uint64_t f = rf::AF;
  if (cf) f |= rf::CF;
  if (of) f |= rf::OF;
  if (res == 0) f |= rf::ZF;
  if (res & sign_bit(size)) f |= rf::SF;
  if (parity_even(res)) f |= rf::PF;
  c.s.flags.set_arith(rf::kArith, f);
}

void register_alu(HandlerTable& t);
void register_shift(HandlerTable& t);
void register_muldiv(HandlerTable& t);
void register_bit(HandlerTable& t);
void register_string(HandlerTable& t);
void register_control(HandlerTable& t);
void register_stack(HandlerTable& t);
void register_move(HandlerTable& t);
void register_system(HandlerTable& t);
void register_sse(HandlerTable& t);
void register_x87(HandlerTable& t);
void register_bmi(HandlerTable& t);

// Group 3 (F6/F7) /4../7 live in exec_muldiv.cpp.
void exec_mul_div_group3(EmuCpu& c, const DecodedInsn& d, unsigned size);
// FF /2../6 (near/far call and jump, push) live in exec_control.cpp / exec_stack.cpp.
void exec_group5_control(EmuCpu& c, const DecodedInsn& d);
void exec_push_rm(EmuCpu& c, const DecodedInsn& d);

inline void set_handler(HandlerTable& t, unsigned map, unsigned op, Handler h) { t[map * 256 + op] = h; }

}  // namespace vireo::emu
