// A small x86-64 encoder for the translation tier (jit.cpp): the instruction forms the
// translator emits, over host register numbers (0 = RAX .. 15 = R15), into a bounded
// buffer (an overflow is remembered, not written). Encodings per the SDM Vol. 2
// chapter 2 (REX, ModRM, SIB) and each instruction's opcode table.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

namespace vireo::emu::x86enc {

constexpr uint8_t kNone = 0xff;  // no register (a memory operand's base or index)

// ALU operations of opcodes 01/03 .. 39/3B and of groups 81/83 (/digit).
enum Alu : uint8_t { kAdd = 0, kOr = 1, kAdc = 2, kSbb = 3, kAnd = 4, kSub = 5, kXor = 6, kCmp = 7 };
// Shift group C1 (/digit).
enum Shift : uint8_t { kRol = 0, kRor = 1, kShl = 4, kShr = 5, kSar = 7 };

// A memory operand in host registers.
struct Mem {
  uint8_t base = kNone;
  uint8_t index = kNone;
  uint8_t scale = 0;
  int32_t disp = 0;
};

inline bool fits8(int64_t v) { return v >= -128 && v <= 127; }
inline bool fits32(int64_t v) { return v >= INT32_MIN && v <= INT32_MAX; }

class Emitter {
 public:
  Emitter(uint8_t* p, size_t cap) : start_(p), p_(p), end_(p + cap) {}
  bool overflow() const { return overflow_; }
  size_t size() const { return size_t(p_ - start_); }
  uint8_t* here() const { return p_; }

  void byte(uint8_t b) {
    if (p_ < end_) {
      *p_++ = b;
    } else {
      overflow_ = true;
    }
  }
  void bytes(uint64_t v, unsigned n) {
    for (unsigned i = 0; i < n; ++i) byte(uint8_t(v >> (8 * i)));
  }
  void u32(uint32_t v) { bytes(v, 4); }

  // REX with W and the high bits of the ModRM.reg, SIB.index and ModRM.rm/base
  // registers; emitted when any is set or `force` (byte registers SPL..DIL).
  void rex(bool w, unsigned reg, unsigned index, unsigned base, bool force = false) {
    uint8_t r = uint8_t(0x40 | (w ? 8 : 0) | ((reg >> 3) & 1) << 2 | ((index >> 3) & 1) << 1 | ((base >> 3) & 1));
    if (r != 0x40 || force) byte(r);
  }
  void rex_mem(bool w, unsigned reg, const Mem& m, bool force = false) {
    rex(w, reg, m.index == kNone ? 0 : m.index, m.base == kNone ? 0 : m.base, force);
  }
  void modrm_reg(unsigned reg, unsigned rm) { byte(uint8_t(0xc0 | (reg & 7) << 3 | (rm & 7))); }
  void modrm_mem(unsigned reg, const Mem& m) {
    reg &= 7;
    if (m.base == kNone) {  // [index*s + disp32] or [disp32]: SIB with no base
      byte(uint8_t(0x04 | reg << 3));
      byte(uint8_t((m.index == kNone ? 0 : m.scale) << 6 | (m.index == kNone ? 4 : m.index & 7) << 3 | 5));
      u32(uint32_t(m.disp));
      return;
    }
    const unsigned mod = (m.disp == 0 && (m.base & 7) != 5) ? 0 : fits8(m.disp) ? 1 : 2;
    if (m.index != kNone || (m.base & 7) == 4) {
      byte(uint8_t(mod << 6 | reg << 3 | 4));
      byte(uint8_t(m.scale << 6 | (m.index == kNone ? 4 : m.index & 7) << 3 | (m.base & 7)));
    } else {
      byte(uint8_t(mod << 6 | reg << 3 | (m.base & 7)));
    }
    if (mod == 1) byte(uint8_t(m.disp));
    if (mod == 2) u32(uint32_t(m.disp));
  }

