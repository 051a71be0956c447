#include <gtest/gtest.h>

#include "base/size.h"
#include "memory/guest_memory.h"

using namespace vireo;

TEST(GuestMemory, LowOnlyLayout) {
  GuestMemory mem(64 * MiB);
  ASSERT_EQ(mem.regions().size(), 1u);
  EXPECT_EQ(mem.low_ram_end(), 64 * MiB);
  EXPECT_NE(mem.host_ptr(0, 64 * MiB), nullptr);
  EXPECT_EQ(mem.host_ptr(64 * MiB - 4, 8), nullptr);  // straddles the end
  EXPECT_EQ(mem.host_ptr(~0ull - 2, 8), nullptr);     // wraps
}

TEST(GuestMemory, SplitsAroundTheMmioHole) {
  GuestMemory mem(4 * GiB);
  ASSERT_EQ(mem.regions().size(), 2u);
  EXPECT_EQ(mem.low_ram_end(), 3 * GiB);
  EXPECT_EQ(mem.regions()[1].gpa, 4 * GiB);
  EXPECT_EQ(mem.regions()[1].size, 1 * GiB);
  EXPECT_FALSE(mem.is_ram(3 * GiB));
  EXPECT_TRUE(mem.is_ram(4 * GiB + 123));
  EXPECT_FALSE(mem.is_ram(5 * GiB));
}

TEST(GuestMemory, CheckedAccess) {
  GuestMemory mem(2 * MiB);
  mem.write_obj<uint32_t>(0x1000, 0xdeadbeef);
  EXPECT_EQ(mem.read_obj<uint32_t>(0x1000), 0xdeadbeefu);
  EXPECT_THROW(mem.write_obj<uint64_t>(2 * MiB - 4, 1), GuestMemoryError);
  uint8_t buf[4];
  EXPECT_THROW(mem.read(3 * MiB, buf, 4), GuestMemoryError);
}

TEST(GuestMemory, RejectsBadSizes) {
  EXPECT_THROW(GuestMemory(1000), Error);
  EXPECT_THROW(GuestMemory(MiB + 1), Error);
  EXPECT_THROW(GuestMemory(2048 * GiB), Error);
}
