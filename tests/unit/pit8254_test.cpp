#include "devices/pit8254.h"

#include <gtest/gtest.h>

#include "bus/io_bus.h"
#include "devices/port61.h"

using namespace vireo;

namespace {

// Ports and command bytes from the 8254 datasheet and the PC wiring.
constexpr uint16_t kCounter0 = 0x40, kCounter2 = 0x42, kControl = 0x43, kPortB = 0x61;
constexpr uint64_t kHz = 1'193'182;
constexpr uint64_t kMs = 1'000'000;

// Time at which `ticks` input clock pulses have completed since a count was loaded.
uint64_t ns_after_ticks(uint64_t ticks) { return (ticks * 1'000'000'000ull + kHz - 1) / kHz; }

struct EdgeCountingLine : IrqLine {
  bool level = false;
  int rising_edges = 0;
  void set_level(bool asserted) override {
    if (asserted && !level) ++rising_edges;
    level = asserted;
  }
};

class Pit8254Test : public ::testing::Test {
 protected:
  uint64_t now = 1'000'000'000;  // an arbitrary non-zero start
  EdgeCountingLine irq0;
  Pit8254 pit{irq0, [this] { return now; }};
  SystemControlPortB port_b{pit};
  IoBus pio{"pio"};

  void SetUp() override {
    pit.attach_to(pio);
    port_b.attach_to(pio);
  }
  void out(uint16_t port, uint8_t v) { ASSERT_TRUE(pio.write(port, 1, v)); }
  uint8_t in(uint16_t port) {
    uint64_t v = 0;
    EXPECT_TRUE(pio.read(port, 1, v));
    return static_cast<uint8_t>(v);
  }
  void program(uint16_t counter_port, uint8_t control, uint16_t count) {
    out(kControl, control);
    out(counter_port, count & 0xff);
    out(counter_port, count >> 8);
  }
  uint16_t read_lohi(uint16_t counter_port) {
    uint16_t lo = in(counter_port);
    uint16_t hi = in(counter_port);
    return static_cast<uint16_t>(lo | (hi << 8));
  }
  // Polls every `step` ns for `span` ns, as a vCPU loop would.
  void run_polling(uint64_t span, uint64_t step) {
    for (uint64_t end = now + span; now < end;) {
      now += step;
      pit.poll(now);
    }
  }
};

}  // namespace

TEST_F(Pit8254Test, IdleAfterResetNoInterrupts) {
  EXPECT_EQ(pit.next_event_ns(), Pit8254::kNever);
  run_polling(100 * kMs, kMs);
  EXPECT_EQ(irq0.rising_edges, 0);
}

TEST_F(Pit8254Test, Mode2RateGeneratorInterruptsOncePerPeriod) {
  const uint64_t start = now;
  program(kCounter0, 0x34, 1193);  // counter 0, LSB/MSB, mode 2: ~1 ms
  EXPECT_EQ(pit.next_event_ns(), start + ns_after_ticks(1193));
  // 100 ms of polling every 50 us: one interrupt per period.
  run_polling(100 * kMs, 50'000);
  const int expected = static_cast<int>((now - start) * kHz / 1'000'000'000 / 1193);
  EXPECT_EQ(irq0.rising_edges, expected);
  EXPECT_GE(expected, 99);
  EXPECT_GT(pit.next_event_ns(), now);
}

TEST_F(Pit8254Test, Mode3SquareWaveInterruptsOncePerPeriodAndHalvesOut) {
  const uint64_t start = now;
  const uint16_t count = 11932;  // ~10 ms
  program(kCounter0, 0x36, count);
  EXPECT_TRUE(pit.output(0));
  now = start + ns_after_ticks(count / 2 - 1);
  EXPECT_TRUE(pit.output(0)) << "high for the first half period";
  now = start + ns_after_ticks(count / 2 + 1);
  EXPECT_FALSE(pit.output(0)) << "low for the second half";
  now = start;
  run_polling(1000 * kMs, kMs);
  EXPECT_EQ(irq0.rising_edges, static_cast<int>((now - start) * kHz / 1'000'000'000 / count));
  EXPECT_GE(irq0.rising_edges, 99);
}

TEST_F(Pit8254Test, LatePollDeliversOneInterruptNotAFlood) {
  program(kCounter0, 0x34, 1193);
  now += 500 * kMs;  // 500 periods missed
  pit.poll(now);
  EXPECT_EQ(irq0.rising_edges, 1);
  pit.poll(now);
  EXPECT_EQ(irq0.rising_edges, 1) << "at most one per due edge";
  EXPECT_GT(pit.next_event_ns(), now);
  EXPECT_LE(pit.next_event_ns(), now + kMs + 1000);
  now = pit.next_event_ns() - 1;
  pit.poll(now);
  EXPECT_EQ(irq0.rising_edges, 1) << "not yet due";
  now += 1;
  pit.poll(now);
  EXPECT_EQ(irq0.rising_edges, 2);
}

TEST_F(Pit8254Test, Mode0InterruptsOnceAtTerminalCount) {
  const uint64_t start = now;
  program(kCounter0, 0x30, 5966);  // ~5 ms
  EXPECT_FALSE(pit.output(0));
  EXPECT_EQ(pit.next_event_ns(), start + ns_after_ticks(5966));
  run_polling(50 * kMs, 100'000);
  EXPECT_EQ(irq0.rising_edges, 1);
  EXPECT_TRUE(pit.output(0));
  EXPECT_EQ(pit.next_event_ns(), Pit8254::kNever);
}

TEST_F(Pit8254Test, CounterLatchFreezesTheReadValue) {
  const uint64_t start = now;
  program(kCounter0, 0x34, 10000);
  now = start + ns_after_ticks(1000);
  out(kControl, 0x00);  // latch counter 0
  now = start + ns_after_ticks(3000);
  out(kControl, 0x00);  // ignored: already latched
  EXPECT_EQ(read_lohi(kCounter0), 9000);
  EXPECT_EQ(read_lohi(kCounter0), 7000) << "after the latched value is read, reads are live again";
}

TEST_F(Pit8254Test, LiveReadsFollowElapsedTimeInLohiOrder) {
  const uint64_t start = now;
  program(kCounter0, 0x34, 0x1234);
  now = start + ns_after_ticks(0x0201);
  EXPECT_EQ(in(kCounter0), 0x33) << "LSB first";
  EXPECT_EQ(in(kCounter0), 0x10) << "then MSB";
  EXPECT_EQ(in(kCounter0), 0x33) << "and LSB again";
  in(kCounter0);
}

TEST_F(Pit8254Test, LsbOnlyAndMsbOnlyAccess) {
  const uint64_t start = now;
  out(kControl, 0x14);  // counter 0, LSB only, mode 2
  out(kCounter0, 0x80);
  now = start + ns_after_ticks(0x10);
  EXPECT_EQ(in(kCounter0), 0x70);
  EXPECT_EQ(in(kCounter0), 0x70) << "LSB-only reads never toggle to the MSB";
  out(kControl, 0x24);  // counter 0, MSB only, mode 2: count 0x0300
  out(kCounter0, 0x03);
  now += ns_after_ticks(0x100);
  EXPECT_EQ(in(kCounter0), 0x02);
}

TEST_F(Pit8254Test, LinuxPitCalibrationThroughPort61) {
  // The kernel's pit_calibrate_tsc(): gate high, speaker off; counter 2 mode 0,
  // LSB/MSB, a 50 ms count; wait until OUT (port 0x61 bit 5) goes high.
  const uint16_t latch = kHz / 20;
  out(kPortB, (in(kPortB) & ~0x02) | 0x01);
  out(kControl, 0xb0);
  out(kCounter2, latch & 0xff);
  out(kCounter2, latch >> 8);
  EXPECT_EQ(in(kPortB) & 0x20, 0) << "OUT low while counting";
  int ms = 0;
  while ((in(kPortB) & 0x20) == 0 && ms < 1000) {
    now += kMs;
    ++ms;
  }
  EXPECT_EQ(ms, 50);
  EXPECT_EQ(irq0.rising_edges, 0) << "counter 2 is not wired to an IRQ";
}

TEST_F(Pit8254Test, QuickCalibrationReadsLiveMsbWithoutLatch) {
  // The kernel's quick_pit_calibrate(): mode 0 from 0xffff, reading LSB then MSB.
  out(kPortB, (in(kPortB) & ~0x02) | 0x01);
  out(kControl, 0xb0);
  out(kCounter2, 0xff);
  out(kCounter2, 0xff);
  uint8_t last_msb = 0xff;
  for (int i = 0; i < 40; ++i) {
    now += 50'000;  // 50 us, about 60 counts: the MSB drops every ~214 us
    in(kCounter2);
    uint8_t msb = in(kCounter2);
    EXPECT_LE(msb, last_msb);
    last_msb = msb;
  }
  EXPECT_EQ(last_msb, (0xffff - 40 * 50'000 * kHz / 1'000'000'000) >> 8);
}

TEST_F(Pit8254Test, Gate2LowSuspendsMode0Counting) {
  const uint64_t start = now;
  out(kPortB, 0x01);
  program(kCounter2, 0xb0, 10000);
  now = start + ns_after_ticks(1000);
  out(kPortB, 0x00);  // gate low
  now += 100 * kMs;
  EXPECT_EQ(read_lohi(kCounter2), 9000) << "suspended while GATE is low";
  out(kPortB, 0x01);
  now += ns_after_ticks(500);
  EXPECT_EQ(read_lohi(kCounter2), 8500);
  EXPECT_EQ(in(kPortB) & 0x01, 0x01) << "GATE bit reads back";
}

TEST_F(Pit8254Test, Port61RefreshBitToggles) {
  uint8_t a = in(kPortB) & 0x10;
  uint8_t b = in(kPortB) & 0x10;
  uint8_t c = in(kPortB) & 0x10;
  EXPECT_NE(a, b);
  EXPECT_EQ(a, c);
  out(kPortB, 0xff);
  EXPECT_EQ(in(kPortB) & 0xcf, 0x0f) << "only bits 3:0 are writable";
}

TEST_F(Pit8254Test, ReadBackCommandLatchesStatusThenCount) {
  const uint64_t start = now;
  out(kControl, 0x34);
  out(kControl, 0xe2);  // read back status of counter 0 only
  EXPECT_EQ(in(kCounter0), 0x80 | 0x40 | 0x34) << "OUT high (mode 2), null count, RW=3, mode 2";
  out(kCounter0, 0x10);
  out(kCounter0, 0x27);  // 10000
  now = start + ns_after_ticks(2500);
  out(kControl, 0xc2);  // count and status of counter 0
  now += 10 * kMs;
  EXPECT_EQ(in(kCounter0), 0x80 | 0x34) << "status first; count loaded";
  EXPECT_EQ(read_lohi(kCounter0), 7500) << "then the latched count";
  // Read-back of counter 2 alone leaves counter 0 live.
  out(kControl, 0xd8);  // count of counter 2
  EXPECT_NE(read_lohi(kCounter0), 7500);
}

TEST_F(Pit8254Test, ReadBackStatusShowsMode0OutRising) {
  const uint64_t start = now;
  program(kCounter0, 0x30, 100);
  out(kControl, 0xe2);
  EXPECT_EQ(in(kCounter0) & 0x80, 0);
  now = start + ns_after_ticks(100);
  out(kControl, 0xe2);
  EXPECT_EQ(in(kCounter0) & 0x80, 0x80);
}

TEST_F(Pit8254Test, BcdCounting) {
  const uint64_t start = now;
  out(kControl, 0x31);  // counter 0, LSB/MSB, mode 0, BCD
  out(kCounter0, 0x00);
  out(kCounter0, 0x10);  // 1000 decimal
  now = start + ns_after_ticks(1);
  EXPECT_EQ(read_lohi(kCounter0), 0x0999);
  EXPECT_EQ(pit.next_event_ns(), start + ns_after_ticks(1000));
}

TEST_F(Pit8254Test, ReprogrammingCallsTheDeadlineListener) {
  int calls = 0;
  pit.set_deadline_listener([&] { ++calls; });
  program(kCounter0, 0x34, 60000);
  EXPECT_EQ(calls, 1);
  program(kCounter0, 0x34, 100);  // sooner
  EXPECT_EQ(calls, 2);
  program(kCounter2, 0xb0, 100);  // counter 2 does not interrupt
  EXPECT_EQ(calls, 2);
}

TEST_F(Pit8254Test, Mode2ReadsCountDownAndReload) {
  const uint64_t start = now;
  program(kCounter0, 0x34, 100);
  now = start + ns_after_ticks(99);
  EXPECT_EQ(read_lohi(kCounter0), 1);
  EXPECT_FALSE(pit.output(0)) << "OUT low for the pulse with count 1";
  now = start + ns_after_ticks(100);
  EXPECT_EQ(read_lohi(kCounter0), 100);
  EXPECT_TRUE(pit.output(0));
}

TEST_F(Pit8254Test, Mode1And5WaitForTheGateTrigger) {
  const uint64_t start = now;
  out(kPortB, 0x00);
  program(kCounter2, 0xb2, 100);  // counter 2 mode 1
  now = start + ns_after_ticks(500);
  EXPECT_TRUE(pit.output(2)) << "high until triggered";
  out(kPortB, 0x01);  // trigger
  EXPECT_FALSE(pit.output(2));
  now += ns_after_ticks(100);
  EXPECT_TRUE(pit.output(2));
  program(kCounter2, 0xba, 50);  // mode 5
  out(kPortB, 0x00);
  out(kPortB, 0x01);
  now += ns_after_ticks(50);
  EXPECT_FALSE(pit.output(2)) << "one low pulse at terminal count";
  now += ns_after_ticks(2);
  EXPECT_TRUE(pit.output(2));
}
