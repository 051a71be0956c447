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
    d.mnemonic = ZydisMnemonicGetString(insn.info.mnemonic);
    if (insn.info.attributes & ZYDIS_ATTRIB_HAS_LOCK) d.mnemonic = "lock " + d.mnemonic;
    if (insn.info.attributes & ZYDIS_ATTRIB_HAS_REP) d.mnemonic = "rep " + d.mnemonic;
    if (insn.info.attributes & ZYDIS_ATTRIB_HAS_REPE) d.mnemonic = "repe " + d.mnemonic;
    if (insn.info.attributes & ZYDIS_ATTRIB_HAS_REPNE) d.mnemonic = "repne " + d.mnemonic;
  } else {
    d.length = 1;
    d.text = "(bad)";
  }
  return d;
}

}  // namespace vireo::difftest
