// Generator: seeded random generation of valid instruction sequences, one family
// per test case, with random initial registers, flags, SSE registers and memory.
//
// A case is 1-4 instructions of its family plus the setup instructions they need
// (loading a base register with an address in the data area, a small count into RCX,
// a non-zero divisor, ...). Memory operands always address the data area (or, for
// the stack family, the stack page), so a case touches no other memory unless the
// family deliberately tests a fault (a misaligned MOVDQA, a zero divisor).
//
// Undefined flags: the generator tracks, through the sequence, which status flags
// the last writer left undefined (SDM vol. 1, appendix A and each instruction's
// "Flags Affected"); the union at the end is the case's undefined_flags mask. An
// instruction that reads flags (ADC, SBB, RCL, RCR, CMOVcc, SETcc, Jcc, PUSHF) is
// preceded by a CMP that defines all of them whenever some are undefined, so no
// undefined value ever flows into a register or memory.
#pragma once

#include <cstdint>
#include <vector>

#include "difftest/program.h"
#include "difftest/rng.h"

namespace vireo::difftest {

struct GeneratorOptions {
  // Optional instructions, used only when the CPU has them (CPUID).
  bool popcnt = false;
  bool lzcnt = false;
  bool tzcnt = false;
  bool bmi1 = false;  // the VEX-encoded BMI1 instructions (the Bmi family)
};

// Reads the options from this host's CPUID.
GeneratorOptions host_generator_options();

class Generator {
 public:
  Generator(uint64_t seed, GeneratorOptions options) : rng_(seed), options_(options) {}

  TestCase generate(Family family);

  // The families the generator produces, in report order.
  static const std::vector<Family>& families();

 private:
  Rng rng_;
  GeneratorOptions options_;
};

}  // namespace vireo::difftest
