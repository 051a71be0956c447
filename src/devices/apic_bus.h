// ApicBus: the local APICs of all vCPUs and the messages between them. It routes
// I/O APIC messages and IPIs to the APICs their destination names (SDM Vol. 3 11.6),
// and it is the IoDevice for the local APIC window at x86::kLapicAddr (4 KiB): an
// access goes to the APIC of the vCPU that makes it (devices/current_cpu.h).
//
// Delivery by mode: fixed to every addressed APIC; lowest priority to the
// lowest-numbered addressed APIC; INIT resets the target APIC's registers and calls
// the INIT/SIPI handler with init = true; start-up calls it with init = false and the
// vector (the AP starts at CS = vector << 8, IP = 0); SMI, NMI and ExtINT messages
// are dropped (logged once).
//
// Thread-safe: deliver() holds no lock while it calls into the APICs one by one.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <optional>
#include <vector>

#include "bus/io_device.h"
#include "devices/apic_message.h"
#include "devices/local_apic.h"

namespace vireo {

struct ApicBusConfig {
  unsigned num_cpus = 1;
  uint64_t timer_hz = kApicTimerHz;
  uint64_t tsc_hz = kGuestTscHz;
  // The host's monotonic clock in nanoseconds; empty: std::chrono::steady_clock.
  std::function<uint64_t()> now_ns;
};

class ApicBus final : public IoDevice {
 public:
  // Called for INIT (init = true, sipi_vector 0) and start-up IPIs to `target_cpu`.
  using InitSipiHandler = std::function<void(unsigned target_cpu, bool init, uint8_t sipi_vector)>;

  static constexpr uint64_t kWindowSize = LocalApic::kWindowSize;

  explicit ApicBus(const ApicBusConfig& config);

  unsigned num_cpus() const { return static_cast<unsigned>(apics_.size()); }
  LocalApic& apic(unsigned cpu);

  // ---- wiring: before any vCPU or device thread runs ----
  void set_init_sipi_handler(InitSipiHandler handler) { init_sipi_ = std::move(handler); }
  // Level-triggered EOIs of every APIC go here (Ioapic::end_of_interrupt).
  void set_eoi_listener(std::function<void(uint8_t vector)> listener);
  // The PIC behind LINT0 of every APIC; its INTR listener wakes the CPUs it reaches.
  void set_ext_int_source(ExtIntSource* source);

  // Sends a message. `from_cpu` is the sender for IPIs (needed by the self and
  // all-excluding-self shorthands); none for I/O APIC messages.
  void deliver(const ApicMessage& message, std::optional<unsigned> from_cpu = std::nullopt);

  uint64_t io_read(uint64_t offset, unsigned size) override;
  void io_write(uint64_t offset, unsigned size, uint64_t value) override;

 private:
  LocalApic* accessing_apic();

  std::vector<std::unique_ptr<LocalApic>> apics_;
  InitSipiHandler init_sipi_;
  std::atomic<bool> warned_mode_{false};
};

}  // namespace vireo
