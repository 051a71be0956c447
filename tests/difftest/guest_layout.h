// The fixed machine every differential test case runs in, identical under KVM and
// under the interpreter: one identity-mapped 4-level page table, a GDT with ring-0 and
// ring-3 64-bit segments, a TSS, an IDT whose handlers report the vector through an
// MMIO store, user code/data/stack pages, and two unbacked pages whose stores end a
// test case (an MMIO exit).
//
// Guest-physical map (virtual == physical for every RAM page):
//   0x01000 PML4, 0x02000 PDPT, 0x03000 PD, 0x04000 PT   supervisor, read/write
//   0x05000 GDT, 0x06000 TSS, 0x07000 IDT                 supervisor
//   0x08000 ring-0 stack page (TSS.RSP0 = 0x09000)        supervisor, NX
//   0x0a000 exception handler stubs, 16 bytes per vector  supervisor, executable
//   0x0f000 KVM-side SSE prologue page (fxrstor at 0xfff8) user, read-only, executable
//   0x10000 user code, 4 pages                            user, read-only, executable
//   0x20000 user data area, 64 KiB                        user, read/write, NX
//   0x30000 user stack page                               user, read/write, NX
//   0x31000 SSE state area (FXSAVE images in and out)     user, read/write, NX
// Virtual pages mapped to guest-physical addresses with no RAM behind them:
//   0x40000 -> kEndMmioGpa    user: the store that ends a test case
//   0x41000 -> kFaultMmioGpa  supervisor: handler of vector v stores to +v
#pragma once

#include <cstdint>

namespace vireo::difftest {

constexpr uint64_t kPageSize = 0x1000;
constexpr uint64_t kRamSize = 0x100000;  // 1 MiB of guest RAM

constexpr uint64_t kPml4Gpa = 0x1000;
constexpr uint64_t kPdptGpa = 0x2000;
constexpr uint64_t kPdGpa = 0x3000;
constexpr uint64_t kPtGpa = 0x4000;
constexpr uint64_t kGdtGpa = 0x5000;
constexpr uint64_t kTssGpa = 0x6000;
constexpr uint64_t kIdtGpa = 0x7000;
constexpr uint64_t kKernelStackGpa = 0x8000;
constexpr uint64_t kKernelStackTop = 0x9000;
constexpr uint64_t kHandlerGpa = 0xa000;
constexpr unsigned kHandlerStride = 16;
constexpr unsigned kNumVectors = 32;

constexpr uint64_t kCodeGpa = 0x10000;
constexpr uint64_t kCodeSize = 0x4000;
constexpr uint64_t kDataGpa = 0x20000;
constexpr uint64_t kDataSize = 0x10000;
constexpr uint64_t kStackGpa = 0x30000;
constexpr uint64_t kStackSize = 0x1000;
constexpr uint64_t kInitialRsp = kStackGpa + 0x800;  // room for pushes and pops
// KVM side only (see kvm_ring3_runner.h): an FXRSTOR of kSseInGpa just below the
// test code, and the FXSAVE image written after the end store.
constexpr uint64_t kPrologueGpa = 0xf000;
constexpr uint64_t kSseEntryGpa = kCodeGpa - 8;
constexpr uint64_t kSseAreaGpa = 0x31000;
constexpr uint64_t kSseInGpa = kSseAreaGpa;
constexpr uint64_t kSseOutGpa = kSseAreaGpa + 0x200;

constexpr uint64_t kEndMmioVa = 0x40000;
constexpr uint64_t kFaultMmioVa = 0x41000;
// In the PC's MMIO hole, far from the 1 MiB of RAM.
constexpr uint64_t kEndMmioGpa = 0xc0000000;
constexpr uint64_t kFaultMmioGpa = 0xc0001000;

// GDT selectors. The user ones carry RPL 3.
constexpr uint16_t kKernelCodeSel = 0x08;
constexpr uint16_t kKernelDataSel = 0x10;
constexpr uint16_t kUserDataSel = 0x18 | 3;
constexpr uint16_t kUserCodeSel = 0x20 | 3;
constexpr uint16_t kTssSel = 0x28;
constexpr uint16_t kGdtLimit = 0x37;  // 5 descriptors + a 16-byte TSS descriptor

}  // namespace vireo::difftest
