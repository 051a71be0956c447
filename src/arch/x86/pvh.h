// The start-of-day structures of Xen's x86/HVM direct boot ABI (PVH), as laid out in
// xen/include/public/arch-x86/hvm/start_info.h. The loader writes them into guest
// memory and passes the hvm_start_info address in ebx.
#pragma once

#include <cstddef>
#include <cstdint>

namespace vireo::x86 {

constexpr uint32_t kHvmStartMagic = 0x336ec578;
constexpr uint32_t kHvmStartInfoVersion = 1;  // version 1 adds the memory map fields

#pragma pack(push, 1)
struct HvmStartInfo {
  uint32_t magic;
  uint32_t version;
  uint32_t flags;
  uint32_t nr_modules;
  uint64_t modlist_paddr;   // array of HvmModlistEntry
  uint64_t cmdline_paddr;   // NUL-terminated command line
  uint64_t rsdp_paddr;      // ACPI RSDP, 0 if none
  uint64_t memmap_paddr;    // array of HvmMemmapTableEntry (version >= 1)
  uint32_t memmap_entries;
  uint32_t reserved;
};
struct HvmModlistEntry {
  uint64_t paddr;
  uint64_t size;
  uint64_t cmdline_paddr;
  uint64_t reserved;
};
struct HvmMemmapTableEntry {
  uint64_t addr;
  uint64_t size;
  uint32_t type;  // E820 types
  uint32_t reserved;
};
#pragma pack(pop)

static_assert(sizeof(HvmStartInfo) == 56);
static_assert(offsetof(HvmStartInfo, modlist_paddr) == 16);
static_assert(offsetof(HvmStartInfo, rsdp_paddr) == 32);
static_assert(offsetof(HvmStartInfo, memmap_entries) == 48);
static_assert(sizeof(HvmModlistEntry) == 32);
static_assert(sizeof(HvmMemmapTableEntry) == 24);

}  // namespace vireo::x86
