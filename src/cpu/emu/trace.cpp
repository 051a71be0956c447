#include "cpu/emu/trace.h"

#include <Zydis/Zydis.h>
#include <fmt/format.h>

#include "cpu/emu/emu_cpu.h"

namespace vireo::emu {

static const char* const kGprNames[16] = {"rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi",
                                          "r8",  "r9",  "r10", "r11", "r12", "r13", "r14", "r15"};

std::string disassemble(const uint8_t* bytes, unsigned len, uint64_t rip, bool long64, bool big) {
  std::string out;
  for (unsigned i = 0; i < len; ++i) out += fmt::format("{:02x}", bytes[i]);
  ZydisMachineMode mode = long64 ? ZYDIS_MACHINE_MODE_LONG_64
                                 : (big ? ZYDIS_MACHINE_MODE_LEGACY_32 : ZYDIS_MACHINE_MODE_LEGACY_16);
  ZydisDisassembledInstruction insn;
  if (ZYAN_SUCCESS(ZydisDisassembleIntel(mode, rip, bytes, len, &insn))) {
    out.resize(out.size() < 30 ? 30 : out.size() + 1, ' ');
    out += insn.text;
  } else {
    out += "  (undecodable)";
  }
  return out;
}

std::string describe_insn(EmuCpu& cpu, uint64_t rip) {
  uint8_t buf[15];
  unsigned n = 0;
  uint64_t saved_cr2 = cpu.s.cr2;
  for (; n < 15; ++n) {
    try {
      uint64_t la = cpu.linear(CS, rip + n);
      const TlbEntry& e = cpu.translate(la, Access::Exec, cpu.user());
      if (!e.host) break;
      buf[n] = e.host[la & 0xfff];
    } catch (...) {
      break;
    }
  }
  cpu.s.cr2 = saved_cr2;
  std::string text = n ? disassemble(buf, n, rip, cpu.mode() == CpuMode::Long64, cpu.mode() == CpuMode::Prot32)
                       : std::string("(bytes unreadable)");
  // Keep the first instruction only: Zydis took what it needed from the 15 bytes.
  ZydisDecoder zd;
  ZydisDecoderInit(&zd, cpu.mode() == CpuMode::Long64 ? ZYDIS_MACHINE_MODE_LONG_64 : ZYDIS_MACHINE_MODE_LEGACY_32,
                   cpu.mode() == CpuMode::Long64 ? ZYDIS_STACK_WIDTH_64 : ZYDIS_STACK_WIDTH_32);
  ZydisDecodedInstruction zi;
  if (n && ZYAN_SUCCESS(ZydisDecoderDecodeInstruction(&zd, nullptr, buf, n, &zi))) {
    text = disassemble(buf, zi.length, rip, cpu.mode() == CpuMode::Long64, cpu.mode() == CpuMode::Prot32);
  }
  return fmt::format("rip {:#x}: {}", rip, text);
}

void Tracer::before(EmuCpu& cpu, const uint8_t* bytes, unsigned len) {
  for (unsigned i = 0; i < 16; ++i) gpr_[i] = cpu.s.gpr[i];
  for (unsigned i = 0; i < 16; ++i) xmm_[i] = cpu.s.xmm[i];
  rflags_ = cpu.s.flags.rflags();
  cr0_ = cpu.s.cr0;
  cr3_ = cpu.s.cr3;
  cr4_ = cpu.s.cr4;
  cs_ = cpu.s.seg[CS].selector;
  line_ = fmt::format("{:016x}  {}", cpu.s.rip,
                      disassemble(bytes, len, cpu.s.rip, cpu.mode() == CpuMode::Long64, cpu.mode() == CpuMode::Prot32));
}

void Tracer::after(EmuCpu& cpu) {
  std::string changes;
  for (unsigned i = 0; i < 16; ++i) {
    if (cpu.s.gpr[i] != gpr_[i]) changes += fmt::format(" {}={:#x}", kGprNames[i], cpu.s.gpr[i]);
  }
  for (unsigned i = 0; i < 16; ++i) {
    if (cpu.s.xmm[i].lo != xmm_[i].lo || cpu.s.xmm[i].hi != xmm_[i].hi)
      changes += fmt::format(" xmm{}={:016x}{:016x}", i, cpu.s.xmm[i].hi, cpu.s.xmm[i].lo);
  }
  uint64_t rflags = cpu.s.flags.rflags();
  if (rflags != rflags_) changes += fmt::format(" rflags={:#x}", rflags);
  if (cpu.s.cr0 != cr0_) changes += fmt::format(" cr0={:#x}", cpu.s.cr0);
  if (cpu.s.cr3 != cr3_) changes += fmt::format(" cr3={:#x}", cpu.s.cr3);
  if (cpu.s.cr4 != cr4_) changes += fmt::format(" cr4={:#x}", cpu.s.cr4);
  if (cpu.s.seg[CS].selector != cs_) changes += fmt::format(" cs={:#x}", cpu.s.seg[CS].selector);
  if (changes.empty()) {
    std::fprintf(out_, "%s\n", line_.c_str());
  } else {
    line_.resize(line_.size() < 72 ? 72 : line_.size() + 1, ' ');
    std::fprintf(out_, "%s|%s\n", line_.c_str(), changes.c_str());
  }
}

void Tracer::exception(EmuCpu& cpu, uint8_t vector, bool has_error, uint32_t error) {
  if (has_error) {
    std::fprintf(out_, "%016llx  ** %s (vector %u) error %#x cr2 %#llx\n", (unsigned long long)cpu.s.rip,
                 vector_name(vector), vector, error, (unsigned long long)cpu.s.cr2);
  } else {
    std::fprintf(out_, "%016llx  ** %s (vector %u)\n", (unsigned long long)cpu.s.rip, vector_name(vector), vector);
  }
}

}  // namespace vireo::emu
