// String instructions: MOVS CMPS STOS LODS SCAS INS OUTS, with REP/REPE/REPNE
// (SDM Vol. 2 "REP/REPE/REPZ/REPNE/REPNZ"). A long REP runs in slices: after
// kSlice iterations the instruction is left unfinished (RIP stays on it, the
// registers say how far it got) so interrupts and kick() are seen; this is what
// hardware does too.
#include <algorithm>

#include "cpu/emu/exec_common.h"

namespace vireo::emu {
namespace {

constexpr uint64_t kSlice = 1u << 16;

struct StringRegs {
  EmuCpu& c;
  const DecodedInsn& d;
  unsigned asz;
  uint64_t amask;
  int64_t step;
  StringRegs(EmuCpu& cpu, const DecodedInsn& insn, unsigned size)
      : c(cpu), d(insn), asz(insn.asize), amask(size_mask(insn.asize)),
        step((cpu.s.flags.bits & rf::DF) ? -int64_t(size) : int64_t(size)) {}
  uint64_t si() const { return c.s.gpr[RSI] & amask; }
  uint64_t di() const { return c.s.gpr[RDI] & amask; }
  uint64_t cx() const { return c.s.gpr[RCX] & amask; }
  void set_si(uint64_t v) { c.set_reg(RSI, asz, v & amask, true); }
  void set_di(uint64_t v) { c.set_reg(RDI, asz, v & amask, true); }
  void set_cx(uint64_t v) { c.set_reg(RCX, asz, v & amask, true); }
  uint64_t src_la() const { return c.linear(d.seg, si()); }
  uint64_t dst_la() const { return c.linear(ES, di()); }
  void advance_si(uint64_t n = 1) { set_si(si() + uint64_t(step) * n); }
  void advance_di(uint64_t n = 1) { set_di(di() + uint64_t(step) * n); }
};

// Runs body() once, or under REP while rCX != 0 (body returns false to stop early:
// the REPE/REPNE termination conditions).
template <typename Body>
void repeat(EmuCpu& c, const DecodedInsn& d, StringRegs& r, Body body) {
  if (!(d.prefixes & (kPrefixRep | kPrefixRepne))) {
    body();
    return;
  }
  // With TF set, each iteration is one step that ends in a single-step trap, RIP
  // still on the instruction while rCX is not zero (SDM Vol. 3 17.3.1.4).
  const uint64_t slice = (c.s.flags.bits & rf::TF) ? 1 : kSlice;
  for (uint64_t n = 0; n < slice; ++n) {
    if (r.cx() == 0) return;
    bool go_on = body();
    r.set_cx(r.cx() - 1);
    if (!go_on || r.cx() == 0) return;
  }
  c.next_rip = c.s.rip;  // not finished: execute this instruction again
}

// Bulk REP MOVS / REP STOS with DF = 0 inside RAM pages: a page-sized memmove/memset
// per step, with the exact register updates of the element loop.
bool bulk_forward(EmuCpu& c, StringRegs& r, unsigned size, bool is_movs) {
  uint64_t count = r.cx();
  if (count == 0 || r.step < 0) return false;
  uint64_t dla = r.dst_la(), sla = is_movs ? r.src_la() : 0;
  unsigned doff = dla & 0xfff, soff = sla & 0xfff;
  uint64_t room = (4096 - doff) / size;
  if (is_movs) room = std::min<uint64_t>(room, (4096 - soff) / size);
  uint64_t n = std::min(count, room);
  if (n < 2) return false;
  uint8_t* dst = c.writable_host_ptr(dla, unsigned(n * size));
  if (!dst) return false;
  if (is_movs) {
    const TlbEntry& e = c.translate(sla, Access::Read, c.user());
    if (!e.host) return false;
    const uint8_t* src = e.host + soff;
    // Overlap where the destination trails the source by less than the length
    // replicates what earlier elements wrote, one element (not one byte) at a time,
    // as the CPU does; memmove would not.
    if (dst > src && dst < src + n * size) {
      for (uint64_t i = 0; i < n; ++i) EmuCpu::store_host(dst + i * size, size, EmuCpu::load_host(src + i * size, size));
    } else {
      std::memmove(dst, src, n * size);
    }
    r.advance_si(n);
  } else {
    uint64_t v = c.s.gpr[RAX];
    if (size == 1) {
      std::memset(dst, int(v & 0xff), n);
    } else {
      for (uint64_t i = 0; i < n; ++i) EmuCpu::store_host(dst + i * size, size, v);
    }
  }
  r.advance_di(n);
  r.set_cx(count - n);
  return true;
}

void exec_movs(EmuCpu& c, const DecodedInsn& d) {
  unsigned size = byte_or_v(d);
  StringRegs r(c, d, size);
  if ((d.has(kPrefixRep) || d.has(kPrefixRepne)) && !(c.s.flags.bits & rf::TF)) {
    for (uint64_t slices = 0; slices < 64 && bulk_forward(c, r, size, true); ++slices) {
    }
    if (r.cx() == 0) return;
  }
  repeat(c, d, r, [&] {
    c.write(r.dst_la(), size, c.read(r.src_la(), size));
    r.advance_si();
    r.advance_di();
    return true;
  });
}

void exec_stos(EmuCpu& c, const DecodedInsn& d) {
  unsigned size = byte_or_v(d);
  StringRegs r(c, d, size);
  if ((d.has(kPrefixRep) || d.has(kPrefixRepne)) && !(c.s.flags.bits & rf::TF)) {
    for (uint64_t slices = 0; slices < 64 && bulk_forward(c, r, size, false); ++slices) {
    }
    if (r.cx() == 0) return;
  }
  repeat(c, d, r, [&] {
    c.write(r.dst_la(), size, c.s.gpr[RAX] & size_mask(size));
    r.advance_di();
    return true;
  });
}

void exec_lods(EmuCpu& c, const DecodedInsn& d) {
  unsigned size = byte_or_v(d);
  StringRegs r(c, d, size);
  repeat(c, d, r, [&] {
    c.set_reg(RAX, size, c.read(r.src_la(), size), true);
    r.advance_si();
    return true;
  });
}

// REPE continues while ZF = 1, REPNE while ZF = 0 (F3 / F2).
inline bool rep_continues(EmuCpu& c, const DecodedInsn& d) {
  if (!(d.prefixes & (kPrefixRep | kPrefixRepne))) return true;
  return d.last_rep == 0xf3 ? c.s.flags.zf() : !c.s.flags.zf();
}

void exec_cmps(EmuCpu& c, const DecodedInsn& d) {
  unsigned size = byte_or_v(d);
  StringRegs r(c, d, size);
  repeat(c, d, r, [&] {
    uint64_t a = c.read(r.src_la(), size);
    uint64_t b = c.read(r.dst_la(), size);
    c.s.flags.set_lazy(FlagOp::Sub, size, a, b, (a - b) & size_mask(size));
    r.advance_si();
    r.advance_di();
    return rep_continues(c, d);
  });
}

void exec_scas(EmuCpu& c, const DecodedInsn& d) {
  unsigned size = byte_or_v(d);
  StringRegs r(c, d, size);
  repeat(c, d, r, [&] {
    uint64_t a = c.s.gpr[RAX] & size_mask(size);
    uint64_t b = c.read(r.dst_la(), size);
    c.s.flags.set_lazy(FlagOp::Sub, size, a, b, (a - b) & size_mask(size));
    r.advance_di();
    return rep_continues(c, d);
  });
}

void exec_ins(EmuCpu& c, const DecodedInsn& d) {
  unsigned size = (d.opcode() & 1) ? (d.osize == 2 ? 2 : 4) : 1;
  c.check_io_privilege();
  StringRegs r(c, d, size);
  repeat(c, d, r, [&] {
    uint64_t la = r.dst_la();
    c.translate(la, Access::Write, c.user());  // fault before the port is read
    c.write(la, size, c.port_in(uint16_t(c.s.gpr[RDX]), size));
    r.advance_di();
    return true;
  });
}

void exec_outs(EmuCpu& c, const DecodedInsn& d) {
  unsigned size = (d.opcode() & 1) ? (d.osize == 2 ? 2 : 4) : 1;
  c.check_io_privilege();
  StringRegs r(c, d, size);
  repeat(c, d, r, [&] {
    c.port_out(uint16_t(c.s.gpr[RDX]), size, c.read(r.src_la(), size));
    r.advance_si();
    return true;
  });
}

}  // namespace

void register_string(HandlerTable& t) {
  set_handler(t, kMapOne, 0xa4, exec_movs);
  set_handler(t, kMapOne, 0xa5, exec_movs);
  set_handler(t, kMapOne, 0xa6, exec_cmps);
  set_handler(t, kMapOne, 0xa7, exec_cmps);
  set_handler(t, kMapOne, 0xaa, exec_stos);
  set_handler(t, kMapOne, 0xab, exec_stos);
  set_handler(t, kMapOne, 0xac, exec_lods);
  set_handler(t, kMapOne, 0xad, exec_lods);
  set_handler(t, kMapOne, 0xae, exec_scas);
  set_handler(t, kMapOne, 0xaf, exec_scas);
  set_handler(t, kMapOne, 0x6c, exec_ins);
  set_handler(t, kMapOne, 0x6d, exec_ins);
  set_handler(t, kMapOne, 0x6e, exec_outs);
  set_handler(t, kMapOne, 0x6f, exec_outs);
}

}  // namespace vireo::emu
