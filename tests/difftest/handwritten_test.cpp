// Hand-written cases for each instruction family and for faults (page-fault error
// codes, #GP, #UD, #DE, #SS, #BP, #DB, IDT delivery), with the results the SDM
// gives written out. Each case runs on both sides of the differential harness:
// on the CPU (ring 3 of a KVM vCPU; this checks the expectations and the harness)
// and on the interpreter. A side that is missing (no /dev/kvm, no interpreter in
// the build) is skipped with a message.
#include <gtest/gtest-spi.h>
#include <gtest/gtest.h>

#include <functional>
#include <set>
#include <string>
#include <memory>

#include "difftest/disassembler.h"
#include "difftest/emu_runner.h"
#include "difftest/kvm_ring3_runner.h"
#include "difftest/rng.h"

namespace vireo::difftest {

std::ostream& operator<<(std::ostream& os, Outcome o) { return os << outcome_name(o); }

namespace {
enum : unsigned { RAX, RCX, RDX, RBX, RSP, RBP, RSI, RDI, R8, R9, R10, R11, R12, R13, R14, R15 };

struct HandCase {
  const char* name;
  Family family;
  std::vector<uint8_t> code;
  std::function<void(TestCase&)> setup;
  std::function<void(const TestCase&, const Result&)> check;
  // Non-null: a divergence of the interpreter already reported and not yet fixed.
  // The interpreter run still happens; if the check fails the test is skipped with
  // this reason, if it passes the test passes and says the issue looks fixed.
  const char* known_interpreter_issue = nullptr;
  // Non-null: where this host's KVM is not the architectural reference for this
  // case (PVM), the CPU run is skipped with this reason.
  const char* pvm_deviation = nullptr;
};

// A deterministic starting state: distinct register values, IF set and every status
// flag clear, pseudo-random data, a zeroed stack page.
TestCase base_case(const HandCase& hc) {
  TestCase tc;
  tc.family = hc.family;
  tc.name = hc.name;
  tc.code = hc.code;
  for (unsigned i = 0; i < 16; ++i) tc.gpr[i] = 0x0101010101010101ull * (i + 1);
  tc.gpr[RSP] = kInitialRsp;
  tc.rflags = 0x202;
  Rng rng(7);
  tc.data.resize(kDataSize);
  for (auto& b : tc.data) b = uint8_t(rng.next());
  tc.stack.assign(kStackSize, 0);
  for (unsigned i = 0; i < 16; ++i) tc.xmm[i] = {0x1111111111111111ull * i, ~0x1111111111111111ull * i};
  if (hc.setup) hc.setup(tc);
  return tc;
}

// Memory of a result; a result without memory (a failed run) reads as a failure.
uint64_t data_qword(const Result& r, uint64_t gpa) {
  uint64_t v = 0;
  if (r.data.size() != kDataSize) ADD_FAILURE() << "no data memory in the result";
  else std::memcpy(&v, r.data.data() + (gpa - kDataGpa), 8);
  return v;
}
uint64_t stack_qword(const Result& r, uint64_t gpa) {
  uint64_t v = 0;
  if (r.stack.size() != kStackSize) ADD_FAILURE() << "no stack memory in the result";
  else std::memcpy(&v, r.stack.data() + (gpa - kStackGpa), 8);
  return v;
}
void put_data(TestCase& tc, uint64_t gpa, uint64_t v, unsigned size = 8) {
  std::memcpy(tc.data.data() + (gpa - kDataGpa), &v, size);
}

// Registers other than `changed` kept their initial values.
void expect_unchanged_except(const TestCase& tc, const Result& r, std::initializer_list<unsigned> changed) {
  for (unsigned i = 0; i < 16; ++i) {
    bool c = false;
    for (unsigned x : changed) c |= x == i;
    if (!c) {
      EXPECT_EQ(r.gpr[i], tc.gpr[i]) << "register " << i;
    }
  }
}
void expect_flags(const Result& r, uint64_t mask, uint64_t value) {
  EXPECT_EQ(r.rflags & mask, value) << std::hex << "rflags " << r.rflags << " mask " << mask;
}
void expect_completed(const TestCase& tc, const Result& r) {
  ASSERT_EQ(r.outcome, Outcome::Completed) << r.message << " vector " << vector_name(r.vector);
  EXPECT_EQ(r.rip, kCodeGpa + tc.code.size());
}
void expect_exception(const Result& r, unsigned vector, uint64_t error_code, uint64_t rip) {
  ASSERT_EQ(r.outcome, Outcome::Exception) << r.message;
  EXPECT_EQ(r.vector, vector) << vector_name(r.vector);
  EXPECT_EQ(r.error_code, error_code);
  EXPECT_EQ(r.rip, rip);
  EXPECT_EQ(r.gpr[RSP], kInitialRsp);  // the interrupted RSP, from the frame
}

constexpr uint64_t D = kDataGpa + 0x100;  // a data address used by many cases
constexpr uint64_t C = kCodeGpa;

const std::vector<HandCase>& cases() {
  static const std::vector<HandCase> all = {
      // ---- alu ----
      {"add_al_overflow", Family::Alu, {0x04, 0x01},  // add al, 1
       [](TestCase& t) { t.gpr[RAX] = 0x7f; },
       [](const TestCase& t, const Result& r) {
         expect_completed(t, r);
         EXPECT_EQ(r.gpr[RAX], 0x80u);
         expect_flags(r, kStatusFlags, kOF | kSF | kAF);  // 0x80: one bit set, PF clear
       }},
      {"sub_eax_zero_extends", Family::Alu, {0x29, 0xD8},  // sub eax, ebx
       [](TestCase& t) { t.gpr[RAX] = 0xffffffff00000000ull; t.gpr[RBX] = 1; },
       [](const TestCase& t, const Result& r) {
         expect_completed(t, r);
         EXPECT_EQ(r.gpr[RAX], 0xffffffffull);  // 32-bit results clear bits 63:32
         expect_flags(r, kCF | kZF | kSF | kOF | kAF, kCF | kSF | kAF);
         expect_unchanged_except(t, r, {RAX});
       }},
      {"adc_carry_in", Family::Alu, {0x48, 0x11, 0xD8},  // adc rax, rbx
       [](TestCase& t) { t.gpr[RAX] = ~0ull; t.gpr[RBX] = 0; t.rflags |= kCF; },
       [](const TestCase& t, const Result& r) {
         expect_completed(t, r);
         EXPECT_EQ(r.gpr[RAX], 0u);
         expect_flags(r, kCF | kZF | kOF | kSF, kCF | kZF);
       }},
      {"lock_inc_keeps_cf", Family::Alu, {0xF0, 0xFE, 0x03},  // lock inc byte [rbx]
       [](TestCase& t) { t.gpr[RBX] = D; put_data(t, D, 0xff, 1); t.rflags |= kCF; },
       [](const TestCase& t, const Result& r) {
         expect_completed(t, r);
         EXPECT_EQ(data_qword(r, D) & 0xff, 0u);
         uint64_t before;
         std::memcpy(&before, t.data.data() + (D - kDataGpa), 8);
         EXPECT_EQ(data_qword(r, D) >> 8, before >> 8);
         expect_flags(r, kCF | kZF | kAF | kOF, kCF | kZF | kAF);  // INC leaves CF alone
       }},
      {"neg_zero", Family::Alu, {0x48, 0xF7, 0xD8},  // neg rax
       [](TestCase& t) { t.gpr[RAX] = 0; t.rflags |= kCF; },
       [](const TestCase& t, const Result& r) {
         expect_completed(t, r);
         EXPECT_EQ(r.gpr[RAX], 0u);
         expect_flags(r, kCF | kZF, kZF);  // CF = (source != 0)
       }},
      // ---- shift ----
      {"shl_by_one_sets_of", Family::Shift, {0xD1, 0xE0},  // shl eax, 1
       [](TestCase& t) { t.gpr[RAX] = 0x80000000; },
       [](const TestCase& t, const Result& r) {
         expect_completed(t, r);
         EXPECT_EQ(r.gpr[RAX], 0u);
         expect_flags(r, kCF | kOF | kZF | kSF, kCF | kOF | kZF);  // OF = MSB xor CF
       }},
      {"sar_by_zero_keeps_flags", Family::Shift, {0xD2, 0xF8},  // sar al, cl
       [](TestCase& t) { t.gpr[RCX] = 0x20; t.rflags |= kCF | kOF | kSF; },  // count masks to 0
       [](const TestCase& t, const Result& r) {
         expect_completed(t, r);
         EXPECT_EQ(r.gpr[RAX], t.gpr[RAX]);
         expect_flags(r, kStatusFlags, kCF | kOF | kSF);
       }},
      {"rcr_by_one", Family::Shift, {0xD0, 0xDB},  // rcr bl, 1
       [](TestCase& t) { t.gpr[RBX] = 0x100; t.rflags |= kCF; },
       [](const TestCase& t, const Result& r) {
         expect_completed(t, r);
         EXPECT_EQ(r.gpr[RBX], 0x180u);
         expect_flags(r, kCF | kOF, kOF);  // OF = the two top bits of the result differ
       }},
      {"shld_32_zero_extends", Family::Shift, {0x0F, 0xA4, 0xD8, 0x04},  // shld eax, ebx, 4
       [](TestCase& t) { t.gpr[RAX] = 0xffffffff12345678ull; t.gpr[RBX] = 0x9abcdef0; },
       [](const TestCase& t, const Result& r) {
         expect_completed(t, r);
         EXPECT_EQ(r.gpr[RAX], 0x23456789u);
         expect_flags(r, kCF, kCF);  // the last bit shifted out of EAX: bit 28 of 0x12345678 is 1
       }},
      {"shld_32_by_cl_zero_extends", Family::Shift, {0x0F, 0xA5, 0xD8},  // shld eax, ebx, cl
       [](TestCase& t) { t.gpr[RAX] = 0xffffffff12345678ull; t.gpr[RBX] = 0x9abcdef0; t.gpr[RCX] = 4; },
       [](const TestCase& t, const Result& r) {
         expect_completed(t, r);
         EXPECT_EQ(r.gpr[RAX], 0x23456789u);
         expect_flags(r, kCF, kCF);  // the last bit shifted out of EAX: bit 28 of 0x12345678 is 1
       }},
      {"shl_32_by_zero_still_zero_extends", Family::Shift, {0xD3, 0xE0},  // shl eax, cl
       [](TestCase& t) { t.gpr[RAX] = 0xffffffff12345678ull; t.gpr[RCX] = 0x40; t.rflags |= kCF; },  // count masks to 0
       [](const TestCase& t, const Result& r) {
         expect_completed(t, r);
         EXPECT_EQ(r.gpr[RAX], 0x12345678u);  // the 32-bit destination is written even for count 0
         expect_flags(r, kStatusFlags, kCF);    // and the flags are not
       }},
      {"shl_memory_by_zero_is_a_write", Family::Shift, {0xD3, 0x25, 0xFA, 0xFF, 0xFF, 0xFF},  // shl dword [rip-6], cl
       [](TestCase& t) { t.gpr[RCX] = 0; },  // the operand is the (read-only) instruction itself
       [](const TestCase&, const Result& r) {
         expect_exception(r, 14, 0x7, C);  // a count of 0 still writes: present, write, user
         EXPECT_EQ(r.cr2, C);
       }},
      // ---- muldiv ----
      {"mul_64_high_half", Family::MulDiv, {0x48, 0xF7, 0xE3},  // mul rbx
       [](TestCase& t) { t.gpr[RAX] = 1ull << 63; t.gpr[RBX] = 4; },
       [](const TestCase& t, const Result& r) {
         expect_completed(t, r);
         EXPECT_EQ(r.gpr[RAX], 0u);
         EXPECT_EQ(r.gpr[RDX], 2u);
         expect_flags(r, kCF | kOF, kCF | kOF);
       }},
      {"div_32_zero_extends", Family::MulDiv, {0xF7, 0xF1},  // div ecx
       [](TestCase& t) { t.gpr[RDX] = 0xaaaaaaaa00000001ull; t.gpr[RAX] = 0xbbbbbbbb00000000ull; t.gpr[RCX] = 2; },
       [](const TestCase& t, const Result& r) {
         expect_completed(t, r);
         EXPECT_EQ(r.gpr[RAX], 0x80000000u);
         EXPECT_EQ(r.gpr[RDX], 0u);
       }},
      {"idiv_overflow_de", Family::MulDiv, {0x48, 0x99, 0x48, 0xF7, 0xF9},  // cqo; idiv rcx
       [](TestCase& t) { t.gpr[RAX] = 1ull << 63; t.gpr[RCX] = ~0ull; },
       [](const TestCase&, const Result& r) {
         expect_exception(r, 0, 0, C + 2);
         EXPECT_EQ(r.gpr[RDX], ~0ull);  // CQO ran, IDIV did not
         EXPECT_TRUE(r.rflags & (1u << 16)) << "RF set in the frame of a fault";
       }},
      {"div_by_zero_de", Family::MulDiv, {0xF6, 0xF3},  // div bl
       [](TestCase& t) { t.gpr[RBX] = 0x100; },
       [](const TestCase& t, const Result& r) {
         expect_exception(r, 0, 0, C);
         expect_unchanged_except(t, r, {});
       }},
      // ---- bit ----
      {"bt_imm_top_bit", Family::Bit, {0x48, 0x0F, 0xBA, 0xE0, 0x7F},  // bt rax, 127 (= 63)
       [](TestCase& t) { t.gpr[RAX] = 1ull << 63; },
       [](const TestCase& t, const Result& r) {
         expect_completed(t, r);
         expect_flags(r, kCF, kCF);
         expect_unchanged_except(t, r, {});
       }},
      {"bts_memory_bit_offset", Family::Bit, {0x48, 0x0F, 0xAB, 0x0B},  // bts [rbx], rcx
       [](TestCase& t) { t.gpr[RBX] = D; t.gpr[RCX] = 65; put_data(t, D + 8, 0); },
       [](const TestCase& t, const Result& r) {
         expect_completed(t, r);
         EXPECT_EQ(data_qword(r, D + 8), 2u);  // bit 65 = bit 1 of the next qword
         expect_flags(r, kCF, 0);
       }},
      {"bsf_zero_sets_zf", Family::Bit, {0x0F, 0xBC, 0xC3},  // bsf eax, ebx
       [](TestCase& t) { t.gpr[RBX] = 0xffffffff00000000ull; },
       [](const TestCase& t, const Result& r) {
         expect_completed(t, r);
         expect_flags(r, kZF, kZF);
       }},
      {"popcnt", Family::Bit, {0xF3, 0x48, 0x0F, 0xB8, 0xC3},  // popcnt rax, rbx
       [](TestCase& t) { t.gpr[RBX] = 0x00ff00ff; t.rflags |= kStatusFlags; },
       [](const TestCase& t, const Result& r) {
         expect_completed(t, r);
         EXPECT_EQ(r.gpr[RAX], 16u);
         expect_flags(r, kStatusFlags, 0);
       }},
      {"lzcnt_rex_r_destination", Family::Bit, {0xF3, 0x4C, 0x0F, 0xBD, 0xFB},  // lzcnt r15, rbx
       [](TestCase& t) { t.gpr[RBX] = 1; },
       [](const TestCase& t, const Result& r) {
         expect_completed(t, r);
         EXPECT_EQ(r.gpr[R15], 63u);
         expect_flags(r, kCF | kZF, 0);
         expect_unchanged_except(t, r, {R15});
       }},
      {"tzcnt_zero_source", Family::Bit, {0xF3, 0x4C, 0x0F, 0xBC, 0xC2},  // tzcnt r8, rdx
       [](TestCase& t) { t.gpr[RDX] = 0; t.rflags |= kZF; },
       [](const TestCase& t, const Result& r) {
         expect_completed(t, r);
         EXPECT_EQ(r.gpr[R8], 64u);      // the operand width
         expect_flags(r, kCF | kZF, kCF);  // CF: source zero; ZF: result zero
       }},
      {"lzcnt_16_zero_source", Family::Bit, {0xF3, 0x66, 0x0F, 0xBD, 0xC3},  // lzcnt ax, bx
       [](TestCase& t) { t.gpr[RBX] = 0xffff0000; t.gpr[RAX] = 0xffffffff12345678ull; t.rflags |= kZF | kSF | kPF; },
       [](const TestCase& t, const Result& r) {
         expect_completed(t, r);
         EXPECT_EQ(r.gpr[RAX], 0xffffffff12340010ull);  // 16 in AX, the rest kept
         expect_flags(r, kCF | kZF, kCF);
         expect_unchanged_except(t, r, {RAX});
       }},
      {"lzcnt_last_rep_prefix_wins", Family::Bit, {0xF3, 0xF2, 0x0F, 0xBD, 0xC3},  // f3 f2: bsr eax, ebx
       [](TestCase& t) { t.gpr[RBX] = 0x10; },
       [](const TestCase& t, const Result& r) {
         expect_completed(t, r);
         EXPECT_EQ(r.gpr[RAX], 4u);  // BSR's index, not LZCNT's 27
       }},
      // ---- cond ----
      {"cmov_32_not_taken_zero_extends", Family::Cond, {0x0F, 0x44, 0xC3},  // cmovz eax, ebx
       [](TestCase& t) { t.gpr[RAX] = 0xffffffff12345678ull; },
       [](const TestCase& t, const Result& r) {
         expect_completed(t, r);
         EXPECT_EQ(r.gpr[RAX], 0x12345678u);  // a 32-bit CMOV writes even when not taken
       }},
      {"setl", Family::Cond, {0x0F, 0x9C, 0xC0},  // setl al
       [](TestCase& t) { t.gpr[RAX] = 0; t.rflags |= kSF; },
       [](const TestCase& t, const Result& r) {
         expect_completed(t, r);
         EXPECT_EQ(r.gpr[RAX], 1u);
       }},
      {"loop_three_times", Family::Cond, {0x48, 0xFF, 0xC0, 0xE2, 0xFB},  // l: inc rax; loop l
       [](TestCase& t) { t.gpr[RAX] = 0; t.gpr[RCX] = 3; },
       [](const TestCase& t, const Result& r) {
         expect_completed(t, r);
         EXPECT_EQ(r.gpr[RAX], 3u);
         EXPECT_EQ(r.gpr[RCX], 0u);
       }},
      {"jcc_taken_skips", Family::Cond, {0x74, 0x03, 0x48, 0xFF, 0xC0},  // jz +3; inc rax
       [](TestCase& t) { t.gpr[RAX] = 5; t.rflags |= kZF; },
       [](const TestCase& t, const Result& r) {
         expect_completed(t, r);
         EXPECT_EQ(r.gpr[RAX], 5u);
       }},
      // ---- string ----
      {"rep_movsb", Family::String, {0xF3, 0xA4},
       [](TestCase& t) { t.gpr[RSI] = D; t.gpr[RDI] = D + 0x100; t.gpr[RCX] = 5; },
       [](const TestCase& t, const Result& r) {
         expect_completed(t, r);
         EXPECT_EQ(r.gpr[RCX], 0u);
         EXPECT_EQ(r.gpr[RSI], D + 5);
         EXPECT_EQ(r.gpr[RDI], D + 0x105);
         ASSERT_EQ(r.data.size(), kDataSize);
         EXPECT_EQ(0, std::memcmp(r.data.data() + 0x200, t.data.data() + 0x100, 5));
         EXPECT_EQ(r.data[0x205], t.data[0x205]);
       }},
      {"rep_movsw_overlap_by_one_byte", Family::String, {0xF3, 0x66, 0xA5},  // rep movsw, rdi = rsi + 1
       [](TestCase& t) {
         t.gpr[RSI] = D; t.gpr[RDI] = D + 1; t.gpr[RCX] = 4;
         put_data(t, D, 0x0807060504030201ull); put_data(t, D + 8, 0x100f0e0d0c0b0a09ull);
       },
       [](const TestCase& t, const Result& r) {
         expect_completed(t, r);
         // Word by word: each word read after the previous one was written.
         EXPECT_EQ(data_qword(r, D), 0x0606040402020101ull);
         EXPECT_EQ(data_qword(r, D + 8), 0x100f0e0d0c0b0a08ull);
         EXPECT_EQ(r.gpr[RSI], D + 8);
         EXPECT_EQ(r.gpr[RDI], D + 9);
       }},
      {"std_rep_stosd_backwards", Family::String, {0xFD, 0xF3, 0xAB},
       [](TestCase& t) { t.gpr[RDI] = D + 8; t.gpr[RCX] = 2; t.gpr[RAX] = 0xcafef00d; },
       [](const TestCase& t, const Result& r) {
         expect_completed(t, r);
         EXPECT_EQ(r.gpr[RDI], D);
         EXPECT_EQ(data_qword(r, D + 4) & 0xffffffff, 0xcafef00du);
         EXPECT_EQ(data_qword(r, D + 8) & 0xffffffff, 0xcafef00du);
         expect_flags(r, kDF, kDF);
       }},
      {"repne_scasb_finds", Family::String, {0xF2, 0xAE},
       [](TestCase& t) {
         t.gpr[RDI] = D; t.gpr[RCX] = 10; t.gpr[RAX] = 0x42;
         put_data(t, D, 0x4201020304050607ull);  // 0x42 first at byte 7
       },
       [](const TestCase& t, const Result& r) {
         expect_completed(t, r);
         EXPECT_EQ(r.gpr[RDI], D + 8);
         EXPECT_EQ(r.gpr[RCX], 2u);
         expect_flags(r, kZF, kZF);
       }},
      // ---- xchg ----
      {"lock_cmpxchg_equal", Family::Xchg, {0xF0, 0x48, 0x0F, 0xB1, 0x0B},  // lock cmpxchg [rbx], rcx
       [](TestCase& t) { t.gpr[RBX] = D; t.gpr[RAX] = 77; put_data(t, D, 77); },
       [](const TestCase& t, const Result& r) {
         expect_completed(t, r);
         EXPECT_EQ(data_qword(r, D), t.gpr[RCX]);
         EXPECT_EQ(r.gpr[RAX], 77u);
         expect_flags(r, kZF, kZF);
       }},
      {"cmpxchg_not_equal_loads_rax", Family::Xchg, {0x48, 0x0F, 0xB1, 0x0B},
       [](TestCase& t) { t.gpr[RBX] = D; t.gpr[RAX] = 1; put_data(t, D, 99); },
       [](const TestCase& t, const Result& r) {
         expect_completed(t, r);
         EXPECT_EQ(data_qword(r, D), 99u);
         EXPECT_EQ(r.gpr[RAX], 99u);
         expect_flags(r, kZF, 0);
       }},
      {"lock_cmpxchg16b", Family::Xchg, {0xF0, 0x48, 0x0F, 0xC7, 0x0F},  // lock cmpxchg16b [rdi]
       [](TestCase& t) {
         t.gpr[RDI] = D; t.gpr[RAX] = 1; t.gpr[RDX] = 2; t.gpr[RBX] = 3; t.gpr[RCX] = 4;
         put_data(t, D, 1); put_data(t, D + 8, 2);
       },
       [](const TestCase& t, const Result& r) {
         expect_completed(t, r);
         EXPECT_EQ(data_qword(r, D), 3u);
         EXPECT_EQ(data_qword(r, D + 8), 4u);
         expect_flags(r, kZF, kZF);
       }},
      {"xadd", Family::Xchg, {0x0F, 0xC1, 0x03},  // xadd [rbx], eax
       [](TestCase& t) { t.gpr[RBX] = D; t.gpr[RAX] = 5; put_data(t, D, 10, 4); },
       [](const TestCase& t, const Result& r) {
         expect_completed(t, r);
         EXPECT_EQ(data_qword(r, D) & 0xffffffff, 15u);
         EXPECT_EQ(r.gpr[RAX], 10u);
       }},
      // ---- lea ----
      {"lea_32_wraps", Family::Lea, {0x8D, 0x04, 0x8B},  // lea eax, [rbx+rcx*4]
       [](TestCase& t) { t.gpr[RBX] = 0xfffffffff0000000ull; t.gpr[RCX] = 0x08000000; },
       [](const TestCase& t, const Result& r) {
         expect_completed(t, r);
         EXPECT_EQ(r.gpr[RAX], 0x10000000u);
       }},
      {"lea_rip_relative", Family::Lea, {0x48, 0x8D, 0x05, 0x10, 0x00, 0x00, 0x00},  // lea rax, [rip+0x10]
       nullptr,
       [](const TestCase& t, const Result& r) {
         expect_completed(t, r);
         EXPECT_EQ(r.gpr[RAX], C + 7 + 0x10);
       }},
      // ---- movx ----
      {"movsx_byte", Family::Movx, {0x48, 0x0F, 0xBE, 0xC3},  // movsx rax, bl
       [](TestCase& t) { t.gpr[RBX] = 0x80; },
       [](const TestCase& t, const Result& r) {
         expect_completed(t, r);
         EXPECT_EQ(r.gpr[RAX], 0xffffffffffffff80ull);
       }},
      {"movzx_high_byte", Family::Movx, {0x0F, 0xB6, 0xC7},  // movzx eax, bh
       [](TestCase& t) { t.gpr[RBX] = 0xab00; },
       [](const TestCase& t, const Result& r) {
         expect_completed(t, r);
         EXPECT_EQ(r.gpr[RAX], 0xabu);
       }},
      {"movsxd", Family::Movx, {0x48, 0x63, 0xC3},  // movsxd rax, ebx
       [](TestCase& t) { t.gpr[RBX] = 0x80000000; },
       [](const TestCase& t, const Result& r) {
         expect_completed(t, r);
         EXPECT_EQ(r.gpr[RAX], 0xffffffff80000000ull);
       }},
      {"bswap_32", Family::Movx, {0x0F, 0xC8},  // bswap eax
       [](TestCase& t) { t.gpr[RAX] = 0xffffffff11223344ull; },
       [](const TestCase& t, const Result& r) {
         expect_completed(t, r);
         EXPECT_EQ(r.gpr[RAX], 0x44332211u);
       }},
      // ---- stack ----
      {"push_pop", Family::Stack, {0x50, 0x5B},  // push rax; pop rbx
       nullptr,
       [](const TestCase& t, const Result& r) {
         expect_completed(t, r);
         EXPECT_EQ(r.gpr[RBX], t.gpr[RAX]);
         EXPECT_EQ(r.gpr[RSP], kInitialRsp);
         EXPECT_EQ(stack_qword(r, kInitialRsp - 8), t.gpr[RAX]);
       }},
      {"push_memory_qword", Family::Stack, {0xFF, 0x33},  // push qword [rbx]
       [](TestCase& t) { t.gpr[RBX] = D; put_data(t, D, 0x1122334455667788ull); },
       [](const TestCase& t, const Result& r) {
         expect_completed(t, r);
         EXPECT_EQ(r.gpr[RSP], kInitialRsp - 8);
         EXPECT_EQ(stack_qword(r, kInitialRsp - 8), 0x1122334455667788ull);
       }},
      {"call_pushes_return", Family::Stack, {0xE8, 0x00, 0x00, 0x00, 0x00, 0x58},  // call $+5; pop rax
       nullptr,
       [](const TestCase& t, const Result& r) {
         expect_completed(t, r);
         EXPECT_EQ(r.gpr[RAX], C + 5);
         EXPECT_EQ(r.gpr[RSP], kInitialRsp);
       }},
      {"enter_leave", Family::Stack, {0xC8, 0x20, 0x00, 0x00, 0xC9},  // enter 32, 0; leave
       nullptr,
       [](const TestCase& t, const Result& r) {
         expect_completed(t, r);
         EXPECT_EQ(r.gpr[RSP], kInitialRsp);
         EXPECT_EQ(r.gpr[RBP], t.gpr[RBP]);
         EXPECT_EQ(stack_qword(r, kInitialRsp - 8), t.gpr[RBP]);
       }},
      // ---- sse ----
      // SSE through the translation tier: aligned loads and compares from memory, a mask,
      // an unaligned store, MOVQ/MOVD to general registers, a byte shift.
      {"compare_mask_store", Family::Sse,
       {0x48, 0x8B, 0x03,                          // mov rax, [rbx] (the page into the TLB)
        0x66, 0x0F, 0x6F, 0x1B,                    // movdqa xmm3, [rbx]
        0x66, 0x0F, 0x74, 0x5B, 0x10,              // pcmpeqb xmm3, [rbx + 16]
        0x66, 0x0F, 0xD7, 0xCB,                    // pmovmskb ecx, xmm3
        0xF3, 0x0F, 0x7F, 0x9B, 0x03, 0x02, 0x00, 0x00,  // movdqu [rbx + 0x203], xmm3
        0x66, 0x0F, 0xEF, 0xE4,                    // pxor xmm4, xmm4
        0x66, 0x48, 0x0F, 0x7E, 0xDA,              // movq rdx, xmm3
        0x66, 0x0F, 0x73, 0xDB, 0x03,              // psrldq xmm3, 3
        0x66, 0x0F, 0x7E, 0xDE},                   // movd esi, xmm3
       [](TestCase& t) {
         t.uses_sse = true;
         t.gpr[RBX] = D;
         for (unsigned i = 0; i < 16; ++i) {
           put_data(t, D + i, 3 * i + 1, 1);
           put_data(t, D + 16 + i, (i == 2 || i == 5 || i == 15) ? 0x77 : 3 * i + 1, 1);
         }
       },
       [](const TestCase& t, const Result& r) {
         expect_completed(t, r);
         uint8_t cmp[16];
         uint32_t mask = 0;
         for (unsigned i = 0; i < 16; ++i) {
           const bool eq = !(i == 2 || i == 5 || i == 15);
           cmp[i] = eq ? 0xff : 0;
           mask |= eq ? 1u << i : 0;
         }
         uint64_t lo, shifted;
         std::memcpy(&lo, cmp, 8);
         std::memcpy(&shifted, cmp + 3, 8);
         EXPECT_EQ(r.gpr[RCX], mask);
         EXPECT_EQ(r.gpr[RDX], lo);
         EXPECT_EQ(r.gpr[RSI], shifted & 0xffffffffu);
         EXPECT_EQ(data_qword(r, D + 0x203), lo);
         std::memcpy(&lo, cmp + 8, 8);
         EXPECT_EQ(data_qword(r, D + 0x20b), lo);
         expect_unchanged_except(t, r, {RAX, RCX, RDX, RSI});
       }},
      {"paddd", Family::Sse, {0x66, 0x0F, 0xFE, 0xC1},  // paddd xmm0, xmm1
       [](TestCase& t) {
         t.uses_sse = true;
         t.xmm[0] = {0x00000001ffffffffull, 0x7fffffff00000000ull};
         t.xmm[1] = {0x0000000100000001ull, 0x0000000100000003ull};
       },
       [](const TestCase& t, const Result& r) {
         expect_completed(t, r);
         ASSERT_TRUE(r.sse_valid);
         EXPECT_EQ(r.xmm[0].lo, 0x0000000200000000ull);
         EXPECT_EQ(r.xmm[0].hi, 0x8000000000000003ull);
         EXPECT_EQ(r.xmm[1], t.xmm[1]);
       }},
      {"pshufd_broadcast", Family::Sse, {0x66, 0x0F, 0x70, 0xC1, 0x00},  // pshufd xmm0, xmm1, 0
       [](TestCase& t) { t.uses_sse = true; t.xmm[1] = {0x1111111122222222ull, 0x3333333344444444ull}; },
       [](const TestCase& t, const Result& r) {
         expect_completed(t, r);
         ASSERT_TRUE(r.sse_valid);
         EXPECT_EQ(r.xmm[0].lo, 0x2222222222222222ull);
         EXPECT_EQ(r.xmm[0].hi, 0x2222222222222222ull);
       }},
      {"movdqu_store", Family::Sse, {0xF3, 0x0F, 0x7F, 0x13},  // movdqu [rbx], xmm2
       [](TestCase& t) { t.uses_sse = true; t.gpr[RBX] = D + 3; },
       [](const TestCase& t, const Result& r) {
         expect_completed(t, r);
         EXPECT_EQ(data_qword(r, D + 3), t.xmm[2].lo);
         EXPECT_EQ(data_qword(r, D + 11), t.xmm[2].hi);
       }},
      {"pmovmskb", Family::Sse, {0x66, 0x0F, 0xD7, 0xC0},  // pmovmskb eax, xmm0
       [](TestCase& t) { t.uses_sse = true; t.xmm[0] = {0x8000000000000080ull, 0x00000000000000ffull}; },
       [](const TestCase& t, const Result& r) {
         expect_completed(t, r);
         EXPECT_EQ(r.gpr[RAX], 0x0181u);
       }},
      // ---- bmi ----
      {"andn_clears_cf_of", Family::Bmi, {0xC4, 0xE2, 0xF0, 0xF2, 0xC2},  // andn rax, rcx, rdx
       [](TestCase& t) { t.rflags |= kCF | kOF | kZF; },
       [](const TestCase& t, const Result& r) {
         expect_completed(t, r);
         EXPECT_EQ(r.gpr[RAX], ~t.gpr[RCX] & t.gpr[RDX]);
         expect_flags(r, kCF | kZF | kSF | kOF, 0);
         expect_unchanged_except(t, r, {RAX});
       }},
      {"bextr_32_zero_extends", Family::Bmi, {0xC4, 0xE2, 0x68, 0xF7, 0xC1},  // bextr eax, ecx, edx
       [](TestCase& t) { t.gpr[RCX] = 0xffffffff12345678ull; t.gpr[RDX] = 0xabcd0c04; t.rflags |= kCF | kOF | kZF; },
       [](const TestCase& t, const Result& r) {
         expect_completed(t, r);
         EXPECT_EQ(r.gpr[RAX], 0x567u);  // 12 bits from bit 4; bits 31:16 of the control ignored
         expect_flags(r, kCF | kZF | kOF, 0);
       }},
      {"bextr_start_beyond_width", Family::Bmi, {0xC4, 0xE2, 0xE8, 0xF7, 0xC1},  // bextr rax, rcx, rdx
       [](TestCase& t) { t.gpr[RCX] = ~0ull; t.gpr[RDX] = 0x2040; },
       [](const TestCase& t, const Result& r) {
         expect_completed(t, r);
         EXPECT_EQ(r.gpr[RAX], 0u);
         expect_flags(r, kCF | kZF | kOF, kZF);
       }},
      {"blsmsk_zero_source", Family::Bmi, {0xC4, 0xE2, 0xE0, 0xF3, 0xD0},  // blsmsk rbx, rax
       [](TestCase& t) { t.gpr[RAX] = 0; t.rflags |= kOF | kZF; },
       [](const TestCase& t, const Result& r) {
         expect_completed(t, r);
         EXPECT_EQ(r.gpr[RBX], ~0ull);
         expect_flags(r, kCF | kZF | kSF | kOF, kCF | kSF);
       }},
      {"blsi_memory", Family::Bmi, {0xC4, 0xE2, 0xB8, 0xF3, 0x1B},  // blsi r8, [rbx]
       [](TestCase& t) { t.gpr[RBX] = D; put_data(t, D, 0x0a00); },
       [](const TestCase& t, const Result& r) {
         expect_completed(t, r);
         EXPECT_EQ(r.gpr[R8], 0x200u);
         expect_flags(r, kCF | kZF | kSF | kOF, kCF);
       }},
      {"blsr_32_bit", Family::Bmi, {0xC4, 0xE2, 0x78, 0xF3, 0xC9},  // blsr eax, ecx
       [](TestCase& t) { t.gpr[RCX] = 0x1234567880000000ull; },
       [](const TestCase& t, const Result& r) {
         expect_completed(t, r);
         EXPECT_EQ(r.gpr[RAX], 0u);
         expect_flags(r, kCF | kZF | kSF | kOF, kZF);
       }},
      {"ud_vex_l1", Family::Bmi, {0xC4, 0xE2, 0x74, 0xF2, 0xC2},  // andn with VEX.L = 1
       nullptr,
       [](const TestCase& t, const Result& r) {
         expect_exception(r, 6, 0, C);
         expect_unchanged_except(t, r, {});
       }},
      {"ud_group17_reg0", Family::Bmi, {0xC4, 0xE2, 0x70, 0xF3, 0xC2},  // VEX.0F38 F3 /0
       nullptr,
       [](const TestCase&, const Result& r) { expect_exception(r, 6, 0, C); }},
      {"ud_lock_before_vex", Family::Bmi, {0xF0, 0xC4, 0xE2, 0x70, 0xF2, 0x03},  // lock andn eax, ecx, [rbx]
       [](TestCase& t) { t.gpr[RBX] = D; },
       [](const TestCase&, const Result& r) { expect_exception(r, 6, 0, C); }},
      {"ud_rex_before_vex", Family::Bmi, {0x40, 0xC4, 0xE2, 0x70, 0xF2, 0xC2},  // rex andn eax, ecx, edx
       nullptr,
       [](const TestCase&, const Result& r) { expect_exception(r, 6, 0, C); }},
      {"ud_66_before_vex", Family::Bmi, {0x66, 0xC4, 0xE2, 0x70, 0xF2, 0xC2},  // 66 andn eax, ecx, edx
       nullptr,
       [](const TestCase&, const Result& r) { expect_exception(r, 6, 0, C); }},
      // ---- code the translation tier (cpu/emu/jit.h) handles in its own ways ----
      // A loop that branches back inside its block and runs past several interrupt
      // polls (256 instructions each).
      {"loop_back_across_polls", Family::Cond,
       {0xB9, 0xE8, 0x03, 0x00, 0x00,  // mov ecx, 1000
        0x48, 0x01, 0xC8,              // l: add rax, rcx
        0x48, 0xC1, 0xC0, 0x03,        // rol rax, 3
        0x48, 0x31, 0xD0,              // xor rax, rdx
        0xFF, 0xC9,                    // dec ecx
        0x75, 0xF2},                   // jnz l
       nullptr,
       [](const TestCase& t, const Result& r) {
         expect_completed(t, r);
         uint64_t rax = t.gpr[RAX];
         for (uint64_t c = 1000; c > 0; --c) {
           rax += c;
           rax = (rax << 3) | (rax >> 61);
           rax ^= t.gpr[RDX];
         }
         EXPECT_EQ(r.gpr[RAX], rax);
         EXPECT_EQ(r.gpr[RCX], 0u);
         expect_flags(r, kCF | kZF | kSF | kOF, kZF);
         expect_unchanged_except(t, r, {RAX, RCX});
       }},
      // Loads and stores in a loop: the first store to the destination page leaves
      // translated code (the page is not yet dirty), the next ones stay in it.
      {"loop_copy_add", Family::Stack,
       {0x31, 0xC9,                                      // xor ecx, ecx
        0x48, 0x8B, 0x04, 0xCB,                          // l: mov rax, [rbx + rcx*8]
        0x48, 0x01, 0xD0,                                // add rax, rdx
        0x48, 0x89, 0x84, 0xCB, 0x00, 0x10, 0x00, 0x00,  // mov [rbx + rcx*8 + 0x1000], rax
        0xFF, 0xC1,                                      // inc ecx
        0x81, 0xF9, 0x2C, 0x01, 0x00, 0x00,              // cmp ecx, 300
        0x72, 0xE7},                                     // jb l
       [](TestCase& t) { t.gpr[RBX] = kDataGpa; },
       [](const TestCase& t, const Result& r) {
         expect_completed(t, r);
         for (uint64_t i = 0; i < 300; ++i) {
           uint64_t src;
           std::memcpy(&src, t.data.data() + 8 * i, 8);
           ASSERT_EQ(data_qword(r, kDataGpa + 0x1000 + 8 * i), src + t.gpr[RDX]) << "qword " << i;
         }
         EXPECT_EQ(r.gpr[RCX], 300u);
         expect_flags(r, kCF | kZF | kSF | kOF, kZF);
         expect_unchanged_except(t, r, {RAX, RCX});
       }},
      // CALL, PUSH reg, PUSH imm, POP, RET through the stack.
      {"call_push_pop_ret", Family::Stack,
       {0xE8, 0x06, 0x00, 0x00, 0x00,  // call f
        0x48, 0x83, 0xC0, 0x01,        // add rax, 1
        0xEB, 0x0F,                    // jmp end
        0x53,                          // f: push rbx
        0x6A, 0x55,                    // push 0x55
        0xBB, 0x07, 0x00, 0x00, 0x00,  // mov ebx, 7
        0x48, 0x6B, 0xC3, 0x03,        // imul rax, rbx, 3
        0x5A,                          // pop rdx
        0x5B,                          // pop rbx
        0xC3},                         // ret
       nullptr,
       [](const TestCase& t, const Result& r) {
         expect_completed(t, r);
         EXPECT_EQ(r.gpr[RAX], 22u);
         EXPECT_EQ(r.gpr[RDX], 0x55u);
         EXPECT_EQ(r.gpr[RSP], kInitialRsp);
         EXPECT_EQ(stack_qword(r, kInitialRsp - 8), C + 5);
         EXPECT_EQ(stack_qword(r, kInitialRsp - 16), t.gpr[RBX]);
         EXPECT_EQ(stack_qword(r, kInitialRsp - 24), 0x55u);
         expect_unchanged_except(t, r, {RAX, RDX});
       }},
      // The carry of an ADD survives a load and a store before ADC reads it; byte
      // registers SIL, DIL, R8B.
      {"flags_survive_memory_access", Family::Alu,
       {0x48, 0x01, 0xD8,              // add rax, rbx
        0x48, 0x8B, 0x16,              // mov rdx, [rsi]
        0x48, 0x89, 0x56, 0x08,        // mov [rsi + 8], rdx
        0x48, 0x83, 0xD1, 0x00,        // adc rcx, 0
        0x40, 0x0F, 0x92, 0xC7,        // setc dil
        0x40, 0xB6, 0x80,              // mov sil, 0x80
        0x40, 0x00, 0xF6,              // add sil, sil
        0x41, 0x0F, 0x94, 0xC0},       // setz r8b
       [](TestCase& t) { t.gpr[RAX] = ~0ull; t.gpr[RBX] = 2; t.gpr[RSI] = D; },
       [](const TestCase& t, const Result& r) {
         expect_completed(t, r);
         uint64_t v;
         std::memcpy(&v, t.data.data() + (D - kDataGpa), 8);
         EXPECT_EQ(r.gpr[RAX], 1u);
         EXPECT_EQ(r.gpr[RDX], v);
         EXPECT_EQ(data_qword(r, D + 8), v);
         EXPECT_EQ(r.gpr[RCX], t.gpr[RCX] + 1);
         EXPECT_EQ(r.gpr[RDI], t.gpr[RDI] & ~0xffull);
         EXPECT_EQ(r.gpr[RSI], (D & ~0xffull));
         EXPECT_EQ(r.gpr[R8], (t.gpr[R8] & ~0xffull) | 1);
         expect_flags(r, kCF | kZF | kSF | kOF | kPF, kCF | kZF | kOF | kPF);
       }},
      // R12 and R13 as bases (SIB and displacement forms in host code too), a load
      // that crosses a page boundary.
      {"r12_r13_bases_page_crossing", Family::Movx,
       {0x49, 0x8B, 0x04, 0x24,                    // mov rax, [r12]
        0x49, 0x89, 0x45, 0x00,                    // mov [r13], rax
        0x49, 0x8B, 0x9D, 0xFC, 0x0F, 0x00, 0x00,  // mov rbx, [r13 + 0xffc]
        0x4F, 0x8D, 0x74, 0x6C, 0x10},             // lea r14, [r12 + r13*2 + 0x10]
       [](TestCase& t) { t.gpr[R12] = D; t.gpr[R13] = kDataGpa + 0x1000; },
       [](const TestCase& t, const Result& r) {
         expect_completed(t, r);
         uint64_t v, crossing;
         std::memcpy(&v, t.data.data() + (D - kDataGpa), 8);
         std::memcpy(&crossing, t.data.data() + 0x1ffc, 8);
         EXPECT_EQ(r.gpr[RAX], v);
         EXPECT_EQ(data_qword(r, kDataGpa + 0x1000), v);
         EXPECT_EQ(r.gpr[RBX], crossing);
         EXPECT_EQ(r.gpr[R14], D + 2 * (kDataGpa + 0x1000) + 0x10);
         expect_unchanged_except(t, r, {RAX, RBX, R14});
       }},
      // RET to a non-canonical address: #GP(0) at the RET, the stack untouched by it.
      {"ret_non_canonical_gp", Family::Stack,
       {0x48, 0xB8, 0x00, 0x00, 0x00, 0x00, 0x00, 0x80, 0x00, 0x00,  // mov rax, 0x800000000000
        0x50,                                                        // push rax
        0xC3},                                                       // ret
       nullptr,
       [](const TestCase&, const Result& r) {
         ASSERT_EQ(r.outcome, Outcome::Exception) << r.message;
         EXPECT_EQ(r.vector, 13u) << vector_name(r.vector);
         EXPECT_EQ(r.error_code, 0u);
         EXPECT_EQ(r.rip, C + 11);
         EXPECT_EQ(r.gpr[RSP], kInitialRsp - 8);
       }},
      // A store to the read-only code page: #PF (present, write, user) at the store.
      {"store_to_read_only_page_pf", Family::Movx,
       {0xB8, 0x01, 0x00, 0x00, 0x00,  // mov eax, 1
        0x48, 0x89, 0x03},             // mov [rbx], rax
       [](TestCase& t) { t.gpr[RBX] = C; },
       [](const TestCase&, const Result& r) {
         ASSERT_EQ(r.outcome, Outcome::Exception) << r.message;
         EXPECT_EQ(r.vector, 14u) << vector_name(r.vector);
         EXPECT_EQ(r.error_code, 7u);
         EXPECT_EQ(r.rip, C + 5);
         EXPECT_EQ(r.gpr[RAX], 1u);
       }},
      // Indirect CALL through a register, RET, and an indirect JMP through memory.
      {"indirect_call_jmp", Family::Stack,
       {0x48, 0x8D, 0x15, 0x14, 0x00, 0x00, 0x00,  // lea rdx, [rel f]
        0xFF, 0xD2,                                // call rdx
        0x48, 0x83, 0xC0, 0x01,                    // add rax, 1
        0x48, 0x8D, 0x0D, 0x0D, 0x00, 0x00, 0x00,  // lea rcx, [rel done]
        0x48, 0x89, 0x0E,                          // mov [rsi], rcx
        0xFF, 0x26,                                // jmp [rsi]
        0x0F, 0x0B,                                // ud2
        0xB8, 0x29, 0x00, 0x00, 0x00,              // f: mov eax, 41
        0xC3},                                     // ret; done:
       [](TestCase& t) { t.gpr[RSI] = D; },
       [](const TestCase& t, const Result& r) {
         expect_completed(t, r);
         EXPECT_EQ(r.gpr[RAX], 42u);
         EXPECT_EQ(r.gpr[RDX], C + 0x1b);
         EXPECT_EQ(r.gpr[RCX], C + 0x21);
         EXPECT_EQ(data_qword(r, D), C + 0x21);
         EXPECT_EQ(r.gpr[RSP], kInitialRsp);
         EXPECT_EQ(stack_qword(r, kInitialRsp - 8), C + 9);
         expect_unchanged_except(t, r, {RAX, RCX, RDX});
       }},
      // A call in a loop: the RET goes back through the translation tier's jump cache.
      {"call_in_a_loop", Family::Stack,
       {0xB9, 0x64, 0x00, 0x00, 0x00,  // mov ecx, 100
        0x31, 0xC0,                    // xor eax, eax
        0xE8, 0x06, 0x00, 0x00, 0x00,  // l: call f
        0xFF, 0xC9,                    // dec ecx
        0x75, 0xF7,                    // jnz l
        0xEB, 0x04,                    // jmp done
        0x48, 0x01, 0xC8,              // f: add rax, rcx
        0xC3},                         // ret; done:
       nullptr,
       [](const TestCase& t, const Result& r) {
         expect_completed(t, r);
         EXPECT_EQ(r.gpr[RAX], 5050u);
         EXPECT_EQ(r.gpr[RCX], 0u);
         EXPECT_EQ(r.gpr[RSP], kInitialRsp);
         expect_unchanged_except(t, r, {RAX, RCX});
       }},
      // Shifts by CL = 0 keep the flags of the ADD before them, across a load; CQO and
      // CDQE through the translation tier's RAX/RDX handling.
      {"shift_by_cl_zero_cqo_cdqe", Family::Shift,
       {0x48, 0x01, 0xDB,        // add rbx, rbx
        0x48, 0xD3, 0xE8,        // shr rax, cl
        0x48, 0x8B, 0x16,        // mov rdx, [rsi]
        0x48, 0xD3, 0xE2,        // shl rdx, cl
        0x48, 0x99,              // cqo
        0x48, 0x98},             // cdqe
       [](TestCase& t) {
         t.gpr[RBX] = 0x8000000000000001ull;
         t.gpr[RCX] = 0;
         t.gpr[RAX] = 0x923456781abcdef0ull;
         t.gpr[RSI] = D;
       },
       [](const TestCase& t, const Result& r) {
         expect_completed(t, r);
         EXPECT_EQ(r.gpr[RBX], 2u);
         EXPECT_EQ(r.gpr[RDX], ~0ull);
         EXPECT_EQ(r.gpr[RAX], 0x1abcdef0u);
         expect_flags(r, kCF | kZF | kSF | kOF | kPF, kCF | kOF);
         expect_unchanged_except(t, r, {RAX, RBX, RDX});
       }},
      // DIV with RDX >= the divisor overflows: #DE at the DIV, RDX:RAX untouched.
      {"div_quotient_overflow_de", Family::MulDiv,
       {0xBA, 0x07, 0x00, 0x00, 0x00,  // mov edx, 7
        0xB9, 0x07, 0x00, 0x00, 0x00,  // mov ecx, 7
        0x48, 0xF7, 0xF1},             // div rcx
       nullptr,
       [](const TestCase& t, const Result& r) {
         expect_exception(r, 0, 0, C + 10);
         EXPECT_EQ(r.gpr[RDX], 7u);
         EXPECT_EQ(r.gpr[RAX], t.gpr[RAX]);
       }},
      // ---- faults (SDM vol. 3, 4.7 and 6.15) ----
      {"pf_read_not_present", Family::Fault, {0x48, 0x8B, 0x04, 0x25, 0x00, 0x00, 0x00, 0x00},  // mov rax, [0]
       nullptr,
       [](const TestCase& t, const Result& r) {
         expect_exception(r, 14, 0x4, C);  // user, read, not present
         EXPECT_EQ(r.cr2, 0u);
         EXPECT_TRUE(r.rflags & (1u << 16));
         expect_unchanged_except(t, r, {});
       }},
      {"pf_write_read_only_code", Family::Fault, {0x88, 0x04, 0x25, 0x00, 0x00, 0x01, 0x00},  // mov [0x10000], al
       nullptr,
       [](const TestCase&, const Result& r) {
         expect_exception(r, 14, 0x7, C);  // present, write, user
         EXPECT_EQ(r.cr2, C);
       }},
      {"pf_write_supervisor_page", Family::Fault, {0x88, 0x04, 0x25, 0x00, 0x10, 0x00, 0x00},  // mov [0x1000], al
       nullptr,
       [](const TestCase&, const Result& r) {
         expect_exception(r, 14, 0x7, C);
         EXPECT_EQ(r.cr2, 0x1000u);
       }},
      {"pf_execute_no_execute_page", Family::Fault, {0xB8, 0x00, 0x00, 0x02, 0x00, 0xFF, 0xE0},  // mov eax, D; jmp rax
       nullptr,
       [](const TestCase&, const Result& r) {
         expect_exception(r, 14, 0x15, kDataGpa);  // present, user, instruction fetch
         EXPECT_EQ(r.cr2, kDataGpa);
       }},
      {"gp_cli_at_cpl3", Family::Fault, {0xFA},
       nullptr,
       [](const TestCase&, const Result& r) { expect_exception(r, 13, 0, C); }},
      {"gp_misaligned_movdqa", Family::Fault, {0x66, 0x0F, 0x6F, 0x03},  // movdqa xmm0, [rbx]
       [](TestCase& t) { t.gpr[RBX] = D + 8; },
       [](const TestCase&, const Result& r) { expect_exception(r, 13, 0, C); }},
      {"gp_non_canonical", Family::Fault, {0x48, 0x8B, 0x03},  // mov rax, [rbx]
       [](TestCase& t) { t.gpr[RBX] = 0x8000000000000000ull; },
       [](const TestCase&, const Result& r) { expect_exception(r, 13, 0, C); }},
      {"ss_non_canonical_rbp", Family::Fault, {0x48, 0x8B, 0x45, 0x00},  // mov rax, [rbp]
       [](TestCase& t) { t.gpr[RBP] = 0x8000000000000000ull; },
       [](const TestCase&, const Result& r) { expect_exception(r, 12, 0, C); }},
      {"ss_override_non_canonical", Family::Fault, {0x36, 0x48, 0x8B, 0x03},  // mov rax, ss:[rbx]
       [](TestCase& t) { t.gpr[RBX] = 0x8000000000000000ull; },
       [](const TestCase&, const Result& r) { expect_exception(r, 12, 0, C); }},
      {"gp_fs_override_on_rbp_base", Family::Fault, {0x64, 0x48, 0x8B, 0x45, 0x00},  // mov rax, fs:[rbp]
       [](TestCase& t) { t.gpr[RBP] = 0x8000000000000000ull; },
       [](const TestCase&, const Result& r) { expect_exception(r, 13, 0, C); }},
      {"ss_push_non_canonical_rsp", Family::Fault, {0x50},  // push rax
       [](TestCase& t) { t.gpr[RSP] = 0x8000000000000008ull; },
       [](const TestCase& t, const Result& r) {
         ASSERT_EQ(r.outcome, Outcome::Exception) << r.message;
         EXPECT_EQ(r.vector, 12u) << vector_name(r.vector);
         EXPECT_EQ(r.error_code, 0u);
         EXPECT_EQ(r.rip, C);
         EXPECT_EQ(r.gpr[RSP], t.gpr[RSP]);
       }},
      {"ss_before_pf_when_crossing_into_non_canonical", Family::Fault, {0x48, 0x8B, 0x45, 0x00},  // mov rax, [rbp]
       [](TestCase& t) { t.gpr[RBP] = 0x00007ffffffffffcull; },  // first page unmapped, last bytes non-canonical
       [](const TestCase&, const Result& r) { expect_exception(r, 12, 0, C); }},
      {"gp_int_beyond_idt_limit", Family::Fault, {0xCD, 0x80},  // int 0x80: IDT has 32 entries
       nullptr,
       [](const TestCase&, const Result& r) { expect_exception(r, 13, (0x80 << 3) | 2, C); },
       nullptr, "PVM turns INT n from ring 3 into #UD (error code 0) instead of #GP"},
      {"gp_int_gate_dpl0", Family::Fault, {0xCD, 0x0D},  // int 13: gate DPL 0 < CPL 3
       nullptr,
       [](const TestCase&, const Result& r) { expect_exception(r, 13, (13 << 3) | 2, C); },
       nullptr, "PVM turns INT n from ring 3 into #UD (error code 0) instead of #GP"},
      {"ud_ud2", Family::Fault, {0x90, 0x0F, 0x0B},  // nop; ud2
       nullptr,
       [](const TestCase&, const Result& r) { expect_exception(r, 6, 0, C + 1); }},
      {"ud_lock_register", Family::Fault, {0xF0, 0x01, 0xD8},  // lock add eax, ebx
       nullptr,
       [](const TestCase& t, const Result& r) {
         expect_exception(r, 6, 0, C);
         expect_unchanged_except(t, r, {});
       }},
      {"bp_int3_after", Family::Fault, {0xCC},
       nullptr,
       [](const TestCase&, const Result& r) {
         expect_exception(r, 3, 0, C + 1);  // a trap: RIP after INT3
         EXPECT_FALSE(r.rflags & (1u << 16));
       }},
      {"db_single_step", Family::Fault, {0x90, 0x90},
       [](TestCase& t) { t.rflags |= 1u << 8; },  // TF
       [](const TestCase&, const Result& r) {
         expect_exception(r, 1, 0, C + 1);  // after the first NOP
         EXPECT_TRUE(r.rflags & (1u << 8));
       }},
      {"db_after_popf_that_clears_tf", Family::Fault, {0x9D, 0x90},  // popf (of 0x2); nop
       [](TestCase& t) {
         t.rflags |= 1u << 8;
         uint64_t flags = 0x2;
         std::memcpy(t.stack.data() + (kInitialRsp - kStackGpa), &flags, 8);
       },
       [](const TestCase&, const Result& r) {
         ASSERT_EQ(r.outcome, Outcome::Exception) << r.message;
         EXPECT_EQ(r.vector, 1u);  // TF was set when the POPF began
         EXPECT_EQ(r.rip, C + 1);
         EXPECT_FALSE(r.rflags & (1u << 8));
         EXPECT_EQ(r.gpr[RSP], kInitialRsp + 8);
       }},
      {"db_one_instruction_after_popf_sets_tf", Family::Fault, {0x68, 0x02, 0x01, 0x00, 0x00, 0x9D, 0x90, 0x90},
       nullptr,  // push 0x102; popf; nop; nop
       [](const TestCase&, const Result& r) {
         ASSERT_EQ(r.outcome, Outcome::Exception) << r.message;
         EXPECT_EQ(r.vector, 1u);
         EXPECT_EQ(r.rip, C + 7);  // after the first NOP
         EXPECT_EQ(r.gpr[RSP], kInitialRsp);
       }},
      {"db_rep_movsb_each_iteration", Family::Fault, {0xF3, 0xA4},
       [](TestCase& t) { t.rflags |= 1u << 8; t.gpr[RCX] = 3; t.gpr[RSI] = D; t.gpr[RDI] = D + 0x100; },
       [](const TestCase&, const Result& r) {
         expect_exception(r, 1, 0, C);  // RIP still on the REP MOVSB
         EXPECT_EQ(r.gpr[RCX], 2u);
         EXPECT_EQ(r.gpr[RSI], D + 1);
       }},
      {"db_not_after_a_fault", Family::Fault, {0x0F, 0x0B},  // ud2
       [](TestCase& t) { t.rflags |= 1u << 8; },
       [](const TestCase&, const Result& r) { expect_exception(r, 6, 0, C); }},
      {"rf_cleared_after_an_instruction", Family::Fault, {0x90},
       [](TestCase& t) { t.rflags |= 1u << 16; },
       [](const TestCase& t, const Result& r) {
         expect_completed(t, r);
         EXPECT_FALSE(r.rflags & (1u << 16));
       }},
  };
  return all;
}

KvmRing3Runner* cpu_runner(std::string& why) {
  static std::unique_ptr<KvmRing3Runner> runner;
  static std::string reason;
  static bool tried = false;
  if (!tried) {
    tried = true;
    try {
      runner = std::make_unique<KvmRing3Runner>();
    } catch (const Error& e) {
      reason = e.what();
    }
  }
  why = reason;
  return runner.get();
}

// The interpreter alone, or (`translated`) with every block translated the first
// time it runs.
EmuRunner* emu_runner(std::string& why, bool translated = false) {
  static std::unique_ptr<EmuRunner> runners[2];
  static std::string reasons[2];
  static bool tried_[2] = {false, false};
  std::unique_ptr<EmuRunner>& runner = runners[translated];
  std::string& reason = reasons[translated];
  bool& tried = tried_[translated];
  if (!tried) {
    tried = true;
    if (!EmuRunner::available()) {
      reason = "the interpreter is not in this build";
    } else {
      try {
        runner = std::make_unique<EmuRunner>(2000, translated);
      } catch (const Error& e) {
        reason = e.what();
      }
    }
  }
  why = reason;
  return runner.get();
}

class DifftestHandwritten : public ::testing::TestWithParam<size_t> {};

std::string describe(const TestCase& tc) {
  std::string s;
  size_t off = 0;
  while (off < tc.code.size()) {
    Disassembly d = disassemble(tc.code.data() + off, tc.code.size() - off, kCodeGpa + off);
    s += "\n  " + d.text;
    off += d.length;
  }
  return s;
}

TEST_P(DifftestHandwritten, Cpu) {
  const HandCase& hc = cases()[GetParam()];
  std::string why;
  KvmRing3Runner* runner = cpu_runner(why);
  if (!runner) GTEST_SKIP() << "no CPU reference: " << why;
  if (hc.pvm_deviation && KvmRing3Runner::kvm_flavour() == "pvm")
    GTEST_SKIP() << "not a reference here: " << hc.pvm_deviation;
  TestCase tc = base_case(hc);
  Result r = runner->run(tc);
  SCOPED_TRACE(describe(tc));
  hc.check(tc, r);
}

// The emulator (interpreter alone, or with translation) runs the case and its check.
void run_on_emulator(const HandCase& hc, bool translated) {
  std::string why;
  EmuRunner* runner = emu_runner(why, translated);
  if (!runner) GTEST_SKIP() << "no interpreter: " << why;
  TestCase tc = base_case(hc);
  Result r = runner->run(tc);
  SCOPED_TRACE(describe(tc));
  if (!hc.known_interpreter_issue) {
    hc.check(tc, r);
    return;
  }
  ::testing::TestPartResultArray failures;
  {
    ::testing::ScopedFakeTestPartResultReporter reporter(
        ::testing::ScopedFakeTestPartResultReporter::INTERCEPT_ONLY_CURRENT_THREAD, &failures);
    hc.check(tc, r);
  }
  if (failures.size() > 0)
    GTEST_SKIP() << "known interpreter divergence: " << hc.known_interpreter_issue << " (first failure: "
                 << failures.GetTestPartResult(0).message() << ")";
  std::printf("note: known interpreter issue \"%s\" no longer shows: remove its marker\n", hc.known_interpreter_issue);
}

TEST_P(DifftestHandwritten, Interpreter) { run_on_emulator(cases()[GetParam()], false); }

// The same cases with the translation tier: each block is translated the first time
// it runs, so every translated instruction form the cases contain is checked.
TEST_P(DifftestHandwritten, Translated) {
  const HandCase& hc = cases()[GetParam()];
  std::string why;
  EmuRunner* runner = emu_runner(why, true);
  const uint64_t before = runner ? runner->translated_instructions() : 0;
  run_on_emulator(hc, true);
  // The cases written for the translation tier must really have run through it.
  static const std::set<std::string> for_translation = {
      "loop_back_across_polls", "loop_copy_add", "call_push_pop_ret", "flags_survive_memory_access",
      "r12_r13_bases_page_crossing", "ret_non_canonical_gp", "store_to_read_only_page_pf",
      "indirect_call_jmp", "call_in_a_loop", "shift_by_cl_zero_cqo_cdqe", "div_quotient_overflow_de",
      "paddd", "pshufd_broadcast", "pmovmskb", "compare_mask_store"};
  if (runner && for_translation.count(hc.name)) {
    EXPECT_GT(runner->translated_instructions(), before) << "no instruction of the case ran as translated code";
  }
}

INSTANTIATE_TEST_SUITE_P(Cases, DifftestHandwritten, ::testing::Range<size_t>(0, cases().size()),
                         [](const ::testing::TestParamInfo<size_t>& info) {
                           const HandCase& hc = cases()[info.param];
                           return std::string(family_name(hc.family)) + "_" + hc.name;
                         });

}  // namespace
}  // namespace vireo::difftest
