#include "devices/pic8259.h"

#include "bus/io_bus.h"

namespace vireo {
namespace {

// Command-port write decoding (8259A datasheet, "Initialization command words" and
// "Operation command words").
constexpr uint8_t kIcw1 = 0x10;       // D4 = 1: ICW1
constexpr uint8_t kIcw1Icw4 = 0x01;   // IC4: ICW4 follows
constexpr uint8_t kIcw1Single = 0x02; // SNGL: no cascade, no ICW3
constexpr uint8_t kIcw1Ltim = 0x08;   // LTIM: level-triggered inputs
constexpr uint8_t kOcw3 = 0x08;       // D4 = 0, D3 = 1: OCW3 (else OCW2)
constexpr uint8_t kOcw3ReadRegister = 0x02;  // RR: RIS selects the register
constexpr uint8_t kOcw3ReadIsr = 0x01;       // RIS
constexpr uint8_t kOcw3Poll = 0x04;          // P
constexpr uint8_t kOcw3SetSpecialMask = 0x40;  // ESMM: SMM is valid
constexpr uint8_t kOcw3SpecialMask = 0x20;     // SMM
constexpr uint8_t kIcw4AutoEoi = 0x02;
constexpr uint8_t kIcw4SpecialFullyNested = 0x10;

// OCW2 bits 7:5 (R, SL, EOI).
enum Ocw2 : uint8_t {
  kRotateInAutoEoiClear = 0,
  kNonSpecificEoi = 1,
  kNoOperation = 2,
  kSpecificEoi = 3,
  kRotateInAutoEoiSet = 4,
  kRotateOnNonSpecificEoi = 5,
  kSetPriority = 6,
  kRotateOnSpecificEoi = 7,
};

// ELCR (PIIX/ICH "edge/level control registers"): IRQ 0, 1, 2, 8 and 13 are always
// edge-triggered on a PC; their bits are read-only zero.
constexpr uint8_t kMasterElcrWritable = 0xf8;
constexpr uint8_t kSlaveElcrWritable = 0xde;

constexpr uint8_t kSpuriousIrq = 7;

}  // namespace

Pic8259Pair::Pic8259Pair() {
  master_.is_master = true;
  master_.elcr_writable = kMasterElcrWritable;
  slave_.elcr_writable = kSlaveElcrWritable;
}

void Pic8259Pair::attach_to(IoBus& pio) {
  pio.add(kMasterPort, 2, &master_ports_, "pic-master");
  pio.add(kSlavePort, 2, &slave_ports_, "pic-slave");
  pio.add(kElcrPort, 2, &elcr_ports_, "pic-elcr");
}

// --- priority resolution ---------------------------------------------------------

int Pic8259Pair::highest_priority_irq(const Chip& c, uint8_t bits) {
  // Fully nested mode with rotation: the input after `lowest_priority` has the highest
  // priority (datasheet, "Automatic rotation" / "Specific rotation").
  for (unsigned p = 0; p < 8; ++p) {
    unsigned irq = (c.lowest_priority + 1 + p) & 7;
    if (bits & (1u << irq)) return static_cast<int>(irq);
  }
  return -1;
}

int Pic8259Pair::requested_irq(const Chip& c) {
  int irq = highest_priority_irq(c, c.irr & ~c.imr);
  if (irq < 0) return -1;
  // Special mask mode: masked inputs in service do not inhibit lower priorities.
  uint8_t in_service = c.special_mask ? (c.isr & ~c.imr) : c.isr;
  int serving = highest_priority_irq(c, in_service);
  if (serving < 0) return irq;
  if (priority_of(c, irq) < priority_of(c, serving)) return irq;
  // Special fully nested mode: the master accepts another request from the cascade
  // input while that input is in service (a higher-priority slave interrupt).
  if (c.is_master && c.special_fully_nested && irq == static_cast<int>(kCascadeIrq) && serving == irq) return irq;
  return -1;
}

void Pic8259Pair::set_chip_input(Chip& c, unsigned irq, bool level) {
  const uint8_t mask = static_cast<uint8_t>(1u << irq);
  if (c.level_mask() & mask) {
    // Level-sensitive: the request follows the line.
    if (level) c.irr |= mask;
    else c.irr &= ~mask;
  } else if (level && !(c.input_levels & mask)) {
    c.irr |= mask;  // rising edge latches the request
  }
  if (level) c.input_levels |= mask;
  else c.input_levels &= ~mask;
}

void Pic8259Pair::update_cascade() {
  if (master_.single) return;
  const uint8_t mask = 1u << kCascadeIrq;
  if (requested_irq(slave_) >= 0) {
    master_.irr |= mask;
    master_.input_levels |= mask;
  } else {
    master_.irr &= ~mask;
    master_.input_levels &= ~mask;
  }
}

bool Pic8259Pair::master_output() const { return requested_irq(master_) >= 0; }

bool Pic8259Pair::output_rose() {
  bool now = master_output();
  bool rose = now && !last_output_;
  last_output_ = now;
  return rose;
}

void Pic8259Pair::take_request(Chip& c, unsigned irq) {
  const uint8_t mask = static_cast<uint8_t>(1u << irq);
  if (!(c.level_mask() & mask)) c.irr &= ~mask;  // an edge request is consumed by INTA
  if (c.auto_eoi) {
    if (c.rotate_on_auto_eoi) c.lowest_priority = static_cast<uint8_t>(irq);
  } else {
    c.isr |= mask;
  }
}

// --- interrupt inputs and INTA ------------------------------------------------------

void Pic8259Pair::set_irq(unsigned irq, bool level) {
  if (irq >= kIrqCount || irq == kCascadeIrq) return;
  bool notify;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (irq < 8) set_chip_input(master_, irq, level);
    else set_chip_input(slave_, irq - 8, level);
    update_cascade();
    notify = output_rose();
  }
  if (notify) notify_intr();
}

