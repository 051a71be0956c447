// EmuCpu: one emulated x86-64 CPU — its state, its MMU (page walk and software TLB),
// guest memory and I/O access, segment loading, exception delivery and the
// fetch/decode/execute loop. Instruction semantics live in exec_*.cpp as free
// functions over EmuCpu; the hot helpers they use are inline here.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>

#include "cpu/emu/block_cache.h"
#include "cpu/emu/cpu.h"
#include "cpu/emu/decoder.h"
#include "cpu/emu/exceptions.h"
#include "cpu/emu/interrupt_source.h"
#include "cpu/vcpu.h"

namespace vireo {
class GuestMemory;
class IoBus;
class LocalApic;
}  // namespace vireo

namespace vireo::emu {

class Tracer;
using HandlerTable = std::array<Handler, kOpMaps * 256>;

// The handler table, filled by the exec_*.cpp families (exec_registry.cpp).
const HandlerTable& handler_table();

enum class Access : uint8_t { Read = 0, Write = 1, Exec = 2 };

// Page-fault error code bits (SDM Vol. 3 4.7).
namespace pferr {
constexpr uint32_t P = 1, W = 2, U = 4, RSVD = 8, ID = 16;
}

// One software TLB entry: a 4 KiB guest-virtual page, its guest-physical page, the
// host address of that page (nullptr for MMIO) and what may be done with it.
struct TlbEntry {
  uint64_t tag = 1;       // linear page address; 1 = invalid (never page aligned)
  uint8_t* host = nullptr;
  uint64_t phys = 0;
  uint32_t perms = 0;     // bit (access + 3*user): R W X for supervisor (0-2), user (3-5)
};

// The data-access view of a TLB slot for one privilege (supervisor or user): the
// page that reads and writes may access directly in host memory (1 when they may
// not: not present in the TLB, not permitted, not yet dirty, or MMIO), and what to
// add to a linear address in that page to get its host address.
struct FastTlbEntry {
  uint64_t read_tag = 1;
  uint64_t write_tag = 1;
  uintptr_t addend = 0;
};

class EmuCpu {
 public:
  EmuCpu(const MachineContext& machine, unsigned index);
  ~EmuCpu();
  EmuCpu(const EmuCpu&) = delete;
  EmuCpu& operator=(const EmuCpu&) = delete;

  EmuCpuState s;
  uint64_t next_rip = 0;         // set before each handler runs; branches overwrite it
  bool interrupt_shadow = false; // set by STI / MOV SS / POP SS for the next instruction
  uint64_t instructions = 0;     // retired instruction count
  bool apic_present = false;     // reported in CPUID once an emulated local APIC is attached

  // ---- the loop --------------------------------------------------------------
  // Runs until `stop` becomes true, or an exit (halt, shutdown, internal error).
  VcpuExit run(std::atomic<bool>& stop);
  void set_interrupt_source(InterruptSource* source) { irq_ = source; }
  // The emulated local APIC of this CPU (not owned): it serves IA32_APIC_BASE,
  // IA32_TSC_DEADLINE and CR8 (the TPR), and CPUID reports an APIC.
  void set_local_apic(LocalApic* apic) {
    local_apic_ = apic;
    apic_present = apic != nullptr;
  }
  LocalApic* local_apic() const { return local_apic_; }
  void set_tracer(Tracer* tracer) { tracer_ = tracer; }
  // HLT with interrupts enabled parks the loop in this hook (EmuVcpu waits on it).
  void set_halt_waiter(bool (*wait)(void* ctx), void* ctx) {
    halt_wait_ = wait;
    halt_ctx_ = ctx;
  }
  // Called when something outside run() changed the state (set_state).
  void state_changed();
  // Turns on the translation tier (jit.h): a block is translated once it has run
  // `threshold` times (1: the first time). Off unless called.
  void enable_jit(unsigned threshold, size_t arena_bytes = JitCache::kArenaBytes);
  bool jit_enabled() const { return jit_ != nullptr; }
  // Blocks translated so far, and instructions retired in translated code.
  uint64_t jit_translations = 0;
  uint64_t jit_instructions = 0;
  uint64_t jit_dispatches = 0;  // calls into translated code from the dispatcher

