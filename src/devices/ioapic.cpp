#include "devices/ioapic.h"

#include <cassert>

#include "base/log.h"

namespace vireo {

namespace {

// Registers (82093AA datasheet 3.2).
constexpr uint8_t kRegId = 0x00;
constexpr uint8_t kRegVersion = 0x01;
constexpr uint8_t kRegArbitration = 0x02;
constexpr uint8_t kRegRedirectionBase = 0x10;

constexpr uint64_t kOffsetSelect = 0x00;
constexpr uint64_t kOffsetWindow = 0x10;

// Redirection entry fields (datasheet 3.2.4).
constexpr uint64_t kVectorMask = 0xff;
constexpr unsigned kDeliveryModeShift = 8;
constexpr uint64_t kLogicalDestination = 1ull << 11;
constexpr uint64_t kActiveLow = 1ull << 13;
constexpr uint64_t kRemoteIrr = 1ull << 14;
constexpr uint64_t kLevelTriggered = 1ull << 15;
constexpr uint64_t kMasked = 1ull << 16;
constexpr unsigned kDestinationShift = 56;
// Bits the guest writes in the low dword: vector, delivery mode, destination mode,
// polarity, trigger mode, mask. Delivery status (12) and remote IRR (14) are read-only.
constexpr uint32_t kLowWritable = 0x0001afff;
constexpr uint32_t kHighWritable = 0xff000000;

}  // namespace

Ioapic::Ioapic(uint8_t id, Deliver deliver) : deliver_(std::move(deliver)), id_(id) {
  entries_.fill(kMasked);
}

uint64_t Ioapic::io_read(uint64_t offset, unsigned size) {
  std::lock_guard<std::mutex> lock(mu_);
  uint64_t value = 0;
  if (offset == kOffsetSelect) {
    value = select_;
  } else if (offset >= kOffsetWindow && offset < kOffsetWindow + 4) {
    value = read_register(select_) >> (8 * (offset - kOffsetWindow));
  }
  if (size < 8) value &= (1ull << (8 * size)) - 1;
  return value;
}

void Ioapic::io_write(uint64_t offset, unsigned size, uint64_t value) {
  std::lock_guard<std::mutex> lock(mu_);
  if (offset == kOffsetSelect) {
    select_ = static_cast<uint8_t>(value);
  } else if (offset == kOffsetWindow && size >= 4) {
    write_register(select_, static_cast<uint32_t>(value));
  } else {
    log_debug("ioapic: ignored {}-byte write of {:#x} at offset {:#x}", size, value, offset);
  }
}

uint32_t Ioapic::read_register(uint8_t index) {
  switch (index) {
    case kRegId: return uint32_t(id_) << 24;
    case kRegVersion: return kVersion;
    case kRegArbitration: return uint32_t(id_) << 24;
    default: break;
  }
  if (index >= kRegRedirectionBase && index < kRegRedirectionBase + 2 * kPins) {
    unsigned pin = (index - kRegRedirectionBase) / 2;
    bool high = (index - kRegRedirectionBase) % 2;
    return static_cast<uint32_t>(high ? entries_[pin] >> 32 : entries_[pin]);
  }
  return 0;
}

void Ioapic::write_register(uint8_t index, uint32_t value) {
  if (index == kRegId) {
    // The 82093AA keeps 4 id bits (27:24); all 8 are kept here so that the id the MADT
    // gives (the number of vCPUs, up to 254) reads back unchanged.
    id_ = static_cast<uint8_t>(value >> 24);
    return;
  }
  if (index < kRegRedirectionBase || index >= kRegRedirectionBase + 2 * kPins) return;  // read-only or absent
  unsigned pin = (index - kRegRedirectionBase) / 2;
  if ((index - kRegRedirectionBase) % 2) {
    entries_[pin] = (entries_[pin] & 0xffffffffull) | (uint64_t(value & kHighWritable) << 32);
  } else {
    write_entry_low(pin, value);
  }
}

void Ioapic::write_entry_low(unsigned pin, uint32_t value) {
  uint64_t& e = entries_[pin];
  uint64_t old = e;
  e = (e & ~uint64_t(kLowWritable)) | (value & kLowWritable);
  // Remote IRR has no meaning for an edge-triggered entry; clear it so a later switch
  // back to level does not start out blocked.
  if (!(e & kLevelTriggered)) e &= ~kRemoteIrr;
  // A level that is asserted when the entry is unmasked (or becomes asserted through a
  // polarity change) is sent now. Edge-triggered entries wait for the next edge.
  if ((old ^ e) & (kMasked | kActiveLow | kLevelTriggered)) service(pin, false);
}

uint64_t Ioapic::redirection_entry(unsigned pin) {
  assert(pin < kPins);
  std::lock_guard<std::mutex> lock(mu_);
  return entries_[pin];
}

bool Ioapic::asserted(unsigned pin) const {
  bool active_low = entries_[pin] & kActiveLow;
  return pin_level_[pin] != active_low;
}

void Ioapic::set_pin(unsigned pin, bool level) {
  assert(pin < kPins);
  std::lock_guard<std::mutex> lock(mu_);
  bool was = asserted(pin);
  pin_level_[pin] = level;
  bool now = asserted(pin);
  if (now && !was) {
    service(pin, true);
  }
}

void Ioapic::service(unsigned pin, bool edge) {
  uint64_t e = entries_[pin];
  if (e & kMasked) return;
  if (!asserted(pin)) return;
  if (e & kLevelTriggered) {
    if (e & kRemoteIrr) return;
  } else if (!edge) {
    return;
  }
  send(pin);
}

void Ioapic::send(unsigned pin) {
  uint64_t& e = entries_[pin];
  auto mode = static_cast<ApicDeliveryMode>((e >> kDeliveryModeShift) & 7);
  if (mode != ApicDeliveryMode::Fixed && mode != ApicDeliveryMode::LowestPriority) {
    if (!warned_mode_) {
      warned_mode_ = true;
      log_warn("ioapic: pin {} uses delivery mode {}, which is not emulated; its interrupts are dropped", pin,
               static_cast<unsigned>(mode));
    }
    return;
  }
  ApicMessage m;
  m.vector = static_cast<uint8_t>(e & kVectorMask);
  m.mode = mode;
  m.logical = e & kLogicalDestination;
  m.destination = static_cast<uint8_t>(e >> kDestinationShift);
  m.level_triggered = e & kLevelTriggered;
  // Datasheet 3.2.4, bit 14: remote IRR is set when a local APIC accepts a
  // level-triggered interrupt, cleared by its EOI.
  if (m.level_triggered) e |= kRemoteIrr;
  deliver_(m);
}

void Ioapic::end_of_interrupt(uint8_t vector) {
  std::lock_guard<std::mutex> lock(mu_);
  for (unsigned pin = 0; pin < kPins; ++pin) {
    uint64_t& e = entries_[pin];
    if ((e & kVectorMask) != vector || !(e & kRemoteIrr)) continue;
    e &= ~kRemoteIrr;
    service(pin, false);
  }
}

}  // namespace vireo
