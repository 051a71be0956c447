// The CPUID the emulated CPU reports: exactly the features the interpreter
// implements, in one place so it can be audited.
#pragma once

#include <cstdint>

namespace vireo::emu {

struct CpuidResult {
  uint32_t eax = 0, ebx = 0, ecx = 0, edx = 0;
};

struct CpuidContext {
  unsigned cpu_index = 0;
  unsigned num_cpus = 1;
  bool apic = false;  // set once an emulated local APIC exists
};

CpuidResult cpuid_policy(uint32_t leaf, uint32_t subleaf, const CpuidContext& ctx);

}  // namespace vireo::emu
