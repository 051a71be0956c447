#include "devices/local_apic.h"

#include <gtest/gtest.h>

#include <array>
#include <atomic>
#include <thread>
#include <tuple>
#include <vector>

#include "devices/apic_bus.h"
#include "devices/current_cpu.h"
#include "devices/ioapic.h"

using namespace vireo;

namespace {

// Register offsets and bits written out from SDM Vol. 3 Table 11-1 and Figures 11-8 to 11-12.
constexpr uint32_t ID = 0x20, VER = 0x30, TPR = 0x80, APR = 0x90, PPR = 0xa0, EOI = 0xb0, LDR = 0xd0,
                   DFR = 0xe0, SVR = 0xf0, IRR0 = 0x200, ESR = 0x280, ICR_LO = 0x300, ICR_HI = 0x310,
                   LVT_TIMER = 0x320, LVT_THERMAL = 0x330, LVT_PERF = 0x340, LVT_LINT0 = 0x350,
                   LVT_LINT1 = 0x360, LVT_ERROR = 0x370, TIMER_INIT = 0x380, TIMER_CUR = 0x390,
                   TIMER_DIV = 0x3e0;
constexpr uint32_t MASKED = 1u << 16;
constexpr uint32_t PERIODIC = 1u << 17, TSC_DEADLINE = 2u << 17;
constexpr uint32_t EXTINT = 7u << 8;
constexpr uint32_t SVR_ENABLE = 0x100;

struct FakeClock {
  uint64_t ns = 1'000'000'000;
  std::function<uint64_t()> fn() {
    return [this] { return ns; };
  }
};

class LocalApicTest : public ::testing::Test {
 protected:
  FakeClock clock;
  int wakes = 0;
  std::vector<uint8_t> eois;
  std::unique_ptr<LocalApic> apic;

  void SetUp() override {
    LocalApicConfig c;
    c.cpu_index = 0;
    c.now_ns = clock.fn();
    // TSC at 1 GHz equal to the clock: deadlines in TSC units are nanoseconds.
    c.read_tsc = clock.fn();
    apic = std::make_unique<LocalApic>(std::move(c));
    apic->set_wake([this] { ++wakes; });
    apic->set_eoi_listener([this](uint8_t v) { eois.push_back(v); });
  }

  uint32_t rd(uint32_t reg) { return apic->read_register(reg); }
  void wr(uint32_t reg, uint32_t v) { apic->write_register(reg, v); }
  void enable(uint8_t spurious = 0xff) { wr(SVR, SVR_ENABLE | spurious); }
  // Takes the pending interrupt and retires it.
  uint8_t take_and_eoi() {
    uint8_t v = apic->acknowledge();
    wr(EOI, 0);
    return v;
  }
};

struct FakePic : ExtIntSource {
  bool intr = false;
  uint8_t vector = 0x20;
  int acks = 0;
  bool pending() override { return intr; }
  uint8_t acknowledge() override {
    ++acks;
    intr = false;
    return vector;
  }
  void raise() {
    intr = true;
    notify_intr();
  }
};

}  // namespace

TEST_F(LocalApicTest, PowerUpValues) {
  EXPECT_EQ(rd(ID), 0u);
  EXPECT_EQ(rd(VER), 0x00050014u);
  EXPECT_EQ(rd(TPR), 0u);
  EXPECT_EQ(rd(PPR), 0u);
  EXPECT_EQ(rd(LDR), 0u);
  EXPECT_EQ(rd(DFR), 0xffffffffu);
  EXPECT_EQ(rd(SVR), 0xffu);
  for (uint32_t lvt : {LVT_TIMER, LVT_THERMAL, LVT_PERF, LVT_LINT0, LVT_LINT1, LVT_ERROR}) EXPECT_EQ(rd(lvt), MASKED);
  EXPECT_EQ(rd(TIMER_INIT), 0u);
  EXPECT_EQ(rd(TIMER_CUR), 0u);
  EXPECT_EQ(rd(TIMER_DIV), 0u);
  uint64_t base = 0;
  ASSERT_TRUE(apic->read_msr(0x1b, base));
  EXPECT_EQ(base, 0xfee00900u);  // enabled, BSP

  LocalApicConfig c;
  c.cpu_index = 3;
  LocalApic ap(std::move(c));
  EXPECT_EQ(ap.read_register(ID), 3u << 24);
  ASSERT_TRUE(ap.read_msr(0x1b, base));
  EXPECT_EQ(base, 0xfee00800u);  // enabled, not the BSP
}

