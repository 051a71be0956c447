// The generator's encoder checked against Zydis: hand-picked encodings decode to
// the intended instruction, and every generated sequence decodes into exactly the
// instructions the generator tagged, each valid (no illegal LOCK, no bad prefix).
#include <Zydis/Zydis.h>
#include <fmt/format.h>
#include <gtest/gtest.h>

#include "difftest/disassembler.h"
#include "difftest/generator.h"
#include "difftest/x86_encoder.h"

namespace vireo::difftest {
namespace {

std::string encode_and_disassemble(const Instruction& insn, uint64_t at = kCodeGpa) {
  X86Encoder enc(at);
  unsigned len = enc.emit(insn);
  Disassembly d = disassemble(enc.bytes().data(), enc.bytes().size(), at);
  EXPECT_TRUE(d.ok);
  EXPECT_EQ(d.length, len);
  return d.text;
}

Instruction make(std::vector<uint8_t> opcode, unsigned reg, Operand rm) {
  Instruction i;
  i.opcode = std::move(opcode);
  i.reg = reg;
  i.rm = rm;
  return i;
}

TEST(DifftestEncoder, RegisterForms) {
  Instruction add = make({0x01}, 3, Operand::r(0));
  add.rex_w = true;
  EXPECT_EQ(encode_and_disassemble(add), "add rax, rbx");
  Instruction add8 = make({0x00}, 12, Operand::r(6));
  add8.byte_regs = true;
  EXPECT_EQ(encode_and_disassemble(add8), "add sil, r12b");
  Instruction high = make({0x00}, kAh, Operand::r(kBh));
  high.byte_regs = true;
  EXPECT_EQ(encode_and_disassemble(high), "add bh, ah");
  Instruction spl = make({0x88}, 4, Operand::r(0));
  spl.byte_regs = true;
  EXPECT_EQ(encode_and_disassemble(spl), "mov al, spl");
  Instruction word = make({0x29}, 9, Operand::r(15));
  word.prefixes = {0x66};
  EXPECT_EQ(encode_and_disassemble(word), "sub r15w, r9w");
  Instruction push;
  push.has_modrm = false;
  push.opcode = {0x50};
  push.opcode_reg = 13;
  EXPECT_EQ(encode_and_disassemble(push), "push r13");
  Instruction movimm;
  movimm.has_modrm = false;
  movimm.rex_w = true;
  movimm.opcode = {0xB8};
  movimm.opcode_reg = 9;
  movimm.imm = 0x1122334455667788ull;
  movimm.imm_size = 8;
  EXPECT_EQ(encode_and_disassemble(movimm), "mov r9, 0x1122334455667788");
}

TEST(DifftestEncoder, MemoryForms) {
  MemOperand m;
  m.base = 3;
  m.disp = 8;
  EXPECT_EQ(encode_and_disassemble(make({0x8B}, 0, Operand::m(m))), "mov eax, [rbx+0x08]");
  m.base = 12;  // R12 needs a SIB byte
  m.disp = 0;
  EXPECT_EQ(encode_and_disassemble(make({0x8B}, 0, Operand::m(m))), "mov eax, [r12]");
  m.base = 13;  // R13 needs a displacement
  EXPECT_EQ(encode_and_disassemble(make({0x8B}, 0, Operand::m(m))), "mov eax, [r13]");
  m.base = 5;
  m.index = 9;
  m.scale = 8;
  m.disp = -0x1000;
  EXPECT_EQ(encode_and_disassemble(make({0x8B}, 0, Operand::m(m))), "mov eax, [rbp+r9*8-0x1000]");
  MemOperand abs;
  abs.disp = 0x20010;
  EXPECT_EQ(encode_and_disassemble(make({0x8B}, 0, Operand::m(abs))), "mov eax, [0x0000000000020010]");
  abs.index = 2;
  abs.scale = 4;
  EXPECT_EQ(encode_and_disassemble(make({0x8B}, 0, Operand::m(abs))), "mov eax, [rdx*4+0x20010]");
  MemOperand rip;
  rip.rip_relative = true;
  rip.rip_target = 0x20000;
  Instruction imm = make({0x81}, 0, Operand::m(rip));  // add dword [rip+x], imm32
  imm.imm = 0x12345678;
  imm.imm_size = 4;
  EXPECT_EQ(encode_and_disassemble(imm, 0x10000), "add dword ptr [0x0000000000020000], 0x12345678");
  Instruction cx16 = make({0x0F, 0xC7}, 1, Operand::m(m));
  cx16.rex_w = true;
  cx16.prefixes = {0xF0};
  EXPECT_EQ(encode_and_disassemble(cx16), "lock cmpxchg16b [rbp+r9*8-0x1000]");
}

TEST(DifftestEncoder, VexForms) {
  // andn r9, r10, [r11+rax]: 3-byte VEX (map 0F38, W1).
  MemOperand m;
  m.base = 11;
  m.index = 0;
  Instruction andn = make({0xF2}, 9, Operand::m(m));
  andn.vex = {true, 2, 0, 10, false, false};
  andn.rex_w = true;
  EXPECT_EQ(encode_and_disassemble(andn), "andn r9, r10, [r11+rax*1]");
  // blsi eax, ecx (F3 /3, the destination in vvvv); bextr r12d, [rip+x], r15d.
  Instruction blsi = make({0xF3}, 3, Operand::r(1));
  blsi.vex = {true, 2, 0, 0, false, false};
  EXPECT_EQ(encode_and_disassemble(blsi), "blsi eax, ecx");
  MemOperand rip;
  rip.rip_relative = true;
  rip.rip_target = 0x20000;
  Instruction bextr = make({0xF7}, 12, Operand::m(rip));
  bextr.vex = {true, 2, 0, 15, false, false};
  EXPECT_EQ(encode_and_disassemble(bextr, 0x10000), "bextr r12d, [0x0000000000020000], r15d");
  // The 2-byte form where it fits: vpxor xmm1, xmm2, xmm3 (VEX.128.66.0F EF), and the
  // 3-byte one when asked or when B is needed.
  Instruction vpxor = make({0xEF}, 1, Operand::r(3));
  vpxor.vex = {true, 1, 1, 2, false, false};
  X86Encoder enc(kCodeGpa);
  enc.emit(vpxor);
  EXPECT_EQ(enc.bytes(), (std::vector<uint8_t>{0xC5, 0xE9, 0xEF, 0xCB}));
  EXPECT_EQ(encode_and_disassemble(vpxor), "vpxor xmm1, xmm2, xmm3");
  vpxor.vex.three_byte = true;
  EXPECT_EQ(encode_and_disassemble(vpxor), "vpxor xmm1, xmm2, xmm3");
  vpxor.rm = Operand::r(11);
  vpxor.vex.three_byte = false;
  vpxor.vex.l = true;
  EXPECT_EQ(encode_and_disassemble(vpxor), "vpxor ymm1, ymm2, ymm11");
}

TEST(DifftestEncoder, GeneratedSequencesDecodeAsTagged) {
  ZydisDecoder decoder;
  ASSERT_TRUE(ZYAN_SUCCESS(ZydisDecoderInit(&decoder, ZYDIS_MACHINE_MODE_LONG_64, ZYDIS_STACK_WIDTH_64)));
  GeneratorOptions options;
  options.popcnt = options.lzcnt = options.tzcnt = options.bmi1 = true;
  for (Family family : Generator::families()) {
    Generator gen(1000 + unsigned(family), options);
    unsigned family_instructions = 0;
    for (int n = 0; n < 1500; ++n) {
      TestCase tc = gen.generate(family);
      ASSERT_EQ(tc.data.size(), kDataSize);
      size_t expected_offset = 0;
      for (const InstructionTag& t : tc.instrs) {
        ASSERT_EQ(t.offset, expected_offset) << family_name(family);
        ZydisDecodedInstruction insn;
        ZydisDecodedOperand ops[ZYDIS_MAX_OPERAND_COUNT];
        ZyanStatus st = ZydisDecoderDecodeFull(&decoder, tc.code.data() + t.offset, tc.code.size() - t.offset, &insn, ops);
        std::string hex;
        for (unsigned k = 0; k < t.length; ++k) hex += fmt::format("{:02x}", tc.code[t.offset + k]);
        ASSERT_TRUE(ZYAN_SUCCESS(st)) << family_name(family) << " bytes " << hex;
        ASSERT_EQ(insn.length, t.length) << family_name(family) << " bytes " << hex;
        if (t.family != Family::Setup) {
          ++family_instructions;
          EXPECT_EQ(t.family, family);
          bool sse = insn.meta.isa_set == ZYDIS_ISA_SET_SSE || insn.meta.isa_set == ZYDIS_ISA_SET_SSE2;
          EXPECT_EQ(sse, family == Family::Sse)
              << family_name(family) << ": " << disassemble(tc.code.data() + t.offset, t.length, 0).text;
        }
        expected_offset += t.length;
      }
      ASSERT_EQ(expected_offset, tc.code.size());
    }
    EXPECT_GT(family_instructions, 1500u) << family_name(family);
  }
}

TEST(DifftestEncoder, SameSeedSameCase) {
  GeneratorOptions options;
  Generator a(42, options), b(42, options), c(43, options);
  TestCase x = a.generate(Family::Alu), y = b.generate(Family::Alu), z = c.generate(Family::Alu);
  EXPECT_EQ(x.code, y.code);
  EXPECT_EQ(x.gpr, y.gpr);
  EXPECT_EQ(x.data, y.data);
  EXPECT_NE(x.data, z.data);
}

}  // namespace
}  // namespace vireo::difftest
