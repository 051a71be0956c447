#include "difftest/program.h"

#include <fmt/format.h>

#include <cstring>

#include "difftest/rng.h"

namespace vireo::difftest {

static const char* const kFamilyNames[] = {"setup", "alu",  "shift", "muldiv", "bit", "cond",  "string",
                                           "xchg",  "lea",  "movx",  "stack",  "sse", "bmi",   "fault"};
static_assert(sizeof(kFamilyNames) / sizeof(kFamilyNames[0]) == size_t(Family::Count));

const char* family_name(Family f) { return kFamilyNames[size_t(f)]; }

bool parse_family(const std::string& name, Family& out) {
  for (size_t i = 0; i < size_t(Family::Count); ++i) {
    if (name == kFamilyNames[i]) {
      out = Family(i);
      return true;
    }
  }
  return false;
}

const char* outcome_name(Outcome o) {
  switch (o) {
    case Outcome::Completed: return "completed";
    case Outcome::Exception: return "exception";
    case Outcome::Timeout: return "timeout";
    case Outcome::Error: return "error";
  }
  return "?";
}

bool vector_has_error_code(unsigned vector) {
  // SDM vol. 3, table 6-1: #DF, #TS, #NP, #SS, #GP, #PF, #AC, #CP.
  return vector == 8 || (vector >= 10 && vector <= 14) || vector == 17 || vector == 21;
}

const char* vector_name(unsigned vector) {
  static const char* const names[] = {"#DE", "#DB", "NMI", "#BP", "#OF", "#BR", "#UD", "#NM",
                                      "#DF", "CSO", "#TS", "#NP", "#SS", "#GP", "#PF", "#15",
                                      "#MF", "#AC", "#MC", "#XM", "#VE", "#CP"};
  return vector < sizeof(names) / sizeof(names[0]) ? names[vector] : "#??";
}

static const char* const kGprNames[16] = {"rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi",
                                          "r8",  "r9",  "r10", "r11", "r12", "r13", "r14", "r15"};

static void compare_bytes(const char* area, uint64_t base, const std::vector<uint8_t>& cpu,
                          const std::vector<uint8_t>& emu, std::vector<Difference>& out) {
  if (cpu.size() != emu.size()) {
    out.push_back({area, fmt::format("{} bytes", cpu.size()), fmt::format("{} bytes", emu.size())});
    return;
  }
  // Report up to four differing 8-byte-aligned words.
  unsigned reported = 0;
  for (size_t i = 0; i + 8 <= cpu.size() && reported < 4; i += 8) {
    uint64_t a, b;
    std::memcpy(&a, cpu.data() + i, 8);
    std::memcpy(&b, emu.data() + i, 8);
    if (a != b) {
      out.push_back({fmt::format("mem[{:#x}]", base + i), fmt::format("{:016x}", a), fmt::format("{:016x}", b)});
      ++reported;
    }
  }
}

std::vector<Difference> compare_results(const TestCase& tc, const Result& cpu, const Result& emu) {
  std::vector<Difference> d;
  if (cpu.outcome != emu.outcome) {
    d.push_back({"outcome", outcome_name(cpu.outcome), outcome_name(emu.outcome)});
    // A different outcome makes the rest meaningless unless both stopped at a point
    // where registers are defined.
    if (cpu.outcome == Outcome::Error || emu.outcome == Outcome::Error || cpu.outcome == Outcome::Timeout ||
        emu.outcome == Outcome::Timeout)
      return d;
  }
  if (cpu.outcome == Outcome::Exception && emu.outcome == Outcome::Exception) {
    if (cpu.vector != emu.vector) d.push_back({"vector", vector_name(cpu.vector), vector_name(emu.vector)});
    if (cpu.error_code != emu.error_code)
      d.push_back({"error_code", fmt::format("{:#x}", cpu.error_code), fmt::format("{:#x}", emu.error_code)});
    if (cpu.vector == 14 && cpu.cr2 != emu.cr2)
      d.push_back({"cr2", fmt::format("{:#x}", cpu.cr2), fmt::format("{:#x}", emu.cr2)});
  }
  for (unsigned i = 0; i < 16; ++i) {
    if (cpu.gpr[i] != emu.gpr[i])
      d.push_back({kGprNames[i], fmt::format("{:016x}", cpu.gpr[i]), fmt::format("{:016x}", emu.gpr[i])});
  }
  if (cpu.rip != emu.rip) d.push_back({"rip", fmt::format("{:#x}", cpu.rip), fmt::format("{:#x}", emu.rip)});
  // The user-visible flags, undefined status flags masked (VM, VIF, VIP, ID, AC and
  // reserved bits are not the subject of these tests). For an exception the flags
  // are those pushed in the frame, where RF must be set for faults (SDM vol. 3,
  // 18.3.1.1).
  // When an instruction faults, the flags are those left by the one before it.
  uint64_t undefined = tc.undefined_flags;
  if (cpu.outcome == Outcome::Exception) {
    for (size_t i = 0; i < tc.instrs.size(); ++i) {
      if (kCodeGpa + tc.instrs[i].offset == cpu.rip) {
        undefined = i == 0 ? 0 : tc.instrs[i - 1].undefined_flags_after;
        break;
      }
    }
  }
  uint64_t mask = (kStatusFlags | kDF | (1u << 8) /*TF*/ | (1u << 9) /*IF*/) & ~undefined;
  if (cpu.outcome == Outcome::Exception) mask |= 1u << 16;
  if ((cpu.rflags & mask) != (emu.rflags & mask))
    d.push_back({fmt::format("rflags (mask {:#x})", mask), fmt::format("{:#x}", cpu.rflags & mask),
                 fmt::format("{:#x}", emu.rflags & mask)});
  for (unsigned i = 0; i < 16 && cpu.sse_valid && emu.sse_valid; ++i) {
    if (cpu.xmm[i] != emu.xmm[i])
      d.push_back({fmt::format("xmm{}", i), fmt::format("{:016x}{:016x}", cpu.xmm[i].hi, cpu.xmm[i].lo),
                   fmt::format("{:016x}{:016x}", emu.xmm[i].hi, emu.xmm[i].lo)});
  }
  if (cpu.sse_valid && emu.sse_valid && cpu.mxcsr != emu.mxcsr) d.push_back({"mxcsr", fmt::format("{:#x}", cpu.mxcsr), fmt::format("{:#x}", emu.mxcsr)});
  compare_bytes("data", kDataGpa, cpu.data, emu.data, d);
  compare_bytes("stack", kStackGpa, cpu.stack, emu.stack, d);
  return d;
}

TestCase prefix_of(const TestCase& tc, size_t last) {
  TestCase p = tc;
  const InstructionTag& t = tc.instrs.at(last);
  p.code.resize(t.offset + t.length);
  p.instrs.resize(last + 1);
  p.undefined_flags = t.undefined_flags_after;
  return p;
}

void randomize_state(TestCase& tc, Rng& rng) {
  for (uint64_t& r : tc.gpr) r = rng.interesting();
  tc.gpr[4] = kInitialRsp;
  // Random status flags and direction flag; IF stays as the runners require (set).
  uint64_t flags = rng.next() & (kStatusFlags | kDF);
  tc.rflags = 0x2 | (1u << 9) | flags;
  for (Xmm& x : tc.xmm) {
    x.lo = rng.interesting();
    x.hi = rng.interesting();
  }
  tc.mxcsr = 0x1f80;
  tc.data.resize(kDataSize);
  for (size_t i = 0; i < kDataSize; i += 8) {
    uint64_t v = rng.next();
    std::memcpy(tc.data.data() + i, &v, 8);
  }
  tc.stack.resize(kStackSize);
  for (size_t i = 0; i < kStackSize; i += 8) {
    uint64_t v = rng.next();
    std::memcpy(tc.stack.data() + i, &v, 8);
  }
}

}  // namespace vireo::difftest
