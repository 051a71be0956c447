// Test support for the emulator: assembles a snippet of 64-bit code with nasm, loads
// it into a small machine with a minimal long-mode setup and runs it on an EmuVcpu.
//
// Machine layout (guest-physical = guest-virtual, identity mapped):
//   0x0500  GDT: 0x08 code64, 0x10 data, 0x18 user code32, 0x20 user data,
//                0x28 user code64, 0x30 TSS (16 bytes), 0x40 code32
//   0x1000  PML4, 0x2000 PDPT, 0x3000 PD, 0x4000 PT (4 KiB pages for the first 2 MiB;
//           2 MiB pages above). Every entry is present, writable and user-accessible.
//   0x6000  TSS: RSP0 = 0x70000, IST1 = 0x60000
//   0x8000  IDT (256 gates, all empty until the snippet uses SET_GATE)
//   0x10000 the snippet (org 0x10000), started in 64-bit mode at CPL 0 with IF = 0
//   0x90000 initial RSP
// The snippet ends with HLT (returns Halted). The prelude offers
//   SET_GATE vector, handler[, ist]   install an interrupt gate (DPL 3) in the IDT
//   PTE_ADDR(va)                       address of the 4 KiB PTE mapping va (< 2 MiB)
#pragma once

#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "bus/io_bus.h"
#include "cpu/emu/emu_accelerator.h"
#include "cpu/emu/emu_vcpu.h"
#include "memory/guest_memory.h"

namespace vireo::emu::test {

constexpr uint64_t kGdt = 0x500, kPml4 = 0x1000, kPdpt = 0x2000, kPd = 0x3000, kPt = 0x4000, kTss = 0x6000,
                   kIdt = 0x8000, kCode = 0x10000, kStackTop = 0x90000;

// Assembles `source` with `nasm -f bin`; fails the test with nasm's message on error.
inline std::vector<uint8_t> assemble(const std::string& source) {
  char dir[] = "/tmp/vireo-emu-asm-XXXXXX";
  if (!mkdtemp(dir)) {
    ADD_FAILURE() << "mkdtemp failed";
    return {};
  }
  std::string base = dir;
  { std::ofstream(base + "/in.asm") << source; }
  std::string cmd = "nasm -f bin -o " + base + "/out.bin " + base + "/in.asm 2> " + base + "/err.txt";
  int rc = std::system(cmd.c_str());
  std::vector<uint8_t> bin;
  if (rc != 0) {
    std::ifstream err(base + "/err.txt");
    std::stringstream ss;
    ss << err.rdbuf();
    ADD_FAILURE() << "nasm failed: " << ss.str();
  } else {
    std::ifstream in(base + "/out.bin", std::ios::binary);
    bin.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  std::system(("rm -rf " + base).c_str());
  return bin;
}

inline const char* prelude() {
  return R"(
bits 64
default abs
org 0x10000
%define PTE_ADDR(va) (0x4000 + ((va) >> 12) * 8)
%macro SET_GATE 2-3 0
  push rax
  push rdi
  push rsi
  mov rax, %2
  mov rdi, 0x8000 + (%1) * 16
  mov esi, %3
  call __set_gate
  pop rsi
  pop rdi
  pop rax
%endmacro
  jmp __start
__set_gate:
  mov word [rdi], ax
  mov word [rdi + 2], 0x08
  mov byte [rdi + 4], sil
  mov byte [rdi + 5], 0xee
  shr rax, 16
  mov word [rdi + 6], ax
  shr rax, 16
  mov dword [rdi + 8], eax
  mov dword [rdi + 12], 0
  ret
__start:
)";
}

inline Segment flat(uint16_t sel, uint8_t type, uint8_t dpl, bool l, bool db) {
  Segment s;
  s.selector = sel;
  s.base = 0;
  s.limit = 0xffffffff;
  s.type = type;
  s.s = true;
  s.dpl = dpl;
  s.present = true;
  s.l = l;
  s.db = db;
  s.g = true;
  return s;
}

class EmuTestMachine {
 public:
  explicit EmuTestMachine(uint64_t ram = 8ull << 20, EmuOptions options = {})
      : mem_(ram), pio_("pio"), mmio_("mmio"), accel_(make_context(), options) {
    vcpu_.reset(static_cast<EmuVcpu*>(accel_.create_vcpu(0).release()));
  }

  // Assembles prelude + body, writes the tables and the code, sets the entry state.
  void load(const std::string& body) { load_with(std::string(prelude()) + body + "\n", false); }

