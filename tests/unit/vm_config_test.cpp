#include <gtest/gtest.h>

#include "base/error.h"
#include "vm/vm_config.h"

using namespace vireo;

TEST(DeviceSpec, DebugExitDefaultsAndOptions) {
  DeviceSpec d = parse_device_spec("debug-exit");
  EXPECT_EQ(d.kind, "debug-exit");
  EXPECT_EQ(d.iobase, 0xf4u);
  EXPECT_EQ(d.iosize, 4u);
  d = parse_device_spec("debug-exit,iobase=0x501,iosize=2");
  EXPECT_EQ(d.iobase, 0x501u);
  EXPECT_EQ(d.iosize, 2u);
}

TEST(DeviceSpec, RejectsBadInput) {
  EXPECT_THROW(parse_device_spec("nope"), Error);
  EXPECT_THROW(parse_device_spec("debug-exit,iobase=0x10000"), Error);
  EXPECT_THROW(parse_device_spec("debug-exit,iobase=zz"), Error);
  EXPECT_THROW(parse_device_spec("debug-exit,iosize=3"), Error);
  EXPECT_THROW(parse_device_spec("debug-exit,iobase=0xfffe,iosize=4"), Error);
  EXPECT_THROW(parse_device_spec("debug-exit,colour=red"), Error);
  EXPECT_THROW(parse_device_spec("debug-exit,iobase="), Error);
}
