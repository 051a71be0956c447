// Pic8259Pair: the PC's two cascaded Intel 8259A programmable interrupt controllers
// (master: ISA IRQs 0-7 at ports 0x20/0x21; slave: IRQs 8-15 at ports 0xA0/0xA1,
// its INT output wired to the master's IR2), plus the PIIX-style edge/level control
// registers (ELCR) at 0x4D0/0x4D1.
//
// Used by the emulator only (under KVM the in-kernel PIC serves these ports). Inputs
// are driven by the IRQ router through set_irq(); the boot CPU's local APIC (LINT0 in
// ExtINT mode) asks pending() and takes vectors with acknowledge(), the INTA cycle.
//
// Implemented (8259A datasheet): the ICW1-ICW4 initialization sequence, IMR (OCW1),
// every OCW2 command (non-specific / specific EOI, rotate on EOI, rotate in auto-EOI
// mode, set priority), OCW3 (read IRR/ISR, poll, special mask mode), auto-EOI,
// special fully nested mode on the master, edge or level sensing per input
// (ICW1.LTIM for a whole chip, ELCR per input), priority resolution with the cascade,
// and the spurious IRQ 7 when a request vanished before INTA.
//
// Deliberate differences from the chip:
// - An edge-triggered input latches its request in IRR on the rising edge and keeps
//   it when the line falls again before INTA (on the chip the request must stay high
//   until INTA). Devices that pulse their line (IrqLine::pulse) would otherwise never
//   be seen. Level-triggered inputs follow the line, so a level request withdrawn
//   before INTA yields the spurious vector.
// - The cascade is hard-wired as on a PC (slave on master IR2); ICW3 is stored but
//   does not move it. The master's IR2 request follows the slave's INT output as a
//   level, so a slave request pending behind one in service is not lost; a slave
//   request withdrawn before INTA therefore ends as the master's spurious IRQ 7 (the
//   slave's IRQ 15 vector is only returned if the slave has nothing when the master
//   has already chosen IR2, which this model's single lock makes impossible).
// - 8080/8085 mode (ICW4 bit 0 clear), buffered mode and the call address interval
//   are accepted and ignored: vectors are always delivered in 8086 form.
//
// Thread-safe: one lock for the pair. The INTR listener (ExtIntSource) is called
// without it.
#pragma once

#include <array>
#include <cstdint>
#include <mutex>

#include "bus/io_device.h"
#include "devices/ext_int_source.h"
#include "devices/legacy_irq_sink.h"

namespace vireo {

class IoBus;

class Pic8259Pair final : public LegacyIrqSink, public ExtIntSource {
 public:
  static constexpr uint16_t kMasterPort = 0x20;  // command; data at +1
  static constexpr uint16_t kSlavePort = 0xa0;
  static constexpr uint16_t kElcrPort = 0x4d0;   // master's ELCR; slave's at +1
  static constexpr unsigned kCascadeIrq = 2;      // master input the slave drives
  static constexpr unsigned kIrqCount = 16;

  Pic8259Pair();

  // Registers 0x20-0x21, 0xA0-0xA1 and 0x4D0-0x4D1. The pair must outlive the bus's
  // use of it.
  void attach_to(IoBus& pio);

  // LegacyIrqSink: drives ISA input `irq` (0-15) to `level`. Out-of-range inputs are
  // ignored. IRQ 2 is the cascade and cannot be driven from outside. When the master's
  // INT output rises, the INTR listener (ExtIntSource::set_intr_listener) is called,
  // after the PIC's lock is released, so a vCPU sleeping in HLT wakes up.
  void set_irq(unsigned irq, bool level) override;

  // ExtIntSource: true while the master's INT output is asserted (an unmasked
  // request of higher priority than everything in service).
  bool pending() override;
  // The INTA cycle: takes the highest-priority request and returns its vector
  // (ICW2 base + input). Sets its ISR bit unless in auto-EOI mode. When nothing is
  // requested any more, returns the chip's IRQ 7 vector without touching ISR
  // (spurious interrupt).
  uint8_t acknowledge() override;

  // Port access as the bus delivers it (also used by tests); `port` is absolute.
  uint8_t read_port(uint16_t port);
  void write_port(uint16_t port, uint8_t value);

  // Introspection for tests and debugging.
  uint8_t irr(bool slave);
  uint8_t isr(bool slave);
  uint8_t imr(bool slave);

 private:
  struct Chip {
    uint8_t irr = 0;          // interrupt request register
    uint8_t isr = 0;          // in-service register
    uint8_t imr = 0;          // interrupt mask register
    uint8_t input_levels = 0; // current level of each IR input
    uint8_t elcr = 0;         // 1 = level-triggered input
    uint8_t elcr_writable = 0;
    uint8_t vector_base = 0;  // ICW2 & 0xF8
    uint8_t icw3 = 0;
    uint8_t lowest_priority = 7;  // input with the lowest priority (rotation)
    unsigned init_step = 0;   // 0: operational; 2/3/4: expecting ICW2/3/4
    bool expect_icw4 = false;
    bool single = false;      // ICW1.SNGL
    bool ltim = false;        // ICW1.LTIM: all inputs level-triggered
    bool auto_eoi = false;
    bool rotate_on_auto_eoi = false;
    bool special_fully_nested = false;
    bool special_mask = false;
    bool read_isr = false;    // OCW3 RR/RIS: command-port reads give ISR instead of IRR
    bool poll = false;        // OCW3 P: the next read is a poll
    bool is_master = false;

    uint8_t level_mask() const { return ltim ? 0xff : elcr; }
  };

  class Ports final : public IoDevice {
   public:
    Ports(Pic8259Pair& pic, uint16_t base) : pic_(pic), base_(base) {}
    uint64_t io_read(uint64_t offset, unsigned size) override;
    void io_write(uint64_t offset, unsigned size, uint64_t value) override;

   private:
    Pic8259Pair& pic_;
    uint16_t base_;
  };

  // All below run with mu_ held.
  static unsigned priority_of(const Chip& c, unsigned irq) { return (irq - c.lowest_priority - 1) & 7; }
  static int highest_priority_irq(const Chip& c, uint8_t bits);
  static int requested_irq(const Chip& c);
  void set_chip_input(Chip& c, unsigned irq, bool level);
  void update_cascade();
  bool master_output() const;
  void take_request(Chip& c, unsigned irq);
  uint8_t poll_chip(Chip& c);
  void write_command(Chip& c, uint8_t value);
  void write_data(Chip& c, uint8_t value);
  void write_ocw2(Chip& c, uint8_t value);
  uint8_t read_command(Chip& c);
  uint8_t read_data(Chip& c);
  // After a change: true when the master's output went from low to high.
  bool output_rose();

  std::mutex mu_;
  Chip master_;
  Chip slave_;
  bool last_output_ = false;
  Ports master_ports_{*this, kMasterPort};
  Ports slave_ports_{*this, kSlavePort};
  Ports elcr_ports_{*this, kElcrPort};
};

}  // namespace vireo
