// The emulator's block cache: the byte compare that decides whether a block is still
// valid, lookup by physical address and mode, stale blocks dropped when their code
// changes, the arena emptying itself when full, and which instructions end a block.
#include <gtest/gtest.h>

#include <vector>

#include "cpu/emu/block_cache.h"

namespace vireo::emu {
namespace {

TEST(EmuBlockCache, SameBytesSeesEveryDifferingByte) {
  std::vector<uint8_t> a(Block::kMaxBytes), b(Block::kMaxBytes);
  for (unsigned i = 0; i < a.size(); ++i) a[i] = b[i] = static_cast<uint8_t>(i * 7 + 3);
  for (unsigned n = 0; n <= Block::kMaxBytes; ++n) {
    EXPECT_TRUE(same_bytes(a.data(), b.data(), n)) << n;
    for (unsigned i = 0; i < n; ++i) {
      b[i] ^= 0x40;
      EXPECT_FALSE(same_bytes(a.data(), b.data(), n)) << "length " << n << ", byte " << i;
      b[i] ^= 0x40;
    }
    if (n < Block::kMaxBytes) {  // a byte beyond the length does not count
      b[n] ^= 0x40;
      EXPECT_TRUE(same_bytes(a.data(), b.data(), n)) << n;
      b[n] ^= 0x40;
    }
  }
}

// A block of `count` NOPs (90) decoded from `code`.
Block* insert_nops(BlockCache& cache, uint64_t pa, CpuMode mode, const uint8_t* code, unsigned count) {
  std::vector<BlockInsn> insns(count + 1);
  for (unsigned i = 0; i < count; ++i) {
    insns[i].d.op = 0x90;
    insns[i].d.len = 1;
  }
  return cache.insert(pa, mode, insns.data(), count, code, count);
}

TEST(EmuBlockCache, FindsABlockByAddressModeAndBytes) {
  BlockCache cache;
  std::vector<uint8_t> code(16, 0x90);
  Block* b = insert_nops(cache, 0x1000, CpuMode::Long64, code.data(), 4);
  ASSERT_NE(b, nullptr);
  EXPECT_EQ(b->count, 4);
  EXPECT_EQ(b->length, 4);
  EXPECT_EQ(cache.find(0x1000, CpuMode::Long64, code.data()), b);
  EXPECT_EQ(cache.find(0x1001, CpuMode::Long64, code.data()), nullptr);
  EXPECT_EQ(cache.find(0x1000, CpuMode::Prot32, code.data()), nullptr);
  EXPECT_TRUE(BlockCache::valid(b, 0x1000, CpuMode::Long64, code.data()));
  EXPECT_FALSE(BlockCache::valid(nullptr, 0x1000, CpuMode::Long64, code.data()));
}

TEST(EmuBlockCache, ABlockWhoseCodeChangedIsDropped) {
  BlockCache cache;
  std::vector<uint8_t> code(16, 0x90);
  Block* b = insert_nops(cache, 0x2000, CpuMode::Long64, code.data(), 8);
  code[7] = 0xcc;  // the block's last byte
  EXPECT_FALSE(BlockCache::valid(b, 0x2000, CpuMode::Long64, code.data()));
  EXPECT_EQ(cache.find(0x2000, CpuMode::Long64, code.data()), nullptr);
  code[7] = 0x90;  // dropped from the table: even the old bytes no longer find it
  EXPECT_EQ(cache.find(0x2000, CpuMode::Long64, code.data()), nullptr);
  Block* again = insert_nops(cache, 0x2000, CpuMode::Long64, code.data(), 8);
  EXPECT_EQ(cache.find(0x2000, CpuMode::Long64, code.data()), again);
}

TEST(EmuBlockCache, AFullArenaEmptiesAndGoesOn) {
  BlockCache cache;
  std::vector<uint8_t> code(Block::kMaxBytes, 0x90);
  const uint64_t start = cache.generation();
  const size_t per_block = Block::footprint(Block::kMaxInsns, Block::kMaxInsns);
  const uint64_t fits = BlockCache::kArenaBytes / per_block;
  for (uint64_t i = 0; i < fits; ++i) insert_nops(cache, i * 64, CpuMode::Long64, code.data(), Block::kMaxInsns);
  EXPECT_EQ(cache.generation(), start);
  EXPECT_NE(cache.find(0, CpuMode::Long64, code.data()), nullptr);
  // One more does not fit: everything before it is gone, it is there.
  insert_nops(cache, fits * 64, CpuMode::Long64, code.data(), Block::kMaxInsns);
  EXPECT_EQ(cache.generation(), start + 1);
  EXPECT_EQ(cache.find(0, CpuMode::Long64, code.data()), nullptr);
  EXPECT_NE(cache.find(fits * 64, CpuMode::Long64, code.data()), nullptr);
}

DecodedInsn insn(unsigned map, uint8_t opcode, uint8_t modrm = 0, bool has_modrm = false) {
  DecodedInsn d;
  d.op = static_cast<uint16_t>(map << 8 | opcode);
  d.has_modrm = has_modrm;
  d.modrm = modrm;
  d.mod = modrm >> 6;
  return d;
}

TEST(EmuBlockCache, BlocksEndAfterUnconditionalTransfersAndSystemInstructions) {
  for (uint8_t op : {0xc3, 0xe8, 0xe9, 0xeb, 0xcf, 0xcd, 0xf4, 0xfb, 0x9d, 0x8e}) {
    EXPECT_TRUE(ends_block(insn(kMapOne, op))) << std::hex << unsigned(op);
  }
  EXPECT_TRUE(ends_block(insn(kMapOne, 0xff, 0xd0, true)));   // call rax
  EXPECT_TRUE(ends_block(insn(kMapOne, 0xff, 0xe0, true)));   // jmp rax
  EXPECT_FALSE(ends_block(insn(kMapOne, 0xff, 0xc0, true)));  // inc eax
  for (uint8_t op : {0x01, 0x05, 0x07, 0x22, 0x30, 0x0b}) {
    EXPECT_TRUE(ends_block(insn(kMap0F, op))) << std::hex << unsigned(op);
  }
  // Conditional branches and ordinary instructions do not.
  for (uint8_t op : {0x74, 0x75, 0xe2, 0x01, 0x89, 0x8b, 0x50, 0x58}) {
    EXPECT_FALSE(ends_block(insn(kMapOne, op))) << std::hex << unsigned(op);
  }
  EXPECT_FALSE(ends_block(insn(kMap0F, 0x84)));  // jz rel32
  EXPECT_FALSE(ends_block(insn(kMap0F, 0xa2)));  // cpuid
}

TEST(EmuBlockCache, LockIsTakenOnlyByReadModifyWriteMemoryForms) {
  EXPECT_TRUE(lockable(insn(kMapOne, 0x01, 0x00, true)));    // add [rax], eax
  EXPECT_FALSE(lockable(insn(kMapOne, 0x01, 0xc0, true)));   // add eax, eax
  EXPECT_FALSE(lockable(insn(kMapOne, 0x39, 0x00, true)));   // cmp [rax], eax
  EXPECT_FALSE(lockable(insn(kMapOne, 0x8b, 0x00, true)));   // mov eax, [rax]
  EXPECT_TRUE(lockable(insn(kMap0F, 0xb1, 0x00, true)));     // cmpxchg [rax], eax
  EXPECT_TRUE(lockable(insn(kMap0F, 0xc7, 0x08, true)));     // cmpxchg8b [rax]
  EXPECT_FALSE(lockable(insn(kMap0F, 0xc7, 0x30, true)));    // group 9 /6
}

}  // namespace
}  // namespace vireo::emu
