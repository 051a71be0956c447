#include "devices/pic8259.h"

#include <gtest/gtest.h>

#include "bus/io_bus.h"
#include "devices/ioapic.h"
#include "devices/irq_router.h"

using namespace vireo;

namespace {

// Port numbers and command bytes from the 8259A datasheet and the PC wiring.
constexpr uint16_t kMasterCmd = 0x20, kMasterData = 0x21, kSlaveCmd = 0xa0, kSlaveData = 0xa1;
constexpr uint16_t kElcrMaster = 0x4d0, kElcrSlave = 0x4d1;
constexpr uint8_t kMasterBase = 0x30, kSlaveBase = 0x38;
constexpr uint8_t kNonSpecificEoi = 0x20;
constexpr uint8_t kReadIrr = 0x0a, kReadIsr = 0x0b, kPoll = 0x0c;

class Pic8259Test : public ::testing::Test {
 protected:
  IoBus pio{"pio"};
  Pic8259Pair pic;
  int output_rises = 0;

  void SetUp() override {
    pic.attach_to(pio);
    pic.set_intr_listener([this] { ++output_rises; });
  }

  void out(uint16_t port, uint8_t v) { ASSERT_TRUE(pio.write(port, 1, v)); }
  uint8_t in(uint16_t port) {
    uint64_t v = 0;
    EXPECT_TRUE(pio.read(port, 1, v));
    return static_cast<uint8_t>(v);
  }

  // The sequence a PC BIOS or Linux's init_8259A uses: ICW1 edge, cascade, ICW4;
  // ICW2 vector base; ICW3 slave on IR2 / slave ID 2; ICW4 8086 mode (+ AEOI).
  void init(bool auto_eoi = false) {
    uint8_t icw4 = auto_eoi ? 0x03 : 0x01;
    out(kMasterCmd, 0x11);
    out(kMasterData, kMasterBase);
    out(kMasterData, 0x04);
    out(kMasterData, icw4);
    out(kSlaveCmd, 0x11);
    out(kSlaveData, kSlaveBase);
    out(kSlaveData, 0x02);
    out(kSlaveData, icw4);
    out(kMasterData, 0x00);  // OCW1: all unmasked
    out(kSlaveData, 0x00);
  }

  void pulse(unsigned irq) {
    pic.set_irq(irq, true);
    pic.set_irq(irq, false);
  }
};

}  // namespace

TEST_F(Pic8259Test, IcwSequenceSetsVectorBaseAndAcknowledgeSetsIsr) {
  init();
  EXPECT_FALSE(pic.pending());
  pulse(3);
  ASSERT_TRUE(pic.pending());
  EXPECT_EQ(in(kMasterCmd) & 0x08, 0x08) << "IRR3 after the edge";
  EXPECT_EQ(pic.acknowledge(), kMasterBase + 3);
  EXPECT_EQ(pic.isr(false), 0x08);
  EXPECT_EQ(pic.irr(false), 0x00) << "the edge request is consumed by INTA";
  EXPECT_FALSE(pic.pending());
  out(kMasterCmd, kNonSpecificEoi);
  EXPECT_EQ(pic.isr(false), 0x00);
}

TEST_F(Pic8259Test, DataPortReadsImrAfterInitialization) {
  init();
  out(kMasterData, 0xa5);
  out(kSlaveData, 0x5a);
  EXPECT_EQ(in(kMasterData), 0xa5);
  EXPECT_EQ(in(kSlaveData), 0x5a);
  // ICW1 clears IMR.
  out(kMasterCmd, 0x11);
  out(kMasterData, kMasterBase);
  out(kMasterData, 0x04);
  out(kMasterData, 0x01);
  EXPECT_EQ(in(kMasterData), 0x00);
  // ICW2 took the vector base: the mask write afterwards is OCW1 again.
  out(kMasterData, 0xfe);
  EXPECT_EQ(in(kMasterData), 0xfe);
}

TEST_F(Pic8259Test, IcwWithoutIcw4AndSingleMode) {
  // ICW1 = 0x12: single, no ICW4. Only ICW2 follows, then data writes are OCW1.
  out(kMasterCmd, 0x12);
  out(kMasterData, 0x48);
  out(kMasterData, 0x00);  // OCW1, not ICW3
  EXPECT_EQ(in(kMasterData), 0x00);
  pulse(1);
  EXPECT_EQ(pic.acknowledge(), 0x49);
}

