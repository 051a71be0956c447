#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/wait.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <tuple>

#include "arch/x86/acpi.h"
#include "arch/x86/layout.h"
#include "base/error.h"
#include "base/size.h"
#include "memory/guest_memory.h"

using namespace vireo;
using namespace vireo::x86;

namespace {

// Little-endian reads from an AcpiImage by guest-physical address, bounds-checked.
class ImageReader {
 public:
  explicit ImageReader(const AcpiImage& image) : image_(image) {}
  const uint8_t* at(uint64_t gpa, uint64_t len) const {
    if (gpa < image_.base || gpa + len > image_.base + image_.bytes.size()) {
      ADD_FAILURE() << "read " << std::hex << gpa << "+" << len << " outside the image";
      static const uint8_t zeros[4096] = {};
      return zeros;
    }
    return image_.bytes.data() + (gpa - image_.base);
  }
  uint64_t le(uint64_t gpa, int n) const {
    const uint8_t* p = at(gpa, n);
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; --i) v = (v << 8) | p[i];
    return v;
  }
  uint8_t u8(uint64_t gpa) const { return static_cast<uint8_t>(le(gpa, 1)); }
  uint16_t u16(uint64_t gpa) const { return static_cast<uint16_t>(le(gpa, 2)); }
  uint32_t u32(uint64_t gpa) const { return static_cast<uint32_t>(le(gpa, 4)); }
  uint64_t u64(uint64_t gpa) const { return le(gpa, 8); }
  std::string str(uint64_t gpa, size_t n) const {
    const uint8_t* p = at(gpa, n);
    return std::string(p, p + n);
  }
  uint8_t sum(uint64_t gpa, uint64_t len) const {
    const uint8_t* p = at(gpa, len);
    uint8_t s = 0;
    for (uint64_t i = 0; i < len; ++i) s = static_cast<uint8_t>(s + p[i]);
    return s;
  }
  std::vector<uint8_t> copy(uint64_t gpa, uint64_t len) const {
    const uint8_t* p = at(gpa, len);
    return std::vector<uint8_t>(p, p + len);
  }

 private:
  const AcpiImage& image_;
};

// Checks a System Description Table header; returns its length.
uint32_t check_sdt(const ImageReader& r, uint64_t addr, const char* signature) {
  EXPECT_EQ(r.str(addr, 4), signature);
  uint32_t length = r.u32(addr + 4);
  EXPECT_GE(length, 36u) << signature;
  EXPECT_EQ(r.sum(addr, length), 0) << signature << " checksum";
  EXPECT_EQ(r.str(addr + 10, 6), "VIREO ") << signature;
  EXPECT_EQ(r.str(addr + 16, 8), "VIREOVM ") << signature;
  EXPECT_NE(r.u32(addr + 24), 0u) << signature << " OEM revision";
  EXPECT_NE(r.u32(addr + 28), 0u) << signature << " creator id";
  EXPECT_NE(r.u32(addr + 32), 0u) << signature << " creator revision";
  return length;
}

AcpiConfig make_config(unsigned cpus, size_t virtio) {
  AcpiConfig c;
  c.num_cpus = cpus;
  for (size_t i = 0; i < virtio; ++i) {
    // Distinct sizes and IRQs so the test sees each device's own values.
    c.virtio_mmio.push_back({kVirtioMmioBase + i * kVirtioMmioSize, i == 0 ? 0x1000u : 0x200u,
                             static_cast<unsigned>(kVirtioIrqBase + 3 * i)});
  }
  return c;
}

bool have_tool(const std::string& tool) {
  return std::system(("command -v " + tool + " >/dev/null 2>&1").c_str()) == 0;
}

std::string read_text(const std::filesystem::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

// A scratch directory for running the ACPICA tools, removed at the end of the test.
class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/vireo-acpi-test-XXXXXX";
    if (const char* d = mkdtemp(tmpl)) path_ = d;
  }
  ~TempDir() {
    if (!path_.empty()) std::filesystem::remove_all(path_);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }

  void write(const std::string& name, const std::vector<uint8_t>& bytes) const {
    std::ofstream out(path_ / name, std::ios::binary);
    out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  }
  // Runs `command` in the directory with its output in `log`; true when it exits 0.
  bool run(const std::string& command, const std::string& log) const {
    std::string cmd = "cd '" + path_.string() + "' && " + command + " </dev/null >" + log + " 2>&1";
    int status = std::system(cmd.c_str());
    return WIFEXITED(status) && WEXITSTATUS(status) == 0;
  }

 private:
  std::filesystem::path path_;
};

