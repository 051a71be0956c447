// Lazy RFLAGS: arithmetic instructions record their operands and result; the six
// status flags (CF PF AF ZF SF OF) are computed only when something reads them.
// Definitions follow the Intel SDM Vol. 1 3.4.3.1 and each instruction's "Flags
// Affected" section in Vol. 2.
#pragma once

#include <cstdint>

namespace vireo::emu {

namespace rf {
constexpr uint64_t CF = 1u << 0, FIXED1 = 1u << 1, PF = 1u << 2, AF = 1u << 4, ZF = 1u << 6, SF = 1u << 7,
                   TF = 1u << 8, IF = 1u << 9, DF = 1u << 10, OF = 1u << 11, IOPL = 3u << 12, NT = 1u << 14,
                   RF = 1u << 16, VM = 1u << 17, AC = 1u << 18, VIF = 1u << 19, VIP = 1u << 20, ID = 1u << 21;
constexpr uint64_t kArith = CF | PF | AF | ZF | SF | OF;
}  // namespace rf

enum class FlagOp : uint8_t {
  None,   // the arithmetic bits of `bits` are current
  Add,    // res = a + b (+ carry_in for ADC)
  Sub,    // res = a - b (- carry_in for SBB); also CMP, NEG (a = 0)
  Logic,  // AND OR XOR TEST: CF = OF = 0, AF = 0 (undefined in the SDM; 0 as hardware gives)
  Inc,    // res = a + 1; CF kept (carry_in holds it)
  Dec,    // res = a - 1; CF kept (carry_in holds it)
  Result, // SF ZF PF from res, AF = 0, CF and OF given (carry_in bits 0 and 1): shifts, multiplies
};

constexpr uint64_t size_mask(unsigned size) { return size >= 8 ? ~0ull : (1ull << (size * 8)) - 1; }
constexpr uint64_t sign_bit(unsigned size) { return 1ull << (size * 8 - 1); }
inline bool parity_even(uint64_t v) { return !__builtin_parity(static_cast<unsigned>(v & 0xff)); }

struct FlagsState {
  uint64_t bits = rf::FIXED1;  // everything except the arithmetic bits while op != None
  FlagOp op = FlagOp::None;
  uint8_t size = 8;       // operand size in bytes
  uint8_t carry_in = 0;   // ADC/SBB carry in; INC/DEC preserved CF
  uint64_t a = 0, b = 0, res = 0;  // masked to the operand size

  void set_lazy(FlagOp o, unsigned sz, uint64_t x, uint64_t y, uint64_t r, unsigned cin = 0) {
    op = o;
    size = static_cast<uint8_t>(sz);
    a = x;
    b = y;
    res = r;
    carry_in = static_cast<uint8_t>(cin);
  }
  // For the operations whose flags depend on the result alone (Logic, Inc, Dec,
  // Result): a and b are not needed and not stored.
  void set_lazy_result(FlagOp o, unsigned sz, uint64_t r, unsigned cin = 0) {
    op = o;
    size = static_cast<uint8_t>(sz);
    res = r;
    carry_in = static_cast<uint8_t>(cin);
  }
  // The six status flags as RFLAGS bits.
  uint64_t arith() const { return op == FlagOp::None ? (bits & rf::kArith) : compute(); }
  // The six flags of the pending operation (op != None).
  uint64_t compute() const {
    return (cf() ? rf::CF : 0) | (overflow() ? rf::OF : 0) | sign_zero_aux_parity();
  }
  // SF ZF AF PF of the pending operation (op != None).
  uint64_t sign_zero_aux_parity() const {
    uint64_t out = 0;
    if (parity_even(res)) out |= rf::PF;
    if (res == 0) out |= rf::ZF;
    if (res & sign_bit(size)) out |= rf::SF;
    switch (op) {
      case FlagOp::Add:
      case FlagOp::Sub: out |= (a ^ b ^ res) & rf::AF; break;
      case FlagOp::Inc: out |= (res & 0xf) == 0 ? rf::AF : 0; break;
      case FlagOp::Dec: out |= (res & 0xf) == 0xf ? rf::AF : 0; break;
      default: break;
    }
    return out;
  }
  // OF of the pending operation (op != None).
  bool overflow() const {
    const uint64_t sign = sign_bit(size);
    switch (op) {
      case FlagOp::Add: return ((a ^ res) & (b ^ res) & sign) != 0;
      case FlagOp::Sub: return ((a ^ b) & (a ^ res) & sign) != 0;
      case FlagOp::Inc: return res == sign;
      case FlagOp::Dec: return res == sign - 1;
      case FlagOp::Result: return carry_in & 2;
      default: return false;
    }
  }
  // Sets CF and OF, keeping SF ZF AF PF (rotates): only those four are computed.
  void set_cf_of(bool c, bool o) {
    const uint64_t keep = op == FlagOp::None ? bits & (rf::SF | rf::ZF | rf::AF | rf::PF) : sign_zero_aux_parity();
    bits = (bits & ~rf::kArith) | keep | (c ? rf::CF : 0) | (o ? rf::OF : 0);
    op = FlagOp::None;
  }
  // Folds the lazy flags into `bits`.
  void materialize() {
    if (op != FlagOp::None) {
      bits = (bits & ~rf::kArith) | compute();
      op = FlagOp::None;
    }
  }
  uint64_t rflags() const { return (bits & ~rf::kArith) | arith() | rf::FIXED1; }
  void set_rflags(uint64_t v) {
    bits = v | rf::FIXED1;
    op = FlagOp::None;
  }
  // Replaces a subset of the arithmetic flags (the others keep their values).
  void set_arith(uint64_t mask, uint64_t values) {
    if (mask == rf::kArith) {  // all six replaced: nothing pending needs computing
      bits = (bits & ~rf::kArith) | (values & rf::kArith);
      op = FlagOp::None;
      return;
    }
    materialize();
    bits = (bits & ~mask) | (values & mask);
  }
  bool cf() const {
    switch (op) {
      case FlagOp::None: return bits & rf::CF;
      case FlagOp::Add: return carry_in ? res <= a : res < a;
      case FlagOp::Sub: return carry_in ? a <= b : a < b;
      case FlagOp::Logic: return false;
      case FlagOp::Result: return carry_in & 1;
      default: return carry_in;  // INC / DEC keep CF
    }
  }
  bool zf() const;
  bool sf() const;
  bool of() const { return op == FlagOp::None ? (bits & rf::OF) != 0 : overflow(); }
  bool pf() const { return arith() & rf::PF; }
  // Jcc/SETcc/CMOVcc condition (the low 4 bits of the opcode), SDM Vol. 1 Table B-1.
  bool condition(unsigned cc) const;
};


}  // namespace vireo::emu
