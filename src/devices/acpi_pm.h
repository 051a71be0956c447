// AcpiPm: the hardware-reduced ACPI power management registers (ACPI 6.5, section
// 4.8.3.7 "Sleep Control and Status Registers" and 4.8.3.6 "Reset Register"), which
// the FADT points at: the sleep control register, the sleep status register and the
// reset register, three consecutive byte-wide ports starting at
// x86::kAcpiSleepControlPort.
//
// Sleep control: SLP_EN (bit 5) with SLP_TYP (bits 4:2) == the DSDT's _S5_ value
// powers the machine off (StopKind::PowerOff). Other sleep states are not supported:
// such a request is ignored (with one warning). Sleep status reads 0. Writing
// x86::kAcpiResetValue to the reset register resets the machine (StopKind::Reset).
#pragma once

#include <atomic>
#include <cstdint>

#include "arch/x86/layout.h"
#include "bus/io_device.h"
#include "vm/vm_control.h"

namespace vireo {

class IoBus;

class AcpiPm final : public IoDevice {
 public:
  static constexpr uint16_t kBasePort = x86::kAcpiSleepControlPort;
  static constexpr uint64_t kPortCount = 3;
  static_assert(x86::kAcpiSleepStatusPort == kBasePort + 1 && x86::kAcpiResetPort == kBasePort + 2,
                "AcpiPm decodes the three registers as consecutive ports");

  explicit AcpiPm(VmControl& vm) : vm_(vm) {}

  // Registers [kBasePort, kBasePort + kPortCount) on the port bus.
  void attach_to(IoBus& pio);

  uint64_t io_read(uint64_t offset, unsigned size) override;
  void io_write(uint64_t offset, unsigned size, uint64_t value) override;

 private:
  void write_register(uint64_t offset, uint8_t value);

  VmControl& vm_;
  std::atomic<bool> warned_sleep_type_{false};
};

}  // namespace vireo
