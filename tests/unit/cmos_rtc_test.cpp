#include "devices/cmos_rtc.h"

#include <gtest/gtest.h>

#include "bus/io_bus.h"

using namespace vireo;

namespace {

constexpr uint16_t kIndex = 0x70, kData = 0x71;
constexpr uint8_t kSec = 0x00, kMin = 0x02, kHour = 0x04, kDow = 0x06, kDay = 0x07, kMonth = 0x08, kYear = 0x09,
                  kA = 0x0a, kB = 0x0b, kC = 0x0c, kD = 0x0d, kCentury = 0x32;
constexpr uint64_t kMs = 1'000'000, kSecond = 1000 * kMs;
constexpr uint64_t kMiB = 1024 * 1024, kGiB = 1024 * kMiB;
// 2024-02-29 13:45:30.250 UTC, a Thursday.
constexpr int64_t kWallStartNs = 1709214330LL * 1'000'000'000 + 250'000'000;

struct EdgeCountingLine : IrqLine {
  bool level = false;
  int rising_edges = 0;
  void set_level(bool asserted) override {
    if (asserted && !level) ++rising_edges;
    level = asserted;
  }
};

class CmosRtcTest : public ::testing::Test {
 protected:
  uint64_t mono_start = 7 * kSecond;
  uint64_t now = mono_start;  // the wall clock advances with it
  EdgeCountingLine irq8;
  CmosRtc rtc{irq8, 512 * kMiB,
              {[this] { return now; }, [this] { return kWallStartNs + static_cast<int64_t>(now - mono_start); }}};
  IoBus pio{"pio"};

  void SetUp() override { rtc.attach_to(pio); }
  uint8_t rd(uint8_t reg) {
    EXPECT_TRUE(pio.write(kIndex, 1, reg));
    uint64_t v = 0;
    EXPECT_TRUE(pio.read(kData, 1, v));
    return static_cast<uint8_t>(v);
  }
  void wr(uint8_t reg, uint8_t v) {
    ASSERT_TRUE(pio.write(kIndex, 1, reg));
    ASSERT_TRUE(pio.write(kData, 1, v));
  }
  // Polls every `step` for `span`; an interrupt handler reads register C when
  // `acknowledge` (as Linux's rtc_cmos handler does).
  void run(uint64_t span, uint64_t step, bool acknowledge) {
    for (uint64_t end = now + span; now < end;) {
      now += step;
      rtc.poll(now);
      if (acknowledge && irq8.level) rd(kC);
    }
  }
};

}  // namespace

TEST_F(CmosRtcTest, BcdTimeByDefault) {
  EXPECT_EQ(rd(kSec), 0x30);
  EXPECT_EQ(rd(kMin), 0x45);
  EXPECT_EQ(rd(kHour), 0x13);
  EXPECT_EQ(rd(kDow), 5) << "Thursday, Sunday = 1";
  EXPECT_EQ(rd(kDay), 0x29);
  EXPECT_EQ(rd(kMonth), 0x02);
  EXPECT_EQ(rd(kYear), 0x24);
  EXPECT_EQ(rd(kCentury), 0x20);
  EXPECT_EQ(rd(kB), 0x02) << "24-hour, BCD";
}

TEST_F(CmosRtcTest, BinaryTime) {
  wr(kB, 0x06);
  EXPECT_EQ(rd(kSec), 30);
  EXPECT_EQ(rd(kMin), 45);
  EXPECT_EQ(rd(kHour), 13);
  EXPECT_EQ(rd(kDay), 29);
  EXPECT_EQ(rd(kYear), 24);
  EXPECT_EQ(rd(kCentury), 20);
}

TEST_F(CmosRtcTest, TimeFollowsTheWallClock) {
  now += 45 * kSecond;  // 13:46:15
  EXPECT_EQ(rd(kSec), 0x15);
  EXPECT_EQ(rd(kMin), 0x46);
  now += 11 * 3600 * kSecond;  // 00:46:15 on 2024-03-01 (leap year)
  EXPECT_EQ(rd(kHour), 0x00);
  EXPECT_EQ(rd(kDay), 0x01);
  EXPECT_EQ(rd(kMonth), 0x03);
}

TEST_F(CmosRtcTest, TwelveHourModeSetsPmBit) {
  wr(kB, 0x00);  // BCD, 12-hour
  EXPECT_EQ(rd(kHour), 0x80 | 0x01) << "13:45 is 1 PM";
  wr(kB, 0x04);  // binary, 12-hour
  EXPECT_EQ(rd(kHour), 0x80 | 1);
  now += 11 * 3600 * kSecond;  // 00:45: 12 AM
  EXPECT_EQ(rd(kHour), 12);
  now += 12 * 3600 * kSecond;  // 12:45: 12 PM
  EXPECT_EQ(rd(kHour), 0x80 | 12);
}

