// The model-specific registers the emulated CPU implements (RDMSR/WRMSR). Anything
// else raises #GP(0), which guests probe for with exception fixups. With an emulated
// local APIC attached, IA32_APIC_BASE and IA32_TSC_DEADLINE are the APIC's.
#include "cpu/emu/emu_cpu.h"
#include "devices/local_apic.h"

namespace vireo::emu {

namespace msr {
constexpr uint32_t TSC = 0x10, APIC_BASE = 0x1b, TSC_ADJUST = 0x3b, BIOS_SIGN_ID = 0x8b, SYSENTER_CS = 0x174,
                   SYSENTER_ESP = 0x175, SYSENTER_EIP = 0x176, MISC_ENABLE = 0x1a0, PAT = 0x277,
                   EFER = 0xc0000080, STAR = 0xc0000081, LSTAR = 0xc0000082, CSTAR = 0xc0000083,
                   SFMASK = 0xc0000084, FS_BASE = 0xc0000100, GS_BASE = 0xc0000101,
                   KERNEL_GS_BASE = 0xc0000102, TSC_AUX = 0xc0000103;
}

bool EmuCpu::read_msr(uint32_t index, uint64_t& v) {
  if (local_apic_ && (index == LocalApic::kMsrApicBase || index == LocalApic::kMsrTscDeadline))
    return local_apic_->read_msr(index, v);
  switch (index) {
    case msr::TSC: v = read_tsc(); return true;
    case msr::TSC_ADJUST: v = uint64_t(s.tsc_adjust); return true;
    case msr::APIC_BASE:
      if (!apic_present) return false;
      v = s.apic_base | (index_ == 0 ? 0x100 : 0);
      return true;
    case msr::BIOS_SIGN_ID: v = 0; return true;
    case msr::SYSENTER_CS: v = s.sysenter_cs; return true;
    case msr::SYSENTER_ESP: v = s.sysenter_esp; return true;
    case msr::SYSENTER_EIP: v = s.sysenter_eip; return true;
    case msr::MISC_ENABLE: v = s.misc_enable; return true;
    case msr::PAT: v = s.pat; return true;
    case msr::EFER: v = s.efer; return true;
    case msr::STAR: v = s.star; return true;
    case msr::LSTAR: v = s.lstar; return true;
    case msr::CSTAR: v = s.cstar; return true;
    case msr::SFMASK: v = s.sfmask; return true;
    case msr::FS_BASE: v = s.seg[FS].base; return true;
    case msr::GS_BASE: v = s.seg[GS].base; return true;
    case msr::KERNEL_GS_BASE: v = s.kernel_gs_base; return true;
    case msr::TSC_AUX: v = s.tsc_aux; return true;
    default: return false;
  }
}

bool EmuCpu::write_msr(uint32_t index, uint64_t v) {
  if (local_apic_ && (index == LocalApic::kMsrApicBase || index == LocalApic::kMsrTscDeadline))
    return local_apic_->write_msr(index, v);
  auto canonical_or_fail = [&](uint64_t a) { return is_canonical(a); };
  switch (index) {
    // A write to the TSC moves IA32_TSC_ADJUST by the same amount, and a write to
    // IA32_TSC_ADJUST moves the TSC (SDM Vol. 3 17.17.3).
    case msr::TSC: {
      int64_t delta = int64_t(v - read_tsc());
      s.tsc_offset += delta;
      s.tsc_adjust += delta;
      return true;
    }
    case msr::TSC_ADJUST: {
      int64_t delta = int64_t(v) - s.tsc_adjust;
      s.tsc_offset += delta;
      s.tsc_adjust = int64_t(v);
      return true;
    }
    case msr::APIC_BASE:
      if (!apic_present) return false;
      s.apic_base = v & ~0x100ull;
      return true;
    case msr::BIOS_SIGN_ID: return true;
    case msr::SYSENTER_CS: s.sysenter_cs = v & 0xffff; return true;
    case msr::SYSENTER_ESP:
      if (!canonical_or_fail(v)) return false;
      s.sysenter_esp = v;
      return true;
    case msr::SYSENTER_EIP:
      if (!canonical_or_fail(v)) return false;
      s.sysenter_eip = v;
      return true;
    case msr::MISC_ENABLE: s.misc_enable = v; return true;
    case msr::PAT:
      // Each entry must be a valid memory type: 0 1 4 5 6 7 (SDM Vol. 3 11.12.2).
      for (unsigned i = 0; i < 8; ++i) {
        unsigned t = (v >> (8 * i)) & 0xff;
        if (t == 2 || t == 3 || t > 7) return false;
      }
      s.pat = v;
      return true;
    case msr::EFER: write_efer(v); return true;
    case msr::STAR: s.star = v; return true;
    case msr::LSTAR:
      if (!canonical_or_fail(v)) return false;
      s.lstar = v;
      return true;
    case msr::CSTAR:
      if (!canonical_or_fail(v)) return false;
      s.cstar = v;
      return true;
    case msr::SFMASK: s.sfmask = v & 0xffffffff; return true;
    case msr::FS_BASE:
    case msr::GS_BASE:
      if (!canonical_or_fail(v)) return false;
      s.seg[index == msr::FS_BASE ? FS : GS].base = v;
      update_mode();
      return true;
    case msr::KERNEL_GS_BASE:
      if (!canonical_or_fail(v)) return false;
      s.kernel_gs_base = v;
      return true;
    case msr::TSC_AUX: s.tsc_aux = v & 0xffffffff; return true;
    default: return false;
  }
}

}  // namespace vireo::emu
