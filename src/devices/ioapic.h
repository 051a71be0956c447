// Ioapic: an Intel 82093AA I/O APIC with 24 pins, the machine's GSIs 0-23
// (82093AA datasheet, sections 3.0-3.2).
//
// Memory-mapped at x86::kIoapicAddr: IOREGSEL (+0x00) selects a register, IOWIN
// (+0x10) reads or writes it. Registers: 0x00 ID, 0x01 version (0x00170011: version
// 0x11, 24 entries), 0x02 arbitration id, 0x10 + 2n / 0x11 + 2n redirection entry n.
//
// Pins are driven with set_pin() (their electrical level; an active-low entry inverts
// it). An edge-triggered entry sends one message per rising edge of the asserted
// level; a level-triggered entry sends while the pin is asserted and its remote IRR
// is clear, sets remote IRR, and sends again after end_of_interrupt() clears it if the
// pin is still asserted. A masked entry sends nothing: edges that arrive while masked
// are lost (datasheet 3.2.4, bit 16), a level that is still asserted when the entry is
// unmasked is sent then. Fixed and lowest-priority entries become ApicMessages;
// SMI, NMI, INIT and ExtINT entries are not supported and are logged once.
//
// Thread-safe. Messages are handed to `deliver` with the I/O APIC's lock held (so
// they leave in the order the pins changed): `deliver` must not call back into the
// I/O APIC. end_of_interrupt() must be called without any local APIC lock held.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <mutex>

#include "bus/io_device.h"
#include "devices/apic_message.h"

namespace vireo {

class Ioapic final : public IoDevice {
 public:
  static constexpr unsigned kPins = 24;
  static constexpr uint64_t kWindowSize = 0x1000;  // IOREGSEL, IOWIN and the rest of the page
  static constexpr uint32_t kVersion = 0x00170011;

  using Deliver = std::function<void(const ApicMessage&)>;

  // `id` is the I/O APIC id the MADT announces.
  Ioapic(uint8_t id, Deliver deliver);

  uint64_t io_read(uint64_t offset, unsigned size) override;
  void io_write(uint64_t offset, unsigned size, uint64_t value) override;

  // The electrical level of input `pin` (< kPins; other pins are a bug).
  void set_pin(unsigned pin, bool level);
  // A local APIC's EOI for a level-triggered `vector` (the EOI broadcast).
  void end_of_interrupt(uint8_t vector);

  // For tests and diagnostics.
  uint64_t redirection_entry(unsigned pin);

 private:
  uint32_t read_register(uint8_t index);
  void write_register(uint8_t index, uint32_t value);
  void write_entry_low(unsigned pin, uint32_t value);
  bool asserted(unsigned pin) const;
  // Sends the entry's message when a level-triggered pin is due (asserted, unmasked,
  // remote IRR clear); with `edge`, an edge-triggered pin's new edge.
  void service(unsigned pin, bool edge);
  void send(unsigned pin);

  std::mutex mu_;
  Deliver deliver_;
  uint8_t id_;
  uint8_t select_ = 0;
  std::array<uint64_t, kPins> entries_{};
  std::array<bool, kPins> pin_level_{};  // electrical level, before polarity
  bool warned_mode_ = false;
};

}  // namespace vireo