TEST_F(CmosRtcTest, SetFreezesAndGuestWritesSetTheTime) {
  wr(kB, 0x82);  // SET, 24-hour, BCD
  now += 5 * kSecond;
  EXPECT_EQ(rd(kSec), 0x30) << "frozen while SET";
  wr(kSec, 0x58);
  wr(kMin, 0x59);
  wr(kHour, 0x23);
  wr(kDay, 0x31);
  wr(kMonth, 0x12);
  wr(kYear, 0x99);
  wr(kCentury, 0x19);
  EXPECT_EQ(rd(kSec), 0x58);
  wr(kB, 0x02);  // counting resumes from 1999-12-31 23:59:58
  now += 3 * kSecond;
  EXPECT_EQ(rd(kSec), 0x01);
  EXPECT_EQ(rd(kMin), 0x00);
  EXPECT_EQ(rd(kHour), 0x00);
  EXPECT_EQ(rd(kDay), 0x01);
  EXPECT_EQ(rd(kMonth), 0x01);
  EXPECT_EQ(rd(kYear), 0x00);
  EXPECT_EQ(rd(kCentury), 0x20);
  EXPECT_EQ(rd(kDow), 7) << "2000-01-01 was a Saturday";
}

TEST_F(CmosRtcTest, TwelveHourWriteWithPmBit) {
  wr(kB, 0x80 | 0x04);  // SET, binary, 12-hour
  wr(kHour, 0x80 | 11);  // 11 PM
  wr(kB, 0x06);          // 24-hour view
  EXPECT_EQ(rd(kHour), 23);
}

TEST_F(CmosRtcTest, WritingWhileRunningShiftsTheClock) {
  wr(kYear, 0x30);
  EXPECT_EQ(rd(kYear), 0x30);
  EXPECT_EQ(rd(kSec), 0x30);
  now += 2 * kSecond;
  EXPECT_EQ(rd(kSec), 0x32);
  EXPECT_EQ(rd(kYear), 0x30);
}

TEST_F(CmosRtcTest, RegisterCReadClearsAndReleasesTheLine) {
  wr(kB, 0x12);  // UIE
  now += kSecond;
  rtc.poll(now);
  EXPECT_TRUE(irq8.level);
  EXPECT_EQ(rd(kC) & 0xb0, 0x80 | 0x10) << "IRQF and UF (PF runs at the default rate too)";
  EXPECT_FALSE(irq8.level);
  EXPECT_EQ(rd(kC), 0x00);
}

TEST_F(CmosRtcTest, FlagsSetWithoutEnableButNoInterrupt) {
  now += 2 * kSecond;
  rtc.poll(now);
  EXPECT_FALSE(irq8.level);
  EXPECT_EQ(rtc.next_event_ns(), CmosRtc::kNever) << "no interrupt enabled";
  EXPECT_EQ(rd(kC) & 0xf0, 0x40 | 0x10) << "PF and UF without IRQF";
}

TEST_F(CmosRtcTest, UpdateEndedInterruptOncePerSecond) {
  wr(kB, 0x12);
  // The wall clock is at .250 s: the first update is 750 ms away.
  EXPECT_EQ(rtc.next_event_ns(), mono_start + 750 * kMs);
  run(5 * kSecond, 10 * kMs, /*acknowledge=*/true);
  EXPECT_EQ(irq8.rising_edges, 5);
}

TEST_F(CmosRtcTest, UnacknowledgedInterruptIsNotRepeated) {
  wr(kB, 0x12);
  run(5 * kSecond, 10 * kMs, /*acknowledge=*/false);
  EXPECT_EQ(irq8.rising_edges, 1);
  EXPECT_EQ(rtc.next_event_ns(), CmosRtc::kNever) << "nothing to do until C is read";
}