  // ---- block execution (threaded: each handler dispatches the next) -----------
  // While a block runs, RIP (s.rip) is brought up to date only at its end and when
  // something needs it: a general handler (threaded_general), a fault (run_blocks).
  const BlockInsn* block_pos = nullptr;  // the instruction running
  uint64_t block_fall = 0;               // the address after block_pos's instruction
  uint64_t rip_mask = ~0ull;             // 0xffffffff outside 64-bit mode
  // The address of the instruction at block_pos.
  uint64_t block_rip() const { return (block_fall - block_pos->d.len) & rip_mask; }
  // After the block instruction `d`: goes on with the next instruction of the block
  // unless this one branched (next_rip is not the fall-through address). After the
  // last one that is the block's end marker, which returns.
  [[gnu::always_inline]] void next_in_block(const DecodedInsn& d) {
    const BlockInsn* next = BlockInsn::of(d) + 1;
    block_pos = next;
    const uint64_t rip = next_rip;
    if (rip != block_fall) return;
    block_fall = next_rip = (rip + next->d.len) & rip_mask;
    next->run(*this, next->d);
  }

  // ---- mode ------------------------------------------------------------------
  CpuMode mode() const { return mode_; }
  bool long_mode() const { return s.efer & x86::EFER_LMA; }
  // Real-address mode (CR0.PE = 0): segment base = selector << 4, no descriptor
  // checks, interrupts through the interrupt vector table (SDM Vol. 3 chapter 20).
  bool real_mode() const { return !(s.cr0 & x86::CR0_PE); }
  bool user() const { return s.cpl == 3; }
  void update_mode();

  // ---- registers -------------------------------------------------------------
  uint64_t reg(unsigned r, unsigned size, bool rex) const {
    if (size == 1) {
      if (!rex && r >= 4 && r < 8) return (s.gpr[r - 4] >> 8) & 0xff;
      return s.gpr[r] & 0xff;
    }
    return s.gpr[r] & size_mask(size);
  }
  uint64_t reg(const DecodedInsn& d, unsigned r, unsigned size) const { return reg(r, size, d.rex_present()); }
  void set_reg(unsigned r, unsigned size, uint64_t v, bool rex) {
    switch (size) {
      case 1:
        if (!rex && r >= 4 && r < 8) {
          s.gpr[r - 4] = (s.gpr[r - 4] & ~0xff00ull) | ((v & 0xff) << 8);
        } else {
          s.gpr[r] = (s.gpr[r] & ~0xffull) | (v & 0xff);
        }
        break;
      case 2: s.gpr[r] = (s.gpr[r] & ~0xffffull) | (v & 0xffff); break;
      case 4: s.gpr[r] = v & 0xffffffffull; break;  // 32-bit results zero-extend (SDM Vol. 1 3.4.1.1)
      default: s.gpr[r] = v; break;
    }
  }
  void set_reg(const DecodedInsn& d, unsigned r, unsigned size, uint64_t v) { set_reg(r, size, v, d.rex_present()); }

  // ---- addresses -------------------------------------------------------------
  // The effective address (offset within the segment) of d's memory operand.
  [[gnu::always_inline]] uint64_t effective_address(const DecodedInsn& d) const {
    uint64_t a = static_cast<uint64_t>(d.disp);
    if (d.rip_relative) {
      a += next_rip;
    } else {
      a += s.gpr[d.base] + (s.gpr[d.index] << d.scale);  // gpr[kNoReg] is 0
    }
    return a & size_mask(d.asize);
  }
  // Also remembers the segment, so that a non-canonical address raises #SS rather
  // than #GP when it was formed through SS (SDM Vol. 3 6.15, interrupt 12).
  [[gnu::always_inline]] uint64_t linear(unsigned seg, uint64_t offset) const {
    last_seg_ = static_cast<uint8_t>(seg);
    return (seg_base_[seg] + offset) & la_mask_;
  }
  [[gnu::always_inline]] uint64_t operand_address(const DecodedInsn& d) const { return linear(d.seg, effective_address(d)); }

  // ---- memory (linear addresses, at the current privilege) -------------------
  uint64_t read(uint64_t la, unsigned size) { return read_as(la, size, user()); }
  void write(uint64_t la, unsigned size, uint64_t v) { write_as(la, size, v, user()); }
  // Implicit supervisor accesses (descriptor tables, TSS, IDT) ignore CPL.
  uint64_t read_sys(uint64_t la, unsigned size) { return read_as(la, size, false); }
  void write_sys(uint64_t la, unsigned size, uint64_t v) { write_as(la, size, v, false); }
  void read_bytes(uint64_t la, void* dst, unsigned size);
  void write_bytes(uint64_t la, const void* src, unsigned size);

