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

#include <cstdint>
#include <cstring>

#include "cpu/emu/decoder.h"

namespace vireo::emu {

class EmuCpu;
using Handler = void (*)(EmuCpu&, const DecodedInsn&);

struct BlockInsn {
  Handler handler;
  DecodedInsn d;
};

struct Block {
  static constexpr unsigned kMaxInsns = 16;
  static constexpr unsigned kMaxBytes = 128;

  uint64_t phys;  // guest-physical address of the first byte
  CpuMode mode;   // the mode the instructions were decoded in
  uint8_t count;  // instructions; 0 = empty slot
  uint8_t length; // bytes covered
  uint8_t bytes[kMaxBytes];
  BlockInsn insns[kMaxInsns];

  // Whether this slot holds the block at `pa` decoded in `m` and memory at `code`
  // still holds its bytes.
  bool matches(uint64_t pa, CpuMode m, const uint8_t* code) const {
    return count != 0 && phys == pa && mode == m && std::memcmp(bytes, code, length) == 0;
  }
};

// A direct-mapped table of blocks. Its memory is reserved up front and becomes
// resident only as slots are used.
class BlockCache {
 public:
  static constexpr unsigned kSlotBits = 13;

  BlockCache();
  ~BlockCache();
  BlockCache(const BlockCache&) = delete;
  BlockCache& operator=(const BlockCache&) = delete;

  Block& slot(uint64_t pa) { return slots_[(pa * 0x9e3779b97f4a7c15ull) >> (64 - kSlotBits)]; }

 private:
  Block* slots_;
};

// Whether execution must leave the block after `d` (see above).
bool ends_block(const DecodedInsn& d);

// Whether LOCK may prefix `d` (SDM Vol. 2 "LOCK"); LOCK anywhere else is #UD.
bool lockable(const DecodedInsn& d);

// The handler for `d` decoded in `mode`: a form-specific fast handler where one
// exists (exec_fast.cpp), else the opcode's general handler from handler_table().
Handler select_handler(const DecodedInsn& d, CpuMode mode);

}  // namespace vireo::emu
