#include "arch/x86/acpi.h"

#include <fmt/format.h>

#include <cassert>
#include <cstring>
#include <string_view>

#include "arch/x86/aml.h"
#include "arch/x86/layout.h"
#include "base/error.h"

namespace vireo::x86 {
namespace {

constexpr char kOemId[] = "VIREO ";         // 6 bytes
constexpr char kOemTableId[] = "VIREOVM ";  // 8 bytes
constexpr uint32_t kOemRevision = 1;
constexpr char kCreatorId[] = "VIRO";       // 4 bytes
constexpr uint32_t kCreatorRevision = 1;

constexpr unsigned kMaxCpus = 254;          // xAPIC ids 0..253, the I/O APIC takes the next
constexpr unsigned kMaxVirtioMmio = 0x1000; // device names V000..VFFF

constexpr size_t kSdtHeaderSize = 36;
constexpr size_t kRsdpSize = 36;
constexpr size_t kFadtSize = 276;
constexpr uint64_t kTableAlign = 16;

uint8_t checksum_of(const uint8_t* data, size_t len) {
  uint8_t sum = 0;
  for (size_t i = 0; i < len; ++i) sum = static_cast<uint8_t>(sum + data[i]);
  return static_cast<uint8_t>(-sum);
}

// A table under construction: little-endian appends, patches at fixed offsets.
class TableBytes {
 public:
  void u8(uint8_t v) { bytes_.push_back(v); }
  void u16(uint16_t v) { put(v, 2); }
  void u32(uint32_t v) { put(v, 4); }
  void u64(uint64_t v) { put(v, 8); }
  void chars(std::string_view s) { bytes_.insert(bytes_.end(), s.begin(), s.end()); }
  void append(const std::vector<uint8_t>& b) { bytes_.insert(bytes_.end(), b.begin(), b.end()); }
  void zeros(size_t n) { bytes_.insert(bytes_.end(), n, 0); }
  void patch_u32(size_t offset, uint32_t v) {
    for (int i = 0; i < 4; ++i) bytes_.at(offset + i) = static_cast<uint8_t>(v >> (8 * i));
  }
  size_t size() const { return bytes_.size(); }
  std::vector<uint8_t>& bytes() { return bytes_; }

  // Generic Address Structure (ACPI 6.5 §5.2.3.2): space id, bit width, bit offset,
  // access size (1 = byte), 64-bit address.
  void gas(uint8_t space, uint8_t bit_width, uint8_t access_size, uint64_t address) {
    u8(space);
    u8(bit_width);
    u8(0);
    u8(access_size);
    u64(address);
  }

