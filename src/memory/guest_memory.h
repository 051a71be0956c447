// GuestMemory: the guest-physical RAM of one VM.
//
// RAM is one anonymous host mapping. Guest-physical layout (x86 PC):
//   [0, min(ram, 3 GiB))           low RAM
//   [3 GiB, 4 GiB)                 MMIO hole (LAPIC, IOAPIC, virtio-mmio, ...)
//   [4 GiB, 4 GiB + rest)          high RAM, when ram > 3 GiB
// A guest-physical address becomes a host pointer only here, after a range check.
// Everything a guest hands the monitor (descriptor addresses, lengths) goes through
// these checks; a bad address gives nullptr or a GuestMemoryError, never a host access
// outside the mapping.
#pragma once

#include <cstdint>
#include <cstring>
#include <type_traits>
#include <vector>

#include "base/error.h"

namespace vireo {

struct MemoryRegion {
  uint64_t gpa;    // guest-physical start
  uint64_t size;   // bytes
  uint8_t* host;   // host address of gpa
};

class GuestMemory {
 public:
  static constexpr uint64_t kMmioHoleStart = 0xC0000000ull;  // 3 GiB
  static constexpr uint64_t kHighRamStart = 0x100000000ull;  // 4 GiB

  // Maps `ram_bytes` of RAM (a multiple of 4 KiB, at least 1 MiB). Throws vireo::Error
  // when the host cannot provide it.
  explicit GuestMemory(uint64_t ram_bytes);
  ~GuestMemory();
  GuestMemory(const GuestMemory&) = delete;
  GuestMemory& operator=(const GuestMemory&) = delete;

  uint64_t ram_size() const { return ram_size_; }
  const std::vector<MemoryRegion>& regions() const { return regions_; }
  // End of low RAM (exclusive): min(ram, 3 GiB).
  uint64_t low_ram_end() const { return regions_.front().gpa + regions_.front().size; }

  // Host pointer for [gpa, gpa+len) if that range lies entirely in one RAM region,
  // else nullptr. len == 0 is treated as 1.
  uint8_t* host_ptr(uint64_t gpa, uint64_t len = 1) noexcept;
  const uint8_t* host_ptr(uint64_t gpa, uint64_t len = 1) const noexcept;
  bool is_ram(uint64_t gpa, uint64_t len = 1) const noexcept { return host_ptr(gpa, len) != nullptr; }

  // Checked copies; throw GuestMemoryError naming the range when it is not RAM.
  void read(uint64_t gpa, void* dst, uint64_t len) const;
  void write(uint64_t gpa, const void* src, uint64_t len);
  void fill(uint64_t gpa, uint8_t value, uint64_t len);

  template <typename T>
  T read_obj(uint64_t gpa) const {
    static_assert(std::is_trivially_copyable_v<T>);
    T v;
    read(gpa, &v, sizeof(T));
    return v;
  }
  template <typename T>
  void write_obj(uint64_t gpa, const T& v) {
    static_assert(std::is_trivially_copyable_v<T>);
    write(gpa, &v, sizeof(T));
  }

 private:
  uint8_t* base_ = nullptr;
  uint64_t ram_size_ = 0;
  std::vector<MemoryRegion> regions_;
};

}  // namespace vireo
