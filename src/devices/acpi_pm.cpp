#include "devices/acpi_pm.h"

#include "base/log.h"
#include "bus/io_bus.h"

namespace vireo {
namespace {

constexpr uint64_t kSleepControl = x86::kAcpiSleepControlPort - AcpiPm::kBasePort;
constexpr uint64_t kResetRegister = x86::kAcpiResetPort - AcpiPm::kBasePort;

// Sleep control register layout (ACPI 6.5, table 4.20).
constexpr uint8_t kSleepEnable = 0x20;  // SLP_EN
constexpr unsigned kSleepTypeShift = 2;  // SLP_TYP, bits 4:2
constexpr uint8_t kSleepTypeMask = 0x7;

}  // namespace

void AcpiPm::attach_to(IoBus& pio) { pio.add(kBasePort, kPortCount, this, "acpi pm"); }

uint64_t AcpiPm::io_read(uint64_t, unsigned) {
  // Sleep control is write-only and reads 0; sleep status has no event to report
  // (WAK_STS is only meaningful after a resume, which never happens); the reset
  // register is write-only.
  return 0;
}

void AcpiPm::io_write(uint64_t offset, unsigned size, uint64_t value) {
  // Byte-wide registers: a wider write reaches the consecutive registers it covers.
  for (unsigned i = 0; i < size && i < 8; ++i) {
    if (offset + i >= kPortCount) break;
    write_register(offset + i, static_cast<uint8_t>(value >> (8 * i)));
  }
}

void AcpiPm::write_register(uint64_t offset, uint8_t value) {
  if (offset == kSleepControl) {
    if (!(value & kSleepEnable)) return;
    unsigned sleep_type = (value >> kSleepTypeShift) & kSleepTypeMask;
    if (sleep_type == x86::kAcpiS5SleepType) {
      vm_.request_stop({StopKind::PowerOff, 0, ""});
    } else if (!warned_sleep_type_.exchange(true)) {
      log_warn("the guest asked for ACPI sleep type {}; only S5 (power off, type {}) is supported, ignored",
               sleep_type, x86::kAcpiS5SleepType);
    }
  } else if (offset == kResetRegister) {
    if (value == x86::kAcpiResetValue) vm_.request_stop({StopKind::Reset, 0, ""});
  }
  // Sleep status: write-1-to-clear bits of which none is ever set.
}

}  // namespace vireo
