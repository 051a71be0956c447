// Bad input gets one clear line on stderr and a non-zero exit: no core dump, no hang.
#include <sys/stat.h>
#include <unistd.h>

#include "vireo_test_support.h"

using namespace vireo::test;

namespace {

// The message vireo prints for an error: exactly one line starting "vireo: error:".
void expect_one_error_line(const ProcessResult& r, const std::string& needle) {
  EXPECT_FALSE(r.timed_out);
  EXPECT_FALSE(r.core_dumped);
  EXPECT_EQ(r.exit_status, 1) << r.err;
  EXPECT_EQ(r.err.rfind("vireo: error: ", 0), 0u) << r.err;
  EXPECT_EQ(count_lines(r.err), 1) << r.err;
  EXPECT_NE(r.err.find(needle), std::string::npos) << r.err;
}

}  // namespace

TEST(BadInput, MissingKernelFile) {
  auto r = run_vireo({"--kernel", "/nonexistent/vmlinuz"});
  expect_one_error_line(r, "cannot open kernel '/nonexistent/vmlinuz'");
}

TEST(BadInput, KernelThatIsNotAKernel) {
  std::string path = temp_file("not_a_kernel", std::string(8192, 'z'));
  auto r = run_vireo({"--kernel", path});
  expect_one_error_line(r, "is not a bzImage or an ELF vmlinux with a PVH note");
}

TEST(BadInput, KernelThatIsADirectory) {
  auto r = run_vireo({"--kernel", "/tmp"});
  expect_one_error_line(r, "is not a regular file");
}

TEST(BadInput, MissingInitrd) {
  auto r = run_vireo({"--kernel", guest_path("uart_hello"), "--initrd", "/nonexistent/initrd"});
  expect_one_error_line(r, "cannot open initrd");
}

TEST(BadInput, MalformedMemorySize) {
  auto r = run_vireo({"--kernel", guest_path("uart_hello"), "--memory", "12Q"});
  expect_one_error_line(r, "malformed size '12Q'");
}

TEST(BadInput, MemoryLargerThanTheHost) {
  auto r = run_vireo({"--kernel", guest_path("uart_hello"), "--memory", "900T"});
  expect_one_error_line(r, "--memory 900T is more than this host");
}

TEST(BadInput, ZeroCpus) {
  auto r = run_vireo({"--kernel", guest_path("uart_hello"), "--cpus", "0"});
  expect_one_error_line(r, "--cpus must be at least 1");
}

TEST(BadInput, UnknownDevice) {
  auto r = run_vireo({"--kernel", guest_path("uart_hello"), "--device", "frobnicator"});
  expect_one_error_line(r, "unknown device 'frobnicator'");
}

TEST(BadInput, MissingKvmDevice) {
  std::vector<std::string> argv = {"/usr/bin/env", "VIREO_KVM_DEVICE=/nonexistent/kvm", VIREO_BINARY, "run",
                                   "--accel", "kvm", "--kernel", guest_path("uart_hello")};
  auto r = run_process(argv, 60);
  expect_one_error_line(r, "/nonexistent/kvm does not exist");
  EXPECT_NE(r.err.find("--accel emu"), std::string::npos) << r.err;
}

TEST(BadInput, KvmWithoutPermission) {
  if (::geteuid() != 0 || ::access("/usr/bin/setpriv", X_OK) != 0)
    GTEST_SKIP() << "needs root and setpriv to run vireo as an unprivileged user";
  if (!kvm_unavailable_reason().empty()) GTEST_SKIP() << "no /dev/kvm here";
  struct stat st {};
  if (::stat("/dev/kvm", &st) == 0 && (st.st_mode & 0006) == 0006)
    GTEST_SKIP() << "/dev/kvm is open to every user here";
  std::vector<std::string> argv = {"/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                                   VIREO_BINARY, "run", "--accel", "kvm", "--kernel", guest_path("uart_hello")};
  auto r = run_process(argv, 60);
  expect_one_error_line(r, "kvm' group");
}

TEST(Cli, HelpExplainsEveryRunFlag) {
  auto r = run_process({VIREO_BINARY, "run", "--help"}, 30);
  EXPECT_EQ(r.exit_status, 0);
  for (const char* flag : {"--kernel", "--initrd", "--cmdline", "--memory", "--cpus", "--accel", "--trace",
                           "--device"})
    EXPECT_NE(r.out.find(flag), std::string::npos) << flag << " missing from:\n" << r.out;
  auto top = run_process({VIREO_BINARY, "--help"}, 30);
  EXPECT_EQ(top.exit_status, 0);
  EXPECT_NE(top.out.find("run"), std::string::npos);
  EXPECT_NE(top.out.find("info"), std::string::npos);
}

TEST(Cli, InfoReportsKvmKind) {
  auto r = run_process({VIREO_BINARY, "info"}, 30);
  EXPECT_EQ(r.exit_status, 0) << r.err;
  EXPECT_NE(r.out.find("kvm:"), std::string::npos) << r.out;
  struct stat st {};
  if (::stat("/sys/module/kvm_pvm", &st) == 0) {
    EXPECT_NE(r.out.find("PVM"), std::string::npos) << r.out;
  }
  EXPECT_NE(r.out.find("cpu has:"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("emulator:"), std::string::npos) << r.out;
}