TEST_F(Pic8259Test, LowerIrqHasPriorityAndNesting) {
  init();
  pulse(5);
  pulse(1);
  EXPECT_EQ(pic.acknowledge(), kMasterBase + 1);
  // IRQ 5 waits behind IRQ 1 in service.
  EXPECT_FALSE(pic.pending());
  // A higher-priority request (IRQ 0) nests above IRQ 1.
  pulse(0);
  EXPECT_TRUE(pic.pending());
  EXPECT_EQ(pic.acknowledge(), kMasterBase + 0);
  EXPECT_EQ(pic.isr(false), 0x03);
  out(kMasterCmd, kNonSpecificEoi);  // clears the highest: IRQ 0
  EXPECT_EQ(pic.isr(false), 0x02);
  out(kMasterCmd, kNonSpecificEoi);  // then IRQ 1
  EXPECT_TRUE(pic.pending());
  EXPECT_EQ(pic.acknowledge(), kMasterBase + 5);
}

TEST_F(Pic8259Test, MaskedIrqIsNotDeliveredUntilUnmasked) {
  init();
  out(kMasterData, 0x10);  // mask IRQ 4
  pulse(4);
  EXPECT_FALSE(pic.pending());
  EXPECT_EQ(pic.irr(false) & 0x10, 0x10) << "a masked request still shows in IRR";
  int rises = output_rises;
  out(kMasterData, 0x00);
  EXPECT_TRUE(pic.pending());
  EXPECT_EQ(output_rises, rises + 1) << "unmasking a pending request raises INT";
  EXPECT_EQ(pic.acknowledge(), kMasterBase + 4);
}

TEST_F(Pic8259Test, SlaveIrqCascadesThroughMasterIr2) {
  init();
  pulse(10);
  ASSERT_TRUE(pic.pending());
  EXPECT_EQ(pic.irr(false) & 0x04, 0x04);
  EXPECT_EQ(pic.acknowledge(), kSlaveBase + 2);
  EXPECT_EQ(pic.isr(false), 0x04) << "master IR2 in service";
  EXPECT_EQ(pic.isr(true), 0x04) << "slave IR2 (IRQ 10) in service";
  // Master IRQ 3 has lower priority than the cascade in service.
  pulse(3);
  EXPECT_FALSE(pic.pending());
  out(kSlaveCmd, kNonSpecificEoi);
  out(kMasterCmd, kNonSpecificEoi);
  EXPECT_EQ(pic.isr(true), 0);
  EXPECT_EQ(pic.isr(false), 0);
  EXPECT_EQ(pic.acknowledge(), kMasterBase + 3);
}

TEST_F(Pic8259Test, SlaveRequestsQueuedBehindEachOther) {
  init();
  pulse(12);
  pulse(9);
  EXPECT_EQ(pic.acknowledge(), kSlaveBase + 1);
  EXPECT_FALSE(pic.pending());
  out(kSlaveCmd, kNonSpecificEoi);
  out(kMasterCmd, kNonSpecificEoi);
  ASSERT_TRUE(pic.pending()) << "IRQ 12 still waits on the slave";
  EXPECT_EQ(pic.acknowledge(), kSlaveBase + 4);
}

TEST_F(Pic8259Test, MaskedSlaveOrCascadeBlocksSlaveIrqs) {
  init();
  out(kMasterData, 0x04);  // mask the cascade
  pulse(8);
  EXPECT_FALSE(pic.pending());
  out(kMasterData, 0x00);
  out(kSlaveData, 0x01);  // mask IRQ 8 on the slave
  EXPECT_FALSE(pic.pending());
  out(kSlaveData, 0x00);
  EXPECT_TRUE(pic.pending());
  EXPECT_EQ(pic.acknowledge(), kSlaveBase + 0);
}

TEST_F(Pic8259Test, EdgeInputNeedsANewRisingEdge) {
  init();
  pic.set_irq(4, true);
  EXPECT_EQ(pic.acknowledge(), kMasterBase + 4);
  out(kMasterCmd, kNonSpecificEoi);
  // Still high, no new edge: no new request.
  pic.set_irq(4, true);
  EXPECT_FALSE(pic.pending());
  pic.set_irq(4, false);
  pic.set_irq(4, true);
  EXPECT_TRUE(pic.pending());
}