bool Pic8259Pair::pending() {
  std::lock_guard<std::mutex> lock(mu_);
  return master_output();
}

uint8_t Pic8259Pair::acknowledge() {
  std::lock_guard<std::mutex> lock(mu_);
  uint8_t vector;
  int irq = requested_irq(master_);
  if (irq < 0) {
    // The request went away between INTR and INTA: the master answers with its IR7
    // vector and sets no ISR bit (datasheet, "Interrupt sequence").
    vector = static_cast<uint8_t>(master_.vector_base + kSpuriousIrq);
  } else {
    take_request(master_, static_cast<unsigned>(irq));
    if (irq == static_cast<int>(kCascadeIrq) && !master_.single) {
      int slave_irq = requested_irq(slave_);
      if (slave_irq < 0) {
        vector = static_cast<uint8_t>(slave_.vector_base + kSpuriousIrq);  // IRQ 15, master ISR2 stays set
      } else {
        take_request(slave_, static_cast<unsigned>(slave_irq));
        vector = static_cast<uint8_t>(slave_.vector_base + slave_irq);
      }
    } else {
      vector = static_cast<uint8_t>(master_.vector_base + irq);
    }
  }
  update_cascade();
  last_output_ = master_output();  // the CPU is taking interrupts: no wakeup needed
  return vector;
}

// --- registers ------------------------------------------------------------------------

uint8_t Pic8259Pair::poll_chip(Chip& c) {
  // Poll command: the read acts as INTA for this chip and returns 0x80 | level, or 0
  // when nothing is requested (datasheet, "The poll command").
  int irq = requested_irq(c);
  if (irq < 0) return 0;
  take_request(c, static_cast<unsigned>(irq));
  return static_cast<uint8_t>(0x80 | irq);
}

void Pic8259Pair::write_command(Chip& c, uint8_t value) {
  if (value & kIcw1) {
    // ICW1 starts initialization: IMR, ISR and the edge-sense latches are cleared,
    // IR7 gets the lowest priority, special mask mode is cleared, reads select IRR,
    // and the ICW4 functions return to zero.
    c.expect_icw4 = value & kIcw1Icw4;
    c.single = value & kIcw1Single;
    c.ltim = value & kIcw1Ltim;
    c.imr = 0;
    c.isr = 0;
    c.irr = c.input_levels & c.level_mask();
    c.lowest_priority = 7;
    c.special_mask = false;
    c.read_isr = false;
    c.poll = false;
    c.auto_eoi = false;
    c.rotate_on_auto_eoi = false;
    c.special_fully_nested = false;
    c.init_step = 2;
    return;
  }
  if (value & kOcw3) {
    if (value & kOcw3Poll) c.poll = true;
    if (value & kOcw3ReadRegister) c.read_isr = value & kOcw3ReadIsr;
    if (value & kOcw3SetSpecialMask) c.special_mask = value & kOcw3SpecialMask;
    return;
  }
  write_ocw2(c, value);
}

void Pic8259Pair::write_ocw2(Chip& c, uint8_t value) {
  const unsigned level = value & 7;
  switch (value >> 5) {
    case kRotateInAutoEoiClear: c.rotate_on_auto_eoi = false; break;
    case kRotateInAutoEoiSet: c.rotate_on_auto_eoi = true; break;
    case kNoOperation: break;
    case kNonSpecificEoi:
    case kRotateOnNonSpecificEoi: {
      // Resets the highest-priority ISR bit: the interrupt being served.
      int irq = highest_priority_irq(c, c.isr);
      if (irq < 0) break;
      c.isr &= static_cast<uint8_t>(~(1u << irq));
      if ((value >> 5) == kRotateOnNonSpecificEoi) c.lowest_priority = static_cast<uint8_t>(irq);
      break;
    }
    case kSpecificEoi: c.isr &= static_cast<uint8_t>(~(1u << level)); break;
    case kRotateOnSpecificEoi:
      c.isr &= static_cast<uint8_t>(~(1u << level));
      c.lowest_priority = static_cast<uint8_t>(level);
      break;
    case kSetPriority: c.lowest_priority = static_cast<uint8_t>(level); break;
  }
}