  // op reg, [mem] / op [mem], reg with a one-byte opcode, 64-bit.
  void op_mem(uint8_t opcode, unsigned reg, const Mem& m, bool w = true) {
    rex_mem(w, reg, m);
    byte(opcode);
    modrm_mem(reg, m);
  }
  void load(unsigned reg, const Mem& m) { op_mem(0x8b, reg, m); }
  void store(const Mem& m, unsigned reg) { op_mem(0x89, reg, m); }
  void lea(unsigned reg, const Mem& m, bool w = true) { op_mem(0x8d, reg, m, w); }
  void mov_rr(unsigned dst, unsigned src) {
    rex(true, src, 0, dst);
    byte(0x89);
    modrm_reg(src, dst);
  }
  // dst = v (64-bit).
  void mov_imm(unsigned dst, uint64_t v) {
    if (v <= 0xffffffffull) {
      rex(false, 0, 0, dst);
      byte(uint8_t(0xb8 + (dst & 7)));
      u32(uint32_t(v));
    } else if (fits32(int64_t(v))) {
      rex(true, 0, 0, dst);
      byte(0xc7);
      modrm_reg(0, dst);
      u32(uint32_t(v));
    } else {
      rex(true, 0, 0, dst);
      byte(uint8_t(0xb8 + (dst & 7)));
      bytes(v, 8);
    }
  }
  // mov dst, imm64 with the immediate to be filled in later: returns its position.
  uint8_t* mov_imm64_placeholder(unsigned dst) {
    rex(true, 0, 0, dst);
    byte(uint8_t(0xb8 + (dst & 7)));
    uint8_t* at = p_;
    bytes(0, 8);
    return at;
  }
  void fill64(uint8_t* at, uint64_t v) {
    if (at && !overflow_) std::memcpy(at, &v, 8);
  }
  void align(unsigned n) {
    while ((reinterpret_cast<uintptr_t>(p_) & (n - 1)) && !overflow_) byte(0xcc);
  }
  // A 32-bit rel32 jump (jcc when cc >= 0, else jmp) to be patched: returns the
  // position of its displacement.
  uint8_t* jump32(int cc) {
    if (cc >= 0) {
      byte(0x0f);
      byte(uint8_t(0x80 | cc));
    } else {
      byte(0xe9);
    }
    uint8_t* at = p_;
    u32(0);
    return at;
  }
  void patch(uint8_t* at, const uint8_t* target) {
    if (!at || overflow_) return;
    const int64_t rel = target - (at + 4);
    const int32_t r = int32_t(rel);
    std::memcpy(at, &r, 4);
  }

  // op dst, src (register forms, 64-bit unless !w): 01 ADD, 09 OR, 21 AND, 29 SUB, 31 XOR,
  // 39 CMP, 85 TEST, 89 MOV (the r/m, r direction).
  void alu_rr(Alu op, unsigned dst, unsigned src, bool w = true) { rr(uint8_t(op << 3 | 1), dst, src, w); }
  void test_rr(unsigned a, unsigned b, bool w = true) { rr(0x85, a, b, w); }
  // op dst, imm32 (sign-extended to 64 bits when w).
  void alu_ri(Alu op, unsigned dst, uint32_t imm, bool w = true) {
    rex(w, 0, 0, dst);
    byte(0x81);
    modrm_reg(op, dst);
    u32(imm);
  }
  // shift dst, imm8.
  void shift_ri(Shift op, unsigned dst, uint8_t count, bool w = true) {
    rex(w, 0, 0, dst);
    byte(0xc1);
    modrm_reg(op, dst);
    byte(count);
  }

 private:
  void rr(uint8_t opcode, unsigned rm, unsigned reg, bool w) {
    rex(w, reg, 0, rm);
    byte(opcode);
    modrm_reg(reg, rm);
  }
  uint8_t* start_;
  uint8_t* p_;
  uint8_t* end_;
  bool overflow_ = false;
};

}  // namespace vireo::emu::x86enc
