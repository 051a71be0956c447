// Runs a program (usually the vireo binary) with a time limit and captures its output.
#pragma once

#include <string>
#include <vector>

namespace vireo::test {

struct ProcessResult {
  int exit_status = -1;   // exit code, or 128 + signal
  bool timed_out = false;
  bool core_dumped = false;
  std::string out;        // stdout
  std::string err;        // stderr
};

// Runs argv[0] with argv; stdin is /dev/null unless `input` is given.
ProcessResult run_process(const std::vector<std::string>& argv, double timeout_seconds,
                          const std::string* input = nullptr);

// Reasons a test must skip on this host, or "" when KVM opens.
std::string kvm_unavailable_reason();
// "" when KVM has hardware virtualization (VT-x/AMD-V), else why not.
std::string kvm_hw_unavailable_reason();

}  // namespace vireo::test
