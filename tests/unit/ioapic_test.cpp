#include "devices/ioapic.h"

#include <gtest/gtest.h>

#include <vector>

#include "arch/x86/layout.h"
#include "base/error.h"
#include "bus/io_bus.h"
#include "devices/apic_bus.h"
#include "devices/current_cpu.h"
#include "devices/interrupt_controllers.h"
#include "devices/irq_router.h"

using namespace vireo;

namespace {

// 82093AA datasheet 3.1/3.2.
constexpr uint64_t IOREGSEL = 0x00, IOWIN = 0x10;
constexpr uint32_t MASKED = 1u << 16, LEVEL = 1u << 15, REMOTE_IRR = 1u << 14, ACTIVE_LOW = 1u << 13,
                   LOGICAL = 1u << 11, LOWEST_PRIORITY = 1u << 8;

class IoapicTest : public ::testing::Test {
 protected:
  std::vector<ApicMessage> sent;
  Ioapic ioapic{5, [this](const ApicMessage& m) { sent.push_back(m); }};

  uint32_t rd(uint8_t reg) {
    ioapic.io_write(IOREGSEL, 4, reg);
    return static_cast<uint32_t>(ioapic.io_read(IOWIN, 4));
  }
  void wr(uint8_t reg, uint32_t v) {
    ioapic.io_write(IOREGSEL, 4, reg);
    ioapic.io_write(IOWIN, 4, v);
  }
  void program(unsigned pin, uint32_t low, uint8_t destination = 0) {
    wr(0x11 + 2 * pin, uint32_t(destination) << 24);
    wr(0x10 + 2 * pin, low);
  }
  uint32_t entry_low(unsigned pin) { return rd(0x10 + 2 * pin); }
};

}  // namespace

TEST_F(IoapicTest, RegistersAfterReset) {
  EXPECT_EQ(rd(0x00), 5u << 24);
  EXPECT_EQ(rd(0x01), 0x00170011u);
  EXPECT_EQ(rd(0x02), 5u << 24);
  for (unsigned pin = 0; pin < Ioapic::kPins; ++pin) {
    EXPECT_EQ(entry_low(pin), MASKED) << "pin " << pin;
    EXPECT_EQ(rd(0x11 + 2 * pin), 0u);
  }
  EXPECT_EQ(rd(0x10 + 2 * Ioapic::kPins), 0u);  // past the table
  ioapic.io_write(IOREGSEL, 4, 0x01);
  EXPECT_EQ(ioapic.io_read(IOREGSEL, 4), 0x01u);
}

TEST_F(IoapicTest, WriteMasks) {
  wr(0x00, 0xffffffff);
  EXPECT_EQ(rd(0x00), 0xff000000u);
  Ioapic many_cpus(200, [](const ApicMessage&) {});  // the MADT's id after 200 CPUs
  many_cpus.io_write(IOREGSEL, 4, 0x00);
  EXPECT_EQ(many_cpus.io_read(IOWIN, 4), 200u << 24);
  wr(0x01, 0);
  EXPECT_EQ(rd(0x01), 0x00170011u);
  wr(0x10, 0xffffffff);  // delivery status and remote IRR are read-only
  EXPECT_EQ(entry_low(0), 0x0001afffu);
  wr(0x11, 0xffffffff);
  EXPECT_EQ(rd(0x11), 0xff000000u);
  EXPECT_EQ(ioapic.redirection_entry(0), 0xff0000000001afffull);
}

TEST_F(IoapicTest, EdgeDeliversOncePerRisingEdge) {
  program(4, 0x34, 1);
  ioapic.set_pin(4, true);
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0].vector, 0x34);
  EXPECT_EQ(sent[0].destination, 1);
  EXPECT_FALSE(sent[0].logical);
  EXPECT_FALSE(sent[0].level_triggered);
  EXPECT_EQ(sent[0].mode, ApicDeliveryMode::Fixed);
  ioapic.set_pin(4, true);  // still high: no new edge
  EXPECT_EQ(sent.size(), 1u);
  ioapic.end_of_interrupt(0x34);  // nothing to do for an edge entry
  EXPECT_EQ(sent.size(), 1u);
  ioapic.set_pin(4, false);
  EXPECT_EQ(sent.size(), 1u);
  ioapic.set_pin(4, true);
  EXPECT_EQ(sent.size(), 2u);
  EXPECT_EQ(entry_low(4) & REMOTE_IRR, 0u);
}

