// Multiboot kernels (tests/guests/multiboot) booted the way a user runs them:
//   vireo run --kernel k.elf [--initrd m1,m2] [--cmdline ...] --device debug-exit
// under each accelerator; each kernel checks what it sees and reports through
// debug-exit (0x10 = all checks passed, else the number of the failed check). Bad
// kernel files get one error line and exit status 1.
#include <cstring>
#include <fstream>
#include <iterator>

#include "vireo_test_support.h"

using namespace vireo::test;

namespace {

constexpr int kPassed = (0x10 << 1) | 1;  // debug-exit value 0x10
constexpr int exit_for_check(int check) { return (check << 1) | 1; }

std::string multiboot_kernel(const std::string& file) { return std::string(VIREO_MULTIBOOT_GUEST_DIR) + "/" + file; }

std::string read_whole(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

// The two modules mb_info_check expects: 5000 bytes "MODULE-ONE"..."END1" and 12345
// bytes "MODULE-TWO"..."END2", with other bytes in between.
std::string module_one() {
  std::string m = "MODULE-ONE";
  while (m.size() < 5000 - 4) m.push_back(static_cast<char>('a' + m.size() % 26));
  return m + "END1";
}
std::string module_two() {
  std::string m = "MODULE-TWO";
  while (m.size() < 12345 - 4) m.push_back(static_cast<char>(m.size() * 7));
  return m + "END2";
}

class MultibootBoot : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (GetParam() == "kvm") {
      std::string why = kvm_unavailable_reason();
      if (!why.empty()) GTEST_SKIP() << "needs /dev/kvm: " << why;
    }
  }
  std::vector<std::string> args(const std::string& kernel_file, const std::string& memory = "64M") const {
    return {"--accel", GetParam(), "--kernel", multiboot_kernel(kernel_file), "--memory", memory, "--device",
            "debug-exit"};
  }
  // Runs mb_info_check with the two modules in the given order and memory size.
  ProcessResult run_info_check(bool swap_modules, const std::string& memory) {
    const std::string one = temp_file("vireo_mb_module_one", module_one());
    const std::string two = temp_file("vireo_mb_module_two", module_two());
    auto a = args("mb_info_check.elf", memory);
    const std::string modules = swap_modules ? two + "," + one : one + "," + two;
    a.insert(a.end(), {"--cmdline", "mb-test answer=42 mod1=" + one + " mod2=" + two, "--initrd", modules});
    return run_vireo(a);
  }
};

}  // namespace

TEST_P(MultibootBoot, InformationStructureCarriesWhatWasPassed) {
  auto r = run_info_check(false, "64M");
  EXPECT_FALSE(r.timed_out);
  EXPECT_EQ(r.exit_status, kPassed) << r.err;
  EXPECT_NE(r.err.find("guest debug: multiboot info check passed"), std::string::npos) << r.err;
}

TEST_P(MultibootBoot, InfoCheckNoticesAnotherMemorySize) {
  // The same kernel with 32 MiB must fail its mem_upper check (5): the check is real.
  auto r = run_info_check(false, "32M");
  EXPECT_EQ(r.exit_status, exit_for_check(5)) << r.err;
  EXPECT_NE(r.err.find("check 5 failed"), std::string::npos) << r.err;
}

TEST_P(MultibootBoot, InfoCheckNoticesModulesInTheWrongOrder) {
  // Module 1 is then 12345 bytes: its size check (10) fails.
  auto r = run_info_check(true, "64M");
  EXPECT_EQ(r.exit_status, exit_for_check(10)) << r.err;
}

TEST_P(MultibootBoot, InfoCheckNoticesAnotherCommandLine) {
  auto a = args("mb_info_check.elf");
  a.insert(a.end(), {"--cmdline", "something else", "--initrd",
                     temp_file("vireo_mb_module_one", module_one()) + "," +
                         temp_file("vireo_mb_module_two", module_two())});
  auto r = run_vireo(a);
  EXPECT_EQ(r.exit_status, exit_for_check(7)) << r.err;
}

TEST_P(MultibootBoot, KernelSwitchesToLongModeAndRuns64BitCode) {
  auto r = run_vireo(args("mb_long_mode.elf"));
  EXPECT_FALSE(r.timed_out);
  EXPECT_EQ(r.exit_status, kPassed) << r.err;
  EXPECT_NE(r.err.find("guest debug: long mode reached and 64-bit code ran"), std::string::npos) << r.err;
}

TEST_P(MultibootBoot, Elf64KernelIsLoadedByItsProgramHeaders) {
  // The same kernel as an ELF64 file: 32-bit entry code in a 64-bit ELF.
  auto r = run_vireo(args("mb_long_mode64.elf"));
  EXPECT_FALSE(r.timed_out);
  EXPECT_EQ(r.exit_status, kPassed) << r.err;
  EXPECT_NE(r.err.find("guest debug: long mode reached and 64-bit code ran"), std::string::npos) << r.err;
}