  // The fast path: the page of the access's last byte is the slot's page (so the
  // access is within one page) and that page is RAM this privilege may read/write.
  [[gnu::always_inline]] uint64_t read_as(uint64_t la, unsigned size, bool as_user) {
    const FastTlbEntry& f = fast_tlb_[as_user][(la >> 12) & (kTlbSize - 1)];
    if (f.read_tag == ((la + size - 1) & ~0xfffull)) [[likely]]
      return load_host(reinterpret_cast<const uint8_t*>(la + f.addend), size);
    return read_slow(la, size, as_user);
  }
  [[gnu::always_inline]] void write_as(uint64_t la, unsigned size, uint64_t v, bool as_user) {
    const FastTlbEntry& f = fast_tlb_[as_user][(la >> 12) & (kTlbSize - 1)];
    if (f.write_tag == ((la + size - 1) & ~0xfffull)) [[likely]] {
      store_host(reinterpret_cast<uint8_t*>(la + f.addend), size, v);
      return;
    }
    write_slow(la, size, v, as_user);
  }
  // A host pointer for writing `size` bytes at `la` if they are in one RAM page
  // (faults as a write would); nullptr for MMIO and page-crossing accesses.
  [[gnu::always_inline]] uint8_t* writable_host_ptr(uint64_t la, unsigned size) {
    const FastTlbEntry& f = fast_tlb_[user()][(la >> 12) & (kTlbSize - 1)];
    if (f.write_tag == ((la + size - 1) & ~0xfffull)) [[likely]] return reinterpret_cast<uint8_t*>(la + f.addend);
    return writable_host_ptr_slow(la, size);
  }

  // ---- ModRM operands ----------------------------------------------------------
  uint64_t read_rm(const DecodedInsn& d, unsigned size) {
    if (d.mod == 3) return reg(d, d.rm, size);
    return read(operand_address(d), size);
  }
  void write_rm(const DecodedInsn& d, unsigned size, uint64_t v) {
    if (d.mod == 3) {
      set_reg(d, d.rm, size, v);
    } else {
      write(operand_address(d), size, v);
    }
  }
  // Read-modify-write of the ModRM operand: stores op(old) and returns old. With a
  // LOCK prefix on RAM the update is one atomic host operation (op may run again).
  template <typename Op>
  uint64_t rmw_rm(const DecodedInsn& d, unsigned size, Op op) {
    if (d.mod == 3) {
      uint64_t old = reg(d, d.rm, size);
      set_reg(d, d.rm, size, op(old));
      return old;
    }
    return rmw_mem(operand_address(d), size, d.has(kPrefixLock), op);
  }
  template <typename Op>
  uint64_t rmw_mem(uint64_t la, unsigned size, bool locked, Op op) {
    if (uint8_t* p = writable_host_ptr(la, size)) {
      if (locked) return atomic_update(p, size, op);
      uint64_t old = load_host(p, size);
      store_host(p, size, op(old) & size_mask(size));
      return old;
    }
    uint64_t old = read(la, size);
    write(la, size, op(old) & size_mask(size));
    return old;
  }

  // ---- stack -----------------------------------------------------------------
  unsigned stack_size() const { return mode_ == CpuMode::Long64 ? 8 : (s.seg[SS].db ? 4 : 2); }
  void push(uint64_t v, unsigned size) {
    uint64_t rsp = (s.gpr[RSP] - size) & size_mask(stack_size());
    write(linear(SS, rsp), size, v);
    set_sp(rsp);
  }
  uint64_t pop(unsigned size) {
    uint64_t rsp = s.gpr[RSP] & size_mask(stack_size());
    uint64_t v = read(linear(SS, rsp), size);
    set_sp(rsp + size);
    return v;
  }
  void set_sp(uint64_t v) { set_reg(RSP, stack_size(), v, true); }

  // ---- branches --------------------------------------------------------------
  void jump(uint64_t target, unsigned osize) {
    if (mode_ != CpuMode::Long64) target &= size_mask(osize >= 4 ? 4 : osize);
    next_rip = target;
  }