void Pic8259Pair::write_data(Chip& c, uint8_t value) {
  switch (c.init_step) {
    case 2:  // ICW2: vector base (T7-T3 in 8086 mode)
      c.vector_base = value & 0xf8;
      c.init_step = c.single ? (c.expect_icw4 ? 4 : 0) : 3;
      return;
    case 3:  // ICW3: slave map (master) or slave ID (slave)
      c.icw3 = value;
      c.init_step = c.expect_icw4 ? 4 : 0;
      return;
    case 4:  // ICW4
      c.auto_eoi = value & kIcw4AutoEoi;
      c.special_fully_nested = value & kIcw4SpecialFullyNested;
      c.init_step = 0;
      return;
    default:  // OCW1
      c.imr = value;
      return;
  }
}

uint8_t Pic8259Pair::read_command(Chip& c) {
  if (c.poll) {
    c.poll = false;
    return poll_chip(c);
  }
  return c.read_isr ? c.isr : c.irr;
}

uint8_t Pic8259Pair::read_data(Chip& c) {
  if (c.poll) {
    c.poll = false;
    return poll_chip(c);
  }
  return c.imr;
}

uint8_t Pic8259Pair::read_port(uint16_t port) {
  uint8_t value = 0xff;
  bool notify;
  {
    std::lock_guard<std::mutex> lock(mu_);
    switch (port) {
      case kMasterPort: value = read_command(master_); break;
      case kMasterPort + 1: value = read_data(master_); break;
      case kSlavePort: value = read_command(slave_); break;
      case kSlavePort + 1: value = read_data(slave_); break;
      case kElcrPort: value = master_.elcr; break;
      case kElcrPort + 1: value = slave_.elcr; break;
      default: break;
    }
    update_cascade();
    notify = output_rose();
  }
  if (notify) notify_intr();
  return value;
}

void Pic8259Pair::write_port(uint16_t port, uint8_t value) {
  bool notify;
  {
    std::lock_guard<std::mutex> lock(mu_);
    switch (port) {
      case kMasterPort: write_command(master_, value); break;
      case kMasterPort + 1: write_data(master_, value); break;
      case kSlavePort: write_command(slave_, value); break;
      case kSlavePort + 1: write_data(slave_, value); break;
      case kElcrPort:
      case kElcrPort + 1: {
        Chip& c = port == kElcrPort ? master_ : slave_;
        c.elcr = value & c.elcr_writable;
        // Inputs that became level-sensitive now follow their line.
        uint8_t level = c.level_mask();
        c.irr = static_cast<uint8_t>((c.irr & ~level) | (c.input_levels & level));
        break;
      }
      default: break;
    }
    update_cascade();
    notify = output_rose();
  }
  if (notify) notify_intr();
}

uint8_t Pic8259Pair::irr(bool slave) {
  std::lock_guard<std::mutex> lock(mu_);
  return slave ? slave_.irr : master_.irr;
}
uint8_t Pic8259Pair::isr(bool slave) {
  std::lock_guard<std::mutex> lock(mu_);
  return slave ? slave_.isr : master_.isr;
}
uint8_t Pic8259Pair::imr(bool slave) {
  std::lock_guard<std::mutex> lock(mu_);
  return slave ? slave_.imr : master_.imr;
}

// --- bus glue ---------------------------------------------------------------------------

uint64_t Pic8259Pair::Ports::io_read(uint64_t offset, unsigned size) {
  // Byte-wide registers: a wider access covers the consecutive ports of this range.
  uint64_t value = 0;
  for (unsigned i = 0; i < size && i < 8; ++i) {
    uint8_t byte = offset + i < 2 ? pic_.read_port(static_cast<uint16_t>(base_ + offset + i)) : 0xff;
    value |= uint64_t{byte} << (8 * i);
  }
  return value;
}

void Pic8259Pair::Ports::io_write(uint64_t offset, unsigned size, uint64_t value) {
  for (unsigned i = 0; i < size && i < 8; ++i) {
    if (offset + i >= 2) break;
    pic_.write_port(static_cast<uint16_t>(base_ + offset + i), static_cast<uint8_t>(value >> (8 * i)));
  }
}

}  // namespace vireo