TEST_F(Pic8259Test, LevelInputViaElcrFollowsTheLine) {
  init();
  out(kElcrMaster, 0xff);
  out(kElcrSlave, 0xff);
  EXPECT_EQ(in(kElcrMaster), 0xf8) << "IRQ 0-2 are always edge-triggered";
  EXPECT_EQ(in(kElcrSlave), 0xde) << "IRQ 8 and 13 are always edge-triggered";

  pic.set_irq(5, true);
  EXPECT_EQ(pic.acknowledge(), kMasterBase + 5);
  EXPECT_EQ(pic.irr(false) & 0x20, 0x20) << "a held level request stays in IRR";
  out(kMasterCmd, kNonSpecificEoi);
  EXPECT_TRUE(pic.pending()) << "still asserted after EOI: delivered again";
  EXPECT_EQ(pic.acknowledge(), kMasterBase + 5);
  out(kMasterCmd, kNonSpecificEoi);
  pic.set_irq(5, false);
  EXPECT_FALSE(pic.pending());
  EXPECT_EQ(pic.irr(false) & 0x20, 0);

  // The same pulse on an edge input is remembered; on a level input it is gone.
  pulse(5);
  EXPECT_FALSE(pic.pending());
  out(kElcrMaster, 0x00);
  pulse(5);
  EXPECT_TRUE(pic.pending());
}

TEST_F(Pic8259Test, IcwLtimMakesAllInputsLevelTriggered) {
  out(kMasterCmd, 0x19);  // ICW1 | LTIM | IC4
  out(kMasterData, kMasterBase);
  out(kMasterData, 0x04);
  out(kMasterData, 0x01);
  out(kMasterData, 0x00);
  pulse(6);
  EXPECT_FALSE(pic.pending());
  pic.set_irq(6, true);
  EXPECT_TRUE(pic.pending());
}

TEST_F(Pic8259Test, Ocw3SelectsIrrOrIsr) {
  init();
  pulse(6);
  pulse(7);
  EXPECT_EQ(in(kMasterCmd), 0xc0) << "IRR is the power-on selection";
  EXPECT_EQ(pic.acknowledge(), kMasterBase + 6);
  out(kMasterCmd, kReadIsr);
  EXPECT_EQ(in(kMasterCmd), 0x40);
  EXPECT_EQ(in(kMasterCmd), 0x40) << "the selection persists";
  out(kMasterCmd, kReadIrr);
  EXPECT_EQ(in(kMasterCmd), 0x80);
  // OCW3 without RR set leaves the selection alone.
  out(kMasterCmd, kReadIsr);
  out(kMasterCmd, 0x08);
  EXPECT_EQ(in(kMasterCmd), 0x40);
}

TEST_F(Pic8259Test, AutoEoiLeavesIsrClear) {
  init(/*auto_eoi=*/true);
  pulse(3);
  EXPECT_EQ(pic.acknowledge(), kMasterBase + 3);
  EXPECT_EQ(pic.isr(false), 0);
  pulse(4);
  EXPECT_TRUE(pic.pending()) << "no ISR bit blocks the lower-priority request";
  EXPECT_EQ(pic.acknowledge(), kMasterBase + 4);
}

TEST_F(Pic8259Test, SpuriousIrq7WhenTheRequestVanishedBeforeInta) {
  init();
  out(kElcrMaster, 0x08);  // IRQ 3 level-triggered
  pic.set_irq(3, true);
  ASSERT_TRUE(pic.pending());
  pic.set_irq(3, false);  // withdrawn before INTA
  EXPECT_EQ(pic.acknowledge(), kMasterBase + 7);
  EXPECT_EQ(pic.isr(false), 0) << "a spurious interrupt sets no ISR bit";
}

TEST_F(Pic8259Test, VanishedSlaveRequestIsSpuriousOnTheMaster) {
  init();
  out(kElcrSlave, 0x08);  // IRQ 11 level-triggered
  pic.set_irq(11, true);
  ASSERT_TRUE(pic.pending());
  pic.set_irq(11, false);  // withdrawn between INTR and INTA
  // The cascade input follows the slave's output, so the master's request vanished
  // too: the master answers with its IR7 vector and nothing is in service.
  EXPECT_EQ(pic.acknowledge(), kMasterBase + 7);
  EXPECT_EQ(pic.isr(false), 0);
  EXPECT_EQ(pic.isr(true), 0);
  // Asserted again, it is delivered through the cascade.
  pic.set_irq(11, true);
  EXPECT_EQ(pic.acknowledge(), kSlaveBase + 3);
}

