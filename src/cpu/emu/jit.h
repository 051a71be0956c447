// The emulator's translation tier: hot blocks of 64-bit code become x86-64 host
// code, so that the loops where a guest spends its time run at a few host
// instructions per guest instruction instead of a handler dispatch each.
//
// The guest and the host share one instruction set, and the translator uses that:
// an integer instruction is re-encoded with its guest registers replaced by host
// registers and its memory operand by [host address], and then the host CPU
// executes it, status flags included. What the translator adds is what the
// interpreter would do around it:
//   - guest registers live in host registers for the length of a block (loaded at
//     its entry, stored at every exit);
//   - every memory operand goes through the interpreter's per-privilege TLB view
//     (one tag compare); anything else — a TLB miss, a page not yet dirty, MMIO, a
//     page-crossing or non-canonical address — is a side exit: the guest state is
//     stored as it was before the instruction and the interpreter runs it;
//   - the guest's status flags are kept in the host's RFLAGS while the block's own
//     instructions run, and saved (LAHF / SETO) before the translator's bookkeeping
//     clobbers them;
//   - a block that branches back to its own start loops in host code, with the
//     interrupt poll counted down and the block's bytes compared with guest memory
//     on each turn (so code written meanwhile is seen, as the interpreter sees it at
//     a block entry);
//   - exits go straight on into the next block's translation (chaining, and a jump
//     cache for computed targets) after the checks a block entry makes (JitChainSlot).
// SSE/SSE2 moves and integer/logic operations run on host XMM registers loaded from
// and stored to the guest's around each instruction. Instructions outside the
// translated set (system instructions, string operations, SSE floating point, IDIV,
// high-byte registers, ...) end the translated prefix of a block: the interpreter runs
// that one instruction (or a run of them as an interpreted block). Translated code
// never raises a guest exception itself; the interpreter does, after a side exit,
// with exact state.
#pragma once

#include <cstddef>
#include <cstdint>

namespace vireo::emu {

struct Block;
class EmuCpu;

// Translated code: called with the EmuCpu; returns the instructions it retired
// after its last loop turn (the turns themselves are counted down in the poll
// counter), with kJitSideExit set when it stopped before an instruction the
// interpreter must run. It has stored RIP, the registers and the flags.
using JitEntry = uint32_t (*)(EmuCpu*);
constexpr uint32_t kJitSideExit = 1u << 31;

// Where translated code finds the CPU's fields: byte offsets from the EmuCpu.
struct JitLayout {
  int32_t gpr = 0;          // uint64_t[16]: RAX..R15
  int32_t rip = 0;          // uint64_t
  int32_t fast_tlb[2] = {}; // FastTlbEntry[kTlbSize]: supervisor, user view
  int32_t fs_base = 0, gs_base = 0;
  int32_t poll = 0;         // int: instructions until the next interrupt poll
  int32_t flags = 0;        // uint16_t: the status flags as LAHF (high byte) and SETO (low byte) leave them
  int32_t tlb = 0;          // TlbEntry[kTlbSize]: the full TLB (code pages of chained blocks)
  int32_t chain = 0;        // JitChainSlot*: the slot of the last exit that tried to chain
  int32_t jump_cache = 0;   // JitJumpCache: translations by guest address, for computed exits
  int32_t scratch = 0;      // uint64_t the translated code may keep a value in
  int32_t xmm = 0;          // the guest's XMM registers, 16 bytes each
  int32_t cr0 = 0, cr4 = 0; // uint64_t
};

// Chaining: an exit of translated code to a fixed guest address goes straight on into
// the translation of the block there, without returning to the dispatcher, once the
// dispatcher has filled the exit's slot. Before jumping, the exit counts its
// instructions against the interrupt poll and, for a block in another page, checks
// that the TLB still maps that page to the block's physical page, executable at this
// privilege; the chained block checks its own bytes against guest memory at its
// chained entry. A slot whose block went away is refilled, or left empty.
struct JitChainSlot {
  uint64_t entry;       // the target translation's chained entry, 0 while none
  uint64_t target_rip;  // the guest address the exit leaves to
  uint64_t phys_page;   // the target block's physical page (checked for another page)
  uint64_t user;        // the privilege the exit's code was translated for
};

// Exits to a computed address (RET, indirect JMP/CALL) look up the translation there
// in a small direct-mapped cache of the dispatcher's recent blocks, then check the
// TLB and the block's bytes as a chained exit into another page does.
struct JitJumpEntry {
  uint64_t rip = 1;        // guest address (1: empty, never a block's address... in 64-bit code it could be,
                           // but then phys_page and the TLB check still have to agree)
  uint64_t phys_page = 0;  // the block's physical page
  uint64_t entry = 0;      // its translation's chained entry
  uint64_t user = 2;       // the privilege it was translated for (2: none)
};
struct JitJumpCache {
  static constexpr unsigned kEntries = 4096;
  static unsigned index(uint64_t rip) { return unsigned((rip ^ (rip >> 10)) & (kEntries - 1)); }
  JitJumpEntry e[kEntries];
  void clear() {
    for (JitJumpEntry& x : e) x = JitJumpEntry{};
  }
};
static_assert(sizeof(JitJumpEntry) == 32);

struct JitCode {
  JitEntry entry = nullptr;     // the entry called by the dispatcher
  const void* chained = nullptr;  // the entry chained exits jump to (registers stored, flags in memory)
  // No translation because the block's first instruction does not translate, but later
  // ones may: the interpreter should run that one alone and go on from the next.
  bool step_first = false;
};


// The status flags between EmuCpu's RFLAGS form and the translated code's.
inline uint16_t jit_flags_from_rflags(uint64_t f) {
  return static_cast<uint16_t>(((f & 0xd5) << 8) | ((f >> 11) & 1));
}
inline uint64_t rflags_from_jit_flags(uint16_t j) { return ((j >> 8) & 0xd5) | (uint64_t(j & 1) << 11); }

class JitCache {
 public:
  static constexpr size_t kArenaBytes = size_t(32) << 20;

  explicit JitCache(size_t arena_bytes = kArenaBytes);
  ~JitCache();
  JitCache(const JitCache&) = delete;
  JitCache& operator=(const JitCache&) = delete;

  // Whether this host can run translated code (x86-64 with LAHF in 64-bit mode,
  // executable memory).
  static bool host_supported();

  // Translates the block `b`, whose first instruction is at guest-virtual `rip`
  // and whose bytes are at `code` in host memory, for code running at CPL 3
  // (`user`) or below. nullptr when not even its first instruction translates or
  // the arena is full (clear() and retry later).
  JitCode translate(const Block& b, uint64_t rip, const uint8_t* code, bool user, const JitLayout& layout);
  // Forgets every translation (their Blocks must be gone or forget theirs).
  void clear() {
    used_ = 0;
    full_ = false;
  }
  // Whether a translation failed for want of room: clear() before the next.
  bool full() const { return full_; }
  size_t used() const { return used_; }

 private:
  uint8_t* arena_ = nullptr;
  size_t size_ = 0;
  size_t used_ = 0;
  bool full_ = false;
};

}  // namespace vireo::emu
