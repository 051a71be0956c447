#include <gtest/gtest.h>

#include "process.h"

using vireo::test::run_process;

TEST(Cli, RunsAtAll) {
  auto r = run_process({VIREO_BINARY}, 30);
  EXPECT_FALSE(r.timed_out);
  EXPECT_FALSE(r.core_dumped);
}
