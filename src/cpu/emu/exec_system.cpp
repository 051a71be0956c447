// System instructions: CPUID, RDMSR/WRMSR, RDTSC(P), MOV CR/DR, LGDT LIDT SGDT SIDT
// LLDT LTR SLDT STR SMSW LMSW, INVLPG, HLT, CLI/STI, CLTS, INVD/WBINVD, SYSCALL/SYSRET,
// SWAPGS, IN/OUT, FXSAVE/FXRSTOR, LDMXCSR/STMXCSR, fences, CLFLUSH, UD0/UD1/UD2.
#include "cpu/emu/cpuid_policy.h"
#include "cpu/emu/exec_common.h"
#include "devices/local_apic.h"

namespace vireo::emu {
namespace {

void exec_cpuid(EmuCpu& c, const DecodedInsn&) {
  CpuidContext ctx{c.index(), c.machine().num_cpus, c.apic_present};
  CpuidResult r = cpuid_policy(uint32_t(c.s.gpr[RAX]), uint32_t(c.s.gpr[RCX]), ctx);
  c.s.gpr[RAX] = r.eax;
  c.s.gpr[RBX] = r.ebx;
  c.s.gpr[RCX] = r.ecx;
  c.s.gpr[RDX] = r.edx;
}

void exec_rdmsr(EmuCpu& c, const DecodedInsn&) {
  c.require_cpl0();
  uint64_t v;
  if (!c.read_msr(uint32_t(c.s.gpr[RCX]), v)) c.fault(kGP, 0);
  c.s.gpr[RAX] = v & 0xffffffff;
  c.s.gpr[RDX] = v >> 32;
}

void exec_wrmsr(EmuCpu& c, const DecodedInsn&) {
  c.require_cpl0();
  uint64_t v = (c.s.gpr[RDX] << 32) | (c.s.gpr[RAX] & 0xffffffff);
  if (!c.write_msr(uint32_t(c.s.gpr[RCX]), v)) c.fault(kGP, 0);
}

void exec_rdtsc(EmuCpu& c, const DecodedInsn&) {
  if ((c.s.cr4 & (1u << 2)) && c.s.cpl != 0) c.fault(kGP, 0);  // CR4.TSD
  uint64_t t = c.read_tsc();
  c.s.gpr[RAX] = t & 0xffffffff;
  c.s.gpr[RDX] = t >> 32;
}

void exec_rdpmc(EmuCpu& c, const DecodedInsn&) { c.fault(kGP, 0); }  // no performance counters

// MOV to/from control registers (SDM Vol. 2 "MOV—Move to/from Control Registers").
void exec_mov_cr(EmuCpu& c, const DecodedInsn& d) {
  c.require_cpl0();
  unsigned size = c.mode() == CpuMode::Long64 ? 8 : 4;
  bool to_cr = d.opcode() == 0x22;
  unsigned cr = d.reg;
  if (!to_cr) {
    uint64_t v;
    switch (cr) {
      case 0: v = c.s.cr0; break;
      case 2: v = c.s.cr2; break;
      case 3: v = c.s.cr3; break;
      case 4: v = c.s.cr4; break;
      case 8: v = c.local_apic() ? (c.local_apic()->tpr() >> 4) : c.s.cr8; break;
      default: c.fault(kUD);
    }
    c.set_reg(d.rm, size, v, true);
    return;
  }
  uint64_t v = c.s.gpr[d.rm] & size_mask(size);
  switch (cr) {
    case 0: c.write_cr0(v); break;
    case 2: c.s.cr2 = v; break;
    case 3: c.write_cr3(v); break;
    case 4: c.write_cr4(v); break;
    case 8:
      if (v & ~0xfull) c.fault(kGP, 0);
      c.s.cr8 = v;
      // CR8 is the APIC's TPR[7:4] (SDM Vol. 3 10.8.6.1).
      if (c.local_apic()) c.local_apic()->set_tpr(static_cast<uint8_t>(v << 4));
      break;
    default: c.fault(kUD);
  }
}

void exec_mov_dr(EmuCpu& c, const DecodedInsn& d) {
  c.require_cpl0();
  unsigned dr = d.reg;
  if (dr > 7) c.fault(kUD);
  if (dr == 4 || dr == 5) {
    if (c.s.cr4 & (1u << 3)) c.fault(kUD);  // CR4.DE
    dr += 2;
  }
  unsigned size = c.mode() == CpuMode::Long64 ? 8 : 4;
  if (d.opcode() == 0x21) {
    c.set_reg(d.rm, size, c.s.dr[dr], true);
  } else {
    uint64_t v = c.s.gpr[d.rm] & size_mask(size);
    if (dr == 6) v = (v & 0xf00f) | 0xffff0ff0;
    if (dr == 7) v = (v & 0xffff2fff) | 0x400;
    c.s.dr[dr] = v;
  }
}

// Loads TR or LDTR from a 16-byte system descriptor in long mode (8 bytes otherwise).
Segment load_system_descriptor(EmuCpu& c, uint16_t sel, unsigned want_type) {
  if (sel & 4) c.fault(kGP, sel & 0xfffc);
  uint64_t high = 0;
  uint64_t low = c.read_descriptor(sel, c.long_mode() ? &high : nullptr);
  Segment sg = EmuCpu::parse_descriptor(low, sel);
  if (sg.s || sg.type != want_type) c.fault(kGP, sel & 0xfffc);
  if (!sg.present) c.fault(kNP, sel & 0xfffc);
  if (c.long_mode()) sg.base |= (high & 0xffffffff) << 32;
  return sg;
}

void exec_group6(EmuCpu& c, const DecodedInsn& d) {  // 0F 00
  unsigned r = (d.modrm >> 3) & 7;
  switch (r) {
    case 0:  // SLDT
    case 1: {  // STR
      uint16_t sel = r == 0 ? c.s.ldt.selector : c.s.tr.selector;
      if (d.mod == 3) c.set_reg(d, d.rm, d.osize, sel);
      else c.write(c.operand_address(d), 2, sel);
      return;
    }
    case 2: {  // LLDT
      c.require_cpl0();
      uint16_t sel = uint16_t(c.read_rm(d, 2));
      if ((sel & ~3u) == 0) {
        c.s.ldt = Segment{};
        c.s.ldt.unusable = true;
        c.s.ldt.selector = sel;
        return;
      }
      c.s.ldt = load_system_descriptor(c, sel, 2);
      return;
    }
    case 3: {  // LTR: an available TSS becomes busy (SDM Vol. 2 "LTR")
      c.require_cpl0();
      uint16_t sel = uint16_t(c.read_rm(d, 2));
      if ((sel & ~3u) == 0) c.fault(kGP, 0);
      Segment tss = load_system_descriptor(c, sel, c.long_mode() ? 9 : 9);
      uint64_t la = c.s.gdt.base + (sel & ~7u) + 5;
      c.write_sys(la, 1, c.read_sys(la, 1) | 0x2);
      tss.type |= 2;
      c.s.tr = tss;
      return;
    }
    case 4:    // VERR
    case 5: {  // VERW: ZF = the segment is readable/writable at CPL and RPL (SDM Vol. 2 "VERR/VERW")
      uint16_t sel = uint16_t(c.read_rm(d, 2));
      bool ok = false;
      uint32_t limit = (sel & 4) ? c.s.ldt.limit : c.s.gdt.limit;
      if ((sel & ~3u) != 0 && (sel | 7u) <= limit && !((sel & 4) && c.s.ldt.unusable)) {
        Segment sg = EmuCpu::parse_descriptor(c.read_descriptor(sel), sel);
        bool code = sg.type & 8;
        bool conforming = code && (sg.type & 4);
        bool privileged_ok = conforming || (sg.dpl >= c.s.cpl && sg.dpl >= (sel & 3));
        bool access_ok = r == 4 ? (!code || (sg.type & 2)) : (!code && (sg.type & 2));
        ok = sg.s && privileged_ok && access_ok;
      }
      c.s.flags.set_arith(rf::ZF, ok ? rf::ZF : 0);
      return;
    }
    default: c.fault(kUD);
  }
}

void exec_group7(EmuCpu& c, const DecodedInsn& d) {  // 0F 01
  unsigned r = (d.modrm >> 3) & 7;
  bool m64 = c.mode() == CpuMode::Long64;
  if (d.mod == 3) {
    switch (d.modrm) {
      case 0xf8: {  // SWAPGS
        if (!m64) c.fault(kUD);
        c.require_cpl0();
        std::swap(c.s.seg[GS].base, c.s.kernel_gs_base);
        c.update_mode();
        return;
      }
      case 0xf9: {  // RDTSCP
        exec_rdtsc(c, d);
        c.s.gpr[RCX] = c.s.tsc_aux;
        return;
      }
      default: break;
    }
    if (r == 4) {  // SMSW r
      c.set_reg(d, d.rm, d.osize, c.s.cr0 & size_mask(d.osize));
      return;
    }
    if (r == 6) {  // LMSW r
      c.require_cpl0();
      uint64_t v = c.reg(d, d.rm, 2);
      c.write_cr0((c.s.cr0 & ~0xeull) | (v & 0xf) | (c.s.cr0 & 1));
      return;
    }
    c.fault(kUD);  // MONITOR/MWAIT/XGETBV/CLAC/STAC/... are not offered
  }
  uint64_t la = c.operand_address(d);
  switch (r) {
    case 0:  // SGDT
    case 1: {  // SIDT
      const DescriptorTable& t = r == 0 ? c.s.gdt : c.s.idt;
      c.write(la, 2, t.limit);
      c.write(la + 2, m64 ? 8 : 4, t.base & (m64 ? ~0ull : 0xffffffffull));
      return;
    }
    case 2:  // LGDT
    case 3: {  // LIDT
      c.require_cpl0();
      uint16_t limit = uint16_t(c.read(la, 2));
      uint64_t base = c.read(la + 2, m64 ? 8 : 4);
      if (!m64 && d.osize == 2) base &= 0xffffff;
      if (m64 && !c.is_canonical(base)) c.fault(kGP, 0);
      DescriptorTable& t = r == 2 ? c.s.gdt : c.s.idt;
      t.base = base;
      t.limit = limit;
      return;
    }
    case 4: c.write(la, 2, c.s.cr0 & 0xffff); return;  // SMSW m16
    case 6: {  // LMSW m16
      c.require_cpl0();
      uint64_t v = c.read(la, 2);
      c.write_cr0((c.s.cr0 & ~0xeull) | (v & 0xf) | (c.s.cr0 & 1));
      return;
    }
    case 7:  // INVLPG
      c.require_cpl0();
      c.flush_tlb_page(la);
      return;
    default: c.fault(kUD);
  }
}

void exec_hlt(EmuCpu& c, const DecodedInsn&) {
  c.require_cpl0();
  c.do_hlt();
}

void exec_cli_sti(EmuCpu& c, const DecodedInsn& d) {
  unsigned iopl = (c.s.flags.bits >> 12) & 3;
  if (c.s.cpl > iopl) c.fault(kGP, 0);
  if (d.opcode() == 0xfa) {
    c.s.flags.bits &= ~rf::IF;
    return;
  }
  if (!(c.s.flags.bits & rf::IF)) {
    c.s.flags.bits |= rf::IF;
    c.interrupt_shadow = true;  // interrupts wait one more instruction (SDM Vol. 2 "STI")
  }
  c.request_poll();
}

void exec_clts(EmuCpu& c, const DecodedInsn&) {
  c.require_cpl0();
  c.s.cr0 &= ~x86::CR0_TS;
}

void exec_cache_flush(EmuCpu& c, const DecodedInsn&) { c.require_cpl0(); }  // INVD, WBINVD

Segment flat_segment(uint16_t selector, uint8_t type, uint8_t dpl, bool l, bool db) {
  Segment sg;
  sg.selector = selector;
  sg.base = 0;
  sg.limit = 0xffffffff;
  sg.type = type;
  sg.s = true;
  sg.dpl = dpl;
  sg.present = true;
  sg.l = l;
  sg.db = db;
  sg.g = true;
  sg.unusable = false;
  return sg;
}

// SYSCALL (SDM Vol. 2 "SYSCALL"): 64-bit mode only on Intel CPUs.
void exec_syscall(EmuCpu& c, const DecodedInsn&) {
  if (!(c.s.efer & x86::EFER_SCE) || c.mode() != CpuMode::Long64) c.fault(kUD);
  uint64_t rflags = c.s.flags.rflags();
  c.s.gpr[RCX] = c.next_rip;
  c.s.gpr[R11] = rflags & ~rf::RF;
  c.s.flags.set_rflags(rflags & ~(c.s.sfmask | rf::RF));
  uint16_t sel = uint16_t(c.s.star >> 32);
  c.s.seg[SS] = flat_segment(uint16_t((sel + 8) & 0xfffc), 3, 0, false, true);
  c.set_cs(flat_segment(sel & 0xfffc, 11, 0, true, false), 0);
  c.next_rip = c.s.lstar;
}

// SYSRET (SDM Vol. 2 "SYSRET").
void exec_sysret(EmuCpu& c, const DecodedInsn& d) {
  if (!(c.s.efer & x86::EFER_SCE) || c.mode() != CpuMode::Long64) c.fault(kUD);
  c.require_cpl0();
  uint16_t sel = uint16_t(c.s.star >> 48);
  uint64_t target;
  if (d.osize == 8) {
    if (!c.is_canonical(c.s.gpr[RCX])) c.fault(kGP, 0);
    target = c.s.gpr[RCX];
    c.s.flags.set_rflags((c.s.gpr[R11] & 0x3c7fd7) | 2);
    c.s.seg[SS] = flat_segment(uint16_t((sel + 8) | 3), 3, 3, false, true);
    c.set_cs(flat_segment(uint16_t((sel + 16) | 3), 11, 3, true, false), 3);
  } else {
    target = c.s.gpr[RCX] & 0xffffffff;
    c.s.flags.set_rflags((c.s.gpr[R11] & 0x3c7fd7) | 2);
    c.s.seg[SS] = flat_segment(uint16_t((sel + 8) | 3), 3, 3, false, true);
    c.set_cs(flat_segment(uint16_t(sel | 3), 11, 3, false, true), 3);
  }
  c.next_rip = target;
  c.request_poll();
}

// IN/OUT: E4 E5 E6 E7 (imm8 port), EC ED EE EF (DX).
void exec_in_out(EmuCpu& c, const DecodedInsn& d) {
  c.check_io_privilege();
  uint8_t op = d.opcode();
  unsigned size = (op & 1) ? (d.osize == 2 ? 2 : 4) : 1;
  uint16_t port = op >= 0xec ? uint16_t(c.s.gpr[RDX]) : uint16_t(d.imm & 0xff);
  bool out = op & 2;
  if (out) {
    c.port_out(port, size, c.s.gpr[RAX] & size_mask(size));
  } else {
    c.set_reg(RAX, size, c.port_in(port, size), true);
  }
}

void exec_ud(EmuCpu& c, const DecodedInsn&) { c.fault(kUD); }

// SSE state availability (SDM Vol. 1 13.1 / Vol. 3 13.1.4).
void check_sse(EmuCpu& c) {
  if ((c.s.cr0 & x86::CR0_EM) || !(c.s.cr4 & x86::CR4_OSFXSR)) c.fault(kUD);
  if (c.s.cr0 & x86::CR0_TS) c.fault(kNM);
}

constexpr uint32_t kMxcsrMask = 0xffbf;  // DAZ is not offered

// FXSAVE / FXRSTOR image (SDM Vol. 1 Table 10-2). The x87 registers are not
// modelled, so their slots are zero and every tag is empty.
void exec_fxsave(EmuCpu& c, const DecodedInsn& d, bool restore) {
  if ((c.s.cr0 & x86::CR0_EM)) c.fault(kUD);
  if (c.s.cr0 & x86::CR0_TS) c.fault(kNM);
  uint64_t la = c.operand_address(d);
  if (la & 15) c.fault(kGP, 0);
  unsigned nxmm = c.mode() == CpuMode::Long64 ? 16 : 8;
  uint8_t img[512];
  if (restore) {
    c.read_bytes(la, img, 512);
    uint32_t mxcsr;
    std::memcpy(&mxcsr, img + 24, 4);
    if (mxcsr & ~kMxcsrMask) c.fault(kGP, 0);
    std::memcpy(&c.s.fcw, img + 0, 2);
    std::memcpy(&c.s.fsw, img + 2, 2);
    c.s.ftw = img[4];
    c.s.mxcsr = mxcsr;
    if (c.s.cr4 & x86::CR4_OSFXSR) {
      for (unsigned i = 0; i < nxmm; ++i) {
        std::memcpy(&c.s.xmm[i].lo, img + 160 + 16 * i, 8);
        std::memcpy(&c.s.xmm[i].hi, img + 168 + 16 * i, 8);
      }
    }
    return;
  }
  c.read_bytes(la, img, 512);  // reserved areas keep their contents
  std::memcpy(img + 0, &c.s.fcw, 2);
  std::memcpy(img + 2, &c.s.fsw, 2);
  img[4] = c.s.ftw;
  img[5] = 0;
  std::memset(img + 6, 0, 18);  // FOP, FIP, FDP
  std::memcpy(img + 24, &c.s.mxcsr, 4);
  uint32_t mask = kMxcsrMask;
  std::memcpy(img + 28, &mask, 4);
  std::memset(img + 32, 0, 128);
  if (c.s.cr4 & x86::CR4_OSFXSR) {
    for (unsigned i = 0; i < nxmm; ++i) {
      std::memcpy(img + 160 + 16 * i, &c.s.xmm[i].lo, 8);
      std::memcpy(img + 168 + 16 * i, &c.s.xmm[i].hi, 8);
    }
  }
  c.write_bytes(la, img, 512);
}

void exec_group15(EmuCpu& c, const DecodedInsn& d) {  // 0F AE
  unsigned r = (d.modrm >> 3) & 7;
  if (d.mod == 3) {
    if (d.prefixes & (kPrefixRep | kPrefixRepne | kPrefixOpSize)) c.fault(kUD);  // RDFSBASE...: not offered
    if (r == 5 || r == 6 || r == 7) {  // LFENCE MFENCE SFENCE
      __atomic_thread_fence(__ATOMIC_SEQ_CST);
      return;
    }
    c.fault(kUD);
  }
  if (d.prefixes & (kPrefixRep | kPrefixRepne)) c.fault(kUD);
  switch (r) {
    case 0: exec_fxsave(c, d, false); return;
    case 1: exec_fxsave(c, d, true); return;
    case 2: {  // LDMXCSR
      check_sse(c);
      uint32_t v = uint32_t(c.read(c.operand_address(d), 4));
      if (v & ~kMxcsrMask) c.fault(kGP, 0);
      c.s.mxcsr = v;
      return;
    }
    case 3:  // STMXCSR
      check_sse(c);
      c.write(c.operand_address(d), 4, c.s.mxcsr);
      return;
    case 7:  // CLFLUSH (66: CLFLUSHOPT, not offered)
      if (d.has(kPrefixOpSize)) c.fault(kUD);
      c.translate(c.operand_address(d), Access::Read, c.user());
      return;
    default: c.fault(kUD);  // XSAVE family: not offered
  }
}

}  // namespace

void register_system(HandlerTable& t) {
  set_handler(t, kMap0F, 0xa2, exec_cpuid);
  set_handler(t, kMap0F, 0x32, exec_rdmsr);
  set_handler(t, kMap0F, 0x30, exec_wrmsr);
  set_handler(t, kMap0F, 0x31, exec_rdtsc);
  set_handler(t, kMap0F, 0x33, exec_rdpmc);
  set_handler(t, kMap0F, 0x20, exec_mov_cr);
  set_handler(t, kMap0F, 0x22, exec_mov_cr);
  set_handler(t, kMap0F, 0x21, exec_mov_dr);
  set_handler(t, kMap0F, 0x23, exec_mov_dr);
  set_handler(t, kMap0F, 0x00, exec_group6);
  set_handler(t, kMap0F, 0x01, exec_group7);
  set_handler(t, kMapOne, 0xf4, exec_hlt);
  set_handler(t, kMapOne, 0xfa, exec_cli_sti);
  set_handler(t, kMapOne, 0xfb, exec_cli_sti);
  set_handler(t, kMap0F, 0x06, exec_clts);
  set_handler(t, kMap0F, 0x08, exec_cache_flush);
  set_handler(t, kMap0F, 0x09, exec_cache_flush);
  set_handler(t, kMap0F, 0x05, exec_syscall);
  set_handler(t, kMap0F, 0x07, exec_sysret);
  for (unsigned op : {0xe4u, 0xe5u, 0xe6u, 0xe7u, 0xecu, 0xedu, 0xeeu, 0xefu}) set_handler(t, kMapOne, op, exec_in_out);
  set_handler(t, kMap0F, 0x0b, exec_ud);
  set_handler(t, kMap0F, 0xb9, exec_ud);
  set_handler(t, kMap0F, 0xff, exec_ud);
  set_handler(t, kMap0F, 0x34, exec_ud);  // SYSENTER/SYSEXIT: SEP is not offered
  set_handler(t, kMap0F, 0x35, exec_ud);
  set_handler(t, kMap0F, 0xae, exec_group15);
}

}  // namespace vireo::emu
