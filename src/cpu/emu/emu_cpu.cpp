#include "cpu/emu/emu_cpu.h"

#include <time.h>

#include "base/error.h"
#include "base/log.h"
#include "bus/io_bus.h"
#include "cpu/emu/trace.h"
#include "memory/guest_memory.h"

namespace vireo::emu {

// The instruction step() executes: decoded from its bytes (which may span two pages).
// An instruction decoded by fetch(), kept (by guest-physical address and mode) for the
// next time step() runs it, which is used again only while memory holds its bytes.
struct EmuCpu::FetchedInsn {
  uint8_t bytes[16] = {};
  Handler handler = nullptr;
  DecodedInsn d;
  uint64_t pa = ~0ull;  // where it was decoded from; ~0: not kept
  CpuMode mode = CpuMode::Long64;
};
constexpr unsigned kFetchCache = 256;  // direct-mapped entries; one more for page-crossing instructions

namespace {
// Instructions between interrupt/stop polls (at block ends; translated loops count
// them down too). A port or MMIO access polls right after its instruction, so what a
// device does (an interrupt it raises, a stop it asks for) is seen at once.
constexpr int kPollInterval = 2048;
constexpr uint64_t kPhysAddrMask = 0x000000fffffff000ull;  // MAXPHYADDR 40 (cpuid 0x80000008)
constexpr uint64_t kPteReservedHigh = 0x000fff0000000000ull;  // bits 51:40
}  // namespace

EmuCpu::EmuCpu(const MachineContext& machine, unsigned index)
    : machine_(machine), mem_(machine.memory), index_(index), fetched_(new FetchedInsn[kFetchCache + 1]) {
  update_mode();
}

EmuCpu::~EmuCpu() {
  if (getenv("VIREO_STATS"))
    fprintf(stderr, "cpu%u: %llu instructions, %llu in translated code (%llu blocks translated, %llu calls)\n",
            index_, (unsigned long long)instructions, (unsigned long long)jit_instructions,
            (unsigned long long)jit_translations, (unsigned long long)jit_dispatches);
}

void EmuCpu::state_changed() {
  s.cpl = s.seg[CS].selector & 3;
  if (s.seg[CS].l && long_mode()) s.cpl = s.seg[SS].dpl;
  if (real_mode()) s.cpl = 0;
  update_mode();
  flush_tlb();
}

void EmuCpu::update_mode() {
  if (long_mode() && s.seg[CS].l) {
    mode_ = CpuMode::Long64;
    la_mask_ = ~0ull;
    for (unsigned i = 0; i < 4; ++i) seg_base_[i] = 0;
  } else {
    mode_ = s.seg[CS].db ? CpuMode::Prot32 : CpuMode::Prot16;
    la_mask_ = 0xffffffffull;
    for (unsigned i = 0; i < 4; ++i) seg_base_[i] = s.seg[i].base;
  }
  seg_base_[FS] = s.seg[FS].base;
  seg_base_[GS] = s.seg[GS].base;
}

// ---- MMU ---------------------------------------------------------------------------

void EmuCpu::flush_tlb() {
  for (TlbEntry& e : tlb_) e.tag = 1;
  for (auto& level : fast_tlb_) {
    for (FastTlbEntry& f : level) f.read_tag = f.write_tag = 1;
  }
}

void EmuCpu::flush_tlb_page(uint64_t la) {
  const unsigned slot = (la >> 12) & (kTlbSize - 1);
  TlbEntry& e = tlb_[slot];
  if (e.tag == (la & ~0xfffull)) {
    e.tag = 1;
    for (auto& level : fast_tlb_) level[slot].read_tag = level[slot].write_tag = 1;
  }
}

const TlbEntry& EmuCpu::translate(uint64_t la, Access access, bool as_user) {
  const TlbEntry& e = tlb_[(la >> 12) & (kTlbSize - 1)];
  if (e.tag == (la & ~0xfffull) && (e.perms & perm_bit(access, as_user))) return e;
  return walk(la, access, as_user);
}

// 4-level paging (SDM Vol. 3 4.5), permission rules of 4.6, A/D updates of 4.8.
const TlbEntry& EmuCpu::walk(uint64_t la, Access access, bool as_user) {
  uint64_t page = la & ~0xfffull;
  uint64_t phys;
  uint32_t perms;
  if (!(s.cr0 & x86::CR0_PG)) {
    phys = page & 0xfffff000ull;
    perms = 0x3f;
  } else {
    if (!long_mode()) {
      throw CpuExit{VcpuExitKind::InternalError,
                    fmt::format("paging without long mode (32-bit or PAE paging) is not implemented (cr0={:#x} "
                                "cr4={:#x} efer={:#x})",
                                s.cr0, s.cr4, s.efer)};
    }
    if (!is_canonical(la)) non_canonical_fault();
    const bool nxe = s.efer & x86::EFER_NXE;
    uint32_t err_extra = (access == Access::Write ? pferr::W : 0) | (as_user ? pferr::U : 0) |
                         (access == Access::Exec && nxe ? pferr::ID : 0);
    auto page_fault = [&](uint32_t err) {
      s.cr2 = la;
      fault(kPF, err | err_extra);
    };
    uint64_t table = s.cr3 & kPhysAddrMask;
    bool writable = true, usr = true, nx = false;
    uint64_t* entries[4];
    unsigned n = 0;
    int level = 4;
    uint64_t pte = 0;
    for (;;) {
      uint64_t pte_pa = table + ((la >> (12 + 9 * (level - 1))) & 511) * 8;
      uint8_t* hp = mem_->host_ptr(pte_pa, 8);
      if (!hp) {
        throw CpuExit{VcpuExitKind::InternalError,
                      fmt::format("page-table entry at guest-physical {:#x} (for linear {:#x}) is outside guest RAM",
                                  pte_pa, la)};
      }
      uint64_t* p = reinterpret_cast<uint64_t*>(hp);
      pte = __atomic_load_n(p, __ATOMIC_RELAXED);
      if (!(pte & 1)) page_fault(0);
      bool large = (pte & 0x80) && (level == 2 || level == 3);
      bool rsvd = (pte & kPteReservedHigh) || (!nxe && (pte >> 63)) || (level == 4 && (pte & 0x80)) ||
                  (large && level == 3 && (pte & 0x3fffe000ull)) || (large && level == 2 && (pte & 0x1fe000ull));
      if (rsvd) page_fault(pferr::P | pferr::RSVD);
      writable &= (pte & 2) != 0;
      usr &= (pte & 4) != 0;
      if (nxe && (pte >> 63)) nx = true;
      entries[n++] = p;
      if (level == 1) {
        phys = pte & kPhysAddrMask;
        break;
      }
      if (large) {
        uint64_t span = level == 3 ? (1ull << 30) : (1ull << 21);
        phys = (pte & kPhysAddrMask & ~(span - 1)) | (la & (span - 1) & ~0xfffull);
        break;
      }
      table = pte & kPhysAddrMask;
      --level;
    }
    const bool wp = s.cr0 & x86::CR0_WP;
    bool ok;
    switch (access) {
      case Access::Read: ok = !as_user || usr; break;
      case Access::Write: ok = as_user ? (usr && writable) : (writable || !wp); break;
      default: ok = !nx && (!as_user || usr); break;
    }
    if (!ok) page_fault(pferr::P);
    for (unsigned i = 0; i < n; ++i) {
      if (!(__atomic_load_n(entries[i], __ATOMIC_RELAXED) & 0x20)) __atomic_fetch_or(entries[i], 0x20ull, __ATOMIC_SEQ_CST);
    }
    bool dirty = pte & 0x40;
    if (access == Access::Write && !dirty) {
      __atomic_fetch_or(entries[n - 1], 0x40ull, __ATOMIC_SEQ_CST);
      dirty = true;
    }
    // Writes through the TLB only once D is set, so the first write still walks.
    perms = 0x1;                                  // supervisor read
    if ((writable || !wp) && dirty) perms |= 0x2; // supervisor write
    if (!nx) perms |= 0x4;                        // supervisor execute (no SMEP)
    if (usr) {
      perms |= 0x8;
      if (writable && dirty) perms |= 0x10;
      if (!nx) perms |= 0x20;
    }
  }
  const unsigned slot = (la >> 12) & (kTlbSize - 1);
  TlbEntry& e = tlb_[slot];
  e.tag = page;
  e.phys = phys;
  e.host = mem_->host_ptr(phys, 4096);
  e.perms = perms;
  for (unsigned as_user = 0; as_user < 2; ++as_user) {
    FastTlbEntry& f = fast_tlb_[as_user][slot];
    f.read_tag = e.host && (perms & perm_bit(Access::Read, as_user)) ? page : 1;
    f.write_tag = e.host && (perms & perm_bit(Access::Write, as_user)) ? page : 1;
    f.addend = reinterpret_cast<uintptr_t>(e.host) - page;
  }
  return e;
}

// ---- memory slow paths -------------------------------------------------------------

uint64_t EmuCpu::phys_read(uint64_t pa, uint8_t* host, unsigned size) {
  if (host) return load_host(host, size);
  uint64_t v = 0;
  machine_.mmio->read(pa, size, v);
  request_poll();  // a device may have raised an interrupt or stopped the vCPU
  return v;
}

void EmuCpu::phys_write(uint64_t pa, uint8_t* host, unsigned size, uint64_t v) {
  if (host) {
    store_host(host, size, v);
    return;
  }
  machine_.mmio->write(pa, size, v);
  request_poll();
}

// An access through SS that runs from a canonical page into a non-canonical one
// raises #SS(0) before the first page is translated (a #PF there does not come
// first, unlike for the other segments), as the CPU does.
void EmuCpu::check_crossing_canonical(uint64_t second_page) {
  if (last_seg_ == SS && mode_ == CpuMode::Long64 && !is_canonical(second_page)) fault(kSS, 0);
}

uint64_t EmuCpu::read_slow(uint64_t la, unsigned size, bool as_user) {
  unsigned off = la & 0xfff;
  if (off + size <= 4096) {
    const TlbEntry& e = translate(la, Access::Read, as_user);
    return phys_read(e.phys | off, e.host ? e.host + off : nullptr, size);
  }
  uint8_t buf[8];
  unsigned first = 4096 - off;
  check_crossing_canonical(la + first);
  TlbEntry a = translate(la, Access::Read, as_user);
  TlbEntry b = translate((la + first) & la_mask_, Access::Read, as_user);
  for (unsigned i = 0; i < size; ++i) {
    const TlbEntry& e = i < first ? a : b;
    unsigned o = i < first ? off + i : i - first;
    buf[i] = static_cast<uint8_t>(phys_read(e.phys | o, e.host ? e.host + o : nullptr, 1));
  }
  uint64_t v = 0;
  std::memcpy(&v, buf, size);
  return v;
}

void EmuCpu::write_slow(uint64_t la, unsigned size, uint64_t v, bool as_user) {
  unsigned off = la & 0xfff;
  if (off + size <= 4096) {
    const TlbEntry& e = translate(la, Access::Write, as_user);
    phys_write(e.phys | off, e.host ? e.host + off : nullptr, size, v);
    return;
  }
  unsigned first = 4096 - off;
  check_crossing_canonical(la + first);
  TlbEntry a = translate(la, Access::Write, as_user);
  TlbEntry b = translate((la + first) & la_mask_, Access::Write, as_user);
  for (unsigned i = 0; i < size; ++i) {
    const TlbEntry& e = i < first ? a : b;
    unsigned o = i < first ? off + i : i - first;
    phys_write(e.phys | o, e.host ? e.host + o : nullptr, 1, (v >> (8 * i)) & 0xff);
  }
}

uint8_t* EmuCpu::writable_host_ptr_slow(uint64_t la, unsigned size) {
  unsigned off = la & 0xfff;
  if (off + size > 4096) return nullptr;
  const TlbEntry& e = translate(la, Access::Write, user());
  return e.host ? e.host + off : nullptr;
}

void EmuCpu::read_bytes(uint64_t la, void* dst, unsigned size) {
  uint8_t* out = static_cast<uint8_t*>(dst);
  while (size > 0) {
    unsigned off = la & 0xfff;
    unsigned chunk = std::min(size, 4096 - off);
    const TlbEntry& e = translate(la, Access::Read, user());
    if (e.host) {
      std::memcpy(out, e.host + off, chunk);
    } else {
      machine_.mmio->read_bytes(e.phys | off, out, chunk);
    }
    out += chunk;
    la = (la + chunk) & la_mask_;
    size -= chunk;
  }
}

void EmuCpu::write_bytes(uint64_t la, const void* src, unsigned size) {
  // Check every page first so a fault leaves memory untouched.
  for (uint64_t p = la & ~0xfffull; p < la + size; p += 4096) translate(p < la ? la : p, Access::Write, user());
  const uint8_t* in = static_cast<const uint8_t*>(src);
  while (size > 0) {
    unsigned off = la & 0xfff;
    unsigned chunk = std::min(size, 4096 - off);
    const TlbEntry& e = translate(la, Access::Write, user());
    if (e.host) {
      std::memcpy(e.host + off, in, chunk);
    } else {
      machine_.mmio->write_bytes(e.phys | off, in, chunk);
    }
    in += chunk;
    la = (la + chunk) & la_mask_;
    size -= chunk;
  }
}

// ---- control registers -------------------------------------------------------------

// MOV to CR0 (SDM Vol. 3 2.5, 9.8.5 for entering IA-32e mode).
void EmuCpu::write_cr0(uint64_t v) {
  if (v >> 32) fault(kGP, 0);
  if ((v & x86::CR0_PG) && !(v & x86::CR0_PE)) fault(kGP, 0);
  if ((v & (1ull << 29)) && !(v & (1ull << 30))) fault(kGP, 0);  // NW without CD
  uint64_t old = s.cr0;
  if (!(old & x86::CR0_PG) && (v & x86::CR0_PG) && (s.efer & x86::EFER_LME)) {
    if (!(s.cr4 & x86::CR4_PAE)) fault(kGP, 0);
    s.efer |= x86::EFER_LMA;
  }
  if ((old & x86::CR0_PG) && !(v & x86::CR0_PG)) {
    if (mode_ == CpuMode::Long64) fault(kGP, 0);
    s.efer &= ~x86::EFER_LMA;
  }
  // Clearing PE enters real-address mode: the segment registers keep their cached
  // descriptors until reloaded (SDM Vol. 3 9.9.2).
  s.cr0 = v | x86::CR0_ET;
  if (!(v & x86::CR0_PE)) s.cpl = 0;
  if ((old ^ v) & (x86::CR0_PG | x86::CR0_WP | x86::CR0_PE)) flush_tlb();
  update_mode();
}

void EmuCpu::write_cr3(uint64_t v) {
  // Without PCID every CR3 write flushes the non-global translations; this TLB flushes
  // all of them, which the architecture allows.
  s.cr3 = v & 0x000ffffffffff018ull;
  flush_tlb();
}

void EmuCpu::write_cr4(uint64_t v) {
  // Supported: TSD DE PSE PAE MCE PGE PCE OSFXSR OSXMMEXCPT (bits 2..10).
  constexpr uint64_t kAllowed = 0x7fcull;
  if (v & ~kAllowed) fault(kGP, 0);
  if (long_mode() && !(v & x86::CR4_PAE)) fault(kGP, 0);
  uint64_t old = s.cr4;
  s.cr4 = v;
  if ((old ^ v) & (x86::CR4_PGE | x86::CR4_PAE | x86::CR4_PSE)) flush_tlb();
}

void EmuCpu::write_efer(uint64_t v) {
  constexpr uint64_t kAllowed = x86::EFER_SCE | x86::EFER_LME | x86::EFER_LMA | x86::EFER_NXE;
  if (v & ~kAllowed) fault(kGP, 0);
  if ((s.cr0 & x86::CR0_PG) && ((v ^ s.efer) & x86::EFER_LME)) fault(kGP, 0);
  uint64_t old = s.efer;
  s.efer = (v & ~x86::EFER_LMA) | (old & x86::EFER_LMA);  // LMA is read-only
  if ((old ^ s.efer) & x86::EFER_NXE) flush_tlb();
}

// ---- segments ------------------------------------------------------------------------

uint64_t EmuCpu::read_descriptor(uint16_t selector, uint64_t* high) {
  bool local = selector & 4;
  uint64_t base = local ? s.ldt.base : s.gdt.base;
  uint32_t limit = local ? s.ldt.limit : s.gdt.limit;
  if (local && s.ldt.unusable) fault(kGP, selector & 0xfffc);
  uint32_t off = selector & ~7u;
  if (off + 7 > limit || (high && off + 15 > limit)) fault(kGP, selector & 0xfffc);
  uint64_t la = (base + off) & la_mask_;
  if (high) *high = read_sys((la + 8) & la_mask_, 8);
  return read_sys(la, 8);
}

// Segment descriptor layout: SDM Vol. 3 3.4.5.
Segment EmuCpu::parse_descriptor(uint64_t d, uint16_t selector) {
  Segment sg;
  sg.selector = selector;
  sg.base = ((d >> 16) & 0xffffff) | (((d >> 56) & 0xff) << 24);
  uint32_t limit = static_cast<uint32_t>((d & 0xffff) | (((d >> 48) & 0xf) << 16));
  sg.g = (d >> 55) & 1;
  sg.limit = sg.g ? (limit << 12) | 0xfff : limit;
  sg.type = (d >> 40) & 0xf;
  sg.s = (d >> 44) & 1;
  sg.dpl = (d >> 45) & 3;
  sg.present = (d >> 47) & 1;
  sg.avl = (d >> 52) & 1;
  sg.l = (d >> 53) & 1;
  sg.db = (d >> 54) & 1;
  sg.unusable = false;
  return sg;
}

void EmuCpu::set_segment(unsigned seg, const Segment& value) {
  s.seg[seg] = value;
  update_mode();
}

void EmuCpu::set_cs(const Segment& cs, uint8_t cpl) {
  s.seg[CS] = cs;
  s.cpl = cpl;
  update_mode();
}

// Real-address mode (SDM Vol. 3 20.1.1): the selector is a paragraph number; the
// limit and attributes stay as they were cached.
void EmuCpu::load_real_mode_segment(unsigned seg, uint16_t selector) {
  Segment sg = s.seg[seg];
  sg.selector = selector;
  sg.base = uint64_t(selector) << 4;
  sg.unusable = false;
  sg.present = true;
  set_segment(seg, sg);
}

// MOV/POP to DS ES FS GS SS in protected mode (SDM Vol. 2 "MOV—Move", "POP").
void EmuCpu::load_data_segment(unsigned seg, uint16_t selector) {
  if (real_mode()) {
    load_real_mode_segment(seg, selector);
    return;
  }
  if ((selector & ~3u) == 0) {
    if (seg == SS && !(mode_ == CpuMode::Long64 && s.cpl != 3 && (selector & 3) == s.cpl)) fault(kGP, 0);
    Segment null;
    null.selector = selector;
    null.unusable = true;
    null.present = false;
    null.base = 0;
    null.limit = 0;
    if (seg == SS) {
      null.dpl = s.cpl;
      null.db = true;
    }
    set_segment(seg, null);
    return;
  }
  uint64_t d = read_descriptor(selector);
  Segment sg = parse_descriptor(d, selector);
  uint32_t err = selector & 0xfffc;
  bool code = sg.type & 8;
  if (!sg.s) fault(kGP, err);
  if (seg == SS) {
    if (code || !(sg.type & 2) || (selector & 3) != s.cpl || sg.dpl != s.cpl) fault(kGP, err);
    if (!sg.present) fault(kSS, err);
  } else {
    if (code && !(sg.type & 2)) fault(kGP, err);
    bool conforming_code = code && (sg.type & 4);
    if (!conforming_code && ((selector & 3) > sg.dpl || s.cpl > sg.dpl)) fault(kGP, err);
    if (!sg.present) fault(kNP, err);
  }
  if (!(sg.type & 1)) {  // set the accessed bit in the descriptor
    sg.type |= 1;
    uint64_t base = (selector & 4) ? s.ldt.base : s.gdt.base;
    write_sys((base + (selector & ~7u) + 5) & la_mask_, 1, (d >> 40 & 0xff) | 1);
  }
  set_segment(seg, sg);
}

// Far JMP/CALL to a code segment (SDM Vol. 2 "JMP", "CALL", protected-mode paths).
void EmuCpu::far_transfer(uint16_t selector, uint64_t offset, bool is_call, unsigned osize) {
  if (real_mode()) {
    if (is_call) {
      push(s.seg[CS].selector, osize);
      push(next_rip, osize);
    }
    load_real_mode_segment(CS, selector);
    next_rip = offset & size_mask(osize);
    return;
  }
  if ((selector & ~3u) == 0) fault(kGP, 0);
  uint64_t d = read_descriptor(selector);
  Segment cs = parse_descriptor(d, selector);
  uint32_t err = selector & 0xfffc;
  if (!cs.s || !(cs.type & 8)) {
    throw CpuExit{VcpuExitKind::InternalError,
                  fmt::format("far {} through a gate or TSS (selector {:#x}) is not implemented",
                              is_call ? "call" : "jump", selector)};
  }
  if (cs.type & 4) {
    if (cs.dpl > s.cpl) fault(kGP, err);
  } else if ((selector & 3) > s.cpl || cs.dpl != s.cpl) {
    fault(kGP, err);
  }
  if (!cs.present) fault(kNP, err);
  if (long_mode() && cs.l && cs.db) fault(kGP, err);
  if (is_call) {
    push(s.seg[CS].selector, osize);
    push(next_rip, osize);
  }
  cs.selector = static_cast<uint16_t>((selector & ~3u) | s.cpl);
  cs.type |= 1;
  set_cs(cs, s.cpl);
  next_rip = mode_ == CpuMode::Long64 ? offset : offset & size_mask(osize);
}

// ---- ports ---------------------------------------------------------------------------

void EmuCpu::check_io_privilege() {
  // CPL > IOPL would consult the TSS I/O permission bitmap; vireo grants none.
  if (s.cpl > ((s.flags.bits >> 12) & 3)) fault(kGP, 0);
}

uint64_t EmuCpu::port_in(uint16_t port, unsigned size) {
  uint64_t v = 0;
  machine_.pio->read(port, size, v);
  request_poll();  // a device may have raised an interrupt or stopped the vCPU
  return v;
}

void EmuCpu::port_out(uint16_t port, unsigned size, uint64_t value) {
  machine_.pio->write(port, size, value);
  request_poll();
}

uint64_t EmuCpu::read_tsc() const {
  // A constant-rate 1 GHz TSC (CPUID 0x15: 25 MHz crystal x 40) from the host's
  // monotonic clock, plus the guest's offset (writes to IA32_TSC).
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  uint64_t ns = uint64_t(ts.tv_sec) * 1000000000ull + uint64_t(ts.tv_nsec);
  return ns + static_cast<uint64_t>(s.tsc_offset);
}

// ---- the loop ------------------------------------------------------------------------

void EmuCpu::unimplemented(const DecodedInsn& d, const char* what) {
  (void)d;
  throw CpuExit{VcpuExitKind::InternalError,
                fmt::format("{}: {}", what ? what : "instruction not implemented", describe_insn(*this, s.rip))};
}

// Fetches and decodes the instruction at RIP for step(), raising the fetch's faults.
const EmuCpu::FetchedInsn& EmuCpu::fetch() {
  uint64_t la = linear(CS, s.rip);
  const bool as_user = user();
  const TlbEntry& e = translate(la, Access::Exec, as_user);
  if (!e.host) {
    throw CpuExit{VcpuExitKind::InternalError,
                  fmt::format("instruction fetch from non-RAM address {:#x} (rip {:#x})", e.phys | (la & 0xfff), s.rip)};
  }
  const unsigned off = la & 0xfff;
  const unsigned avail = 4096 - off;
  const uint64_t pa = e.phys | off;
  // An instruction that may run into the next page is not kept: its second page's
  // mapping could change.
  FetchedInsn& f = avail >= 15 ? fetched_[(pa ^ (pa >> 8)) & (kFetchCache - 1)] : fetched_[kFetchCache];
  if (f.pa == pa && f.mode == mode_ && std::memcmp(f.bytes, e.host + off, f.d.len) == 0) return f;
  f.pa = ~0ull;
  std::memset(f.bytes, 0, sizeof f.bytes);
  std::memcpy(f.bytes, e.host + off, std::min(avail, 15u));
  if (avail < 15) {
    // The instruction may continue on the next page.
    DecodedInsn probe;
    if (decode(f.bytes, avail, mode_, probe) == DecodeStatus::Truncated) {
      const TlbEntry& e2 = translate((la + avail) & la_mask_, Access::Exec, as_user);
      if (!e2.host) throw CpuExit{VcpuExitKind::InternalError, "instruction fetch runs into non-RAM memory"};
      std::memcpy(f.bytes + avail, e2.host, 15 - avail);
    }
  }
  DecodeStatus st = decode(f.bytes, 15, mode_, f.d);
  if (st == DecodeStatus::TooLong) fault(kGP, 0);
  if (st != DecodeStatus::Ok) fault(kUD);
  f.handler = handler_table()[f.d.op];
  if (avail >= 15) {
    f.pa = pa;
    f.mode = mode_;
  }
  return f;
}

// One instruction, with everything the block runner leaves out: tracing, TF/RF,
// the interrupt shadow, instructions that span two pages and fetch faults.
void EmuCpu::step() {
  const FetchedInsn& f = fetch();
  const DecodedInsn& d = f.d;
  if (tracer_) tracer_->before(*this, f.bytes, d.len);
  if (d.prefixes & kPrefixLock) {
    if (!lockable(d)) fault(kUD);
  }
  next_rip = s.rip + d.len;
  if (mode_ != CpuMode::Long64) next_rip &= 0xffffffffull;
  bool shadowed = interrupt_shadow;
  const uint64_t debug_flags = s.flags.bits & (rf::TF | rf::RF);  // never lazy
  single_step_ = debug_flags & rf::TF;
  f.handler(*this, d);
  s.rip = next_rip;
  ++instructions;
  if (shadowed) {
    interrupt_shadow = false;
    poll_countdown_ = 0;
  }
  if (tracer_) tracer_->after(*this);
  if (debug_flags) [[unlikely]] finish_debug_flags(d, debug_flags);
}

// Decodes the block at guest-physical `pa` (host bytes `code`, `avail` of them left
// in the page) into the block cache. nullptr when not even its first instruction can
// go into a block (step() then executes or faults on it).
Block* EmuCpu::build_block(uint64_t pa, const uint8_t* code, unsigned avail) {
  BlockInsn insns[Block::kMaxInsns + 1];
  unsigned count = 0, off = 0;
  while (count < Block::kMaxInsns) {
    BlockInsn& bi = insns[count];
    if (decode(code + off, avail - off, mode_, bi.d) != DecodeStatus::Ok) break;
    if (off + bi.d.len > Block::kMaxBytes) break;
    if ((bi.d.prefixes & kPrefixLock) && !lockable(bi.d)) break;
    select_handlers(bi, mode_);
    off += bi.d.len;
    ++count;
    if (ends_block(bi.d)) break;
  }
  if (count == 0) return nullptr;
  BlockInsn& end = insns[count];  // the end marker: length 0, its handler returns
  end.d = DecodedInsn{};
  end.d.len = 0;
  end.run = end.impl = [](EmuCpu&, const DecodedInsn&) {};
  return blocks_.insert(pa, mode_, insns, count, code, off);
}

// ---- the translation tier -----------------------------------------------------------

void EmuCpu::enable_jit(unsigned threshold, size_t arena_bytes) {
  if (!JitCache::host_supported()) return;
  try {
    jit_ = std::make_unique<JitCache>(arena_bytes);
  } catch (const std::bad_alloc&) {
    if (index_ == 0) log_warn("no executable memory for translated code: the emulator only interprets");
    return;
  }
  jit_layout_ = jit_layout();
  jit_threshold_ = threshold ? threshold : 1;
  jit_generation_ = blocks_.generation();
}

JitLayout EmuCpu::jit_layout() const {
  const char* self = reinterpret_cast<const char*>(this);
  auto at = [self](const void* field) { return int32_t(static_cast<const char*>(field) - self); };
  JitLayout l;
  l.gpr = at(&s.gpr[0]);
  l.rip = at(&s.rip);
  l.fast_tlb[0] = at(&fast_tlb_[0][0]);
  l.fast_tlb[1] = at(&fast_tlb_[1][0]);
  l.fs_base = at(&seg_base_[FS]);
  l.gs_base = at(&seg_base_[GS]);
  l.poll = at(&poll_countdown_);
  l.flags = at(&jit_flags_);
  l.tlb = at(&tlb_[0]);
  l.chain = at(&jit_chain_slot_);
  l.jump_cache = at(&jump_cache_.e[0]);
  l.scratch = at(&jit_scratch_);
  l.xmm = at(&s.xmm[0]);
  l.cr0 = at(&s.cr0);
  l.cr4 = at(&s.cr4);
  return l;
}

// Translates b (at RIP, its bytes at `code`); a block that does not translate is not
// tried again. When the code arena is full, it and the block cache start afresh.
void EmuCpu::translate_block(Block* b, const uint8_t* code) {
  if (jit_generation_ != blocks_.generation()) {
    jit_->clear();
    jump_cache_.clear();
    jit_generation_ = blocks_.generation();
  }
  const JitCode out = jit_->translate(*b, s.rip, code, user(), jit_layout_);
  if (out.entry) {
    b->jit = out.entry;
    b->jit_chained = out.chained;
    b->jit_rip = s.rip;
    b->jit_user = user();
    ++jit_translations;
    return;
  }
  if (jit_->full()) {
    // Every translation goes with the blocks that hold it; this block (its memory
    // stays readable until blocks are built again) runs interpreted this once.
    blocks_.clear();
    jit_->clear();
    jump_cache_.clear();
    jit_generation_ = blocks_.generation();
    last_block_ = nullptr;
    return;
  }
  b->heat = UINT32_MAX;
  b->jit_step_first = out.step_first;
}

// Lets the exit whose slot this is go straight on into b's translation (b is the
// translated block at the slot's target, for the slot's privilege, of this generation).
void EmuCpu::fill_chain(JitChainSlot* slot, const Block* b) {
  JitJumpEntry& j = jump_cache_.e[JitJumpCache::index(s.rip)];
  j.rip = s.rip;
  j.phys_page = b->phys & ~0xfffull;
  j.entry = reinterpret_cast<uint64_t>(b->jit_chained);
  j.user = user();
  if (!slot || pending_chain_generation_ != blocks_.generation() || slot->target_rip != s.rip ||
      slot->user != uint64_t(user()))
    return;
  slot->entry = reinterpret_cast<uint64_t>(b->jit_chained);
  slot->phys_page = b->phys & ~0xfffull;
}

void EmuCpu::run_translated(Block* b) {
  ++jit_dispatches;
  jit_flags_ = jit_flags_from_rflags(s.flags.arith());
  const int before = poll_countdown_;
  jit_chain_slot_ = nullptr;
  const uint32_t r = b->jit(this);
  pending_chain_ = jit_chain_slot_;
  pending_chain_generation_ = blocks_.generation();
  const uint32_t k = r & ~kJitSideExit;
  const uint64_t done = uint64_t(int64_t(before) - poll_countdown_) + k;
  instructions += done;
  jit_instructions += done;
  poll_countdown_ -= int(k);
  s.flags.set_arith(rf::kArith, rflags_from_jit_flags(jit_flags_));
  if (r & kJitSideExit) jit_skip_once_ = true;
}

// Runs blocks from RIP until an interrupt/stop poll is due (poll_countdown_, which
// counts the instructions retired, reaches 0) or the next instruction needs step():
// TF or RF set, an interrupt shadow, or an instruction the block cache cannot take
// (then step() runs it here). Faults leave RIP on the faulting instruction.
void EmuCpu::run_blocks() {
  do {
    JitChainSlot* const pending = pending_chain_;  // only for the block that comes right after
    pending_chain_ = nullptr;
    if (jit_skip_once_) [[unlikely]] {
      // Translated code stopped before an instruction it leaves to the interpreter
      // (a TLB miss, MMIO, ...): that one instruction runs here, then translated
      // code goes on from the next.
      jit_skip_once_ = false;
      step();
      --poll_countdown_;
      continue;
    }
    const uint64_t la = (seg_base_[CS] + s.rip) & la_mask_;
    const TlbEntry* ep = &tlb_[(la >> 12) & (kTlbSize - 1)];
    // A code page missing from the TLB: walk for it (a fault here is the fetch's,
    // with RIP on the instruction), so that the block cache serves the first
    // instruction too.
    if (ep->tag != (la & ~0xfffull) && mode_ == CpuMode::Long64) ep = &translate(la, Access::Exec, user());
    const TlbEntry& e = *ep;
    if (e.tag != (la & ~0xfffull) || !(e.perms & perm_bit(Access::Exec, user())) || !e.host) [[unlikely]] {
      step();
      --poll_countdown_;
      return;
    }
    const unsigned off = la & 0xfff;
    const uint64_t pa = e.phys | off;
    const uint8_t* code = e.host + off;
    // Most blocks follow one of the last two blocks that followed the previous block:
    // try those before the hash table.
    Block* last = last_block_generation_ == blocks_.generation() ? last_block_ : nullptr;
    Block* b = nullptr;
    if (last && BlockCache::valid(last->successors[0], pa, mode_, code)) {
      b = last->successors[0];
    } else if (last && BlockCache::valid(last->successors[1], pa, mode_, code)) {
      b = last->successors[1];
      std::swap(last->successors[0], last->successors[1]);
    } else {
      b = blocks_.find(pa, mode_, code);
      if (!b) [[unlikely]] {
        b = build_block(pa, code, 4096 - off);
        if (!b) {
          last_block_ = nullptr;
          step();
          --poll_countdown_;
          return;
        }
      }
      if (last && last_block_generation_ == blocks_.generation()) {
        last->successors[1] = last->successors[0];
        last->successors[0] = b;
      }
    }
    last_block_ = b;
    last_block_generation_ = blocks_.generation();
    if (jit_) {
      if (b->jit) {
        if (b->jit_rip == s.rip && b->jit_user == user()) {
          fill_chain(pending, b);
          run_translated(b);
          continue;
        }
      } else if (b->heat != UINT32_MAX && ++b->heat >= jit_threshold_) {
        translate_block(b, code);
        if (b->jit) {
          fill_chain(pending, b);
          run_translated(b);
          continue;
        }
      }
      if (b->jit_step_first) {
        step();
        --poll_countdown_;
        continue;
      }
    }
    const BlockInsn* first = b->insns();
    rip_mask = mode_ == CpuMode::Long64 ? ~0ull : 0xffffffffull;
    block_pos = first;
    block_fall = next_rip = (s.rip + first->d.len) & rip_mask;
    try {
      first->run(*this, first->d);
    } catch (...) {
      s.rip = block_rip();  // the faulting instruction
      instructions += block_pos - first;
      throw;
    }
    s.rip = next_rip;
    const int done = static_cast<int>(block_pos - first);
    instructions += done;
    poll_countdown_ -= done;
  } while (poll_countdown_ > 0 && !interrupt_shadow && !(s.flags.bits & (rf::TF | rf::RF)));
}

// After an instruction that began with TF or RF set (SDM Vol. 3 17.3.1.4, 18.3.1.1):
// RF is cleared once the instruction completes (unless IRET loaded it), and TF set
// at the start of the instruction raises a single-step #DB trap after it, with RIP
// at the next instruction and DR6.BS set. An instruction that delivered an interrupt
// or exception itself (INT n, INT3, INTO) does not trap (deliver() clears
// single_step_), and MOV SS / POP SS hold the trap back until after the next
// instruction, as they do interrupts.
void EmuCpu::finish_debug_flags(const DecodedInsn& d, uint64_t flags_before) {
  const bool iret = d.op == 0xcf;
  if ((flags_before & rf::RF) && !iret) s.flags.bits &= ~rf::RF;
  if (!single_step_) return;
  single_step_ = false;
  if (interrupt_shadow && d.op != 0xfb) return;  // MOV SS / POP SS, not STI
  s.dr[6] |= 1u << 14;                           // BS
  deliver(kDB, false, 0, false, s.rip);
}

void EmuCpu::take_interrupt() {
  uint8_t vector = irq_->acknowledge();
  halted_ = false;
  try {
    deliver(vector, false, 0, false, s.rip);
  } catch (const GuestFault& f) {
    deliver_fault(f);
  }
}

void EmuCpu::deliver_fault(const GuestFault& f) {
  if (tracer_) tracer_->exception(*this, f.vector, f.has_error, f.error);
  try {
    deliver(f.vector, f.has_error, f.error, false, s.rip, f.vector != kDF);
  } catch (const GuestFault& second) {
    // SDM Vol. 3 6.15, interrupt 8: a fault while delivering a fault.
    if (f.vector == kDF) {
      throw CpuExit{VcpuExitKind::Shutdown, fmt::format("triple fault: {} while delivering #DF (rip {:#x})",
                                                        vector_name(second.vector), s.rip)};
    }
    if (makes_double_fault(f.vector, second.vector)) {
      deliver_fault(GuestFault{kDF, true, 0});
    } else {
      deliver_fault(second);
    }
  }
}

void EmuCpu::do_hlt() {
  s.rip = next_rip;  // an interrupt returns after the HLT
  if (!(s.flags.bits & rf::IF) && local_apic_ && index_ != 0 && halt_wait_) {
    // An application processor halted with interrupts off (as Linux stops the other
    // CPUs before powering off) can still be woken by INIT: it sleeps until
    // the loop is stopped (kick or INIT) instead of ending the machine.
    halted_ = true;
    for (;;) {
      if (stop_ && stop_->load(std::memory_order_relaxed)) throw CpuExit{VcpuExitKind::Stopped, ""};
      halt_wait_(halt_ctx_);
    }
  }
  if (!(s.flags.bits & rf::IF) || !irq_) {
    throw CpuExit{VcpuExitKind::Halted,
                  fmt::format("hlt at {:#x} with {}", s.rip, irq_ ? "interrupts disabled" : "no interrupt source")};
  }
  halted_ = true;
  while (!irq_->pending()) {
    if (stop_ && stop_->load(std::memory_order_relaxed)) throw CpuExit{VcpuExitKind::Stopped, ""};
    if (!halt_wait_ || !halt_wait_(halt_ctx_)) {
      if (!irq_->pending()) {
        throw CpuExit{VcpuExitKind::Halted, fmt::format("hlt at {:#x} and nothing can wake the CPU", s.rip)};
      }
    }
  }
  next_rip = s.rip;
  poll_countdown_ = 0;
}

VcpuExit EmuCpu::run(std::atomic<bool>& stop) {
  stop_ = &stop;
  update_mode();
  poll_countdown_ = 0;
  for (;;) {
    try {
      for (;;) {
        if (poll_countdown_ <= 0) {
          poll_countdown_ = kPollInterval;
          if (stop.load(std::memory_order_relaxed)) return {VcpuExitKind::Stopped, ""};
          if (irq_ && (s.flags.bits & rf::IF) && !interrupt_shadow && irq_->pending()) take_interrupt();
        }
        if (tracer_ || interrupt_shadow || (s.flags.bits & (rf::TF | rf::RF))) [[unlikely]] {
          step();
          --poll_countdown_;
        } else {
          run_blocks();
        }
      }
    } catch (const GuestFault& f) {
      try {
        deliver_fault(f);
      } catch (const CpuExit& e) {
        return {e.kind, e.message};
      }
    } catch (const CpuExit& e) {
      return {e.kind, e.message};
    } catch (const GuestMemoryError& e) {
      return {VcpuExitKind::InternalError, fmt::format("guest memory access failed at rip {:#x}: {}", s.rip, e.what())};
    }
  }
}

}  // namespace vireo::emu
