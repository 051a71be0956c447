// load_pvh_elf: an ELF vmlinux entered through Xen's HVM direct boot ABI (PVH): its
// PT_LOAD segments at their physical addresses, an hvm_start_info with the command
// line, initrd module and memory map, and a vCPU in 32-bit protected mode without
// paging at the PHYS32_ENTRY note's address.
#include <algorithm>
#include <cassert>

#include "arch/x86/boot_cpu.h"
#include "arch/x86/elf_kernel.h"
#include "arch/x86/kernel_loading.h"
#include "arch/x86/layout.h"
#include "arch/x86/pvh.h"
#include "base/error.h"

namespace vireo::x86 {

namespace {

// The start-info page at kBootParamsAddr: hvm_start_info, then the module list, then the
// memory map.
constexpr uint64_t kStartInfoAddr = kBootParamsAddr;
constexpr uint64_t kModlistAddr = kBootParamsAddr + 0x40;
constexpr uint64_t kMemmapAddr = kBootParamsAddr + 0x80;
constexpr uint64_t kStartInfoPageEnd = kBootParamsAddr + 0x1000;
static_assert(kStartInfoAddr + sizeof(HvmStartInfo) <= kModlistAddr);
static_assert(kModlistAddr + sizeof(HvmModlistEntry) <= kMemmapAddr);

}  // namespace

LinuxBootResult load_pvh_elf(GuestMemory& mem, const LinuxBootSpec& spec) {
  const ElfKernel elf = parse_elf_kernel(*spec.kernel);
  if (!elf.pvh_entry) fail("an ELF kernel needs a PVH entry note (CONFIG_PVH)");
  if (elf.segments.empty()) fail("ELF file has no loadable segments");

  // Validate every segment before writing anything: inside low RAM, above the boot area.
  uint64_t kernel_end = 0;
  for (size_t i = 0; i < elf.segments.size(); ++i) {
    const ElfLoadSegment& seg = elf.segments[i];
    if (seg.paddr < kKernelLoadAddr) {
      fail("ELF segment {} at {:#x} overlaps the boot area below 1 MiB; the kernel must be linked above 1 MiB", i,
           seg.paddr);
    }
    if (seg.mem_size > GuestMemory::kMmioHoleStart || seg.paddr > GuestMemory::kMmioHoleStart - seg.mem_size) {
      fail("ELF segment {} at {:#x} (+{:#x} bytes) lies beyond the 3 GiB of low RAM a kernel can be loaded into", i,
           seg.paddr, seg.mem_size);
    }
    kernel_end = std::max(kernel_end, seg.paddr + seg.mem_size);
  }
  if (kernel_end > mem.low_ram_end()) fail_needs_memory(mem, kernel_end, "for its ELF segments");
  const uint64_t entry = *elf.pvh_entry;
  const bool entry_loaded = std::any_of(elf.segments.begin(), elf.segments.end(), [&](const ElfLoadSegment& seg) {
    return entry >= seg.paddr && entry - seg.paddr < seg.file_size;
  });
  if (!entry_loaded) fail("PVH entry point {:#x} is not inside a loaded ELF segment", entry);

  for (const ElfLoadSegment& seg : elf.segments) {
    mem.write(seg.paddr, spec.kernel->data() + seg.file_offset, seg.file_size);
    mem.fill(seg.paddr + seg.file_size, 0, seg.mem_size - seg.file_size);
  }

  write_kernel_cmdline(mem, spec.cmdline, kCmdlineMax - 1);

  LinuxBootResult result{};
  result.format = KernelFormat::PvhElf;
  mem.fill(kBootParamsAddr, 0, kStartInfoPageEnd - kBootParamsAddr);
  HvmStartInfo info{};
  info.magic = kHvmStartMagic;
  info.version = kHvmStartInfoVersion;
  info.flags = 0;
  info.cmdline_paddr = kCmdlineAddr;
  info.rsdp_paddr = spec.rsdp_addr;
  if (spec.initrd && !spec.initrd->empty()) {
    result.initrd_addr = place_initrd(mem, *spec.initrd, kernel_end, mem.low_ram_end());
    result.initrd_size = spec.initrd->size();
    const HvmModlistEntry module{result.initrd_addr, result.initrd_size, 0, 0};
    mem.write_obj(kModlistAddr, module);
    info.nr_modules = 1;
    info.modlist_paddr = kModlistAddr;
  }
  const std::vector<E820Entry> e820 = build_e820(mem);
  assert(kMemmapAddr + e820.size() * sizeof(HvmMemmapTableEntry) <= kStartInfoPageEnd);
  for (size_t i = 0; i < e820.size(); ++i) {
    const HvmMemmapTableEntry entry_i{e820[i].addr, e820[i].size, e820[i].type, 0};
    mem.write_obj(kMemmapAddr + i * sizeof(HvmMemmapTableEntry), entry_i);
  }
  info.memmap_paddr = kMemmapAddr;
  info.memmap_entries = static_cast<uint32_t>(e820.size());
  mem.write_obj(kStartInfoAddr, info);

  // Entry (PVH ABI, "x86/HVM direct boot ABI"): protected mode, paging off, flat 32-bit
  // code and data, a 32-bit busy TSS in TR, interrupts off, ebx = start_info.
  write_boot_gdt(mem);
  result.kernel_entry = entry;
  result.boot_cpu = protected_mode_boot_state();
  result.boot_cpu.rip = entry;
  result.boot_cpu.gpr[RBX] = kStartInfoAddr;
  result.boot_cpu.gpr[RSP] = kBootStackTop;
  return result;
}

}  // namespace vireo::x86
