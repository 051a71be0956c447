// The decoder against Zydis as the oracle: instruction length and effective operand
// size for thousands of random byte sequences, the fields of random VEX encodings,
// plus a few hand-checked encodings.
#include <Zydis/Zydis.h>
#include <gtest/gtest.h>

#include <fmt/format.h>

#include <random>

#include "cpu/emu/decoder.h"

namespace vireo::emu {
namespace {

DecodedInsn decode_ok(std::initializer_list<uint8_t> bytes, CpuMode mode = CpuMode::Long64) {
  std::vector<uint8_t> v(bytes);
  DecodedInsn d;
  EXPECT_EQ(decode(v.data(), v.size(), mode, d), DecodeStatus::Ok);
  return d;
}

TEST(EmuDecoder, HandCheckedEncodings) {
  // mov rax, imm64: REX.W B8 + 8 bytes.
  DecodedInsn d = decode_ok({0x48, 0xb8, 1, 2, 3, 4, 5, 6, 7, 8});
  EXPECT_EQ(d.len, 10);
  EXPECT_EQ(d.osize, 8);
  EXPECT_EQ(d.imm, 0x0807060504030201ull);
  // lea rax, [rip + 0x10]
  d = decode_ok({0x48, 0x8d, 0x05, 0x10, 0, 0, 0});
  EXPECT_EQ(d.len, 7);
  EXPECT_TRUE(d.rip_relative);
  EXPECT_EQ(d.disp, 0x10);
  // mov r12d, [r13 + r14*8 - 4]: REX.RXB 44+2+1 = 47, 8B 64 F5 FC
  d = decode_ok({0x47, 0x8b, 0x64, 0xf5, 0xfc});
  EXPECT_EQ(d.reg, 12);
  EXPECT_EQ(d.base, 13);
  EXPECT_EQ(d.index, 14);
  EXPECT_EQ(d.scale, 3);
  EXPECT_EQ(d.disp, -4);
  EXPECT_EQ(d.seg, 3);  // r13 is not an SS-relative base
  // push rbp is 64-bit by default; 66 makes it 16-bit.
  EXPECT_EQ(decode_ok({0x55}).osize, 8);
  EXPECT_EQ(decode_ok({0x66, 0x55}).osize, 2);
  // jmp rel32 ignores 66 in 64-bit mode (Intel).
  EXPECT_EQ(decode_ok({0x66, 0xe9, 0, 0, 0, 0}).len, 6);
  // 32-bit mode: 40 is INC EAX, not REX; EA is a far jump with ptr16:32.
  EXPECT_EQ(decode_ok({0x40}, CpuMode::Prot32).len, 1);
  d = decode_ok({0xea, 0x78, 0x56, 0x34, 0x12, 0x08, 0x00}, CpuMode::Prot32);
  EXPECT_EQ(d.len, 7);
  EXPECT_EQ(d.imm, 0x12345678u);
  EXPECT_EQ(d.imm2, 8);
  // mov cr3, rax ignores ModRM.mod.
  EXPECT_EQ(decode_ok({0x0f, 0x22, 0x18}).len, 3);
  EXPECT_EQ(decode_ok({0x0f, 0x22, 0x18}).mod, 3);
  // 16 bytes of prefixes are too long.
  std::vector<uint8_t> longer(16, 0x66);
  DecodedInsn x;
  EXPECT_EQ(decode(longer.data(), longer.size(), CpuMode::Long64, x), DecodeStatus::TooLong);
  // Truncated when the bytes run out before 15.
  uint8_t part[] = {0x48, 0xb8, 1, 2};
  EXPECT_EQ(decode(part, sizeof part, CpuMode::Long64, x), DecodeStatus::Truncated);
}

struct Mismatch {
  std::vector<uint8_t> bytes;
  unsigned ours, zydis;
};

void compare_with_zydis(ZydisMachineMode zmode, ZydisStackWidth width, CpuMode mode, unsigned seed) {
  ZydisDecoder zd;
  ASSERT_EQ(ZydisDecoderInit(&zd, zmode, width), ZYAN_STATUS_SUCCESS);
  std::mt19937 rng(seed);
  static constexpr uint8_t kPrefixes[] = {0x66, 0x67, 0xf2, 0xf3, 0xf0, 0x2e, 0x64, 0x65, 0x36};
  unsigned compared = 0, osize_checked = 0;
  std::vector<std::string> failures;
  for (int iter = 0; iter < 20000; ++iter) {
    uint8_t buf[16];
    for (auto& b : buf) b = static_cast<uint8_t>(rng());
    // Bias towards realistic shapes: a few prefixes, maybe REX, maybe an escape.
    unsigned pos = 0;
    unsigned nprefix = rng() % 3;
    for (unsigned i = 0; i < nprefix; ++i) buf[pos++] = kPrefixes[rng() % sizeof kPrefixes];
    if (mode == CpuMode::Long64 && rng() % 2) buf[pos++] = static_cast<uint8_t>(0x40 | (rng() & 15));
    unsigned esc = rng() % 4;
    if (esc >= 1) buf[pos++] = 0x0f;
    if (esc == 2) buf[pos++] = 0x38;
    if (esc == 3 && rng() % 2) buf[pos++] = 0x3a;

    ZydisDecodedInstruction zi;
    ZydisDecodedOperand zops[ZYDIS_MAX_OPERAND_COUNT];
    bool zok = ZYAN_SUCCESS(ZydisDecoderDecodeFull(&zd, buf, 15, &zi, zops));
    DecodedInsn d;
    DecodeStatus st = decode(buf, 15, mode, d);
    if (!zok) continue;
    if (zi.encoding != ZYDIS_INSTRUCTION_ENCODING_LEGACY) continue;  // VEX/EVEX/XOP/3DNow!
    ++compared;
    if (st != DecodeStatus::Ok || d.len != zi.length) {
      if (failures.size() < 20) {
        std::string s;
        for (unsigned i = 0; i < zi.length; ++i) s += fmt::format("{:02x} ", buf[i]);
        failures.push_back(fmt::format("{}: ours {} (status {}), zydis {}", s, d.len, int(st), zi.length));
      }
      continue;
    }
    // Effective operand size where the instruction has a v-sized general operand.
    bool gpr_v = (zi.attributes & ZYDIS_ATTRIB_HAS_MODRM) && zi.opcode_map == ZYDIS_OPCODE_MAP_DEFAULT &&
                 (zi.opcode == 0x01 || zi.opcode == 0x03 || zi.opcode == 0x89 || zi.opcode == 0x8b ||
                  zi.opcode == 0x85 || zi.opcode == 0x81 || zi.opcode == 0x83 || zi.opcode == 0x8d);
    if (gpr_v) {
      ++osize_checked;
      EXPECT_EQ(d.osize * 8, zi.operand_width) << "opcode " << int(zi.opcode);
    }
    EXPECT_EQ(d.asize * 8, zi.address_width);
  }
  for (const auto& f : failures) ADD_FAILURE() << f;
  EXPECT_GT(compared, 3000u);
  EXPECT_GT(osize_checked, 50u);
}

TEST(EmuDecoder, LengthsMatchZydisIn64BitMode) {
  compare_with_zydis(ZYDIS_MACHINE_MODE_LONG_64, ZYDIS_STACK_WIDTH_64, CpuMode::Long64, 1234);
}

TEST(EmuDecoder, LengthsMatchZydisIn32BitMode) {
  compare_with_zydis(ZYDIS_MACHINE_MODE_LEGACY_32, ZYDIS_STACK_WIDTH_32, CpuMode::Prot32, 99);
}

DecodeStatus decode_status(std::initializer_list<uint8_t> bytes, CpuMode mode = CpuMode::Long64) {
  std::vector<uint8_t> v(bytes);
  DecodedInsn d;
  return decode(v.data(), v.size(), mode, d);
}

TEST(EmuDecoder, HandCheckedVexEncodings) {
  // andn r9, r10, [r11 + rax]: C4 (R X B = 1 0 1 inverted: 010, map 0F38) (W1, vvvv = ~10, L0, pp 00) F2 /r
  DecodedInsn d = decode_ok({0xc4, 0x42, 0xa8, 0xf2, 0x0c, 0x03});
  EXPECT_TRUE(d.vex());
  EXPECT_EQ(d.map(), unsigned(kMapVex0F38));
  EXPECT_EQ(d.opcode(), 0xf2);
  EXPECT_EQ(d.len, 6);
  EXPECT_EQ(d.reg, 9);
  EXPECT_EQ(d.vvvv, 10);
  EXPECT_EQ(d.base, 11);
  EXPECT_EQ(d.index, 0);
  EXPECT_EQ(d.osize, 8);
  EXPECT_FALSE(d.vex_l);
  EXPECT_EQ(d.sse_prefix(), 0u);
  // blsr eax, ecx: C4 E2 78 F3 C9 (W0, vvvv = ~0 = eax, /1)
  d = decode_ok({0xc4, 0xe2, 0x78, 0xf3, 0xc9});
  EXPECT_EQ(d.osize, 4);
  EXPECT_EQ(d.vvvv, 0);
  EXPECT_EQ((d.modrm >> 3) & 7, 1);
  EXPECT_EQ(d.rm, 1);
  // The 2-byte form: vzeroupper (C5 F8 77) has no ModRM; vpxor xmm1, xmm2, xmm3 is
  // VEX.128.66.0F EF (C5 E9 EF CB); vpshufd ymm0, ymm1, 0x1b has an imm8 (C5 FD 70 C1 1B).
  d = decode_ok({0xc5, 0xf8, 0x77});
  EXPECT_EQ(d.len, 3);
  EXPECT_EQ(d.map(), unsigned(kMapVex0F));
  EXPECT_FALSE(d.has_modrm);
  d = decode_ok({0xc5, 0xe9, 0xef, 0xcb});
  EXPECT_EQ(d.vvvv, 2);
  EXPECT_EQ(d.sse_prefix(), 1u);
  d = decode_ok({0xc5, 0xfd, 0x70, 0xc1, 0x1b});
  EXPECT_EQ(d.len, 5);
  EXPECT_TRUE(d.vex_l);
  EXPECT_EQ(d.imm, 0x1bu);
  // 0F3A has an imm8: vpalignr xmm0, xmm1, xmm2, 3 (C4 E3 71 0F C2 03).
  EXPECT_EQ(decode_ok({0xc4, 0xe3, 0x71, 0x0f, 0xc2, 0x03}).len, 6);
  // 67 and segment overrides may precede VEX; 66 F2 F3 F0 and REX may not (SDM 2.3.2).
  d = decode_ok({0x67, 0x64, 0xc4, 0xe2, 0x78, 0xf2, 0x00});
  EXPECT_EQ(d.asize, 4);
  EXPECT_EQ(d.seg, 4);
  for (uint8_t p : {0x66, 0xf2, 0xf3, 0xf0, 0x40, 0x48})
    EXPECT_EQ(decode_status({p, 0xc4, 0xe2, 0x78, 0xf2, 0x00}), DecodeStatus::Invalid) << int(p);
  EXPECT_EQ(decode_status({0x66, 0xc5, 0xf8, 0x77}), DecodeStatus::Invalid);
  // Reserved maps (mmmmm 0, 4..31) are #UD; EVEX (62) stays undecoded.
  EXPECT_EQ(decode_status({0xc4, 0xe0, 0x78, 0xf2, 0x00}), DecodeStatus::Invalid);
  EXPECT_EQ(decode_status({0xc4, 0xe4, 0x78, 0xf2, 0x00}), DecodeStatus::Invalid);
  EXPECT_EQ(decode_status({0x62, 0xf1, 0x7c, 0x48, 0x58, 0xc1}), DecodeStatus::Invalid);
  // Truncated inside the VEX prefix.
  EXPECT_EQ(decode_status({0xc4, 0xe2}), DecodeStatus::Truncated);

  // 32-bit mode: C4/C5 with a memory ModRM are LES/LDS; with mod == 3 they are VEX,
  // where B and the top bit of vvvv are ignored and W does not make 64-bit operands.
  d = decode_ok({0xc4, 0x06}, CpuMode::Prot32);  // les eax, [esi]
  EXPECT_FALSE(d.vex());
  EXPECT_EQ(d.op, 0xc4);
  EXPECT_EQ(d.len, 2);
  d = decode_ok({0xc5, 0x46, 0x08}, CpuMode::Prot32);  // lds eax, [esi + 8]
  EXPECT_FALSE(d.vex());
  EXPECT_EQ(d.len, 3);
  d = decode_ok({0xc4, 0xc2, 0xb0, 0xf2, 0x01}, CpuMode::Prot32);  // andn eax, ecx, [ecx] (B = 1, vvvv bit 3 = 1, W1)
  EXPECT_TRUE(d.vex());
  EXPECT_EQ(d.base, 1);
  EXPECT_EQ(d.vvvv, 1);
  EXPECT_EQ(d.osize, 4);
  EXPECT_EQ(d.asize, 4);
  EXPECT_TRUE(d.rex_w());
  d = decode_ok({0xc4, 0xe2, 0x70, 0xf2, 0x01}, CpuMode::Prot16);  // andn eax, ecx, [bx + di]
  EXPECT_TRUE(d.vex());
  EXPECT_EQ(d.osize, 4);
  EXPECT_EQ(d.asize, 2);
}

// Random VEX encodings in both forms: length, map, opcode and every VEX field as
// Zydis reads them.
void compare_vex_with_zydis(ZydisMachineMode zmode, ZydisStackWidth width, CpuMode mode, unsigned seed) {
  ZydisDecoder zd;
  ASSERT_EQ(ZydisDecoderInit(&zd, zmode, width), ZYAN_STATUS_SUCCESS);
  const bool m64 = mode == CpuMode::Long64;
  std::mt19937 rng(seed);
  static constexpr uint8_t kAllowed[] = {0x67, 0x2e, 0x36, 0x3e, 0x26, 0x64, 0x65};
  static constexpr uint8_t kForbidden[] = {0x66, 0xf2, 0xf3, 0xf0};
  unsigned compared = 0, forbidden = 0;
  std::vector<std::string> failures;
  auto fail = [&](const uint8_t* buf, unsigned n, const std::string& what) {
    if (failures.size() >= 20) return;
    std::string s;
    for (unsigned i = 0; i < n; ++i) s += fmt::format("{:02x} ", buf[i]);
    failures.push_back(s + ": " + what);
  };
  for (int iter = 0; iter < 40000; ++iter) {
    uint8_t buf[16];
    for (auto& b : buf) b = static_cast<uint8_t>(rng());
    unsigned pos = 0;
    if (rng() % 4 == 0) buf[pos++] = kAllowed[rng() % sizeof kAllowed];
    bool bad_prefix = rng() % 10 == 0;
    if (bad_prefix) {
      buf[pos++] = (m64 && rng() % 3 == 0) ? static_cast<uint8_t>(0x40 | (rng() & 15))
                                            : kForbidden[rng() % sizeof kForbidden];
    }
    const bool three = rng() % 2;
    buf[pos++] = three ? 0xc4 : 0xc5;
    // Outside 64-bit mode, mostly the mod == 3 form that makes it VEX.
    if (!m64 && rng() % 4 != 0) buf[pos] |= 0xc0;
    if (three && rng() % 8 != 0) buf[pos] = static_cast<uint8_t>((buf[pos] & 0xe0) | (1 + rng() % 3));
    const bool is_vex = m64 || (buf[pos] & 0xc0) == 0xc0;

    DecodedInsn d;
    DecodeStatus st = decode(buf, 15, mode, d);
    if (bad_prefix && is_vex) {
      ++forbidden;
      if (st != DecodeStatus::Invalid) fail(buf, 6, "VEX after a forbidden prefix decodes");
      continue;
    }
    ZydisDecodedInstruction zi;
    ZydisDecodedOperand zops[ZYDIS_MAX_OPERAND_COUNT];
    if (!ZYAN_SUCCESS(ZydisDecoderDecodeFull(&zd, buf, 15, &zi, zops))) continue;
    // Zydis decodes VEX.0F 84/85 as Knights Corner's mask branches (a rel32, no
    // ModRM), which exist on no x86-64 CPU.
    if (zi.mnemonic == ZYDIS_MNEMONIC_JKZD || zi.mnemonic == ZYDIS_MNEMONIC_JKNZD) continue;
    if (st != DecodeStatus::Ok) {
      fail(buf, zi.length, fmt::format("status {}, zydis decodes", int(st)));
      continue;
    }
    if (d.len != zi.length) fail(buf, zi.length, fmt::format("length {}, zydis {}", d.len, zi.length));
    if (zi.encoding != ZYDIS_INSTRUCTION_ENCODING_VEX) {
      if (d.vex()) fail(buf, zi.length, "VEX, zydis legacy");
      continue;
    }
    ++compared;
    const auto& v = zi.raw.vex;  // as encoded: R X B vvvv inverted
    const unsigned hi = m64 ? 8 : 0;
    std::vector<std::string> bad;
    if (!d.vex()) bad.push_back("not VEX");
    if ((d.map() & 3) != v.m_mmmm) bad.push_back(fmt::format("map {} / {}", d.map() & 3, v.m_mmmm));
    if (d.opcode() != zi.opcode) bad.push_back("opcode");
    if (d.vvvv != (~v.vvvv & (m64 ? 15 : 7))) bad.push_back(fmt::format("vvvv {} / raw {}", d.vvvv, v.vvvv));
    if (d.vex_l != bool(v.L)) bad.push_back("L");
    if (d.rex_w() != bool(v.W)) bad.push_back("W");
    if (d.sse_prefix() != v.pp) bad.push_back("pp");
    if (d.has_modrm != bool(zi.attributes & ZYDIS_ATTRIB_HAS_MODRM)) bad.push_back("has_modrm");
    if (d.has_modrm) {
      const auto& m = zi.raw.modrm;
      if (d.reg != (m.reg | (v.R ? 0 : hi))) bad.push_back("reg");
      if (d.mod == 3 && d.rm != (m.rm | (v.B ? 0 : hi))) bad.push_back("rm");
      if (d.mod != 3 && (zi.attributes & ZYDIS_ATTRIB_HAS_SIB)) {
        const auto& sib = zi.raw.sib;
        unsigned index = sib.index | (v.X ? 0 : hi);
        if (d.index != (index == 4 ? kNoReg : index)) bad.push_back("index");
        if (!(sib.base == 5 && m.mod == 0) && d.base != (sib.base | (v.B ? 0 : hi))) bad.push_back("base");
      }
      if (d.mod != 3 && d.asize * 8 != zi.address_width) bad.push_back("address size");
    }
    if (!bad.empty()) {
      std::string what;
      for (const auto& b : bad) what += b + "; ";
      fail(buf, zi.length, what);
    }
  }
  for (const auto& f : failures) ADD_FAILURE() << f;
  EXPECT_GT(compared, 2000u);
  EXPECT_GT(forbidden, 1000u);
}

TEST(EmuDecoder, VexMatchesZydisIn64BitMode) {
  compare_vex_with_zydis(ZYDIS_MACHINE_MODE_LONG_64, ZYDIS_STACK_WIDTH_64, CpuMode::Long64, 4321);
}

TEST(EmuDecoder, VexMatchesZydisIn32BitMode) {
  compare_vex_with_zydis(ZYDIS_MACHINE_MODE_LEGACY_32, ZYDIS_STACK_WIDTH_32, CpuMode::Prot32, 77);
}

}  // namespace
}  // namespace vireo::emu
