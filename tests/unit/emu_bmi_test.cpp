// BMI1's VEX-encoded instructions on the emulator: ANDN, BEXTR, BLSI, BLSMSK, BLSR in
// both operand sizes, their defined flags, and the encodings that must raise #UD.
// Expected values are worked out by hand from the SDM's definitions (Vol. 2 "ANDN",
// "BEXTR", "BLSI", "BLSMSK", "BLSR", 2.3 and Table 2-29), not taken from the
// implementation. Undefined flags (AF, PF, and SF for BEXTR) are masked.
#include "cpu/emu/cpuid_policy.h"
#include "emu_test_support.h"

namespace vireo::emu::test {
namespace {

// RFLAGS after `body`, with CF and OF both set before it (so "cleared" is visible)
// and ZF/SF preset from `preset`. `body` must set its operands without changing flags.
uint64_t flags_after(const std::string& body, uint64_t preset = 0) {
  std::string setup = "push " + std::to_string(0x2 | CF | OF | preset) + "\npopfq\n";
  X86CpuState s = run_snippet(setup + body + "\npushfq\npop rbx\n");
  return s.gpr[RBX] & kStatus;
}

constexpr uint64_t kDefined = CF | ZF | SF | OF;  // BEXTR: SF is undefined too

TEST(EmuBmi, Andn) {
  X86CpuState s = run_snippet(
      "mov rcx, 0x00ff00ff00ff00ff\nmov rdx, 0x0f0f0f0f0f0f0f0f\nandn rax, rcx, rdx\n"  // ~rcx & rdx
      "mov r8, -1\nandn r8d, ecx, edx\n"                                                // 32-bit zero-extends
      "mov rbx, 0x123456789abcdef0\nmov [0x20000], rbx\nmov r10, 0xff\nandn r9, r10, [0x20000]\n"
      "mov r11d, 0x0000ffff\nandn r12d, r11d, dword [0x20000]\n");
  EXPECT_EQ(s.gpr[RAX], 0x0f000f000f000f00u);
  EXPECT_EQ(s.gpr[R8], 0x0f000f00u);
  EXPECT_EQ(s.gpr[R9], 0x123456789abcde00u);
  EXPECT_EQ(s.gpr[R12], 0x9abc0000u);
  // SF from the result's top bit of the operand size, ZF from the result, CF OF cleared.
  EXPECT_EQ(flags_after("mov ecx, 0\nmov rdx, -1\nandn rax, rcx, rdx") & kDefined, SF);
  EXPECT_EQ(flags_after("mov ecx, 0\nmov rdx, -1\nandn eax, ecx, edx") & kDefined, SF);
  EXPECT_EQ(flags_after("mov ecx, 0x80000000\nmov edx, 0x80000000\nandn eax, ecx, edx", SF) & kDefined, ZF);
  EXPECT_EQ(flags_after("mov ecx, 1\nmov edx, 3\nandn eax, ecx, edx", ZF | SF) & kDefined, 0u);
}

TEST(EmuBmi, Bextr) {
  X86CpuState s = run_snippet(
      "mov ecx, 0x12345\nmov edx, 0x0804\nbextr eax, ecx, edx\n"          // 8 bits from bit 4
      "mov rcx, 0xf00000000000000f\nmov edx, 0x403c\nbextr rsi, rcx, rdx\n"  // 64 bits from 60: the top 4
      "mov edx, 0x4000\nbextr rdi, rcx, rdx\n"                               // all 64 bits
      "mov r8, -1\nmov ecx, 0xffffffff\nmov edx, 0x1020\nbextr r8d, ecx, edx\n"  // START = 32 >= width: 0
      "mov edx, 0xffff1018\nbextr r9d, ecx, edx\n"  // bits 31:16 ignored; 16 from 24: 8 bits left
      "mov edx, 0x0004\nbextr r10d, ecx, edx\n"     // LEN 0: 0
      "mov dword [0x20000], 0xdeadbeef\nmov edx, 0x0c10\nbextr r11d, [0x20000], edx\n");
  EXPECT_EQ(s.gpr[RAX], 0x34u);
  EXPECT_EQ(s.gpr[RSI], 0xfu);
  EXPECT_EQ(s.gpr[RDI], 0xf00000000000000fu);
  EXPECT_EQ(s.gpr[R8], 0u);
  EXPECT_EQ(s.gpr[R9], 0xffu);
  EXPECT_EQ(s.gpr[R10], 0u);
  EXPECT_EQ(s.gpr[R11], 0xeadu);
  // ZF from the result; CF and OF cleared; SF AF PF undefined.
  EXPECT_EQ(flags_after("mov ecx, 0x100\nmov edx, 0x0800\nbextr eax, ecx, edx") & (CF | ZF | OF), ZF);
  EXPECT_EQ(flags_after("mov ecx, 0x100\nmov edx, 0x0808\nbextr eax, ecx, edx", ZF) & (CF | ZF | OF), 0u);
}

TEST(EmuBmi, BlsiBlsmskBlsr) {
  X86CpuState s = run_snippet(
      "mov ecx, 0x1230\nblsi eax, ecx\nblsmsk edx, ecx\nblsr esi, ecx\n"
      "mov rcx, 0x8000000000000000\nblsi r8, rcx\nblsmsk r9, rcx\nblsr r10, rcx\n"
      "mov r11, -1\nxor ecx, ecx\nblsmsk r11d, ecx\n"  // 0 -> all ones, 32 of them
      "mov qword [0x20000], 0x60\nblsr r12, [0x20000]\nblsi r13d, dword [0x20000]\n");
  EXPECT_EQ(s.gpr[RAX], 0x10u);
  EXPECT_EQ(s.gpr[RDX], 0x1fu);
  EXPECT_EQ(s.gpr[RSI], 0x1220u);
  EXPECT_EQ(s.gpr[R8], 0x8000000000000000u);
  EXPECT_EQ(s.gpr[R9], ~0ull);
  EXPECT_EQ(s.gpr[R10], 0u);
  EXPECT_EQ(s.gpr[R11], 0xffffffffu);
  EXPECT_EQ(s.gpr[R12], 0x40u);
  EXPECT_EQ(s.gpr[R13], 0x20u);
  // BLSI: CF = (source != 0), ZF SF from the result, OF cleared.
  EXPECT_EQ(flags_after("mov ecx, 0\nblsi eax, ecx") & kDefined, ZF);
  EXPECT_EQ(flags_after("mov ecx, 0x80000000\nblsi eax, ecx") & kDefined, CF | SF);
  EXPECT_EQ(flags_after("mov ecx, 6\nblsi rax, rcx", ZF | SF) & kDefined, CF);
  // BLSMSK: CF = (source == 0), ZF cleared, SF from the result, OF cleared.
  EXPECT_EQ(flags_after("mov ecx, 0\nblsmsk rax, rcx", ZF) & kDefined, CF | SF);
  EXPECT_EQ(flags_after("mov ecx, 4\nblsmsk eax, ecx", ZF | SF) & kDefined, 0u);
  // BLSR: CF = (source == 0), ZF SF from the result, OF cleared.
  EXPECT_EQ(flags_after("mov ecx, 0\nblsr eax, ecx") & kDefined, CF | ZF);
  EXPECT_EQ(flags_after("mov ecx, 0x40000000\nblsr eax, ecx") & kDefined, ZF);
  EXPECT_EQ(flags_after("mov rcx, 0xc000000000000000\nblsr rax, rcx") & kDefined, SF);
}

// Whether the bytes `insn` (a nasm `db` list) raise #UD in 64-bit mode, with RIP on them.
bool raises_ud(const std::string& insn) {
  EmuTestMachine m;
  m.load(R"(
    SET_GATE 6, ud_handler
    xor r8d, r8d
  here:
    )" + insn + R"(
    mov r15, 0xbad
    hlt
  ud_handler:
    mov r8, [rsp]
    mov r9, here
    hlt
  )");
  X86CpuState s = m.run_to_hlt();
  return s.gpr[R15] != 0xbad && s.gpr[R8] == s.gpr[R9];
}

TEST(EmuBmi, InvalidFormsRaiseUd) {
  // The valid reference: andn eax, ecx, edx (C4 E2 70 F2 C2) runs.
  EXPECT_FALSE(raises_ud("db 0xc4, 0xe2, 0x70, 0xf2, 0xc2"));
  EXPECT_FALSE(raises_ud("db 0xc4, 0xe2, 0x70, 0xf3, 0xca"));  // blsr esi... /1
  // VEX.L = 1 (SDM: "VEX.L not equal to 0 will cause #UD").
  EXPECT_TRUE(raises_ud("db 0xc4, 0xe2, 0x74, 0xf2, 0xc2"));
  EXPECT_TRUE(raises_ud("db 0xc4, 0xe2, 0x74, 0xf7, 0xc2"));
  EXPECT_TRUE(raises_ud("db 0xc4, 0xe2, 0x74, 0xf3, 0xca"));
  // Group 17 /0 and /4 (only /1 /2 /3 exist).
  EXPECT_TRUE(raises_ud("db 0xc4, 0xe2, 0x70, 0xf3, 0xc2"));
  EXPECT_TRUE(raises_ud("db 0xc4, 0xe2, 0x70, 0xf3, 0xe2"));
  // LOCK, 66, F3, F2 or REX before VEX (SDM 2.3.2).
  for (const char* p : {"0xf0", "0x66", "0xf3", "0xf2", "0x40", "0x48"})
    EXPECT_TRUE(raises_ud(std::string("db ") + p + ", 0xc4, 0xe2, 0x70, 0xf2, 0x02")) << p;
  // BMI2 (not offered): PDEP (F2), PEXT (F3), SHLX (66 F7), SARX (F3 F7), SHRX (F2 F7),
  // BZHI (F5), MULX (F2 F6), RORX (0F3A F0).
  EXPECT_TRUE(raises_ud("db 0xc4, 0xe2, 0x73, 0xf5, 0xc2"));
  EXPECT_TRUE(raises_ud("db 0xc4, 0xe2, 0x72, 0xf5, 0xc2"));
  EXPECT_TRUE(raises_ud("db 0xc4, 0xe2, 0x71, 0xf7, 0xc2"));
  EXPECT_TRUE(raises_ud("db 0xc4, 0xe2, 0x72, 0xf7, 0xc2"));
  EXPECT_TRUE(raises_ud("db 0xc4, 0xe2, 0x73, 0xf7, 0xc2"));
  EXPECT_TRUE(raises_ud("db 0xc4, 0xe2, 0x70, 0xf5, 0xc2"));
  EXPECT_TRUE(raises_ud("db 0xc4, 0xe2, 0x73, 0xf6, 0xc2"));
  EXPECT_TRUE(raises_ud("db 0xc4, 0xe3, 0x7b, 0xf0, 0xc1, 0x05"));
  // AVX (not offered): vzeroupper, vpxor xmm1, xmm2, xmm3; a reserved VEX map.
  EXPECT_TRUE(raises_ud("db 0xc5, 0xf8, 0x77"));
  EXPECT_TRUE(raises_ud("db 0xc5, 0xe9, 0xef, 0xcb"));
  EXPECT_TRUE(raises_ud("db 0xc4, 0xe4, 0x70, 0xf2, 0xc2"));
}

// The legacy 0F 38 F2 with the operands of an ANDN must not compute ANDN.
TEST(EmuBmi, LegacyEncodingIsNotAndn) {
  EmuTestMachine m;
  m.load(R"(
    SET_GATE 6, ud_handler
    mov ecx, 1
    mov edx, 3
    xor eax, eax
    db 0x0f, 0x38, 0xf2, 0xc2
    hlt
  ud_handler:
    hlt
  )");
  VcpuExit e = m.run();
  X86CpuState s = m.vcpu().get_state();
  EXPECT_NE(s.gpr[RAX], 2u) << e.message;
}

// 32-bit protected mode: C4/C5 with mod == 3 are VEX (with a memory ModRM they are
// LES/LDS: emu_decoder_test.cpp), and VEX.W1 does not make a 64-bit operation there.
TEST(EmuBmi, ProtectedMode32) {
  EmuTestMachine m;
  m.load_protected32(R"(
    mov ecx, 0x00ff00ff
    mov edx, 0xffffffff
    db 0xc4, 0xe2, 0xf0, 0xf2, 0xc2       ; andn eax, ecx, edx with VEX.W1 (ignored)
    db 0xc4, 0xc2, 0xb0, 0xf3, 0xda       ; blsi (vvvv bit 3 and B ignored): ecx <- blsi edx
    hlt
  )");
  X86CpuState s = m.run_to_hlt();
  EXPECT_EQ(s.gpr[RAX], 0xff00ff00u);
  EXPECT_EQ(s.gpr[RCX], 1u);
}

// Real-address mode: VEX-encoded instructions raise #UD (SDM Table 2-29); C4 with a
// register ModRM is no LES either.
TEST(EmuBmi, RealModeRaisesUd) {
  EmuTestMachine m;
  m.load_with(R"(
bits 16
org 0
  xor ax, ax
  mov ds, ax
  mov word [6 * 4], handler
  mov word [6 * 4 + 2], 0x1000
  xor bx, bx
  mov ecx, 1
  mov edx, 3
here:
  db 0xc4, 0xe2, 0x70, 0xf2, 0xc2         ; andn eax, ecx, edx
  hlt
handler:
  mov bx, 0x66
  pop si                                  ; the return IP: the faulting instruction
  mov di, here
  hlt
)", false);
  X86CpuState st = EmuVcpu::startup_state(0x10);  // CS = 0x1000, IP = 0
  m.vcpu().set_state(st);
  X86CpuState s = m.run_to_hlt();
  EXPECT_EQ(s.gpr[RBX] & 0xffff, 0x66u);
  EXPECT_EQ(s.gpr[RSI] & 0xffff, s.gpr[RDI] & 0xffff);
}

// CPUID leaf 7 offers BMI1 (all of it is implemented) and not BMI2.
TEST(EmuBmi, CpuidOffersBmi1NotBmi2) {
  CpuidResult r = cpuid_policy(7, 0, CpuidContext{});
  EXPECT_TRUE(r.ebx & (1u << 3));
  EXPECT_FALSE(r.ebx & (1u << 8));
  EXPECT_FALSE(r.ebx & (1u << 5));  // AVX2
  EXPECT_FALSE(cpuid_policy(1, 0, CpuidContext{}).ecx & (1u << 28));  // AVX
}

}  // namespace
}  // namespace vireo::emu::test
