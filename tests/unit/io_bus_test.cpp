#include <gtest/gtest.h>

#include "base/error.h"
#include "bus/io_bus.h"

using namespace vireo;

namespace {
struct Recorder : IoDevice {
  uint64_t last_offset = ~0ull, last_value = 0;
  unsigned last_size = 0;
  uint64_t io_read(uint64_t offset, unsigned size) override {
    last_offset = offset;
    last_size = size;
    return 0x1122334455667788ull;
  }
  void io_write(uint64_t offset, unsigned size, uint64_t value) override {
    last_offset = offset;
    last_size = size;
    last_value = value;
  }
};
}  // namespace

TEST(IoBus, DispatchesWithOffsets) {
  IoBus bus("pio");
  Recorder a, b;
  bus.add(0x3f8, 8, &a, "a");
  bus.add(0x60, 1, &b, "b");
  uint64_t v = 0;
  EXPECT_TRUE(bus.read(0x3fa, 1, v));
  EXPECT_EQ(a.last_offset, 2u);
  EXPECT_EQ(v, 0x88u);  // truncated to the access size
  EXPECT_TRUE(bus.write(0x60, 1, 0x1fe));
  EXPECT_EQ(b.last_value, 0xfeu);
}

TEST(IoBus, UnclaimedReadsAreAllOnes) {
  IoBus bus("pio");
  uint64_t v = 0;
  EXPECT_FALSE(bus.read(0xcfc, 4, v));
  EXPECT_EQ(v, 0xffffffffu);
  EXPECT_FALSE(bus.read(0x80, 1, v));
  EXPECT_EQ(v, 0xffu);
  EXPECT_FALSE(bus.write(0x80, 1, 0));
}

TEST(IoBus, RejectsOverlaps) {
  IoBus bus("mmio");
  Recorder a;
  bus.add(0x1000, 0x1000, &a, "a");
  EXPECT_THROW(bus.add(0x1800, 0x1000, &a, "b"), Error);
  EXPECT_THROW(bus.add(0x0, 0x1001, &a, "c"), Error);
  bus.add(0x2000, 0x10, &a, "d");
  EXPECT_NE(bus.find(0x200f), nullptr);
  EXPECT_EQ(bus.find(0x2010), nullptr);
}

TEST(IoBus, WideAccessesSplit) {
  IoBus bus("mmio");
  Recorder a;
  bus.add(0x1000, 0x100, &a, "a");
  uint8_t data[16] = {};
  EXPECT_TRUE(bus.read_bytes(0x1000, data, 16));
  EXPECT_EQ(a.last_offset, 8u);
  EXPECT_EQ(data[15], 0x11);
}