TEST_F(Pic8259Test, SpecificEoiClearsTheNamedLevel) {
  init();
  pulse(1);
  EXPECT_EQ(pic.acknowledge(), kMasterBase + 1);
  pulse(0);
  EXPECT_EQ(pic.acknowledge(), kMasterBase + 0);
  out(kMasterCmd, 0x61);  // specific EOI, level 1
  EXPECT_EQ(pic.isr(false), 0x01);
  out(kMasterCmd, 0x60);  // specific EOI, level 0
  EXPECT_EQ(pic.isr(false), 0x00);
}

TEST_F(Pic8259Test, RotationChangesPriority) {
  init();
  out(kMasterCmd, 0xc3);  // set priority: IR3 lowest, IR4 highest
  pulse(1);
  pulse(5);
  pulse(4);
  EXPECT_EQ(pic.acknowledge(), kMasterBase + 4);
  out(kMasterCmd, 0xa0);  // rotate on non-specific EOI: IR4 becomes lowest
  EXPECT_EQ(pic.isr(false), 0);
  EXPECT_EQ(pic.acknowledge(), kMasterBase + 5);
  out(kMasterCmd, 0xe5);  // rotate on specific EOI level 5: IR6 highest
  EXPECT_EQ(pic.acknowledge(), kMasterBase + 1);
}

TEST_F(Pic8259Test, PollCommandActsAsInta) {
  init();
  out(kMasterData, 0xff);  // polled systems run with INT masked off the CPU; IMR still applies
  out(kMasterData, 0x00);
  pulse(6);
  out(kMasterCmd, kPoll);
  EXPECT_EQ(in(kMasterCmd), 0x86);
  EXPECT_EQ(pic.isr(false), 0x40);
  out(kMasterCmd, kPoll);
  EXPECT_EQ(in(kMasterCmd), 0x00) << "nothing else requested";
  out(kMasterCmd, kReadIrr);
  EXPECT_EQ(in(kMasterCmd), 0x00) << "the poll read was one-shot";
}

TEST_F(Pic8259Test, SpecialMaskModeLetsLowerPrioritiesIn) {
  init();
  pulse(2 + 1);  // IRQ 3
  EXPECT_EQ(pic.acknowledge(), kMasterBase + 3);
  pulse(5);
  EXPECT_FALSE(pic.pending());
  out(kMasterData, 0x08);  // mask IR3 (in service)
  out(kMasterCmd, 0x68);   // OCW3: set special mask mode
  EXPECT_TRUE(pic.pending());
  EXPECT_EQ(pic.acknowledge(), kMasterBase + 5);
}

TEST_F(Pic8259Test, ListenerCalledWhenOutputRises) {
  init();
  int before = output_rises;
  pulse(3);
  EXPECT_EQ(output_rises, before + 1);
  pulse(4);  // output already high
  EXPECT_EQ(output_rises, before + 1);
  pic.acknowledge();
  out(kMasterCmd, kNonSpecificEoi);
  EXPECT_EQ(output_rises, before + 2) << "EOI unblocks IRQ 4: the output rises again";
}

TEST_F(Pic8259Test, CascadeInputCannotBeDrivenAndBadIrqsAreIgnored) {
  init();
  pic.set_irq(2, true);
  pic.set_irq(16, true);
  pic.set_irq(~0u, true);
  EXPECT_FALSE(pic.pending());
}

TEST_F(Pic8259Test, WideAccessCoversBothPorts) {
  init();
  ASSERT_TRUE(pio.write(kMasterCmd, 2, 0xab00 | kReadIsr));  // OCW3 to 0x20, IMR 0xab to 0x21
  EXPECT_EQ(in(kMasterData), 0xab);
  uint64_t v = 0;
  ASSERT_TRUE(pio.read(kMasterCmd, 2, v));
  EXPECT_EQ(v, 0xab00u);
}

TEST_F(Pic8259Test, RouterLinesDriveThePicInputs) {
  init();
  Ioapic ioapic(0, [](const ApicMessage&) {});
  IrqRouter router(ioapic, &pic);
  auto timer = router.make_irq_line(0);
  auto rtc = router.make_irq_line(8);
  timer->pulse();
  EXPECT_EQ(pic.acknowledge(), kMasterBase + 0);
  out(kMasterCmd, kNonSpecificEoi);
  rtc->set_level(true);
  EXPECT_EQ(pic.acknowledge(), kSlaveBase + 0);
}
