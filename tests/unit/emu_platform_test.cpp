// The emulator's machine platform: vCPUs wired to their local APICs, the I/O APIC and
// the start-up protocol (INIT/SIPI into real mode), HLT sleeping until the APIC timer
// or an interrupt, the APIC MSRs; and real-address mode execution.
#include <time.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "cpu/emu/cpuid_policy.h"
#include "cpu/emu/emu_platform.h"
#include "emu_test_support.h"

namespace vireo::emu::test {
namespace {

constexpr uint64_t kPlatGdt = 0x500, kPlatIdt = 0x8000, kPlatPml4 = 0x30000, kPlatPdpt = 0x31000,
                   kPlatPd = 0x32000, kBspCode = 0x20000, kApCode = 0x10000;

uint64_t thread_cpu_ns() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return uint64_t(ts.tv_sec) * 1000000000ull + uint64_t(ts.tv_nsec);
}

// A machine of `cpus` vCPUs with the emulator's interrupt controllers. GDT at 0x500:
// 0x08 code64, 0x10 data, 0x18 code32. Page tables at 0x30000 identity-map the first
// GiB with 2 MiB pages and 0xC0000000-0xFFFFFFFF (the APIC windows) with a 1 GiB page.
// IDT at 0x8000 (empty).
class PlatformMachine {
 public:
  explicit PlatformMachine(unsigned cpus)
      : mem_(8ull << 20), pio_("pio"), mmio_("mmio"), accel_(context(cpus), EmuOptions{.interrupt_controllers = true}) {
    for (unsigned i = 0; i < cpus; ++i) vcpus_.emplace_back(static_cast<EmuVcpu*>(accel_.create_vcpu(i).release()));
    static const uint64_t kGdtEntries[] = {0, 0x00af9b000000ffffull, 0x00cf93000000ffffull, 0x00cf9b000000ffffull};
    mem_.write(kPlatGdt, kGdtEntries, sizeof kGdtEntries);
    mem_.write_obj<uint64_t>(kPlatPml4, kPlatPdpt | 3);
    mem_.write_obj<uint64_t>(kPlatPdpt, kPlatPd | 3);
    mem_.write_obj<uint64_t>(kPlatPdpt + 3 * 8, 0xc0000000ull | 0x9b);  // 1 GiB, PCD PWT
    for (uint64_t i = 0; i < 512; ++i) mem_.write_obj<uint64_t>(kPlatPd + i * 8, (i << 21) | 0x83);
  }

  void load(uint64_t addr, const std::string& source) {
    std::vector<uint8_t> code = assemble(source);
    ASSERT_FALSE(code.empty());
    mem_.write(addr, code.data(), code.size());
  }

  // vCPU `i` at `rip` in 64-bit mode at CPL 0, IF = 0.
  void enter_long_mode(unsigned i, uint64_t rip) {
    X86CpuState st;
    st.rip = rip;
    st.rflags = 2;
    st.gpr[RSP] = 0x90000;
    st.cs = flat(0x08, 0xb, 0, true, false);
    st.ss = st.ds = st.es = st.fs = st.gs = flat(0x10, 0x3, 0, false, true);
    st.tr.type = 0xb;
    st.tr.s = false;
    st.ldt.unusable = true;
    st.gdt = {kPlatGdt, 0x1f};
    st.idt = {kPlatIdt, 0xfff};
    st.cr0 = 0x80050033;
    st.cr3 = kPlatPml4;
    st.cr4 = 0x6a0;
    st.efer = 0xd01;
    vcpus_[i]->set_state(st);
  }

  // vCPU `i` at `rip` in flat 32-bit protected mode, paging off, IF = 0.
  void enter_protected32(unsigned i, uint64_t rip) {
    X86CpuState st;
    st.rip = rip;
    st.rflags = 2;
    st.gpr[RSP] = 0x90000;
    st.cs = flat(0x18, 0xb, 0, false, true);
    st.ss = st.ds = st.es = st.fs = st.gs = flat(0x10, 0x3, 0, false, true);
    st.tr.type = 0xb;
    st.tr.s = false;
    st.ldt.unusable = true;
    st.gdt = {kPlatGdt, 0x1f};
    st.idt = {kPlatIdt, 0xfff};
    st.cr0 = 0x11;
    vcpus_[i]->set_state(st);
  }

  GuestMemory& memory() { return mem_; }
  EmuAccelerator& accel() { return accel_; }
  EmuVcpu& vcpu(unsigned i) { return *vcpus_[i]; }