TEST_F(IoapicTest, LevelRedeliversAfterEoiWhileAsserted) {
  program(9, LEVEL | 0x59);
  ioapic.set_pin(9, true);
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_TRUE(sent[0].level_triggered);
  EXPECT_NE(entry_low(9) & REMOTE_IRR, 0u);
  ioapic.set_pin(9, false);
  ioapic.set_pin(9, true);  // remote IRR blocks a second message
  EXPECT_EQ(sent.size(), 1u);
  ioapic.end_of_interrupt(0x58);  // another vector: no effect
  EXPECT_NE(entry_low(9) & REMOTE_IRR, 0u);
  ioapic.end_of_interrupt(0x59);  // still asserted: sent again
  EXPECT_EQ(sent.size(), 2u);
  EXPECT_NE(entry_low(9) & REMOTE_IRR, 0u);
  ioapic.set_pin(9, false);
  ioapic.end_of_interrupt(0x59);
  EXPECT_EQ(sent.size(), 2u);
  EXPECT_EQ(entry_low(9) & REMOTE_IRR, 0u);
  wr(0x10 + 2 * 9, LEVEL | 0x59 | REMOTE_IRR);  // the guest cannot set remote IRR
  EXPECT_EQ(entry_low(9) & REMOTE_IRR, 0u);
}

TEST_F(IoapicTest, MaskedPinsDeliverNothing) {
  program(3, MASKED | 0x33);
  ioapic.set_pin(3, true);
  EXPECT_TRUE(sent.empty());
  program(3, 0x33);  // an edge that came while masked is lost
  EXPECT_TRUE(sent.empty());
  ioapic.set_pin(3, false);
  ioapic.set_pin(3, true);
  EXPECT_EQ(sent.size(), 1u);

  program(10, MASKED | LEVEL | 0x3a);
  ioapic.set_pin(10, true);
  EXPECT_EQ(sent.size(), 1u);
  program(10, LEVEL | 0x3a);  // a level still asserted is sent on unmask
  ASSERT_EQ(sent.size(), 2u);
  EXPECT_EQ(sent[1].vector, 0x3a);
}

TEST_F(IoapicTest, ActiveLowInvertsThePin) {
  program(11, MASKED | LEVEL | ACTIVE_LOW | 0x3b);
  ioapic.set_pin(11, true);  // electrically high: de-asserted
  program(11, LEVEL | ACTIVE_LOW | 0x3b);
  EXPECT_TRUE(sent.empty());
  ioapic.set_pin(11, false);  // low: asserted
  ASSERT_EQ(sent.size(), 1u);
  ioapic.set_pin(11, true);
  ioapic.end_of_interrupt(0x3b);
  EXPECT_EQ(sent.size(), 1u);

  program(12, ACTIVE_LOW | 0x3c);  // edge, active low: the falling edge counts
  ioapic.set_pin(12, true);
  EXPECT_EQ(sent.size(), 1u);
  ioapic.set_pin(12, false);
  EXPECT_EQ(sent.size(), 2u);
}

TEST_F(IoapicTest, LogicalAndLowestPriorityFields) {
  program(7, LOGICAL | LOWEST_PRIORITY | 0x47, 0x0c);
  ioapic.set_pin(7, true);
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_TRUE(sent[0].logical);
  EXPECT_EQ(sent[0].mode, ApicDeliveryMode::LowestPriority);
  EXPECT_EQ(sent[0].destination, 0x0c);
}

TEST_F(IoapicTest, UnsupportedDeliveryModesAreDropped) {
  program(6, (4u << 8) | 0x46);  // NMI
  ioapic.set_pin(6, true);
  EXPECT_TRUE(sent.empty());
}

