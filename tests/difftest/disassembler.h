// Disassembly of test code with Zydis (Intel syntax), for divergence reports and for
// checking the generator's encodings.
#pragma once

#include <cstdint>
#include <string>

namespace vireo::difftest {

struct Disassembly {
  bool ok = false;
  unsigned length = 0;
  std::string text;      // "add rax, rbx", or "(bad)"
  std::string mnemonic;  // "add"
};

// Decodes one 64-bit-mode instruction at `code` (at most `size` bytes) located at
// `address` (for RIP-relative and branch targets).
Disassembly disassemble(const uint8_t* code, size_t size, uint64_t address);

}  // namespace vireo::difftest
