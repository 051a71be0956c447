// Bit instructions: BT BTS BTR BTC, BSF BSR, TZCNT LZCNT, POPCNT, BSWAP,
// SETcc, CMOVcc.
#include "cpu/emu/exec_common.h"

namespace vireo::emu {
namespace {

// BT family: op 0 = BT, 1 = BTS, 2 = BTR, 3 = BTC. For a memory operand with a
// register bit offset, the offset is signed and selects any bit relative to the
// operand's address (SDM Vol. 2 "BT").
void bit_test(EmuCpu& c, const DecodedInsn& d, unsigned op, uint64_t offset, bool offset_from_reg) {
  unsigned size = d.osize;
  unsigned bits = size * 8;
  unsigned bit;
  auto apply = [&](uint64_t v) -> uint64_t {
    uint64_t mask = 1ull << bit;
    switch (op) {
      case 1: return v | mask;
      case 2: return v & ~mask;
      case 3: return v ^ mask;
      default: return v;
    }
  };
  uint64_t old;
  if (d.mod == 3) {
    bit = offset & (bits - 1);
    old = c.reg(d, d.rm, size);
    if (op) c.set_reg(d, d.rm, size, apply(old));
  } else {
    uint64_t ea = c.effective_address(d);
    if (offset_from_reg) {
      int64_t soff = int64_t(sext(offset, size));
      ea += uint64_t((soff >> (size == 8 ? 6 : size == 4 ? 5 : 4)) * int64_t(size));
      ea &= size_mask(d.asize);
      bit = soff & (bits - 1);
    } else {
      bit = offset & (bits - 1);
    }
    uint64_t la = c.linear(d.seg, ea);
    if (op == 0) {
      old = c.read(la, size);
    } else {
      old = c.rmw_mem(la, size, d.has(kPrefixLock), apply);
    }
  }
  c.s.flags.set_arith(rf::CF, ((old >> bit) & 1) ? rf::CF : 0);
}

void exec_bt_reg(EmuCpu& c, const DecodedInsn& d) {
  unsigned op = d.opcode() == 0xa3 ? 0 : d.opcode() == 0xab ? 1 : d.opcode() == 0xb3 ? 2 : 3;
  bit_test(c, d, op, c.reg(d, d.reg, d.osize), true);
}

void exec_group8(EmuCpu& c, const DecodedInsn& d) {
  unsigned r = (d.modrm >> 3) & 7;
  if (r < 4) c.fault(kUD);
  bit_test(c, d, r - 4, d.imm & 0xff, false);
}

// 0F BC BSF, 0F BD BSR (SDM Vol. 2 "BSF", "BSR"): ZF = (source == 0). With a zero
// source the destination is left unchanged, a 32-bit one included (its bits 63:32
// are not cleared), as the CPUs vireo is checked against do. CF OF SF AF PF are
// undefined in the SDM; they are left unchanged.
void exec_bsf_bsr(EmuCpu& c, const DecodedInsn& d) {
  unsigned size = d.osize;
  uint64_t src = c.read_rm(d, size);
  if (src == 0) {
    c.s.flags.set_arith(rf::ZF, rf::ZF);
    return;
  }
  unsigned idx = d.opcode() == 0xbc ? __builtin_ctzll(src) : 63 - __builtin_clzll(src);
  c.set_reg(d, d.reg, size, idx);
  c.s.flags.set_arith(rf::ZF, 0);
}

// F3 0F BC TZCNT (BMI1), F3 0F BD LZCNT (ABM) (SDM Vol. 2 "TZCNT", "LZCNT"): the
// count of trailing / leading zero bits of the source, the operand width for a zero
// source. CF = (source == 0), ZF = (result == 0); OF SF AF PF are undefined: the
// host CPUs clear SF AF PF and keep OF, and so does vireo.
void exec_tzcnt_lzcnt(EmuCpu& c, const DecodedInsn& d) {
  unsigned size = d.osize;
  unsigned bits = size * 8;
  uint64_t src = c.read_rm(d, size);
  unsigned n;
  if (src == 0) {
    n = bits;
  } else if (d.opcode() == 0xbc) {
    n = __builtin_ctzll(src);
  } else {
    n = __builtin_clzll(src) - (64 - bits);
  }
  c.set_reg(d, d.reg, size, n);
  c.s.flags.set_arith(rf::CF | rf::ZF | rf::SF | rf::AF | rf::PF, (src == 0 ? rf::CF : 0) | (n == 0 ? rf::ZF : 0));
}

// 0F BC / 0F BD: the F3 form (when F3 is the last of the F2/F3 prefixes) is
// TZCNT / LZCNT, which vireo's CPUID offers (cpuid_policy.cpp); otherwise BSF / BSR.
void exec_bit_scan(EmuCpu& c, const DecodedInsn& d) {
  if (d.last_rep == 0xf3) {
    exec_tzcnt_lzcnt(c, d);
  } else {
    exec_bsf_bsr(c, d);
  }
}

// F3 0F B8: POPCNT. ZF = (source == 0); CF OF SF AF PF cleared.
void exec_popcnt(EmuCpu& c, const DecodedInsn& d) {
  if (d.last_rep != 0xf3) c.fault(kUD);
  uint64_t src = c.read_rm(d, d.osize);
  c.set_reg(d, d.reg, d.osize, __builtin_popcountll(src));
  c.s.flags.set_arith(rf::kArith, src == 0 ? rf::ZF : 0);
}

void exec_bswap(EmuCpu& c, const DecodedInsn& d) {
  unsigned r = (d.opcode() & 7) | ((d.rex & 1) << 3);
  if (d.osize == 8) {
    c.s.gpr[r] = __builtin_bswap64(c.s.gpr[r]);
  } else if (d.osize == 4) {
    c.set_reg(r, 4, __builtin_bswap32(uint32_t(c.s.gpr[r])), true);
  } else {
    c.set_reg(r, 2, 0, true);  // undefined in the SDM; hardware gives zero
  }
}

void exec_setcc(EmuCpu& c, const DecodedInsn& d) { c.write_rm(d, 1, c.s.flags.condition(d.opcode() & 15)); }

void exec_cmovcc(EmuCpu& c, const DecodedInsn& d) {
  uint64_t src = c.read_rm(d, d.osize);  // read (and fault) whatever the condition
  if (c.s.flags.condition(d.opcode() & 15)) {
    c.set_reg(d, d.reg, d.osize, src);
  } else if (d.osize == 4) {
    c.set_reg(d, d.reg, 4, c.reg(d, d.reg, 4));  // 32-bit CMOV zero-extends even when false
  }
}

}  // namespace

void register_bit(HandlerTable& t) {
  for (unsigned op : {0xa3u, 0xabu, 0xb3u, 0xbbu}) set_handler(t, kMap0F, op, exec_bt_reg);
  set_handler(t, kMap0F, 0xba, exec_group8);
  set_handler(t, kMap0F, 0xbc, exec_bit_scan);
  set_handler(t, kMap0F, 0xbd, exec_bit_scan);
  set_handler(t, kMap0F, 0xb8, exec_popcnt);
  for (unsigned op = 0xc8; op <= 0xcf; ++op) set_handler(t, kMap0F, op, exec_bswap);
  for (unsigned op = 0x90; op <= 0x9f; ++op) set_handler(t, kMap0F, op, exec_setcc);
  for (unsigned op = 0x40; op <= 0x4f; ++op) set_handler(t, kMap0F, op, exec_cmovcc);
}

}  // namespace vireo::emu
