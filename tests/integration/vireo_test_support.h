// Shared helpers for tests that run the vireo binary.
#pragma once

#include <gtest/gtest.h>

#include <fstream>
#include <string>
#include <vector>

#include "process.h"

namespace vireo::test {

inline std::string guest_path(const std::string& name) { return std::string(VIREO_GUEST_DIR) + "/" + name + ".bin"; }

inline std::string temp_file(const std::string& name, const std::string& contents) {
  std::string path = ::testing::TempDir() + name;
  std::ofstream(path, std::ios::binary) << contents;
  return path;
}

// Runs `vireo run` with the given arguments.
inline ProcessResult run_vireo(std::vector<std::string> args, double timeout = 120, const std::string* input = nullptr) {
  args.insert(args.begin(), {VIREO_BINARY, "run"});
  return run_process(args, timeout, input);
}

inline int count_lines(const std::string& s) {
  int n = 0;
  for (char c : s) n += c == '\n';
  return n;
}

#define SKIP_WITHOUT_KVM()                                              \
  do {                                                                  \
    std::string why = vireo::test::kvm_unavailable_reason();            \
    if (!why.empty()) GTEST_SKIP() << "needs /dev/kvm: " << why;        \
  } while (0)

}  // namespace vireo::test