// The I/O APIC, the APIC bus and the local APICs together.
TEST(IoapicRoutingTest, MessagesReachTheAddressedApicAndEoiComesBack) {
  ApicBusConfig c;
  c.num_cpus = 3;
  ApicBus bus(c);
  Ioapic ioapic(3, [&bus](const ApicMessage& m) { bus.deliver(m); });
  bus.set_eoi_listener([&ioapic](uint8_t v) { ioapic.end_of_interrupt(v); });
  for (unsigned i = 0; i < 3; ++i) bus.apic(i).write_register(0xf0, 0x1ff);
  bus.apic(2).write_register(0xd0, 0x04000000);  // logical id 0x04 (flat)

  auto program = [&](unsigned pin, uint32_t low, uint8_t dest) {
    ioapic.io_write(IOREGSEL, 4, 0x11 + 2 * pin);
    ioapic.io_write(IOWIN, 4, uint32_t(dest) << 24);
    ioapic.io_write(IOREGSEL, 4, 0x10 + 2 * pin);
    ioapic.io_write(IOWIN, 4, low);
  };
  program(4, 0x34, 1);  // physical: APIC 1
  ioapic.set_pin(4, true);
  EXPECT_FALSE(bus.apic(0).irr_bit(0x34));
  EXPECT_TRUE(bus.apic(1).irr_bit(0x34));
  EXPECT_FALSE(bus.apic(2).irr_bit(0x34));

  program(9, LEVEL | LOGICAL | 0x59, 0x04);  // logical: APIC 2
  ioapic.set_pin(9, true);
  LocalApic& apic2 = bus.apic(2);
  EXPECT_TRUE(apic2.irr_bit(0x59));
  EXPECT_TRUE(apic2.tmr_bit(0x59));
  EXPECT_EQ(apic2.acknowledge(), 0x59);
  apic2.write_register(0xb0, 0);  // EOI: the pin is still asserted, so it comes again
  EXPECT_TRUE(apic2.irr_bit(0x59));
  EXPECT_EQ(apic2.acknowledge(), 0x59);
  ioapic.set_pin(9, false);
  apic2.write_register(0xb0, 0);
  EXPECT_FALSE(apic2.irr_bit(0x59));
  ioapic.io_write(IOREGSEL, 4, 0x10 + 2 * 9);
  EXPECT_EQ(ioapic.io_read(IOWIN, 4) & REMOTE_IRR, 0u);
}

// ---- IrqRouter ------------------------------------------------------------------

namespace {

struct RecordingPic : LegacyIrqSink {
  std::vector<std::pair<unsigned, bool>> calls;
  void set_irq(unsigned irq, bool level) override { calls.emplace_back(irq, level); }
};

class IrqRouterTest : public ::testing::Test {
 protected:
  std::vector<ApicMessage> sent;
  Ioapic ioapic{0, [this](const ApicMessage& m) { sent.push_back(m); }};
  RecordingPic pic;
  IrqRouter router{ioapic, &pic};

  // Every pin unmasked, edge-triggered, vector 0x20 + pin.
  void SetUp() override {
    for (unsigned pin = 0; pin < Ioapic::kPins; ++pin) {
      ioapic.io_write(IOREGSEL, 4, 0x10 + 2 * pin);
      ioapic.io_write(IOWIN, 4, 0x20 + pin);
    }
  }
};

}  // namespace

TEST_F(IrqRouterTest, IsaIrq0ReachesPin2AndPicInput0) {
  auto line = router.make_irq_line(0);
  line->set_level(true);
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0].vector, 0x22);  // pin 2
  ASSERT_EQ(pic.calls.size(), 1u);
  EXPECT_EQ(pic.calls[0], std::make_pair(0u, true));
  line->set_level(false);
  EXPECT_EQ(pic.calls.back(), std::make_pair(0u, false));
  EXPECT_EQ(IrqRouter::ioapic_pin(0), 2u);
}

TEST_F(IrqRouterTest, IsaIrqNReachesPinNAndPicInputN) {
  auto line = router.make_irq_line(4);
  line->pulse();
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0].vector, 0x24);
  ASSERT_EQ(pic.calls.size(), 2u);
  EXPECT_EQ(pic.calls[0], std::make_pair(4u, true));
  EXPECT_EQ(pic.calls[1], std::make_pair(4u, false));
}

TEST_F(IrqRouterTest, GsisAbove15ReachOnlyTheIoapic) {
  auto line = router.make_irq_line(20);
  line->set_level(true);
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0].vector, 0x34);
  EXPECT_TRUE(pic.calls.empty());
}

