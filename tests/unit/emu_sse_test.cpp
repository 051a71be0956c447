// SSE/SSE2 on the emulator: moves, logic, packed integer ops, MOVMSK, shuffles,
// shifts, scalar double arithmetic, alignment faults. Expected lanes worked out by hand.
#include "emu_test_support.h"

namespace vireo::emu::test {
namespace {

struct XmmRun {
  X86CpuState state;
  Xmm xmm[16];
};

XmmRun run(const std::string& body) {
  EmuTestMachine m;
  m.load(body + "\nhlt\n");
  XmmRun r{m.run_to_hlt(), {}};
  for (unsigned i = 0; i < 16; ++i) r.xmm[i] = m.cpu().s.xmm[i];
  return r;
}

// Data at 0x20000: bytes 0..31 = 0x00..0x1f.
constexpr const char* kData = R"(
  mov rdi, 0x20000
  xor eax, eax
fill:
  mov [rdi + rax], al
  inc eax
  cmp eax, 32
  jne fill
)";

TEST(EmuSse, MovesAndLogic) {
  XmmRun r = run(std::string(kData) + R"(
    movdqa xmm0, [0x20000]
    movdqu xmm1, [0x20001]
    movaps xmm2, xmm0
    pxor xmm2, xmm1
    movq xmm3, [0x20008]          ; zero-extends
    mov rax, 0x1122334455667788
    movq xmm4, rax
    movd ecx, xmm4
    movq rdx, xmm0
    movups [0x30003], xmm0
    mov rbx, [0x30003]
    pcmpeqb xmm5, xmm5            ; all ones
    pandn xmm5, xmm0              ; ~ones & x = 0
    movss xmm6, [0x20004]
    movhps xmm6, [0x20010]
  )");
  EXPECT_EQ(r.xmm[0].lo, 0x0706050403020100ull);
  EXPECT_EQ(r.xmm[0].hi, 0x0f0e0d0c0b0a0908ull);
  EXPECT_EQ(r.xmm[1].lo, 0x0807060504030201ull);
  EXPECT_EQ(r.xmm[2].lo, 0x0706050403020100ull ^ 0x0807060504030201ull);
  EXPECT_EQ(r.xmm[3].lo, 0x0f0e0d0c0b0a0908ull);
  EXPECT_EQ(r.xmm[3].hi, 0u);
  EXPECT_EQ(r.state.gpr[RCX], 0x55667788u);
  EXPECT_EQ(r.state.gpr[RDX], 0x0706050403020100ull);
  EXPECT_EQ(r.state.gpr[RBX], 0x0706050403020100ull);
  EXPECT_EQ(r.xmm[5].lo, 0u);
  EXPECT_EQ(r.xmm[5].hi, 0u);
  EXPECT_EQ(r.xmm[6].lo, 0x07060504u);
  EXPECT_EQ(r.xmm[6].hi, 0x1716151413121110ull);
}

TEST(EmuSse, StrlenStyleByteSearch) {
  // The idiom of vectorised strlen/memchr: compare 16 bytes with zero, PMOVMSKB, BSF.
  XmmRun r = run(R"(
    mov rax, 'abcdefgh'
    mov [0x20000], rax
    mov rax, 'ijk'               ; zero at byte 11
    mov [0x20008], rax
    pxor xmm0, xmm0
    movdqu xmm1, [0x20000]
    pcmpeqb xmm1, xmm0
    pmovmskb ecx, xmm1
    bsf edx, ecx
  )");
  EXPECT_EQ(r.state.gpr[RCX], 0xf800u);  // bytes 11..15 are zero
  EXPECT_EQ(r.state.gpr[RDX], 11u);
}

TEST(EmuSse, PackedIntegerArithmetic) {
  XmmRun r = run(R"(
    mov rax, 0x7fff0001fffe8000
    movq xmm0, rax
    movq xmm1, rax
    paddw xmm0, xmm1              ; wrapping: fffe 0002 fffc 0000
    movq xmm2, rax
    paddsw xmm2, xmm1             ; saturating: 7fff 0002 fffc 8000
    mov rax, 0x00ff00fe00010002
    movq xmm3, rax
    mov rax, 0x0001000200030004
    movq xmm4, rax
    pmullw xmm3, xmm4             ; 00ff*1 00fe*2 1*3 2*4 -> 00ff 01fc 0003 0008
    mov rax, 0x0000000300000002
    movq xmm5, rax
    pmuludq xmm5, xmm5            ; low dword 2*2 = 4
    mov rax, 0x80ff7f0102030405
    movq xmm6, rax
    mov rax, 0x01017f0203030304
    movq xmm7, rax
    pminub xmm6, xmm7             ; bytewise unsigned minimum
    psubd xmm8, xmm8
    mov eax, 5
    movd xmm9, eax
    psubd xmm8, xmm9              ; 0 - 5
  )");
  EXPECT_EQ(r.xmm[0].lo, 0xfffe0002fffc0000ull);
  EXPECT_EQ(r.xmm[2].lo, 0x7fff0002fffc8000ull);
  EXPECT_EQ(r.xmm[3].lo, 0x00ff01fc00030008ull);
  EXPECT_EQ(r.xmm[5].lo, 4u);
  EXPECT_EQ(r.xmm[6].lo, 0x01017f0102030304ull);
  EXPECT_EQ(uint32_t(r.xmm[8].lo), uint32_t(-5));
}

TEST(EmuSse, ShufflesUnpacksShifts) {
  XmmRun r = run(std::string(kData) + R"(
    movdqa xmm0, [0x20000]
    pshufd xmm1, xmm0, 0x1b        ; reverse dwords
    movdqa xmm2, xmm0
    psrldq xmm2, 3                 ; bytes shift right by 3
    movdqa xmm3, xmm0
    pslldq xmm3, 8
    movdqa xmm4, xmm0
    punpcklbw xmm4, xmm4           ; 00 00 01 01 ...
    movdqa xmm5, xmm0
    psrlq xmm5, 8
    movdqa xmm6, xmm0
    mov eax, 0x8000
    movd xmm7, eax
    pshuflw xmm7, xmm7, 0          ; 8000 in all low words
    psraw xmm7, 15                 ; ffff
    movdqa xmm8, [0x20010]
    shufps xmm8, xmm0, 0x4e        ; dst: src1[2] src1[3] src2[0] src2[1]
    packuswb xmm9, xmm9
  )");
  EXPECT_EQ(r.xmm[1].lo, 0x0b0a09080f0e0d0cull);
  EXPECT_EQ(r.xmm[1].hi, 0x0302010007060504ull);
  EXPECT_EQ(r.xmm[2].lo, 0x0a09080706050403ull);
  EXPECT_EQ(r.xmm[2].hi, 0x0000000f0e0d0c0bull);
  EXPECT_EQ(r.xmm[3].lo, 0u);
  EXPECT_EQ(r.xmm[3].hi, 0x0706050403020100ull);
  EXPECT_EQ(r.xmm[4].lo, 0x0303020201010000ull);
  EXPECT_EQ(r.xmm[5].lo, 0x0007060504030201ull);
  EXPECT_EQ(r.xmm[7].lo, ~0ull);
  EXPECT_EQ(r.xmm[8].lo, 0x1f1e1d1c1b1a1918ull);
  EXPECT_EQ(r.xmm[8].hi, 0x0706050403020100ull);
}

TEST(EmuSse, ScalarDouble) {
  XmmRun r = run(R"(
    mov eax, 3
    cvtsi2sd xmm0, eax
    mov eax, 4
    cvtsi2sd xmm1, eax
    mulsd xmm0, xmm0               ; 9
    mulsd xmm1, xmm1               ; 16
    addsd xmm0, xmm1               ; 25
    sqrtsd xmm2, xmm0              ; 5
    cvttsd2si ecx, xmm2
    ucomisd xmm2, xmm1             ; 5 < 16: CF
    setb dl
    divsd xmm1, xmm2               ; 3.2
    cvttsd2si r8, xmm1             ; 3
    cvtsd2si r9, xmm1              ; round to nearest: 3
  )");
  EXPECT_EQ(r.state.gpr[RCX], 5u);
  EXPECT_EQ(r.state.gpr[RDX] & 0xff, 1u);
  EXPECT_EQ(r.state.gpr[R8], 3u);
  EXPECT_EQ(r.state.gpr[R9], 3u);
}

TEST(EmuSse, MisalignedMovdqaIsGP) {
  EmuTestMachine m;
  m.load(R"(
    SET_GATE 13, gp_handler
    movdqa xmm0, [0x20001]
    hlt
  gp_handler:
    mov r8, 0x6d
    hlt
  )");
  EXPECT_EQ(m.run_to_hlt().gpr[R8], 0x6du);
}

TEST(EmuSse, FxsaveFxrstorRoundTrip) {
  XmmRun r = run(R"(
    mov rax, 0x1111111122222222
    movq xmm3, rax
    mov eax, 0x1f80 | (1 << 15)    ; FZ
    mov [0x20000], eax
    ldmxcsr [0x20000]
    fxsave [0x21000]
    pxor xmm3, xmm3
    mov dword [0x20000], 0x1f80
    ldmxcsr [0x20000]
    fxrstor [0x21000]
    stmxcsr [0x20004]
    mov ecx, [0x20004]
    mov edx, [0x21000 + 160 + 3 * 16]
    mov esi, [0x21000 + 28]        ; MXCSR_MASK
  )");
  EXPECT_EQ(r.xmm[3].lo, 0x1111111122222222ull);
  EXPECT_EQ(r.state.gpr[RCX], 0x1f80u | (1u << 15));
  EXPECT_EQ(r.state.gpr[RDX], 0x22222222u);
  EXPECT_NE(r.state.gpr[RSI], 0u);
}

}  // namespace
}  // namespace vireo::emu::test
