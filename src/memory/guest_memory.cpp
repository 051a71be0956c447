#include "memory/guest_memory.h"

#include <sys/mman.h>

#include <cerrno>

#include "base/size.h"

namespace vireo {

GuestMemory::GuestMemory(uint64_t ram_bytes) : ram_size_(ram_bytes) {
  if (ram_bytes < MiB) fail("memory size {} bytes is too small: a guest needs at least 1M", ram_bytes);
  if (ram_bytes % 4096 != 0) fail("memory size {} bytes is not a multiple of 4K", ram_bytes);
  // 1 TiB of guest RAM is far beyond any sane use here; it also keeps every
  // guest-physical address below 2^41 so address arithmetic cannot wrap.
  if (ram_bytes > 1024 * GiB) fail("memory size {} bytes is too large (the limit is 1T)", ram_bytes);
  // MAP_NORESERVE: the host commits pages only as the guest touches them.
  void* p = ::mmap(nullptr, ram_bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (p == MAP_FAILED) {
    fail("cannot allocate {} MiB of guest memory: {} (try a smaller --memory)", ram_bytes / MiB,
         errno == ENOMEM ? "the host does not have that much" : "mmap failed");
  }
  base_ = static_cast<uint8_t*>(p);
  ::madvise(base_, ram_bytes, MADV_MERGEABLE);  // best effort: KSM can share identical pages
  uint64_t low = ram_bytes < kMmioHoleStart ? ram_bytes : kMmioHoleStart;
  regions_.push_back({0, low, base_});
  if (ram_bytes > low) regions_.push_back({kHighRamStart, ram_bytes - low, base_ + low});
}

GuestMemory::~GuestMemory() {
  if (base_) ::munmap(base_, ram_size_);
}

const uint8_t* GuestMemory::host_ptr(uint64_t gpa, uint64_t len) const noexcept {
  if (len == 0) len = 1;
  for (const MemoryRegion& r : regions_) {
    if (gpa >= r.gpa && gpa - r.gpa < r.size && len <= r.size - (gpa - r.gpa)) return r.host + (gpa - r.gpa);
  }
  return nullptr;
}

uint8_t* GuestMemory::host_ptr(uint64_t gpa, uint64_t len) noexcept {
  return const_cast<uint8_t*>(static_cast<const GuestMemory*>(this)->host_ptr(gpa, len));
}

void GuestMemory::read(uint64_t gpa, void* dst, uint64_t len) const {
  if (len == 0) return;
  const uint8_t* p = host_ptr(gpa, len);
  if (!p) throw GuestMemoryError(fmt::format("guest-physical range {:#x}+{:#x} is outside guest RAM", gpa, len));
  std::memcpy(dst, p, len);
}

void GuestMemory::write(uint64_t gpa, const void* src, uint64_t len) {
  if (len == 0) return;
  uint8_t* p = host_ptr(gpa, len);
  if (!p) throw GuestMemoryError(fmt::format("guest-physical range {:#x}+{:#x} is outside guest RAM", gpa, len));
  std::memcpy(p, src, len);
}

void GuestMemory::fill(uint64_t gpa, uint8_t value, uint64_t len) {
  if (len == 0) return;
  uint8_t* p = host_ptr(gpa, len);
  if (!p) throw GuestMemoryError(fmt::format("guest-physical range {:#x}+{:#x} is outside guest RAM", gpa, len));
  std::memset(p, value, len);
}

}  // namespace vireo