TEST_F(LocalApicTest, WriteMasks) {
  enable();
  wr(SVR, 0xffffffff);
  EXPECT_EQ(rd(SVR), 0x3ffu);
  wr(LVT_TIMER, 0xffffffff);
  EXPECT_EQ(rd(LVT_TIMER), 0x000700ffu);  // delivery status and reserved bits stay 0
  wr(LVT_TIMER, MASKED);
  wr(LVT_LINT0, 0xffffffff);
  EXPECT_EQ(rd(LVT_LINT0), 0x0001a7ffu);  // remote IRR is read-only
  wr(LVT_THERMAL, 0xffffffff);
  EXPECT_EQ(rd(LVT_THERMAL), 0x000107ffu);
  wr(LVT_ERROR, 0xffffffff);
  EXPECT_EQ(rd(LVT_ERROR), 0x000100ffu);
  wr(LDR, 0xffffffff);
  EXPECT_EQ(rd(LDR), 0xff000000u);
  wr(DFR, 0);
  EXPECT_EQ(rd(DFR), 0x0fffffffu);
  wr(TIMER_DIV, 0xffffffff);
  EXPECT_EQ(rd(TIMER_DIV), 0xbu);
  wr(ICR_HI, 0xffffffff);
  EXPECT_EQ(rd(ICR_HI), 0xff000000u);
  wr(VER, 0);
  EXPECT_EQ(rd(VER), 0x00050014u);
  wr(ID, 0x07000000);
  EXPECT_EQ(rd(ID), 0x07000000u);
  EXPECT_EQ(apic->apic_id(), 7);
}

TEST_F(LocalApicTest, SoftwareDisableMasksLvtsAndKeepsThemMasked) {
  enable();
  wr(LVT_LINT0, EXTINT);
  EXPECT_EQ(rd(LVT_LINT0), EXTINT);
  wr(SVR, 0xff);  // software-disabled
  EXPECT_EQ(rd(LVT_LINT0), EXTINT | MASKED);
  wr(LVT_TIMER, 0x40);
  EXPECT_EQ(rd(LVT_TIMER), 0x40u | MASKED);
}

TEST_F(LocalApicTest, MmioWindowIsThe32BitRegisterAt16ByteStrides) {
  enable();
  apic->mmio_write(TPR, 4, 0x12345678ab);
  EXPECT_EQ(rd(TPR), 0xabu);
  EXPECT_EQ(apic->mmio_read(VER, 4), 0x00050014u);
  EXPECT_EQ(apic->mmio_read(VER + 2, 1), 0x05u);
  EXPECT_EQ(apic->mmio_read(VER + 4, 4), 0u);
  apic->mmio_write(TPR + 1, 1, 0x77);  // not an aligned 32-bit write: ignored
  EXPECT_EQ(rd(TPR), 0xabu);
  EXPECT_EQ(apic->mmio_read(0x5000, 4), 0u);  // outside the window
}

TEST_F(LocalApicTest, InterruptMustBeatTheProcessorPriority) {
  enable();
  apic->accept_fixed(0x45, false);
  EXPECT_TRUE(apic->pending());
  EXPECT_EQ(rd(IRR0 + 0x20), 1u << 5);  // vector 0x45 is bit 5 of IRR[2]
  wr(TPR, 0x50);
  EXPECT_FALSE(apic->pending());
  EXPECT_EQ(rd(PPR), 0x50u);
  wr(TPR, 0x40);  // same class as the vector: still blocked
  EXPECT_FALSE(apic->pending());
  wr(TPR, 0x3f);
  EXPECT_TRUE(apic->pending());
  apic->set_tpr(0x4f);  // the CR8 path
  EXPECT_FALSE(apic->pending());
  EXPECT_EQ(apic->tpr(), 0x4f);
}

