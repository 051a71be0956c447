// Tracer: an instruction trace of the emulated CPU for debugging a guest. Each
// executed instruction is one line: address, bytes, Intel-syntax disassembly
// (Zydis), then the registers and flags it changed. Exceptions and interrupts are
// lines of their own.
#pragma once

#include <cstdint>
#include <cstdio>
#include <string>

#include "cpu/emu/cpu.h"

namespace vireo::emu {

class EmuCpu;

class Tracer {
 public:
  // Writes to `out` (not owned, not closed).
  explicit Tracer(std::FILE* out) : out_(out) {}
  void before(EmuCpu& cpu, const uint8_t* bytes, unsigned len);
  void after(EmuCpu& cpu);
  void exception(EmuCpu& cpu, uint8_t vector, bool has_error, uint32_t error);

 private:
  std::FILE* out_;
  uint64_t gpr_[16] = {};
  uint64_t rflags_ = 0, cr0_ = 0, cr3_ = 0, cr4_ = 0;
  uint16_t cs_ = 0;
  Xmm xmm_[16];
  std::string line_;
};

// Disassembles `len` bytes at `rip` for `mode` into "<bytes> <mnemonic operands>".
std::string disassemble(const uint8_t* bytes, unsigned len, uint64_t rip, bool long64, bool big);

}  // namespace vireo::emu