 private:
  void put(uint64_t v, int n) {
    for (int i = 0; i < n; ++i) bytes_.push_back(static_cast<uint8_t>(v >> (8 * i)));
  }
  std::vector<uint8_t> bytes_;
};

constexpr uint8_t kGasSystemIo = 1;
constexpr uint8_t kGasAccessByte = 1;

// System Description Table Header (§5.2.6); length and checksum are filled by finish_sdt.
TableBytes start_sdt(std::string_view signature, uint8_t revision) {
  assert(signature.size() == 4);
  TableBytes t;
  t.chars(signature);
  t.u32(0);  // Length
  t.u8(revision);
  t.u8(0);   // Checksum
  t.chars(std::string_view(kOemId, 6));
  t.chars(std::string_view(kOemTableId, 8));
  t.u32(kOemRevision);
  t.chars(std::string_view(kCreatorId, 4));
  t.u32(kCreatorRevision);
  assert(t.size() == kSdtHeaderSize);
  return t;
}

std::vector<uint8_t> finish_sdt(TableBytes& t) {
  std::vector<uint8_t>& b = t.bytes();
  t.patch_u32(4, static_cast<uint32_t>(b.size()));
  b[9] = 0;
  b[9] = checksum_of(b.data(), b.size());
  return std::move(b);
}

// RSDP (§5.2.5.3), revision 2: the 20-byte ACPI 1.0 part has its own checksum, the
// extended checksum covers all 36 bytes. RsdtAddress is 0: vireo provides only an XSDT.
std::vector<uint8_t> build_rsdp(uint64_t xsdt) {
  TableBytes t;
  t.chars("RSD PTR ");
  t.u8(0);  // Checksum (first 20 bytes)
  t.chars(std::string_view(kOemId, 6));
  t.u8(2);  // Revision
  t.u32(0); // RsdtAddress
  t.u32(kRsdpSize);
  t.u64(xsdt);
  t.u8(0);  // Extended Checksum
  t.zeros(3);
  std::vector<uint8_t> b = std::move(t.bytes());
  assert(b.size() == kRsdpSize);
  b[8] = checksum_of(b.data(), 20);
  b[32] = checksum_of(b.data(), kRsdpSize);
  return b;
}

// XSDT (§5.2.8): 64-bit addresses of every table except the DSDT (reached via the FADT).
std::vector<uint8_t> build_xsdt(const std::vector<uint64_t>& entries) {
  TableBytes t = start_sdt("XSDT", 1);
  for (uint64_t addr : entries) t.u64(addr);
  return finish_sdt(t);
}

size_t xsdt_size(size_t entries) { return kSdtHeaderSize + 8 * entries; }

// FADT flag bits (§5.2.9, Table "Fixed ACPI Description Table Fixed Feature Flags").
constexpr uint32_t kFadtWbinvd = 1u << 0;
constexpr uint32_t kFadtPwrButton = 1u << 4;  // no fixed-feature power button
constexpr uint32_t kFadtSlpButton = 1u << 5;  // no fixed-feature sleep button
constexpr uint32_t kFadtResetRegSup = 1u << 10;
constexpr uint32_t kFadtHwReducedAcpi = 1u << 20;
// IA-PC boot architecture flags (§5.2.9.3).
constexpr uint16_t kBootArchVgaNotPresent = 1u << 2;

// FADT (§5.2.9), revision 6.5 (major 6, minor 5), for a hardware-reduced platform
// (§4.1): no PM1/PM2/PM timer/GPE blocks, no SMI command port, no FACS. Sleep goes
// through SLEEP_CONTROL_REG/SLEEP_STATUS_REG (§4.8.3.7), reset through RESET_REG (§4.8.3.6).
// A Linux guest that sees HW_REDUCED_ACPI uses no 8259 PIC and sets up no PIT/HPET
// timer: its interrupts go through the I/O APIC, its timer is the local APIC's, and it
// needs the TSC frequency (CPUID 0x15/0x16 or tsc_early_khz) to calibrate.
std::vector<uint8_t> build_fadt(uint64_t dsdt) {
  TableBytes t = start_sdt("FACP", 6);
  t.u32(0);                             // 36 FIRMWARE_CTRL: no FACS (allowed when HW-reduced)
  t.u32(static_cast<uint32_t>(dsdt));   // 40 DSDT (the tables live below 1 MiB)
  t.u8(0);                              // 44 reserved
  t.u8(0);                              // 45 Preferred_PM_Profile: unspecified
  // 46 SCI_INT: hardware-reduced ACPI has no SCI (events would be GPIO-signaled).
  t.u16(0);
  t.u32(0);                             // 48 SMI_CMD: no SMM, ACPI is always enabled
  t.u8(0);                              // 52 ACPI_ENABLE
  t.u8(0);                              // 53 ACPI_DISABLE
  t.u8(0);                              // 54 S4BIOS_REQ
  t.u8(0);                              // 55 PSTATE_CNT
  t.zeros(8 * 4);                       // 56..87 PM1a/b_EVT, PM1a/b_CNT, PM2_CNT, PM_TMR, GPE0/1
  t.zeros(8);                           // 88..95 the block lengths, GPE1_BASE, CST_CNT
  t.u16(0);                             // 96 P_LVL2_LAT
  t.u16(0);                             // 98 P_LVL3_LAT
  t.u16(0);                             // 100 FLUSH_SIZE
  t.u16(0);                             // 102 FLUSH_STRIDE
  t.u8(0);                              // 104 DUTY_OFFSET
  t.u8(0);                              // 105 DUTY_WIDTH
  t.u8(0);                              // 106 DAY_ALRM
  t.u8(0);                              // 107 MON_ALRM
  t.u8(0);                              // 108 CENTURY
  // 109 IAPC_BOOT_ARCH (§5.2.9.3). LEGACY_DEVICES clear: the only legacy device the guest
  // must enumerate, COM1, is in the DSDT. 8042 clear: the i8042 model only serves reset
  // and reports no keyboard; with the bit clear and no PNP0303 device in the DSDT, Linux
  // skips probing it (saving port exits), and its reboot fallback still reaches port
  // 0x64. VGA Not Present set: there is no VGA. CMOS RTC Not Present clear: the machine's
  // legacy set includes a CMOS/RTC at 0x70/0x71 (Linux reads the boot wall-clock time
  // there whatever this bit says; the bit only stops it registering the RTC device).
  t.u16(kBootArchVgaNotPresent);
  t.u8(0);                              // 111 reserved
  // 112 Flags. WBINVD: the instruction works (both accelerators). PWR_BUTTON/SLP_BUTTON:
  // no fixed-feature buttons, consistent with HW-reduced ACPI having no fixed hardware.
  t.u32(kFadtWbinvd | kFadtPwrButton | kFadtSlpButton | kFadtResetRegSup | kFadtHwReducedAcpi);
  t.gas(kGasSystemIo, 8, kGasAccessByte, kAcpiResetPort);  // 116 RESET_REG
  t.u8(kAcpiResetValue);                // 128 RESET_VALUE
  t.u16(0);                             // 129 ARM_BOOT_ARCH
  t.u8(5);                              // 131 FADT Minor Version
  t.u64(0);                             // 132 X_FIRMWARE_CTRL
  t.u64(dsdt);                          // 140 X_DSDT
  t.zeros(8 * 12);                      // 148..243 X_PM1a_EVT .. X_GPE1_BLK: none
  t.gas(kGasSystemIo, 8, kGasAccessByte, kAcpiSleepControlPort);  // 244 SLEEP_CONTROL_REG
  t.gas(kGasSystemIo, 8, kGasAccessByte, kAcpiSleepStatusPort);   // 256 SLEEP_STATUS_REG
  t.chars("VIREOVMM");                  // 268 Hypervisor Vendor Identity
  assert(t.size() == kFadtSize);
  return finish_sdt(t);
}

// MADT structure types and MPS INTI flags (§5.2.12).
constexpr uint8_t kMadtLocalApic = 0;
constexpr uint8_t kMadtIoApic = 1;
constexpr uint8_t kMadtInterruptSourceOverride = 2;
constexpr uint8_t kMadtLocalApicNmi = 4;
constexpr uint32_t kLocalApicEnabled = 1;
constexpr uint16_t kIntiActiveHigh = 0b01;        // polarity, bits 1:0
constexpr uint16_t kIntiEdge = 0b01 << 2;         // trigger mode, bits 3:2
constexpr uint8_t kAllProcessors = 0xff;

// MADT (§5.2.12). Flags 0: no PCAT_COMPAT, the guest does not need to mask dual 8259s.
std::vector<uint8_t> build_madt(unsigned num_cpus) {
  TableBytes t = start_sdt("APIC", 5);
  t.u32(static_cast<uint32_t>(kLapicAddr));
  t.u32(0);
  // Processor Local APIC (§5.2.12.2): ACPI processor UID = APIC id = vCPU index.
  for (unsigned cpu = 0; cpu < num_cpus; ++cpu) {
    t.u8(kMadtLocalApic);
    t.u8(8);
    t.u8(static_cast<uint8_t>(cpu));
    t.u8(static_cast<uint8_t>(cpu));
    t.u32(kLocalApicEnabled);
  }
  // I/O APIC (§5.2.12.3): the id after the last local APIC id, GSIs from 0.
  t.u8(kMadtIoApic);
  t.u8(12);
  t.u8(static_cast<uint8_t>(num_cpus));
  t.u8(0);
  t.u32(static_cast<uint32_t>(kIoapicAddr));
  t.u32(0);
  // Interrupt Source Override (§5.2.12.5): the PIT's ISA IRQ 0 is wired to I/O APIC pin 2.
  t.u8(kMadtInterruptSourceOverride);
  t.u8(10);
  t.u8(0);  // bus: ISA
  t.u8(0);  // source: IRQ 0
  t.u32(2); // GSI 2
  t.u16(kIntiActiveHigh | kIntiEdge);
  // Local APIC NMI (§5.2.12.7): NMI on LINT1 of every processor.
  t.u8(kMadtLocalApicNmi);
  t.u8(6);
  t.u8(kAllProcessors);
  t.u16(kIntiActiveHigh | kIntiEdge);
  t.u8(1);  // LINT1
  return finish_sdt(t);
}

// DSDT (§5.2.11.1): the devices the guest cannot discover by itself, and \_S5_.
std::vector<uint8_t> build_dsdt(const AcpiConfig& config) {
  using namespace aml;
  TermList sb;
  // COM1: a legacy ISA UART. Its interrupt is an ISA IRQ, so it is described with the
  // IRQ descriptor (edge, active high, exclusive), which MADT overrides apply to.
  sb.push_back(device("COM1", {
      name("_HID", eisa_id("PNP0501")),
      name("_UID", integer(0)),
      name("_CRS", resource_template({io16(kCom1Port, kCom1Port, 1, 8), irq_no_flags({kCom1Irq})})),
  }));
  // pvpanic: one I/O port the guest kernel writes to when it panics (_HID QEMU0001
  // is the identifier guest drivers match).
  if (config.pvpanic_port != 0) {
    sb.push_back(device("PEVT", {
        name("_HID", string("QEMU0001")),
        name("_STA", integer(0xf)),
        name("_CRS", resource_template({io16(config.pvpanic_port, config.pvpanic_port, 1, 1)})),
    }));
  }
  // virtio-mmio devices (virtio 1.2 §4.2): a register window and a level-triggered,
  // active-high interrupt that stays asserted until the driver acknowledges it.
  for (size_t i = 0; i < config.virtio_mmio.size(); ++i) {
    const VirtioMmioDescription& d = config.virtio_mmio[i];
    sb.push_back(device(fmt::format("V{:03X}", i), {
        name("_HID", string("LNRO0005")),
        name("_UID", integer(i)),
        name("_CRS", resource_template({
            memory32_fixed(Access::ReadWrite, static_cast<uint32_t>(d.base), static_cast<uint32_t>(d.size)),
            interrupt({.usage = Usage::Consumer, .trigger = Trigger::Level,
                       .polarity = Polarity::ActiveHigh, .sharing = Sharing::Exclusive},
                      {d.irq}),
        })),
    }));
  }
  // \_S5_ (§7.4.2): Package {SLP_TYPa, SLP_TYPb}. On a hardware-reduced platform the
  // OS writes SLP_TYPa into SLEEP_CONTROL_REG.SLP_TYP (§4.8.3.7); SLP_TYPb is unused.
  TermList root{scope("\\_SB_", sb), name("_S5_", package({integer(kAcpiS5SleepType), integer(0)}))};

  // Revision 2: integers in this definition block are 64 bits wide (§19.6.28).
  TableBytes t = start_sdt("DSDT", 2);
  t.append(encode(root));
  return finish_sdt(t);
}

void validate(const AcpiConfig& config) {
  if (config.num_cpus == 0 || config.num_cpus > kMaxCpus)
    fail("{} vCPUs requested: the ACPI tables describe 1 to {} (xAPIC ids); use fewer vCPUs",
         config.num_cpus, kMaxCpus);
  if (config.virtio_mmio.size() > kMaxVirtioMmio)
    fail("{} virtio-mmio devices: at most {} can be described in ACPI", config.virtio_mmio.size(),
         kMaxVirtioMmio);
  for (const VirtioMmioDescription& d : config.virtio_mmio) {
    if (d.size == 0 || d.size > 0xffffffffull || d.base > 0xffffffffull - (d.size - 1))
      fail("virtio-mmio window {:#x}+{:#x} must be non-empty and lie below 4 GiB", d.base, d.size);
    if (d.irq >= kIoapicPins)
      fail("virtio-mmio device at {:#x}: IRQ {} is not an I/O APIC pin (0..{})", d.base, d.irq,
           kIoapicPins - 1);
  }
}

uint64_t align_up(uint64_t v, uint64_t a) { return (v + a - 1) / a * a; }

}  // namespace

AcpiImage build_acpi_tables(uint64_t base, const AcpiConfig& config) {
  validate(config);
  assert(base % kTableAlign == 0);
  std::vector<uint8_t> madt = build_madt(config.num_cpus);
  std::vector<uint8_t> dsdt = build_dsdt(config);

  // Layout: RSDP first (16-byte aligned, where a scan of 0xE0000-0xFFFFF finds it,
  // §5.2.5.1), then XSDT, FADT, MADT, DSDT, each 16-byte aligned.
  AcpiImage image;
  image.base = base;
  image.rsdp = base;
  const std::vector<uint64_t*> xsdt_entries = {&image.fadt, &image.madt};
  image.xsdt = align_up(image.rsdp + kRsdpSize, kTableAlign);
  image.fadt = align_up(image.xsdt + xsdt_size(xsdt_entries.size()), kTableAlign);
  image.madt = align_up(image.fadt + kFadtSize, kTableAlign);
  image.dsdt = align_up(image.madt + madt.size(), kTableAlign);
  uint64_t end = image.dsdt + dsdt.size();

  std::vector<uint64_t> entries;
  for (uint64_t* addr : xsdt_entries) entries.push_back(*addr);
  std::vector<uint8_t> xsdt = build_xsdt(entries);
  std::vector<uint8_t> fadt = build_fadt(image.dsdt);
  std::vector<uint8_t> rsdp = build_rsdp(image.xsdt);

  image.bytes.assign(end - base, 0);
  auto place = [&](uint64_t addr, const std::vector<uint8_t>& table) {
    std::memcpy(image.bytes.data() + (addr - base), table.data(), table.size());
  };
  place(image.rsdp, rsdp);
  place(image.xsdt, xsdt);
  place(image.fadt, fadt);
  place(image.madt, madt);
  place(image.dsdt, dsdt);
  return image;
}

uint64_t write_acpi_tables(GuestMemory& mem, const AcpiConfig& config) {
  AcpiImage image = build_acpi_tables(kAcpiTablesAddr, config);
  if (image.bytes.size() > kAcpiTablesEnd - kAcpiTablesAddr)
    fail("ACPI tables need {} bytes but only {} fit at {:#x}-{:#x}; describe fewer devices",
         image.bytes.size(), kAcpiTablesEnd - kAcpiTablesAddr, kAcpiTablesAddr, kAcpiTablesEnd);
  mem.write(kAcpiTablesAddr, image.bytes.data(), image.bytes.size());
  return image.rsdp;
}

}  // namespace vireo::x86
