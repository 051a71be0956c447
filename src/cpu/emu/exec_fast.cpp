// Form-specific handlers for the instructions that dominate real code (register and
// simple memory forms of the integer ALU, MOV, LEA, INC/DEC, shifts, IMUL, MOVZX/
// MOVSX, CMOVcc/SETcc, Jcc, PUSH/POP, CALL/RET), chosen once when a block is
// decoded (select_handler). The operation, operand size and condition are template
// parameters, so each handler is a few straight-line operations. Their semantics are
// exactly those of the general handlers in exec_*.cpp (the differential tests run
// both paths: blocks use these, single steps the general ones); any form not listed
// here (8/16-bit operands, LOCK, other modes for the stack and branch forms) keeps
// its general handler.
#include <array>
#include <utility>

#include "cpu/emu/block_cache.h"
#include "cpu/emu/exec_common.h"

namespace vireo::emu {
namespace {

// ---- operands ----------------------------------------------------------------------

template <unsigned Size>
constexpr uint64_t kMask = Size == 8 ? ~0ull : 0xffffffffull;

template <unsigned Size>
inline uint64_t get(const EmuCpu& c, unsigned r) {
  return c.s.gpr[r] & kMask<Size>;
}
// 32-bit results zero-extend into the 64-bit register (SDM Vol. 1 3.4.1.1).
template <unsigned Size>
inline void put(EmuCpu& c, unsigned r, uint64_t v) {
  c.s.gpr[r] = v & kMask<Size>;
}
inline uint64_t imm_signed(const DecodedInsn& d) { return sext(d.imm, d.imm_size); }
inline unsigned opcode_reg(const DecodedInsn& d) { return (d.opcode() & 7) | ((d.rex & 1) << 3); }

// ---- condition codes -----------------------------------------------------------------

inline int64_t signed_of(uint64_t v, unsigned size) {
  const unsigned shift = 64 - size * 8;
  return int64_t(v << shift) >> shift;
}

// Condition CC (SDM Vol. 1 Table B-1) straight from the lazy operands where the last
// flag-setting instruction was a compare/subtract or a logic operation.
template <unsigned CC>
inline bool condition(const FlagsState& f) {
  constexpr unsigned kind = CC >> 1;
  bool r;
  if constexpr (kind == 2 || kind == 4) {  // E, S: any lazy operation has ZF/SF from res
    if (f.op == FlagOp::None) return f.condition(CC);
    r = kind == 2 ? f.res == 0 : (f.res & sign_bit(f.size)) != 0;
  } else {
    if (f.op == FlagOp::Sub && f.carry_in == 0) {
      switch (kind) {
        case 0: r = ((f.a ^ f.b) & (f.a ^ f.res) & sign_bit(f.size)) != 0; break;
        case 1: r = f.a < f.b; break;
        case 3: r = f.a <= f.b; break;
        case 5: r = parity_even(f.res); break;
        case 6: r = signed_of(f.a, f.size) < signed_of(f.b, f.size); break;
        default: r = signed_of(f.a, f.size) <= signed_of(f.b, f.size); break;
      }
    } else if (f.op == FlagOp::Logic) {  // CF = OF = 0
      switch (kind) {
        case 0:
        case 1: r = false; break;
        case 3: r = f.res == 0; break;
        case 5: r = parity_even(f.res); break;
        case 6: r = (f.res & sign_bit(f.size)) != 0; break;
        default: r = f.res == 0 || (f.res & sign_bit(f.size)) != 0; break;
      }
    } else {
      return f.condition(CC);
    }
  }
  return (CC & 1) ? !r : r;
}

// ---- integer ALU ---------------------------------------------------------------------

enum : unsigned { kAdd = 0, kOr = 1, kAdc = 2, kSbb = 3, kAnd = 4, kSub = 5, kXor = 6, kCmp = 7 };

template <unsigned Op>
inline unsigned carry_in(const EmuCpu& c) {
  if constexpr (Op == kAdc || Op == kSbb) return c.s.flags.cf();
  return 0;
}

template <unsigned Op, unsigned Size>
inline uint64_t alu_value(uint64_t a, uint64_t b, unsigned cin) {
  switch (Op) {
    case kAdd: return (a + b) & kMask<Size>;
    case kOr: return a | b;
    case kAdc: return (a + b + cin) & kMask<Size>;
    case kSbb: return (a - b - cin) & kMask<Size>;
    case kAnd: return a & b;
    case kXor: return a ^ b;
    default: return (a - b) & kMask<Size>;
  }
}

template <unsigned Op, unsigned Size>
inline void alu_flags(EmuCpu& c, uint64_t a, uint64_t b, uint64_t r, unsigned cin) {
  if constexpr (Op == kAdd || Op == kAdc) {
    c.s.flags.set_lazy(FlagOp::Add, Size, a, b, r, cin);
  } else if constexpr (Op == kSub || Op == kSbb || Op == kCmp) {
    c.s.flags.set_lazy(FlagOp::Sub, Size, a, b, r, cin);
  } else {
    c.s.flags.set_lazy_result(FlagOp::Logic, Size, r);
  }
}

// dst = dst op src on registers; CMP writes nothing.
template <unsigned Op, unsigned Size>
inline void alu_regs(EmuCpu& c, unsigned dst, uint64_t src) {
  const uint64_t a = get<Size>(c, dst);
  const unsigned cin = carry_in<Op>(c);
  const uint64_t r = alu_value<Op, Size>(a, src, cin);
  alu_flags<Op, Size>(c, a, src, r, cin);
  if constexpr (Op != kCmp) put<Size>(c, dst, r);
}

// [mem] = [mem] op src (no LOCK); CMP only reads.
template <unsigned Op, unsigned Size>
inline void alu_mem(EmuCpu& c, const DecodedInsn& d, uint64_t src) {
  const uint64_t la = c.operand_address(d);
  const unsigned cin = carry_in<Op>(c);
  if constexpr (Op == kCmp) {
    const uint64_t a = c.read(la, Size);
    alu_flags<Op, Size>(c, a, src, alu_value<Op, Size>(a, src, 0), 0);
  } else {
    const uint64_t a = c.rmw_mem(la, Size, false, [&](uint64_t v) { return alu_value<Op, Size>(v, src, cin); });
    alu_flags<Op, Size>(c, a, src, alu_value<Op, Size>(a, src, cin), cin);
  }
}

template <unsigned Op, unsigned Size>
struct AluRmRegReg {  // 01 09 .. 39 with a register r/m: rm op= reg
  static void run(EmuCpu& c, const DecodedInsn& d) { alu_regs<Op, Size>(c, d.rm, get<Size>(c, d.reg)); }
};
template <unsigned Op, unsigned Size>
struct AluRegRmReg {  // 03 0B .. 3B with a register r/m: reg op= rm
  static void run(EmuCpu& c, const DecodedInsn& d) { alu_regs<Op, Size>(c, d.reg, get<Size>(c, d.rm)); }
};
template <unsigned Op, unsigned Size>
struct AluMemReg {  // 01 .. 39 with memory: [m] op= reg
  static void run(EmuCpu& c, const DecodedInsn& d) { alu_mem<Op, Size>(c, d, get<Size>(c, d.reg)); }
};
template <unsigned Op, unsigned Size>
struct AluRegMem {  // 03 .. 3B with memory: reg op= [m]
  static void run(EmuCpu& c, const DecodedInsn& d) {
    alu_regs<Op, Size>(c, d.reg, c.read(c.operand_address(d), Size));
  }
};
template <unsigned Op, unsigned Size>
struct AluAccImm {  // 05 0D .. 3D: rAX op= imm
  static void run(EmuCpu& c, const DecodedInsn& d) { alu_regs<Op, Size>(c, RAX, imm_signed(d) & kMask<Size>); }
};
template <unsigned Op, unsigned Size>
struct AluRegImm {  // 81 83 with a register
  static void run(EmuCpu& c, const DecodedInsn& d) { alu_regs<Op, Size>(c, d.rm, imm_signed(d) & kMask<Size>); }
};
template <unsigned Op, unsigned Size>
struct AluMemImm {  // 81 83 with memory
  static void run(EmuCpu& c, const DecodedInsn& d) { alu_mem<Op, Size>(c, d, imm_signed(d) & kMask<Size>); }
};

template <unsigned Size>
inline void test_values(EmuCpu& c, uint64_t a, uint64_t b) {
  c.s.flags.set_lazy_result(FlagOp::Logic, Size, a & b);
}
template <unsigned Size>
void test_reg_reg(EmuCpu& c, const DecodedInsn& d) {  // 85 with a register
  test_values<Size>(c, get<Size>(c, d.rm), get<Size>(c, d.reg));
}
template <unsigned Size>
void test_mem_reg(EmuCpu& c, const DecodedInsn& d) {  // 85 with memory
  test_values<Size>(c, c.read(c.operand_address(d), Size), get<Size>(c, d.reg));
}
template <unsigned Size>
void test_acc_imm(EmuCpu& c, const DecodedInsn& d) {  // A9
  test_values<Size>(c, get<Size>(c, RAX), imm_signed(d) & kMask<Size>);
}

// Byte compares and tests (operands through read_rm/reg: AH..BH without REX).
inline void cmp8(EmuCpu& c, uint64_t a, uint64_t b) { c.s.flags.set_lazy(FlagOp::Sub, 1, a, b, (a - b) & 0xff); }
void cmp8_rm_reg(EmuCpu& c, const DecodedInsn& d) { cmp8(c, c.read_rm(d, 1), c.reg(d, d.reg, 1)); }  // 38
void cmp8_reg_rm(EmuCpu& c, const DecodedInsn& d) { cmp8(c, c.reg(d, d.reg, 1), c.read_rm(d, 1)); }  // 3A
void cmp8_acc_imm(EmuCpu& c, const DecodedInsn& d) { cmp8(c, c.s.gpr[RAX] & 0xff, d.imm & 0xff); }  // 3C
void cmp8_rm_imm(EmuCpu& c, const DecodedInsn& d) { cmp8(c, c.read_rm(d, 1), d.imm & 0xff); }      // 80 /7
void test8_rm_reg(EmuCpu& c, const DecodedInsn& d) { test_values<1>(c, c.read_rm(d, 1), c.reg(d, d.reg, 1)); }  // 84
void test8_rm_imm(EmuCpu& c, const DecodedInsn& d) { test_values<1>(c, c.read_rm(d, 1), d.imm & 0xff); }  // F6 /0
void test8_acc_imm(EmuCpu& c, const DecodedInsn& d) { test_values<1>(c, c.s.gpr[RAX] & 0xff, d.imm & 0xff); }  // A8
void nop(EmuCpu&, const DecodedInsn&) {}  // 0F 1F (NOP r/m)

// FF /0 /1 with a register: INC/DEC keep CF (carry_in holds it).
template <bool Dec, unsigned Size>
void inc_dec_reg(EmuCpu& c, const DecodedInsn& d) {
  const unsigned cf = c.s.flags.cf();
  const uint64_t old = get<Size>(c, d.rm);
  const uint64_t r = (Dec ? old - 1 : old + 1) & kMask<Size>;
  put<Size>(c, d.rm, r);
  c.s.flags.set_lazy_result(Dec ? FlagOp::Dec : FlagOp::Inc, Size, r, cf);
}

// ---- moves ---------------------------------------------------------------------------

template <unsigned Size>
void mov_rm_reg(EmuCpu& c, const DecodedInsn& d) { put<Size>(c, d.rm, c.s.gpr[d.reg]); }  // 89 register
template <unsigned Size>
void mov_reg_rm(EmuCpu& c, const DecodedInsn& d) { put<Size>(c, d.reg, c.s.gpr[d.rm]); }  // 8B register
template <unsigned Size>
void mov_store(EmuCpu& c, const DecodedInsn& d) {  // 89 memory
  c.write(c.operand_address(d), Size, get<Size>(c, d.reg));
}
template <unsigned Size>
void mov_load(EmuCpu& c, const DecodedInsn& d) {  // 8B memory
  put<Size>(c, d.reg, c.read(c.operand_address(d), Size));
}
template <unsigned Size>
void mov_reg_imm(EmuCpu& c, const DecodedInsn& d) { put<Size>(c, opcode_reg(d), d.imm); }  // B8..BF
template <unsigned Size>
void mov_rm_imm_reg(EmuCpu& c, const DecodedInsn& d) { put<Size>(c, d.rm, imm_signed(d)); }  // C7 /0 register
template <unsigned Size>
void mov_rm_imm_mem(EmuCpu& c, const DecodedInsn& d) {  // C7 /0 memory
  c.write(c.operand_address(d), Size, imm_signed(d) & kMask<Size>);
}
template <unsigned Size>
void lea(EmuCpu& c, const DecodedInsn& d) { put<Size>(c, d.reg, c.effective_address(d)); }  // 8D

// 0F B6 B7 BE BF, 63: zero- or sign-extending loads from a register or memory.
template <unsigned Src, bool Signed, unsigned Size>
void extend(EmuCpu& c, const DecodedInsn& d) {
  uint64_t v = d.mod == 3 ? c.reg(d, d.rm, Src) : c.read(c.operand_address(d), Src);
  if constexpr (Signed) v = sext(v, Src);
  put<Size>(c, d.reg, v);
}

template <unsigned CC, unsigned Size>
struct Cmov {  // 0F 40..4F: the source is read (and may fault) whatever the condition
  static void run(EmuCpu& c, const DecodedInsn& d) {
    const uint64_t src = d.mod == 3 ? c.s.gpr[d.rm] : c.read(c.operand_address(d), Size);
    if (condition<CC>(c.s.flags)) {
      put<Size>(c, d.reg, src);
    } else if constexpr (Size == 4) {
      put<4>(c, d.reg, c.s.gpr[d.reg]);  // a 32-bit CMOV zero-extends even when false
    }
  }
};
template <unsigned CC, unsigned Unused>
struct Setcc {  // 0F 90..9F
  static void run(EmuCpu& c, const DecodedInsn& d) { c.write_rm(d, 1, condition<CC>(c.s.flags)); }
};

// ---- shifts and multiplication --------------------------------------------------------

// C1 (count = imm8), D1 (count = 1), D3 (count = CL) on a register, SHL/SHR/SAR/ROL/ROR.
enum : unsigned { kCountImm, kCountOne, kCountCl };
template <unsigned Op, unsigned Size, unsigned CountFrom>
struct ShiftReg {
  static void run(EmuCpu& c, const DecodedInsn& d) {
    constexpr unsigned bits = Size * 8;
    constexpr uint64_t msb = sign_bit(Size);
    unsigned count = CountFrom == kCountImm ? unsigned(d.imm) : CountFrom == kCountOne ? 1u : unsigned(c.s.gpr[RCX]);
    count &= Size == 8 ? 0x3f : 0x1f;
    const uint64_t a = get<Size>(c, d.rm);
    if (count == 0) {  // no flag changes; a 32-bit register is still zero-extended
      put<Size>(c, d.rm, a);
      return;
    }
    uint64_t v;
    bool cf, of;
    switch (Op) {
      case 0:  // ROL
        v = ((a << count) | (a >> (bits - count))) & kMask<Size>;
        cf = v & 1;
        of = bool(v & msb) != cf;
        break;
      case 1:  // ROR
        v = ((a >> count) | (a << (bits - count))) & kMask<Size>;
        cf = v & msb;
        of = bool(v & msb) != bool(v & (msb >> 1));
        break;
      case 4:  // SHL
        v = (a << count) & kMask<Size>;
        cf = (a >> (bits - count)) & 1;
        of = bool(v & msb) != cf;
        break;
      case 5:  // SHR
        v = a >> count;
        cf = (a >> (count - 1)) & 1;
        of = a & msb;
        break;
      default: {  // SAR
        const int64_t sa = signed_of(a, Size);
        v = uint64_t(sa >> count) & kMask<Size>;
        cf = (sa >> (count - 1)) & 1;
        of = false;
        break;
      }
    }
    put<Size>(c, d.rm, v);
    if (Op <= 1) {
      c.s.flags.set_cf_of(cf, of);
    } else {
      set_status_flags(c, cf, of, v, Size);
    }
  }
};

// 0F AF (reg *= r/m) and 69 / 6B (reg = r/m * imm): CF = OF = the product did not fit.
template <bool Imm, unsigned Size>
void imul(EmuCpu& c, const DecodedInsn& d) {
  const uint64_t a = d.mod == 3 ? c.s.gpr[d.rm] : c.read(c.operand_address(d), Size);
  const uint64_t b = Imm ? imm_signed(d) : c.s.gpr[d.reg];
  uint64_t lo;
  bool overflow;
  if constexpr (Size == 8) {
    int64_t p;
    overflow = __builtin_mul_overflow(int64_t(a), int64_t(b), &p);
    lo = uint64_t(p);
  } else {
    int32_t p;
    overflow = __builtin_mul_overflow(int32_t(uint32_t(a)), int32_t(uint32_t(b)), &p);
    lo = uint32_t(p);
  }
  put<Size>(c, d.reg, lo);
  set_status_flags(c, overflow, overflow, lo, Size);
}

// ---- branches and the stack in 64-bit mode ---------------------------------------------

template <unsigned CC, unsigned Unused>
struct Jcc64 {
  static void run(EmuCpu& c, const DecodedInsn& d) {
    if (condition<CC>(c.s.flags)) c.next_rip += imm_signed(d);
  }
};
void jmp64(EmuCpu& c, const DecodedInsn& d) { c.next_rip += imm_signed(d); }
void call64(EmuCpu& c, const DecodedInsn& d) {
  const uint64_t target = c.next_rip + imm_signed(d);
  c.push(c.next_rip, 8);
  c.next_rip = target;
}
void ret64(EmuCpu& c, const DecodedInsn&) {
  const uint64_t rsp = c.s.gpr[RSP];
  const uint64_t target = c.pop(8);
  if (!c.is_canonical(target)) {
    c.s.gpr[RSP] = rsp;  // a faulting RET leaves RSP as it was
    c.fault(kGP, 0);
  }
  c.next_rip = target;
}
void push64(EmuCpu& c, const DecodedInsn& d) { c.push(c.s.gpr[opcode_reg(d)], 8); }
void pop64(EmuCpu& c, const DecodedInsn& d) {
  const uint64_t v = c.pop(8);
  c.s.gpr[opcode_reg(d)] = v;  // POP RSP loads the popped value
}

// ---- selection -------------------------------------------------------------------------

// A handler followed by the dispatch of the block's next instruction.
template <Handler F>
void threaded(EmuCpu& c, const DecodedInsn& d) {
  F(c, d);
  c.next_in_block(d);
}
// The general handlers may read RIP.
void threaded_general(EmuCpu& c, const DecodedInsn& d) {
  c.s.rip = c.block_rip();
  BlockInsn::of(d)->impl(c, d);
  c.next_in_block(d);
}
template <Handler F>
constexpr Handler T = &threaded<F>;

template <template <unsigned, unsigned> class F, unsigned Size, size_t... I>
constexpr std::array<Handler, sizeof...(I)> make_row(std::index_sequence<I...>) {
  return {T<&F<unsigned(I), Size>::run>...};
}
// F<k, Size>::run for k < N (an ALU operation or a condition code) and Size 4 or 8.
template <template <unsigned, unsigned> class F, size_t N>
Handler pick(unsigned k, unsigned size) {
  static constexpr auto four = make_row<F, 4>(std::make_index_sequence<N>());
  static constexpr auto eight = make_row<F, 8>(std::make_index_sequence<N>());
  return size == 8 ? eight[k] : four[k];
}
template <unsigned Size, unsigned From>
constexpr Handler kShiftRow[8] = {T<ShiftReg<0, Size, From>::run>, T<ShiftReg<1, Size, From>::run>, nullptr, nullptr,
                                  T<ShiftReg<4, Size, From>::run>, T<ShiftReg<5, Size, From>::run>, nullptr,
                                  T<ShiftReg<7, Size, From>::run>};
template <unsigned Size>
Handler pick_shift(unsigned op, unsigned count_from) {
  switch (count_from) {
    case kCountImm: return kShiftRow<Size, kCountImm>[op];
    case kCountOne: return kShiftRow<Size, kCountOne>[op];
    default: return kShiftRow<Size, kCountCl>[op];
  }
}
template <Handler F4, Handler F8>
Handler sized(unsigned size) {
  return size == 8 ? T<F8> : T<F4>;
}

// The fast handler for d, or nullptr.
Handler fast_handler(const DecodedInsn& d, CpuMode mode) {
  const unsigned size = d.osize;
  const bool wide = size == 4 || size == 8;
  const bool reg = d.has_modrm && d.mod == 3;
  const bool mem = d.has_modrm && d.mod != 3;
  const unsigned sub = (d.modrm >> 3) & 7;
  const uint8_t op = d.opcode();
  const bool long64 = mode == CpuMode::Long64;
  if (d.prefixes & kPrefixLock) return nullptr;
  if (d.map() == kMapOne) {
    if (op < 0x40 && (op & 7) <= 5 && (op & 7) != 0 && (op & 7) != 2 && (op & 7) != 4 && wide) {
      const unsigned alu = op >> 3;
      switch (op & 7) {
        case 1: return reg ? pick<AluRmRegReg, 8>(alu, size) : pick<AluMemReg, 8>(alu, size);
        case 3: return reg ? pick<AluRegRmReg, 8>(alu, size) : pick<AluRegMem, 8>(alu, size);
        default: return pick<AluAccImm, 8>(alu, size);
      }
    }
    if ((op == 0x81 || op == 0x83) && wide) return reg ? pick<AluRegImm, 8>(sub, size) : pick<AluMemImm, 8>(sub, size);
    switch (op) {
      case 0x38: return T<cmp8_rm_reg>;
      case 0x3a: return T<cmp8_reg_rm>;
      case 0x3c: return T<cmp8_acc_imm>;
      case 0x80: return sub == 7 ? T<cmp8_rm_imm> : nullptr;
      case 0x84: return T<test8_rm_reg>;
      case 0xa8: return T<test8_acc_imm>;
      case 0xf6: return sub == 0 ? T<test8_rm_imm> : nullptr;
      default: break;
    }
    if (!wide) return nullptr;
    switch (op) {
      case 0x85: return reg ? sized<test_reg_reg<4>, test_reg_reg<8>>(size) : sized<test_mem_reg<4>, test_mem_reg<8>>(size);
      case 0xa9: return sized<test_acc_imm<4>, test_acc_imm<8>>(size);
      case 0x89: return reg ? sized<mov_rm_reg<4>, mov_rm_reg<8>>(size) : sized<mov_store<4>, mov_store<8>>(size);
      case 0x8b: return reg ? sized<mov_reg_rm<4>, mov_reg_rm<8>>(size) : sized<mov_load<4>, mov_load<8>>(size);
      case 0x8d: return mem ? sized<lea<4>, lea<8>>(size) : nullptr;
      case 0xc7:
        if (sub != 0) return nullptr;
        return reg ? sized<mov_rm_imm_reg<4>, mov_rm_imm_reg<8>>(size) : sized<mov_rm_imm_mem<4>, mov_rm_imm_mem<8>>(size);
      case 0xff:
        if (!reg || sub > 1) return nullptr;
        return sub == 0 ? sized<inc_dec_reg<false, 4>, inc_dec_reg<false, 8>>(size)
                        : sized<inc_dec_reg<true, 4>, inc_dec_reg<true, 8>>(size);
      case 0xc1:
      case 0xd1:
      case 0xd3: {
        if (!reg) return nullptr;
        const unsigned from = op == 0xc1 ? kCountImm : op == 0xd1 ? kCountOne : kCountCl;
        return size == 8 ? pick_shift<8>(sub, from) : pick_shift<4>(sub, from);
      }
      case 0x69: return sized<imul<true, 4>, imul<true, 8>>(size);
      case 0x6b: return sized<imul<true, 4>, imul<true, 8>>(size);
      case 0x63: return long64 && size == 8 ? T<extend<4, true, 8>> : nullptr;
      default: break;
    }
    if (op >= 0xb8 && op <= 0xbf) return sized<mov_reg_imm<4>, mov_reg_imm<8>>(size);
    if (long64) {
      if (op >= 0x70 && op <= 0x7f) return pick<Jcc64, 16>(op & 15, 8);
      if (op == 0xeb || op == 0xe9) return T<jmp64>;
      if (op == 0xe8) return T<call64>;
      if (op == 0xc3) return T<ret64>;
      if (op >= 0x50 && op <= 0x57 && size == 8) return T<push64>;
      if (op >= 0x58 && op <= 0x5f && size == 8) return T<pop64>;
    }
    return nullptr;
  }
  if (d.map() == kMap0F) {
    if (long64 && op >= 0x80 && op <= 0x8f) return pick<Jcc64, 16>(op & 15, 8);
    if (op == 0x1f) return T<nop>;
    if (op >= 0x90 && op <= 0x9f) return pick<Setcc, 16>(op & 15, 8);
    if (!wide) return nullptr;
    switch (op) {
      case 0xaf: return sized<imul<false, 4>, imul<false, 8>>(size);
      case 0xb6: return sized<extend<1, false, 4>, extend<1, false, 8>>(size);
      case 0xb7: return sized<extend<2, false, 4>, extend<2, false, 8>>(size);
      case 0xbe: return sized<extend<1, true, 4>, extend<1, true, 8>>(size);
      case 0xbf: return sized<extend<2, true, 4>, extend<2, true, 8>>(size);
      default: break;
    }
    if (op >= 0x40 && op <= 0x4f) return pick<Cmov, 16>(op & 15, size);
  }
  return nullptr;
}

}  // namespace

void select_handlers(BlockInsn& bi, CpuMode mode) {
  bi.impl = handler_table()[bi.d.op];
  bi.run = fast_handler(bi.d, mode);
  if (!bi.run) bi.run = threaded_general;
}

}  // namespace vireo::emu