TEST_F(CmosRtcTest, PeriodicInterruptRate) {
  wr(kB, 0x42);  // PIE; register A keeps 0x26: 1024 Hz
  run(kSecond, 100'000, /*acknowledge=*/true);
  EXPECT_EQ(irq8.rising_edges, 1024);
  irq8.rising_edges = 0;
  wr(kA, 0x2f);  // 2 Hz
  run(4 * kSecond, kMs, /*acknowledge=*/true);
  EXPECT_EQ(irq8.rising_edges, 8);
  irq8.rising_edges = 0;
  wr(kA, 0x23);  // 8192 Hz: 122.07 us
  run(100 * kMs, 10'000, /*acknowledge=*/true);
  EXPECT_GE(irq8.rising_edges, 819);
  EXPECT_LE(irq8.rising_edges, 820);
  irq8.rising_edges = 0;
  wr(kA, 0x20);  // rate 0: off
  run(kSecond, kMs, /*acknowledge=*/true);
  EXPECT_EQ(irq8.rising_edges, 0);
}

TEST_F(CmosRtcTest, DividerResetStopsTheClock) {
  wr(kA, 0x70);  // divider in reset
  now += 10 * kSecond;
  EXPECT_EQ(rd(kSec), 0x30);
  rd(kC);
  wr(kA, 0x26);
  now += 400 * kMs;
  EXPECT_EQ(rd(kSec), 0x30);
  EXPECT_EQ(rd(kC) & 0x10, 0) << "no update yet";
  now += 100 * kMs;  // the first update comes 500 ms after the divider starts
  EXPECT_EQ(rd(kSec), 0x31);
  EXPECT_EQ(rd(kC) & 0x10, 0x10);
}

TEST_F(CmosRtcTest, UpdateInProgressBitBeforeEachUpdate) {
  // .250 s now; the update is at .000.
  EXPECT_EQ(rd(kA), 0x26);
  now += 750 * kMs - 100'000;  // 100 us before the update
  EXPECT_EQ(rd(kA), 0x80 | 0x26);
  now += 200'000;
  EXPECT_EQ(rd(kA), 0x26);
}

TEST_F(CmosRtcTest, RegisterDReportsValidRam) {
  EXPECT_EQ(rd(kD), 0x80);
  wr(kD, 0x00);
  EXPECT_EQ(rd(kD), 0x80);
}

TEST_F(CmosRtcTest, NmiBitInIndexIsNotPartOfTheAddress) {
  wr(0x40, 0x5a);
  ASSERT_TRUE(pio.write(kIndex, 1, 0x80 | 0x40));
  uint64_t v = 0;
  ASSERT_TRUE(pio.read(kData, 1, v));
  EXPECT_EQ(v, 0x5au);
  EXPECT_TRUE(rtc.nmi_disabled());
  ASSERT_TRUE(pio.write(kIndex, 1, 0x00 | kSec));
  EXPECT_FALSE(rtc.nmi_disabled());
  ASSERT_TRUE(pio.write(kIndex, 1, 0x80 | kSec));
  ASSERT_TRUE(pio.read(kData, 1, v));
  EXPECT_EQ(v, 0x30u) << "register 0x80|0x00 is the seconds";
}

TEST_F(CmosRtcTest, AlarmInterrupt) {
  wr(0x01, 0x32);  // alarm at xx:xx:32 (minutes and hours don't care)
  wr(0x03, 0xc0);
  wr(0x05, 0xff);
  wr(kB, 0x22);  // AIE
  run(1500 * kMs, 10 * kMs, /*acknowledge=*/false);  // to 13:45:31.75
  EXPECT_EQ(irq8.rising_edges, 0);
  run(kSecond, 10 * kMs, /*acknowledge=*/false);  // past :32
  EXPECT_EQ(irq8.rising_edges, 1);
  EXPECT_EQ(rd(kC) & 0xa0, 0xa0);
}

TEST_F(CmosRtcTest, MemorySizeBytes) {
  auto word = [this](uint8_t reg) { return rd(reg) | (rd(reg + 1) << 8); };
  EXPECT_EQ(word(0x15), 640);
  EXPECT_EQ(word(0x17), 0xffff) << "511 MiB above 1 MiB, capped";
  EXPECT_EQ(word(0x30), 0xffff);
  EXPECT_EQ(word(0x34), (512 - 16) * 16) << "64 KiB units above 16 MiB";
  EXPECT_EQ(rd(0x5b) | (rd(0x5c) << 8) | (rd(0x5d) << 16), 0);
  unsigned sum = 0;
  for (uint8_t r = 0x10; r <= 0x2d; ++r) sum += rd(r);
  EXPECT_EQ(rd(0x2e), sum >> 8) << "checksum high byte at 0x2E";
  EXPECT_EQ(rd(0x2f), sum & 0xff);

  NullIrqLine none;
  CmosRtc small(none, 32 * kMiB);
  IoBus bus2{"pio2"};
  small.attach_to(bus2);
  auto rd2 = [&](uint8_t reg) {
    bus2.write(kIndex, 1, reg);
    uint64_t v = 0;
    bus2.read(kData, 1, v);
    return static_cast<unsigned>(v);
  };
  EXPECT_EQ(rd2(0x17) | (rd2(0x18) << 8), 31u * 1024);
  EXPECT_EQ(rd2(0x34) | (rd2(0x35) << 8), 16u * 16);

  CmosRtc big(none, 6 * kGiB);
  IoBus bus3{"pio3"};
  big.attach_to(bus3);
  auto rd3 = [&](uint8_t reg) {
    bus3.write(kIndex, 1, reg);
    uint64_t v = 0;
    bus3.read(kData, 1, v);
    return static_cast<unsigned>(v);
  };
  EXPECT_EQ(rd3(0x34) | (rd3(0x35) << 8), (3072u - 16) * 16) << "low RAM ends at 3 GiB";
  EXPECT_EQ(rd3(0x5b) | (rd3(0x5c) << 8) | (rd3(0x5d) << 16), 3u * 16384) << "3 GiB above 4 GiB";
}

TEST_F(CmosRtcTest, HostileTimeWritesStayInRange) {
  wr(kB, 0x82);
  for (uint8_t reg : {kSec, kMin, kHour, kDay, kMonth, kYear, kCentury}) wr(reg, 0xff);
  wr(kB, 0x02);
  now += kSecond;
  EXPECT_LE(rd(kSec), 0x59);
  EXPECT_LE(rd(kMonth), 0x12);
  EXPECT_LE(rd(kHour), 0x23);
}

TEST_F(CmosRtcTest, EnablingUieSoonerCallsTheDeadlineListener) {
  int calls = 0;
  rtc.set_deadline_listener([&] { ++calls; });
  wr(kB, 0x12);
  EXPECT_EQ(calls, 1);
}