TEST_P(MultibootBoot, PciConfigSpaceUnclaimedPortsAndMmioReadAllOnes) {
  auto r = run_vireo(args("mb_pci_probe.elf"));
  EXPECT_FALSE(r.timed_out);
  EXPECT_EQ(r.exit_status, kPassed) << r.err;
  EXPECT_NE(r.err.find("guest debug: pci and unclaimed-address probe passed"), std::string::npos) << r.err;
}

TEST_P(MultibootBoot, FlatKernelWithLoadAddressesInItsHeader) {
  auto r = run_vireo(args("mb_aout.bin"));
  EXPECT_FALSE(r.timed_out);
  EXPECT_EQ(r.exit_status, kPassed) << r.err;
  EXPECT_NE(r.err.find("guest debug: a.out-kludge kernel ran"), std::string::npos) << r.err;
}

INSTANTIATE_TEST_SUITE_P(Accel, MultibootBoot, ::testing::Values("kvm", "emu"),
                         [](const auto& info) { return info.param; });

// ---- bad input ------------------------------------------------------------------------------

namespace {

void expect_one_error_line(const ProcessResult& r, const std::string& needle) {
  EXPECT_FALSE(r.timed_out);
  EXPECT_FALSE(r.core_dumped);
  EXPECT_EQ(r.exit_status, 1) << r.err;
  EXPECT_EQ(r.err.rfind("vireo: error: ", 0), 0u) << r.err;
  EXPECT_EQ(count_lines(r.err), 1) << r.err;
  EXPECT_NE(r.err.find(needle), std::string::npos) << r.err;
}

std::vector<std::string> bad_input_args(const std::string& kernel) {
  return {"--accel", "emu", "--kernel", kernel, "--memory", "64M", "--device", "debug-exit"};
}

template <typename T>
T get(const std::string& f, size_t off) {
  T v;
  std::memcpy(&v, f.data() + off, sizeof(T));
  return v;
}
template <typename T>
void set(std::string& f, size_t off, T v) {
  std::memcpy(f.data() + off, &v, sizeof(T));
}

}  // namespace

TEST(MultibootBootBadInput, FileWithoutAMultibootHeaderThatIsNotALinuxKernel) {
  std::string junk(20000, '\0');
  for (size_t i = 0; i < junk.size(); ++i) junk[i] = static_cast<char>(i * 13 + 5);
  const std::string path = temp_file("vireo_mb_no_header", junk);
  auto r = run_vireo(bad_input_args(path));
  expect_one_error_line(r, "Multiboot");
}

TEST(MultibootBootBadInput, HeaderWithAWrongChecksum) {
  std::string k = read_whole(multiboot_kernel("mb_info_check.elf"));
  ASSERT_FALSE(k.empty());
  size_t off = 0;
  while (off + 4 <= 8192 && get<uint32_t>(k, off) != 0x1BADB002) off += 4;
  ASSERT_LT(off, 8192u);
  set<uint32_t>(k, off + 8, get<uint32_t>(k, off + 8) + 1);
  const std::string path = temp_file("vireo_mb_bad_checksum.elf", k);
  auto r = run_vireo(bad_input_args(path));
  expect_one_error_line(r, "Multiboot header at offset " + std::to_string(off) + " has a wrong checksum");
}

TEST(MultibootBootBadInput, SegmentBeyondGuestMemory) {
  // mb_info_check with its last PT_LOAD moved to 256 MiB, run with 64 MiB.
  std::string k = read_whole(multiboot_kernel("mb_info_check.elf"));
  ASSERT_GE(k.size(), 52u);
  const uint32_t phoff = get<uint32_t>(k, 28);
  const uint16_t phentsize = get<uint16_t>(k, 42), phnum = get<uint16_t>(k, 44);
  size_t last_load = 0;
  for (unsigned i = 0; i < phnum; ++i)
    if (get<uint32_t>(k, phoff + i * phentsize) == 1) last_load = phoff + i * phentsize;
  ASSERT_NE(last_load, 0u);
  set<uint32_t>(k, last_load + 12, 0x10000000);  // p_paddr
  const std::string path = temp_file("vireo_mb_too_high.elf", k);
  auto r = run_vireo(bad_input_args(path));
  expect_one_error_line(r, "segment at 0x10000000");
  EXPECT_NE(r.err.find("does not fit in guest memory (64 MiB); use --memory"), std::string::npos) << r.err;
}

TEST(MultibootBootBadInput, MissingModuleFile) {
  auto a = bad_input_args(multiboot_kernel("mb_pci_probe.elf"));
  a.insert(a.end(), {"--initrd", temp_file("vireo_mb_module_one", module_one()) + ",/nonexistent/module"});
  auto r = run_vireo(a);
  expect_one_error_line(r, "/nonexistent/module");
}