  // ---- faults ----------------------------------------------------------------
  [[noreturn]] void fault(uint8_t vector) { throw GuestFault{vector, false, 0}; }
  [[noreturn]] void fault(uint8_t vector, uint32_t error) { throw GuestFault{vector, true, error}; }
  [[noreturn]] void unimplemented(const DecodedInsn& d, const char* what = nullptr);
  // Requires CPL 0, else #GP(0).
  void require_cpl0() {
    if (s.cpl != 0) fault(kGP, 0);
  }
  // Delivers an exception or interrupt through the IDT (exceptions.cpp). `soft` is
  // set for INT n / INT3 / INTO (DPL check, return address after the instruction).
  // `is_fault` marks a fault-class exception: its saved RFLAGS has RF set (SDM Vol. 3 18.3.1.1).
  void deliver(uint8_t vector, bool has_error, uint32_t error, bool soft, uint64_t return_rip, bool is_fault = false);
  // The real-mode form of deliver(): through the interrupt vector table.
  void deliver_real_mode(uint8_t vector, uint64_t return_rip);
  // Loads a segment register in real mode: selector and base = selector << 4.
  void load_real_mode_segment(unsigned seg, uint16_t selector);
  uint64_t canonical(uint64_t la) const { return uint64_t(int64_t(la << 16) >> 16); }
  bool is_canonical(uint64_t la) const { return canonical(la) == la; }

  // ---- MMU ---------------------------------------------------------------------
  void flush_tlb();
  void flush_tlb_page(uint64_t la);
  // Translates for `access`, walking the page tables (setting A/D bits) on a TLB miss;
  // raises #PF / #GP as the architecture says. Returns the TLB entry.
  const TlbEntry& translate(uint64_t la, Access access, bool as_user);

  // ---- control registers, segments, descriptors -------------------------------
  void write_cr0(uint64_t v);
  void write_cr3(uint64_t v);
  void write_cr4(uint64_t v);
  void write_efer(uint64_t v);
  // Loads a data/stack segment register (MOV Sreg, POP Sreg, LDS...) with protected-mode checks.
  void load_data_segment(unsigned seg, uint16_t selector);
  // Reads the 8-byte descriptor for `selector` from the GDT/LDT; #GP(selector) if outside.
  uint64_t read_descriptor(uint16_t selector, uint64_t* high = nullptr);
  static Segment parse_descriptor(uint64_t desc, uint16_t selector);
  // Loads CS from a code descriptor (far jump/call/return, IRET, SYSCALL...).
  void set_cs(const Segment& cs, uint8_t cpl);
  void set_segment(unsigned seg, const Segment& value);
  // Far transfer to selector:offset through a code-segment descriptor (JMP/CALL far).
  void far_transfer(uint16_t selector, uint64_t offset, bool is_call, unsigned osize);

  // ---- ports -------------------------------------------------------------------
  uint64_t port_in(uint16_t port, unsigned size);
  void port_out(uint16_t port, unsigned size, uint64_t value);
  void check_io_privilege();

  // ---- MSRs --------------------------------------------------------------------
  bool read_msr(uint32_t index, uint64_t& value);
  bool write_msr(uint32_t index, uint64_t value);
  uint64_t read_tsc() const;

  const MachineContext& machine() const { return machine_; }
  unsigned index() const { return index_; }

  static constexpr unsigned kTlbSize = 1024;
  static uint32_t perm_bit(Access a, bool as_user) { return 1u << (unsigned(a) + (as_user ? 3 : 0)); }
  static uint64_t load_host(const uint8_t* p, unsigned size) {
    switch (size) {
      case 1: return *p;
      case 2: { uint16_t v; std::memcpy(&v, p, 2); return v; }
      case 4: { uint32_t v; std::memcpy(&v, p, 4); return v; }
      default: { uint64_t v; std::memcpy(&v, p, 8); return v; }
    }
  }
  static void store_host(uint8_t* p, unsigned size, uint64_t v) {
    switch (size) {
      case 1: *p = static_cast<uint8_t>(v); break;
      case 2: { uint16_t x = static_cast<uint16_t>(v); std::memcpy(p, &x, 2); break; }
      case 4: { uint32_t x = static_cast<uint32_t>(v); std::memcpy(p, &x, 4); break; }
      default: std::memcpy(p, &v, 8); break;
    }
  }
  template <typename Op>
  static uint64_t atomic_update(uint8_t* p, unsigned size, Op op) {
    switch (size) {
      case 1: return atomic_update_t<uint8_t>(p, op);
      case 2: return atomic_update_t<uint16_t>(p, op);
      case 4: return atomic_update_t<uint32_t>(p, op);
      default: return atomic_update_t<uint64_t>(p, op);
    }
  }
  template <typename T, typename Op>
  static uint64_t atomic_update_t(uint8_t* p, Op op) {
    T* t = reinterpret_cast<T*>(p);
    T old = __atomic_load_n(t, __ATOMIC_SEQ_CST);
    for (;;) {
      T desired = static_cast<T>(op(uint64_t(old)));
      if (__atomic_compare_exchange_n(t, &old, desired, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST)) return old;
    }
  }

