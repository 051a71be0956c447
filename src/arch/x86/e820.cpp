// build_e820: the machine's memory map, as the zero page and PVH start_info report it.
#include "arch/x86/layout.h"
#include "arch/x86/linux_boot.h"

namespace vireo::x86 {

std::vector<E820Entry> build_e820(const GuestMemory& mem) {
  std::vector<E820Entry> map;
  // Conventional memory below the (empty) EBDA; the BIOS area up to 1 MiB holds the
  // ACPI tables and is reserved; low RAM continues from 1 MiB.
  map.push_back({0, kEbdaStart, kE820Ram});
  map.push_back({kEbdaStart, kKernelLoadAddr - kEbdaStart, kE820Reserved});
  if (mem.low_ram_end() > kKernelLoadAddr) {
    map.push_back({kKernelLoadAddr, mem.low_ram_end() - kKernelLoadAddr, kE820Ram});
  }
  for (size_t i = 1; i < mem.regions().size(); ++i) {
    const MemoryRegion& high = mem.regions()[i];
    map.push_back({high.gpa, high.size, kE820Ram});
  }
  return map;
}

}  // namespace vireo::x86