// Disassembles a DSDT with `iasl -d`; returns the .dsl text.
std::string disassemble(const std::vector<uint8_t>& dsdt) {
  TempDir dir;
  EXPECT_FALSE(dir.path().empty()) << "mkdtemp failed";
  dir.write("dsdt.dat", dsdt);
  bool ok = dir.run("iasl -d dsdt.dat", "iasl.log");
  std::string log = read_text(dir.path() / "iasl.log");
  EXPECT_TRUE(ok) << "iasl failed:\n" << log;
  EXPECT_EQ(lower(log).find("error"), std::string::npos) << log;
  EXPECT_EQ(lower(log).find("warning"), std::string::npos) << log;
  return read_text(dir.path() / "dsdt.dsl");
}

// The text of one Device block: from "Device (NAME)" to the next "Device (" or the end.
std::string device_block(const std::string& dsl, const std::string& name) {
  size_t start = dsl.find("Device (" + name + ")");
  if (start == std::string::npos) return {};
  size_t end = dsl.find("Device (", start + 1);
  return dsl.substr(start, end == std::string::npos ? std::string::npos : end - start);
}

class AcpiTables : public ::testing::TestWithParam<std::tuple<unsigned, size_t>> {
 protected:
  unsigned cpus() const { return std::get<0>(GetParam()); }
  AcpiConfig config() const { return make_config(std::get<0>(GetParam()), std::get<1>(GetParam())); }
};

TEST_P(AcpiTables, RsdpPointsAtXsdt) {
  AcpiImage image = build_acpi_tables(kAcpiTablesAddr, config());
  ImageReader r(image);
  EXPECT_EQ(image.rsdp, kAcpiTablesAddr);
  EXPECT_EQ(image.rsdp % 16, 0u);
  EXPECT_GE(image.rsdp, 0xe0000u);
  EXPECT_LT(image.rsdp + 36, 0x100000u);
  EXPECT_EQ(r.str(image.rsdp, 8), "RSD PTR ");
  EXPECT_EQ(r.sum(image.rsdp, 20), 0) << "ACPI 1.0 checksum";
  EXPECT_EQ(r.sum(image.rsdp, 36), 0) << "extended checksum";
  EXPECT_EQ(r.str(image.rsdp + 9, 6), "VIREO ");
  EXPECT_EQ(r.u8(image.rsdp + 15), 2);          // revision
  EXPECT_EQ(r.u32(image.rsdp + 16), 0u);        // RsdtAddress
  EXPECT_EQ(r.u32(image.rsdp + 20), 36u);       // Length
  EXPECT_EQ(r.u64(image.rsdp + 24), image.xsdt);
}

TEST_P(AcpiTables, EveryTableHasSignatureLengthChecksum) {
  AcpiImage image = build_acpi_tables(kAcpiTablesAddr, config());
  ImageReader r(image);
  uint32_t xsdt_len = check_sdt(r, image.xsdt, "XSDT");
  uint32_t fadt_len = check_sdt(r, image.fadt, "FACP");
  uint32_t madt_len = check_sdt(r, image.madt, "APIC");
  uint32_t dsdt_len = check_sdt(r, image.dsdt, "DSDT");
  EXPECT_EQ(fadt_len, 276u);
  EXPECT_EQ(xsdt_len, 36u + 2 * 8);
  EXPECT_EQ(madt_len, 44u + 8 * cpus() + 12 + 10 + 6);
  EXPECT_EQ(r.u8(image.dsdt + 8), 2);  // 64-bit integers
  // Tables do not overlap and all lie in the image.
  std::vector<std::pair<uint64_t, uint64_t>> ranges = {
      {image.rsdp, 36}, {image.xsdt, xsdt_len}, {image.fadt, fadt_len},
      {image.madt, madt_len}, {image.dsdt, dsdt_len}};
  std::sort(ranges.begin(), ranges.end());
  for (size_t i = 1; i < ranges.size(); ++i)
    EXPECT_LE(ranges[i - 1].first + ranges[i - 1].second, ranges[i].first);
  EXPECT_LE(ranges.back().first + ranges.back().second, image.base + image.bytes.size());
}

