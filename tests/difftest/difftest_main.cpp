// vireo_difftest: differential testing of the interpreter (cpu/emu) against the
// real CPU. Each random test case runs in ring 3 of a KVM vCPU (the reference) and
// on the interpreter from the same initial state; every general register, RIP, the
// defined RFLAGS bits, the SSE registers and the written memory must agree.
//
//   vireo_difftest --count N --seed S [--family NAME,...] [--verbose] [--case I]
//
// Prints per-family counts of cases run and divergent, and for the first divergence
// of each family the instruction sequence (disassembled, the first divergent
// instruction marked), the initial state and both final states. Exit status 1 on
// any divergence, or when a side fails to run a case.
//
// Without a usable /dev/kvm there is no reference: the program says so, runs the
// interpreter alone (a crash, an internal error or a hang of the interpreter on
// these valid sequences is still a bug, and fails the run) and otherwise exits 0.
// Without the interpreter in the build it runs the CPU side alone, which checks the
// harness and the generator.
#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <chrono>
#include <cstdio>
#include <map>
#include <memory>
#include <optional>

#include "difftest/disassembler.h"
#include "difftest/emu_runner.h"
#include "difftest/generator.h"
#include "difftest/kvm_ring3_runner.h"

using namespace vireo::difftest;

namespace {

const char* const kGprNames[16] = {"rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi",
                                   "r8",  "r9",  "r10", "r11", "r12", "r13", "r14", "r15"};

// Each case has its own seed, so one case can be reproduced alone (--case).
uint64_t case_seed(uint64_t seed, uint64_t index) { return seed * 0x100000001b3ull + index * 0x9e3779b97f4a7c15ull; }

Family family_of_case(const std::vector<Family>& families, uint64_t index) {
  return families[index % families.size()];
}

void print_code(const TestCase& tc, std::optional<size_t> mark) {
  for (size_t i = 0; i < tc.instrs.size(); ++i) {
    const InstructionTag& t = tc.instrs[i];
    Disassembly d = disassemble(tc.code.data() + t.offset, t.length, kCodeGpa + t.offset);
    std::string hex;
    for (unsigned k = 0; k < t.length; ++k) hex += fmt::format("{:02x}", tc.code[t.offset + k]);
    fmt::print("  {} {:#07x}  {:<30} {:<40} [{}]\n", mark && *mark == i ? ">>" : "  ", kCodeGpa + t.offset, hex,
               d.text, family_name(t.family));
  }
  fmt::print("     {:#07x}  (end store)\n", kCodeGpa + tc.code.size());
}

void print_initial(const TestCase& tc) {
  fmt::print("  initial state:\n");
  for (unsigned i = 0; i < 16; ++i)
    fmt::print("    {:>3}={:016x}{}", kGprNames[i], tc.gpr[i], i % 4 == 3 ? "\n" : "");
  fmt::print("    rflags={:#x}  undefined-flags mask={:#x}\n", tc.rflags, tc.undefined_flags);
  if (tc.uses_sse) {
    for (unsigned i = 0; i < 16; ++i)
      fmt::print("    xmm{:<2}={:016x}{:016x}{}", i, tc.xmm[i].hi, tc.xmm[i].lo, i % 2 == 1 ? "\n" : "");
    fmt::print("    mxcsr={:#x}\n", tc.mxcsr);
  }
}

void print_result(const char* who, const Result& r, const std::vector<Difference>& diffs) {
  auto differs = [&](const std::string& field) {
    for (const Difference& d : diffs)
      if (d.field.rfind(field, 0) == 0) return true;
    return false;
  };
  fmt::print("  {} final state: {}", who, outcome_name(r.outcome));
  if (r.outcome == Outcome::Exception)
    fmt::print(" {} error code {:#x}{}", vector_name(r.vector), r.error_code,
               r.vector == 14 ? fmt::format(" cr2 {:#x}", r.cr2) : "");
  if (!r.message.empty()) fmt::print(" ({})", r.message);
  fmt::print("\n");
  if (r.outcome == Outcome::Error || r.outcome == Outcome::Timeout) return;
  for (unsigned i = 0; i < 16; ++i)
    fmt::print("   {}{:>3}={:016x}{}", differs(kGprNames[i]) ? '*' : ' ', kGprNames[i], r.gpr[i],
               i % 4 == 3 ? "\n" : "");
  fmt::print("   {}rip={:#x}  {}rflags={:#x}\n", differs("rip") ? '*' : ' ', r.rip, differs("rflags") ? '*' : ' ',
             r.rflags);
  if (r.sse_valid) {
    for (unsigned i = 0; i < 16; ++i) {
      std::string name = fmt::format("xmm{}", i);
      fmt::print("   {}xmm{:<2}={:016x}{:016x}{}", differs(name) && name.size() == 4 + (i >= 10) ? '*' : ' ', i,
                 r.xmm[i].hi, r.xmm[i].lo, i % 2 == 1 ? "\n" : "");
    }
    fmt::print("   {}mxcsr={:#x}\n", differs("mxcsr") ? '*' : ' ', r.mxcsr);
  }
}

struct FamilyStats {
  uint64_t run = 0;
  uint64_t exceptions = 0;  // cases that raised an exception on the reference side
  uint64_t divergent = 0;
  uint64_t failed = 0;  // a side could not run the case (error / timeout)
  bool reported = false;
};

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"vireo differential tester: the interpreter against the real CPU"};
  uint64_t count = 1000;
  uint64_t seed = 1;
  std::string family_filter;
  bool verbose = false;
  std::optional<uint64_t> single_case;
  bool cpu_only = false, emu_only = false, jit = false;
  app.add_option("--count", count, "number of random test cases")->capture_default_str();
  app.add_option("--seed", seed, "random seed")->capture_default_str();
  app.add_option("--family", family_filter, "only these instruction families, comma-separated (alu, shift, muldiv, "
                                            "bit, cond, string, xchg, lea, movx, stack, sse, bmi)");
  app.add_flag("--verbose", verbose, "report every divergent case, not only the first of each family");
  app.add_option("--case", single_case, "run only case number I of this seed (as reported)");
  app.add_flag("--cpu-only", cpu_only, "run the KVM side only (harness check, timing)");
  app.add_flag("--emu-only", emu_only, "run the interpreter only (crash check, timing)");
  app.add_flag("--jit", jit,
               "run the emulator with its translation tier, every block translated the first time it runs");
  CLI11_PARSE(app, argc, argv);

  std::vector<Family> families = Generator::families();
  if (!family_filter.empty()) {
    families.clear();
    size_t start = 0;
    while (start <= family_filter.size()) {
      size_t comma = family_filter.find(',', start);
      std::string name = family_filter.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
      Family f;
      if (!parse_family(name, f) || f == Family::Setup || f == Family::Fault) {
        fmt::print(stderr, "vireo_difftest: unknown family '{}'\n", name);
        return 2;
      }
      families.push_back(f);
      if (comma == std::string::npos) break;
      start = comma + 1;
    }
  }

  std::unique_ptr<KvmRing3Runner> cpu;
  std::unique_ptr<EmuRunner> emu;
  bool kvm_unavailable = false;
  try {
    if (!emu_only) cpu = std::make_unique<KvmRing3Runner>();
  } catch (const KvmUnavailable& e) {
    kvm_unavailable = true;
    fmt::print("vireo_difftest: SKIP reference side: {}; there is no CPU to compare with, so the interpreter runs "
               "alone (only crashes and hangs count)\n",
               e.what());
  } catch (const vireo::Error& e) {
    fmt::print(stderr, "vireo_difftest: {}\n", e.what());
    return 1;
  }
  if (!cpu_only) {
    if (EmuRunner::available()) {
      try {
        emu = std::make_unique<EmuRunner>(2000, jit);
      } catch (const vireo::Error& e) {
        fmt::print(stderr, "vireo_difftest: interpreter: {}\n", e.what());
        return 1;
      }
    } else {
      fmt::print("vireo_difftest: the interpreter (cpu/emu) is not in this build: running the CPU side only\n");
    }
  }
  if (!cpu && !emu) {
    fmt::print("vireo_difftest: nothing to run\n");
    return 0;
  }
  if (cpu) fmt::print("vireo_difftest: reference: ring 3 of a KVM vCPU ({})\n", KvmRing3Runner::kvm_flavour());

  GeneratorOptions options = host_generator_options();
  std::map<Family, FamilyStats> stats;
  double cpu_seconds = 0, emu_seconds = 0;
  uint64_t first = single_case ? *single_case : 0;
  uint64_t last = single_case ? *single_case + 1 : count;
  bool any_failure = false;
  // Divergent cases by family, first divergent instruction and first differing field.
  std::map<std::string, uint64_t> by_instruction;

  for (uint64_t index = first; index < last; ++index) {
    Family family = family_of_case(families, index);
    Generator gen(case_seed(seed, index), options);
    TestCase tc = gen.generate(family);
    FamilyStats& st = stats[family];
    ++st.run;

    std::optional<Result> ref, got;
    if (cpu) {
      auto t0 = std::chrono::steady_clock::now();
      ref = cpu->run(tc);
      cpu_seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    }
    if (emu) {
      auto t0 = std::chrono::steady_clock::now();
      got = emu->run(tc);
      emu_seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    }
    if (ref && ref->outcome == Outcome::Exception) ++st.exceptions;

    auto report_failure = [&](const char* who, const Result& r) {
      ++st.failed;
      any_failure = true;
      if (st.reported && !verbose) return;
      st.reported = true;
      fmt::print("\n[{}] case {} (--seed {} --case {}): the {} side did not finish: {} {}\n", family_name(family),
                 index, seed, index, who, outcome_name(r.outcome), r.message);
      print_code(tc, std::nullopt);
    };
    if (ref && (ref->outcome == Outcome::Error || ref->outcome == Outcome::Timeout)) {
      report_failure("CPU", *ref);
      continue;
    }
    if (!ref) {
      if (got && (got->outcome == Outcome::Error || got->outcome == Outcome::Timeout)) report_failure("interpreter", *got);
      continue;
    }
    if (!got) continue;

    std::vector<Difference> diffs = compare_results(tc, *ref, *got);
    if (diffs.empty()) continue;
    ++st.divergent;
    any_failure = true;

    // The first divergent instruction: the shortest prefix (cut at a boundary)
    // that already diverges.
    std::optional<size_t> first_bad;
    for (size_t k = 0; k < tc.instrs.size(); ++k) {
      if (!tc.instrs[k].boundary) continue;
      TestCase p = prefix_of(tc, k);
      Result pr = cpu->run(p), pg = emu->run(p);
      if (!compare_results(p, pr, pg).empty()) {
        first_bad = k;
        break;
      }
    }
    std::string culprit = "(whole sequence)";
    if (first_bad) {
      const InstructionTag& t = tc.instrs[*first_bad];
      culprit = disassemble(tc.code.data() + t.offset, t.length, kCodeGpa + t.offset).mnemonic;
    }
    std::string what = diffs.front().field;
    for (const char* g : kGprNames)
      if (what == g) what = "gpr";
    if (what.rfind("mem[", 0) == 0) what = "memory";
    if (what.rfind("rflags", 0) == 0) what = "rflags";
    if (what.rfind("xmm", 0) == 0) what = "xmm";
    ++by_instruction[fmt::format("{:<7} {:<22} {}", family_name(family), culprit, what)];
    if (st.reported && !verbose) continue;
    st.reported = true;
    fmt::print("\n[{}] case {} diverges (reproduce: vireo_difftest --seed {} --case {})\n", family_name(family), index,
               seed, index);
    print_code(tc, first_bad);
    if (first_bad) {
      const InstructionTag& t = tc.instrs[*first_bad];
      fmt::print("  first divergent instruction: {}\n",
                 disassemble(tc.code.data() + t.offset, t.length, kCodeGpa + t.offset).text);
    }
    print_initial(tc);
    print_result("CPU        ", *ref, diffs);
    print_result("interpreter", *got, diffs);
    fmt::print("  differences (CPU / interpreter):\n");
    for (const Difference& d : diffs) fmt::print("    {:<24} {:>34} / {}\n", d.field, d.expected, d.actual);
  }

  if (!by_instruction.empty()) {
    fmt::print("\ndivergent cases by family, first divergent instruction and first differing field:\n");
    for (const auto& [key, n] : by_instruction) fmt::print("  {:>7}  {}\n", n, key);
  }
  fmt::print("\n{:<8} {:>9} {:>11} {:>10} {:>8}\n", "family", "run", "exceptions", "divergent", "failed");
  uint64_t total_run = 0, total_div = 0, total_failed = 0;
  for (Family f : families) {
    const FamilyStats& st = stats[f];
    fmt::print("{:<8} {:>9} {:>11} {:>10} {:>8}\n", family_name(f), st.run, st.exceptions, st.divergent, st.failed);
    total_run += st.run;
    total_div += st.divergent;
    total_failed += st.failed;
  }
  fmt::print("{:<8} {:>9} {:>11} {:>10} {:>8}\n", "total", total_run, "", total_div, total_failed);
  if (cpu && total_run)
    fmt::print("CPU side: {:.0f} cases/s ({:.1f} us per case)\n", double(total_run) / cpu_seconds,
               1e6 * cpu_seconds / double(total_run));
  if (emu && total_run)
    fmt::print("interpreter side: {:.0f} cases/s ({:.1f} us per case)\n", double(total_run) / emu_seconds,
               1e6 * emu_seconds / double(total_run));
  if (emu && jit) {
    const uint64_t all = emu->instructions(), translated = emu->translated_instructions();
    fmt::print("translation tier: {} of {} emulated instructions ({:.1f}%) ran as translated code\n", translated, all,
               all ? 100.0 * double(translated) / double(all) : 0.0);
  }
  if (kvm_unavailable) fmt::print("vireo_difftest: SKIPPED the comparison (no /dev/kvm)\n");
  return any_failure ? 1 : 0;
}
