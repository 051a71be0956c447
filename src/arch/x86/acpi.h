// ACPI tables for a hardware-reduced machine (ACPI 6.x): RSDP, XSDT, FADT, MADT, DSDT.
// Pure functions over GuestMemory; the DSDT is generated with the AML builder.
#pragma once

#include <cstdint>
#include <vector>

#include "memory/guest_memory.h"

namespace vireo::x86 {

struct VirtioMmioDescription {
  uint64_t base;
  uint64_t size;
  unsigned irq;  // GSI
};

struct AcpiConfig {
  unsigned num_cpus = 1;
  std::vector<VirtioMmioDescription> virtio_mmio;
  uint16_t pvpanic_port = 0;  // 0: no pvpanic device

};

// Writes all tables into [kAcpiTablesAddr, kAcpiTablesEnd) and returns the RSDP address.
uint64_t write_acpi_tables(GuestMemory& mem, const AcpiConfig& config);

// Builds the tables into a byte image located at `base` (used by write_acpi_tables and
// by the unit tests, which check checksums and decode the DSDT with iasl).
struct AcpiImage {
  uint64_t base = 0;
  std::vector<uint8_t> bytes;
  uint64_t rsdp = 0, xsdt = 0, fadt = 0, madt = 0, dsdt = 0;  // guest-physical addresses
};
AcpiImage build_acpi_tables(uint64_t base, const AcpiConfig& config);

}  // namespace vireo::x86
