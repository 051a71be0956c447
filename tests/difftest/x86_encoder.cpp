#include "difftest/x86_encoder.h"

#include <cassert>
#include <cstddef>
#include <cstdint>

namespace vireo::difftest {

namespace {

void put(std::vector<uint8_t>& out, uint64_t v, unsigned size) {
  for (unsigned i = 0; i < size; ++i) out.push_back(uint8_t(v >> (8 * i)));
}

// The 3-bit encoding of a register number and whether it needs REX (SDM vol. 2,
// 2.2.1.2): 8-15 need the REX extension bit; byte registers 4-7 need a REX prefix
// to mean SPL..DIL; AH..BH (kAh..kBh) are encoded as 4-7 and forbid REX.
struct RegCode {
  uint8_t low3;
  bool ext;
  bool needs_rex;
  bool forbids_rex;
};
RegCode reg_code(unsigned reg, bool byte_regs) {
  if (reg >= kAh) return {uint8_t(reg - kAh + 4), false, false, true};
  assert(reg < 16);
  return {uint8_t(reg & 7), reg >= 8, byte_regs && reg >= 4 && reg <= 7, false};
}

}  // namespace

unsigned X86Encoder::emit(const Instruction& in) {
  std::vector<uint8_t> out;
  out.insert(out.end(), in.prefixes.begin(), in.prefixes.end());
  uint8_t rex = in.rex_w ? 0x48 : 0;
  bool needs_rex = in.rex_w, forbids_rex = false;
  auto note = [&](const RegCode& c, uint8_t bit) {
    if (c.ext) rex |= 0x40 | bit;
    needs_rex |= c.needs_rex || c.ext;
    forbids_rex |= c.forbids_rex;
  };

  uint8_t modrm = 0;
  bool has_sib = false;
  uint8_t sib = 0;
  unsigned disp_size = 0;
  int32_t disp = 0;
  if (in.has_modrm) {
    // ModRM.reg is a register (byte or not) or an opcode extension /0-/7.
    RegCode r = reg_code(in.reg, in.byte_regs);
    note(r, 0x04);  // REX.R
    modrm = uint8_t(r.low3 << 3);
    if (!in.rm.is_mem) {
      RegCode b = reg_code(in.rm.reg, in.byte_regs);
      note(b, 0x01);  // REX.B
      modrm |= 0xC0 | b.low3;
    } else {
      const MemOperand& m = in.rm.mem;
      disp = m.disp;
      if (m.rip_relative) {
        modrm |= 0x05;  // mod 00, rm 101: RIP + disp32 (SDM vol. 2, 2.2.1.6)
        disp_size = 4;
      } else if (m.base == kNoReg) {
        // Absolute disp32: SIB with no base (base 101, mod 00), index or none (100).
        modrm |= 0x04;
        has_sib = true;
        disp_size = 4;
        uint8_t idx = 4;
        if (m.index != kNoReg) {
          RegCode x = reg_code(unsigned(m.index), false);
          note(x, 0x02);  // REX.X
          idx = x.low3;
        }
        sib = uint8_t(((m.scale == 8 ? 3 : m.scale == 4 ? 2 : m.scale == 2 ? 1 : 0) << 6) | (idx << 3) | 5);
      } else {
        RegCode b = reg_code(unsigned(m.base), false);
        note(b, 0x01);
        // mod: no displacement unless needed; base 5/13 (RBP/R13) always needs one.
        unsigned mod = (disp == 0 && b.low3 != 5) ? 0 : (disp >= -128 && disp <= 127) ? 1 : 2;
        disp_size = mod == 0 ? 0 : mod == 1 ? 1 : 4;
        modrm |= uint8_t(mod << 6);
        if (m.index != kNoReg || b.low3 == 4) {
          // SIB needed: an index, or a base of RSP/R12 (rm 100 means SIB).
          has_sib = true;
          modrm |= 0x04;
          uint8_t idx = 4;
          if (m.index != kNoReg) {
            assert(m.index != 4);
            RegCode x = reg_code(unsigned(m.index), false);
            note(x, 0x02);
            idx = x.low3;
          }
          sib = uint8_t(((m.scale == 8 ? 3 : m.scale == 4 ? 2 : m.scale == 2 ? 1 : 0) << 6) | (idx << 3) | b.low3);
        } else {
          modrm |= b.low3;
        }
      }
    }
  }
  std::vector<uint8_t> opcode = in.opcode;
  if (in.opcode_reg != kNoReg) {
    RegCode c = reg_code(unsigned(in.opcode_reg), in.byte_regs);
    note(c, 0x01);
    opcode.back() = uint8_t(opcode.back() + c.low3);
  }
  assert(!(forbids_rex && needs_rex) && "AH..BH cannot be encoded with a REX prefix");
  if (in.vex.on) {
    // R X B and vvvv inverted; the 2-byte form (C5) carries R only and means map 0F
    // with W = 0 (SDM vol. 2, 2.3.5).
    assert(!in.byte_regs && in.vex.vvvv < 16 && opcode.size() == 1);
    const uint8_t r = (rex & 4) ? 0 : 0x80, x = (rex & 2) ? 0 : 0x40, b = (rex & 1) ? 0 : 0x20;
    const uint8_t tail = uint8_t(((~in.vex.vvvv & 15) << 3) | (in.vex.l ? 4 : 0) | (in.vex.pp & 3));
    if (!in.vex.three_byte && in.vex.map == 1 && x && b && !in.rex_w) {
      out.push_back(0xC5);
      out.push_back(uint8_t(r | tail));
    } else {
      out.push_back(0xC4);
      out.push_back(uint8_t(r | x | b | (in.vex.map & 0x1f)));
      out.push_back(uint8_t((in.rex_w ? 0x80 : 0) | tail));
    }
  } else if (needs_rex) {
    out.push_back(rex | 0x40);
  }
  out.insert(out.end(), opcode.begin(), opcode.end());
  if (in.has_modrm) {
    out.push_back(modrm);
    if (has_sib) out.push_back(sib);
  }
  std::size_t disp_at = out.size();
  put(out, uint32_t(disp), disp_size);
  put(out, in.imm, in.imm_size);
  put(out, in.imm2, in.imm2_size);
  if (in.has_modrm && in.rm.is_mem && in.rm.mem.rip_relative) {
    // RIP-relative displacements count from the end of the instruction.
    int64_t rel = int64_t(in.rm.mem.rip_target) - int64_t(pc() + out.size());
    assert(rel >= INT32_MIN && rel <= INT32_MAX);
    for (unsigned i = 0; i < 4; ++i) out[disp_at + i] = uint8_t(uint64_t(rel) >> (8 * i));
  }
  bytes_.insert(bytes_.end(), out.begin(), out.end());
  return unsigned(out.size());
}

}  // namespace vireo::difftest
