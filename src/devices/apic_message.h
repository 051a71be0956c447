// ApicMessage: one interrupt message on the APIC bus, as an I/O APIC redirection
// entry or a local APIC's ICR describes it (SDM Vol. 3 11.6.1, 82093AA datasheet 3.2.4).
#pragma once

#include <cstdint>

namespace vireo {

// Delivery mode field (ICR bits 10:8, redirection entry bits 10:8).
enum class ApicDeliveryMode : uint8_t {
  Fixed = 0,
  LowestPriority = 1,
  Smi = 2,
  Nmi = 4,
  Init = 5,
  StartUp = 6,
  ExtInt = 7,
};

// Destination shorthand (ICR bits 19:18); I/O APIC messages always use None.
enum class ApicShorthand : uint8_t {
  None = 0,
  Self = 1,
  AllIncludingSelf = 2,
  AllExcludingSelf = 3,
};

struct ApicMessage {
  uint8_t vector = 0;
  ApicDeliveryMode mode = ApicDeliveryMode::Fixed;
  bool logical = false;          // destination mode: false = physical APIC id, true = logical
  uint8_t destination = 0;       // APIC id or logical destination (0xff: broadcast)
  bool level_triggered = false;  // sets the target's TMR bit, so its EOI reaches the I/O APIC
  ApicShorthand shorthand = ApicShorthand::None;
};

}  // namespace vireo