TEST_P(AcpiTables, XsdtListsFadtAndMadt) {
  AcpiImage image = build_acpi_tables(kAcpiTablesAddr, config());
  ImageReader r(image);
  uint32_t len = r.u32(image.xsdt + 4);
  ASSERT_EQ((len - 36) % 8, 0u);
  std::vector<std::string> signatures;
  for (uint64_t off = 36; off < len; off += 8) signatures.push_back(r.str(r.u64(image.xsdt + off), 4));
  EXPECT_EQ(signatures, (std::vector<std::string>{"FACP", "APIC"}));
  EXPECT_EQ(r.u64(image.xsdt + 36), image.fadt);
  EXPECT_EQ(r.u64(image.xsdt + 44), image.madt);
}

TEST_P(AcpiTables, FadtDescribesHardwareReducedPlatform) {
  AcpiImage image = build_acpi_tables(kAcpiTablesAddr, config());
  ImageReader r(image);
  uint64_t f = image.fadt;
  EXPECT_EQ(r.u8(f + 8), 6);    // revision
  EXPECT_EQ(r.u8(f + 131), 5);  // minor version
  uint32_t flags = r.u32(f + 112);
  EXPECT_TRUE(flags & (1u << 20)) << "HW_REDUCED_ACPI";
  EXPECT_TRUE(flags & (1u << 10)) << "RESET_REG_SUP";
  EXPECT_TRUE(flags & (1u << 4)) << "PWR_BUTTON (no fixed power button)";
  EXPECT_TRUE(flags & (1u << 5)) << "SLP_BUTTON (no fixed sleep button)";
  EXPECT_EQ(r.u16(f + 109) & 0x3, 0) << "no LEGACY_DEVICES, no 8042";
  EXPECT_TRUE(r.u16(f + 109) & (1u << 2)) << "VGA Not Present";
  EXPECT_EQ(r.u16(f + 129), 0) << "ARM_BOOT_ARCH";
  EXPECT_EQ(r.u32(f + 40), image.dsdt);   // DSDT
  EXPECT_EQ(r.u64(f + 140), image.dsdt);  // X_DSDT
  EXPECT_EQ(r.u32(f + 36), 0u);           // no FACS
  EXPECT_EQ(r.u64(f + 132), 0u);
  // No fixed hardware: PM blocks, their lengths, and the X_ blocks are all zero.
  for (uint64_t off = 56; off < 96; ++off) EXPECT_EQ(r.u8(f + off), 0) << "offset " << off;
  for (uint64_t off = 148; off < 244; ++off) EXPECT_EQ(r.u8(f + off), 0) << "offset " << off;

  struct Gas { uint64_t offset; uint64_t port; };
  for (Gas g : {Gas{116, kAcpiResetPort}, Gas{244, kAcpiSleepControlPort}, Gas{256, kAcpiSleepStatusPort}}) {
    EXPECT_EQ(r.u8(f + g.offset), 1) << "SystemIO at " << g.offset;
    EXPECT_EQ(r.u8(f + g.offset + 1), 8) << "bit width at " << g.offset;
    EXPECT_EQ(r.u8(f + g.offset + 2), 0) << "bit offset at " << g.offset;
    EXPECT_EQ(r.u8(f + g.offset + 3), 1) << "byte access at " << g.offset;
    EXPECT_EQ(r.u64(f + g.offset + 4), g.port) << "port at " << g.offset;
  }
  EXPECT_EQ(r.u8(f + 128), kAcpiResetValue);
  EXPECT_EQ(r.str(f + 268, 5), "VIREO");
}

