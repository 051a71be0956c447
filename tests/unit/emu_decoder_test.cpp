// The decoder against Zydis as the oracle: instruction length and effective operand
// size for thousands of random byte sequences, plus a few hand-checked encodings.
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

}  // namespace
}  // namespace vireo::emu