TEST_F(LocalApicTest, NestedVectorsAreAcknowledgedAndRetiredByPriority) {
  enable();
  apic->accept_fixed(0x30, false);
  EXPECT_EQ(apic->acknowledge(), 0x30);
  EXPECT_TRUE(apic->isr_bit(0x30));
  EXPECT_FALSE(apic->irr_bit(0x30));
  EXPECT_EQ(rd(PPR), 0x30u);
  EXPECT_FALSE(apic->pending());

  apic->accept_fixed(0x50, false);  // higher class: preempts
  EXPECT_TRUE(apic->pending());
  EXPECT_EQ(apic->acknowledge(), 0x50);
  apic->accept_fixed(0x40, false);  // below the 0x50 in service
  EXPECT_FALSE(apic->pending());
  EXPECT_EQ(rd(PPR), 0x50u);

  wr(EOI, 0);  // retires 0x50, the highest in service
  EXPECT_FALSE(apic->isr_bit(0x50));
  EXPECT_TRUE(apic->isr_bit(0x30));
  EXPECT_TRUE(apic->pending());  // 0x40 beats the 0x30 still in service
  EXPECT_EQ(apic->acknowledge(), 0x40);
  wr(EOI, 0);
  EXPECT_FALSE(apic->isr_bit(0x40));
  EXPECT_TRUE(apic->isr_bit(0x30));
  wr(EOI, 0);
  EXPECT_FALSE(apic->isr_bit(0x30));
  EXPECT_EQ(rd(PPR), 0u);
  EXPECT_TRUE(eois.empty());  // all edge-triggered: no EOI broadcast
}

TEST_F(LocalApicTest, HighestVectorFirstWithinTheSameClass) {
  enable();
  apic->accept_fixed(0x61, false);
  apic->accept_fixed(0x6e, false);
  apic->accept_fixed(0x22, false);
  EXPECT_EQ(apic->acknowledge(), 0x6e);
  // 0x61 is the same class as 0x6e in service: waits.
  EXPECT_FALSE(apic->pending());
  wr(EOI, 0);
  EXPECT_EQ(take_and_eoi(), 0x61);
  EXPECT_EQ(take_and_eoi(), 0x22);
  EXPECT_FALSE(apic->pending());
}

TEST_F(LocalApicTest, DisabledApicYieldsTheSpuriousVector) {
  enable(0xef);
  apic->accept_fixed(0x40, false);
  EXPECT_TRUE(apic->pending());
  wr(SVR, 0xef);  // software-disabled: IRR is held but not delivered
  EXPECT_FALSE(apic->pending());
  EXPECT_EQ(apic->acknowledge(), 0xef);
  EXPECT_FALSE(apic->isr_bit(0xef));
  EXPECT_TRUE(apic->irr_bit(0x40));
  apic->accept_fixed(0x41, false);  // not accepted while disabled
  EXPECT_FALSE(apic->irr_bit(0x41));
  enable(0xef);
  EXPECT_EQ(apic->acknowledge(), 0x40);
  // Nothing left: the spurious vector again, and no ISR bit for it.
  EXPECT_EQ(apic->acknowledge(), 0xef);
}

TEST_F(LocalApicTest, LevelTriggeredEoiIsBroadcast) {
  enable();
  apic->accept_fixed(0x61, true);
  EXPECT_TRUE(apic->tmr_bit(0x61));
  apic->accept_fixed(0x52, false);
  EXPECT_FALSE(apic->tmr_bit(0x52));
  EXPECT_EQ(take_and_eoi(), 0x61);
  EXPECT_EQ(take_and_eoi(), 0x52);
  ASSERT_EQ(eois.size(), 1u);
  EXPECT_EQ(eois[0], 0x61);
}

TEST_F(LocalApicTest, AcceptWakesTheCpu) {
  enable();
  int before = wakes;
  apic->accept_fixed(0x33, false);
  EXPECT_GT(wakes, before);
}

TEST_F(LocalApicTest, ReservedVectorsAreAnErrorNotAnInterrupt) {
  enable();
  wr(LVT_ERROR, 0xfe);
  apic->accept_fixed(0x05, false);
  EXPECT_FALSE(apic->irr_bit(0x05));
  EXPECT_EQ(rd(ESR), 0u);  // latched only by an ESR write
  wr(ESR, 0);
  EXPECT_EQ(rd(ESR), 1u << 6);  // receive illegal vector
  wr(ESR, 0);
  EXPECT_EQ(rd(ESR), 0u);
  EXPECT_EQ(apic->acknowledge(), 0xfe);  // the error interrupt
}