TEST_P(AcpiTables, MadtListsCpusIoapicOverrideAndNmi) {
  AcpiImage image = build_acpi_tables(kAcpiTablesAddr, config());
  ImageReader r(image);
  uint64_t m = image.madt;
  uint32_t len = r.u32(m + 4);
  EXPECT_EQ(r.u32(m + 36), kLapicAddr);
  EXPECT_EQ(r.u32(m + 40), 0u);
  unsigned lapics = 0, ioapics = 0, overrides = 0, nmis = 0, entries = 0;
  for (uint64_t off = 44; off < len;) {
    uint8_t type = r.u8(m + off), elen = r.u8(m + off + 1);
    ASSERT_GE(elen, 2) << "entry at " << off;
    ASSERT_LE(off + elen, len);
    uint64_t e = m + off;
    ++entries;
    switch (type) {
      case 0:
        EXPECT_EQ(elen, 8);
        EXPECT_EQ(r.u8(e + 2), lapics) << "processor UID";
        EXPECT_EQ(r.u8(e + 3), lapics) << "APIC id";
        EXPECT_EQ(r.u32(e + 4), 1u) << "enabled";
        ++lapics;
        break;
      case 1:
        EXPECT_EQ(elen, 12);
        EXPECT_EQ(r.u8(e + 2), cpus()) << "I/O APIC id";
        EXPECT_EQ(r.u32(e + 4), kIoapicAddr);
        EXPECT_EQ(r.u32(e + 8), 0u) << "GSI base";
        ++ioapics;
        break;
      case 2:
        EXPECT_EQ(elen, 10);
        EXPECT_EQ(r.u8(e + 2), 0) << "ISA bus";
        EXPECT_EQ(r.u8(e + 3), 0) << "IRQ 0";
        EXPECT_EQ(r.u32(e + 4), 2u) << "GSI 2";
        EXPECT_EQ(r.u16(e + 8), 0x0005) << "edge, active high";
        ++overrides;
        break;
      case 4:
        EXPECT_EQ(elen, 6);
        EXPECT_EQ(r.u8(e + 2), 0xff) << "all processors";
        EXPECT_EQ(r.u8(e + 5), 1) << "LINT1";
        ++nmis;
        break;
      default:
        ADD_FAILURE() << "unexpected MADT entry type " << int(type);
    }
    off += elen;
  }
  EXPECT_EQ(lapics, cpus());
  EXPECT_EQ(ioapics, 1u);
  EXPECT_EQ(overrides, 1u);
  EXPECT_EQ(nmis, 1u);
  EXPECT_EQ(entries, cpus() + 3);
}

TEST_P(AcpiTables, DsdtDisassemblesWithDevices) {
  if (!have_tool("iasl")) GTEST_SKIP() << "iasl not found: install acpica-tools to decode the DSDT";
  AcpiConfig cfg = config();
  AcpiImage image = build_acpi_tables(kAcpiTablesAddr, cfg);
  ImageReader r(image);
  std::string dsl = disassemble(r.copy(image.dsdt, r.u32(image.dsdt + 4)));
  ASSERT_FALSE(dsl.empty());

  EXPECT_NE(dsl.find("Scope (\\_SB)"), std::string::npos) << dsl;
  std::string com1 = device_block(dsl, "COM1");
  ASSERT_FALSE(com1.empty()) << dsl;
  EXPECT_NE(com1.find("EisaId (\"PNP0501\")"), std::string::npos) << com1;
  EXPECT_NE(com1.find(fmt::format("0x{:04X},             // Range Minimum", kCom1Port)), std::string::npos) << com1;
  EXPECT_NE(com1.find("0x08,               // Length"), std::string::npos) << com1;
  EXPECT_NE(com1.find(fmt::format("{{{}}}", kCom1Irq)), std::string::npos) << com1;

  size_t lnro = 0;
  for (size_t pos = 0; (pos = dsl.find("\"LNRO0005\"", pos)) != std::string::npos; ++pos) ++lnro;
  EXPECT_EQ(lnro, cfg.virtio_mmio.size());
  for (size_t i = 0; i < cfg.virtio_mmio.size(); ++i) {
    const VirtioMmioDescription& d = cfg.virtio_mmio[i];
    std::string block = device_block(dsl, fmt::format("V{:03X}", i));
    ASSERT_FALSE(block.empty()) << "device V" << i << " missing:\n" << dsl;
    EXPECT_NE(block.find("Name (_HID, \"LNRO0005\")"), std::string::npos) << block;
    EXPECT_NE(block.find(i == 0 ? "Name (_UID, Zero)" : i == 1 ? "Name (_UID, One)" : "_UID"),
              std::string::npos) << block;
    size_t mem = block.find("Memory32Fixed (ReadWrite,");
    ASSERT_NE(mem, std::string::npos) << block;
    EXPECT_NE(block.find(fmt::format("0x{:08X},         // Address Base", d.base), mem), std::string::npos) << block;
    EXPECT_NE(block.find(fmt::format("0x{:08X},         // Address Length", d.size), mem), std::string::npos) << block;
    size_t irq = block.find("Interrupt (ResourceConsumer, Level, ActiveHigh, Exclusive, ,, )");
    ASSERT_NE(irq, std::string::npos) << block;
    EXPECT_NE(block.find(fmt::format("0x{:08X},", d.irq), irq), std::string::npos) << block;
  }

  size_t s5 = dsl.find("Name (_S5, Package (0x02)");
  ASSERT_NE(s5, std::string::npos) << dsl;
  size_t s5_first = dsl.find_first_not_of(" \n{", dsl.find('{', s5) + 1);
  EXPECT_EQ(dsl.substr(s5_first, 5), fmt::format("0x{:02X},", kAcpiS5SleepType)) << dsl.substr(s5);
  // _S5_ sits at the root, after the \_SB scope is closed.
  EXPECT_GT(s5, dsl.rfind("Device ("));
}

