// TestCase and Result: what one differential test runs and what it ends in.
//
// A TestCase is a short instruction sequence (the harness appends the store that ends
// it) plus the initial user-visible state: general registers, RFLAGS, the SSE
// registers and the images of the data area and the user stack page. Both runners
// load exactly this state into the machine of guest_layout.h and report a Result.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "difftest/guest_layout.h"

namespace vireo::difftest {

// Instruction families of the generator and of the hand-written cases.
enum class Family : uint8_t {
  Setup,  // helper instructions the generator adds (loading a base register, ...)
  Alu,
  Shift,
  MulDiv,
  Bit,
  Cond,    // cmovcc, setcc, jcc, loop
  String,  // movs, stos, lods, scas, cmps, with and without rep
  Xchg,    // xchg, cmpxchg, cmpxchg8b/16b, xadd
  Lea,
  Movx,   // movzx, movsx, movsxd, bswap, mov
  Stack,  // push, pop, call, ret, enter, leave
  Sse,
  Bmi,    // andn, bextr, blsi, blsmsk, blsr (VEX-encoded BMI1)
  Fault,  // hand-written exception cases
  Count
};
const char* family_name(Family f);
// Parses a family name; returns false when it names none.
bool parse_family(const std::string& name, Family& out);

struct Xmm {
  uint64_t lo = 0, hi = 0;
  bool operator==(const Xmm&) const = default;
};

// One instruction of a test case, for reports.
struct InstructionTag {
  uint32_t offset = 0;  // from kCodeGpa
  uint8_t length = 0;
  Family family = Family::Setup;
  // The sequence may be cut after this instruction (it is not inside a branch
  // structure whose target lies further on); used to find the first divergent
  // instruction by running prefixes.
  bool boundary = true;
  uint64_t undefined_flags_after = 0;  // the undefined-flags mask after it
};

// RFLAGS status bits.
constexpr uint64_t kCF = 1u << 0, kPF = 1u << 2, kAF = 1u << 4, kZF = 1u << 6, kSF = 1u << 7, kDF = 1u << 10,
                   kOF = 1u << 11;
constexpr uint64_t kStatusFlags = kCF | kPF | kAF | kZF | kSF | kOF;

struct TestCase {
  Family family = Family::Alu;
  std::string name;                   // hand-written cases only
  std::vector<uint8_t> code;          // placed at kCodeGpa; the end store is appended by the runner
  std::vector<InstructionTag> instrs;
  std::array<uint64_t, 16> gpr{};     // gpr[RSP] is the initial stack pointer
  uint64_t rflags = 0x2;
  std::array<Xmm, 16> xmm{};
  uint32_t mxcsr = 0x1f80;
  std::vector<uint8_t> data;   // kDataSize bytes
  std::vector<uint8_t> stack;  // kStackSize bytes
  // RFLAGS bits the SDM leaves undefined at the end of the sequence: not compared.
  uint64_t undefined_flags = 0;
  // The case reads or writes SSE state: the runners load tc.xmm/mxcsr and report
  // the final SSE registers. Cases without it leave XMM alone on both sides.
  bool uses_sse = false;
};

enum class Outcome : uint8_t {
  Completed,  // reached the end store
  Exception,  // an exception was delivered through the IDT (vector, error code below)
  Timeout,    // ran past the time or instruction limit
  Error,      // the runner itself failed (message)
};
const char* outcome_name(Outcome o);

struct Result {
  Outcome outcome = Outcome::Error;
  std::string message;
  // For Exception: the vector, the error code pushed (0 when the vector has none)
  // and CR2 for #PF. rip/rsp/rflags are then those of the interrupted code, read
  // from the exception frame.
  uint8_t vector = 0;
  uint64_t error_code = 0;
  uint64_t cr2 = 0;
  std::array<uint64_t, 16> gpr{};
  uint64_t rip = 0;
  uint64_t rflags = 0;
  bool sse_valid = false;  // xmm/mxcsr hold the final SSE state
  std::array<Xmm, 16> xmm{};
  uint32_t mxcsr = 0;
  std::vector<uint8_t> data;
  std::vector<uint8_t> stack;
};

// True for the vectors whose delivery pushes an error code (SDM vol. 3, 6.13).
bool vector_has_error_code(unsigned vector);
const char* vector_name(unsigned vector);

// One differing field of two Results.
struct Difference {
  std::string field;
  std::string expected;  // the CPU's value
  std::string actual;    // the interpreter's value
};

// The test case cut after instruction tag `last` (which must be a boundary).
TestCase prefix_of(const TestCase& tc, size_t last);

// Compares the interpreter's result with the CPU's; undefined flags are masked.
std::vector<Difference> compare_results(const TestCase& tc, const Result& cpu, const Result& emu);

// A test case with random initial state: random GPRs (RSP = kInitialRsp), random
// status flags, random XMM values and random data and stack images.
class Rng;
void randomize_state(TestCase& tc, Rng& rng);

}  // namespace vireo::difftest