  // The same machine entered in 32-bit protected mode with paging off (CS = 0x40,
  // flat), as the PVH and Multiboot entry points are: `body` starts at 0x10000 with
  // `bits 32`; the tables are in place for the guest to switch to long mode.
  void load_protected32(const std::string& body) {
    load_with("bits 32\norg 0x10000\n" + body + "\n", true);
  }

  void load_with(const std::string& source, bool protected32) {
    std::vector<uint8_t> code = assemble(source);
    ASSERT_FALSE(code.empty());
    mem_.fill(0, 0, 0x100000);
    static const uint64_t kGdtEntries[] = {
        0,
        0x00af9b000000ffffull,  // 0x08 code64
        0x00cf93000000ffffull,  // 0x10 data
        0x00cffb000000ffffull,  // 0x18 user code32
        0x00cff3000000ffffull,  // 0x20 user data
        0x00affb000000ffffull,  // 0x28 user code64
        // 0x30: 64-bit TSS, base kTss, limit 0x67, type 9 (available)
        0x0000890000000067ull | ((kTss & 0xffffff) << 16) | (((kTss >> 24) & 0xff) << 56),
        kTss >> 32,
        0x00cf9b000000ffffull,  // 0x40 code32
    };
    mem_.write(kGdt, kGdtEntries, sizeof kGdtEntries);
    mem_.write_obj<uint64_t>(kPml4, kPdpt | 7);
    mem_.write_obj<uint64_t>(kPdpt, kPd | 7);
    mem_.write_obj<uint64_t>(kPd, kPt | 7);
    for (uint64_t i = 1; i < 512; ++i) mem_.write_obj<uint64_t>(kPd + i * 8, (i << 21) | 0x87);
    for (uint64_t i = 0; i < 512; ++i) mem_.write_obj<uint64_t>(kPt + i * 8, (i << 12) | 7);
    mem_.write_obj<uint64_t>(kTss + 4, 0x70000);
    mem_.write_obj<uint64_t>(kTss + 0x24, 0x60000);
    mem_.write(kCode, code.data(), code.size());

    X86CpuState st;
    st.rip = kCode;
    st.rflags = 2;
    st.gpr[RSP] = kStackTop;
    st.cs = flat(0x08, 0xb, 0, true, false);
    st.ss = st.ds = st.es = st.fs = st.gs = flat(0x10, 0x3, 0, false, true);
    st.tr = Segment{};
    st.tr.selector = 0x30;
    st.tr.base = kTss;
    st.tr.limit = 0x67;
    st.tr.type = 0xb;
    st.tr.s = false;
    st.ldt = Segment{};
    st.ldt.unusable = true;
    st.gdt = {kGdt, 0x47};
    st.idt = {kIdt, 0xfff};
    st.cr0 = 0x80050033;  // PG WP NE ET MP PE
    st.cr3 = kPml4;
    st.cr4 = 0x6a0;       // OSXMMEXCPT OSFXSR PGE PAE
    st.efer = 0xd01;      // NXE LMA LME SCE
    if (protected32) {
      st.cs = flat(0x40, 0xb, 0, false, true);
      st.cr0 = 0x11;  // ET PE
      st.cr3 = 0;
      st.cr4 = 0;
      st.efer = 0;
    }
    vcpu_->set_state(st);
  }

  VcpuExit run() { return vcpu_->run(); }
  // Runs and expects the snippet to end at its HLT.
  X86CpuState run_to_hlt() {
    VcpuExit e = run();
    EXPECT_EQ(e.kind, VcpuExitKind::Halted) << e.message;
    return vcpu_->get_state();
  }

  GuestMemory& memory() { return mem_; }
  IoBus& pio() { return pio_; }
  IoBus& mmio() { return mmio_; }
  EmuVcpu& vcpu() { return *vcpu_; }
  EmuCpu& cpu() { return vcpu_->cpu(); }

 private:
  MachineContext make_context() {
    MachineContext ctx;
    ctx.memory = &mem_;
    ctx.pio = &pio_;
    ctx.mmio = &mmio_;
    return ctx;
  }

  GuestMemory mem_;
  IoBus pio_, mmio_;
  EmuAccelerator accel_;
  std::unique_ptr<EmuVcpu> vcpu_;
};

// Runs `body` (assembly; a HLT is appended) on a fresh machine and returns the final state.
inline X86CpuState run_snippet(const std::string& body) {
  EmuTestMachine m;
  m.load(body + "\nhlt\n");
  return m.run_to_hlt();
}

// RFLAGS status bits for readable expectations.
constexpr uint64_t CF = 1, PF = 4, AF = 16, ZF = 64, SF = 128, OF = 2048, kStatus = CF | PF | AF | ZF | SF | OF;

}  // namespace vireo::emu::test
