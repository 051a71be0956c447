// MUL IMUL DIV IDIV (SDM Vol. 2). MUL/IMUL set CF = OF = "the high half is
// significant"; SF ZF PF (undefined in the SDM) follow the low half of the result, AF
// is cleared. DIV/IDIV raise #DE on a zero divisor or a quotient that does not fit,
// and leave the flags alone.
#include "cpu/emu/exec_common.h"

namespace vireo::emu {
namespace {

using u128 = unsigned __int128;
using s128 = __int128;

void mul_flags(EmuCpu& c, bool overflow, uint64_t low, unsigned size) { set_status_flags(c, overflow, overflow, low, size); }

void exec_mul(EmuCpu& c, const DecodedInsn& d, unsigned size) {
  uint64_t src = c.read_rm(d, size);
  uint64_t m = size_mask(size);
  uint64_t a = c.reg(d, RAX, size);
  u128 p = u128(a) * src;
  uint64_t lo = uint64_t(p) & m;
  uint64_t hi = size == 8 ? uint64_t(p >> 64) : uint64_t(p >> (size * 8)) & m;
  if (size == 1) {
    c.set_reg(RAX, 2, uint64_t(p) & 0xffff, true);
  } else {
    c.set_reg(RAX, size, lo, true);
    c.set_reg(RDX, size, hi, true);
  }
  mul_flags(c, hi != 0, lo, size);
}

void exec_imul1(EmuCpu& c, const DecodedInsn& d, unsigned size) {
  s128 src = int64_t(sext(c.read_rm(d, size), size));
  s128 a = int64_t(sext(c.reg(d, RAX, size), size));
  s128 p = a * src;
  uint64_t m = size_mask(size);
  uint64_t lo = uint64_t(p) & m;
  bool overflow = s128(int64_t(sext(lo, size))) != p;
  uint64_t hi = size == 8 ? uint64_t(u128(p) >> 64) : uint64_t(u128(p) >> (size * 8)) & m;
  if (size == 1) {
    c.set_reg(RAX, 2, uint64_t(p) & 0xffff, true);
  } else {
    c.set_reg(RAX, size, lo, true);
    c.set_reg(RDX, size, hi, true);
  }
  mul_flags(c, overflow, lo, size);
}

void exec_div(EmuCpu& c, const DecodedInsn& d, unsigned size) {
  uint64_t divisor = c.read_rm(d, size);
  if (divisor == 0) c.fault(kDE);
  uint64_t m = size_mask(size);
  u128 dividend = size == 1 ? u128(c.s.gpr[RAX] & 0xffff)
                            : (u128(c.reg(d, RDX, size)) << (size * 8)) | c.reg(d, RAX, size);
  u128 q = dividend / divisor;
  u128 r = dividend % divisor;
  if (q > m) c.fault(kDE);
  if (size == 1) {
    c.set_reg(RAX, 2, uint64_t(q) | (uint64_t(r) << 8), true);
  } else {
    c.set_reg(RAX, size, uint64_t(q), true);
    c.set_reg(RDX, size, uint64_t(r), true);
  }
}

void exec_idiv(EmuCpu& c, const DecodedInsn& d, unsigned size) {
  int64_t divisor = int64_t(sext(c.read_rm(d, size), size));
  if (divisor == 0) c.fault(kDE);
  s128 dividend;
  if (size == 1) {
    dividend = int16_t(c.s.gpr[RAX] & 0xffff);
  } else if (size == 8) {
    dividend = s128((u128(c.s.gpr[RDX]) << 64) | c.s.gpr[RAX]);
  } else {
    uint64_t both = (c.reg(d, RDX, size) << (size * 8)) | c.reg(d, RAX, size);
    dividend = int64_t(sext(both, size * 2));
  }
  // Quotient range for the operand size; the one overflow of 128-bit division
  // (-2^127 / -1) is out of that range too.
  s128 max = (s128(1) << (size * 8 - 1)) - 1;
  s128 min = -max - 1;
  const s128 kInt128Min = s128(u128(1) << 127);
  if (divisor == -1 && dividend == kInt128Min) c.fault(kDE);
  s128 q = divisor == -1 ? -dividend : dividend / divisor;
  s128 r = divisor == -1 ? 0 : dividend % divisor;
  if (q > max || q < min) c.fault(kDE);
  uint64_t m = size_mask(size);
  if (size == 1) {
    c.set_reg(RAX, 2, (uint64_t(q) & 0xff) | ((uint64_t(r) & 0xff) << 8), true);
  } else {
    c.set_reg(RAX, size, uint64_t(q) & m, true);
    c.set_reg(RDX, size, uint64_t(r) & m, true);
  }
}

// 0F AF IMUL Gv, Ev; 69 IMUL Gv, Ev, Iz; 6B IMUL Gv, Ev, Ib.
void exec_imul_n(EmuCpu& c, const DecodedInsn& d) {
  unsigned size = d.osize;
  s128 a = int64_t(sext(c.read_rm(d, size), size));
  s128 b = d.map() == kMap0F ? s128(int64_t(sext(c.reg(d, d.reg, size), size))) : s128(int64_t(sext(d.imm, d.imm_size)));
  s128 p = a * b;
  uint64_t lo = uint64_t(p) & size_mask(size);
  bool overflow = s128(int64_t(sext(lo, size))) != p;
  c.set_reg(d, d.reg, size, lo);
  mul_flags(c, overflow, lo, size);
}

}  // namespace

void exec_mul_div_group3(EmuCpu& c, const DecodedInsn& d, unsigned size) {
  switch ((d.modrm >> 3) & 7) {
    case 4: exec_mul(c, d, size); break;
    case 5: exec_imul1(c, d, size); break;
    case 6: exec_div(c, d, size); break;
    default: exec_idiv(c, d, size); break;
  }
}

void register_muldiv(HandlerTable& t) {
  set_handler(t, kMap0F, 0xaf, exec_imul_n);
  set_handler(t, kMapOne, 0x69, exec_imul_n);
  set_handler(t, kMapOne, 0x6b, exec_imul_n);
}

}  // namespace vireo::emu
