#include "cpu/emu/decoder.h"

#include "cpu/cpu_state.h"

#include <array>
#include <cstring>

namespace vireo::emu {

namespace {

// Per-opcode decoding attributes.
enum Attr : uint16_t {
  kModrm = 1 << 0,
  kImmB = 1 << 1,      // ib / jb
  kImmW = 1 << 2,      // iw
  kImmZ = 1 << 3,      // iz / jz: 2 bytes with 16-bit operand size, else 4
  kImmV = 1 << 4,      // iv: the operand size (MOV r, imm64)
  kImmWB = 1 << 5,     // iw, ib (ENTER)
  kImmFarPtr = 1 << 6, // ptr16:16 / ptr16:32 (direct far CALL/JMP)
  kMoffs = 1 << 7,     // address-sized offset (MOV AL/rAX <-> moffs)
  kDef64 = 1 << 8,     // 64-bit default operand size in 64-bit mode (SDM Vol. 2 Table 2-4... push/pop)
  kForce64 = 1 << 9,   // 64-bit operand size in 64-bit mode whatever the prefixes (near branches)
  kInv64 = 1 << 10,    // invalid in 64-bit mode
  kGrp3 = 1 << 11,     // F6/F7: an immediate only for /0 and /1 (TEST)
  kRegOnly = 1 << 12,  // MOV to/from CR/DR: ModRM.mod is ignored, always a register
  kBad = 1 << 13,      // not decoded here (#UD)
};

using Table = std::array<uint16_t, 256>;

Table make_one_byte() {
  Table t{};
  for (unsigned base = 0; base < 0x40; base += 8) {
    t[base + 0] = t[base + 1] = t[base + 2] = t[base + 3] = kModrm;
    t[base + 4] = kImmB;
    t[base + 5] = kImmZ;
    t[base + 6] = t[base + 7] = kInv64;  // push/pop es cs ss ds, prefixes, daa das aaa aas
  }
  t[0x0f] = 0;  // escape, handled before the table
  for (unsigned i = 0x50; i <= 0x5f; ++i) t[i] = kDef64;
  t[0x60] = t[0x61] = kInv64;
  t[0x62] = kModrm | kInv64;
  t[0x63] = kModrm;
  t[0x68] = kImmZ | kDef64;
  t[0x69] = kModrm | kImmZ;
  t[0x6a] = kImmB | kDef64;
  t[0x6b] = kModrm | kImmB;
  for (unsigned i = 0x70; i <= 0x7f; ++i) t[i] = kImmB | kForce64;
  t[0x80] = kModrm | kImmB;
  t[0x81] = kModrm | kImmZ;
  t[0x82] = kModrm | kImmB | kInv64;
  t[0x83] = kModrm | kImmB;
  for (unsigned i = 0x84; i <= 0x8e; ++i) t[i] = kModrm;
  t[0x8f] = kModrm | kDef64;
  t[0x9a] = kImmFarPtr | kInv64;
  t[0x9c] = t[0x9d] = kDef64;
  for (unsigned i = 0xa0; i <= 0xa3; ++i) t[i] = kMoffs;
  t[0xa8] = kImmB;
  t[0xa9] = kImmZ;
  for (unsigned i = 0xb0; i <= 0xb7; ++i) t[i] = kImmB;
  for (unsigned i = 0xb8; i <= 0xbf; ++i) t[i] = kImmV;
  t[0xc0] = t[0xc1] = kModrm | kImmB;
  t[0xc2] = kImmW | kForce64;
  t[0xc3] = kForce64;
  t[0xc4] = t[0xc5] = kModrm | kInv64;  // LES/LDS; VEX in 64-bit mode (decoded before the table)
  t[0xc6] = kModrm | kImmB;
  t[0xc7] = kModrm | kImmZ;
  t[0xc8] = kImmWB | kDef64;
  t[0xc9] = kDef64;
  t[0xca] = kImmW;
  t[0xcd] = kImmB;
  t[0xce] = kInv64;
  t[0xd0] = t[0xd1] = t[0xd2] = t[0xd3] = kModrm;
  t[0xd4] = t[0xd5] = kImmB | kInv64;
  t[0xd6] = kInv64;  // SALC
  for (unsigned i = 0xd8; i <= 0xdf; ++i) t[i] = kModrm;
  for (unsigned i = 0xe0; i <= 0xe3; ++i) t[i] = kImmB | kForce64;
  t[0xe4] = t[0xe5] = t[0xe6] = t[0xe7] = kImmB;
  t[0xe8] = t[0xe9] = kImmZ | kForce64;
  t[0xea] = kImmFarPtr | kInv64;
  t[0xeb] = kImmB | kForce64;
  t[0xf6] = t[0xf7] = kModrm | kGrp3;
  t[0xfe] = t[0xff] = kModrm;
  return t;
}

Table make_0f() {
  Table t{};
  for (unsigned i = 0; i < 256; ++i) t[i] = kModrm;  // most of the map
  for (unsigned i : {0x04u, 0x0au, 0x0cu, 0x0fu, 0x24u, 0x25u, 0x26u, 0x27u, 0x36u, 0x39u, 0x3bu, 0x3cu,
                     0x3du, 0x3eu, 0x3fu, 0x7au, 0x7bu, 0xa6u, 0xa7u})
    t[i] = kBad;
  for (unsigned i : {0x05u, 0x06u, 0x07u, 0x08u, 0x09u, 0x0bu, 0x0eu, 0x30u, 0x31u, 0x32u, 0x33u, 0x34u, 0x35u, 0x37u,
                     0x77u, 0xa2u, 0xaau})
    t[i] = 0;
  for (unsigned i = 0x20; i <= 0x23; ++i) t[i] = kModrm | kRegOnly;
  t[0x38] = t[0x3a] = 0;  // escapes, handled before the table
  t[0x70] = t[0x71] = t[0x72] = t[0x73] = kModrm | kImmB;
  for (unsigned i = 0x80; i <= 0x8f; ++i) t[i] = kImmZ | kForce64;
  t[0xa0] = t[0xa1] = t[0xa8] = t[0xa9] = kDef64;
  t[0xa4] = t[0xac] = kModrm | kImmB;
  t[0xba] = kModrm | kImmB;
  t[0xc2] = t[0xc4] = t[0xc5] = t[0xc6] = kModrm | kImmB;
  for (unsigned i = 0xc8; i <= 0xcf; ++i) t[i] = 0;
  return t;
}

const Table kOneByte = make_one_byte();
const Table k0F = make_0f();

}  // namespace

DecodeStatus decode(const uint8_t* bytes, size_t avail, CpuMode mode, DecodedInsn& d) {
  d = DecodedInsn{};
  const bool m64 = mode == CpuMode::Long64;
  size_t limit = avail < 15 ? avail : 15;
  size_t pos = 0;
  uint8_t seg_override = kNoReg;
  auto need = [&](size_t n) -> DecodeStatus {
    if (pos + n <= limit) return DecodeStatus::Ok;
    return (avail >= 15 || pos + n > 15) ? DecodeStatus::TooLong : DecodeStatus::Truncated;
  };
#define VIREO_NEED(n)                                \
  do {                                               \
    DecodeStatus st_ = need(n);                      \
    if (st_ != DecodeStatus::Ok) return st_;         \
  } while (0)

  // Legacy prefixes, in any order and number (SDM Vol. 2 2.1.1); a REX prefix counts
  // only when it immediately precedes the opcode (2.2.1).
  uint8_t b;
  for (;;) {
    VIREO_NEED(1);
    b = bytes[pos];
    switch (b) {
      case 0xf0: d.prefixes |= kPrefixLock; break;
      case 0xf2: d.prefixes |= kPrefixRepne; d.last_rep = 0xf2; break;
      case 0xf3: d.prefixes |= kPrefixRep; d.last_rep = 0xf3; break;
      case 0x66: d.prefixes |= kPrefixOpSize; break;
      case 0x67: d.prefixes |= kPrefixAdSize; break;
      case 0x26: seg_override = 0; break;
      case 0x2e: seg_override = 1; break;
      case 0x36: seg_override = 2; break;
      case 0x3e: seg_override = 3; break;
      case 0x64: seg_override = 4; break;
      case 0x65: seg_override = 5; break;
      default:
        if (m64 && (b & 0xf0) == 0x40) {
          d.rex = b;
          ++pos;
          VIREO_NEED(1);
          b = bytes[pos];
          if ((b & 0xf0) == 0x40 || b == 0xf0 || b == 0xf2 || b == 0xf3 || b == 0x66 || b == 0x67 ||
              b == 0x26 || b == 0x2e || b == 0x36 || b == 0x3e || b == 0x64 || b == 0x65) {
            d.rex = 0;  // a prefix after REX: the REX is ignored; keep scanning prefixes
            continue;
          }
        }
        goto opcode;
    }
    ++pos;
  }
opcode:
  // In 64-bit mode, CS/DS/ES/SS overrides are ignored for the address (SDM Vol. 1
  // 3.3.7.1; all four bases are 0). An SS override still makes the access an SS one
  // for faults (a non-canonical address raises #SS, not #GP), while the others do not
  // take SS away from an RSP/RBP base: so only SS is kept, as the CPU shows.
  if (seg_override != kNoReg) {
    d.prefixes |= kPrefixSeg;
    if (m64 && seg_override < 4 && seg_override != 2) seg_override = kNoReg;  // 2 = SS
  }
  unsigned map = kMapOne;
  uint16_t attr;
  // C4/C5 are the 3- and 2-byte VEX prefixes in 64-bit mode; elsewhere they are LES/LDS
  // unless the next byte has the form of a register ModRM (mod == 3), which LES/LDS
  // cannot take (SDM Vol. 2 2.3.5).
  bool vex = false;
  if (b == 0xc4 || b == 0xc5) {
    VIREO_NEED(2);
    vex = m64 || (bytes[pos + 1] & 0xc0) == 0xc0;
  }
  if (vex) {
    // A VEX prefix after 66, F2, F3, LOCK or REX is #UD (SDM Vol. 2 2.3.2).
    if (d.rex || (d.prefixes & (kPrefixLock | kPrefixOpSize | kPrefixRep | kPrefixRepne)))
      return DecodeStatus::Invalid;
    // R X B are stored inverted; the 2-byte form has R only, map 0F and W = 0
    // (SDM Vol. 2 2.3.5, Figure 2-9).
    uint8_t rxb, fields;
    if (b == 0xc5) {
      fields = bytes[pos + 1];
      rxb = ((~fields >> 7) & 1) << 2;
      map = kMap0F;
      pos += 2;
    } else {
      VIREO_NEED(3);
      rxb = (~bytes[pos + 1] >> 5) & 7;
      map = bytes[pos + 1] & 0x1f;
      fields = bytes[pos + 2];
      if (map < kMap0F || map > kMap0F3A) return DecodeStatus::Invalid;  // reserved maps #UD
      rxb |= (fields >> 7) << 3;  // W
      pos += 3;
    }
    d.vvvv = (~fields >> 3) & 15;
    if (!m64) {
      // Outside 64-bit mode R and X are 1 (else this were LES/LDS) and B and the top
      // bit of vvvv are ignored (SDM Vol. 2 2.3.5.3, 2.3.5.6).
      rxb &= 8;
      d.vvvv &= 7;
    }
    d.rex = 0x40 | rxb;
    d.vex_l = (fields >> 2) & 1;
    // VEX.pp stands for the mandatory prefix 66, F3 or F2 (SDM Vol. 2 2.3.5.6).
    static constexpr uint8_t kImpliedPrefix[4] = {0, kPrefixOpSize, kPrefixRep, kPrefixRepne};
    static constexpr uint8_t kImpliedRep[4] = {0, 0, 0xf3, 0xf2};
    d.prefixes |= kImpliedPrefix[fields & 3];
    d.last_rep = kImpliedRep[fields & 3];
    VIREO_NEED(1);
    b = bytes[pos++];
    // Every VEX opcode has a ModRM but VZEROUPPER/VZEROALL (VEX.0F 77); map 0F3A
    // always has an imm8, map 0F a few (SDM Vol. 2 Appendix A, Table A-3).
    if (map == kMap0F3A) {
      attr = kModrm | kImmB;
    } else if (map == kMap0F && b == 0x77) {
      attr = 0;
    } else if (map == kMap0F && ((b >= 0x70 && b <= 0x73) || (b >= 0xc2 && b <= 0xc6 && b != 0xc3))) {
      attr = kModrm | kImmB;
    } else {
      attr = kModrm;
    }
    map |= kMapVex;
  } else {
    ++pos;  // b is the first opcode byte
    if (b == 0x0f) {
      VIREO_NEED(1);
      b = bytes[pos++];
      if (b == 0x38) {
        map = kMap0F38;
        VIREO_NEED(1);
        b = bytes[pos++];
        attr = kModrm;
      } else if (b == 0x3a) {
        map = kMap0F3A;
        VIREO_NEED(1);
        b = bytes[pos++];
        attr = kModrm | kImmB;
      } else {
        map = kMap0F;
        attr = k0F[b];
      }
    } else {
      attr = kOneByte[b];
      // 62 is EVEX in 64-bit mode, and in 32-bit mode when ModRM.mod == 3 (else BOUND);
      // 8F with ModRM.reg != 0 is XOP. Neither is implemented.
      if (b == 0x62) {
        if (m64) return DecodeStatus::Invalid;
        VIREO_NEED(1);
        if ((bytes[pos] & 0xc0) == 0xc0) return DecodeStatus::Invalid;
      }
      if (b == 0x8f) {
        VIREO_NEED(1);
        if ((bytes[pos] & 0x38) != 0) return DecodeStatus::Invalid;
      }
    }
  }
  d.op = static_cast<uint16_t>(map << 8 | b);
  if (attr & kBad) return DecodeStatus::Invalid;
  if (m64 && (attr & kInv64)) return DecodeStatus::Invalid;

  // Operand and address size (SDM Vol. 1 3.6, Vol. 2 2.2.1.2).
  if (m64) {
    if (attr & kForce64) {
      d.osize = 8;
    } else if (d.rex & 8) {
      d.osize = 8;
    } else if (d.prefixes & kPrefixOpSize) {
      d.osize = 2;
    } else {
      d.osize = (attr & kDef64) ? 8 : 4;
    }
    d.asize = (d.prefixes & kPrefixAdSize) ? 4 : 8;
  } else {
    bool big = mode == CpuMode::Prot32;
    d.osize = (big != bool(d.prefixes & kPrefixOpSize)) ? 4 : 2;
    d.asize = (big != bool(d.prefixes & kPrefixAdSize)) ? 4 : 2;
  }
  // A VEX instruction with general-register operands is 64-bit with VEX.W = 1 in 64-bit
  // mode and 32-bit otherwise: VEX.W is ignored outside 64-bit mode, and VEX.pp = 66
  // is no operand-size prefix (SDM Vol. 2 "ANDN" and the other VEX-encoded GPR
  // instructions).
  if (vex) d.osize = (m64 && (d.rex & 8)) ? 8 : 4;

  if (attr & kModrm) {
    VIREO_NEED(1);
    uint8_t modrm = bytes[pos++];
    d.has_modrm = true;
    d.modrm = modrm;
    d.mod = modrm >> 6;
    d.reg = ((modrm >> 3) & 7) | ((d.rex & 4) << 1);
    d.rm = (modrm & 7) | ((d.rex & 1) << 3);
    if (attr & kRegOnly) d.mod = 3;
    if (d.mod != 3) {
      unsigned rm = modrm & 7;
      if (d.asize == 2) {
        // 16-bit addressing (SDM Vol. 2 Table 2-1).
        static constexpr uint8_t kBase16[8] = {RBX, RBX, RBP, RBP, RSI, RDI, RBP, RBX};
        static constexpr uint8_t kIndex16[8] = {RSI, RDI, RSI, RDI, kNoReg, kNoReg, kNoReg, kNoReg};
        d.base = kBase16[rm];
        d.index = kIndex16[rm];
        unsigned disp_size = d.mod == 1 ? 1 : d.mod == 2 ? 2 : 0;
        if (d.mod == 0 && rm == 6) {
          d.base = kNoReg;
          disp_size = 2;
        }
        if (disp_size) {
          VIREO_NEED(disp_size);
          d.disp = disp_size == 1 ? int64_t(int8_t(bytes[pos])) : int64_t(int16_t(bytes[pos] | bytes[pos + 1] << 8));
          pos += disp_size;
        }
        if (d.base == RBP) d.seg = 2;
      } else {
        unsigned disp_size = d.mod == 1 ? 1 : d.mod == 2 ? 4 : 0;
        if (rm == 4) {
          VIREO_NEED(1);
          uint8_t sib = bytes[pos++];
          d.scale = sib >> 6;
          unsigned index = ((sib >> 3) & 7) | ((d.rex & 2) << 2);
          d.index = index == 4 ? kNoReg : static_cast<uint8_t>(index);
          unsigned base = sib & 7;
          if (base == 5 && d.mod == 0) {
            d.base = kNoReg;
            disp_size = 4;
          } else {
            d.base = static_cast<uint8_t>(base | ((d.rex & 1) << 3));
          }
        } else if (rm == 5 && d.mod == 0) {
          disp_size = 4;
          if (m64) {
            d.rip_relative = true;
          } else {
            d.base = kNoReg;
          }
        } else {
          d.base = d.rm;
        }
        if (disp_size) {
          VIREO_NEED(disp_size);
          if (disp_size == 1) {
            d.disp = int8_t(bytes[pos]);
          } else {
            int32_t v;
            std::memcpy(&v, bytes + pos, 4);
            d.disp = v;
          }
          pos += disp_size;
        }
        if (d.base == RSP || d.base == RBP) d.seg = 2;  // SS-relative by default
      }
    }
  }

  // Immediates.
  unsigned imm = 0;
  if (attr & kImmB) imm = 1;
  if (attr & kImmW) imm = 2;
  if (attr & kImmZ) imm = d.osize == 2 ? 2 : 4;
  if (attr & kImmV) imm = d.osize;
  if ((attr & kGrp3) && ((d.modrm >> 3) & 7) < 2) imm = (b == 0xf6) ? 1 : (d.osize == 2 ? 2 : 4);
  if (attr & kMoffs) imm = d.asize;
  // 66/F2 0F 78: EXTRQ/INSERTQ (SSE4a) carry two byte immediates.
  if (map == kMap0F && b == 0x78 && (d.last_rep == 0xf2 || (d.last_rep == 0 && (d.prefixes & kPrefixOpSize))))
    imm = 2;
  if (attr & kImmWB) {
    VIREO_NEED(3);
    d.imm = bytes[pos] | bytes[pos + 1] << 8;
    d.imm2 = bytes[pos + 2];
    d.imm_size = 3;
    pos += 3;
  } else if (attr & kImmFarPtr) {
    unsigned off = d.osize == 2 ? 2 : 4;
    VIREO_NEED(off + 2);
    uint32_t v = 0;
    std::memcpy(&v, bytes + pos, off);
    d.imm = v;
    d.imm2 = static_cast<uint16_t>(bytes[pos + off] | bytes[pos + off + 1] << 8);
    d.imm_size = static_cast<uint8_t>(off + 2);
    pos += off + 2;
  } else if (imm) {
    VIREO_NEED(imm);
    uint64_t v = 0;
    std::memcpy(&v, bytes + pos, imm);
    if (attr & kMoffs) {
      d.disp = static_cast<int64_t>(v);
    } else {
      d.imm = v;
    }
    d.imm_size = static_cast<uint8_t>(imm);
    pos += imm;
  }
#undef VIREO_NEED

  if (seg_override != kNoReg) d.seg = seg_override;
  d.len = static_cast<uint8_t>(pos);
  return DecodeStatus::Ok;
}

}  // namespace vireo::emu
