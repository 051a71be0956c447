// SSE/SSE2: the moves, logic and packed-integer instructions compiled user space
// uses (string and memory functions, vectorised loops), MOVMSK, shuffles, unpacks,
// packs and shifts; scalar double/single arithmetic and conversions for the common
// cases. MMX forms (no 66 prefix on the integer opcodes) are not implemented.
#include <cmath>
#include <limits>

#include "cpu/emu/exec_common.h"

namespace vireo::emu {
namespace {

struct V128 {
  uint8_t b[16] = {};
  template <typename T>
  T get(unsigned i) const {
    T v;
    std::memcpy(&v, b + i * sizeof(T), sizeof(T));
    return v;
  }
  template <typename T>
  void set(unsigned i, T v) {
    std::memcpy(b + i * sizeof(T), &v, sizeof(T));
  }
};

V128 xmm(EmuCpu& c, unsigned r) {
  V128 v;
  std::memcpy(v.b, &c.s.xmm[r].lo, 8);
  std::memcpy(v.b + 8, &c.s.xmm[r].hi, 8);
  return v;
}
void set_xmm(EmuCpu& c, unsigned r, const V128& v) {
  std::memcpy(&c.s.xmm[r].lo, v.b, 8);
  std::memcpy(&c.s.xmm[r].hi, v.b + 8, 8);
}

void check_sse(EmuCpu& c) {
  if ((c.s.cr0 & x86::CR0_EM) || !(c.s.cr4 & x86::CR4_OSFXSR)) c.fault(kUD);
  if (c.s.cr0 & x86::CR0_TS) c.fault(kNM);
}

// xmm/m128 source. Legacy-SSE memory operands must be 16-byte aligned unless the
// instruction is one of the unaligned moves (SDM Vol. 1 10.4.1.1).
V128 src128(EmuCpu& c, const DecodedInsn& d, bool aligned = true) {
  if (d.mod == 3) return xmm(c, d.rm);
  uint64_t la = c.operand_address(d);
  if (aligned && (la & 15)) c.fault(kGP, 0);
  V128 v;
  c.read_bytes(la, v.b, 16);
  return v;
}
void dst128(EmuCpu& c, const DecodedInsn& d, const V128& v, bool aligned = true) {
  if (d.mod == 3) {
    set_xmm(c, d.rm, v);
    return;
  }
  uint64_t la = c.operand_address(d);
  if (aligned && (la & 15)) c.fault(kGP, 0);
  c.write_bytes(la, v.b, 16);
}
uint64_t src64(EmuCpu& c, const DecodedInsn& d) { return d.mod == 3 ? c.s.xmm[d.rm].lo : c.read(c.operand_address(d), 8); }
uint32_t src32(EmuCpu& c, const DecodedInsn& d) {
  return d.mod == 3 ? uint32_t(c.s.xmm[d.rm].lo) : uint32_t(c.read(c.operand_address(d), 4));
}

[[noreturn]] void mmx(EmuCpu& c, const DecodedInsn& d) { c.unimplemented(d, "MMX instruction not implemented"); }

// 0F 10/11: MOVUPS MOVUPD MOVSS MOVSD.
void exec_movups(EmuCpu& c, const DecodedInsn& d) {
  check_sse(c);
  bool store = d.opcode() == 0x11;
  unsigned p = d.sse_prefix();
  if (p <= 1) {
    if (store) dst128(c, d, xmm(c, d.reg), false);
    else set_xmm(c, d.reg, src128(c, d, false));
    return;
  }
  unsigned size = p == 2 ? 4 : 8;  // F3 MOVSS, F2 MOVSD
  uint64_t m = size_mask(size);
  if (store) {
    if (d.mod == 3) {
      c.s.xmm[d.rm].lo = (c.s.xmm[d.rm].lo & ~m) | (c.s.xmm[d.reg].lo & m);
    } else {
      c.write(c.operand_address(d), size, c.s.xmm[d.reg].lo & m);
    }
  } else if (d.mod == 3) {
    c.s.xmm[d.reg].lo = (c.s.xmm[d.reg].lo & ~m) | (c.s.xmm[d.rm].lo & m);
  } else {
    c.s.xmm[d.reg].lo = c.read(c.operand_address(d), size);  // a load zeroes the rest
    c.s.xmm[d.reg].hi = 0;
  }
}

// 0F 12/13 MOVLPS/MOVLPD/MOVHLPS, 0F 16/17 MOVHPS/MOVHPD/MOVLHPS.
void exec_movlh(EmuCpu& c, const DecodedInsn& d) {
  check_sse(c);
  unsigned p = d.sse_prefix();
  if (p >= 2) c.unimplemented(d, "SSE3 instruction not implemented");
  bool high = d.opcode() >= 0x16;
  bool store = d.opcode() & 1;
  Xmm& r = c.s.xmm[d.reg];
  if (store) {
    if (d.mod == 3) c.fault(kUD);
    c.write(c.operand_address(d), 8, high ? r.hi : r.lo);
    return;
  }
  if (d.mod == 3) {
    if (p == 1) c.fault(kUD);
    if (high) r.hi = c.s.xmm[d.rm].lo;  // MOVLHPS
    else r.lo = c.s.xmm[d.rm].hi;       // MOVHLPS
    return;
  }
  uint64_t v = c.read(c.operand_address(d), 8);
  (high ? r.hi : r.lo) = v;
}

// 0F 28/29 MOVAPS/MOVAPD, 0F 2B MOVNTPS/PD, 66 0F 6F/7F MOVDQA, F3 0F 6F/7F MOVDQU,
// 66 0F E7 MOVNTDQ.
void exec_movaps(EmuCpu& c, const DecodedInsn& d) {
  check_sse(c);
  unsigned p = d.sse_prefix();
  uint8_t op = d.opcode();
  bool aligned = true;
  if (op == 0x6f || op == 0x7f || op == 0xe7) {
    if (p == 0) mmx(c, d);
    if (p == 3) c.fault(kUD);
    aligned = p == 1;
  } else if (p >= 2) {
    c.unimplemented(d, "SSE conversion instruction not implemented");
  }
  bool store = op == 0x29 || op == 0x2b || op == 0x7f || op == 0xe7;
  if ((op == 0x2b || op == 0xe7) && d.mod == 3) c.fault(kUD);
  if (store) dst128(c, d, xmm(c, d.reg), aligned);
  else set_xmm(c, d.reg, src128(c, d, aligned));
}

// 66 0F 6E MOVD/MOVQ xmm, r/m; 66 0F 7E MOVD/MOVQ r/m, xmm; F3 0F 7E MOVQ xmm, xmm/m64;
// 66 0F D6 MOVQ xmm/m64, xmm.
void exec_movd(EmuCpu& c, const DecodedInsn& d) {
  check_sse(c);
  unsigned p = d.sse_prefix();
  uint8_t op = d.opcode();
  if (op == 0x7e && p == 2) {
    c.s.xmm[d.reg].lo = src64(c, d);
    c.s.xmm[d.reg].hi = 0;
    return;
  }
  if (op == 0xd6) {
    if (p != 1) c.fault(kUD);
    if (d.mod == 3) {
      c.s.xmm[d.rm].lo = c.s.xmm[d.reg].lo;
      c.s.xmm[d.rm].hi = 0;
    } else {
      c.write(c.operand_address(d), 8, c.s.xmm[d.reg].lo);
    }
    return;
  }
  if (p == 0) mmx(c, d);
  if (p != 1) c.fault(kUD);
  unsigned size = d.rex_w() ? 8 : 4;
  if (op == 0x6e) {
    c.s.xmm[d.reg].lo = c.read_rm(d, size);
    c.s.xmm[d.reg].hi = 0;
  } else {
    c.write_rm(d, size, c.s.xmm[d.reg].lo & size_mask(size));
  }
}

// 0F 50 MOVMSKPS/PD, 66 0F D7 PMOVMSKB.
void exec_movmsk(EmuCpu& c, const DecodedInsn& d) {
  check_sse(c);
  if (d.mod != 3) c.fault(kUD);
  V128 v = xmm(c, d.rm);
  uint32_t mask = 0;
  unsigned p = d.sse_prefix();
  if (d.opcode() == 0xd7) {
    if (p == 0) mmx(c, d);
    for (unsigned i = 0; i < 16; ++i) mask |= uint32_t(v.b[i] >> 7) << i;
  } else if (p == 1) {
    for (unsigned i = 0; i < 2; ++i) mask |= uint32_t(v.get<uint64_t>(i) >> 63) << i;
  } else {
    for (unsigned i = 0; i < 4; ++i) mask |= (v.get<uint32_t>(i) >> 31) << i;
  }
  c.set_reg(d.reg, 4, mask, true);
}

template <typename T, typename F>
V128 lanes(const V128& a, const V128& b, F f) {
  V128 r;
  for (unsigned i = 0; i < 16 / sizeof(T); ++i) r.set<T>(i, T(f(a.get<T>(i), b.get<T>(i))));
  return r;
}

template <typename T>
T sat(int64_t v) {
  if (v > int64_t(std::numeric_limits<T>::max())) return std::numeric_limits<T>::max();
  if (v < int64_t(std::numeric_limits<T>::min())) return std::numeric_limits<T>::min();
  return T(v);
}

V128 unpack(const V128& a, const V128& b, unsigned size, bool high) {
  V128 r;
  unsigned n = 8 / size;
  unsigned base = high ? 8 : 0;
  for (unsigned i = 0; i < n; ++i) {
    std::memcpy(r.b + 2 * i * size, a.b + base + i * size, size);
    std::memcpy(r.b + (2 * i + 1) * size, b.b + base + i * size, size);
  }
  return r;
}

// Packed shifts by a count (from xmm/m128 low quadword or an immediate).
V128 shift_lanes(const V128& a, unsigned size, unsigned kind, uint64_t count) {
  // kind: 0 = logical right, 1 = arithmetic right, 2 = left
  V128 r;
  unsigned bits = size * 8;
  for (unsigned i = 0; i < 16 / size; ++i) {
    uint64_t v = 0;
    std::memcpy(&v, a.b + i * size, size);
    uint64_t out;
    if (kind == 1) {
      int64_t sv = int64_t(sext(v, size));
      out = uint64_t(sv >> (count >= bits ? bits - 1 : count));
    } else if (count >= bits) {
      out = 0;
    } else {
      out = kind == 0 ? v >> count : v << count;
    }
    std::memcpy(r.b + i * size, &out, size);
  }
  return r;
}

// The packed-integer and logic ops with an xmm destination and an xmm/m128 source.
void exec_sse_int(EmuCpu& c, const DecodedInsn& d) {
  check_sse(c);
  uint8_t op = d.opcode();
  unsigned p = d.sse_prefix();
  bool ps_logic = op >= 0x54 && op <= 0x57;
  bool ps_unpack = op == 0x14 || op == 0x15;
  if (ps_logic || ps_unpack) {
    if (p >= 2) c.fault(kUD);
  } else if (p == 0) {
    mmx(c, d);
  } else if (p != 1) {
    c.fault(kUD);
  }
  V128 a = xmm(c, d.reg);
  V128 b = src128(c, d);
  V128 r;
  switch (op) {
    case 0x14: r = p == 1 ? unpack(a, b, 8, false) : unpack(a, b, 4, false); break;
    case 0x15: r = p == 1 ? unpack(a, b, 8, true) : unpack(a, b, 4, true); break;
    case 0x54: case 0xdb: r = lanes<uint64_t>(a, b, [](uint64_t x, uint64_t y) { return x & y; }); break;
    case 0x55: case 0xdf: r = lanes<uint64_t>(a, b, [](uint64_t x, uint64_t y) { return ~x & y; }); break;
    case 0x56: case 0xeb: r = lanes<uint64_t>(a, b, [](uint64_t x, uint64_t y) { return x | y; }); break;
    case 0x57: case 0xef: r = lanes<uint64_t>(a, b, [](uint64_t x, uint64_t y) { return x ^ y; }); break;
    case 0x60: r = unpack(a, b, 1, false); break;
    case 0x61: r = unpack(a, b, 2, false); break;
    case 0x62: r = unpack(a, b, 4, false); break;
    case 0x68: r = unpack(a, b, 1, true); break;
    case 0x69: r = unpack(a, b, 2, true); break;
    case 0x6a: r = unpack(a, b, 4, true); break;
    case 0x6c: r = unpack(a, b, 8, false); break;
    case 0x6d: r = unpack(a, b, 8, true); break;
    case 0x63:  // PACKSSWB
    case 0x67:  // PACKUSWB
      for (unsigned i = 0; i < 16; ++i) {
        int16_t v = i < 8 ? a.get<int16_t>(i) : b.get<int16_t>(i - 8);
        r.b[i] = op == 0x63 ? uint8_t(sat<int8_t>(v)) : sat<uint8_t>(v);
      }
      break;
    case 0x6b:  // PACKSSDW
      for (unsigned i = 0; i < 8; ++i) r.set<int16_t>(i, sat<int16_t>(i < 4 ? a.get<int32_t>(i) : b.get<int32_t>(i - 4)));
      break;
    case 0x64: r = lanes<int8_t>(a, b, [](int8_t x, int8_t y) { return x > y ? -1 : 0; }); break;
    case 0x65: r = lanes<int16_t>(a, b, [](int16_t x, int16_t y) { return x > y ? -1 : 0; }); break;
    case 0x66: r = lanes<int32_t>(a, b, [](int32_t x, int32_t y) { return x > y ? -1 : 0; }); break;
    case 0x74: r = lanes<uint8_t>(a, b, [](uint8_t x, uint8_t y) { return x == y ? 0xff : 0; }); break;
    case 0x75: r = lanes<uint16_t>(a, b, [](uint16_t x, uint16_t y) { return x == y ? 0xffff : 0; }); break;
    case 0x76: r = lanes<uint32_t>(a, b, [](uint32_t x, uint32_t y) { return x == y ? 0xffffffffu : 0; }); break;
    case 0xd1: r = shift_lanes(a, 2, 0, b.get<uint64_t>(0)); break;
    case 0xd2: r = shift_lanes(a, 4, 0, b.get<uint64_t>(0)); break;
    case 0xd3: r = shift_lanes(a, 8, 0, b.get<uint64_t>(0)); break;
    case 0xe1: r = shift_lanes(a, 2, 1, b.get<uint64_t>(0)); break;
    case 0xe2: r = shift_lanes(a, 4, 1, b.get<uint64_t>(0)); break;
    case 0xf1: r = shift_lanes(a, 2, 2, b.get<uint64_t>(0)); break;
    case 0xf2: r = shift_lanes(a, 4, 2, b.get<uint64_t>(0)); break;
    case 0xf3: r = shift_lanes(a, 8, 2, b.get<uint64_t>(0)); break;
    case 0xd4: r = lanes<uint64_t>(a, b, [](uint64_t x, uint64_t y) { return x + y; }); break;
    case 0xd5: r = lanes<int16_t>(a, b, [](int16_t x, int16_t y) { return int16_t(int32_t(x) * y); }); break;
    case 0xd8: r = lanes<uint8_t>(a, b, [](uint8_t x, uint8_t y) { return x > y ? x - y : 0; }); break;
    case 0xd9: r = lanes<uint16_t>(a, b, [](uint16_t x, uint16_t y) { return x > y ? x - y : 0; }); break;
    case 0xda: r = lanes<uint8_t>(a, b, [](uint8_t x, uint8_t y) { return x < y ? x : y; }); break;
    case 0xdc: r = lanes<uint8_t>(a, b, [](uint8_t x, uint8_t y) { return sat<uint8_t>(int64_t(x) + y); }); break;
    case 0xdd: r = lanes<uint16_t>(a, b, [](uint16_t x, uint16_t y) { return sat<uint16_t>(int64_t(x) + y); }); break;
    case 0xde: r = lanes<uint8_t>(a, b, [](uint8_t x, uint8_t y) { return x > y ? x : y; }); break;
    case 0xe0: r = lanes<uint8_t>(a, b, [](uint8_t x, uint8_t y) { return (unsigned(x) + y + 1) >> 1; }); break;
    case 0xe3: r = lanes<uint16_t>(a, b, [](uint16_t x, uint16_t y) { return (unsigned(x) + y + 1) >> 1; }); break;
    case 0xe4: r = lanes<uint16_t>(a, b, [](uint16_t x, uint16_t y) { return (uint32_t(x) * y) >> 16; }); break;
    case 0xe5: r = lanes<int16_t>(a, b, [](int16_t x, int16_t y) { return int16_t((int32_t(x) * y) >> 16); }); break;
    case 0xe8: r = lanes<int8_t>(a, b, [](int8_t x, int8_t y) { return sat<int8_t>(int64_t(x) - y); }); break;
    case 0xe9: r = lanes<int16_t>(a, b, [](int16_t x, int16_t y) { return sat<int16_t>(int64_t(x) - y); }); break;
    case 0xea: r = lanes<int16_t>(a, b, [](int16_t x, int16_t y) { return x < y ? x : y; }); break;
    case 0xec: r = lanes<int8_t>(a, b, [](int8_t x, int8_t y) { return sat<int8_t>(int64_t(x) + y); }); break;
    case 0xed: r = lanes<int16_t>(a, b, [](int16_t x, int16_t y) { return sat<int16_t>(int64_t(x) + y); }); break;
    case 0xee: r = lanes<int16_t>(a, b, [](int16_t x, int16_t y) { return x > y ? x : y; }); break;
    case 0xf4:  // PMULUDQ
      for (unsigned i = 0; i < 2; ++i) r.set<uint64_t>(i, uint64_t(a.get<uint32_t>(2 * i)) * b.get<uint32_t>(2 * i));
      break;
    case 0xf5:  // PMADDWD
      for (unsigned i = 0; i < 4; ++i)
        r.set<int32_t>(i, int32_t(uint32_t(int32_t(a.get<int16_t>(2 * i)) * b.get<int16_t>(2 * i) +
                                           int32_t(a.get<int16_t>(2 * i + 1)) * b.get<int16_t>(2 * i + 1))));
      break;
    case 0xf6:  // PSADBW
      for (unsigned h = 0; h < 2; ++h) {
        unsigned sum = 0;
        for (unsigned i = 0; i < 8; ++i) {
          int diff = int(a.b[8 * h + i]) - int(b.b[8 * h + i]);
          sum += unsigned(diff < 0 ? -diff : diff);
        }
        r.set<uint64_t>(h, sum);
      }
      break;
    case 0xf8: r = lanes<uint8_t>(a, b, [](uint8_t x, uint8_t y) { return x - y; }); break;
    case 0xf9: r = lanes<uint16_t>(a, b, [](uint16_t x, uint16_t y) { return x - y; }); break;
    case 0xfa: r = lanes<uint32_t>(a, b, [](uint32_t x, uint32_t y) { return x - y; }); break;
    case 0xfb: r = lanes<uint64_t>(a, b, [](uint64_t x, uint64_t y) { return x - y; }); break;
    case 0xfc: r = lanes<uint8_t>(a, b, [](uint8_t x, uint8_t y) { return x + y; }); break;
    case 0xfd: r = lanes<uint16_t>(a, b, [](uint16_t x, uint16_t y) { return x + y; }); break;
    case 0xfe: r = lanes<uint32_t>(a, b, [](uint32_t x, uint32_t y) { return x + y; }); break;
    default: c.unimplemented(d, "SSE instruction not implemented");
  }
  set_xmm(c, d.reg, r);
}

// 66 0F 71/72/73: shifts by an immediate (groups 12-14), incl. PSRLDQ/PSLLDQ.
void exec_sse_shift_imm(EmuCpu& c, const DecodedInsn& d) {
  check_sse(c);
  if (d.sse_prefix() == 0) mmx(c, d);
  if (d.sse_prefix() != 1 || d.mod != 3) c.fault(kUD);
  unsigned r = (d.modrm >> 3) & 7;
  unsigned size = d.opcode() == 0x71 ? 2 : d.opcode() == 0x72 ? 4 : 8;
  uint64_t count = d.imm & 0xff;
  V128 a = xmm(c, d.rm), out;
  if (size == 8 && (r == 3 || r == 7)) {  // PSRLDQ / PSLLDQ: bytes
    unsigned n = count > 16 ? 16 : unsigned(count);
    for (unsigned i = 0; i < 16; ++i) {
      int src = r == 3 ? int(i + n) : int(i) - int(n);
      out.b[i] = (src >= 0 && src < 16) ? a.b[src] : 0;
    }
  } else if (r == 2) {
    out = shift_lanes(a, size, 0, count);
  } else if (r == 4 && size != 8) {
    out = shift_lanes(a, size, 1, count);
  } else if (r == 6) {
    out = shift_lanes(a, size, 2, count);
  } else {
    c.fault(kUD);
  }
  set_xmm(c, d.rm, out);
}

// 66 0F 70 PSHUFD, F2 0F 70 PSHUFLW, F3 0F 70 PSHUFHW.
void exec_pshuf(EmuCpu& c, const DecodedInsn& d) {
  check_sse(c);
  unsigned p = d.sse_prefix();
  if (p == 0) mmx(c, d);
  V128 a = src128(c, d), r = a;
  uint8_t imm = uint8_t(d.imm);
  if (p == 1) {
    for (unsigned i = 0; i < 4; ++i) r.set<uint32_t>(i, a.get<uint32_t>((imm >> (2 * i)) & 3));
  } else {
    unsigned base = p == 3 ? 0 : 4;  // F2: low words, F3: high words
    for (unsigned i = 0; i < 4; ++i) r.set<uint16_t>(base + i, a.get<uint16_t>(base + ((imm >> (2 * i)) & 3)));
  }
  set_xmm(c, d.reg, r);
}

// 0F C6 SHUFPS / 66 0F C6 SHUFPD.
void exec_shufps(EmuCpu& c, const DecodedInsn& d) {
  check_sse(c);
  unsigned p = d.sse_prefix();
  if (p >= 2) c.fault(kUD);
  V128 a = xmm(c, d.reg), b = src128(c, d), r;
  uint8_t imm = uint8_t(d.imm);
  if (p == 1) {
    r.set<uint64_t>(0, a.get<uint64_t>(imm & 1));
    r.set<uint64_t>(1, b.get<uint64_t>((imm >> 1) & 1));
  } else {
    r.set<uint32_t>(0, a.get<uint32_t>(imm & 3));
    r.set<uint32_t>(1, a.get<uint32_t>((imm >> 2) & 3));
    r.set<uint32_t>(2, b.get<uint32_t>((imm >> 4) & 3));
    r.set<uint32_t>(3, b.get<uint32_t>((imm >> 6) & 3));
  }
  set_xmm(c, d.reg, r);
}

// 66 0F C4 PINSRW, 66 0F C5 PEXTRW.
void exec_pinsrw_pextrw(EmuCpu& c, const DecodedInsn& d) {
  check_sse(c);
  if (d.sse_prefix() == 0) mmx(c, d);
  if (d.sse_prefix() != 1) c.fault(kUD);
  unsigned lane = d.imm & 7;
  if (d.opcode() == 0xc4) {
    V128 v = xmm(c, d.reg);
    v.set<uint16_t>(lane, uint16_t(c.read_rm(d, 2)));
    set_xmm(c, d.reg, v);
  } else {
    if (d.mod != 3) c.fault(kUD);
    c.set_reg(d.reg, 4, xmm(c, d.rm).get<uint16_t>(lane), true);
  }
}

// Scalar and packed floating point: the arithmetic (F2/F3/none/66 0F 51 58 59 5C 5D
// 5E 5F), compares into flags (0F 2E/2F), conversions (0F 2A 2C 2D 5A 5B E6).
// Host arithmetic in the default rounding mode; MXCSR exceptions are not raised.
template <typename T>
T fp_op(uint8_t op, T a, T b) {
  switch (op) {
    case 0x51: return std::sqrt(b);
    case 0x58: return a + b;
    case 0x59: return a * b;
    case 0x5c: return a - b;
    case 0x5d: return (a < b) ? a : b;  // MIN: the second operand unless a < b (SDM)
    case 0x5e: return a / b;
    default: return (a > b) ? a : b;    // 0x5f MAX
  }
}

void exec_fp_arith(EmuCpu& c, const DecodedInsn& d) {
  check_sse(c);
  unsigned p = d.sse_prefix();
  uint8_t op = d.opcode();
  if (p >= 2) {  // scalar: F3 single, F2 double
    if (p == 2) {
      float a, b;
      uint32_t ua = uint32_t(c.s.xmm[d.reg].lo), ub = src32(c, d);
      std::memcpy(&a, &ua, 4);
      std::memcpy(&b, &ub, 4);
      float r = fp_op(op, a, b);
      uint32_t ur;
      std::memcpy(&ur, &r, 4);
      c.s.xmm[d.reg].lo = (c.s.xmm[d.reg].lo & ~0xffffffffull) | ur;
    } else {
      double a, b;
      uint64_t ua = c.s.xmm[d.reg].lo, ub = src64(c, d);
      std::memcpy(&a, &ua, 8);
      std::memcpy(&b, &ub, 8);
      double r = fp_op(op, a, b);
      std::memcpy(&c.s.xmm[d.reg].lo, &r, 8);
    }
    return;
  }
  V128 a = xmm(c, d.reg), b = src128(c, d), r;
  if (p == 1) {
    for (unsigned i = 0; i < 2; ++i) r.set<double>(i, fp_op(op, a.get<double>(i), b.get<double>(i)));
  } else {
    for (unsigned i = 0; i < 4; ++i) r.set<float>(i, fp_op(op, a.get<float>(i), b.get<float>(i)));
  }
  set_xmm(c, d.reg, r);
}

// UCOMISS/UCOMISD/COMISS/COMISD: ZF PF CF from the comparison, OF SF AF cleared.
void exec_comis(EmuCpu& c, const DecodedInsn& d) {
  check_sse(c);
  unsigned p = d.sse_prefix();
  if (p >= 2) c.fault(kUD);
  double a, b;
  if (p == 1) {
    uint64_t ua = c.s.xmm[d.reg].lo, ub = src64(c, d);
    std::memcpy(&a, &ua, 8);
    std::memcpy(&b, &ub, 8);
  } else {
    float fa, fb;
    uint32_t ua = uint32_t(c.s.xmm[d.reg].lo), ub = src32(c, d);
    std::memcpy(&fa, &ua, 4);
    std::memcpy(&fb, &ub, 4);
    a = fa;
    b = fb;
  }
  uint64_t f;
  if (std::isnan(a) || std::isnan(b)) f = rf::ZF | rf::PF | rf::CF;
  else if (a > b) f = 0;
  else if (a < b) f = rf::CF;
  else f = rf::ZF;
  c.s.flags.set_arith(rf::kArith, f);
}

// Conversions between integers and scalar floats.
void exec_cvt(EmuCpu& c, const DecodedInsn& d) {
  check_sse(c);
  unsigned p = d.sse_prefix();
  uint8_t op = d.opcode();
  bool dbl = p == 3;
  if (op == 0x2a && p >= 2) {  // CVTSI2SS/SD xmm, r/m32/64
    unsigned size = d.rex_w() ? 8 : 4;
    int64_t v = int64_t(sext(c.read_rm(d, size), size));
    if (dbl) {
      double r = double(v);
      std::memcpy(&c.s.xmm[d.reg].lo, &r, 8);
    } else {
      float r = float(v);
      uint32_t ur;
      std::memcpy(&ur, &r, 4);
      c.s.xmm[d.reg].lo = (c.s.xmm[d.reg].lo & ~0xffffffffull) | ur;
    }
    return;
  }
  if ((op == 0x2c || op == 0x2d) && p >= 2) {  // CVT(T)SS/SD2SI r, xmm/m
    unsigned size = d.rex_w() ? 8 : 4;
    double v;
    if (dbl) {
      uint64_t u = src64(c, d);
      std::memcpy(&v, &u, 8);
    } else {
      uint32_t u = src32(c, d);
      float fv;
      std::memcpy(&fv, &u, 4);
      v = fv;
    }
    double rounded = op == 0x2c ? std::trunc(v) : std::nearbyint(v);
    double limit = size == 8 ? 9223372036854775808.0 : 2147483648.0;
    uint64_t indefinite = size == 8 ? 0x8000000000000000ull : 0x80000000ull;
    uint64_t out = (std::isnan(rounded) || rounded >= limit || rounded < -limit) ? indefinite
                                                                                  : uint64_t(int64_t(rounded));
    c.set_reg(d.reg, size, out & size_mask(size), true);
    return;
  }
  if (op == 0x5a && p >= 2) {  // CVTSS2SD / CVTSD2SS
    if (p == 2) {
      uint32_t u = src32(c, d);
      float fv;
      std::memcpy(&fv, &u, 4);
      double r = fv;
      std::memcpy(&c.s.xmm[d.reg].lo, &r, 8);
    } else {
      uint64_t u = src64(c, d);
      double dv;
      std::memcpy(&dv, &u, 8);
      float r = float(dv);
      uint32_t ur;
      std::memcpy(&ur, &r, 4);
      c.s.xmm[d.reg].lo = (c.s.xmm[d.reg].lo & ~0xffffffffull) | ur;
    }
    return;
  }
  c.unimplemented(d, "SSE conversion not implemented");
}

}  // namespace

void register_sse(HandlerTable& t) {
  set_handler(t, kMap0F, 0x10, exec_movups);
  set_handler(t, kMap0F, 0x11, exec_movups);
  for (unsigned op : {0x12u, 0x13u, 0x16u, 0x17u}) set_handler(t, kMap0F, op, exec_movlh);
  for (unsigned op : {0x28u, 0x29u, 0x2bu, 0x6fu, 0x7fu, 0xe7u}) set_handler(t, kMap0F, op, exec_movaps);
  for (unsigned op : {0x6eu, 0x7eu, 0xd6u}) set_handler(t, kMap0F, op, exec_movd);
  set_handler(t, kMap0F, 0x50, exec_movmsk);
  set_handler(t, kMap0F, 0xd7, exec_movmsk);
  for (unsigned op : {0x14u, 0x15u, 0x54u, 0x55u, 0x56u, 0x57u, 0x60u, 0x61u, 0x62u, 0x63u, 0x64u, 0x65u, 0x66u, 0x67u,
                      0x68u, 0x69u, 0x6au, 0x6bu, 0x6cu, 0x6du, 0x74u, 0x75u, 0x76u})
    set_handler(t, kMap0F, op, exec_sse_int);
  for (unsigned op = 0xd1; op <= 0xfe; ++op) {
    if (op == 0xd6 || op == 0xd7 || op == 0xe6 || op == 0xe7 || op == 0xf0 || op == 0xf7 || op == 0xd0 ||
        op == 0xf7)
      continue;
    set_handler(t, kMap0F, op, exec_sse_int);
  }
  set_handler(t, kMap0F, 0x71, exec_sse_shift_imm);
  set_handler(t, kMap0F, 0x72, exec_sse_shift_imm);
  set_handler(t, kMap0F, 0x73, exec_sse_shift_imm);
  set_handler(t, kMap0F, 0x70, exec_pshuf);
  set_handler(t, kMap0F, 0xc6, exec_shufps);
  set_handler(t, kMap0F, 0xc4, exec_pinsrw_pextrw);
  set_handler(t, kMap0F, 0xc5, exec_pinsrw_pextrw);
  for (unsigned op : {0x51u, 0x58u, 0x59u, 0x5cu, 0x5du, 0x5eu, 0x5fu}) set_handler(t, kMap0F, op, exec_fp_arith);
  set_handler(t, kMap0F, 0x2e, exec_comis);
  set_handler(t, kMap0F, 0x2f, exec_comis);
  for (unsigned op : {0x2au, 0x2cu, 0x2du, 0x5au}) set_handler(t, kMap0F, op, exec_cvt);
}

}  // namespace vireo::emu