TEST(AcpiPvpanic, DsdtDescribesThePanicPortOnlyWhenAsked) {
  if (!have_tool("iasl")) GTEST_SKIP() << "iasl not found: install acpica-tools to decode the DSDT";
  AcpiConfig cfg;
  cfg.pvpanic_port = 0x505;
  AcpiImage image = build_acpi_tables(kAcpiTablesAddr, cfg);
  ImageReader r(image);
  std::string dsl = disassemble(r.copy(image.dsdt, r.u32(image.dsdt + 4)));
  std::string block = device_block(dsl, "PEVT");
  ASSERT_FALSE(block.empty()) << dsl;
  EXPECT_NE(block.find("Name (_HID, \"QEMU0001\")"), std::string::npos) << block;
  EXPECT_NE(block.find("0x0505,             // Range Minimum"), std::string::npos) << block;
  EXPECT_NE(block.find("0x01,               // Length"), std::string::npos) << block;

  AcpiImage without = build_acpi_tables(kAcpiTablesAddr, AcpiConfig{});
  ImageReader r2(without);
  EXPECT_EQ(disassemble(r2.copy(without.dsdt, r2.u32(without.dsdt + 4))).find("QEMU0001"), std::string::npos);
}

INSTANTIATE_TEST_SUITE_P(
    AcpiCpusAndDevices, AcpiTables,
    ::testing::Combine(::testing::Values(1u, 2u, 8u), ::testing::Values(size_t{0}, size_t{2})),
    [](const ::testing::TestParamInfo<AcpiTables::ParamType>& info) {
      return fmt::format("cpus{}_virtio{}", std::get<0>(info.param), std::get<1>(info.param));
    });

// ACPICA's own interpreter (the code Linux runs) loads the FADT, MADT and DSDT
// without complaint and reads \_S5_ as the package the sleep code expects.
TEST(AcpiAcpica, LoadsTablesAndEvaluatesS5) {
  if (!have_tool("acpiexec")) GTEST_SKIP() << "acpiexec not found: install acpica-tools";
  AcpiImage image = build_acpi_tables(kAcpiTablesAddr, make_config(2, 2));
  ImageReader r(image);
  TempDir dir;
  ASSERT_FALSE(dir.path().empty());
  dir.write("facp.dat", r.copy(image.fadt, r.u32(image.fadt + 4)));
  dir.write("apic.dat", r.copy(image.madt, r.u32(image.madt + 4)));
  dir.write("dsdt.dat", r.copy(image.dsdt, r.u32(image.dsdt + 4)));
  bool ok = dir.run("timeout 60 acpiexec -b 'Evaluate \\_S5_' facp.dat apic.dat dsdt.dat", "acpiexec.log");
  std::string log = read_text(dir.path() / "acpiexec.log");
  EXPECT_TRUE(ok) << log;
  EXPECT_EQ(lower(log).find("error"), std::string::npos) << log;
  EXPECT_EQ(lower(log).find("warning"), std::string::npos) << log;
  size_t pkg = log.find("[Package] Contains 2 Elements:");
  ASSERT_NE(pkg, std::string::npos) << log;
  size_t first = log.find("[Integer] = ", pkg);
  ASSERT_NE(first, std::string::npos) << log;
  EXPECT_EQ(log.substr(first, 28), fmt::format("[Integer] = {:016X}", kAcpiS5SleepType)) << log;
}

