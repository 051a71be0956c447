// String instructions on the emulator: REP MOVS/STOS (including the bulk path and
// overlapping copies), REPE CMPS, REPNE SCAS, LODS, the direction flag.
#include "emu_test_support.h"

namespace vireo::emu::test {
namespace {

X86CpuState run(EmuTestMachine& m, const std::string& body) {
  m.load(body + "\nhlt\n");
  return m.run_to_hlt();
}

TEST(EmuString, RepStosAndMovsForward) {
  EmuTestMachine m;
  X86CpuState s = run(m, R"(
    cld
    mov rdi, 0x100ff0      ; crosses a page boundary
    mov al, 0xab
    mov ecx, 10000
    rep stosb
    mov r8, rdi
    mov rsi, 0x100ff0
    mov rdi, 0x140000
    mov ecx, 1250
    rep movsq
    mov r9, rsi
    mov r10, rcx
  )");
  EXPECT_EQ(s.gpr[R8], 0x100ff0u + 10000);
  EXPECT_EQ(s.gpr[R9], 0x100ff0u + 10000);
  EXPECT_EQ(s.gpr[R10], 0u);
  std::vector<uint8_t> copy(10000);
  m.memory().read(0x140000, copy.data(), copy.size());
  for (uint8_t b : copy) ASSERT_EQ(b, 0xab);
  EXPECT_EQ(m.memory().read_obj<uint8_t>(0x100ff0 + 10000), 0u);  // one past the end untouched
}

TEST(EmuString, OverlappingMovsbReplicates) {
  // dst = src + 1, forward: each byte copies the one just written (a classic fill).
  EmuTestMachine m;
  run(m, R"(
    mov byte [0x120000], 0x5a
    mov rsi, 0x120000
    mov rdi, 0x120001
    mov ecx, 100
    rep movsb
  )");
  for (uint64_t i = 0; i <= 100; ++i) ASSERT_EQ(m.memory().read_obj<uint8_t>(0x120000 + i), 0x5a) << i;
}

TEST(EmuString, DirectionFlagBackward) {
  EmuTestMachine m;
  X86CpuState s = run(m, R"(
    mov dword [0x120000], 0x11111111
    mov dword [0x120004], 0x22222222
    mov dword [0x120008], 0x33333333
    std
    mov rsi, 0x120008
    mov rdi, 0x130008
    mov ecx, 3
    rep movsd
    cld
    mov r8, rsi
    mov r9, rdi
    mov rsi, 0x130000
    lodsd
  )");
  EXPECT_EQ(s.gpr[R8], 0x120008u - 12);
  EXPECT_EQ(s.gpr[R9], 0x130008u - 12);
  EXPECT_EQ(s.gpr[RAX], 0x11111111u);
  EXPECT_EQ(m.memory().read_obj<uint32_t>(0x130008), 0x33333333u);
  EXPECT_EQ(s.gpr[RSI], 0x130004u);
}

TEST(EmuString, RepeCmpsAndRepneScas) {
  EmuTestMachine m;
  X86CpuState s = run(m, R"(
    mov rax, 'abcdefgh'
    mov [0x120000], rax
    mov rax, 'abcdXfgh'
    mov [0x121000], rax
    cld
    mov rsi, 0x120000
    mov rdi, 0x121000
    mov ecx, 8
    repe cmpsb            ; stops after the mismatch at index 4
    mov r8, rcx
    mov r9, rsi
    setnz r10b
    mov rdi, 0x120000
    mov al, 'f'
    mov ecx, 8
    repne scasb           ; stops after finding 'f' at index 5
    mov r11, rcx
    mov r12, rdi
    setz r13b
  )");
  EXPECT_EQ(s.gpr[R8], 3u);
  EXPECT_EQ(s.gpr[R9], 0x120005u);
  EXPECT_EQ(s.gpr[R10] & 0xff, 1u);
  EXPECT_EQ(s.gpr[R11], 2u);
  EXPECT_EQ(s.gpr[R12], 0x120006u);
  EXPECT_EQ(s.gpr[R13] & 0xff, 1u);
}

TEST(EmuString, RepWithZeroCountDoesNothing) {
  EmuTestMachine m;
  X86CpuState s = run(m, R"(
    mov byte [0x120000], 7
    mov rdi, 0x120000
    xor ecx, ecx
    mov al, 9
    rep stosb
    mov r8, rdi
    movzx r9d, byte [0x120000]
  )");
  EXPECT_EQ(s.gpr[R8], 0x120000u);
  EXPECT_EQ(s.gpr[R9], 7u);
}

TEST(EmuString, LongRepStosIsRestartable) {
  // 3 MiB of stores: more than one slice, so the instruction re-executes.
  EmuTestMachine m(16ull << 20);
  X86CpuState s = run(m, R"(
    mov rdi, 0x400000
    mov eax, 0x01020304
    mov ecx, (3 << 20) / 4
    rep stosd
    mov r8, rdi
  )");
  EXPECT_EQ(s.gpr[R8], 0x400000u + (3u << 20));
  EXPECT_EQ(m.memory().read_obj<uint32_t>(0x400000 + (3u << 20) - 4), 0x01020304u);
}

}  // namespace
}  // namespace vireo::emu::test