TEST_F(IrqRouterTest, SharedLinesAreWiredOr) {
  auto a = router.make_irq_line(5);
  auto b = router.make_irq_line(5);
  a->set_level(true);
  b->set_level(true);
  a->set_level(false);
  ASSERT_EQ(pic.calls.size(), 1u);  // still asserted by b
  EXPECT_EQ(sent.size(), 1u);
  b->set_level(false);
  ASSERT_EQ(pic.calls.size(), 2u);
  EXPECT_EQ(pic.calls[1], std::make_pair(5u, false));
  a->set_level(false);  // repeated levels change nothing
  EXPECT_EQ(pic.calls.size(), 2u);
}

TEST_F(IrqRouterTest, DestroyingAnAssertedLineReleasesIt) {
  auto a = router.make_irq_line(6);
  a->set_level(true);
  a.reset();
  EXPECT_EQ(pic.calls.back(), std::make_pair(6u, false));
}

TEST_F(IrqRouterTest, RejectsTheCascadeAndMissingNumbers) {
  EXPECT_THROW(router.make_irq_line(2), Error);
  EXPECT_THROW(router.make_irq_line(24), Error);
}

TEST(IrqRouterNoPicTest, WorksWithoutALegacyPic) {
  std::vector<ApicMessage> sent;
  Ioapic ioapic(0, [&](const ApicMessage& m) { sent.push_back(m); });
  IrqRouter router(ioapic);
  ioapic.io_write(IOREGSEL, 4, 0x10 + 2 * 1);
  ioapic.io_write(IOWIN, 4, 0x41);
  router.make_irq_line(1)->pulse();
  EXPECT_EQ(sent.size(), 1u);
}

// ---- the whole APIC side, through guest-physical MMIO ------------------------------

TEST(IrqRouterWiringTest, DeviceLineReachesTheCpuThroughProgrammedControllers) {
  ApicBusConfig c;
  c.num_cpus = 2;
  InterruptControllers ic(c);
  IoBus mmio("mmio");
  ic.add_to(mmio);
  RecordingPic pic;
  ic.attach_pic(&pic, nullptr);
  int wakes1 = 0;
  ic.apic(1).set_wake([&] { ++wakes1; });

  auto w32 = [&](uint64_t addr, uint32_t v) { ASSERT_TRUE(mmio.write(addr, 4, v)); };
  auto r32 = [&](uint64_t addr) {
    uint64_t v = 0;
    EXPECT_TRUE(mmio.read(addr, 4, v));
    return static_cast<uint32_t>(v);
  };
  // As a guest would: the I/O APIC id, COM1's pin 4 level-triggered to APIC 1, then
  // APIC 1 enabled by vCPU 1 itself.
  w32(x86::kIoapicAddr + IOREGSEL, 0x00);
  EXPECT_EQ(r32(x86::kIoapicAddr + IOWIN), 2u << 24);
  w32(x86::kIoapicAddr + IOREGSEL, 0x19);
  w32(x86::kIoapicAddr + IOWIN, 1u << 24);
  w32(x86::kIoapicAddr + IOREGSEL, 0x18);
  w32(x86::kIoapicAddr + IOWIN, LEVEL | 0x64);
  set_current_cpu(1);
  w32(x86::kLapicAddr + 0xf0, 0x1ff);
  EXPECT_EQ(r32(x86::kLapicAddr + 0x20), 1u << 24);

  auto com1 = ic.router().make_irq_line(x86::kCom1Irq);
  com1->set_level(true);
  EXPECT_EQ(pic.calls.back(), std::make_pair(4u, true));
  EXPECT_EQ(wakes1, 1);
  EXPECT_FALSE(ic.apic(0).pending());
  ASSERT_TRUE(ic.apic(1).pending());
  EXPECT_EQ(ic.apic(1).acknowledge(), 0x64);
  com1->set_level(false);            // the driver serviced the UART
  w32(x86::kLapicAddr + 0xb0, 0);    // EOI from vCPU 1 clears remote IRR
  set_current_cpu(0);
  w32(x86::kIoapicAddr + IOREGSEL, 0x18);
  EXPECT_EQ(r32(x86::kIoapicAddr + IOWIN) & REMOTE_IRR, 0u);
  com1->set_level(true);             // so the next interrupt is delivered
  EXPECT_TRUE(ic.apic(1).irr_bit(0x64));
}
