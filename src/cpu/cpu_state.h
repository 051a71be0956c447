// X86CpuState: the architectural state of one x86-64 vCPU that the boot code sets up
// and that both accelerators load and store. Field meanings follow the Intel SDM.
#pragma once

#include <array>
#include <cstdint>

namespace vireo {

// General registers in x86 encoding order, so index == ModRM/REX register number.
enum Gpr : unsigned { RAX, RCX, RDX, RBX, RSP, RBP, RSI, RDI, R8, R9, R10, R11, R12, R13, R14, R15 };

struct Segment {
  uint64_t base = 0;
  uint32_t limit = 0xffff;  // byte-granular limit as the CPU uses it (already scaled when g)
  uint16_t selector = 0;
  uint8_t type = 0;  // descriptor type field (4 bits)
  bool present = true;
  uint8_t dpl = 0;
  bool db = false;  // default operation size (D/B)
  bool s = true;    // code/data (true) or system (false)
  bool l = false;   // 64-bit code segment
  bool g = false;   // granularity
  bool avl = false;
  bool unusable = false;
};

struct DescriptorTable {
  uint64_t base = 0;
  uint16_t limit = 0xffff;
};

struct X86CpuState {
  std::array<uint64_t, 16> gpr{};
  uint64_t rip = 0xfff0;
  uint64_t rflags = 0x2;
  Segment cs, ds, es, fs, gs, ss, tr, ldt;
  DescriptorTable gdt, idt;
  uint64_t cr0 = 0x60000010;
  uint64_t cr2 = 0, cr3 = 0, cr4 = 0, cr8 = 0;
  uint64_t efer = 0;
};

// Control-register and EFER bits used by the boot code.
namespace x86 {
constexpr uint64_t CR0_PE = 1ull << 0;
constexpr uint64_t CR0_MP = 1ull << 1;
constexpr uint64_t CR0_EM = 1ull << 2;
constexpr uint64_t CR0_TS = 1ull << 3;
constexpr uint64_t CR0_ET = 1ull << 4;
constexpr uint64_t CR0_NE = 1ull << 5;
constexpr uint64_t CR0_WP = 1ull << 16;
constexpr uint64_t CR0_AM = 1ull << 18;
constexpr uint64_t CR0_PG = 1ull << 31;
constexpr uint64_t CR4_PSE = 1ull << 4;
constexpr uint64_t CR4_PAE = 1ull << 5;
constexpr uint64_t CR4_PGE = 1ull << 7;
constexpr uint64_t CR4_OSFXSR = 1ull << 9;
constexpr uint64_t CR4_OSXMMEXCPT = 1ull << 10;
constexpr uint64_t EFER_SCE = 1ull << 0;
constexpr uint64_t EFER_LME = 1ull << 8;
constexpr uint64_t EFER_LMA = 1ull << 10;
constexpr uint64_t EFER_NXE = 1ull << 11;
constexpr uint64_t RFLAGS_CF = 1ull << 0;
constexpr uint64_t RFLAGS_FIXED = 1ull << 1;
constexpr uint64_t RFLAGS_IF = 1ull << 9;
}  // namespace x86

}  // namespace vireo