 private:
  MachineContext context(unsigned cpus) {
    MachineContext ctx;
    ctx.memory = &mem_;
    ctx.pio = &pio_;
    ctx.mmio = &mmio_;
    ctx.num_cpus = cpus;
    return ctx;
  }

  GuestMemory mem_;
  IoBus pio_, mmio_;
  EmuAccelerator accel_;
  std::vector<std::unique_ptr<EmuVcpu>> vcpus_;
};

// Polls guest memory until `pred` holds or 5 s pass.
template <typename Pred>
bool eventually(Pred pred) {
  for (int i = 0; i < 500; ++i) {
    if (pred()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return pred();
}

// An AP start-up trampoline in the shape of Linux's: real mode at CS = 0x1000, a
// near call on the real-mode stack, LGDT with a 32-bit base, CR0.PE, a far jump to
// 32-bit code, PAE + LME + PG and a far jump to 64-bit code.
const char* kApTrampoline = R"(
bits 16
org 0
  cli
  lock inc dword [cs:starts]
  mov ax, cs
  mov ds, ax
  mov ss, ax
  mov sp, 0x800
  call get_magic
  mov [result16], ax
  mov [saved_cs], cs
  o32 lgdt [gdtr]
  mov eax, cr0
  or eax, 1
  mov cr0, eax
  jmp dword 0x18:(0x10000 + pm32)
get_magic:
  mov ax, 0x1234
  ret
align 8
gdtr: dw 0x1f
      dd 0x500
bits 32
pm32:
  mov eax, 0x10
  mov ds, eax
  mov ss, eax
  mov eax, 0x20
  mov cr4, eax
  mov eax, 0x30000
  mov cr3, eax
  mov ecx, 0xc0000080
  rdmsr
  or eax, 0x100
  wrmsr
  mov eax, cr0
  or eax, 0x80000000
  mov cr0, eax
  jmp 0x08:(0x10000 + lm64)
bits 64
lm64:
  mov rax, 0x1122334455667788
  mov [0x10000 + result64], rax
  hlt
align 8
starts: dd 0
result16: dw 0
saved_cs: dw 0
align 8
result64: dq 0
)";

// The BSP sends INIT and two start-up IPIs with vector 0x10 to APIC id 1, as Linux
// does, then halts.
const char* kBspStartsAp = R"(
bits 32
org 0x20000
  mov dword [0xfee00310], 1 << 24
  mov dword [0xfee00300], 0x0000c500  ; INIT, level assert
  mov dword [0xfee00300], 0x00008500  ; INIT, level de-assert
  mov dword [0xfee00300], 0x00000610  ; start-up, vector 0x10
  mov dword [0xfee00300], 0x00000610  ; the second start-up IPI must be ignored
  hlt
)";

TEST(EmuPlatform, ApWaitsForSipiThenRunsRealModeTrampolineToLongMode) {
  PlatformMachine m(2);
  m.load(kApCode, kApTrampoline);
  m.load(kBspCode, kBspStartsAp);
  m.enter_protected32(0, kBspCode);
  EXPECT_TRUE(m.vcpu(1).waiting_for_sipi());

  VcpuExit ap_exit;
  std::thread ap([&] { ap_exit = m.vcpu(1).run(); });
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  // Nothing runs on the AP before the SIPI.
  EXPECT_EQ(m.vcpu(1).cpu().instructions, 0u);

  std::vector<uint8_t> code = assemble(kApTrampoline);
  ASSERT_FALSE(code.empty());
  // The data at the end of the trampoline: starts, result16, saved_cs, (pad), result64.
  const uint64_t end = kApCode + code.size();
  VcpuExit bsp_exit = m.vcpu(0).run();
  EXPECT_EQ(bsp_exit.kind, VcpuExitKind::Halted) << bsp_exit.message;
  EXPECT_TRUE(eventually([&] { return m.memory().read_obj<uint64_t>(end - 8) != 0; }));
  // The AP halted with interrupts off: it sleeps (INIT could still wake it) until kicked.
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  m.vcpu(1).kick();
  ap.join();
  EXPECT_EQ(ap_exit.kind, VcpuExitKind::Stopped) << ap_exit.message;

  EXPECT_EQ(m.memory().read_obj<uint64_t>(end - 8), 0x1122334455667788u);
  EXPECT_EQ(m.memory().read_obj<uint32_t>(end - 16), 1u);  // one start: the second SIPI found the AP running
  EXPECT_EQ(m.memory().read_obj<uint16_t>(end - 12), 0x1234u);
  EXPECT_EQ(m.memory().read_obj<uint16_t>(end - 10), 0x1000u);
  X86CpuState s = m.vcpu(1).get_state();
  EXPECT_TRUE(s.cs.l);
  EXPECT_EQ(s.cs.selector, 0x08u);
}

TEST(EmuPlatform, StartupStateIsRealModeAtVectorPage) {
  X86CpuState s = EmuVcpu::startup_state(0x9a);
  EXPECT_EQ(s.cs.selector, 0x9a00u);
  EXPECT_EQ(s.cs.base, 0x9a000u);
  EXPECT_EQ(s.cs.limit, 0xffffu);
  EXPECT_EQ(s.rip, 0u);
  EXPECT_EQ(s.gpr[RDX], cpuid_policy(1, 0, CpuidContext{}).eax);  // the processor signature
  EXPECT_EQ(s.cr0 & x86::CR0_PE, 0u);
  EXPECT_EQ(s.efer, 0u);
  EXPECT_FALSE(s.cs.db);
}

// CPUID leaf 0xB: vCPUs are single-threaded cores of one package, x2APIC id = index.
TEST(EmuPlatform, CpuidTopologyHasOneThreadPerCore) {
  CpuidContext ctx{1, 3, true};
  CpuidResult smt = cpuid_policy(0xb, 0, ctx);
  EXPECT_EQ(smt.ebx, 1u);
  EXPECT_EQ((smt.ecx >> 8) & 0xff, 1u);
  EXPECT_EQ(smt.eax & 0x1f, 0u);
  EXPECT_EQ(smt.edx, 1u);
  CpuidResult core = cpuid_policy(0xb, 1, ctx);
  EXPECT_EQ(core.ebx, 3u);
  EXPECT_EQ((core.ecx >> 8) & 0xff, 2u);
  EXPECT_EQ(core.eax & 0x1f, 2u);  // ids 0-2 need two bits
  CpuidResult end = cpuid_policy(0xb, 2, ctx);
  EXPECT_EQ(end.ebx, 0u);
  EXPECT_EQ((end.ecx >> 8) & 0xff, 0u);
  EXPECT_EQ(end.ecx & 0xff, 2u);
}

// Real-address mode: INT n through the interrupt vector table and IRET, a far call
// and RETF, segment loads as paragraphs, and the 16-bit stack.
TEST(EmuRealMode, IntIretFarCallAndSegments) {
  PlatformMachine m(1);
  m.load(kApCode, R"(
bits 16
org 0
  mov ax, 0x1000
  mov ss, ax
  mov sp, 0x900
  xor ax, ax
  mov ds, ax
  mov word [0x21 * 4], handler         ; IVT entry 0x21 -> 1000:handler
  mov word [0x21 * 4 + 2], 0x1000
  mov ax, 0x2000
  mov es, ax
  mov word [es:0x10], 0xbeef           ; linear 0x20010
  stc
  int 0x21                             ; handler returns with BX set
  pushf
  pop dx                               ; CF must be restored by IRET
  call 0x1000:farsub
  cli
  hlt
handler:
  mov bx, 0x5a5a
  pushf
  pop si                               ; IF and TF clear inside the handler
  clc
  iret
farsub:
  mov cx, [es:0x10]
  retf
)");
  X86CpuState st = EmuVcpu::startup_state(0x10);
  st.rflags = 2 | x86::RFLAGS_IF;  // IF set: the handler must see it cleared
  m.vcpu(0).set_state(st);
  VcpuExit e = m.vcpu(0).run();
  EXPECT_EQ(e.kind, VcpuExitKind::Halted) << e.message;
  X86CpuState s = m.vcpu(0).get_state();
  EXPECT_EQ(s.gpr[RBX] & 0xffff, 0x5a5au);
  EXPECT_EQ(s.gpr[RCX] & 0xffff, 0xbeefu);
  EXPECT_EQ(s.gpr[RDX] & 1, 1u);                  // CF restored by IRET
  EXPECT_EQ(s.gpr[RSI] & (x86::RFLAGS_IF | 0x100), 0u);  // IF and TF cleared on delivery
  EXPECT_EQ(s.gpr[RSP] & 0xffff, 0x900u);
  EXPECT_EQ(s.cs.selector, 0x1000u);
  EXPECT_EQ(s.es.base, 0x20000u);
}

// HLT with interrupts enabled sleeps until the APIC timer fires, without spinning.
TEST(EmuPlatform, HltSleepsUntilTheApicTimerFires) {
  PlatformMachine m(1);
  m.load(kBspCode, R"(
bits 64
org 0x20000
  mov rbx, 0xfee00000                  ; local APIC
  mov r8, 0xfec00000                   ; I/O APIC
  mov rax, handler
  mov rdi, 0x8000 + 0x40 * 16
  mov word [rdi], ax
  mov word [rdi + 2], 0x08
  mov word [rdi + 4], 0x8e00
  shr rax, 16
  mov word [rdi + 6], ax
  mov qword [rdi + 8], 0
  mov dword [rbx + 0x0f0], 0x1ff        ; SVR: APIC on, spurious vector 0xff
  mov dword [rbx + 0x3e0], 0xb          ; divide by 1
  mov dword [rbx + 0x320], 0x40         ; LVT timer: one-shot, vector 0x40
  mov dword [rbx + 0x380], 2500000      ; 100 ms at 25 MHz
  sti
  hlt
  cli
  hlt
handler:
  mov byte [0x21000], 1
  mov dword [rbx + 0x0b0], 0            ; EOI
  iretq
)");
  m.enter_long_mode(0, kBspCode);
  auto t0 = std::chrono::steady_clock::now();
  uint64_t cpu0 = thread_cpu_ns();
  VcpuExit e = m.vcpu(0).run();
  uint64_t cpu_ns = thread_cpu_ns() - cpu0;
  auto wall = std::chrono::steady_clock::now() - t0;
  EXPECT_EQ(e.kind, VcpuExitKind::Halted) << e.message;
  EXPECT_EQ(m.memory().read_obj<uint8_t>(0x21000), 1u);
  EXPECT_GE(wall, std::chrono::milliseconds(95));
  // Sleeping, not spinning: far less CPU time than the 100 ms waited.
  EXPECT_LT(cpu_ns, 40'000'000u);
}

// IA32_APIC_BASE and IA32_TSC_DEADLINE are the APIC's; CPUID reports the APIC and
// the TSC-deadline timer; a deadline interrupt wakes HLT.
TEST(EmuPlatform, ApicMsrsAndTscDeadlineTimer) {
  PlatformMachine m(1);
  m.load(kBspCode, R"(
bits 64
org 0x20000
  mov rbx, 0xfee00000                  ; local APIC
  mov r8, 0xfec00000                   ; I/O APIC
  mov rax, handler
  mov rdi, 0x8000 + 0x41 * 16
  mov word [rdi], ax
  mov word [rdi + 2], 0x08
  mov word [rdi + 4], 0x8e00
  shr rax, 16
  mov word [rdi + 6], ax
  mov qword [rdi + 8], 0
  mov ecx, 0x1b
  rdmsr
  shl rdx, 32
  or rax, rdx
  mov r12, rax                         ; IA32_APIC_BASE
  mov eax, 1
  cpuid
  mov r13, rcx
  mov r14, rdx
  mov rbx, 0xfee00000                  ; CPUID wrote EBX
  mov dword [rbx + 0x0f0], 0x1ff
  mov dword [rbx + 0x320], 0x40041      ; LVT timer: TSC-deadline, vector 0x41
  rdtsc
  shl rdx, 32
  or rax, rdx
  add rax, 20000000                    ; 20 ms at 1 GHz
  mov rdx, rax
  shr rdx, 32
  mov ecx, 0x6e0
  wrmsr
  sti
  hlt
  cli
  hlt
handler:
  mov r15, 0x41
  mov dword [rbx + 0x0b0], 0
  iretq
)");
  m.enter_long_mode(0, kBspCode);
  VcpuExit e = m.vcpu(0).run();
  EXPECT_EQ(e.kind, VcpuExitKind::Halted) << e.message;
  X86CpuState s = m.vcpu(0).get_state();
  EXPECT_EQ(s.gpr[R12], 0xfee00900u);  // base, enabled, BSP
  EXPECT_TRUE(s.gpr[R13] & (1u << 24));
  EXPECT_TRUE(s.gpr[R14] & (1u << 9));
  EXPECT_EQ(s.gpr[R15], 0x41u);
}

// A device's IRQ line reaches the CPU through the I/O APIC and wakes it from HLT.
TEST(EmuPlatform, IoapicLineWakesHaltedCpu) {
  PlatformMachine m(1);
  std::unique_ptr<IrqLine> line = m.accel().create_irq_line(4);
  m.load(kBspCode, R"(
bits 64
org 0x20000
  mov rbx, 0xfee00000                  ; local APIC
  mov r8, 0xfec00000                   ; I/O APIC
  mov rax, handler
  mov rdi, 0x8000 + 0x42 * 16
  mov word [rdi], ax
  mov word [rdi + 2], 0x08
  mov word [rdi + 4], 0x8e00
  shr rax, 16
  mov word [rdi + 6], ax
  mov qword [rdi + 8], 0
  mov dword [rbx + 0x0f0], 0x1ff
  mov dword [r8 + 0x00], 0x10 + 2 * 4 + 1
  mov dword [r8 + 0x10], 0            ; destination APIC 0
  mov dword [r8 + 0x00], 0x10 + 2 * 4
  mov dword [r8 + 0x10], 0x42         ; fixed, edge, unmasked, vector 0x42
  sti
  hlt
  cli
  hlt
handler:
  mov r15, 0x42
  mov dword [rbx + 0x0b0], 0
  iretq
)");
  m.enter_long_mode(0, kBspCode);
  std::thread raiser([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    line->set_level(true);
  });
  VcpuExit e = m.vcpu(0).run();
  raiser.join();
  EXPECT_EQ(e.kind, VcpuExitKind::Halted) << e.message;
  EXPECT_EQ(m.vcpu(0).get_state().gpr[R15], 0x42u);
}

// The PIT's counter 0 interrupts vCPU 0 through I/O APIC pin 2 (ISA IRQ 0), also
// while it sleeps in HLT.
TEST(EmuPlatform, PitRateGeneratorInterruptsBootCpu) {
  PlatformMachine m(1);
  m.load(kBspCode, R"(
bits 64
org 0x20000
  mov rbx, 0xfee00000                  ; local APIC
  mov r8, 0xfec00000                   ; I/O APIC
  mov rax, handler
  mov rdi, 0x8000 + 0x43 * 16
  mov word [rdi], ax
  mov word [rdi + 2], 0x08
  mov word [rdi + 4], 0x8e00
  shr rax, 16
  mov word [rdi + 6], ax
  mov qword [rdi + 8], 0
  mov dword [rbx + 0x0f0], 0x1ff
  mov dword [r8 + 0x00], 0x10 + 2 * 2 + 1
  mov dword [r8 + 0x10], 0
  mov dword [r8 + 0x00], 0x10 + 2 * 2
  mov dword [r8 + 0x10], 0x43          ; pin 2: fixed, edge, vector 0x43
  mov al, 0x34                         ; counter 0, lobyte/hibyte, mode 2
  out 0x43, al
  mov ax, 11932                        ; 10 ms at 1.193182 MHz
  out 0x40, al
  mov al, ah
  out 0x40, al
  xor r15, r15
  sti
idle:
  hlt
  cmp r15, 5
  jb idle
  cli
  hlt
handler:
  inc r15
  mov dword [rbx + 0x0b0], 0
  iretq
)");
  m.enter_long_mode(0, kBspCode);
  auto t0 = std::chrono::steady_clock::now();
  uint64_t cpu0 = thread_cpu_ns();
  VcpuExit e = m.vcpu(0).run();
  uint64_t cpu_ns = thread_cpu_ns() - cpu0;
  auto wall = std::chrono::steady_clock::now() - t0;
  EXPECT_EQ(e.kind, VcpuExitKind::Halted) << e.message;
  EXPECT_EQ(m.vcpu(0).get_state().gpr[R15], 5u);
  EXPECT_GE(wall, std::chrono::milliseconds(45));  // five periods of 10 ms
  EXPECT_LT(cpu_ns, 30'000'000u);
}

// INIT sends a running AP back to wait-for-SIPI; the next SIPI restarts it.
TEST(EmuPlatform, InitStopsARunningApUntilTheNextSipi) {
  PlatformMachine m(2);
  m.load(kApCode, R"(
bits 16
org 0
  lock inc dword [cs:0x100]
spin:
  jmp spin
)");
  VcpuExit ap_exit;
  std::thread ap([&] { ap_exit = m.vcpu(1).run(); });
  m.vcpu(1).receive_sipi(0x10);
  EXPECT_TRUE(eventually([&] { return m.memory().read_obj<uint32_t>(kApCode + 0x100) == 1; }));
  m.vcpu(1).receive_sipi(0x10);  // ignored: running
  m.vcpu(1).receive_init();
  EXPECT_TRUE(eventually([&] { return m.vcpu(1).waiting_for_sipi(); }));
  m.vcpu(1).receive_sipi(0x10);
  EXPECT_TRUE(eventually([&] { return m.memory().read_obj<uint32_t>(kApCode + 0x100) == 2; }));
  m.vcpu(1).kick();
  ap.join();
  EXPECT_EQ(ap_exit.kind, VcpuExitKind::Stopped) << ap_exit.message;
  EXPECT_EQ(m.memory().read_obj<uint32_t>(kApCode + 0x100), 2u);
}

}  // namespace
}  // namespace vireo::emu::test
