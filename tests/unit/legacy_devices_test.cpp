#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "arch/x86/layout.h"
#include "base/error.h"
#include "bus/io_bus.h"
#include "devices/acpi_pm.h"
#include "devices/debug_console.h"
#include "devices/debug_exit.h"
#include "devices/i8042.h"

using namespace vireo;

namespace {

struct RecordingVmControl : VmControl {
  std::vector<StopRequest> requests;
  void request_stop(StopRequest request) override { requests.push_back(std::move(request)); }
};

uint8_t in8(IoBus& bus, uint16_t port) {
  uint64_t v = 0;
  EXPECT_TRUE(bus.read(port, 1, v)) << "port " << port << " unclaimed";
  return static_cast<uint8_t>(v);
}

void out8(IoBus& bus, uint16_t port, uint8_t value) { EXPECT_TRUE(bus.write(port, 1, value)); }

class I8042Test : public ::testing::Test {
 protected:
  RecordingVmControl vm;
  I8042 kbc{vm};
  IoBus pio{"pio"};
  void SetUp() override { kbc.attach_to(pio); }
};

}  // namespace

TEST_F(I8042Test, StatusShowsSystemFlagAndOutputBuffer) {
  uint8_t status = in8(pio, x86::kI8042CmdPort);
  EXPECT_EQ(status & 0x04, 0x04);
  EXPECT_EQ(status & 0x01, 0x00);
  EXPECT_EQ(status & 0x02, 0x00) << "input buffer never busy: the guest may write";
  EXPECT_EQ(in8(pio, x86::kI8042DataPort), 0x00);
  uint64_t v = 0;
  EXPECT_FALSE(pio.read(0x61, 1, v)) << "port 0x61 is not the controller's";
}

TEST_F(I8042Test, PulseResetCommandRequestsReset) {
  out8(pio, x86::kI8042CmdPort, 0xfe);
  ASSERT_EQ(vm.requests.size(), 1u);
  EXPECT_EQ(vm.requests[0].kind, StopKind::Reset);
  EXPECT_EQ(vm.requests[0].exit_status, 0);
  out8(pio, x86::kI8042CmdPort, 0xff);  // pulses no line
  EXPECT_EQ(vm.requests.size(), 1u);
}

TEST_F(I8042Test, SelfTestAndInterfaceTests) {
  out8(pio, x86::kI8042CmdPort, 0xaa);
  EXPECT_EQ(in8(pio, x86::kI8042CmdPort) & 0x01, 0x01);
  EXPECT_EQ(in8(pio, x86::kI8042DataPort), 0x55);
  EXPECT_EQ(in8(pio, x86::kI8042CmdPort) & 0x01, 0x00);
  out8(pio, x86::kI8042CmdPort, 0xab);
  out8(pio, x86::kI8042CmdPort, 0xa9);
  EXPECT_EQ(in8(pio, x86::kI8042DataPort), 0x00);
  EXPECT_EQ(in8(pio, x86::kI8042CmdPort) & 0x01, 0x01);
  EXPECT_EQ(in8(pio, x86::kI8042DataPort), 0x00);
  EXPECT_TRUE(vm.requests.empty());
}

TEST_F(I8042Test, ConfigByteRoundTrip) {
  auto read_config = [&] {
    out8(pio, x86::kI8042CmdPort, 0x20);
    return in8(pio, x86::kI8042DataPort);
  };
  out8(pio, x86::kI8042CmdPort, 0x60);
  out8(pio, x86::kI8042DataPort, 0x05);
  EXPECT_EQ(read_config(), 0x05);
  EXPECT_EQ(in8(pio, x86::kI8042CmdPort) & 0x04, 0x04) << "system flag follows config bit 2";
  out8(pio, x86::kI8042CmdPort, 0xa7);  // disable aux: config bit 5
  EXPECT_EQ(read_config(), 0x25);
  out8(pio, x86::kI8042CmdPort, 0xa8);
  out8(pio, x86::kI8042CmdPort, 0xad);  // disable keyboard: config bit 4
  EXPECT_EQ(read_config(), 0x15);
  out8(pio, x86::kI8042CmdPort, 0xae);
  EXPECT_EQ(read_config(), 0x05);
  out8(pio, x86::kI8042CmdPort, 0x60);
  out8(pio, x86::kI8042DataPort, 0x00);
  EXPECT_EQ(in8(pio, x86::kI8042CmdPort) & 0x04, 0x00);
  EXPECT_TRUE(vm.requests.empty());
}

TEST_F(I8042Test, OutputPortResetBit) {
  out8(pio, x86::kI8042CmdPort, 0xd1);
  out8(pio, x86::kI8042DataPort, 0x03);  // reset line high: nothing happens
  EXPECT_TRUE(vm.requests.empty());
  out8(pio, x86::kI8042CmdPort, 0xd1);
  out8(pio, x86::kI8042DataPort, 0x02);
  ASSERT_EQ(vm.requests.size(), 1u);
  EXPECT_EQ(vm.requests[0].kind, StopKind::Reset);
}

TEST_F(I8042Test, KeyboardBytesGetNoAnswer) {
  out8(pio, x86::kI8042DataPort, 0xff);  // keyboard reset: no device, no reply
  EXPECT_EQ(in8(pio, x86::kI8042CmdPort) & 0x01, 0x00);
  EXPECT_TRUE(vm.requests.empty());
}

