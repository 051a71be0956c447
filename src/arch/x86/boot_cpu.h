// The CPU environment vireo builds for a guest entered without firmware: one boot GDT,
// a TSS, identity page tables, and the matching vCPU entry states. Shared by the
// bzImage 64-bit entry, the PVH 32-bit entry and bare-metal test guests.
//
// Boot GDT at kGdtAddr (layout.h), 0x30 bytes, limit 0x2F:
//   0x00  null
//   0x08  flat 32-bit code   0x00CF9B000000FFFF  base 0, limit 4 GiB, G, D, execute/read, accessed
//   0x10  64-bit code        0x00AF9B000000FFFF  L, G, execute/read, accessed   (Linux __BOOT_CS)
//   0x18  flat data          0x00CF93000000FFFF  base 0, limit 4 GiB, G, B, read/write, accessed
//                                                                               (Linux __BOOT_DS)
//   0x20  TSS descriptor, 16 bytes: base kBootTssAddr, limit 0x67, type 0xB (busy), DPL 0.
//         In long mode it is a 64-bit TSS; in protected mode the first 8 bytes read as a
//         32-bit busy TSS and the zero upper half as a null slot 0x28.
// The TSS at kBootTssAddr is 104 zero bytes. The descriptor is marked busy because TR is
// already loaded with it at entry, as LTR would leave it (Intel SDM vol. 3, 7.2.4).
#pragma once

#include <cstdint>

#include "cpu/cpu_state.h"
#include "memory/guest_memory.h"

namespace vireo::x86 {

constexpr uint16_t kBootCode32Selector = 0x08;
constexpr uint16_t kBootCode64Selector = 0x10;
constexpr uint16_t kBootDataSelector = 0x18;
constexpr uint16_t kBootTssSelector = 0x20;
constexpr uint64_t kBootGdtSize = 0x30;
constexpr uint32_t kBootTssLimit = 0x67;  // 104-byte TSS

constexpr uint64_t kBootCode32Descriptor = 0x00CF9B000000FFFFull;
constexpr uint64_t kBootCode64Descriptor = 0x00AF9B000000FFFFull;
constexpr uint64_t kBootDataDescriptor = 0x00CF93000000FFFFull;

// Page-table entry bits (Intel SDM vol. 3, 4.5).
constexpr uint64_t kPtePresent = 1ull << 0;
constexpr uint64_t kPteWritable = 1ull << 1;
constexpr uint64_t kPteLargePage = 1ull << 7;  // PS: a 2 MiB page in a PD entry

// Writes the boot GDT at kGdtAddr and zeroes the TSS at kBootTssAddr.
void write_boot_gdt(GuestMemory& mem);

// Identity-maps the first 4 GiB with 2 MiB pages: PML4 at kPml4Addr -> PDPT at kPdptAddr
// -> four PDs from kPdAddr. All entries present and writable.
void write_identity_page_tables(GuestMemory& mem);

// 64-bit mode, paging on with the identity tables, CS = 0x10, data = 0x18, TR = 0x20,
// interrupts off. The caller sets rip, rsp and argument registers.
X86CpuState long_mode_boot_state();

// 32-bit protected mode, paging off, CS = 0x08, data = 0x18, TR = 0x20, interrupts off
// (the register state of the PVH ABI). The caller sets rip and argument registers.
X86CpuState protected_mode_boot_state();

}  // namespace vireo::x86
