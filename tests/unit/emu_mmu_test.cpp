// The emulator's MMU: page-fault error codes and CR2, A/D bits, INVLPG/CR3 flushes,
// MMIO and port I/O reaching IoBus devices.
#include <map>

#include "emu_test_support.h"

namespace vireo::emu::test {
namespace {

// A #PF handler that records the error code (R8) and CR2 (R9), then halts.
constexpr const char* kPfHandler = R"(
  pf_handler:
    mov r8, [rsp]
    mov r9, cr2
    mov r10, [rsp + 16]
    hlt
)";

struct PfResult {
  uint64_t error, cr2, cs;
};

PfResult page_fault(const std::string& body) {
  EmuTestMachine m;
  m.load("SET_GATE 14, pf_handler\n" + body + "\nmov r8, 0xbad\nhlt\n" + kPfHandler);
  X86CpuState s = m.run_to_hlt();
  return {s.gpr[R8], s.gpr[R9], s.gpr[R10]};
}

TEST(EmuMmu, NotPresentReadFault) {
  // Clear the PTE for 0x150000, then read it: P = 0, W = 0, U = 0.
  PfResult r = page_fault("mov qword [PTE_ADDR(0x150000)], 0\nmov rax, [0x150008]");
  EXPECT_EQ(r.error, 0u);
  EXPECT_EQ(r.cr2, 0x150008u);
}

TEST(EmuMmu, FaultFrameHasResumeFlag) {
  EmuTestMachine m;
  m.load(R"(
    SET_GATE 14, handler
    mov qword [PTE_ADDR(0x150000)], 0
    mov rax, [0x150000]
  handler:
    mov r8, [rsp + 24]   ; saved RFLAGS
    hlt
  )");
  EXPECT_TRUE(m.run_to_hlt().gpr[R8] & (1u << 16));
}

TEST(EmuMmu, WriteToReadOnlyWithWp) {
  // Read-only PTE (P | U), CR0.WP = 1: a supervisor write faults with P | W.
  PfResult r = page_fault("mov qword [PTE_ADDR(0x151000)], 0x151005\nmov byte [0x151010], 1");
  EXPECT_EQ(r.error, pferr::P | pferr::W);
  EXPECT_EQ(r.cr2, 0x151010u);
  // With WP cleared the same write succeeds.
  EmuTestMachine m;
  m.load(R"(
    mov qword [PTE_ADDR(0x151000)], 0x151005
    mov rax, cr0
    and eax, ~(1 << 16)
    mov cr0, rax
    mov byte [0x151010], 7
    movzx ebx, byte [0x151010]
    hlt
  )");
  EXPECT_EQ(m.run_to_hlt().gpr[RBX], 7u);
}

TEST(EmuMmu, UserAccessToSupervisorPage) {
  // Supervisor-only page 0x152000; drop to CPL 3 with IRETQ and touch it.
  EmuTestMachine m;
  m.load(std::string(R"(
    SET_GATE 14, pf_handler
    mov qword [PTE_ADDR(0x152000)], 0x152003   ; P | RW, no U
    push 0x23          ; SS: user data | RPL 3
    push 0x80000       ; RSP
    push 0x2           ; RFLAGS
    push 0x2b          ; CS: user code64 | RPL 3
    push user_code
    iretq
  user_code:
    mov rax, [0x152000]
    hlt
  )") + kPfHandler);
  X86CpuState s = m.run_to_hlt();
  EXPECT_EQ(s.gpr[R8], pferr::P | pferr::U);
  EXPECT_EQ(s.gpr[R9], 0x152000u);
  EXPECT_EQ(s.gpr[R10], 0x2bu);  // interrupted CS in the frame
}

TEST(EmuMmu, NxFetchFault) {
  // Make the page holding `target` non-executable and jump there: P | I/D.
  PfResult r = page_fault(R"(
    mov rax, 0x153003 | (1 << 63)
    mov [PTE_ADDR(0x153000)], rax
    mov byte [0x153000], 0xf4      ; hlt, never executed
    mov rax, 0x153000
    jmp rax
  )");
  EXPECT_EQ(r.error, pferr::P | pferr::ID);
  EXPECT_EQ(r.cr2, 0x153000u);
  EXPECT_EQ(r.cs, 0x08u);  // the frame's CS slot: checks the frame layout too
}

TEST(EmuMmu, ReservedBitFault) {
  // Bit 51 set in a PTE is reserved (MAXPHYADDR 40): P | RSVD.
  PfResult r = page_fault("mov rax, 0x154003 | (1 << 51)\nmov [PTE_ADDR(0x154000)], rax\nmov eax, [0x154000]");
  EXPECT_EQ(r.error, pferr::P | pferr::RSVD);
}

TEST(EmuMmu, AccessedAndDirtyBits) {
  EmuTestMachine m;
  m.load(R"(
    mov qword [PTE_ADDR(0x160000)], 0x160007
    mov qword [PTE_ADDR(0x161000)], 0x161007
    invlpg [0x160000]
    invlpg [0x161000]
    mov rax, [0x160000]        ; read: A only
    mov byte [0x161000], 1     ; write: A and D
    hlt
  )");
  m.run_to_hlt();
  uint64_t pte_read = m.memory().read_obj<uint64_t>(kPt + (0x160000 >> 12) * 8);
  uint64_t pte_write = m.memory().read_obj<uint64_t>(kPt + (0x161000 >> 12) * 8);
  EXPECT_EQ(pte_read & 0x60, 0x20u);
  EXPECT_EQ(pte_write & 0x60, 0x60u);
  // The upper levels got A too.
  EXPECT_TRUE(m.memory().read_obj<uint64_t>(kPml4) & 0x20);
  EXPECT_TRUE(m.memory().read_obj<uint64_t>(kPd) & 0x20);
}

TEST(EmuMmu, InvlpgAndCr3WriteSeeNewMapping) {
  // Map virtual 0x170000 to physical 0x180000 after a first access cached the old
  // mapping; after INVLPG the new one must be used. Then again with a CR3 reload.
  EmuTestMachine m;
  m.load(R"(
    mov qword [0x170000], 0x1111
    mov qword [0x180000], 0x2222
    mov qword [0x190000], 0x3333
    mov rax, [0x170000]                     ; cache the identity mapping
    mov qword [PTE_ADDR(0x170000)], 0x180007
    invlpg [0x170000]
    mov rbx, [0x170000]                     ; 0x2222
    mov qword [PTE_ADDR(0x170000)], 0x190007
    mov rdx, cr3
    mov cr3, rdx
    mov rcx, [0x170000]                     ; 0x3333
    hlt
  )");
  X86CpuState s = m.run_to_hlt();
  EXPECT_EQ(s.gpr[RAX], 0x1111u);
  EXPECT_EQ(s.gpr[RBX], 0x2222u);
  EXPECT_EQ(s.gpr[RCX], 0x3333u);
}

TEST(EmuMmu, AccessAcrossPageBoundary) {
  // An 8-byte access straddling two pages that map to non-adjacent frames.
  EmuTestMachine m;
  m.load(R"(
    mov qword [PTE_ADDR(0x1a1000)], 0x1b0007   ; 0x1a1000 -> 0x1b0000
    invlpg [0x1a1000]
    mov rax, 0x8877665544332211
    mov [0x1a0ffc], rax
    mov ebx, [0x1a0ffc]
    mov ecx, [0x1b0000]
    mov rdx, [0x1a0ffc]
    hlt
  )");
  X86CpuState s = m.run_to_hlt();
  EXPECT_EQ(s.gpr[RBX], 0x44332211u);
  EXPECT_EQ(s.gpr[RCX], 0x88776655u);
  EXPECT_EQ(s.gpr[RDX], 0x8877665544332211ull);
}

class RecordingDevice : public IoDevice {
 public:
  uint64_t io_read(uint64_t offset, unsigned size) override {
    reads.push_back({offset, size});
    return 0xa5a5a5a5a5a5a5a5ull + offset;
  }
  void io_write(uint64_t offset, unsigned size, uint64_t value) override { writes.push_back({offset, size, value}); }
  struct Access {
    uint64_t offset;
    unsigned size;
    uint64_t value = 0;
  };
  std::vector<Access> reads, writes;
};

TEST(EmuMmu, PortIoReachesDevice) {
  EmuTestMachine m;
  RecordingDevice dev;
  m.pio().add(0x3f8, 8, &dev, "test");
  m.load(R"(
    mov dx, 0x3f8
    mov al, 0x41
    out dx, al
    mov ax, 0x1234
    mov dx, 0x3fa
    out dx, ax
    mov dx, 0x3f8
    in al, dx
    mov rbx, rax
    mov dx, 0x3fc
    in eax, dx
    hlt
  )");
  X86CpuState s = m.run_to_hlt();
  ASSERT_EQ(dev.writes.size(), 2u);
  EXPECT_EQ(dev.writes[0].offset, 0u);
  EXPECT_EQ(dev.writes[0].size, 1u);
  EXPECT_EQ(dev.writes[0].value, 0x41u);
  EXPECT_EQ(dev.writes[1].offset, 2u);
  EXPECT_EQ(dev.writes[1].size, 2u);
  EXPECT_EQ(dev.writes[1].value, 0x1234u);
  ASSERT_EQ(dev.reads.size(), 2u);
  EXPECT_EQ(s.gpr[RBX] & 0xff, 0xa5u);
  EXPECT_EQ(s.gpr[RAX], (0xa5a5a5a5ull + 4) & 0xffffffff);
  EXPECT_EQ(dev.reads[1].size, 4u);
}

TEST(EmuMmu, MmioReachesDevice) {
  // Guest-physical 0xd0000000 is in the MMIO hole; map it at virtual 0x1c0000.
  EmuTestMachine m;
  RecordingDevice dev;
  m.mmio().add(0xd0000000, 0x1000, &dev, "test");
  m.load(R"(
    mov rax, 0xd0000003 | (1 << 4)   ; PCD
    mov [PTE_ADDR(0x1c0000)], rax
    invlpg [0x1c0000]
    mov dword [0x1c0010], 0xdeadbeef
    mov rax, [0x1c0020]
    mov bl, [0x1c0001]
    hlt
  )");
  X86CpuState s = m.run_to_hlt();
  ASSERT_EQ(dev.writes.size(), 1u);
  EXPECT_EQ(dev.writes[0].offset, 0x10u);
  EXPECT_EQ(dev.writes[0].size, 4u);
  EXPECT_EQ(dev.writes[0].value, 0xdeadbeefu);
  ASSERT_EQ(dev.reads.size(), 2u);
  EXPECT_EQ(dev.reads[0].offset, 0x20u);
  EXPECT_EQ(dev.reads[0].size, 8u);
  EXPECT_EQ(s.gpr[RAX], 0xa5a5a5a5a5a5a5a5ull + 0x20);
  EXPECT_EQ(dev.reads[1].size, 1u);
  EXPECT_EQ(s.gpr[RBX] & 0xff, 0xa6u);
}

TEST(EmuMmu, SelfModifyingCodeIsSeen) {
  // Execute a MOV, patch its immediate, execute it again: the decode cache must not
  // return the stale instruction.
  EmuTestMachine m;
  m.load(R"(
    xor ebx, ebx
    mov ecx, 2
  again:
  patch:
    mov eax, 1
    add ebx, eax
    mov dword [patch + 1], 100
    loop again
    hlt
  )");
  EXPECT_EQ(m.run_to_hlt().gpr[RBX], 101u);
}

}  // namespace
}  // namespace vireo::emu::test
