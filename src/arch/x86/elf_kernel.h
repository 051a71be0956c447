// ElfKernel: what a loader needs from an ELF kernel image (a vmlinux): its loadable
// segments by physical address and the PVH entry point from its Xen note. Parsing
// treats the file as hostile: every offset and size is checked against the file.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

namespace vireo::x86 {

// Xen's ELF note (xen/include/public/elfnote.h): owner "Xen", type 18, a 32-bit
// physical entry point for the HVM direct boot ABI (PVH). Linux writes it as 4 or 8 bytes.
constexpr uint32_t kXenElfnotePhys32Entry = 18;

struct ElfLoadSegment {
  uint64_t file_offset;
  uint64_t file_size;
  uint64_t paddr;
  uint64_t mem_size;  // >= file_size; the rest is zeroed
};

struct ElfKernel {
  bool is_64bit = false;
  std::vector<ElfLoadSegment> segments;  // PT_LOAD entries with a nonzero mem_size
  std::optional<uint64_t> pvh_entry;     // from the first Xen PHYS32_ENTRY note
};

bool has_elf_magic(const std::vector<uint8_t>& image);

// Parses the headers of an x86 ELF image. Throws vireo::Error naming the problem when the
// headers are malformed (out of the file, inconsistent sizes, not little-endian x86).
// Does not validate physical addresses; the loader does that against guest RAM.
ElfKernel parse_elf_kernel(const std::vector<uint8_t>& image);

}  // namespace vireo::x86
