// PvPanic: the paravirtual panic notifier. A guest kernel that panics writes
// "panicked" (bit 0) to its register; vireo then stops the VM with a crash status
// instead of leaving a dead guest spinning. Linux's pvpanic driver finds it through
// the ACPI device with _HID "QEMU0001" and reads the register first to learn which
// events the host supports.
#pragma once

#include <cstdint>

#include "bus/io_bus.h"
#include "vm/vm_control.h"

namespace vireo {

class PvPanic final : public IoDevice {
 public:
  static constexpr uint8_t kPanicked = 1 << 0;
  static constexpr uint8_t kCrashLoaded = 1 << 1;
  static constexpr uint16_t kDefaultPort = 0x505;

  explicit PvPanic(VmControl& vm) : vm_(vm) {}
  void attach_to(IoBus& pio, uint16_t port = kDefaultPort) { pio.add(port, 1, this, "pvpanic"); }

  uint64_t io_read(uint64_t offset, unsigned size) override;
  void io_write(uint64_t offset, unsigned size, uint64_t value) override;

 private:
  VmControl& vm_;
};

}  // namespace vireo
