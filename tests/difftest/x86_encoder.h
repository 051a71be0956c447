// X86Encoder: a small x86-64 instruction encoder for the test generator. It knows
// the general shape of an instruction (legacy prefixes, REX or VEX, opcode, ModRM,
// SIB, displacement, immediate; SDM vol. 2, chapter 2) and nothing about mnemonics: the
// generator supplies opcodes. Checked against Zydis in encoder_test.cpp.
#pragma once

#include <cstdint>
#include <vector>

namespace vireo::difftest {

// Register numbers: 0-15 in encoding order (for byte operands 4-7 are SPL, BPL,
// SIL, DIL, which need a REX prefix); kAh..kBh are the legacy high-byte registers,
// which forbid one.
constexpr unsigned kAh = 16, kCh = 17, kDh = 18, kBh = 19;
constexpr int kNoReg = -1;

struct MemOperand {
  int base = kNoReg;   // kNoReg: absolute disp32 (no base)
  int index = kNoReg;  // never 4 (RSP cannot be an index)
  unsigned scale = 1;  // 1, 2, 4, 8
  int32_t disp = 0;
  bool rip_relative = false;  // disp is then computed from rip_target
  uint64_t rip_target = 0;
};

struct Operand {
  bool is_mem = false;
  unsigned reg = 0;  // when !is_mem
  MemOperand mem;
  static Operand r(unsigned reg) { return Operand{false, reg, {}}; }
  static Operand m(const MemOperand& mem) { return Operand{true, 0, mem}; }
};

// The VEX prefix of an instruction (SDM vol. 2, 2.3.5): the opcode map replaces the
// 0F / 0F 38 / 0F 3A escapes, pp the mandatory prefix, W the REX.W.
struct VexFields {
  bool on = false;
  uint8_t map = 1;     // VEX.mmmmm: 1 = 0F, 2 = 0F 38, 3 = 0F 3A
  uint8_t pp = 0;      // 0 none, 1 = 66, 2 = F3, 3 = F2
  unsigned vvvv = 0;   // a register number (encoded inverted)
  bool l = false;      // VEX.L
  bool three_byte = false;  // C4 even where C5 would do
};

struct Instruction {
  std::vector<uint8_t> prefixes;  // legacy prefixes in order (F0, F2, F3, 66, 67, ...)
  bool rex_w = false;             // with VEX: VEX.W
  VexFields vex;                  // with vex.on, `opcode` is the one opcode byte
  bool byte_regs = false;  // register operands are byte registers (SPL.. need REX)
  std::vector<uint8_t> opcode;   // including 0F / 0F 38 / 0F 3A escapes
  bool has_modrm = true;
  unsigned reg = 0;              // ModRM.reg: a register number or an opcode extension
  Operand rm;
  int opcode_reg = kNoReg;       // "+r" forms: low 3 bits added to the last opcode byte
  uint64_t imm = 0;
  unsigned imm_size = 0;         // bytes: 0, 1, 2, 4, 8
  uint64_t imm2 = 0;             // a second immediate (ENTER's nesting level)
  unsigned imm2_size = 0;
};

class X86Encoder {
 public:
  explicit X86Encoder(uint64_t origin) : origin_(origin) {}
  uint64_t pc() const { return origin_ + bytes_.size(); }
  const std::vector<uint8_t>& bytes() const { return bytes_; }
  // Appends one instruction; returns its length.
  unsigned emit(const Instruction& insn);
  void emit_raw(const std::vector<uint8_t>& raw) { bytes_.insert(bytes_.end(), raw.begin(), raw.end()); }
  // Overwrites one byte already emitted (forward branch displacements).
  void patch8(uint64_t address, uint8_t value) { bytes_.at(address - origin_) = value; }

 private:
  uint64_t origin_;
  std::vector<uint8_t> bytes_;
};

}  // namespace vireo::difftest
