// System behaviour of the emulator: protected -> long mode, privilege changes through
// IRETQ / SYSCALL / SYSRET / INT n, IST stacks, double and triple faults, external
// interrupts through an InterruptSource, kick(), and clean failure on unimplemented
// instructions.
#include <atomic>
#include <chrono>
#include <thread>

#include "emu_test_support.h"

namespace vireo::emu::test {
namespace {

TEST(EmuSystem, ProtectedModeToLongModeSwitch) {
  EmuTestMachine m;
  m.load_protected32(R"(
    mov eax, cr4
    or eax, (1 << 5)            ; PAE
    mov cr4, eax
    mov eax, 0x1000
    mov cr3, eax
    mov ecx, 0xc0000080         ; EFER
    rdmsr
    or eax, (1 << 8)            ; LME
    wrmsr
    mov eax, cr0
    or eax, 0x80000000          ; PG -> IA-32e (compatibility mode for now)
    mov cr0, eax
    mov ecx, 0xc0000080
    rdmsr
    mov esi, eax                ; EFER with LMA
    jmp 0x08:long_mode
  bits 64
  long_mode:
    mov rax, 0x123456789abcdef0 ; needs 64-bit mode
    mov rbx, rsp
    hlt
  )");
  X86CpuState s = m.run_to_hlt();
  EXPECT_EQ(s.gpr[RAX], 0x123456789abcdef0ull);
  EXPECT_TRUE(s.gpr[RSI] & (1u << 10));  // LMA was set by the CR0.PG write
  EXPECT_TRUE(s.cs.l);
  EXPECT_EQ(s.cs.selector, 0x08);
  EXPECT_TRUE(s.efer & x86::EFER_LMA);
}

TEST(EmuSystem, ProtectedMode32BitArithmeticAndStack) {
  EmuTestMachine m;
  m.load_protected32(R"(
    mov esp, 0x80000
    push dword 0x11223344
    pop ebx
    inc ebx                     ; 40..4F are INC/DEC here
    mov ecx, 3
    call sub1
    hlt
  sub1:
    lea eax, [ecx*4 + 1]
    ret
  )");
  X86CpuState s = m.run_to_hlt();
  EXPECT_EQ(s.gpr[RBX], 0x11223345u);
  EXPECT_EQ(s.gpr[RAX], 13u);
  EXPECT_EQ(s.gpr[RSP], 0x80000u);
}

TEST(EmuSystem, TripleFaultShutsDown) {
  EmuTestMachine m;
  m.load(R"(
    lidt [empty_idt]
    ud2
  empty_idt:
    dw 0
    dq 0
  )");
  VcpuExit e = m.run();
  EXPECT_EQ(e.kind, VcpuExitKind::Shutdown) << e.message;
  EXPECT_NE(e.message.find("triple fault"), std::string::npos);
}

TEST(EmuSystem, DoubleFaultOnFaultDuringDelivery) {
  // The stack is not mapped: delivering the first #PF faults on the frame push, a
  // second #PF, which makes a #DF (SDM Vol. 3 Table 6-5), delivered on IST1.
  EmuTestMachine m;
  m.load(R"(
    SET_GATE 8, df_handler, 1
    SET_GATE 14, pf_handler
    mov qword [PTE_ADDR(0x1d1000)], 0
    mov qword [PTE_ADDR(0x1d2000)], 0
    mov rsp, 0x1d2000
    mov rax, [0x1d2000]
    hlt
  pf_handler:
    mov r11, 0xbad
    hlt
  df_handler:
    mov r8, [rsp]                ; error code 0
    mov r9, rsp
    mov r10, cr2
    hlt
  )");
  X86CpuState s = m.run_to_hlt();
  EXPECT_EQ(s.gpr[R8], 0u);
  EXPECT_EQ(s.gpr[R9], 0x60000u - 48);  // IST1 top, error code + 5-slot frame
  EXPECT_EQ(s.gpr[R10], 0x1d1ff8u);     // CR2 of the second fault: the frame push
  EXPECT_NE(s.gpr[R11], 0xbadu);
}

TEST(EmuSystem, IretqToUserAndIntBackWithStackSwitch) {
  EmuTestMachine m;
  m.load(R"(
    SET_GATE 0x80, int80_handler
    push 0x23
    push 0x80000
    push 0x202          ; IF = 1
    push 0x2b
    push user_code
    iretq
  user_code:
    mov r12w, cs
    mov rcx, 42
    int 0x80
  after_int:
  int80_handler:
    mov r8, rsp          ; RSP0-based frame
    mov r9, [rsp + 8]    ; CS
    mov r10, [rsp + 32]  ; SS
    mov r11, [rsp]       ; return RIP
    mov r13, [rsp + 24]  ; user RSP
    mov r14, [rsp + 16]  ; RFLAGS
    mov r15w, cs
    hlt
  )");
  X86CpuState s = m.run_to_hlt();
  EXPECT_EQ(s.gpr[R12] & 0xffff, 0x2bu);
  EXPECT_EQ(s.gpr[R8], 0x70000u - 40);
  EXPECT_EQ(s.gpr[R9], 0x2bu);
  EXPECT_EQ(s.gpr[R10], 0x23u);
  EXPECT_EQ(s.gpr[R13], 0x80000u);
  EXPECT_TRUE(s.gpr[R14] & (1u << 9));
  EXPECT_FALSE(s.rflags & (1u << 9));  // interrupt gate cleared IF
  EXPECT_EQ(s.gpr[R15] & 0xffff, 0x08u);
  EXPECT_EQ(s.ss.selector, 0u);        // NULL SS with RPL 0 after the switch
}

TEST(EmuSystem, UserModePrivilegedInstructionIsGP) {
  EmuTestMachine m;
  m.load(R"(
    SET_GATE 13, gp_handler
    push 0x23
    push 0x80000
    push 0x2
    push 0x2b
    push user_code
    iretq
  user_code:
    mov rax, cr0
  gp_handler:
    mov r8, [rsp]        ; error code
    mov r9, [rsp + 8]    ; RIP of the faulting instruction
    mov r10, user_code
    hlt
  )");
  X86CpuState s = m.run_to_hlt();
  EXPECT_EQ(s.gpr[R8], 0u);
  EXPECT_EQ(s.gpr[R9], s.gpr[R10]);
}

TEST(EmuSystem, SyscallSysretRoundTrip) {
  EmuTestMachine m;
  m.load(R"(
    mov ecx, 0xc0000081          ; STAR: kernel CS 0x08, user base 0x18
    xor eax, eax
    mov edx, (0x18 << 16) | 0x08
    wrmsr
    mov ecx, 0xc0000082          ; LSTAR
    mov rax, syscall_entry
    mov rdx, rax
    shr rdx, 32
    wrmsr
    mov ecx, 0xc0000084          ; SFMASK: clear IF and DF
    mov eax, 0x600
    xor edx, edx
    wrmsr
    mov rcx, user_code
    mov r11, 0x602               ; IF | DF | fixed bit
    o64 sysret
  user_code:
    mov r12w, cs
    mov r13w, ss
    mov eax, 7
    syscall
  after_syscall:
  syscall_entry:
    mov r8, rcx
    mov r9, r11
    mov r10w, cs
    pushfq
    pop r14
    mov r15, after_syscall
    hlt
  )");
  X86CpuState s = m.run_to_hlt();
  EXPECT_EQ(s.gpr[R12] & 0xffff, 0x2bu);  // STAR[63:48] + 16, RPL 3
  EXPECT_EQ(s.gpr[R13] & 0xffff, 0x23u);  // STAR[63:48] + 8, RPL 3
  EXPECT_EQ(s.gpr[R8], s.gpr[R15]);       // RCX = return address
  EXPECT_EQ(s.gpr[R9] & 0x600, 0x600u);   // R11 = user RFLAGS (IF, DF)
  EXPECT_EQ(s.gpr[R10] & 0xffff, 0x08u);
  EXPECT_EQ(s.gpr[R14] & 0x600, 0u);      // SFMASK cleared IF and DF
  EXPECT_EQ(s.gpr[RAX], 7u);
}

TEST(EmuSystem, SoftwareInterruptAndIretqSamePrivilege) {
  EmuTestMachine m;
  m.load(R"(
    SET_GATE 3, bp_handler
    SET_GATE 0x40, handler40
    mov rbx, rsp
    int3
  after_int3:
    int 0x40
    mov r10, rsp
    hlt
  bp_handler:
    mov r8, [rsp]        ; INT3 is a trap: RIP after it
    iretq
  handler40:
    mov r9, rsp
    iretq
  )");
  X86CpuState s = m.run_to_hlt();
  EXPECT_EQ(s.gpr[R10], s.gpr[RBX]);        // IRETQ restored RSP
  EXPECT_EQ(s.gpr[R9], (s.gpr[RBX] & ~0xfull) - 40);  // 16-byte aligned frame
  EXPECT_GT(s.gpr[R8], kCode);
}

TEST(EmuSystem, VerwAndVerr) {
  EmuTestMachine m;
  m.load(R"(
    mov ax, 0x10
    verw ax              ; writable data, DPL 0: ZF = 1
    setz r8b
    mov ax, 0x08
    verw ax              ; code is never writable: ZF = 0
    setz r9b
    verr ax              ; readable code: ZF = 1
    setz r10b
    mov ax, 0x300
    verw ax              ; beyond the GDT limit: ZF = 0, no fault
    setz r11b
    hlt
  )");
  X86CpuState s = m.run_to_hlt();
  EXPECT_EQ(s.gpr[R8] & 0xff, 1u);
  EXPECT_EQ(s.gpr[R9] & 0xff, 0u);
  EXPECT_EQ(s.gpr[R10] & 0xff, 1u);
  EXPECT_EQ(s.gpr[R11] & 0xff, 0u);
}

TEST(EmuSystem, CpuidReportsThePolicy) {
  EmuTestMachine m;
  m.load(R"(
    xor eax, eax
    cpuid
    mov r8d, ebx
    mov eax, 1
    cpuid
    mov r9d, edx
    mov r10d, ecx
    mov eax, 0x80000001
    cpuid
    mov r11d, edx
    hlt
  )");
  X86CpuState s = m.run_to_hlt();
  EXPECT_EQ(s.gpr[R8], 0x756e6547u);           // "Genu"
  EXPECT_TRUE(s.gpr[R9] & (1u << 26));         // SSE2
  EXPECT_TRUE(s.gpr[R10] & (1u << 13));        // CX16
  EXPECT_FALSE(s.gpr[R10] & (1u << 0));        // no SSE3
  EXPECT_TRUE(s.gpr[R11] & (1u << 29));        // LM
  EXPECT_TRUE(s.gpr[R11] & (1u << 20));        // NX
}

TEST(EmuSystem, UnimplementedInstructionIsInternalErrorWithDisassembly) {
  EmuTestMachine m;
  m.load("fsin\nhlt\n");
  VcpuExit e = m.run();
  EXPECT_EQ(e.kind, VcpuExitKind::InternalError);
  EXPECT_NE(e.message.find("fsin"), std::string::npos) << e.message;
  EXPECT_NE(e.message.find("d9fe"), std::string::npos) << e.message;
}

class OneShotSource : public InterruptSource {
 public:
  bool pending() override { return armed.load(); }
  uint8_t acknowledge() override {
    armed.store(false);
    ++acks;
    return 0x41;
  }
  std::atomic<bool> armed{false};
  int acks = 0;
};

TEST(EmuSystem, ExternalInterruptWakesHlt) {
  EmuTestMachine m;
  OneShotSource source;
  m.vcpu().set_interrupt_source(&source);
  m.load(R"(
    SET_GATE 0x41, irq_handler
    sti
    hlt                  ; waits for the interrupt
    mov r9, 1            ; runs after the handler returns
    cli
    hlt
  irq_handler:
    mov r8, 0x41
    iretq
  )");
  std::thread raiser([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(30));
    source.armed.store(true);
    m.vcpu().wake();
  });
  X86CpuState s = m.run_to_hlt();
  raiser.join();
  EXPECT_EQ(s.gpr[R8], 0x41u);
  EXPECT_EQ(s.gpr[R9], 1u);
  EXPECT_EQ(source.acks, 1);
}

TEST(EmuSystem, KickStopsARunningLoop) {
  EmuTestMachine m;
  m.load("spin: inc rax\njmp spin\n");
  std::thread kicker([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    m.vcpu().kick();
  });
  VcpuExit e = m.run();
  kicker.join();
  EXPECT_EQ(e.kind, VcpuExitKind::Stopped);
  EXPECT_GT(m.vcpu().get_state().gpr[RAX], 1000u);
}

TEST(EmuSystem, TraceNamesInstructionsAndChangedRegisters) {
  EmuTestMachine m;
  char* buf = nullptr;
  size_t len = 0;
  FILE* out = open_memstream(&buf, &len);
  m.vcpu().set_trace(out);
  m.load("mov eax, 5\nhlt\n");
  m.run();
  m.vcpu().set_trace(nullptr);
  std::fclose(out);
  std::string text(buf, len);
  std::free(buf);
  EXPECT_NE(text.find("mov eax, 0x05"), std::string::npos) << text;
  EXPECT_NE(text.find("rax=0x5"), std::string::npos) << text;
}

}  // namespace
}  // namespace vireo::emu::test
