// The Linux x86 boot protocol without firmware (Documentation/arch/x86/boot.rst):
// a bzImage entered at its 64-bit entry point, or an ELF vmlinux entered through its
// PVH note (Xen's HVM direct boot ABI). Pure functions over GuestMemory.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "cpu/cpu_state.h"
#include "memory/guest_memory.h"

namespace vireo::x86 {

enum class KernelFormat { BzImage, PvhElf, Unknown };

// Looks at the first bytes of a kernel file. An ELF without a PVH note is Unknown.
KernelFormat detect_kernel_format(const std::vector<uint8_t>& image);

struct E820Entry {
  uint64_t addr;
  uint64_t size;
  uint32_t type;  // 1 = RAM, 2 = reserved, 3 = ACPI reclaimable, 4 = ACPI NVS
};
constexpr uint32_t kE820Ram = 1;
constexpr uint32_t kE820Reserved = 2;

// The machine's memory map: RAM below the EBDA, reserved BIOS/ACPI area 0x9fc00-1 MiB,
// RAM from 1 MiB to low_ram_end, and RAM above 4 GiB if any.
std::vector<E820Entry> build_e820(const GuestMemory& mem);

struct LinuxBootSpec {
  const std::vector<uint8_t>* kernel = nullptr;  // bzImage or ELF vmlinux with a PVH note
  const std::vector<uint8_t>* initrd = nullptr;  // optional
  std::string cmdline;
  uint64_t rsdp_addr = 0;  // ACPI RSDP, passed in boot_params / start_info
  // For a bzImage: decompress its payload on the host and, when that gives an ELF with
  // a PVH note, enter it through the PVH path (the guest skips its own decompressor).
  // Falls back to the bzImage protocol when it cannot; LinuxBootResult::note says why.
  bool decompress_on_host = false;
};

struct LinuxBootResult {
  X86CpuState boot_cpu;       // entry state for vCPU 0
  KernelFormat format;
  uint64_t kernel_entry = 0;  // guest-physical entry point
  uint64_t initrd_addr = 0, initrd_size = 0;
  // One line for the log about how the kernel was loaded, when there is something to
  // say (set by decompress_on_host: what was done, or why it was not).
  std::string note;
};

// Loads the kernel (and initrd, command line, boot_params/start_info, GDT, page
// tables) into `mem` and returns the entry state. Throws vireo::Error with one clear
// line for anything that does not fit or is not a supported kernel.
LinuxBootResult load_linux(GuestMemory& mem, const LinuxBootSpec& spec);

}  // namespace vireo::x86
