#include "difftest/generator.h"

#include <cpuid.h>

#include <algorithm>
#include <cassert>

#include "difftest/x86_encoder.h"

namespace vireo::difftest {

GeneratorOptions host_generator_options() {
  GeneratorOptions o;
  unsigned a, b, c, d;
  if (__get_cpuid(1, &a, &b, &c, &d)) o.popcnt = (c >> 23) & 1;
  if (__get_cpuid(0x80000001, &a, &b, &c, &d)) o.lzcnt = (c >> 5) & 1;  // ABM / LZCNT
  if (__get_cpuid_count(7, 0, &a, &b, &c, &d)) o.tzcnt = o.bmi1 = (b >> 3) & 1;  // BMI1
  return o;
}

const std::vector<Family>& Generator::families() {
  static const std::vector<Family> all = {Family::Alu,    Family::Shift, Family::MulDiv, Family::Bit,
                                          Family::Cond,   Family::String, Family::Xchg,  Family::Lea,
                                          Family::Movx,   Family::Stack, Family::Sse,    Family::Bmi};
  return all;
}

namespace {

constexpr unsigned kRsp = 4;
constexpr uint64_t kAllFlags = kStatusFlags;

// Flag behaviour of one instruction (SDM vol. 1, appendix A, table A-2).
struct FlagEffect {
  uint64_t reads = 0;      // flags whose value it consumes
  uint64_t defined = 0;    // flags it writes with a defined value
  uint64_t undefined = 0;  // flags it leaves undefined
};
constexpr FlagEffect kNoFlags{};
constexpr FlagEffect kArith{0, kAllFlags, 0};               // add, sub, cmp, neg, ...
constexpr FlagEffect kLogic{0, kAllFlags & ~kAF, kAF};      // and, or, xor, test
constexpr FlagEffect kIncDec{0, kAllFlags & ~kCF, 0};       // CF unaffected

// Builds one test case: code, tags and the undefined-flags state.
class SequenceBuilder {
 public:
  SequenceBuilder(Rng& rng, const GeneratorOptions& opt) : rng_(rng), opt_(opt), enc_(kCodeGpa) {}

  Rng& rng() { return rng_; }
  const GeneratorOptions& options() const { return opt_; }
  X86Encoder& encoder() { return enc_; }

  // Emits one instruction of `family` with its flag effect.
  void add(const Instruction& insn, Family family, FlagEffect fx) {
    if (fx.reads & undefined_) define_all_flags();
    emit_tagged(insn, family);
    undefined_ = (undefined_ & ~(fx.defined | fx.undefined)) | fx.undefined;
    record_undefined();
  }
  void setup(const Instruction& insn, FlagEffect fx = kNoFlags) { add(insn, Family::Setup, fx); }
  void emit_tagged(const Instruction& insn, Family family) {
    uint64_t at = enc_.pc();
    unsigned len = enc_.emit(insn);
    tags_.push_back({uint32_t(at - kCodeGpa), uint8_t(len), family, true, 0});
  }
  void raw(const std::vector<uint8_t>& bytes, Family family, FlagEffect fx = kNoFlags) {
    if (fx.reads & undefined_) define_all_flags();
    uint64_t at = enc_.pc();
    enc_.emit_raw(bytes);
    tags_.push_back({uint32_t(at - kCodeGpa), uint8_t(bytes.size()), family, true, 0});
    undefined_ = (undefined_ & ~(fx.defined | fx.undefined)) | fx.undefined;
    record_undefined();
  }
  // Flags undefined now / forced state (for the union over branch paths).
  uint64_t undefined() const { return undefined_; }
  void set_undefined(uint64_t u) { undefined_ = u; }
  // Marks the instructions emitted since `count_before` tags, except the last, as
  // not being places to cut the sequence (a branch structure).
  size_t tag_count() const { return tags_.size(); }
  void no_cut_since(size_t count_before) {
    for (size_t i = count_before; i + 1 < tags_.size(); ++i) tags_[i].boundary = false;
  }
  void record_undefined() {
    if (!tags_.empty()) tags_.back().undefined_flags_after = undefined_;
  }

  // cmp r64, r64 on two random registers: every status flag defined.
  void define_all_flags() {
    Instruction i;
    i.rex_w = true;
    i.opcode = {0x39};
    i.reg = any_reg();
    i.rm = Operand::r(any_reg());
    emit_tagged(i, Family::Setup);
    undefined_ = 0;
    record_undefined();
  }

  // A random general register other than RSP and those in `avoid` (a bit mask).
  unsigned any_reg(uint32_t avoid = 0) {
    avoid |= 1u << kRsp;
    for (;;) {
      unsigned r = unsigned(rng_.below(16));
      if (!(avoid & (1u << r))) return r;
    }
  }

  // mov r32, imm32 (zero-extends into the full register).
  void load_reg(unsigned reg, uint32_t value) {
    Instruction i;
    i.has_modrm = false;
    i.opcode = {0xB8};
    i.opcode_reg = int(reg);
    i.imm = value;
    i.imm_size = 4;
    setup(i);
  }
  // mov r64, simm32 (sign-extends).
  void load_reg_signed(unsigned reg, int32_t value) {
    Instruction i;
    i.rex_w = true;
    i.opcode = {0xC7};
    i.reg = 0;
    i.rm = Operand::r(reg);
    i.imm = uint32_t(value);
    i.imm_size = 4;
    setup(i);
  }

  // A memory operand addressing [region + offset] for an access of `size` bytes
  // aligned to `align`, through one of the addressing forms: absolute disp32,
  // RIP-relative, or base (+ index * scale) + disp with the registers loaded just
  // before. Registers in `avoid` are not used; with legacy_bytes, only registers
  // 0-7 (no REX prefix may be needed).
  MemOperand mem(unsigned size, unsigned align = 1, uint32_t avoid = 0, bool legacy_bytes = false,
                 uint64_t region = kDataGpa, uint64_t region_size = kDataSize, uint64_t margin = 0) {
    if (legacy_bytes) avoid |= 0xff00;
    uint64_t lo = margin, hi = region_size - size - margin;
    uint64_t off = lo + rng_.below(hi - lo + 1);
    if (align > 1) off &= ~uint64_t(align - 1);
    if (off < lo) off += align;
    uint64_t addr = region + off;
    MemOperand m;
    unsigned form = unsigned(rng_.below(10));
    if (form == 0) {
      m.disp = int32_t(addr);
      if (rng_.chance(30)) {
        // Absolute disp32 + index * scale.
        m.index = int(any_reg(avoid));
        m.scale = 1u << rng_.below(4);
        unsigned idx = unsigned(rng_.below(16));
        load_reg(unsigned(m.index), idx);
        m.disp = int32_t(addr - idx * m.scale);
      }
      return m;
    }
    if (form == 1) {
      m.rip_relative = true;
      m.rip_target = addr;
      return m;
    }
    m.base = int(any_reg(avoid));
    int64_t disp = 0;
    switch (rng_.below(3)) {
      case 0: disp = 0; break;
      case 1: disp = int64_t(rng_.below(256)) - 128; break;
      default: disp = int64_t(rng_.below(0x2000)) - 0x1000; break;
    }
    uint64_t index_part = 0;
    if (rng_.chance(40)) {
      m.index = int(any_reg(avoid | (1u << m.base)));
      m.scale = 1u << rng_.below(4);
      uint64_t idx = rng_.below(32);
      index_part = idx * m.scale;
      load_reg(unsigned(m.index), uint32_t(idx));
    }
    m.disp = int32_t(disp);
    load_reg(unsigned(m.base), uint32_t(addr - uint64_t(disp) - index_part));
    return m;
  }

