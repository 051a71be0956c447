// EmuCpuState: the complete architectural state of one emulated x86-64 CPU, as the
// interpreter keeps it. X86CpuState (cpu/cpu_state.h) is the accelerator-neutral view
// that set_state/get_state convert to and from.
#pragma once

#include <cstdint>

#include "cpu/cpu_state.h"
#include "cpu/emu/flags.h"

namespace vireo::emu {

// Segment registers in x86 encoding order (ModRM.reg of MOV Sreg, prefixes aside).
enum SegReg : uint8_t { ES = 0, CS = 1, SS = 2, DS = 3, FS = 4, GS = 5, kNoSeg = 0xff };

struct Xmm {
  uint64_t lo = 0, hi = 0;
};

struct EmuCpuState {
  uint64_t gpr[17] = {};  // RAX..R15, then 16: always zero (kNoReg in an address)
  uint64_t rip = 0;
  FlagsState flags;  // RFLAGS with lazily computed arithmetic flags
  Segment seg[6];    // ES CS SS DS FS GS, with cached descriptor fields
  Segment tr, ldt;
  DescriptorTable gdt, idt;
  uint64_t cr0 = 0x60000010, cr2 = 0, cr3 = 0, cr4 = 0, cr8 = 0, efer = 0;
  uint64_t dr[8] = {0, 0, 0, 0, 0, 0, 0xffff0ff0, 0x400};
  uint8_t cpl = 0;

  // MSRs that the policy exposes (cpuid_policy.cpp / exec_system.cpp).
  uint64_t star = 0, lstar = 0, cstar = 0, sfmask = 0, kernel_gs_base = 0;
  uint64_t sysenter_cs = 0, sysenter_esp = 0, sysenter_eip = 0;
  uint64_t pat = 0x0007040600070406ull;
  uint64_t apic_base = 0xfee00900ull;  // enabled, BSP
  uint64_t tsc_aux = 0;
  uint64_t misc_enable = 1;  // fast strings
  uint64_t mtrr_def_type = 0;
  int64_t tsc_offset = 0;   // guest TSC = host monotonic ns + tsc_offset
  int64_t tsc_adjust = 0;   // IA32_TSC_ADJUST: the sum of the guest's changes to its TSC

  // SSE state.
  alignas(16) Xmm xmm[16];
  uint32_t mxcsr = 0x1f80;
  // Minimal x87 state: enough for FNINIT/FNSTCW/FLDCW/FNSTSW and FXSAVE images.
  uint16_t fcw = 0x37f, fsw = 0;
  uint8_t ftw = 0;  // abridged tag word (FXSAVE format): 0 = all empty
};

}  // namespace vireo::emu
