// Internal to the Linux boot code: the two kernel loaders behind load_linux and the
// placement rules they share (command line, initrd, memory-size errors).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "arch/x86/linux_boot.h"
#include "memory/guest_memory.h"

namespace vireo::x86 {

// A bzImage entered at its 64-bit entry (boot.rst, "64-bit Boot Protocol").
LinuxBootResult load_bzimage(GuestMemory& mem, const LinuxBootSpec& spec);

// An ELF vmlinux entered at its PVH note's entry (Xen's HVM direct boot ABI).
LinuxBootResult load_pvh_elf(GuestMemory& mem, const LinuxBootSpec& spec);

// Writes `cmdline` NUL-terminated at kCmdlineAddr. `max_length` is the longest command
// line (without the NUL) the kernel accepts; kCmdlineMax bounds it too.
void write_kernel_cmdline(GuestMemory& mem, const std::string& cmdline, uint64_t max_length);

// Copies the initrd to the highest 4 KiB-aligned address where it ends at or below
// `limit` and starts at or above `kernel_end`, and returns that address.
uint64_t place_initrd(GuestMemory& mem, const std::vector<uint8_t>& initrd, uint64_t kernel_end, uint64_t limit);

// Fails with "needs N MiB of memory <purpose>, the VM has M MiB; use --memory ...".
[[noreturn]] void fail_needs_memory(const GuestMemory& mem, uint64_t needed_bytes, const char* purpose);

}  // namespace vireo::x86
