#include <gtest/gtest.h>

#include "base/error.h"
#include "base/size.h"

using namespace vireo;

TEST(ParseSize, AcceptsSuffixes) {
  EXPECT_EQ(parse_size("4096"), 4096u);
  EXPECT_EQ(parse_size("512M"), 512 * MiB);
  EXPECT_EQ(parse_size("512m"), 512 * MiB);
  EXPECT_EQ(parse_size("2G"), 2 * GiB);
  EXPECT_EQ(parse_size("2GiB"), 2 * GiB);
  EXPECT_EQ(parse_size("64K"), 64 * KiB);
}

TEST(ParseSize, RejectsMalformed) {
  EXPECT_THROW(parse_size(""), Error);
  EXPECT_THROW(parse_size("M"), Error);
  EXPECT_THROW(parse_size("12Q"), Error);
  EXPECT_THROW(parse_size("-5M"), Error);
  EXPECT_THROW(parse_size("99999999999999999999"), Error);
  EXPECT_THROW(parse_size("99999999999T"), Error);
}

TEST(FormatSize, ShortestExactSuffix) {
  EXPECT_EQ(format_size(512 * MiB), "512M");
  EXPECT_EQ(format_size(900 * 1024 * GiB), "900T");
  EXPECT_EQ(format_size(1536), "1536");
  EXPECT_EQ(format_size(3 * GiB), "3G");
  EXPECT_EQ(format_size(0), "0");
}
