#include "cpu/emu/block_cache.h"

#include <sys/mman.h>

#include <new>

namespace vireo::emu {

namespace {
void* reserve(size_t bytes) {
  void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (p == MAP_FAILED) throw std::bad_alloc();
  return p;
}
constexpr size_t kBucketBytes = sizeof(Block*) << BlockCache::kBucketBits;
}  // namespace

BlockCache::BlockCache()
    : buckets_(static_cast<Block**>(reserve(kBucketBytes))), arena_(static_cast<uint8_t*>(reserve(kArenaBytes))) {}

BlockCache::~BlockCache() {
  munmap(buckets_, kBucketBytes);
  munmap(arena_, kArenaBytes);
}

void BlockCache::clear() {
  std::memset(buckets_, 0, kBucketBytes);
  used_ = 0;
  ++generation_;
}

Block* BlockCache::insert(uint64_t pa, CpuMode mode, const BlockInsn* insns, unsigned count, const uint8_t* code,
                          unsigned length) {
  const size_t need = Block::footprint(count, length);
  if (used_ + need > kArenaBytes) clear();
  Block* b = reinterpret_cast<Block*>(arena_ + used_);
  used_ += need;
  b->phys = pa;
  b->mode = mode;
  b->count = static_cast<uint8_t>(count);
  b->length = static_cast<uint8_t>(length);
  b->successors[0] = b->successors[1] = nullptr;
  b->jit = nullptr;
  b->jit_chained = nullptr;
  b->jit_rip = 0;
  b->heat = 0;
  b->jit_user = false;
  b->jit_step_first = false;
  std::memcpy(static_cast<void*>(b->insns()), insns, (count + 1) * sizeof(BlockInsn));
  std::memcpy(const_cast<uint8_t*>(b->bytes()), code, length);
  Block*& head = buckets_[bucket(pa)];
  b->next = head;
  head = b;
  return b;
}

bool ends_block(const DecodedInsn& d) {
  const unsigned r = (d.modrm >> 3) & 7;
  if (d.map() == kMapOne) {
    switch (d.opcode()) {
      case 0x07: case 0x17: case 0x1f:  // POP ES/SS/DS (SS: interrupt shadow)
      case 0x8e:                        // MOV Sreg (SS: interrupt shadow)
      case 0x9a: case 0xea:             // far CALL/JMP
      case 0x9d:                        // POPF (may set TF)
      case 0xc2: case 0xc3: case 0xca: case 0xcb: case 0xcf:  // RET, RETF, IRET
      case 0xcc: case 0xcd: case 0xce: case 0xf1:              // INT3, INT n, INTO, INT1
      case 0xe8: case 0xe9: case 0xeb:  // CALL, JMP
      case 0xf4:                        // HLT
      case 0xfb:                        // STI (interrupt shadow)
        return true;
      case 0xff: return r >= 2 && r <= 5;  // indirect and far CALL/JMP
      default: return false;
    }
  }
  if (d.map() == kMap0F) {
    switch (d.opcode()) {
      case 0x00: case 0x01:             // descriptor tables, INVLPG, SWAPGS, ...
      case 0x05: case 0x07:             // SYSCALL, SYSRET
      case 0x06: case 0x08: case 0x09:  // CLTS, INVD, WBINVD
      case 0x0b: case 0xb9: case 0xff:  // UD2, UD1, UD0
      case 0x20: case 0x21: case 0x22: case 0x23:  // MOV CR/DR
      case 0x30:                        // WRMSR
      case 0x34: case 0x35:             // SYSENTER, SYSEXIT
      case 0xaa:                        // RSM
        return true;
      default: return false;
    }
  }
  return false;
}

bool lockable(const DecodedInsn& d) {
  if (!d.mem()) return false;
  uint8_t op = d.opcode();
  unsigned r = (d.modrm >> 3) & 7;
  if (d.map() == kMapOne) {
    if (op < 0x40 && (op & 7) < 2 && (op & 0x38) != 0x38) return true;  // ADD..XOR Eb/Ev,G (not CMP)
    if (op >= 0x80 && op <= 0x83) return r != 7;
    if (op == 0x86 || op == 0x87) return true;
    if (op == 0xf6 || op == 0xf7) return r == 2 || r == 3;
    if (op == 0xfe || op == 0xff) return r < 2;
    return false;
  }
  if (d.map() == kMap0F) {
    switch (op) {
      case 0xab: case 0xb3: case 0xbb: case 0xb0: case 0xb1: case 0xc0: case 0xc1: return true;
      case 0xba: return r >= 4;
      case 0xc7: return r == 1;
      default: return false;
    }
  }
  return false;
}

}  // namespace vireo::emu
