// The guest-physical layout of a vireo x86 machine: where the boot code puts its
// structures and where devices live. One place, so boot code, ACPI and devices agree.
#pragma once

#include <cstdint>

namespace vireo::x86 {

// Low memory used by the firmware-less boot path.
constexpr uint64_t kGdtAddr = 0x500;            // boot GDT, layout in arch/x86/boot_cpu.h (0x30 bytes)
constexpr uint64_t kBootTssAddr = 0x600;        // zeroed 104-byte TSS the boot GDT's TR points at
constexpr uint64_t kBootParamsAddr = 0x7000;    // Linux zero page / PVH start_info page
constexpr uint64_t kPml4Addr = 0x9000;          // identity page tables: PML4
constexpr uint64_t kPdptAddr = 0xA000;          //   PDPT
constexpr uint64_t kPdAddr = 0xB000;            //   4 PDs (0xB000..0xEFFF), 2 MiB pages, first 4 GiB
constexpr uint64_t kBootStackTop = 0x8ff0;      // a small stack for bare-metal guests / PVH
constexpr uint64_t kCmdlineAddr = 0x20000;      // kernel command line
constexpr uint64_t kCmdlineMax = 0x10000;       // including the NUL
constexpr uint64_t kEbdaStart = 0x9fc00;        // RAM below this is usable
constexpr uint64_t kAcpiTablesAddr = 0xe0000;   // RSDP and all ACPI tables, 0xE0000..0xFFFFF
constexpr uint64_t kAcpiTablesEnd = 0x100000;
constexpr uint64_t kKernelLoadAddr = 0x100000;  // protected-mode kernel (1 MiB)

// Interrupt controllers (the in-kernel ones under KVM, devices/ under emu).
constexpr uint64_t kIoapicAddr = 0xfec00000;
constexpr uint64_t kLapicAddr = 0xfee00000;
constexpr unsigned kIoapicPins = 24;

// virtio-mmio devices: one 4 KiB window each from here, IRQs from kVirtioIrqBase.
constexpr uint64_t kVirtioMmioBase = 0xd0000000;
constexpr uint64_t kVirtioMmioSize = 0x1000;
constexpr unsigned kVirtioIrqBase = 5;

// Legacy and ACPI ports.
constexpr uint16_t kCom1Port = 0x3f8;
constexpr unsigned kCom1Irq = 4;
constexpr uint16_t kI8042DataPort = 0x60;
constexpr uint16_t kI8042CmdPort = 0x64;
// Hardware-reduced ACPI: sleep control/status registers and the reset register,
// described in the FADT, decoded by devices/acpi_pm.
constexpr uint16_t kAcpiSleepControlPort = 0x600;
constexpr uint16_t kAcpiSleepStatusPort = 0x601;
constexpr uint16_t kAcpiResetPort = 0x602;
constexpr uint8_t kAcpiResetValue = 0x01;
constexpr uint8_t kAcpiS5SleepType = 5;  // the _S5_ value in the DSDT, SLP_TYP in the write
// Test devices.
constexpr uint16_t kDebugConsolePort = 0xe9;    // bytes written appear on vireo's stderr
constexpr uint16_t kDebugExitPort = 0xf4;       // --device debug-exit default

}  // namespace vireo::x86