TEST_F(LocalApicTest, OneShotTimerFiresOnceAfterTheCountAtTheDivider) {
  enable();
  wr(TIMER_DIV, 0x3);  // divide by 16: 25 MHz / 16, 640 ns per count
  wr(LVT_TIMER, 0x40);
  uint64_t start = clock.ns;
  wr(TIMER_INIT, 1000);
  EXPECT_EQ(apic->next_deadline_ns(), start + 640'000);
  EXPECT_EQ(rd(TIMER_CUR), 1000u);
  clock.ns = start + 320'000;
  EXPECT_EQ(rd(TIMER_CUR), 500u);
  apic->poll_timer(start + 639'999);
  EXPECT_FALSE(apic->irr_bit(0x40));
  int before = wakes;
  apic->poll_timer(start + 640'000);
  EXPECT_TRUE(apic->irr_bit(0x40));
  EXPECT_GT(wakes, before);  // poll_timer may run on another thread than the CPU's
  EXPECT_EQ(apic->next_deadline_ns(), LocalApic::kNever);
  clock.ns = start + 700'000;
  EXPECT_EQ(rd(TIMER_CUR), 0u);
  EXPECT_EQ(take_and_eoi(), 0x40);
  apic->poll_timer(start + 10'000'000);
  EXPECT_FALSE(apic->irr_bit(0x40));
  EXPECT_EQ(rd(TIMER_INIT), 1000u);
}

TEST_F(LocalApicTest, DividerSettingsScaleTheTimer) {
  enable();
  wr(LVT_TIMER, 0x40);
  const std::pair<uint32_t, uint64_t> settings[] = {{0x0, 2}, {0x1, 4}, {0x2, 8}, {0x3, 16},
                                                    {0x8, 32}, {0x9, 64}, {0xa, 128}, {0xb, 1}};
  for (auto [config, divide] : settings) {
    wr(TIMER_DIV, config);
    wr(TIMER_INIT, 10);
    EXPECT_EQ(apic->next_deadline_ns() - clock.ns, 10 * divide * 40) << "divide config " << config;
  }
}

TEST_F(LocalApicTest, PeriodicTimerReloads) {
  enable();
  wr(TIMER_DIV, 0xb);  // divide by 1: 40 ns per count
  wr(LVT_TIMER, PERIODIC | 0x41);
  uint64_t start = clock.ns;
  wr(TIMER_INIT, 100);  // 4 us period
  apic->poll_timer(start + 4000);
  EXPECT_TRUE(apic->irr_bit(0x41));
  EXPECT_EQ(take_and_eoi(), 0x41);
  EXPECT_EQ(apic->next_deadline_ns(), start + 8000);
  clock.ns = start + 5000;
  EXPECT_EQ(rd(TIMER_CUR), 75u);  // reloaded at 4000, 1000 ns = 25 counts later
  apic->poll_timer(start + 7999);
  EXPECT_FALSE(apic->irr_bit(0x41));
  apic->poll_timer(start + 8000);
  EXPECT_EQ(take_and_eoi(), 0x41);
  // Missed periods coalesce into one interrupt; the next deadline stays on the grid.
  apic->poll_timer(start + 20'500);
  EXPECT_EQ(take_and_eoi(), 0x41);
  EXPECT_FALSE(apic->irr_bit(0x41));
  EXPECT_EQ(apic->next_deadline_ns(), start + 24'000);
  wr(TIMER_INIT, 0);  // stops it
  EXPECT_EQ(apic->next_deadline_ns(), LocalApic::kNever);
}

TEST_F(LocalApicTest, MaskedTimerCountsButRaisesNothing) {
  enable();
  wr(TIMER_DIV, 0xb);
  wr(LVT_TIMER, MASKED | PERIODIC | 0x42);
  uint64_t start = clock.ns;
  wr(TIMER_INIT, 100);
  apic->poll_timer(start + 4000);
  EXPECT_FALSE(apic->irr_bit(0x42));
  EXPECT_FALSE(apic->pending());
  EXPECT_EQ(apic->next_deadline_ns(), start + 8000);  // still running
  wr(LVT_TIMER, PERIODIC | 0x42);
  apic->poll_timer(start + 8000);
  EXPECT_TRUE(apic->irr_bit(0x42));
}

TEST_F(LocalApicTest, TscDeadlineFiresAtTheDeadlineAndZeroDisarms) {
  enable();
  uint64_t value = 0;
  // Outside TSC-deadline mode the MSR reads 0 and ignores writes.
  ASSERT_TRUE(apic->write_msr(0x6e0, clock.ns + 100));
  ASSERT_TRUE(apic->read_msr(0x6e0, value));
  EXPECT_EQ(value, 0u);
  EXPECT_EQ(apic->next_deadline_ns(), LocalApic::kNever);

  wr(LVT_TIMER, TSC_DEADLINE | 0x43);
  uint64_t deadline = clock.ns + 5000;
  ASSERT_TRUE(apic->write_msr(0x6e0, deadline));
  ASSERT_TRUE(apic->read_msr(0x6e0, value));
  EXPECT_EQ(value, deadline);
  EXPECT_EQ(apic->next_deadline_ns(), deadline);
  wr(TIMER_INIT, 50);  // ignored in TSC-deadline mode
  EXPECT_EQ(rd(TIMER_INIT), 0u);
  EXPECT_EQ(rd(TIMER_CUR), 0u);
  apic->poll_timer(deadline - 1);
  EXPECT_FALSE(apic->irr_bit(0x43));
  apic->poll_timer(deadline);
  EXPECT_TRUE(apic->irr_bit(0x43));
  ASSERT_TRUE(apic->read_msr(0x6e0, value));
  EXPECT_EQ(value, 0u);  // cleared when it fired
  EXPECT_EQ(take_and_eoi(), 0x43);

  ASSERT_TRUE(apic->write_msr(0x6e0, clock.ns + 1000));
  ASSERT_TRUE(apic->write_msr(0x6e0, 0));
  EXPECT_EQ(apic->next_deadline_ns(), LocalApic::kNever);
  apic->poll_timer(clock.ns + 1'000'000);
  EXPECT_FALSE(apic->irr_bit(0x43));

  // A deadline already in the past fires at the next poll.
  ASSERT_TRUE(apic->write_msr(0x6e0, clock.ns - 10));
  apic->poll_timer(clock.ns);
  EXPECT_TRUE(apic->irr_bit(0x43));
}

TEST_F(LocalApicTest, LeavingTscDeadlineModeDisarms) {
  enable();
  wr(LVT_TIMER, TSC_DEADLINE | 0x43);
  ASSERT_TRUE(apic->write_msr(0x6e0, clock.ns + 1000));
  wr(LVT_TIMER, 0x43);  // one-shot
  EXPECT_EQ(apic->next_deadline_ns(), LocalApic::kNever);
  apic->poll_timer(clock.ns + 2000);
  EXPECT_FALSE(apic->irr_bit(0x43));
}

TEST_F(LocalApicTest, PendingPollsTheTimer) {
  enable();
  wr(TIMER_DIV, 0xb);
  wr(LVT_TIMER, 0x44);
  wr(TIMER_INIT, 25);  // 1 us
  EXPECT_FALSE(apic->pending());
  clock.ns += 1000;
  // The clock is read on one call in kTimerCheckInterval.
  bool seen = false;
  for (unsigned i = 0; i < LocalApic::kTimerCheckInterval && !seen; ++i) seen = apic->pending();
  EXPECT_TRUE(seen);
  EXPECT_EQ(take_and_eoi(), 0x44);

  // After next_deadline_ns() (a vCPU about to wait in HLT), the next call looks at once.
  wr(TIMER_INIT, 25);
  for (unsigned i = 0; i < 3; ++i) EXPECT_FALSE(apic->pending());
  clock.ns = apic->next_deadline_ns();
  EXPECT_TRUE(apic->pending());
}

TEST_F(LocalApicTest, ExtIntThroughLint0BypassesIrrAndIsr) {
  FakePic pic;
  apic->set_ext_int_source(&pic);
  pic.set_intr_listener([this] { apic->ext_int_raised(); });
  enable();
  pic.raise();
  EXPECT_FALSE(apic->pending());  // LINT0 masked at power-up
  wr(LVT_LINT0, EXTINT);
  EXPECT_TRUE(apic->pending());
  EXPECT_EQ(apic->acknowledge(), 0x20);
  EXPECT_EQ(pic.acks, 1);
  EXPECT_FALSE(apic->isr_bit(0x20));
  EXPECT_FALSE(apic->pending());
  wr(EOI, 0);
  EXPECT_TRUE(eois.empty());

  int before = wakes;
  pic.raise();  // the PIC's INTR wakes a halted CPU
  EXPECT_GT(wakes, before);
  // APIC interrupts go first.
  apic->accept_fixed(0x80, false);
  EXPECT_EQ(apic->acknowledge(), 0x80);
  EXPECT_EQ(pic.acks, 1);

  wr(EOI, 0);
  EXPECT_TRUE(apic->pending());  // the PIC's interrupt is still waiting
  wr(LVT_LINT0, EXTINT | MASKED);
  EXPECT_FALSE(apic->pending());

  // A globally disabled APIC leaves INTR wired straight to the CPU.
  ASSERT_TRUE(apic->write_msr(0x1b, 0xfee00000));
  EXPECT_TRUE(apic->pending());
  EXPECT_EQ(apic->acknowledge(), 0x20);
  EXPECT_EQ(pic.acks, 2);
}

TEST_F(LocalApicTest, ApicBaseMsr) {
  uint64_t base = 0;
  EXPECT_FALSE(apic->write_msr(0x1b, 0xfee00000 | (1 << 10) | (1 << 11)));  // x2APIC not offered
  EXPECT_FALSE(apic->write_msr(0x1b, 0xfee00000 | (1 << 11) | 1));          // reserved bit
  EXPECT_FALSE(apic->write_msr(0x1234, 0));
  EXPECT_FALSE(apic->read_msr(0x1234, base));
  enable();
  wr(TPR, 0x20);
  ASSERT_TRUE(apic->write_msr(0x1b, 0xfee00000));  // globally disabled
  ASSERT_TRUE(apic->read_msr(0x1b, base));
  EXPECT_EQ(base, 0xfee00100u);  // the BSP bit is read-only
  EXPECT_EQ(rd(VER), 0u);        // registers are gone
  EXPECT_FALSE(apic->matches(0, false));
  apic->accept_fixed(0x40, false);
  EXPECT_FALSE(apic->irr_bit(0x40));
  ASSERT_TRUE(apic->write_msr(0x1b, 0xfee00800));
  EXPECT_EQ(rd(TPR), 0u);   // back in its power-up state
  EXPECT_EQ(rd(SVR), 0xffu);
}

TEST_F(LocalApicTest, SendingAReservedVectorIsAnError) {
  enable();
  int sent = 0;
  apic->set_ipi_sender([&](const ApicMessage&) { ++sent; });
  wr(ICR_LO, 0x0000000f);
  EXPECT_EQ(sent, 0);
  wr(ESR, 0);
  EXPECT_EQ(rd(ESR), 1u << 5);
  wr(ICR_LO, 0x00004031);
  EXPECT_EQ(sent, 1);
  EXPECT_EQ(rd(ICR_LO), 0x00004031u);  // delivery status reads idle
}

TEST_F(LocalApicTest, ArbitrationPriority) {
  enable();
  wr(TPR, 0x30);
  EXPECT_EQ(rd(APR), 0x30u);
  apic->accept_fixed(0x51, false);
  EXPECT_EQ(rd(APR), 0x50u);  // the IRR class beats TPR's
}

// ---- IPIs through the APIC bus -----------------------------------------------------

namespace {

class LocalApicIpiTest : public ::testing::Test {
 protected:
  FakeClock clock;
  std::unique_ptr<ApicBus> bus;
  std::vector<int> wakes = std::vector<int>(3, 0);
  std::vector<std::tuple<unsigned, bool, uint8_t>> init_sipi;

  void SetUp() override {
    ApicBusConfig c;
    c.num_cpus = 3;
    c.now_ns = clock.fn();
    bus = std::make_unique<ApicBus>(c);
    for (unsigned i = 0; i < 3; ++i) {
      bus->apic(i).set_wake([this, i] { ++wakes[i]; });
      bus->apic(i).write_register(SVR, SVR_ENABLE | 0xff);
    }
    bus->set_init_sipi_handler([this](unsigned cpu, bool init, uint8_t v) { init_sipi.emplace_back(cpu, init, v); });
  }
  void send(unsigned from, uint8_t dest, uint32_t icr_low) {
    bus->apic(from).write_register(ICR_HI, uint32_t(dest) << 24);
    bus->apic(from).write_register(ICR_LO, icr_low);
  }
  std::vector<bool> who_has(uint8_t v) {
    std::vector<bool> r;
    for (unsigned i = 0; i < 3; ++i) r.push_back(bus->apic(i).irr_bit(v));
    return r;
  }
};

using Has = std::vector<bool>;

}  // namespace

TEST_F(LocalApicIpiTest, FixedToAnotherApic) {
  send(0, 2, 0x00004031);
  EXPECT_EQ(who_has(0x31), (Has{false, false, true}));
  EXPECT_EQ(wakes[2], 1);
  EXPECT_EQ(wakes[1], 0);
  EXPECT_EQ(bus->apic(2).acknowledge(), 0x31);
}

TEST_F(LocalApicIpiTest, PhysicalDestinationFollowsTheIdRegister) {
  bus->apic(1).write_register(ID, 0x09000000);
  send(0, 9, 0x00004035);
  EXPECT_EQ(who_has(0x35), (Has{false, true, false}));
  send(0, 1, 0x00004036);  // nobody has id 1 any more
  EXPECT_EQ(who_has(0x36), (Has{false, false, false}));
  send(0, 0xff, 0x00004037);  // physical broadcast
  EXPECT_EQ(who_has(0x37), (Has{true, true, true}));
}

TEST_F(LocalApicIpiTest, Shorthands) {
  send(1, 0, 0x00044032);  // self
  EXPECT_EQ(who_has(0x32), (Has{false, true, false}));
  send(1, 0, 0x000c4033);  // all excluding self
  EXPECT_EQ(who_has(0x33), (Has{true, false, true}));
  send(1, 0, 0x00084034);  // all including self
  EXPECT_EQ(who_has(0x34), (Has{true, true, true}));
}

TEST_F(LocalApicIpiTest, LogicalFlatMode) {
  bus->apic(0).write_register(LDR, 0x01000000);
  bus->apic(1).write_register(LDR, 0x02000000);
  bus->apic(2).write_register(LDR, 0x04000000);
  send(0, 0x06, 0x00004840);  // logical
  EXPECT_EQ(who_has(0x40), (Has{false, true, true}));
  send(0, 0x04, 0x00004841);
  EXPECT_EQ(who_has(0x41), (Has{false, false, true}));
  send(0, 0x08, 0x00004842);
  EXPECT_EQ(who_has(0x42), (Has{false, false, false}));
  send(2, 0x06, 0x00004943);  // lowest priority: one of them, the lowest-numbered
  EXPECT_EQ(who_has(0x43), (Has{false, true, false}));
}

TEST_F(LocalApicIpiTest, LogicalClusterMode) {
  for (unsigned i = 0; i < 3; ++i) bus->apic(i).write_register(DFR, 0x0fffffff);
  bus->apic(0).write_register(LDR, 0x11000000);  // cluster 1, member bit 0
  bus->apic(1).write_register(LDR, 0x12000000);  // cluster 1, member bit 1
  bus->apic(2).write_register(LDR, 0x21000000);  // cluster 2, member bit 0
  send(0, 0x21, 0x00004850);
  EXPECT_EQ(who_has(0x50), (Has{false, false, true}));
  send(0, 0x13, 0x00004851);
  EXPECT_EQ(who_has(0x51), (Has{true, true, false}));
  send(0, 0xff, 0x00004852);  // broadcast
  EXPECT_EQ(who_has(0x52), (Has{true, true, true}));
}

TEST_F(LocalApicIpiTest, InitAndStartupReachTheHandler) {
  bus->apic(1).write_register(TPR, 0x20);
  send(0, 1, 0x0000c500);  // INIT, level assert
  ASSERT_EQ(init_sipi.size(), 1u);
  EXPECT_EQ(init_sipi[0], std::make_tuple(1u, true, uint8_t(0)));
  EXPECT_EQ(bus->apic(1).read_register(TPR), 0u);  // INIT reset the target APIC
  EXPECT_EQ(bus->apic(1).read_register(ID), 1u << 24);
  send(0, 1, 0x00008500);  // INIT level de-assert: nothing
  EXPECT_EQ(init_sipi.size(), 1u);
  send(0, 1, 0x0000069a);  // start-up, vector 0x9a
  ASSERT_EQ(init_sipi.size(), 2u);
  EXPECT_EQ(init_sipi[1], std::make_tuple(1u, false, uint8_t(0x9a)));
  send(0, 0, 0x000c4500);  // INIT to all others
  ASSERT_EQ(init_sipi.size(), 4u);
  EXPECT_EQ(std::get<0>(init_sipi[2]), 1u);
  EXPECT_EQ(std::get<0>(init_sipi[3]), 2u);
}

TEST_F(LocalApicIpiTest, WindowAccessGoesToTheAccessingCpu) {
  set_current_cpu(2);
  bus->io_write(TPR, 4, 0x70);
  EXPECT_EQ(bus->io_read(ID, 4), 2u << 24);
  set_current_cpu(0);
  EXPECT_EQ(bus->apic(2).tpr(), 0x70);
  EXPECT_EQ(bus->apic(0).tpr(), 0);
  EXPECT_EQ(bus->io_read(ID, 4), 0u);
}

TEST_F(LocalApicIpiTest, ExtIntListenerWakesCpusThatTakeIt) {
  FakePic pic;
  bus->set_ext_int_source(&pic);
  bus->apic(0).write_register(LVT_LINT0, EXTINT);
  pic.raise();
  EXPECT_EQ(wakes[0], 1);
  EXPECT_EQ(wakes[1], 0);
  EXPECT_TRUE(bus->apic(0).pending());
  EXPECT_FALSE(bus->apic(1).pending());
}

// Each vCPU thread sends IPIs to the next one and retires its own interrupts while a
// device thread toggles a level-triggered I/O APIC pin whose EOIs come back from the
// APICs: no lock-order cycle may stall this, and every CPU receives its IPIs.
TEST(LocalApicConcurrencyTest, IpisIoapicAndEoisFromManyThreadsFinish) {
  constexpr unsigned kCpus = 3, kRounds = 3000;
  ApicBusConfig c;
  c.num_cpus = kCpus;
  ApicBus bus(c);
  Ioapic ioapic(kCpus, [&bus](const ApicMessage& m) { bus.deliver(m); });
  bus.set_eoi_listener([&ioapic](uint8_t v) { ioapic.end_of_interrupt(v); });
  std::array<std::atomic<unsigned>, kCpus> ipis{};
  for (unsigned i = 0; i < kCpus; ++i) {
    bus.apic(i).write_register(SVR, SVR_ENABLE | 0xff);
    bus.apic(i).write_register(LDR, (1u << i) << 24);
  }
  ioapic.io_write(0x00, 4, 0x11);
  ioapic.io_write(0x10, 4, 0x07000000);  // logical: every CPU may get it (lowest priority)
  ioapic.io_write(0x00, 4, 0x10);
  ioapic.io_write(0x10, 4, (1u << 15) | (1u << 11) | (1u << 8) | 0x70);

  std::atomic<unsigned> finished{0};  // senders and the device thread
  std::vector<std::thread> threads;
  for (unsigned i = 0; i < kCpus; ++i) {
    threads.emplace_back([&, i] {
      set_current_cpu(i);
      LocalApic& self = bus.apic(i);
      auto drain = [&] {
        while (self.pending()) {
          uint8_t v = self.acknowledge();
          if (v == 0x40 + i) ++ipis[i];
          bus.io_write(EOI, 4, 0);
        }
      };
      for (unsigned r = 0; r < kRounds; ++r) {
        bus.io_write(ICR_HI, 4, ((i + 1) % kCpus) << 24);
        bus.io_write(ICR_LO, 4, 0x4000 | (0x40 + (i + 1) % kCpus));
        drain();
      }
      ++finished;
      while (finished.load() < kCpus + 1) drain();
      drain();
    });
  }
  std::thread device([&] {
    for (unsigned r = 0; r < kRounds; ++r) {
      ioapic.set_pin(0, true);
      ioapic.set_pin(0, false);
    }
    ++finished;
  });
  device.join();
  for (auto& t : threads) t.join();
  // IRR coalesces repeats of one vector, so only "at least one" is certain; nothing
  // may be left pending or in service.
  for (unsigned i = 0; i < kCpus; ++i) {
    EXPECT_GT(ipis[i].load(), 0u) << "cpu " << i;
    EXPECT_FALSE(bus.apic(i).pending());
    EXPECT_EQ(bus.apic(i).read_register(PPR), 0u);
  }
}