TEST(AcpiConfigLimits, CpuCount) {
  EXPECT_NO_THROW(build_acpi_tables(kAcpiTablesAddr, make_config(254, 0)));
  EXPECT_THROW(build_acpi_tables(kAcpiTablesAddr, make_config(255, 0)), Error);
  EXPECT_THROW(build_acpi_tables(kAcpiTablesAddr, make_config(0, 0)), Error);
  AcpiImage image = build_acpi_tables(kAcpiTablesAddr, make_config(254, 0));
  ImageReader r(image);
  EXPECT_EQ(r.sum(image.madt, r.u32(image.madt + 4)), 0);
  EXPECT_EQ(r.u8(image.madt + 44 + 8 * 253 + 3), 253);  // last APIC id
  EXPECT_EQ(r.u8(image.madt + 44 + 8 * 254 + 2), 254);  // I/O APIC id
}

TEST(AcpiConfigLimits, VirtioMmioDescriptions) {
  AcpiConfig bad_irq = make_config(1, 1);
  bad_irq.virtio_mmio[0].irq = kIoapicPins;
  EXPECT_THROW(build_acpi_tables(kAcpiTablesAddr, bad_irq), Error);
  AcpiConfig high = make_config(1, 1);
  high.virtio_mmio[0].base = 0x100000000ull;
  EXPECT_THROW(build_acpi_tables(kAcpiTablesAddr, high), Error);
  AcpiConfig straddle = make_config(1, 1);
  straddle.virtio_mmio[0].base = 0xfffff000;
  straddle.virtio_mmio[0].size = 0x2000;
  EXPECT_THROW(build_acpi_tables(kAcpiTablesAddr, straddle), Error);
  AcpiConfig empty = make_config(1, 1);
  empty.virtio_mmio[0].size = 0;
  EXPECT_THROW(build_acpi_tables(kAcpiTablesAddr, empty), Error);
}

TEST(AcpiWrite, RsdpIsInGuestMemoryWhereAScanFindsIt) {
  GuestMemory mem(16 * MiB);
  AcpiConfig cfg = make_config(2, 2);
  uint64_t rsdp = write_acpi_tables(mem, cfg);
  AcpiImage image = build_acpi_tables(kAcpiTablesAddr, cfg);
  EXPECT_EQ(rsdp, image.rsdp);

  // What a guest without a boot-provided pointer does (ACPI §5.2.5.1): scan
  // 0xE0000-0xFFFFF on 16-byte boundaries for the signature with a valid checksum.
  uint64_t found = 0;
  for (uint64_t a = 0xe0000; a < 0x100000 && !found; a += 16) {
    uint8_t b[20];
    mem.read(a, b, 20);
    uint8_t s = 0;
    for (uint8_t x : b) s = static_cast<uint8_t>(s + x);
    if (std::memcmp(b, "RSD PTR ", 8) == 0 && s == 0) found = a;
  }
  EXPECT_EQ(found, rsdp);

  // The tables in guest memory are the image, byte for byte.
  std::vector<uint8_t> in_memory(image.bytes.size());
  mem.read(kAcpiTablesAddr, in_memory.data(), in_memory.size());
  EXPECT_EQ(in_memory, image.bytes);
  uint64_t xsdt = mem.read_obj<uint64_t>(rsdp + 24);
  char sig[4];
  mem.read(xsdt, sig, 4);
  EXPECT_EQ(std::string(sig, 4), "XSDT");
}

TEST(AcpiWrite, TooManyDevicesDoNotFit) {
  GuestMemory mem(16 * MiB);
  AcpiConfig cfg = make_config(1, 0);
  for (unsigned i = 0; i < 3000; ++i) cfg.virtio_mmio.push_back({kVirtioMmioBase + i * 0x1000ull, 0x1000, 5});
  EXPECT_GT(build_acpi_tables(kAcpiTablesAddr, cfg).bytes.size(), kAcpiTablesEnd - kAcpiTablesAddr);
  EXPECT_THROW(write_acpi_tables(mem, cfg), Error);
  // Nothing was written.
  EXPECT_EQ(mem.read_obj<uint64_t>(kAcpiTablesAddr), 0u);
}

}  // namespace