 private:
  struct FetchedInsn;
  void check_crossing_canonical(uint64_t second_page);
  uint64_t read_slow(uint64_t la, unsigned size, bool as_user);
  uint8_t* writable_host_ptr_slow(uint64_t la, unsigned size);
  void write_slow(uint64_t la, unsigned size, uint64_t v, bool as_user);
  uint64_t phys_read(uint64_t pa, uint8_t* host, unsigned size);
  void phys_write(uint64_t pa, uint8_t* host, unsigned size, uint64_t v);
  const TlbEntry& walk(uint64_t la, Access access, bool as_user);
  const FetchedInsn& fetch();
  void step();
  void run_blocks();
  Block* build_block(uint64_t pa, const uint8_t* code, unsigned avail);
  JitLayout jit_layout() const;
  void translate_block(Block* b, const uint8_t* code);
  void run_translated(Block* b);
  void fill_chain(JitChainSlot* slot, const Block* b);
  void deliver_fault(const GuestFault& f);
  void finish_debug_flags(const DecodedInsn& d, uint64_t flags_before);
  // #GP(0), or #SS(0) when the last linear address was formed through SS.
  [[noreturn]] void non_canonical_fault() { fault(last_seg_ == SS ? kSS : kGP, 0); }
  void take_interrupt();

  MachineContext machine_;
  GuestMemory* mem_;
  unsigned index_;
  CpuMode mode_ = CpuMode::Prot32;
  uint64_t seg_base_[6] = {};
  uint64_t la_mask_ = 0xffffffff;
  TlbEntry tlb_[kTlbSize];
  FastTlbEntry fast_tlb_[2][kTlbSize];  // [user][slot], filled with tlb_ by walk()
  std::unique_ptr<FetchedInsn[]> fetched_;  // step()'s decoded instructions (emu_cpu.cpp)
  BlockCache blocks_;
  std::unique_ptr<JitCache> jit_;  // the translation tier, when enabled
  JitLayout jit_layout_;
  unsigned jit_threshold_ = 1;
  uint64_t jit_generation_ = 0;    // blocks_.generation() the translations belong to
  bool jit_skip_once_ = false;     // after a side exit: interpret the next instruction
  uint16_t jit_flags_ = 0;         // the status flags while translated code runs
  JitChainSlot* jit_chain_slot_ = nullptr;  // set by a translated exit that can chain
  // The slot of the last translated exit, to fill with the block that comes next
  // (valid for blocks_.generation() == pending_chain_generation_).
  JitChainSlot* pending_chain_ = nullptr;
  uint64_t pending_chain_generation_ = 0;
  uint64_t jit_scratch_ = 0;
  JitJumpCache jump_cache_;
  Block* last_block_ = nullptr;    // the block run last (a hint for the next lookup)
  uint64_t last_block_generation_ = 0;  // blocks_.generation() when last_block_ was set
  InterruptSource* irq_ = nullptr;
  LocalApic* local_apic_ = nullptr;
  Tracer* tracer_ = nullptr;
  bool (*halt_wait_)(void*) = nullptr;
  void* halt_ctx_ = nullptr;
  bool halted_ = false;
  mutable uint8_t last_seg_ = DS;  // segment of the last linear address formed (linear())
  bool single_step_ = false;       // RFLAGS.TF was set when the current instruction began
  int delivering_ = -1;  // vector being delivered (double-fault detection), -1 = none
  int poll_countdown_ = 0;  // instructions until the next interrupt/stop poll
  std::atomic<bool>* stop_ = nullptr;

 public:
  void request_poll() { poll_countdown_ = 0; }
  // HLT: parks until an interrupt is pending (or leaves run() when none can come).
  void do_hlt();
};

// "<address>: <bytes> <disassembly>" of the instruction at `rip` (trace.cpp).
std::string describe_insn(EmuCpu& cpu, uint64_t rip);

}  // namespace vireo::emu
