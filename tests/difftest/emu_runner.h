// EmuRunner: runs test cases on vireo's interpreter (cpu/emu) through the Vcpu
// interface, in the same machine as KvmRing3Runner: the same guest memory image
// (page tables, GDT, TSS, IDT, handler stubs), the same ring-3 entry state, and the
// same end store, which the interpreter routes to the MMIO bus, where a small
// device records it and stops the vCPU.
#pragma once

#include <memory>

#include "difftest/program.h"

namespace vireo::difftest {

class EmuRunner {
 public:
  // False while the interpreter is not part of the build.
  static bool available();

  // Throws vireo::Error when the interpreter cannot be set up. With `jit`, every
  // block is translated to host code the first time it runs (cpu/emu/jit.h), so
  // the cases check the translation tier rather than the interpreter alone.
  explicit EmuRunner(unsigned timeout_ms = 2000, bool jit = false);
  ~EmuRunner();
  EmuRunner(const EmuRunner&) = delete;
  EmuRunner& operator=(const EmuRunner&) = delete;

  Result run(const TestCase& tc);
  // Instructions retired so far, and how many of them in translated code.
  uint64_t instructions() const;
  uint64_t translated_instructions() const;

 private:
  struct Machine;
  std::unique_ptr<Machine> m_;
};

}  // namespace vireo::difftest
