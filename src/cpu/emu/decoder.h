// The x86 instruction decoder: legacy prefixes, REX, the VEX prefix, the one-byte, 0F,
// 0F38 and 0F3A opcode maps, ModRM/SIB (32/64-bit and 16-bit forms), RIP-relative
// addressing, displacements and immediates (SDM Vol. 2 chapter 2). It decodes structure only;
// whether an opcode exists, and what it does, is the executor's business.
#pragma once

#include <cstddef>
#include <cstdint>

namespace vireo::emu {

// Operating mode as the decoder needs it (SDM Vol. 3 5.2.1 / Vol. 1 3.6).
enum class CpuMode : uint8_t {
  Long64,  // IA-32e 64-bit mode (CS.L = 1)
  Prot32,  // protected or compatibility mode with CS.D = 1
  Prot16,  // protected or compatibility mode with CS.D = 0
};

enum Prefix : uint8_t {
  kPrefixLock = 1 << 0,
  kPrefixRep = 1 << 1,     // F3 (REP / REPE, or a mandatory SSE prefix)
  kPrefixRepne = 1 << 2,   // F2 (REPNE, or a mandatory SSE prefix)
  kPrefixOpSize = 1 << 3,  // 66
  kPrefixAdSize = 1 << 4,  // 67
  kPrefixSeg = 1 << 5,     // a segment override was given
};

// Opcode maps: the legacy ones (escape bytes), and the VEX-encoded ones (SDM Vol. 2
// 2.3.6.1: VEX.mmmmm 1..3 imply 0F, 0F 38, 0F 3A) as kMapVex | mmmmm, so that a VEX
// instruction never shares a handler slot with the legacy one of the same opcode.
enum OpMap : uint8_t {
  kMapOne = 0,
  kMap0F = 1,
  kMap0F38 = 2,
  kMap0F3A = 3,
  kMapVex = 4,
  kMapVex0F = kMapVex | kMap0F,
  kMapVex0F38 = kMapVex | kMap0F38,
  kMapVex0F3A = kMapVex | kMap0F3A,
};
constexpr unsigned kOpMaps = 8;  // DecodedInsn::op < kOpMaps * 256

// "No register" for a memory operand's base or index: the interpreter keeps a register
// 16 that is always zero, so an address is disp + base + (index << scale) throughout.
constexpr uint8_t kNoReg = 16;

struct DecodedInsn {
  uint16_t op = 0;      // map << 8 | opcode byte (map: OpMap)
  uint8_t len = 0;      // total length in bytes (1..15)
  uint8_t prefixes = 0; // Prefix bits; with VEX, the prefix VEX.pp implies (66, F3, F2)
  uint8_t last_rep = 0; // 0xf2 or 0xf3: whichever came last (or VEX.pp implies), 0 when none
  uint8_t rex = 0;      // the REX byte (0x40..0x4f) or 0; with VEX, 0x40 | the W R X B it carries
  uint8_t osize = 4;    // effective operand size (2, 4, 8) for v-sized operands
  uint8_t asize = 8;    // effective address size (2, 4, 8)
  uint8_t seg = 3;      // segment of the memory operand (SegReg; DS unless overridden or SS-based)
  bool has_modrm = false;
  uint8_t modrm = 0;
  uint8_t mod = 0;      // ModRM.mod
  uint8_t reg = 0;      // ModRM.reg with REX.R
  uint8_t rm = 0;       // ModRM.rm with REX.B (a register when mod == 3)
  uint8_t base = kNoReg;   // memory operand base register, kNoReg for none
  uint8_t index = kNoReg;  // memory operand index register, kNoReg for none
  uint8_t scale = 0;       // index shift (0..3)
  bool rip_relative = false;
  uint8_t imm_size = 0;
  uint8_t vvvv = 0;     // VEX.vvvv as a register number (un-inverted; 0 without VEX)
  bool vex_l = false;   // VEX.L
  int64_t disp = 0;
  uint64_t imm = 0;     // first immediate, zero-extended (sign-extension is per instruction)
  uint16_t imm2 = 0;    // ENTER's second immediate, far pointer selector

  unsigned map() const { return op >> 8; }
  uint8_t opcode() const { return op & 0xff; }
  bool vex() const { return map() & kMapVex; }
  bool mem() const { return has_modrm && mod != 3; }
  bool has(Prefix p) const { return prefixes & p; }
  // For byte-sized register operands: without REX, 4..7 are AH CH DH BH.
  bool rex_present() const { return rex != 0; }
  bool rex_w() const { return rex & 8; }
  // SSE mandatory prefix selector: 0 none, 1 = 66, 2 = F3, 3 = F2 (the last of F2/F3
  // wins); for VEX, VEX.pp.
  unsigned sse_prefix() const {
    if (last_rep == 0xf3) return 2;
    if (last_rep == 0xf2) return 3;
    return has(kPrefixOpSize) ? 1 : 0;
  }
};

enum class DecodeStatus : uint8_t {
  Ok,
  Truncated,  // more bytes are needed than were available (fetch the next page and retry)
  TooLong,    // longer than 15 bytes: #GP(0) (SDM Vol. 2 2.3.11)
  Invalid,    // an encoding this decoder does not take (EVEX/XOP, 3DNow!, invalid in mode): #UD
};

// The interpreter keeps DecodedInsns in its block cache: VEX's fields fit in what was
// padding.
static_assert(sizeof(DecodedInsn) <= 48, "DecodedInsn grew");

// Decodes one instruction from `bytes` (at most `avail` of them are readable).
DecodeStatus decode(const uint8_t* bytes, size_t avail, CpuMode mode, DecodedInsn& out);

}  // namespace vireo::emu
