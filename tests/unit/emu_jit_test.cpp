// The emulator's translation tier (cpu/emu/jit.h) in the situations its design names:
// code that rewrites itself while its loop runs translated, a translated loop that
// never ends but must still be stoppable, MMIO from translated code, FS/GS-relative
// operands, and the interpreter-only mode. The instruction semantics themselves are
// checked against the CPU by the differential tests (tests/difftest, --jit).
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "bus/io_device.h"
#include "cpu/emu/jit.h"
#include "emu_test_support.h"

namespace vireo::emu::test {
namespace {

bool jit_here() { return JitCache::host_supported(); }

// A loop whose ADD immediate is rewritten by the loop itself every 32 turns: each
// new value must be seen from the next turn on, whether the loop runs interpreted
// or translated (the translated loop compares its bytes with memory on each turn).
TEST(EmuJit, SelfModifyingLoopSeesEachNewImmediate) {
  if (!jit_here()) GTEST_SKIP() << "this host cannot run translated code";
  EmuTestMachine m;
  m.load(R"(
  mov ecx, 1000
  xor eax, eax
l:
patch:
  add rax, 1              ; 48 83 C0 ib: the immediate is at patch + 3
  mov edx, ecx
  shr edx, 5
  mov [rel patch + 3], dl
  dec ecx
  jnz l
  hlt
)");
  X86CpuState st = m.run_to_hlt();
  uint64_t rax = 0, imm = 1;
  for (uint64_t c = 1000; c > 0; --c) {
    rax += imm;
    imm = (c >> 5) & 0xff;
  }
  EXPECT_EQ(st.gpr[RAX], rax);
  EXPECT_GT(m.cpu().jit_translations, 0u);
  EXPECT_GT(m.cpu().jit_instructions, 0u);
}

// A block that jumps to another whose code it rewrites: once the exit is chained to
// the second block's translation, that translation must still see each new
// immediate (it compares its bytes at its chained entry).
TEST(EmuJit, AChainedBlockSeesItsCodeRewritten) {
  if (!jit_here()) GTEST_SKIP() << "this host cannot run translated code";
  EmuTestMachine m;
  m.load(R"(
  mov ecx, 1000
  xor eax, eax
top:
  mov edx, ecx
  shr edx, 5
  mov [rel patch + 3], dl
  jmp patch
patch:
  add rax, 1              ; 48 83 C0 ib
  dec ecx
  jnz top
  hlt
)");
  X86CpuState st = m.run_to_hlt();
  uint64_t rax = 0;
  for (uint64_t c = 1000; c > 0; --c) rax += (c >> 5) & 0xff;
  EXPECT_EQ(st.gpr[RAX], rax);
  EXPECT_GT(m.cpu().jit_instructions, 0u);
}

// A chained exit into another page: when the guest maps that virtual page to other
// code (a new PTE and INVLPG), the exit must reach the new code, not the translation
// of the old one.
TEST(EmuJit, AChainedExitFollowsARemappedPage) {
  if (!jit_here()) GTEST_SKIP() << "this host cannot run translated code";
  EmuTestMachine m;
  m.load(R"(
  mov qword [PTE_ADDR(0x13000)], 0x11000 | 7
  invlpg [0x13000]
  mov ecx, 100
  xor eax, eax
top:
  cmp ecx, 50
  jne go
  mov qword [PTE_ADDR(0x13000)], 0x12000 | 7
  invlpg [0x13000]
go:
  jmp 0x13000
back:
  dec ecx
  jnz top
  hlt

section first start=0x11000 vstart=0x13000
  add rax, 1
  jmp back
section second start=0x12000 vstart=0x13000
  add rax, 100
  jmp back
)");
  X86CpuState st = m.run_to_hlt();
  EXPECT_EQ(st.gpr[RAX], 50u * 1 + 50u * 100);
  EXPECT_GT(m.cpu().jit_instructions, 0u);
}

// An instruction the translation tier leaves to the interpreter (TEST AH, imm: a
// high-byte register) at the start of a block of translated ones runs through step(),
// which keeps its decoding: when another block rewrites its immediate (every 32
// turns), the new value must be seen.
TEST(EmuJit, AnInstructionLeftToTheInterpreterSeesItsCodeRewritten) {
  if (!jit_here()) GTEST_SKIP() << "this host cannot run translated code";
  EmuTestMachine m;
  m.load(R"(
  mov eax, 0x0f00
  mov ecx, 300
  xor ebx, ebx
l:
  mov esi, ecx
  shr esi, 5
  mov [rel patch + 2], sil
  xor edx, edx
  jmp patch
patch:
  test ah, 0x55            ; F6 C4 ib: the immediate is at patch + 2
  setz dl
  add rbx, rdx
  dec ecx
  jnz l
  hlt
)");
  X86CpuState st = m.run_to_hlt();
  uint64_t zero = 0;
  for (uint64_t c = 300; c > 0; --c) zero += (((c >> 5) & 0xff) & 0x0f) == 0;
  EXPECT_EQ(st.gpr[RBX], zero);
  EXPECT_GT(m.cpu().jit_instructions, 0u);
}

// More hot code than the code arena holds: when it is full, the translations and the
// blocks are dropped together and translation starts afresh, and the guest computes on.
TEST(EmuJit, AFullCodeArenaEmptiesAndGoesOn) {
  if (!jit_here()) GTEST_SKIP() << "this host cannot run translated code";
  EmuTestMachine m(8ull << 20, EmuOptions{.jit_threshold = 2, .jit_arena_bytes = 64 << 10});
  m.load(R"(
  mov edi, 20
  xor eax, eax
outer:
%rep 1500
  add rax, 1
  jmp $ + 2
%endrep
  dec edi
  jnz outer
  hlt
)");
  X86CpuState st = m.run_to_hlt();
  EXPECT_EQ(st.gpr[RAX], 1500u * 20);
  // 1500 blocks do not fit in 64 KiB of translations, so they were translated again
  // after each emptying.
  EXPECT_GT(m.cpu().jit_translations, 1600u);
  EXPECT_GT(m.cpu().jit_instructions, 0u);
}

// A translated loop without end still polls: kick() stops the vCPU.
TEST(EmuJit, AnEndlessTranslatedLoopStops) {
  if (!jit_here()) GTEST_SKIP() << "this host cannot run translated code";
  EmuTestMachine m;
  m.load(R"(
l:
  inc rax
  add rbx, rax
  jmp l
)");
  std::thread kicker([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    m.vcpu().kick();
  });
  VcpuExit e = m.run();
  kicker.join();
  EXPECT_EQ(e.kind, VcpuExitKind::Stopped) << e.message;
  EXPECT_GT(m.cpu().jit_instructions, 1000000u);  // it ran translated, not step by step
  X86CpuState st = m.vcpu().get_state();
  EXPECT_GT(st.gpr[RAX], 1000000u);
  EXPECT_EQ(st.gpr[RBX], st.gpr[RAX] * (st.gpr[RAX] + 1) / 2);  // the state stored is one consistent point
}

// MMIO reads and writes inside a hot loop leave translated code each time and reach
// the device, in order.
class CountingDevice final : public IoDevice {
 public:
  uint64_t io_read(uint64_t offset, unsigned size) override {
    ++reads;
    return offset + size + reads;
  }
  void io_write(uint64_t offset, unsigned, uint64_t value) override {
    last_offset = offset;
    sum += value;
    ++writes;
  }
  uint64_t reads = 0, writes = 0, sum = 0, last_offset = 0;
};

TEST(EmuJit, MmioFromAHotLoopReachesTheDeviceEveryTime) {
  if (!jit_here()) GTEST_SKIP() << "this host cannot run translated code";
  EmuTestMachine m(4ull << 20);
  CountingDevice dev;
  m.mmio().add(0x600000, 0x1000, &dev, "counter");
  m.load(R"(
  mov ecx, 200
  mov rsi, 0x600000
  xor ebx, ebx
  xor edi, edi
l:
  inc rdi
  mov rax, [rsi + 0x10]
  add rbx, rax
  mov [rsi + 0x20], rcx
  dec ecx
  jnz l
  hlt
)");
  X86CpuState st = m.run_to_hlt();
  EXPECT_EQ(dev.reads, 200u);
  EXPECT_EQ(dev.writes, 200u);
  uint64_t expect = 0;
  for (uint64_t i = 1; i <= 200; ++i) expect += 0x10 + 8 + i;
  EXPECT_EQ(st.gpr[RBX], expect);
  EXPECT_EQ(dev.sum, 200u * 201 / 2);
  EXPECT_EQ(dev.last_offset, 0x20u);
  EXPECT_EQ(st.gpr[RDI], 200u);
  EXPECT_GT(m.cpu().jit_instructions, 0u);
}

// FS- and GS-relative operands add the segment bases (IA32_FS_BASE, IA32_GS_BASE),
// read when the instruction runs, so a base changed by the guest takes effect.
TEST(EmuJit, FsAndGsOperandsUseTheCurrentBases) {
  if (!jit_here()) GTEST_SKIP() << "this host cannot run translated code";
  EmuTestMachine m;
  m.load(R"(
  mov qword [0x200008], 5
  mov qword [0x300010], 7
  mov qword [0x400010], 11
  mov ecx, 0xc0000100      ; IA32_FS_BASE
  mov eax, 0x200000
  xor edx, edx
  wrmsr
  mov ecx, 0xc0000101      ; IA32_GS_BASE
  mov eax, 0x300000
  wrmsr
  xor ebx, ebx
  mov edi, 2
outer:
  mov ecx, 100
l:
  add rbx, [fs:8]
  add rbx, [gs:0x10]
  dec ecx
  jnz l
  mov ecx, 0xc0000101
  mov eax, 0x400000
  xor edx, edx
  wrmsr
  dec edi
  jnz outer
  hlt
)");
  X86CpuState st = m.run_to_hlt();
  EXPECT_EQ(st.gpr[RBX], 100u * (5 + 7) + 100u * (5 + 11));
  EXPECT_GT(m.cpu().jit_instructions, 0u);
}

// With the tier off, nothing is translated and the result is the same.
TEST(EmuJit, OffMeansInterpretedOnly) {
  GuestMemory mem(8ull << 20);
  IoBus pio("pio"), mmio("mmio");
  MachineContext ctx;
  ctx.memory = &mem;
  ctx.pio = &pio;
  ctx.mmio = &mmio;
  EmuAccelerator accel(ctx, EmuOptions{.jit = false});
  auto vcpu = accel.create_vcpu(0);
  auto* v = static_cast<EmuVcpu*>(vcpu.get());
  EXPECT_FALSE(v->cpu().jit_enabled());
  EmuTestMachine on;
  EXPECT_EQ(on.cpu().jit_enabled(), jit_here());
}

}  // namespace
}  // namespace vireo::emu::test
