#include "cpu/emu/cpuid_policy.h"

#include <cstring>

namespace vireo::emu {

namespace {

constexpr uint32_t bit(unsigned n) { return 1u << n; }

uint32_t chars(const char* s) {
  uint32_t v;
  std::memcpy(&v, s, 4);
  return v;
}

}  // namespace

// Feature bits follow SDM Vol. 2 "CPUID", Tables 3-10/3-11 and the 8000_0001h leaf.
CpuidResult cpuid_policy(uint32_t leaf, uint32_t subleaf, const CpuidContext& ctx) {
  CpuidResult r;
  switch (leaf) {
    case 0:
      r.eax = 0x16;
      r.ebx = chars("Genu");
      r.edx = chars("ineI");
      r.ecx = chars("ntel");
      break;
    case 1:
      r.eax = (6u << 8) | (6u << 4) | 3u;  // family 6, model 6, stepping 3
      r.ebx = (ctx.cpu_index << 24) | ((ctx.num_cpus & 0xff) << 16) | (8u << 8);  // CLFLUSH line 64 bytes
      r.ecx = bit(13)    // CMPXCHG16B
              | bit(23)  // POPCNT
              | bit(31); // running under a hypervisor
      if (ctx.apic) r.ecx |= bit(24);  // TSC-deadline mode of the local APIC timer
      r.edx = bit(0)     // FPU (the minimal x87 subset, see exec_x87.cpp)
              | bit(3)   // PSE (large pages)
              | bit(4)   // TSC
              | bit(5)   // MSR
              | bit(6)   // PAE
              | bit(8)   // CMPXCHG8B
              | (ctx.apic ? bit(9) : 0)
              | bit(13)  // PGE
              | bit(15)  // CMOV
              | bit(16)  // PAT
              | bit(19)  // CLFLUSH
              | bit(24)  // FXSAVE/FXRSTOR
              | bit(25)  // SSE
              | bit(26); // SSE2
      if (ctx.num_cpus > 1) r.edx |= bit(28);
      break;
    case 7:
      // Subleaf 0 only (EAX = 0: no further subleaves). BMI1 is all implemented:
      // TZCNT (exec_bit.cpp) and the VEX-encoded ANDN BEXTR BLSI BLSMSK BLSR
      // (exec_bmi.cpp). BMI2, AVX and the rest of leaf 7 are not offered.
      if (subleaf == 0) {
        r.ebx = bit(1)    // IA32_TSC_ADJUST (msrs.cpp)
                | bit(3); // BMI1
      }
      break;
    case 0xb: {
      // Extended topology (SDM Vol. 3 9.9.1): one thread per core, every vCPU a core of
      // one package; the x2APIC id is the vCPU index, as the APIC id and the MADT say.
      unsigned core_bits = 0;
      while ((1u << core_bits) < ctx.num_cpus) ++core_bits;
      r.edx = ctx.cpu_index;
      r.ecx = subleaf & 0xff;
      if (subleaf == 0) {
        r.eax = 0;
        r.ebx = 1;
        r.ecx |= 1u << 8;  // SMT level
      } else if (subleaf == 1) {
        r.eax = core_bits;
        r.ebx = ctx.num_cpus;
        r.ecx |= 2u << 8;  // core level
      }
      break;
    }
    case 0x15:
      // TSC = 25 MHz crystal x 40 / 1 = 1 GHz (emu_cpu.cpp read_tsc).
      r.eax = 1;
      r.ebx = 40;
      r.ecx = 25000000;
      break;
    case 0x16:
      r.eax = 1000;  // base MHz
      r.ebx = 1000;
      r.ecx = 100;
      break;
    case 0x80000000: r.eax = 0x80000008; break;
    case 0x80000001:
      r.ecx = bit(0)     // LAHF/SAHF in 64-bit mode
              | bit(5);  // ABM: LZCNT
      r.edx = bit(11)    // SYSCALL/SYSRET
              | bit(20)  // NX
              | bit(26)  // 1 GiB pages
              | bit(27)  // RDTSCP
              | bit(29); // long mode
      break;
    case 0x80000002:
    case 0x80000003:
    case 0x80000004: {
      static const char kBrand[49] = "vireo emulated x86-64 CPU                       ";
      const char* p = kBrand + (leaf - 0x80000002) * 16;
      r.eax = chars(p);
      r.ebx = chars(p + 4);
      r.ecx = chars(p + 8);
      r.edx = chars(p + 12);
      break;
    }
    case 0x80000007: r.edx = bit(8); break;  // invariant TSC
    case 0x80000008: r.eax = 0x3028; break;  // 40 physical, 48 linear address bits
    default: break;
  }
  return r;
}

}  // namespace vireo::emu
