#include "difftest/disassembler.h"

#include <Zydis/Zydis.h>

namespace vireo::difftest {

Disassembly disassemble(const uint8_t* code, size_t size, uint64_t address) {
  Disassembly d;
  ZydisDisassembledInstruction insn;
  if (ZYAN_SUCCESS(ZydisDisassembleIntel(ZYDIS_MACHINE_MODE_LONG_64, address, code, size, &insn))) {
    d.ok = true;
    d.length = insn.info.length;
    d.text = insn.text;
  } else {
    d.length = 1;
    d.text = "(bad)";
  }
  return d;
}

}  // namespace vireo::difftest