TEST(AcpiPm, S5SleepPowersOff) {
  RecordingVmControl vm;
  AcpiPm pm(vm);
  IoBus pio("pio");
  pm.attach_to(pio);
  out8(pio, x86::kAcpiSleepControlPort, static_cast<uint8_t>(0x20 | (x86::kAcpiS5SleepType << 2)));
  ASSERT_EQ(vm.requests.size(), 1u);
  EXPECT_EQ(vm.requests[0].kind, StopKind::PowerOff);
  EXPECT_EQ(vm.requests[0].exit_status, 0);
}

TEST(AcpiPm, OtherSleepTypesAndMissingSlpEnAreIgnored) {
  RecordingVmControl vm;
  AcpiPm pm(vm);
  IoBus pio("pio");
  pm.attach_to(pio);
  out8(pio, x86::kAcpiSleepControlPort, static_cast<uint8_t>(x86::kAcpiS5SleepType << 2));  // no SLP_EN
  for (uint8_t type = 0; type < 8; ++type) {
    if (type == x86::kAcpiS5SleepType) continue;
    out8(pio, x86::kAcpiSleepControlPort, static_cast<uint8_t>(0x20 | (type << 2)));
  }
  EXPECT_TRUE(vm.requests.empty());
  EXPECT_EQ(in8(pio, x86::kAcpiSleepStatusPort), 0);
}

TEST(AcpiPm, ResetRegister) {
  RecordingVmControl vm;
  AcpiPm pm(vm);
  IoBus pio("pio");
  pm.attach_to(pio);
  out8(pio, x86::kAcpiResetPort, static_cast<uint8_t>(x86::kAcpiResetValue + 1));
  EXPECT_TRUE(vm.requests.empty());
  out8(pio, x86::kAcpiResetPort, x86::kAcpiResetValue);
  ASSERT_EQ(vm.requests.size(), 1u);
  EXPECT_EQ(vm.requests[0].kind, StopKind::Reset);
}

TEST(DebugExit, WriteBecomesOddExitStatus) {
  RecordingVmControl vm;
  DebugExit dev(vm);
  IoBus pio("pio");
  dev.attach_to(pio);
  EXPECT_EQ(in8(pio, x86::kDebugExitPort), 0);
  out8(pio, x86::kDebugExitPort, 0x10);
  ASSERT_EQ(vm.requests.size(), 1u);
  EXPECT_EQ(vm.requests[0].kind, StopKind::DebugExit);
  EXPECT_EQ(vm.requests[0].exit_status, 0x21);
}

TEST(DebugExit, HonoursIobaseAndIosize) {
  RecordingVmControl vm;
  DebugExit dev(vm, 0x501, 2);
  IoBus pio("pio");
  dev.attach_to(pio);
  uint64_t v = 0;
  EXPECT_FALSE(pio.write(0x500, 1, 1));
  EXPECT_FALSE(pio.write(0x503, 1, 1));
  EXPECT_TRUE(vm.requests.empty());
  EXPECT_TRUE(pio.read(0x502, 1, v));
  EXPECT_TRUE(pio.write(0x502, 2, 0x0003));
  ASSERT_EQ(vm.requests.size(), 1u);
  EXPECT_EQ(vm.requests[0].exit_status, 7);
  EXPECT_THROW(DebugExit(vm, 0xffff, 2), Error);
  EXPECT_THROW(DebugExit(vm, 0xf4, 0), Error);
}

TEST(DebugConsole, AssemblesWholeLines) {
  std::vector<std::string> lines;
  DebugConsole dev([&](std::string_view l) { lines.emplace_back(l); });
  IoBus pio("pio");
  dev.attach_to(pio);
  EXPECT_EQ(in8(pio, x86::kDebugConsolePort), 0xe9);
  for (char c : std::string("hello\r\nwor")) out8(pio, x86::kDebugConsolePort, static_cast<uint8_t>(c));
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0], "hello");
  for (char c : std::string("ld\n\n")) out8(pio, x86::kDebugConsolePort, static_cast<uint8_t>(c));
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(lines[1], "world");
  EXPECT_EQ(lines[2], "");
  out8(pio, x86::kDebugConsolePort, 'z');
  EXPECT_EQ(lines.size(), 3u);
  dev.flush();
  ASSERT_EQ(lines.size(), 4u);
  EXPECT_EQ(lines[3], "z");
}

TEST(DebugConsole, EscapesControlCharactersAndSplitsLongLines) {
  std::vector<std::string> lines;
  {
    DebugConsole dev([&](std::string_view l) { lines.emplace_back(l); });
    for (uint8_t b : {uint8_t{0x1b}, uint8_t{'['}, uint8_t{'\r'}, uint8_t{'a'}, uint8_t{'\n'}}) dev.io_write(0, 1, b);
    ASSERT_EQ(lines.size(), 1u);
    EXPECT_EQ(lines[0], "\\x1b[\\x0da");
    for (size_t i = 0; i < DebugConsole::kMaxLine + 5; ++i) dev.io_write(0, 1, 'x');
    ASSERT_EQ(lines.size(), 2u);
    EXPECT_EQ(lines[1].size(), DebugConsole::kMaxLine);
  }
  ASSERT_EQ(lines.size(), 3u) << "the destructor hands over the partial line";
  EXPECT_EQ(lines[2], "xxxxx");
}