  TestCase finish(Family family) {
    TestCase tc;
    tc.family = family;
    tc.code = enc_.bytes();
    tc.instrs = tags_;
    tc.undefined_flags = undefined_;
    return tc;
  }

 private:
  Rng& rng_;
  const GeneratorOptions& opt_;
  X86Encoder enc_;
  std::vector<InstructionTag> tags_;
  uint64_t undefined_ = 0;
};

unsigned random_size(Rng& rng) { return 1u << rng.below(4); }  // 1, 2, 4, 8 bytes

// Prefix/REX/opcode for an operand size: 16-bit gets 66, 64-bit REX.W, 8-bit the
// byte opcode (usually the word opcode - 1).
Instruction sized(unsigned size, std::vector<uint8_t> op8, std::vector<uint8_t> op) {
  Instruction i;
  if (size == 2) i.prefixes.push_back(0x66);
  i.rex_w = size == 8;
  i.byte_regs = size == 1;
  i.opcode = size == 1 ? std::move(op8) : std::move(op);
  return i;
}

uint64_t imm_bytes_for(unsigned size) { return size == 1 ? 1 : size == 2 ? 2 : 4; }

// A register for an operand of `size`; for byte operands sometimes AH..BH (then the
// instruction must avoid REX: `legacy` is set and the caller keeps the other
// registers below 8).
unsigned pick_reg(SequenceBuilder& b, unsigned size, bool legacy, uint32_t avoid = 0) {
  if (size == 1 && legacy) {
    unsigned r = unsigned(b.rng().below(8));
    return r < 4 ? r : kAh + (r - 4);
  }
  return b.any_reg(avoid);
}

// A register or memory r/m operand.
Operand pick_rm(SequenceBuilder& b, unsigned size, bool legacy, unsigned mem_percent = 50, unsigned align = 1,
                uint32_t avoid = 0) {
  if (b.rng().chance(mem_percent)) return Operand::m(b.mem(size, align, avoid, legacy));
  return Operand::r(pick_reg(b, size, legacy, avoid));
}

// ---- alu -------------------------------------------------------------------

void gen_alu(SequenceBuilder& b) {
  Rng& rng = b.rng();
  unsigned size = random_size(rng);
  bool legacy = size == 1 && rng.chance(25);
  unsigned kind = unsigned(rng.below(12));
  if (kind < 7) {
    // The eight classic binary operations: add or adc sbb and sub xor cmp.
    unsigned op = unsigned(rng.below(8));
    FlagEffect fx = (op == 1 || op == 4 || op == 6) ? kLogic : kArith;
    if (op == 2 || op == 3) fx.reads = kCF;
    unsigned form = unsigned(rng.below(4));
    Instruction i;
    if (form == 0 || form == 1) {
      // op r/m, r  /  op r, r/m
      uint8_t base = uint8_t(op * 8 + (form == 0 ? 0 : 2));
      i = sized(size, {base}, {uint8_t(base + 1)});
      i.reg = pick_reg(b, size, legacy);
      i.rm = pick_rm(b, size, legacy);
    } else if (form == 2) {
      // op AL/AX/EAX/RAX, imm
      uint8_t base = uint8_t(op * 8 + 4);
      i = sized(size, {base}, {uint8_t(base + 1)});
      i.has_modrm = false;
      i.imm = rng.interesting();
      i.imm_size = unsigned(imm_bytes_for(size));
    } else {
      // 80 /op ib, 81 /op iz, 83 /op ib (sign-extended)
      bool short_imm = size != 1 && rng.chance(50);
      i = sized(size, {0x80}, {uint8_t(short_imm ? 0x83 : 0x81)});
      i.reg = op;
      i.rm = pick_rm(b, size, legacy);
      i.imm = rng.interesting();
      i.imm_size = short_imm ? 1 : unsigned(imm_bytes_for(size));
    }
    // LOCK is allowed on a memory destination of every one of them but CMP.
    if (i.has_modrm && i.rm.is_mem && form != 1 && op != 7 && rng.chance(30))
      i.prefixes.insert(i.prefixes.begin(), 0xF0);
    b.add(i, Family::Alu, fx);
  } else if (kind < 9) {
    // test r/m, r ; test AL.., imm ; test r/m, imm
    Instruction i;
    unsigned form = unsigned(rng.below(3));
    if (form == 0) {
      i = sized(size, {0x84}, {0x85});
      i.reg = pick_reg(b, size, legacy);
      i.rm = pick_rm(b, size, legacy);
    } else if (form == 1) {
      i = sized(size, {0xA8}, {0xA9});
      i.has_modrm = false;
      i.imm = rng.interesting();
      i.imm_size = unsigned(imm_bytes_for(size));
    } else {
      i = sized(size, {0xF6}, {0xF7});
      i.reg = 0;
      i.rm = pick_rm(b, size, legacy);
      i.imm = rng.interesting();
      i.imm_size = unsigned(imm_bytes_for(size));
    }
    b.add(i, Family::Alu, kLogic);
  } else {
    // inc, dec (FE/FF /0 /1), not, neg (F6/F7 /2 /3)
    unsigned which = unsigned(rng.below(4));
    Instruction i = which < 2 ? sized(size, {0xFE}, {0xFF}) : sized(size, {0xF6}, {0xF7});
    i.reg = which;  // /0 inc, /1 dec, /2 not, /3 neg
    i.rm = pick_rm(b, size, legacy);
    if (i.rm.is_mem && rng.chance(30)) i.prefixes.insert(i.prefixes.begin(), 0xF0);
    FlagEffect fx = which < 2 ? kIncDec : which == 2 ? kNoFlags : kArith;
    b.add(i, Family::Alu, fx);
  }
}

// ---- shift / rotate --------------------------------------------------------

void gen_shift(SequenceBuilder& b) {
  Rng& rng = b.rng();
  unsigned size = random_size(rng);
  bool legacy = size == 1 && rng.chance(25);
  if (size >= 2 && rng.chance(20)) {
    // SHLD / SHRD r/m, r, imm8 or CL. A 16-bit count above 16 leaves the result
    // undefined (SDM SHLD): 16-bit forms use only immediates up to 16.
    bool right = rng.chance(50);
    bool by_cl = size != 2 && rng.chance(50);
    Instruction i = sized(size, {}, {0x0F, uint8_t((right ? 0xAC : 0xA4) + (by_cl ? 1 : 0))});
    i.reg = b.any_reg();
    i.rm = pick_rm(b, size, false, 50, 1, by_cl ? (1u << 1) : 0);
    unsigned count = 0;
    if (!by_cl) {
      count = unsigned(size == 2 ? rng.below(17) : rng.below(256));
      i.imm = count;
      i.imm_size = 1;
    }
    unsigned masked = count & (size == 8 ? 63 : 31);
    FlagEffect fx;
    if (by_cl) {
      fx = {0, 0, kOF | kAF | kCF | kSF | kZF | kPF};  // count unknown: maybe unchanged, maybe set
      fx.undefined = kOF | kAF;
    } else if (masked == 0) {
      fx = kNoFlags;
    } else {
      fx = {0, kCF | kSF | kZF | kPF, kAF};
      if (masked == 1) fx.defined |= kOF; else fx.undefined |= kOF;
    }
    b.add(i, Family::Shift, fx);
    return;
  }
  // D0/D1 (by 1), C0/C1 ib, D2/D3 (by CL); /0 rol /1 ror /2 rcl /3 rcr /4 shl /5 shr
  // /6 sal (an alias of shl) /7 sar.
  unsigned op = unsigned(rng.below(8));
  if (op == 6 && rng.chance(70)) op = 4;
  unsigned form = unsigned(rng.below(3));
  Instruction i;
  unsigned count = 1;
  if (form == 0) {
    i = sized(size, {0xD0}, {0xD1});
  } else if (form == 1) {
    i = sized(size, {0xC0}, {0xC1});
    count = unsigned(rng.chance(50) ? rng.below(size * 8 + 2) : rng.below(256));
    i.imm = count;
    i.imm_size = 1;
  } else {
    i = sized(size, {0xD2}, {0xD3});
  }
  i.reg = op;
  // A CL count must not be overwritten by a base register load.
  i.rm = pick_rm(b, size, legacy, 50, 1, form == 2 ? (1u << 1) : 0);
  bool rotate = op < 4;
  unsigned masked = count & (size == 8 ? 63 : 31);
  FlagEffect fx;
  if (op == 2 || op == 3) fx.reads = kCF;
  if (form == 2) {
    // Count unknown: the written flags may be defined or unchanged; OF (and AF for
    // shifts) are undefined unless the count is 1 (SDM SAL/SAR/SHL/SHR, RCL/RCR/ROL/ROR).
    fx.undefined = rotate ? kOF : (kOF | kAF);
  } else if (masked == 0) {
    // No flag changes at all for a masked count of 0.
  } else if (rotate) {
    fx.defined = kCF;
    if (masked == 1) fx.defined |= kOF; else fx.undefined = kOF;
  } else {
    fx.defined = kCF | kSF | kZF | kPF;
    fx.undefined = kAF;
    if (masked == 1) fx.defined |= kOF; else fx.undefined |= kOF;
    // SHL/SHR by a count at least the operand width: CF is undefined (SDM SAL/SAR/SHL/SHR).
    if (masked >= size * 8 && op != 7) {
      fx.defined &= ~kCF;
      fx.undefined |= kCF;
    }
  }
  b.add(i, Family::Shift, fx);
}

// ---- mul / div -------------------------------------------------------------

void gen_muldiv(SequenceBuilder& b) {
  Rng& rng = b.rng();
  unsigned size = random_size(rng);
  unsigned kind = unsigned(rng.below(6));
  const uint32_t rax_rdx = (1u << 0) | (1u << 2);
  if (kind <= 1) {
    // mul / imul r/m (F6/F7 /4 /5): CF, OF defined; SF ZF AF PF undefined.
    Instruction i = sized(size, {0xF6}, {0xF7});
    i.reg = 4 + kind;
    i.rm = pick_rm(b, size, false);
    b.add(i, Family::MulDiv, {0, kCF | kOF, kSF | kZF | kAF | kPF});
  } else if (kind == 2 && size != 1) {
    // imul r, r/m (0F AF)
    Instruction i = sized(size, {}, {0x0F, 0xAF});
    i.reg = b.any_reg();
    i.rm = pick_rm(b, size, false);
    b.add(i, Family::MulDiv, {0, kCF | kOF, kSF | kZF | kAF | kPF});
  } else if (kind == 3 && size != 1) {
    // imul r, r/m, imm8 (6B) / imm16/32 (69)
    bool short_imm = rng.chance(50);
    Instruction i = sized(size, {}, {uint8_t(short_imm ? 0x6B : 0x69)});
    i.reg = b.any_reg();
    i.rm = pick_rm(b, size, false);
    i.imm = rng.interesting();
    i.imm_size = short_imm ? 1 : unsigned(imm_bytes_for(size));
    b.add(i, Family::MulDiv, {0, kCF | kOF, kSF | kZF | kAF | kPF});
  } else {
    // div / idiv r/m (F6/F7 /6 /7): all flags undefined. The divisor is made
    // non-zero and the dividend's high half small (zero or the sign extension) so
    // that #DE is rare; the rest of the time it is the CPU's to raise.
    bool is_signed = rng.chance(50);
    Operand divisor = pick_rm(b, size, false, 50, 1, rax_rdx);
    if (rng.chance(95)) {
      Instruction o = sized(size, {0x80}, {0x83});
      o.reg = 1;  // or r/m, imm8
      o.rm = divisor;
      o.imm = 1u << rng.below(7);
      o.imm_size = 1;
      b.setup(o, kLogic);
    }
    if (rng.chance(97)) {
      if (is_signed) {
        // cbw / cwd / cdq / cqo
        std::vector<uint8_t> ext = size == 1 ? std::vector<uint8_t>{0x66, 0x98}
                                   : size == 2 ? std::vector<uint8_t>{0x66, 0x99}
                                   : size == 4 ? std::vector<uint8_t>{0x99}
                                               : std::vector<uint8_t>{0x48, 0x99};
        b.raw(ext, Family::Setup);
      } else if (size == 1) {
        b.raw({0x0F, 0xB6, 0xC0}, Family::Setup);  // movzx eax, al: AH = 0
      } else {
        b.raw({0x31, 0xD2}, Family::Setup, kLogic);  // xor edx, edx
      }
    }
    Instruction i = sized(size, {0xF6}, {0xF7});
    i.reg = is_signed ? 7 : 6;
    i.rm = divisor;
    b.add(i, Family::MulDiv, {0, 0, kAllFlags});
  }
}

// ---- bit -------------------------------------------------------------------

void gen_bit(SequenceBuilder& b) {
  Rng& rng = b.rng();
  unsigned size = 2u << rng.below(3);  // 2, 4, 8
  unsigned kind = unsigned(rng.below(8));
  if (kind < 4) {
    // bt / bts / btr / btc: CF defined; OF SF AF PF undefined; ZF unchanged.
    unsigned op = unsigned(rng.below(4));
    FlagEffect fx{0, kCF, kOF | kSF | kAF | kPF};
    Instruction i;
    if (rng.chance(50)) {
      // r/m, imm8 (0F BA /4../7): the offset is taken modulo the operand width.
      i = sized(size, {}, {0x0F, 0xBA});
      i.reg = 4 + op;
      i.rm = pick_rm(b, size, false);
      i.imm = rng.below(256);
      i.imm_size = 1;
    } else {
      // r/m, r (0F A3/AB/B3/BB): with memory, the register is a signed bit offset
      // that may reach other bytes (SDM BT); it is loaded with a small value.
      static const uint8_t ops[] = {0xA3, 0xAB, 0xB3, 0xBB};
      i = sized(size, {}, {0x0F, ops[op]});
      i.reg = b.any_reg();
      if (rng.chance(50)) {
        b.load_reg_signed(i.reg, int32_t(rng.below(2048)) - 1024);
        i.rm = Operand::m(b.mem(size, 1, 1u << i.reg, false, kDataGpa, kDataSize, 0x100));
      } else {
        i.rm = Operand::r(b.any_reg());
      }
    }
    if (op != 0 && i.rm.is_mem && rng.chance(30)) i.prefixes.insert(i.prefixes.begin(), 0xF0);
    b.add(i, Family::Bit, fx);
  } else if (kind < 6) {
    // bsf / bsr: ZF defined; CF OF SF AF PF undefined. With a zero source the
    // destination is unchanged on this host's CPUs (the AMD APM defines it so; the
    // Intel SDM calls it undefined).
    Instruction i = sized(size, {}, {0x0F, uint8_t(kind == 4 ? 0xBC : 0xBD)});
    i.reg = b.any_reg();
    i.rm = pick_rm(b, size, false);
    b.add(i, Family::Bit, {0, kZF, kCF | kOF | kSF | kAF | kPF});
  } else {
    // popcnt (all flags defined), lzcnt / tzcnt (CF ZF defined, the rest undefined).
    unsigned which = unsigned(rng.below(3));
    if (which == 0 && !b.options().popcnt) which = 1;
    if (which == 1 && !b.options().lzcnt) which = 2;
    if (which == 2 && !b.options().tzcnt) which = 0;
    if (which == 0 && !b.options().popcnt) return;
    static const uint8_t ops[] = {0xB8, 0xBD, 0xBC};
    Instruction i = sized(size, {}, {0x0F, ops[which]});
    i.prefixes.push_back(0xF3);
    i.reg = b.any_reg();
    i.rm = pick_rm(b, size, false);
    FlagEffect fx = which == 0 ? kArith : FlagEffect{0, kCF | kZF, kOF | kSF | kAF | kPF};
    b.add(i, Family::Bit, fx);
  }
}

// ---- cmov / setcc / jcc / loop ----------------------------------------------

// A flag-writing filler instruction (add r64, r64: every flag defined) for branch
// bodies.
Instruction filler(SequenceBuilder& b) {
  Instruction i;
  i.rex_w = true;
  i.opcode = {0x01};
  i.reg = b.any_reg(1u << 1);
  i.rm = Operand::r(b.any_reg(1u << 1));
  return i;
}

void gen_cond(SequenceBuilder& b) {
  Rng& rng = b.rng();
  unsigned kind = unsigned(rng.below(8));
  unsigned cc = unsigned(rng.below(16));
  if (kind < 2) {
    // cmovcc r, r/m (0F 40+cc)
    unsigned size = 2u << rng.below(3);
    Instruction i = sized(size, {}, {0x0F, uint8_t(0x40 + cc)});
    i.reg = b.any_reg();
    i.rm = pick_rm(b, size, false);
    b.add(i, Family::Cond, {kAllFlags, 0, 0});
  } else if (kind < 4) {
    // setcc r/m8 (0F 90+cc /0)
    bool legacy = rng.chance(25);
    Instruction i = sized(1, {0x0F, uint8_t(0x90 + cc)}, {});
    i.reg = 0;
    i.rm = pick_rm(b, 1, legacy);
    b.add(i, Family::Cond, {kAllFlags, 0, 0});
  } else if (kind < 6) {
    // jcc rel8 / rel32 / jmp rel8 forward over a filler.
    bool near = rng.chance(30);
    bool uncond = rng.chance(10);
    Instruction body = filler(b);
    X86Encoder probe(0);
    unsigned body_len = probe.emit(body);
    if (b.undefined()) b.define_all_flags();
    size_t first = b.tag_count();
    if (uncond)
      b.raw({0xEB, uint8_t(body_len)}, Family::Cond);
    else if (near)
      b.raw({0x0F, uint8_t(0x80 + cc), uint8_t(body_len), 0, 0, 0}, Family::Cond, {kAllFlags, 0, 0});
    else
      b.raw({uint8_t(0x70 + cc), uint8_t(body_len)}, Family::Cond, {kAllFlags, 0, 0});
    uint64_t before = b.undefined();
    b.add(body, Family::Setup, kArith);
    b.set_undefined(before | b.undefined());  // the union of the taken and fall-through paths
    b.record_undefined();
    b.no_cut_since(first);
  } else if (kind == 6) {
    // loop / loope / loopne back over a filler, RCX = 1..6.
    b.load_reg(1, uint32_t(1 + rng.below(6)));
    uint64_t top = b.encoder().pc();
    size_t first = b.tag_count();
    Instruction body = filler(b);
    b.add(body, Family::Setup, kArith);
    uint8_t op = uint8_t(0xE0 + rng.below(3));  // E0 loopne, E1 loope, E2 loop
    int64_t rel = int64_t(top) - int64_t(b.encoder().pc() + 2);
    b.raw({op, uint8_t(int8_t(rel))}, Family::Cond, {op == 0xE2 ? 0 : kZF, 0, 0});
    b.no_cut_since(first);
  } else {
    // jrcxz / jecxz (67 E3) forward over a filler; RCX zero half of the time.
    if (rng.chance(50)) b.load_reg(1, rng.chance(50) ? 0 : uint32_t(rng.below(4)));
    Instruction body = filler(b);
    X86Encoder probe(0);
    unsigned body_len = probe.emit(body);
    size_t first = b.tag_count();
    if (rng.chance(30))
      b.raw({0x67, 0xE3, uint8_t(body_len)}, Family::Cond);
    else
      b.raw({0xE3, uint8_t(body_len)}, Family::Cond);
    uint64_t before = b.undefined();
    b.add(body, Family::Setup, kArith);
    b.set_undefined(before | b.undefined());
    b.record_undefined();
    b.no_cut_since(first);
  }
}

// ---- string ------------------------------------------------------------------

void gen_string(SequenceBuilder& b) {
  Rng& rng = b.rng();
  if (rng.chance(15)) {
    b.raw({uint8_t(rng.chance(50) ? 0xFC : 0xFD)}, Family::String);  // cld / std
    return;
  }
  unsigned size = random_size(rng);
  // movs A4, cmps A6, stos AA, lods AC, scas AE (+1 for the word forms).
  static const uint8_t ops[] = {0xA4, 0xA6, 0xAA, 0xAC, 0xAE};
  unsigned which = unsigned(rng.below(5));
  bool compares = which == 1 || which == 4;
  // RSI / RDI in the middle of the data area, so 16 elements of 8 bytes fit either way.
  b.load_reg(6, uint32_t(kDataGpa + 0x200 + rng.below(kDataSize - 0x400)));
  b.load_reg(7, uint32_t(kDataGpa + 0x200 + rng.below(kDataSize - 0x400)));
  Instruction i = sized(size, {ops[which]}, {uint8_t(ops[which] + 1)});
  i.has_modrm = false;
  unsigned rep = unsigned(rng.below(3));  // none, F3 (rep / repe), F2 (repne)
  if (rep != 0) {
    b.load_reg(1, uint32_t(rng.below(17)));
    if (!compares && rep == 2) rep = 1;
    i.prefixes.insert(i.prefixes.begin(), rep == 1 ? 0xF3 : 0xF2);
  }
  if (rng.chance(20)) i.prefixes.insert(i.prefixes.begin(), 0x67);  // ESI/EDI/ECX
  // A repeated compare with RCX = 0 leaves the flags alone; otherwise as CMP.
  FlagEffect fx = compares ? kArith : kNoFlags;
  b.add(i, Family::String, fx);
}

// ---- xchg / cmpxchg / xadd -------------------------------------------------------

void gen_xchg(SequenceBuilder& b) {
  Rng& rng = b.rng();
  unsigned size = random_size(rng);
  unsigned kind = unsigned(rng.below(7));
  const uint32_t rax_rdx = (1u << 0) | (1u << 2);
  if (kind == 0) {
    // xchg r/m, r (86/87); with memory it is locked implicitly.
    bool legacy = size == 1 && rng.chance(25);
    Instruction i = sized(size, {0x86}, {0x87});
    i.reg = pick_reg(b, size, legacy);
    i.rm = pick_rm(b, size, legacy);
    b.add(i, Family::Xchg, kNoFlags);
  } else if (kind == 1 && size != 1) {
    // xchg rAX, r (90+r); r = 0 would be NOP.
    Instruction i = sized(size, {}, {0x90});
    i.has_modrm = false;
    i.opcode_reg = int(1 + rng.below(15));
    if (i.opcode_reg == int(kRsp)) i.opcode_reg = 3;
    b.add(i, Family::Xchg, kNoFlags);
  } else if (kind <= 3) {
    // cmpxchg r/m, r (0F B0/B1): flags as CMP. Half the time RAX is loaded with
    // the current destination so the exchange happens.
    Instruction i = sized(size, {0x0F, 0xB0}, {0x0F, 0xB1});
    i.reg = b.any_reg();
    i.rm = pick_rm(b, size, false, 50, 1, 1u << 0);
    if (rng.chance(50)) {
      Instruction load = sized(size, {0x8A}, {0x8B});  // mov rAX, r/m
      load.reg = 0;
      load.rm = i.rm;
      b.setup(load);
    }
    if (i.rm.is_mem && rng.chance(50)) i.prefixes.insert(i.prefixes.begin(), 0xF0);
    b.add(i, Family::Xchg, kArith);
  } else if (kind == 4 || kind == 1) {
    // xadd r/m, r (0F C0/C1): flags as ADD.
    Instruction i = sized(size, {0x0F, 0xC0}, {0x0F, 0xC1});
    i.reg = b.any_reg();
    i.rm = pick_rm(b, size, false);
    if (i.rm.is_mem && rng.chance(50)) i.prefixes.insert(i.prefixes.begin(), 0xF0);
    b.add(i, Family::Xchg, kArith);
  } else {
    // cmpxchg8b m64 / cmpxchg16b m128 (0F C7 /1): ZF defined, others unchanged.
    // CMPXCHG16B needs a 16-byte aligned operand (else #GP).
    bool wide = kind == 6;
    MemOperand m = b.mem(wide ? 16 : 8, wide ? 16 : 1, rax_rdx | (1u << 1) | (1u << 3));
    if (rng.chance(50)) {
      // edx:eax / rdx:rax = the current value, so the exchange happens.
      Instruction lo;
      lo.rex_w = wide;
      lo.opcode = {0x8B};
      lo.reg = 0;
      lo.rm = Operand::m(m);
      b.setup(lo);
      Instruction hi = lo;
      hi.reg = 2;
      if (hi.rm.mem.rip_relative)
        hi.rm.mem.rip_target += wide ? 8 : 4;
      else
        hi.rm.mem.disp += wide ? 8 : 4;
      b.setup(hi);
    }
    Instruction i;
    i.rex_w = wide;
    i.opcode = {0x0F, 0xC7};
    i.reg = 1;
    i.rm = Operand::m(m);
    if (rng.chance(50)) i.prefixes.push_back(0xF0);
    b.add(i, Family::Xchg, {0, kZF, 0});
  }
}

// ---- lea -------------------------------------------------------------------------

void gen_lea(SequenceBuilder& b) {
  Rng& rng = b.rng();
  unsigned size = 2u << rng.below(3);
  // LEA computes the address only, so any register values will do, RSP included.
  Instruction i = sized(size, {}, {0x8D});
  i.reg = b.any_reg();
  MemOperand m;
  unsigned form = unsigned(rng.below(6));
  if (form == 0) {
    m.rip_relative = true;
    m.rip_target = kCodeGpa + rng.below(0x100000);
  } else {
    m.base = form == 1 ? kNoReg : int(rng.below(16));
    if (rng.chance(60) || m.base == kNoReg) {
      m.index = int(rng.below(16));
      if (m.index == int(kRsp)) m.index = kNoReg;
      m.scale = 1u << rng.below(4);
    }
    m.disp = int32_t(rng.chance(50) ? int64_t(rng.below(256)) - 128 : int64_t(uint32_t(rng.next())));
  }
  i.rm = Operand::m(m);
  if (!m.rip_relative && rng.chance(25)) i.prefixes.push_back(0x67);  // 32-bit address
  b.add(i, Family::Lea, kNoFlags);
}

// ---- movzx / movsx / movsxd / bswap / mov ---------------------------------------------

void gen_movx(SequenceBuilder& b) {
  Rng& rng = b.rng();
  unsigned kind = unsigned(rng.below(7));
  if (kind <= 1) {
    // movzx / movsx r, r/m8 (0F B6/BE) or r/m16 (0F B7/BF)
    bool from16 = rng.chance(50);
    unsigned size = from16 ? (4u << rng.below(2)) : (2u << rng.below(3));
    bool legacy = !from16 && size != 8 && rng.chance(25);
    Instruction i = sized(size, {}, {0x0F, uint8_t((kind == 0 ? 0xB6 : 0xBE) + (from16 ? 1 : 0))});
    i.reg = legacy ? unsigned(rng.below(8)) : b.any_reg();
    if (legacy && i.reg == kRsp) i.reg = 0;
    i.byte_regs = false;
    if (from16) {
      i.rm = pick_rm(b, 2, false);
    } else if (rng.chance(50)) {
      i.rm = Operand::m(b.mem(1, 1, 0, legacy));
    } else {
      // The source is a byte register: SPL..DIL need REX, AH..BH forbid it.
      // (byte_regs also applies to the destination field, where a REX prefix the
      // source needs changes nothing.)
      unsigned src = legacy ? pick_reg(b, 1, true) : b.any_reg();
      i.rm = Operand::r(src);
      i.byte_regs = !legacy;
    }
    b.add(i, Family::Movx, kNoFlags);
  } else if (kind == 2) {
    // movsxd r64, r/m32 (REX.W 63)
    Instruction i = sized(8, {}, {0x63});
    i.reg = b.any_reg();
    i.rm = pick_rm(b, 4, false);
    b.add(i, Family::Movx, kNoFlags);
  } else if (kind == 3) {
    // bswap r32 / r64 (0F C8+r)
    Instruction i = sized(rng.chance(50) ? 4 : 8, {}, {0x0F, 0xC8});
    i.has_modrm = false;
    i.opcode_reg = int(b.any_reg());
    b.add(i, Family::Movx, kNoFlags);
  } else if (kind == 4) {
    // mov r/m, r (88/89) and mov r, r/m (8A/8B)
    unsigned size = random_size(rng);
    bool legacy = size == 1 && rng.chance(25);
    bool load = rng.chance(50);
    Instruction i = sized(size, {uint8_t(load ? 0x8A : 0x88)}, {uint8_t(load ? 0x8B : 0x89)});
    i.reg = pick_reg(b, size, legacy);
    i.rm = pick_rm(b, size, legacy);
    b.add(i, Family::Movx, kNoFlags);
  } else if (kind == 5) {
    // mov r, imm (B0+r ib / B8+r iw/id/io) and mov r/m, imm (C6/C7 /0)
    unsigned size = random_size(rng);
    Instruction i;
    if (rng.chance(50)) {
      i = sized(size, {0xB0}, {0xB8});
      i.has_modrm = false;
      i.opcode_reg = int(b.any_reg());
      i.imm_size = size;
    } else {
      i = sized(size, {0xC6}, {0xC7});
      i.reg = 0;
      i.rm = pick_rm(b, size, false);
      i.imm_size = unsigned(imm_bytes_for(size));
    }
    i.imm = rng.interesting();
    b.add(i, Family::Movx, kNoFlags);
  } else {
    // mov AL/AX/EAX/RAX <-> moffs64 (A0-A3)
    unsigned size = random_size(rng);
    bool store = rng.chance(50);
    Instruction i = sized(size, {uint8_t(store ? 0xA2 : 0xA0)}, {uint8_t(store ? 0xA3 : 0xA1)});
    i.has_modrm = false;
    i.imm = kDataGpa + rng.below(kDataSize - 8);
    i.imm_size = 8;
    b.add(i, Family::Movx, kNoFlags);
  }
}

// ---- push / pop / call / ret / enter / leave ---------------------------------------

void gen_stack(SequenceBuilder& b) {
  Rng& rng = b.rng();
  unsigned kind = unsigned(rng.below(10));
  const uint32_t rsp_rbp = (1u << kRsp) | (1u << 5);
  switch (kind) {
    case 0: {  // push r64 / r16 (50+r), pop r64 / r16 (58+r); not RSP
      Instruction i;
      if (rng.chance(20)) i.prefixes.push_back(0x66);
      i.has_modrm = false;
      i.opcode = {uint8_t(rng.chance(50) ? 0x50 : 0x58)};
      i.opcode_reg = int(b.any_reg());
      b.add(i, Family::Stack, kNoFlags);
      break;
    }
    case 1: {  // push imm8 (6A) / imm32 (68), sign-extended to 64 bits
      bool short_imm = rng.chance(50);
      Instruction i;
      i.has_modrm = false;
      i.opcode = {uint8_t(short_imm ? 0x6A : 0x68)};
      i.imm = rng.interesting();
      i.imm_size = short_imm ? 1 : 4;
      b.add(i, Family::Stack, kNoFlags);
      break;
    }
    case 2: {  // push r/m64 (FF /6), pop r/m64 (8F /0)
      bool push = rng.chance(50);
      Instruction i;
      i.opcode = {uint8_t(push ? 0xFF : 0x8F)};
      i.reg = push ? 6 : 0;
      i.rm = rng.chance(60) ? Operand::m(b.mem(8)) : Operand::r(b.any_reg());
      b.add(i, Family::Stack, kNoFlags);
      break;
    }
    case 3: {  // call rel32 to f; jmp over; f: ret [imm16]; over:
      bool with_imm = rng.chance(30);
      unsigned ret_len = with_imm ? 3 : 1;
      size_t first = b.tag_count();
      b.raw({0xE8, 2, 0, 0, 0}, Family::Stack);
      b.raw({0xEB, uint8_t(ret_len)}, Family::Setup);
      if (with_imm)
        b.raw({0xC2, uint8_t(8 * rng.below(5)), 0}, Family::Stack);
      else
        b.raw({0xC3}, Family::Stack);
      b.no_cut_since(first);
      break;
    }
    case 4: {  // call r/m64 (FF /2) to f; jmp over; f: ret; over:
      unsigned target_reg = b.any_reg();
      // mov r32, f (5 or 6 bytes), call r (2 or 3), jmp (2): f is after all of them.
      unsigned mov_len = target_reg >= 8 ? 6 : 5;
      unsigned call_len = target_reg >= 8 ? 3 : 2;
      uint64_t f = b.encoder().pc() + mov_len + call_len + 2;
      b.load_reg(target_reg, uint32_t(f));
      size_t first = b.tag_count();
      Instruction call;
      call.opcode = {0xFF};
      call.reg = 2;
      call.rm = Operand::r(target_reg);
      b.add(call, Family::Stack, kNoFlags);
      b.raw({0xEB, 1}, Family::Setup);
      b.raw({0xC3}, Family::Stack);
      b.no_cut_since(first);
      break;
    }
    case 5: {  // enter imm16, level (C8 iw ib); leave (C9) half of the time
      unsigned level = rng.chance(60) ? 0 : unsigned(1 + rng.below(3));
      if (level > 0) b.load_reg(5, uint32_t(kStackGpa + 0x900 + 8 * rng.below(64)));  // RBP in the stack page
      Instruction i;
      i.has_modrm = false;
      i.opcode = {0xC8};
      i.imm = 8 * rng.below(32);
      i.imm_size = 2;
      i.imm2 = level;
      i.imm2_size = 1;
      b.add(i, Family::Stack, kNoFlags);
      if (rng.chance(50)) b.raw({0xC9}, Family::Stack);
      break;
    }
    case 6: {  // leave with RBP somewhere in the stack page
      b.load_reg(5, uint32_t(kStackGpa + 0x700 + 8 * rng.below(64)));
      b.raw({0xC9}, Family::Stack);
      break;
    }
    case 7: {  // pushfq (9C): every flag read
      b.raw({0x9C}, Family::Stack, {kAllFlags, 0, 0});
      break;
    }
    default: {  // push then pop into another register
      Instruction push;
      push.has_modrm = false;
      push.opcode = {0x50};
      push.opcode_reg = int(b.any_reg());
      b.add(push, Family::Stack, kNoFlags);
      Instruction pop = push;
      pop.opcode = {0x58};
      pop.opcode_reg = int(b.any_reg(rsp_rbp));
      b.add(pop, Family::Stack, kNoFlags);
      break;
    }
  }
}

// ---- SSE / SSE2 integer, logic and moves ----------------------------------------------

void gen_sse(SequenceBuilder& b) {
  Rng& rng = b.rng();
  unsigned kind = unsigned(rng.below(10));
  auto xmm_rm = [&](unsigned size, bool aligned) -> Operand {
    if (rng.chance(40)) {
      // Always aligned where the form requires it. A misaligned operand raises #GP,
      // but under PVM a #GP from ring 3 goes through KVM's instruction emulator,
      // and for SSE instructions it does not know (PADDSB, PSHUFD, ...) the guest
      // sees #UD instead: the CPU is no reference there. The hand-written cases
      // check the #GP with MOVDQA, which that emulator knows.
      return Operand::m(b.mem(size, aligned ? 16 : 1));
    }
    return Operand::r(unsigned(rng.below(16)));
  };
  if (kind < 5) {
    // Two-operand integer and logic ops: 66 0F xx /r, xmm, xmm/m128 (aligned).
    static const uint8_t ops[] = {
        0xFC, 0xFD, 0xFE, 0xD4,              // paddb/w/d/q
        0xF8, 0xF9, 0xFA, 0xFB,              // psubb/w/d/q
        0xDC, 0xDD, 0xD8, 0xD9,              // paddusb/w, psubusb/w
        0xEC, 0xED, 0xE8, 0xE9,              // paddsb/w, psubsb/w
        0xDB, 0xDF, 0xEB, 0xEF,              // pand, pandn, por, pxor
        0x74, 0x75, 0x76, 0x64, 0x65, 0x66,  // pcmpeqb/w/d, pcmpgtb/w/d
        0x60, 0x61, 0x62, 0x6C,              // punpckl bw/wd/dq/qdq
        0x68, 0x69, 0x6A, 0x6D,              // punpckh bw/wd/dq/qdq
        0xD5, 0xE5, 0xE4, 0xF4, 0xF5,        // pmullw, pmulhw, pmulhuw, pmuludq, pmaddwd
        0x63, 0x6B, 0x67,                    // packsswb, packssdw, packuswb
        0xE0, 0xE3, 0xDA, 0xDE, 0xEA, 0xEE,  // pavgb/w, pminub, pmaxub, pminsw, pmaxsw
        0xF6,                                // psadbw
        0xF1, 0xF2, 0xF3, 0xD1, 0xD2, 0xD3,  // psllw/d/q, psrlw/d/q by xmm
        0xE1, 0xE2,                          // psraw/d by xmm
    };
    Instruction i;
    i.prefixes = {0x66};
    i.opcode = {0x0F, rng.pick(ops)};
    i.reg = unsigned(rng.below(16));
    i.rm = xmm_rm(16, true);
    b.add(i, Family::Sse, kNoFlags);
  } else if (kind == 5) {
    // Shifts by immediate: 66 0F 71/72/73 /2 /4 /6, and pslldq/psrldq (73 /7 /3).
    static const std::pair<uint8_t, uint8_t> ops[] = {{0x71, 2}, {0x71, 4}, {0x71, 6}, {0x72, 2}, {0x72, 4},
                                                      {0x72, 6}, {0x73, 2}, {0x73, 6}, {0x73, 3}, {0x73, 7}};
    auto [op, ext] = rng.pick(ops);
    Instruction i;
    i.prefixes = {0x66};
    i.opcode = {0x0F, op};
    i.reg = ext;
    i.rm = Operand::r(unsigned(rng.below(16)));
    i.imm = rng.chance(70) ? rng.below(20) : rng.below(256);
    i.imm_size = 1;
    b.add(i, Family::Sse, kNoFlags);
  } else if (kind == 6) {
    // pshufd (66), pshufhw (F3), pshuflw (F2) 0F 70 /r ib
    static const uint8_t pfx[] = {0x66, 0xF3, 0xF2};
    Instruction i;
    i.prefixes = {rng.pick(pfx)};
    i.opcode = {0x0F, 0x70};
    i.reg = unsigned(rng.below(16));
    i.rm = xmm_rm(16, true);
    i.imm = rng.below(256);
    i.imm_size = 1;
    b.add(i, Family::Sse, kNoFlags);
  } else if (kind == 7) {
    // 128-bit moves: movdqa 66 0F 6F/7F, movdqu F3 0F 6F/7F, movaps 0F 28/29,
    // movups 0F 10/11; and andps/andnps/orps/xorps (0F 54/55/56/57).
    struct Form {
      uint8_t prefix, load, store;
      bool aligned;
    };
    static const Form forms[] = {{0x66, 0x6F, 0x7F, true}, {0xF3, 0x6F, 0x7F, false}, {0, 0x28, 0x29, true},
                                 {0, 0x10, 0x11, false},   {0, 0x54, 0, true},        {0, 0x55, 0, true},
                                 {0, 0x56, 0, true},       {0, 0x57, 0, true}};
    const Form& f = rng.pick(forms);
    bool store = f.store != 0 && rng.chance(50);
    Instruction i;
    if (f.prefix) i.prefixes = {f.prefix};
    i.opcode = {0x0F, store ? f.store : f.load};
    i.reg = unsigned(rng.below(16));
    i.rm = xmm_rm(16, f.aligned);
    b.add(i, Family::Sse, kNoFlags);
  } else if (kind == 8) {
    // movd/movq between xmm and r/m32/64 (66 [REX.W] 0F 6E / 7E), movq xmm, xmm/m64
    // (F3 0F 7E), movq xmm/m64, xmm (66 0F D6).
    unsigned which = unsigned(rng.below(4));
    Instruction i;
    i.reg = unsigned(rng.below(16));
    if (which < 2) {
      i.prefixes = {0x66};
      i.rex_w = rng.chance(50);
      i.opcode = {0x0F, uint8_t(which == 0 ? 0x6E : 0x7E)};
      i.rm = rng.chance(40) ? Operand::m(b.mem(i.rex_w ? 8 : 4)) : Operand::r(b.any_reg());
    } else if (which == 2) {
      i.prefixes = {0xF3};
      i.opcode = {0x0F, 0x7E};
      i.rm = xmm_rm(8, false);
    } else {
      i.prefixes = {0x66};
      i.opcode = {0x0F, 0xD6};
      i.rm = xmm_rm(8, false);
    }
    b.add(i, Family::Sse, kNoFlags);
  } else {
    // pmovmskb r32, xmm (66 0F D7); shufps xmm, xmm/m128, ib (0F C6);
    // unpcklps / unpckhps (0F 14 / 15)
    unsigned which = unsigned(rng.below(3));
    Instruction i;
    if (which == 0) {
      i.prefixes = {0x66};
      i.opcode = {0x0F, 0xD7};
      i.reg = b.any_reg();
      i.rm = Operand::r(unsigned(rng.below(16)));
    } else if (which == 1) {
      i.opcode = {0x0F, 0xC6};
      i.reg = unsigned(rng.below(16));
      i.rm = xmm_rm(16, true);
      i.imm = rng.below(256);
      i.imm_size = 1;
    } else {
      i.opcode = {0x0F, uint8_t(rng.chance(50) ? 0x14 : 0x15)};
      i.reg = unsigned(rng.below(16));
      i.rm = xmm_rm(16, true);
    }
    b.add(i, Family::Sse, kNoFlags);
  }
}

// ---- bmi -------------------------------------------------------------------

// The registers a memory operand's address uses, as an `avoid` mask.
uint32_t address_regs(const Operand& op) {
  uint32_t m = 0;
  if (op.is_mem && op.mem.base != kNoReg) m |= 1u << op.mem.base;
  if (op.is_mem && op.mem.index != kNoReg) m |= 1u << op.mem.index;
  return m;
}

// BMI1's VEX-encoded instructions (SDM vol. 2 "ANDN", "BEXTR", "BLSI", "BLSMSK",
// "BLSR"), 32- or 64-bit (VEX.W). (Their #UD forms are hand-written cases.)
void gen_bmi(SequenceBuilder& b) {
  if (!b.options().bmi1) return;
  Rng& rng = b.rng();
  const unsigned size = rng.chance(50) ? 8 : 4;
  Instruction i;
  i.vex.on = true;
  i.vex.map = 2;  // 0F 38
  i.vex.three_byte = true;
  i.rex_w = size == 8;
  FlagEffect fx;
  switch (rng.below(3)) {
    case 0:  // andn reg, vvvv, r/m: SF ZF defined, CF OF cleared, AF PF undefined
      i.opcode = {0xF2};
      i.rm = pick_rm(b, size, false);
      i.reg = b.any_reg();
      i.vex.vvvv = b.any_reg();
      fx = {0, kCF | kZF | kSF | kOF, kAF | kPF};
      break;
    case 1: {  // bextr reg, r/m, vvvv: ZF defined, CF OF cleared, AF SF PF undefined
      i.opcode = {0xF7};
      i.rm = pick_rm(b, size, false);
      i.reg = b.any_reg();
      // A control of START = bits 7:0, LEN = bits 15:8 around the operand width
      // (random register values would almost always give 0), sometimes with junk above.
      unsigned control = unsigned(rng.below(72)) | unsigned(rng.below(72)) << 8;
      if (rng.chance(20)) control |= uint32_t(rng.next()) & 0xffff0000u;
      if (rng.chance(5)) control = uint32_t(rng.next());
      i.vex.vvvv = b.any_reg(address_regs(i.rm));
      b.load_reg(i.vex.vvvv, control);
      fx = {0, kCF | kZF | kOF, kAF | kSF | kPF};
      break;
    }
    default:  // blsr /1, blsmsk /2, blsi /3 vvvv, r/m: CF ZF SF defined, OF cleared, AF PF undefined
      i.opcode = {0xF3};
      i.rm = pick_rm(b, size, false);
      i.reg = 1 + unsigned(rng.below(3));
      i.vex.vvvv = b.any_reg();
      if (!i.rm.is_mem && rng.chance(30)) {
        // Sources of 0 and of one bit set, where CF and ZF change.
        b.load_reg(i.rm.reg, rng.chance(50) ? 0 : 1u << rng.below(32));
      }
      fx = {0, kCF | kZF | kSF | kOF, kAF | kPF};
      break;
  }
  b.add(i, Family::Bmi, fx);
}

}  // namespace

TestCase Generator::generate(Family family) {
  SequenceBuilder b(rng_, options_);
  unsigned count = unsigned(1 + rng_.below(4));
  for (unsigned n = 0; n < count; ++n) {
    switch (family) {
      case Family::Alu: gen_alu(b); break;
      case Family::Shift: gen_shift(b); break;
      case Family::MulDiv: gen_muldiv(b); break;
      case Family::Bit: gen_bit(b); break;
      case Family::Cond: gen_cond(b); break;
      case Family::String: gen_string(b); break;
      case Family::Xchg: gen_xchg(b); break;
      case Family::Lea: gen_lea(b); break;
      case Family::Movx: gen_movx(b); break;
      case Family::Stack: gen_stack(b); break;
      case Family::Sse: gen_sse(b); break;
      case Family::Bmi: gen_bmi(b); break;
      default: assert(false && "not a generated family");
    }
  }
  TestCase tc = b.finish(family);
  randomize_state(tc, rng_);
  tc.uses_sse = family == Family::Sse;
  return tc;
}

}  // namespace vireo::difftest
