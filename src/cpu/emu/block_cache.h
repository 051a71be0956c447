// The block cache: decoded straight-line runs of guest code ("blocks"), so that the
// interpreter decodes each instruction once and, per block, looks up the code page
// in the TLB once, finds the block with one hash probe and checks its bytes with
// one compare, instead of doing all three for every instruction.
//
// A block starts at a guest-physical address and holds up to kMaxInsns decoded
// instructions with the handler chosen for each (select_handler). It ends after an
// unconditional control transfer or an instruction that changes what the block
// runner relies on (the mode, the code page's translation, the interrupt shadow,
// TF), before an instruction that does not decode, and at the end of the page.
// Conditional branches do not end it: a taken branch leaves it early.
//
// Blocks are keyed by physical address and keep a copy of their bytes; a block is
// used only while memory still holds those bytes, so code written by this CPU,
// another vCPU or a device is seen the next time a block is entered, with no write
// tracking. (A store into the block that is running takes effect when a block is
// next entered — that is, at the next taken branch or block end.)
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

#include <emmintrin.h>

#include "cpu/emu/decoder.h"
#include "cpu/emu/jit.h"

namespace vireo::emu {

class EmuCpu;
using Handler = void (*)(EmuCpu&, const DecodedInsn&);

// One instruction of a block. `run` executes it and then, threaded, the next one
// of the block (EmuCpu::next_in_block); `impl` is the instruction's own handler
// where `run` is the general wrapper around it.
struct BlockInsn {
  Handler run;
  Handler impl;
  DecodedInsn d;

  // The BlockInsn whose `d` this is.
  static const BlockInsn* of(const DecodedInsn& insn) {
    return reinterpret_cast<const BlockInsn*>(reinterpret_cast<const char*>(&insn) - offsetof(BlockInsn, d));
  }
};

// A block in the cache's arena: this header, then `count` BlockInsns and an end
// marker (a BlockInsn whose handler only returns, so that running off the block's
// end needs no test per instruction), then a copy of the `length` bytes they were
// decoded from.
struct Block {
  static constexpr unsigned kMaxInsns = 16;
  static constexpr unsigned kMaxBytes = 128;

  uint64_t phys;  // guest-physical address of the first byte
  Block* next;    // the next block in the same hash bucket
  // The blocks that last ran after this one (most recent first): tried before the
  // hash table, and used only after the same checks as a hash hit.
  Block* successors[2];
  // Its translation (jit.h) for code at guest-virtual jit_rip running at CPL 3
  // (jit_user) or below, once it has run often enough (heat).
  JitEntry jit;
  const void* jit_chained;  // its entry for chained exits (JitCode::chained)
  uint64_t jit_rip;
  uint32_t heat;
  bool jit_user;
  bool jit_step_first;  // untranslated: its first instruction runs alone (JitCode::step_first)
  CpuMode mode;   // the mode the instructions were decoded in
  uint8_t count;  // instructions (1..kMaxInsns)
  uint8_t length; // bytes covered

  BlockInsn* insns() { return reinterpret_cast<BlockInsn*>(this + 1); }
  const BlockInsn* insns() const { return reinterpret_cast<const BlockInsn*>(this + 1); }
  const uint8_t* bytes() const { return reinterpret_cast<const uint8_t*>(insns() + count + 1); }
  static size_t footprint(unsigned count, unsigned length) {
    return (sizeof(Block) + (count + 1) * sizeof(BlockInsn) + length + 7) & ~size_t(7);
  }
};
static_assert(alignof(BlockInsn) <= 8 && sizeof(Block) % alignof(BlockInsn) == 0);

// Whether the n bytes at a and b are equal (n <= Block::kMaxBytes; exactly n bytes
// of each are read): 16 at a time, the last chunk overlapping the one before.
inline bool same_bytes(const uint8_t* a, const uint8_t* b, unsigned n) {
  auto same16 = [](const uint8_t* x, const uint8_t* y) {
    const __m128i vx = _mm_loadu_si128(reinterpret_cast<const __m128i*>(x));
    const __m128i vy = _mm_loadu_si128(reinterpret_cast<const __m128i*>(y));
    return _mm_movemask_epi8(_mm_cmpeq_epi8(vx, vy)) == 0xffff;
  };
  auto word = [](const uint8_t* p) {
    uint64_t v;
    std::memcpy(&v, p, 8);
    return v;
  };
  if (n >= 16) {
    for (unsigned i = 0; i + 16 < n; i += 16) {
      if (!same16(a + i, b + i)) return false;
    }
    return same16(a + n - 16, b + n - 16);
  }
  if (n >= 8) return word(a) == word(b) && word(a + n - 8) == word(b + n - 8);
  for (unsigned i = 0; i < n; ++i) {
    if (a[i] != b[i]) return false;
  }
  return true;
}

// Blocks live in an arena (reserved up front, resident only as it fills) and are
// found through a hash table of chains. When the arena is full the whole cache is
// emptied and refills with what runs from then on.
class BlockCache {
 public:
  static constexpr unsigned kBucketBits = 16;
  static constexpr size_t kArenaBytes = size_t(32) << 20;

  BlockCache();
  ~BlockCache();
  BlockCache(const BlockCache&) = delete;
  BlockCache& operator=(const BlockCache&) = delete;

  // The block at `pa` decoded in `mode` if memory at `code` still holds its bytes;
  // a block there whose bytes changed is dropped. nullptr when there is none.
  Block* find(uint64_t pa, CpuMode mode, const uint8_t* code) {
    Block** link = &buckets_[bucket(pa)];
    for (Block* b = *link; b; link = &b->next, b = b->next) {
      if (b->phys == pa && b->mode == mode) {
        if (same_bytes(b->bytes(), code, b->length)) return b;
        *link = b->next;  // stale: its code was overwritten
        return nullptr;
      }
    }
    return nullptr;
  }
  // Copies a decoded block (insns[0..count] with its end marker, from `length`
  // bytes at `code`) into the
  // cache and returns it.
  Block* insert(uint64_t pa, CpuMode mode, const BlockInsn* insns, unsigned count, const uint8_t* code,
                unsigned length);
  // Whether `b` is the block at `pa` decoded in `mode` and memory at `code` still
  // holds its bytes.
  static bool valid(const Block* b, uint64_t pa, CpuMode mode, const uint8_t* code) {
    return b && b->phys == pa && b->mode == mode && same_bytes(b->bytes(), code, b->length);
  }
  // Empties the cache; every Block pointer held outside it becomes invalid, which
  // generation() tells.
  void clear();
  uint64_t generation() const { return generation_; }

 private:
  static unsigned bucket(uint64_t pa) { return unsigned((pa * 0x9e3779b97f4a7c15ull) >> (64 - kBucketBits)); }

  Block** buckets_;
  uint8_t* arena_;
  size_t used_ = 0;
  uint64_t generation_ = 0;
};

// Whether execution must leave the block after `d` (see above).
bool ends_block(const DecodedInsn& d);

// Whether LOCK may prefix `d` (SDM Vol. 2 "LOCK"); LOCK anywhere else is #UD.
bool lockable(const DecodedInsn& d);

// Chooses bi's handlers for bi.d decoded in `mode`: a form-specific fast handler
// where one exists (exec_fast.cpp), else the opcode's general handler from
// handler_table(), each followed by the dispatch of the block's next instruction.
void select_handlers(BlockInsn& bi, CpuMode mode);

}  // namespace vireo::emu
