// Integer instruction families on the emulator. Expected values and flags are worked
// out by hand from the SDM's definitions, not taken from the implementation.
#include "emu_test_support.h"

namespace vireo::emu::test {
namespace {

// Executes `body` and captures RFLAGS right after it in RBX (via PUSHFQ).
uint64_t flags_after(const std::string& body) {
  X86CpuState s = run_snippet(body + "\npushfq\npop rbx\n");
  return s.gpr[RBX] & kStatus;
}

TEST(EmuAlu, AddFlags) {
  // 0x7f + 1 = 0x80: signed overflow, sign set, carry out of bit 3 (AF), one bit set (PF = 0).
  EXPECT_EQ(flags_after("mov al, 0x7f\nadd al, 1"), OF | SF | AF);
  // 0xff + 1 = 0x00: carry, zero, AF, PF (zero bits set is even).
  EXPECT_EQ(flags_after("mov al, 0xff\nadd al, 1"), CF | ZF | AF | PF);
  // 64-bit: 0x8000000000000000 + 0x8000000000000000 = 0 with CF and OF.
  EXPECT_EQ(flags_after("mov rax, 0x8000000000000000\nadd rax, rax"), CF | OF | ZF | PF);
  X86CpuState s = run_snippet("mov eax, 0xffffffff\nadd eax, 2\nmov rcx, -1\nmov ecx, 5");
  EXPECT_EQ(s.gpr[RAX], 1u);  // 32-bit results zero-extend
  EXPECT_EQ(s.gpr[RCX], 5u);
}

TEST(EmuAlu, SubCmpAndBorrow) {
  // 0 - 1 = 0xff: borrow (CF), SF, AF (borrow from bit 4), PF (8 bits set).
  EXPECT_EQ(flags_after("xor eax, eax\ncmp al, 1"), CF | SF | AF | PF);
  // 0x80 - 1 = 0x7f: signed overflow, AF; 7 bits set -> PF = 0.
  EXPECT_EQ(flags_after("mov al, 0x80\nsub al, 1"), OF | AF);
  // Equal operands: ZF and PF only.
  EXPECT_EQ(flags_after("mov ecx, 1234\ncmp ecx, 1234"), ZF | PF);
}

TEST(EmuAlu, AdcSbbChainCarries) {
  // 128-bit add: (2^64 - 1) + 1 = 2^64 -> low 0, high 1.
  X86CpuState s = run_snippet("mov rax, -1\nxor edx, edx\nadd rax, 1\nadc rdx, 0");
  EXPECT_EQ(s.gpr[RAX], 0u);
  EXPECT_EQ(s.gpr[RDX], 1u);
  // 128-bit subtract: 2^64 - 1 -> low 0xfff..f, high 0.
  s = run_snippet("xor eax, eax\nmov edx, 1\nsub rax, 1\nsbb rdx, 0");
  EXPECT_EQ(s.gpr[RAX], ~0ull);
  EXPECT_EQ(s.gpr[RDX], 0u);
  // ADC with CF = 1 where a + b + 1 wraps exactly to a: 5 + 0xff + 1 = 0x105 -> CF = 1.
  EXPECT_EQ(flags_after("stc\nmov al, 5\nadc al, 0xff") & CF, CF);
  // SBB with CF = 1: 5 - 5 - 1 borrows.
  EXPECT_EQ(flags_after("stc\nmov al, 5\nsbb al, 5") & (CF | ZF), CF);
}

TEST(EmuAlu, IncDecKeepCarry) {
  EXPECT_EQ(flags_after("stc\nmov al, 0x7f\ninc al"), CF | OF | SF | AF);
  EXPECT_EQ(flags_after("clc\nmov al, 0x80\ndec al"), OF | AF);
  EXPECT_EQ(flags_after("stc\nmov ecx, 1\ndec ecx"), CF | ZF | PF);
}

TEST(EmuAlu, LogicNegNot) {
  EXPECT_EQ(flags_after("stc\nmov al, 0xf0\nand al, 0x0f"), ZF | PF);
  EXPECT_EQ(flags_after("mov eax, 0x80000001\ntest eax, eax"), SF);  // 1 bit in the low byte: PF = 0
  X86CpuState s = run_snippet("mov eax, 5\nneg eax\nmov ecx, 0xff00\nnot cx\nmov edx, 0\nneg edx\npushfq\npop rbx");
  EXPECT_EQ(s.gpr[RAX], 0xfffffffbu);
  EXPECT_EQ(s.gpr[RCX], 0x00ffu);
  EXPECT_EQ(s.gpr[RBX] & (CF | ZF), ZF);  // NEG 0: CF = 0
  EXPECT_EQ(flags_after("mov eax, 5\nneg eax") & (CF | SF), CF | SF);
}

TEST(EmuAlu, ByteRegistersWithAndWithoutRex) {
  X86CpuState s = run_snippet(
      "mov eax, 0x1234\nmov ah, 0x56\n"      // AH = 0x56 -> 0x5634
      "mov esi, 0x1111\nmov sil, 0x22\n"     // REX: SIL
      "mov ebx, 0\nmov bl, ah");
  EXPECT_EQ(s.gpr[RAX], 0x5634u);
  EXPECT_EQ(s.gpr[RSI], 0x1122u);
  EXPECT_EQ(s.gpr[RBX], 0x56u);
}

TEST(EmuShift, ShiftsAndRotates) {
  // SHL 0x81 by 1 (8-bit): result 0x02, CF = 1 (old bit 7), OF = MSB(result) ^ CF = 1.
  EXPECT_EQ(flags_after("mov al, 0x81\nshl al, 1"), CF | OF);
  // SHR 0x81 by 1: 0x40, CF = 1, OF = old MSB = 1; one bit set -> PF = 0.
  EXPECT_EQ(flags_after("mov al, 0x81\nshr al, 1"), CF | OF);
  // SAR -8 by 2 = -2 (0xfe), CF = bit 1 of 0xf8 = 0.
  X86CpuState s = run_snippet("mov al, 0xf8\nsar al, 2\nmovzx ebp, al\n"
                      "mov edx, 0x80000001\nrol edx, 1\n"       // 0x00000003, CF = 1
                      "mov r8d, 1\nror r8d, 1\n"                // 0x80000000
                      "mov r9, 1\nstc\nrcr r9, 1\n"             // CF into bit 63, 1 out to CF
                      "mov r10b, 0x80\nclc\nrcl r10b, 1\n"      // 0x00 with CF = 1
                      "setc r11b\n"
                      "mov r12d, 0x12345678\nmov cl, 8\nshl r12d, cl\n"
                      "mov r13, 0x1122334455667788\nmov r14, 0xaabbccddeeff0011\nshld r13, r14, 16\n"
                      "mov r15, 0x1122334455667788\nshrd r15, r14, 8\n");
  EXPECT_EQ(s.gpr[RBP], 0xfeu);
  EXPECT_EQ(s.gpr[RDX], 3u);
  EXPECT_EQ(s.gpr[R8], 0x80000000u);
  EXPECT_EQ(s.gpr[R9], 0x8000000000000000ull);
  EXPECT_EQ(s.gpr[R10] & 0xff, 0u);
  EXPECT_EQ(s.gpr[R11] & 0xff, 1u);
  EXPECT_EQ(s.gpr[R12], 0x34567800u);
  EXPECT_EQ(s.gpr[R13], 0x334455667788aabbull);
  EXPECT_EQ(s.gpr[R15], 0x1111223344556677ull);
  // A zero count changes no flags.
  EXPECT_EQ(flags_after("stc\nmov al, 1\nmov cl, 0\nshl al, cl") & CF, CF);
}

TEST(EmuMulDiv, MultiplyAndDivide) {
  X86CpuState s = run_snippet(
      "mov rax, 0x100000000\nmov rcx, 0x100000000\nmul rcx\nmov r8, rdx\nmov r9, rax\n"  // 2^64
      "mov eax, -3\nmov ecx, 7\nimul ecx\nmov r10, rax\nmov r11, rdx\n"                 // -21
      "mov rax, -7\nmov rbx, 2\ncqo\nidiv rbx\nmov r12, rax\nmov r13, rdx\n"            // -3 r -1
      "mov eax, 100\nxor edx, edx\nmov ecx, 7\ndiv ecx\nmov r14, rax\nmov r15, rdx\n"   // 14 r 2
      "imul rsi, rcx, -5\n");                                                            // -35
  EXPECT_EQ(s.gpr[R8], 1u);
  EXPECT_EQ(s.gpr[R9], 0u);
  EXPECT_EQ(s.gpr[R10], 0xffffffebu);
  EXPECT_EQ(s.gpr[R11], 0xffffffffu);
  EXPECT_EQ(s.gpr[R12], uint64_t(-3));
  EXPECT_EQ(s.gpr[R13], uint64_t(-1));
  EXPECT_EQ(s.gpr[R14], 14u);
  EXPECT_EQ(s.gpr[R15], 2u);
  EXPECT_EQ(s.gpr[RSI], uint64_t(-35));
  // MUL: CF = OF = 1 exactly when the high half is non-zero.
  EXPECT_EQ(flags_after("mov al, 16\nmov cl, 16\nmul cl") & (CF | OF), CF | OF);
  EXPECT_EQ(flags_after("mov al, 15\nmov cl, 17\nmul cl") & (CF | OF), 0u);
  // IMUL r, r/m: 0x40000000 * 2 overflows 32 bits signed.
  EXPECT_EQ(flags_after("mov eax, 0x40000000\nmov ecx, 2\nimul eax, ecx") & (CF | OF), CF | OF);
}

// #DE through the IDT: the handler sees the faulting RIP and records it.
TEST(EmuMulDiv, DivideByZeroDeliversDE) {
  EmuTestMachine m;
  m.load(R"(
    SET_GATE 0, de_handler
    mov ecx, 0
    mov eax, 1
  fault_here:
    div ecx
    mov r15, 0xbad
    hlt
  de_handler:
    mov r8, [rsp]        ; return RIP = the DIV itself (a fault)
    mov r9, [rsp + 8]    ; CS
    mov r10, fault_here
    hlt
  )");
  X86CpuState s = m.run_to_hlt();
  EXPECT_EQ(s.gpr[R8], s.gpr[R10]);
  EXPECT_EQ(s.gpr[R9], 0x08u);
  EXPECT_NE(s.gpr[R15], 0xbadu);
  // Quotient overflow is #DE too: 0x100 / 1 does not fit AL.
  m.load(R"(
    SET_GATE 0, de_handler
    mov eax, 0x100
    mov cl, 1
    div cl
    hlt
  de_handler:
    mov r8, 0xde
    hlt
  )");
  EXPECT_EQ(m.run_to_hlt().gpr[R8], 0xdeu);
}

TEST(EmuBit, BitOpsScansCmovSetcc) {
  X86CpuState s = run_snippet(
      "mov eax, 0b1010\nbt eax, 1\nsetc r8b\nbts eax, 0\nbtr eax, 3\nbtc eax, 4\n"  // eax = 0b10011
      "mov ecx, 0x00f0\nbsf edx, ecx\nbsr esi, ecx\n"
      "mov rdi, 0x0102030405060708\nbswap rdi\n"
      "mov r9, 5\nmov r10, 7\ncmp r9, r10\ncmovl r9, r10\n"  // 5 < 7 -> r9 = 7
      "mov r11d, 0xffffffff\nshl r11, 32\nmov r12d, 1\ncmp r12d, 1\ncmovne r11d, r12d\n"  // false: still zero-extends
      "mov r13, 0\nmov r14, -1\nadd r14, 1\nsetz r13b\n"
      "mov eax, eax\n");
  EXPECT_EQ(s.gpr[R8] & 0xff, 1u);
  EXPECT_EQ(s.gpr[RAX], 0b10011u);
  EXPECT_EQ(s.gpr[RDX], 4u);
  EXPECT_EQ(s.gpr[RSI], 7u);
  EXPECT_EQ(s.gpr[RDI], 0x0807060504030201ull);
  EXPECT_EQ(s.gpr[R9], 7u);
  EXPECT_EQ(s.gpr[R11], 0u);
  EXPECT_EQ(s.gpr[R13], 1u);
  // BT with a memory operand and a register offset addresses beyond the operand.
  s = run_snippet("mov qword [0x20000], 0\nmov qword [0x20008], 0\nmov eax, 70\nbts [0x20000], rax\nmov rbx, [0x20008]");
  EXPECT_EQ(s.gpr[RBX], 1u << 6);
  // BSF of zero sets ZF and leaves the destination alone.
  s = run_snippet("mov edx, 77\nxor ecx, ecx\nbsf edx, ecx\nsetz al");
  EXPECT_EQ(s.gpr[RDX], 77u);
  EXPECT_EQ(s.gpr[RAX] & 0xff, 1u);
}

TEST(EmuAlu, ExchangeAndCompareExchange) {
  X86CpuState s = run_snippet(
      "mov qword [0x20000], 10\n"
      "mov eax, 10\nmov ecx, 20\nlock cmpxchg [0x20000], ecx\nsetz r8b\n"  // equal: [m] = 20
      "mov eax, 5\nlock cmpxchg [0x20000], ecx\nsetz r9b\nmov r10, rax\n"  // not equal: eax = 20
      "mov edx, 3\nlock xadd [0x20000], edx\nmov rbp, rdx\nmov r11, [0x20000]\n"        // [m] = 23, edx = 20
      "mov r12, 99\nxchg [0x20000], r12\n"
      "mov qword [0x20010], 1\nmov qword [0x20018], 2\n"
      "mov eax, 1\nxor edx, edx\nmov ebx, 0x11\nmov ecx, 0x22\n"
      "mov rax, 1\nmov rdx, 2\ncmpxchg16b [0x20010]\nsetz r13b\nmov r14, [0x20010]\nmov r15, [0x20018]\n");
  EXPECT_EQ(s.gpr[R8] & 0xff, 1u);
  EXPECT_EQ(s.gpr[R9] & 0xff, 0u);
  EXPECT_EQ(s.gpr[R10], 20u);
  EXPECT_EQ(s.gpr[RBP], 20u);
  EXPECT_EQ(s.gpr[R11], 23u);
  EXPECT_EQ(s.gpr[R12], 23u);
  EXPECT_EQ(s.gpr[R13] & 0xff, 1u);
  EXPECT_EQ(s.gpr[R14], 0x11u);
  EXPECT_EQ(s.gpr[R15], 0x22u);
}

TEST(EmuControl, CallRetLoopStack) {
  X86CpuState s = run_snippet(
      "mov ecx, 10\nxor eax, eax\n"
      "again: add eax, ecx\nloop again\n"  // 55
      "call func\nmov rbx, rdx\n"
      "push 0x1234\npop rsi\n"
      "mov qword [0x20000], -2\npush qword [0x20000]\npop r11\n"
      "push -1\npop rdi\n"
      "mov rbp, 0x5555\nenter 32, 0\nmov r8, rbp\nleave\nmov r9, rbp\n"
      "mov r10, rsp\n"
      "jmp done\n"
      "func: mov edx, 0x77\nret\n"
      "done:\n");
  EXPECT_EQ(s.gpr[RAX], 55u);
  EXPECT_EQ(s.gpr[RBX], 0x77u);
  EXPECT_EQ(s.gpr[RSI], 0x1234u);
  EXPECT_EQ(s.gpr[R11], uint64_t(-2));  // PUSH r/m is 64-bit by default
  EXPECT_EQ(s.gpr[RDI], ~0ull);
  EXPECT_EQ(s.gpr[R8], kStackTop - 8);
  EXPECT_EQ(s.gpr[R9], 0x5555u);
  EXPECT_EQ(s.gpr[R10], kStackTop);
}

TEST(EmuControl, ConditionalJumps) {
  // Each taken/not-taken pair sets a bit in eax; expected bits derived by hand.
  X86CpuState s = run_snippet(
      "xor eax, eax\n"
      "mov ecx, -1\ncmp ecx, 1\njl l1\nor eax, 1\nl1:\n"   // -1 < 1 signed: taken, bit 0 stays clear
      "cmp ecx, 1\njb l2\nor eax, 2\nl2:\n"                // 0xffffffff < 1 unsigned: not taken -> bit 1
      "cmp ecx, ecx\njne l3\nor eax, 4\nl3:\n"             // equal: not taken -> bit 2
      "mov edx, 0x7fffffff\nadd edx, 1\njo l4\nor eax, 8\nl4:\n"   // overflow: taken
      "test ecx, ecx\njs l5\nor eax, 16\nl5:\n"            // sign: taken
      "mov bl, 3\ntest bl, bl\njp l6\nor eax, 32\nl6:\n"   // 0b11 even parity: taken
      "mov edx, 5\ncmp edx, 5\njle l7\nor eax, 64\nl7:\n"  // taken
      "cmp edx, 4\njbe l8\nor eax, 128\nl8:\n");           // 5 > 4: not taken -> bit 7
  EXPECT_EQ(s.gpr[RAX], 2u | 4u | 128u);
}

TEST(EmuMove, MovForms) {
  X86CpuState s = run_snippet(
      "mov rax, 0x1122334455667788\nmov [0x20000], rax\n"
      "movzx ecx, byte [0x20000]\nmovsx rbp, word [0x20006]\nmovsxd rsi, dword [0x20004]\n"
      "mov edi, 0x80\nmovsx edi, dil\n"
      "mov al, 0x80\ncbw\nmov r8, rax\n"
      "mov eax, -5\ncdq\nmov r9, rdx\n"
      "lea r10, [rsi + rcx*4 + 16]\n"
      "lea r11, [rel $]\n"
      "mov byte [0x20010], 0x42\nmov rbx, 0x20000\nmov al, 0x10\nxlatb\nmov r12, rax\n");
  EXPECT_EQ(s.gpr[RCX], 0x88u);
  EXPECT_EQ(s.gpr[RBP], 0x1122u);
  EXPECT_EQ(s.gpr[RSI], 0x11223344u);
  EXPECT_EQ(s.gpr[RDI], 0xffffff80u);
  EXPECT_EQ(s.gpr[R8] & 0xffff, 0xff80u);
  EXPECT_EQ(s.gpr[R9], 0xffffffffu);
  EXPECT_EQ(s.gpr[R10], 0x11223344u + 0x88 * 4 + 16);
  EXPECT_GT(s.gpr[R11], kCode);
  EXPECT_EQ(s.gpr[R12] & 0xff, 0x42u);
}

}  // namespace
}  // namespace vireo::emu::test
