// Shared helpers for tests that run the vireo binary.
#pragma once

#include <unistd.h>

#include <gtest/gtest.h>

#include <sys/stat.h>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "process.h"

namespace vireo::test {

inline std::string guest_path(const std::string& name) { return std::string(VIREO_GUEST_DIR) + "/" + name + ".bin"; }

// The name carries the test process's pid: CTest runs tests in parallel processes.
inline std::string temp_file(const std::string& name, const std::string& contents) {
  std::string path = ::testing::TempDir() + name + "." + std::to_string(getpid());
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

// A file of the default guest (build/guest: vmlinuz, initramfs.cpio.gz, kernel-version).
inline std::string guest_file(const char* name) { return std::string(VIREO_DEFAULT_GUEST_DIR) + "/" + name; }

// A text file's contents without trailing newlines.
inline std::string read_text(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  std::string s = ss.str();
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.pop_back();
  return s;
}

#define SKIP_WITHOUT_GUEST()                                                                  \
  do {                                                                                        \
    struct stat st {};                                                                        \
    if (::stat(vireo::test::guest_file("vmlinuz").c_str(), &st) != 0)                         \
      GTEST_SKIP() << "the default guest is not built (make guest builds it in build/guest)"; \
  } while (0)

#define SKIP_WITHOUT_KVM()                                              \
  do {                                                                  \
    std::string why = vireo::test::kvm_unavailable_reason();            \
    if (!why.empty()) GTEST_SKIP() << "needs /dev/kvm: " << why;        \
  } while (0)

}  // namespace vireo::test
