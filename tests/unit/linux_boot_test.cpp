// Tests of the firmware-less Linux boot path: bzImage (64-bit boot protocol), PVH ELF,
// the e820 map, the boot GDT and page tables, and hostile kernel images. Synthetic
// kernels are built byte by byte here; every zero-page field is checked at its
// documented offset (Documentation/arch/x86/boot.rst, zero-page.rst), not through
// vireo's own structs.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "arch/x86/layout.h"
#include "arch/x86/linux_boot.h"
#include "base/error.h"
#include "base/file.h"
#include "base/size.h"
#include "memory/guest_memory.h"

using namespace vireo;
using namespace vireo::x86;

namespace {

template <typename T>
void put(std::vector<uint8_t>& b, size_t off, T v) {
  if (b.size() < off + sizeof(T)) b.resize(off + sizeof(T));
  std::memcpy(b.data() + off, &v, sizeof(T));
}

template <typename T>
T rd(const GuestMemory& mem, uint64_t gpa) {
  return mem.read_obj<T>(gpa);
}

template <typename T>
T rd_file(const std::vector<uint8_t>& f, size_t off) {
  T v;
  std::memcpy(&v, f.data() + off, sizeof(T));
  return v;
}

uint8_t zp8(const GuestMemory& mem, uint64_t off) { return rd<uint8_t>(mem, kBootParamsAddr + off); }
uint16_t zp16(const GuestMemory& mem, uint64_t off) { return rd<uint16_t>(mem, kBootParamsAddr + off); }
uint32_t zp32(const GuestMemory& mem, uint64_t off) { return rd<uint32_t>(mem, kBootParamsAddr + off); }
uint64_t zp64(const GuestMemory& mem, uint64_t off) { return rd<uint64_t>(mem, kBootParamsAddr + off); }

std::string read_cstring(const GuestMemory& mem, uint64_t gpa, size_t max) {
  std::string s;
  for (size_t i = 0; i < max; ++i) {
    char c = static_cast<char>(rd<uint8_t>(mem, gpa + i));
    if (c == '\0') return s;
    s.push_back(c);
  }
  return s + "<unterminated>";
}

std::vector<uint8_t> pattern(size_t size, uint8_t seed) {
  std::vector<uint8_t> v(size);
  for (size_t i = 0; i < size; ++i) v[i] = static_cast<uint8_t>(i * 31 + seed + (i >> 8));
  return v;
}

bool guest_bytes_equal(const GuestMemory& mem, uint64_t gpa, const uint8_t* data, size_t size) {
  const uint8_t* p = mem.host_ptr(gpa, size);
  return p != nullptr && std::memcmp(p, data, size) == 0;
}

// ---- synthetic bzImage ------------------------------------------------------------

struct BzImageOptions {
  uint8_t setup_sects = 4;
  uint16_t version = 0x020F;
  uint16_t xloadflags = 0x1 | 0x2;  // XLF_KERNEL_64 | XLF_CAN_BE_LOADED_ABOVE_4G
  uint32_t cmdline_size = 0x7FF;
  uint32_t initrd_addr_max = 0x7FFFFFFF;
  uint32_t kernel_alignment = 0x200000;
  uint8_t relocatable = 1;
  uint64_t pref_address = 0x1000000;
  uint32_t init_size = 0x800000;  // 8 MiB
  size_t payload_size = 0x3000;
};

constexpr uint8_t kHeaderJump = 0x6A;  // header ends at 0x202 + 0x6A = 0x26C

std::vector<uint8_t> make_bzimage(const BzImageOptions& o = {}) {
  const size_t setup_sects = o.setup_sects == 0 ? 4 : o.setup_sects;
  const size_t pm_offset = (setup_sects + 1) * 512;
  std::vector<uint8_t> b(pm_offset, 0);
  put<uint8_t>(b, 0x1F1, o.setup_sects);
  put<uint32_t>(b, 0x1F4, 0x1234);    // syssize: copied, otherwise unused
  put<uint16_t>(b, 0x1FA, 0x0000);    // vid_mode as the file has it; the loader sets 0xFFFF
  put<uint16_t>(b, 0x1FC, 0x0801);    // root_dev: copied
  put<uint16_t>(b, 0x1FE, 0xAA55);
  put<uint8_t>(b, 0x200, 0xEB);
  put<uint8_t>(b, 0x201, kHeaderJump);
  std::memcpy(b.data() + 0x202, "HdrS", 4);
  put<uint16_t>(b, 0x206, o.version);
  put<uint16_t>(b, 0x20E, 0x0321);    // kernel_version: copied
  put<uint8_t>(b, 0x211, 0x00);       // loadflags
  put<uint32_t>(b, 0x214, 0x100000);  // code32_start
  put<uint32_t>(b, 0x22C, o.initrd_addr_max);
  put<uint32_t>(b, 0x230, o.kernel_alignment);
  put<uint8_t>(b, 0x234, o.relocatable);
  put<uint16_t>(b, 0x236, o.xloadflags);
  put<uint32_t>(b, 0x238, o.cmdline_size);
  put<uint64_t>(b, 0x258, o.pref_address);
  put<uint32_t>(b, 0x260, o.init_size);
  put<uint32_t>(b, 0x264, 0xABCD);    // handover_offset: copied
  put<uint32_t>(b, 0x268, 0x5678);    // kernel_info_offset: copied (last field before 0x26C)
  // Bytes after the header's end must not reach the zero page.
  for (size_t off = 0x26C; off < 0x290; ++off) b[off] = 0xEE;
  std::vector<uint8_t> payload = pattern(o.payload_size, 0x5A);
  b.insert(b.end(), payload.begin(), payload.end());
  return b;
}

std::vector<uint8_t> bzimage_payload(const std::vector<uint8_t>& image) {
  const size_t setup_sects = image[0x1F1] == 0 ? 4 : image[0x1F1];
  return {image.begin() + static_cast<long>((setup_sects + 1) * 512), image.end()};
}

LinuxBootResult boot(GuestMemory& mem, const std::vector<uint8_t>& kernel, const std::string& cmdline = "",
                     const std::vector<uint8_t>* initrd = nullptr, uint64_t rsdp = 0) {
  LinuxBootSpec spec;
  spec.kernel = &kernel;
  spec.initrd = initrd;
  spec.cmdline = cmdline;
  spec.rsdp_addr = rsdp;
  return load_linux(mem, spec);
}

std::string error_of(GuestMemory& mem, const std::vector<uint8_t>& kernel, const std::string& cmdline = "",
                     const std::vector<uint8_t>* initrd = nullptr) {
  try {
    boot(mem, kernel, cmdline, initrd);
  } catch (const Error& e) {
    return e.what();
  }
  return "<no error>";
}

// ---- synthetic ELF with a PVH note --------------------------------------------------

struct ElfOptions {
  bool is64 = true;
  bool pvh_note = true;
  bool note_in_section_only = false;  // no PT_NOTE; the note is found through SHT_NOTE
  uint32_t entry_desc_size = 8;       // 4 or 8
  uint64_t entry = 0x1000100;
  uint64_t text_paddr = 0x1000000;
  uint64_t data_paddr = 0x1200000;
  uint64_t data_memsz = 0x10000;
};

constexpr uint64_t kTextOffset = 0x1000, kTextSize = 0x2000;
constexpr uint64_t kDataOffset = 0x3000, kDataFileSize = 0x800;
constexpr uint64_t kNoteOffset = 0x400;

std::vector<uint8_t> make_notes(const ElfOptions& o) {
  std::vector<uint8_t> n;
  auto note = [&](const char* name, uint32_t type, const std::vector<uint8_t>& desc) {
    const uint32_t namesz = static_cast<uint32_t>(std::strlen(name) + 1);
    size_t at = n.size();
    put<uint32_t>(n, at, namesz);
    put<uint32_t>(n, at + 4, static_cast<uint32_t>(desc.size()));
    put<uint32_t>(n, at + 8, type);
    n.resize(at + 12 + ((namesz + 3) & ~3u), 0);
    std::memcpy(n.data() + at + 12, name, namesz);
    size_t d = n.size();
    n.resize(d + ((desc.size() + 3) & ~size_t{3}), 0);
    if (!desc.empty()) std::memcpy(n.data() + d, desc.data(), desc.size());
  };
  note("GNU", 3, pattern(20, 1));                    // a build-id note first
  note("Xen", 6, {'l', 'i', 'n', 'u', 'x', 0});      // another Xen note, not the entry
  note("Xan", 18, {0x11, 0x22, 0x33, 0x44});         // right type, wrong owner
  if (o.pvh_note) {
    std::vector<uint8_t> desc(o.entry_desc_size, 0);
    std::memcpy(desc.data(), &o.entry, std::min<size_t>(desc.size(), 8));
    note("Xen", 18, desc);
  }
  return n;
}

std::vector<uint8_t> make_elf(const ElfOptions& o = {}) {
  std::vector<uint8_t> f(kDataOffset + kDataFileSize, 0);
  std::vector<uint8_t> text = pattern(kTextSize, 0x11), data = pattern(kDataFileSize, 0x77);
  std::memcpy(f.data() + kTextOffset, text.data(), text.size());
  std::memcpy(f.data() + kDataOffset, data.data(), data.size());
  std::vector<uint8_t> notes = make_notes(o);
  std::memcpy(f.data() + kNoteOffset, notes.data(), notes.size());

  struct Load { uint32_t type; uint64_t offset, paddr, filesz, memsz, align; };
  std::vector<Load> ph = {{1, kTextOffset, o.text_paddr, kTextSize, kTextSize, 0x1000},
                          {1, kDataOffset, o.data_paddr, kDataFileSize, o.data_memsz, 0x1000}};
  if (!o.note_in_section_only) ph.push_back({4, kNoteOffset, 0, notes.size(), notes.size(), 4});

  f[0] = 0x7f; f[1] = 'E'; f[2] = 'L'; f[3] = 'F';
  f[4] = o.is64 ? 2 : 1;  // class
  f[5] = 1;               // little-endian
  f[6] = 1;               // EV_CURRENT
  put<uint16_t>(f, 16, 2);                 // ET_EXEC
  put<uint16_t>(f, 18, o.is64 ? 62 : 3);   // EM_X86_64 / EM_386
  put<uint32_t>(f, 20, 1);
  const uint64_t phoff = o.is64 ? 64 : 52;
  const uint64_t shoff = 0x200;
  if (o.is64) {
    put<uint64_t>(f, 24, 0xffffffff81000000ull);  // e_entry (virtual, unused by PVH)
    put<uint64_t>(f, 32, phoff);
    put<uint64_t>(f, 40, o.note_in_section_only ? shoff : 0);
    put<uint16_t>(f, 52, 64);
    put<uint16_t>(f, 54, 56);
    put<uint16_t>(f, 56, static_cast<uint16_t>(ph.size()));
    put<uint16_t>(f, 58, 64);
    put<uint16_t>(f, 60, o.note_in_section_only ? 2 : 0);
    for (size_t i = 0; i < ph.size(); ++i) {
      const size_t at = phoff + i * 56;
      put<uint32_t>(f, at, ph[i].type);
      put<uint32_t>(f, at + 4, 7);
      put<uint64_t>(f, at + 8, ph[i].offset);
      put<uint64_t>(f, at + 16, 0xffffffff80000000ull + ph[i].paddr);
      put<uint64_t>(f, at + 24, ph[i].paddr);
      put<uint64_t>(f, at + 32, ph[i].filesz);
      put<uint64_t>(f, at + 40, ph[i].memsz);
      put<uint64_t>(f, at + 48, ph[i].align);
    }
    if (o.note_in_section_only) {  // section 0 null, section 1 SHT_NOTE
      const size_t at = shoff + 64;
      put<uint32_t>(f, at + 4, 7);
      put<uint64_t>(f, at + 24, kNoteOffset);
      put<uint64_t>(f, at + 32, notes.size());
      put<uint64_t>(f, at + 48, 4);
    }
  } else {
    put<uint32_t>(f, 24, static_cast<uint32_t>(o.entry));
    put<uint32_t>(f, 28, static_cast<uint32_t>(phoff));
    put<uint32_t>(f, 32, o.note_in_section_only ? static_cast<uint32_t>(shoff) : 0);
    put<uint16_t>(f, 40, 52);
    put<uint16_t>(f, 42, 32);
    put<uint16_t>(f, 44, static_cast<uint16_t>(ph.size()));
    put<uint16_t>(f, 46, 40);
    put<uint16_t>(f, 48, o.note_in_section_only ? 2 : 0);
    for (size_t i = 0; i < ph.size(); ++i) {
      const size_t at = phoff + i * 32;
      put<uint32_t>(f, at, ph[i].type);
      put<uint32_t>(f, at + 4, static_cast<uint32_t>(ph[i].offset));
      put<uint32_t>(f, at + 8, static_cast<uint32_t>(0xC0000000 + ph[i].paddr));
      put<uint32_t>(f, at + 12, static_cast<uint32_t>(ph[i].paddr));
      put<uint32_t>(f, at + 16, static_cast<uint32_t>(ph[i].filesz));
      put<uint32_t>(f, at + 20, static_cast<uint32_t>(ph[i].memsz));
      put<uint32_t>(f, at + 24, 7);
      put<uint32_t>(f, at + 28, static_cast<uint32_t>(ph[i].align));
    }
    if (o.note_in_section_only) {
      const size_t at = shoff + 40;
      put<uint32_t>(f, at + 4, 7);
      put<uint32_t>(f, at + 16, kNoteOffset);
      put<uint32_t>(f, at + 20, static_cast<uint32_t>(notes.size()));
      put<uint32_t>(f, at + 32, 4);
    }
  }
  return f;
}

// Offsets of the program header fields of segment `i` in a 64-bit file from make_elf.
size_t ph64(size_t i, size_t field) { return 64 + i * 56 + field; }

// ---- the fixed entry environment ------------------------------------------------------

uint64_t tss_descriptor_low(uint64_t base) {
  // limit 0x67, type 0xB (busy TSS), S = 0, DPL 0, P = 1, G = 0
  return 0x67ull | ((base & 0xFFFFFF) << 16) | (0x8Bull << 40) | (((base >> 24) & 0xFF) << 56);
}

void expect_boot_gdt(const GuestMemory& mem) {
  EXPECT_EQ(rd<uint64_t>(mem, kGdtAddr + 0x00), 0u);
  EXPECT_EQ(rd<uint64_t>(mem, kGdtAddr + 0x08), 0x00CF9B000000FFFFull);
  EXPECT_EQ(rd<uint64_t>(mem, kGdtAddr + 0x10), 0x00AF9B000000FFFFull);
  EXPECT_EQ(rd<uint64_t>(mem, kGdtAddr + 0x18), 0x00CF93000000FFFFull);
  EXPECT_EQ(rd<uint64_t>(mem, kGdtAddr + 0x20), tss_descriptor_low(kBootTssAddr));
  EXPECT_EQ(rd<uint64_t>(mem, kGdtAddr + 0x28), kBootTssAddr >> 32);
  for (uint64_t i = 0; i < 104; ++i) ASSERT_EQ(rd<uint8_t>(mem, kBootTssAddr + i), 0) << "TSS byte " << i;
  // The GDT and TSS stay clear of each other and of the zero page.
  EXPECT_TRUE(kGdtAddr + 0x30 <= kBootTssAddr || kBootTssAddr + 104 <= kGdtAddr);
  EXPECT_LE(kBootTssAddr + 104, kBootParamsAddr);
}

void expect_flat_data(const Segment& s, const char* name) {
  SCOPED_TRACE(name);
  EXPECT_EQ(s.selector, 0x18);
  EXPECT_EQ(s.base, 0u);
  EXPECT_EQ(s.limit, 0xFFFFFFFFu);
  EXPECT_EQ(s.type, 0x3);
  EXPECT_TRUE(s.present);
  EXPECT_TRUE(s.s);
  EXPECT_TRUE(s.db);
  EXPECT_TRUE(s.g);
  EXPECT_FALSE(s.l);
  EXPECT_EQ(s.dpl, 0);
  EXPECT_FALSE(s.unusable);
}

void expect_common_entry(const X86CpuState& c) {
  expect_flat_data(c.ds, "ds");
  expect_flat_data(c.es, "es");
  expect_flat_data(c.fs, "fs");
  expect_flat_data(c.gs, "gs");
  expect_flat_data(c.ss, "ss");
  EXPECT_EQ(c.tr.selector, 0x20);
  EXPECT_EQ(c.tr.base, kBootTssAddr);
  EXPECT_EQ(c.tr.limit, 0x67u);
  EXPECT_EQ(c.tr.type, 0xB);
  EXPECT_FALSE(c.tr.s);
  EXPECT_TRUE(c.tr.present);
  EXPECT_FALSE(c.tr.unusable);
  EXPECT_TRUE(c.ldt.unusable);
  EXPECT_EQ(c.gdt.base, kGdtAddr);
  EXPECT_EQ(c.gdt.limit, 0x2F);
  EXPECT_EQ(c.idt.base, 0u);
  EXPECT_EQ(c.idt.limit, 0);
  EXPECT_EQ(c.rflags, 0x2u);
  EXPECT_EQ(c.cr2, 0u);
  EXPECT_EQ(c.cr8, 0u);
}

void expect_long_mode_entry(const X86CpuState& c) {
  expect_common_entry(c);
  EXPECT_EQ(c.cs.selector, 0x10);
  EXPECT_EQ(c.cs.base, 0u);
  EXPECT_EQ(c.cs.limit, 0xFFFFFFFFu);
  EXPECT_EQ(c.cs.type, 0xB);
  EXPECT_TRUE(c.cs.present);
  EXPECT_TRUE(c.cs.s);
  EXPECT_TRUE(c.cs.l);
  EXPECT_FALSE(c.cs.db);
  EXPECT_TRUE(c.cs.g);
  EXPECT_EQ(c.cr0, (1ull << 0) | (1ull << 4) | (1ull << 5) | (1ull << 31));  // PE ET NE PG, no WP
  EXPECT_EQ(c.cr3, kPml4Addr);
  EXPECT_EQ(c.cr4, 1ull << 5);                        // PAE
  EXPECT_EQ(c.efer, (1ull << 8) | (1ull << 10));      // LME LMA
}

void expect_identity_page_tables(const GuestMemory& mem) {
  EXPECT_EQ(rd<uint64_t>(mem, kPml4Addr), kPdptAddr | 0x3);
  for (unsigned i = 1; i < 512; ++i) ASSERT_EQ(rd<uint64_t>(mem, kPml4Addr + i * 8), 0u) << "PML4 " << i;
  for (unsigned i = 0; i < 4; ++i) EXPECT_EQ(rd<uint64_t>(mem, kPdptAddr + i * 8), (kPdAddr + i * 0x1000) | 0x3);
  for (unsigned i = 4; i < 512; ++i) ASSERT_EQ(rd<uint64_t>(mem, kPdptAddr + i * 8), 0u) << "PDPT " << i;
  for (uint64_t i = 0; i < 2048; ++i) {
    ASSERT_EQ(rd<uint64_t>(mem, kPdAddr + i * 8), (i * 2 * MiB) | 0x83) << "PD entry " << i;
  }
}

// ---- the e820 map ---------------------------------------------------------------------

TEST(E820, LowRamOnly) {
  GuestMemory mem(64 * MiB);
  std::vector<E820Entry> map = build_e820(mem);
  ASSERT_EQ(map.size(), 3u);
  EXPECT_EQ(map[0].addr, 0u);
  EXPECT_EQ(map[0].size, 0x9FC00u);
  EXPECT_EQ(map[0].type, 1u);
  EXPECT_EQ(map[1].addr, 0x9FC00u);
  EXPECT_EQ(map[1].size, 0x100000u - 0x9FC00u);
  EXPECT_EQ(map[1].type, 2u);
  EXPECT_EQ(map[2].addr, 0x100000u);
  EXPECT_EQ(map[2].size, 63 * MiB);
  EXPECT_EQ(map[2].type, 1u);
}

TEST(E820, HighRamAbove4G) {
  GuestMemory mem(4 * GiB + 512 * MiB);
  std::vector<E820Entry> map = build_e820(mem);
  ASSERT_EQ(map.size(), 4u);
  EXPECT_EQ(map[2].addr, 0x100000u);
  EXPECT_EQ(map[2].size, 3 * GiB - MiB);
  EXPECT_EQ(map[3].addr, 4 * GiB);
  EXPECT_EQ(map[3].size, 1 * GiB + 512 * MiB);
  EXPECT_EQ(map[3].type, 1u);
}

TEST(E820, OneMegabyteMachineHasNoRamAbove1M) {
  GuestMemory mem(1 * MiB);
  std::vector<E820Entry> map = build_e820(mem);
  ASSERT_EQ(map.size(), 2u);
  EXPECT_EQ(map[1].addr + map[1].size, 1 * MiB);
}

// ---- bzImage --------------------------------------------------------------------------

TEST(LinuxBootDetect, RecognisesFormats) {
  EXPECT_EQ(detect_kernel_format(make_bzimage()), KernelFormat::BzImage);
  EXPECT_EQ(detect_kernel_format(make_elf()), KernelFormat::PvhElf);
  EXPECT_EQ(detect_kernel_format(make_elf({.is64 = false, .entry_desc_size = 4})), KernelFormat::PvhElf);
  EXPECT_EQ(detect_kernel_format(make_elf({.note_in_section_only = true})), KernelFormat::PvhElf);
  EXPECT_EQ(detect_kernel_format(make_elf({.is64 = false, .note_in_section_only = true})), KernelFormat::PvhElf);
  EXPECT_EQ(detect_kernel_format(make_elf({.pvh_note = false})), KernelFormat::Unknown);
  EXPECT_EQ(detect_kernel_format({}), KernelFormat::Unknown);
  EXPECT_EQ(detect_kernel_format(std::vector<uint8_t>(4096, 0)), KernelFormat::Unknown);
  std::vector<uint8_t> no_hdrs = make_bzimage();
  no_hdrs[0x202] = 'X';
  EXPECT_EQ(detect_kernel_format(no_hdrs), KernelFormat::Unknown);
  std::vector<uint8_t> no_boot_flag = make_bzimage();
  no_boot_flag[0x1FE] = 0;
  EXPECT_EQ(detect_kernel_format(no_boot_flag), KernelFormat::Unknown);
}

TEST(LinuxBootBzImage, LoadsPayloadAndFillsZeroPage) {
  GuestMemory mem(64 * MiB);
  mem.fill(kBootParamsAddr, 0xCC, 0x1000);  // the loader must clear the whole page
  const std::vector<uint8_t> kernel = make_bzimage();
  const std::vector<uint8_t> initrd = pattern(100000, 0x33);
  const std::string cmdline = "console=ttyS0 root=/dev/vda quiet";
  LinuxBootResult r = boot(mem, kernel, cmdline, &initrd, 0xE0000);

  EXPECT_EQ(r.format, KernelFormat::BzImage);
  std::vector<uint8_t> payload = bzimage_payload(kernel);
  EXPECT_TRUE(guest_bytes_equal(mem, 0x100000, payload.data(), payload.size()));

  // Setup header copied from the file to the same offsets, up to 0x202 + jump byte.
  EXPECT_EQ(zp8(mem, 0x1F1), 4);
  EXPECT_EQ(zp32(mem, 0x1F4), 0x1234u);
  EXPECT_EQ(zp16(mem, 0x1FC), 0x0801);
  EXPECT_EQ(zp16(mem, 0x1FE), 0xAA55);
  EXPECT_EQ(zp8(mem, 0x201), kHeaderJump);
  EXPECT_EQ(zp32(mem, 0x202), 0x53726448u);  // "HdrS"
  EXPECT_EQ(zp16(mem, 0x206), 0x020F);
  EXPECT_EQ(zp16(mem, 0x20E), 0x0321);
  EXPECT_EQ(zp32(mem, 0x214), 0x100000u);
  EXPECT_EQ(zp32(mem, 0x22C), 0x7FFFFFFFu);
  EXPECT_EQ(zp32(mem, 0x230), 0x200000u);
  EXPECT_EQ(zp16(mem, 0x236), 0x3);
  EXPECT_EQ(zp32(mem, 0x238), 0x7FFu);
  EXPECT_EQ(zp64(mem, 0x258), 0x1000000u);
  EXPECT_EQ(zp32(mem, 0x260), 0x800000u);
  EXPECT_EQ(zp32(mem, 0x264), 0xABCDu);
  EXPECT_EQ(zp32(mem, 0x268), 0x5678u);
  for (uint64_t off = 0x26C; off < 0x290; ++off) ASSERT_EQ(zp8(mem, off), 0) << "beyond the header at " << off;
  for (uint64_t off = 0; off < 0x70; ++off) ASSERT_EQ(zp8(mem, off), 0) << "screen_info etc. at " << off;
  EXPECT_EQ(zp8(mem, 0x1EF), 0);  // sentinel

  // Fields the loader writes.
  EXPECT_EQ(zp16(mem, 0x1FA), 0xFFFF);      // vid_mode
  EXPECT_EQ(zp8(mem, 0x210), 0xFF);         // type_of_loader
  EXPECT_EQ(zp8(mem, 0x211), 0x01 | 0x80);  // loadflags: LOADED_HIGH | CAN_USE_HEAP
  EXPECT_EQ(zp16(mem, 0x224), 0xFE00);      // heap_end_ptr
  EXPECT_EQ(zp32(mem, 0x228), kCmdlineAddr);
  EXPECT_EQ(zp32(mem, 0x0C8), 0u);          // ext_cmd_line_ptr
  EXPECT_EQ(read_cstring(mem, kCmdlineAddr, kCmdlineMax), cmdline);
  EXPECT_EQ(zp64(mem, 0x070), 0xE0000u);    // acpi_rsdp_addr

  // The initrd: highest 4 KiB-aligned place below the end of RAM.
  EXPECT_EQ(r.initrd_size, initrd.size());
  EXPECT_EQ(r.initrd_addr % 4096, 0u);
  EXPECT_LE(r.initrd_addr + initrd.size(), 64 * MiB);
  EXPECT_GT(r.initrd_addr + initrd.size() + 4096, 64 * MiB);
  EXPECT_TRUE(guest_bytes_equal(mem, r.initrd_addr, initrd.data(), initrd.size()));
  EXPECT_EQ(zp32(mem, 0x218), r.initrd_addr);
  EXPECT_EQ(zp32(mem, 0x21C), initrd.size());
  EXPECT_EQ(zp32(mem, 0x0C0), 0u);
  EXPECT_EQ(zp32(mem, 0x0C4), 0u);

  // e820 in the zero page, as build_e820 says.
  std::vector<E820Entry> map = build_e820(mem);
  ASSERT_EQ(zp8(mem, 0x1E8), map.size());
  for (size_t i = 0; i < map.size(); ++i) {
    EXPECT_EQ(zp64(mem, 0x2D0 + i * 20), map[i].addr) << i;
    EXPECT_EQ(zp64(mem, 0x2D0 + i * 20 + 8), map[i].size) << i;
    EXPECT_EQ(zp32(mem, 0x2D0 + i * 20 + 16), map[i].type) << i;
  }
  EXPECT_EQ(zp64(mem, 0x2D0 + map.size() * 20), 0u);

  // Entry.
  EXPECT_EQ(r.kernel_entry, 0x100200u);
  EXPECT_EQ(r.boot_cpu.rip, 0x100200u);
  EXPECT_EQ(r.boot_cpu.gpr[RSI], kBootParamsAddr);
  EXPECT_EQ(r.boot_cpu.gpr[RSP], kBootStackTop);
  for (unsigned i = 0; i < 16; ++i) {
    if (i != RSI && i != RSP) {
      EXPECT_EQ(r.boot_cpu.gpr[i], 0u) << "gpr " << i;
    }
  }
  expect_long_mode_entry(r.boot_cpu);
  expect_boot_gdt(mem);
  expect_identity_page_tables(mem);
}

TEST(LinuxBootBzImage, WithoutInitrdOrRsdp) {
  GuestMemory mem(64 * MiB);
  LinuxBootResult r = boot(mem, make_bzimage({.setup_sects = 0}));  // 0 means 4
  EXPECT_EQ(r.initrd_addr, 0u);
  EXPECT_EQ(r.initrd_size, 0u);
  EXPECT_EQ(zp32(mem, 0x218), 0u);
  EXPECT_EQ(zp32(mem, 0x21C), 0u);
  EXPECT_EQ(zp64(mem, 0x070), 0u);
  EXPECT_EQ(read_cstring(mem, kCmdlineAddr, 16), "");
  std::vector<uint8_t> payload = bzimage_payload(make_bzimage({.setup_sects = 0}));
  EXPECT_TRUE(guest_bytes_equal(mem, 0x100000, payload.data(), payload.size()));
}

TEST(LinuxBootBzImage, PayloadOffsetFollowsSetupSects) {
  GuestMemory mem(64 * MiB);
  const std::vector<uint8_t> kernel = make_bzimage({.setup_sects = 9});
  boot(mem, kernel);
  ASSERT_EQ(kernel.size(), 10 * 512 + 0x3000u);
  EXPECT_TRUE(guest_bytes_equal(mem, 0x100000, kernel.data() + 10 * 512, 0x3000));
}

TEST(LinuxBootBzImage, InitrdHonoursInitrdAddrMax) {
  GuestMemory mem(64 * MiB);
  const std::vector<uint8_t> initrd = pattern(3 * MiB + 5, 0x44);
  LinuxBootResult r = boot(mem, make_bzimage({.initrd_addr_max = 48 * MiB - 1}), "", &initrd);
  EXPECT_EQ(r.initrd_addr % 4096, 0u);
  EXPECT_LE(r.initrd_addr + initrd.size(), 48 * MiB);
  EXPECT_GT(r.initrd_addr + initrd.size() + 4096, 48 * MiB);
  EXPECT_TRUE(guest_bytes_equal(mem, r.initrd_addr, initrd.data(), initrd.size()));
}

TEST(LinuxBootBzImage, InitrdStaysAboveTheKernelsRunRegion) {
  // The kernel runs at pref_address (16 MiB) and needs init_size (40 MiB) from there:
  // 56 MiB. An initrd of 7 MiB fits above that in 64 MiB; one of 9 MiB does not.
  GuestMemory mem(64 * MiB);
  const std::vector<uint8_t> small = pattern(7 * MiB, 1), large = pattern(9 * MiB, 2);
  LinuxBootResult r = boot(mem, make_bzimage({.init_size = 40 * MiB}), "", &small);
  EXPECT_GE(r.initrd_addr, 56 * MiB);
  std::string err = error_of(mem, make_bzimage({.init_size = 40 * MiB}), "", &large);
  EXPECT_NE(err.find("initrd"), std::string::npos) << err;
  EXPECT_NE(err.find("--memory"), std::string::npos) << err;
}

TEST(LinuxBootBzImage, ZeroPageOfAMachineWithHighRam) {
  GuestMemory mem(4 * GiB + 256 * MiB);
  const std::vector<uint8_t> initrd = pattern(8192, 9);
  LinuxBootResult r = boot(mem, make_bzimage(), "x", &initrd);
  // initrd_addr_max (2 GiB - 1) bounds the initrd, not the 3 GiB of low RAM.
  EXPECT_EQ(r.initrd_addr, 2 * GiB - 8192);
  ASSERT_EQ(zp8(mem, 0x1E8), 4);
  EXPECT_EQ(zp64(mem, 0x2D0 + 2 * 20), 0x100000u);
  EXPECT_EQ(zp64(mem, 0x2D0 + 2 * 20 + 8), 3 * GiB - MiB);
  EXPECT_EQ(zp64(mem, 0x2D0 + 3 * 20), 4 * GiB);
  EXPECT_EQ(zp64(mem, 0x2D0 + 3 * 20 + 8), 1 * GiB + 256 * MiB);
  EXPECT_EQ(zp32(mem, 0x2D0 + 3 * 20 + 16), 1u);
}

TEST(LinuxBootBzImage, CommandLineLimitComesFromTheHeader) {
  GuestMemory mem(64 * MiB);
  const std::vector<uint8_t> kernel = make_bzimage({.cmdline_size = 16});
  EXPECT_NO_THROW(boot(mem, kernel, std::string(16, 'a')));
  EXPECT_EQ(read_cstring(mem, kCmdlineAddr, 64), std::string(16, 'a'));
  std::string err = error_of(mem, kernel, std::string(17, 'a'));
  EXPECT_NE(err.find("command line"), std::string::npos) << err;
  // A header allowing more than vireo's buffer is bounded by the buffer.
  const std::vector<uint8_t> generous = make_bzimage({.cmdline_size = 0x100000});
  EXPECT_NO_THROW(boot(mem, generous, std::string(kCmdlineMax - 1, 'b')));
  EXPECT_THROW(boot(mem, generous, std::string(kCmdlineMax, 'b')), Error);
}

TEST(LinuxBootBzImage, RejectsKernelsWithout64BitEntry) {
  GuestMemory mem(64 * MiB);
  std::string err = error_of(mem, make_bzimage({.version = 0x020B}));
  EXPECT_NE(err.find("64-bit boot protocol"), std::string::npos) << err;
  EXPECT_NE(err.find("2.11"), std::string::npos) << err;
  err = error_of(mem, make_bzimage({.xloadflags = 0x2}));
  EXPECT_NE(err.find("64-bit boot protocol"), std::string::npos) << err;
  EXPECT_NO_THROW(boot(mem, make_bzimage({.version = 0x020C, .xloadflags = 0x1})));
}

TEST(LinuxBootBzImage, RejectsTruncatedFiles) {
  GuestMemory mem(64 * MiB);
  std::vector<uint8_t> kernel = make_bzimage();
  EXPECT_THROW(boot(mem, std::vector<uint8_t>(kernel.begin(), kernel.begin() + 0x206)), Error);  // header cut
  EXPECT_THROW(boot(mem, std::vector<uint8_t>(kernel.begin(), kernel.begin() + 0x240)), Error);  // mid-header
  EXPECT_THROW(boot(mem, std::vector<uint8_t>(kernel.begin(), kernel.begin() + 5 * 512)), Error);  // no payload
  std::vector<uint8_t> short_header = kernel;
  short_header[0x201] = 0x20;  // header "ends" at 0x222, before the 2.12 fields
  EXPECT_THROW(boot(mem, short_header), Error);
  std::vector<uint8_t> many_sects = kernel;
  many_sects[0x1F1] = 200;  // setup code longer than the file
  EXPECT_THROW(boot(mem, many_sects), Error);
}

TEST(LinuxBootBzImage, RejectsEmptyAndUnknownFiles) {
  GuestMemory mem(64 * MiB);
  std::string err = error_of(mem, {});
  EXPECT_NE(err.find("empty"), std::string::npos) << err;
  err = error_of(mem, std::vector<uint8_t>(8192, 0x90));
  EXPECT_NE(err.find("not a Linux kernel"), std::string::npos) << err;
}

TEST(LinuxBootBzImage, SaysHowMuchMemoryTheKernelNeeds) {
  GuestMemory mem(64 * MiB);
  // 16 MiB + 60 MiB of init_size = 76 MiB.
  std::string err = error_of(mem, make_bzimage({.init_size = 60 * MiB}));
  EXPECT_NE(err.find("needs 76 MiB"), std::string::npos) << err;
  EXPECT_NE(err.find("has 64 MiB"), std::string::npos) << err;
  EXPECT_NE(err.find("--memory"), std::string::npos) << err;
  // Hostile header values cannot wrap the computation.
  err = error_of(mem, make_bzimage({.pref_address = ~0ull - 4096, .init_size = 0xFFFFFFFF}));
  EXPECT_NE(err.find("--memory"), std::string::npos) << err;
}

TEST(LinuxBootBzImage, NonRelocatableKernelRunsAtItsLinkAddress) {
  GuestMemory mem(64 * MiB);
  // Loaded at 1 MiB, runs at 1 MiB: 1 MiB + 4 MiB init_size; the initrd may sit at 5 MiB.
  const std::vector<uint8_t> initrd = pattern(58 * MiB, 3);
  LinuxBootResult r =
      boot(mem, make_bzimage({.relocatable = 0, .pref_address = 0x100000, .init_size = 4 * MiB}), "", &initrd);
  EXPECT_GE(r.initrd_addr, 5 * MiB);
}

TEST(LinuxBootBzImage, InitrdTooBig) {
  GuestMemory mem(64 * MiB);
  const std::vector<uint8_t> initrd = pattern(60 * MiB, 4);
  std::string err = error_of(mem, make_bzimage(), "", &initrd);
  EXPECT_NE(err.find("initrd"), std::string::npos) << err;
  // Bounded by initrd_addr_max rather than by RAM: more memory would not help.
  const std::vector<uint8_t> medium = pattern(10 * MiB, 5);
  err = error_of(mem, make_bzimage({.initrd_addr_max = 30 * MiB - 1}), "", &medium);
  EXPECT_NE(err.find("initrd"), std::string::npos) << err;
}

// ---- PVH ELF --------------------------------------------------------------------------

void expect_pvh_entry(const X86CpuState& c, uint64_t entry) {
  expect_common_entry(c);
  EXPECT_EQ(c.rip, entry);
  EXPECT_EQ(c.gpr[RBX], kBootParamsAddr);
  EXPECT_EQ(c.cs.selector, 0x08);
  EXPECT_EQ(c.cs.base, 0u);
  EXPECT_EQ(c.cs.limit, 0xFFFFFFFFu);
  EXPECT_EQ(c.cs.type, 0xB);
  EXPECT_TRUE(c.cs.s);
  EXPECT_TRUE(c.cs.present);
  EXPECT_TRUE(c.cs.db);
  EXPECT_TRUE(c.cs.g);
  EXPECT_FALSE(c.cs.l);
  EXPECT_EQ(c.cr0, (1ull << 0) | (1ull << 4));  // PE ET, paging off
  EXPECT_EQ(c.cr3, 0u);
  EXPECT_EQ(c.cr4, 0u);
  EXPECT_EQ(c.efer, 0u);
}

void expect_pvh_load(bool is64, bool note_in_section_only) {
  SCOPED_TRACE(is64 ? "ELF64" : "ELF32");
  GuestMemory mem(64 * MiB);
  mem.fill(0x1200000, 0xCC, 0x10000);       // bss must be zeroed
  mem.fill(kBootParamsAddr, 0xCC, 0x1000);  // start_info page must be cleared
  const std::vector<uint8_t> kernel =
      make_elf({.is64 = is64, .note_in_section_only = note_in_section_only, .entry_desc_size = is64 ? 8u : 4u});
  const std::vector<uint8_t> initrd = pattern(12345, 0x66);
  const std::string cmdline = "console=hvc0 init=/init";
  LinuxBootResult r = boot(mem, kernel, cmdline, &initrd, 0xE0040);

  EXPECT_EQ(r.format, KernelFormat::PvhElf);
  EXPECT_EQ(r.kernel_entry, 0x1000100u);
  EXPECT_TRUE(guest_bytes_equal(mem, 0x1000000, kernel.data() + kTextOffset, kTextSize));
  EXPECT_TRUE(guest_bytes_equal(mem, 0x1200000, kernel.data() + kDataOffset, kDataFileSize));
  for (uint64_t a = 0x1200000 + kDataFileSize; a < 0x1210000; ++a) ASSERT_EQ(rd<uint8_t>(mem, a), 0) << a;

  // hvm_start_info at kBootParamsAddr, checked at the ABI's offsets.
  const uint64_t si = kBootParamsAddr;
  EXPECT_EQ(rd<uint32_t>(mem, si + 0), 0x336ec578u);
  EXPECT_EQ(rd<uint32_t>(mem, si + 4), 1u);  // version
  EXPECT_EQ(rd<uint32_t>(mem, si + 8), 0u);  // flags
  EXPECT_EQ(rd<uint32_t>(mem, si + 12), 1u); // nr_modules
  const uint64_t modlist = rd<uint64_t>(mem, si + 16);
  EXPECT_EQ(rd<uint64_t>(mem, si + 24), kCmdlineAddr);
  EXPECT_EQ(read_cstring(mem, kCmdlineAddr, kCmdlineMax), cmdline);
  EXPECT_EQ(rd<uint64_t>(mem, si + 32), 0xE0040u);  // rsdp_paddr
  const uint64_t memmap = rd<uint64_t>(mem, si + 40);
  const uint32_t memmap_entries = rd<uint32_t>(mem, si + 48);
  EXPECT_EQ(rd<uint32_t>(mem, si + 52), 0u);

  EXPECT_EQ(rd<uint64_t>(mem, modlist + 0), r.initrd_addr);
  EXPECT_EQ(rd<uint64_t>(mem, modlist + 8), initrd.size());
  EXPECT_EQ(rd<uint64_t>(mem, modlist + 16), 0u);
  EXPECT_EQ(rd<uint64_t>(mem, modlist + 24), 0u);
  EXPECT_EQ(r.initrd_size, initrd.size());
  EXPECT_EQ(r.initrd_addr % 4096, 0u);
  EXPECT_GE(r.initrd_addr, 0x1210000u);
  EXPECT_LE(r.initrd_addr + initrd.size(), 64 * MiB);
  EXPECT_GT(r.initrd_addr + initrd.size() + 4096, 64 * MiB);
  EXPECT_TRUE(guest_bytes_equal(mem, r.initrd_addr, initrd.data(), initrd.size()));

  std::vector<E820Entry> map = build_e820(mem);
  ASSERT_EQ(memmap_entries, map.size());
  for (size_t i = 0; i < map.size(); ++i) {
    EXPECT_EQ(rd<uint64_t>(mem, memmap + i * 24), map[i].addr);
    EXPECT_EQ(rd<uint64_t>(mem, memmap + i * 24 + 8), map[i].size);
    EXPECT_EQ(rd<uint32_t>(mem, memmap + i * 24 + 16), map[i].type);
    EXPECT_EQ(rd<uint32_t>(mem, memmap + i * 24 + 20), 0u);
  }
  // The tables stay inside the start-info page and clear of each other.
  EXPECT_GE(modlist, si + 56);
  EXPECT_GE(memmap, modlist + 32);
  EXPECT_LE(memmap + map.size() * 24, si + 0x1000);

  expect_pvh_entry(r.boot_cpu, 0x1000100);
  expect_boot_gdt(mem);
}

TEST(PvhBoot, LoadsElf64) { expect_pvh_load(true, false); }
TEST(PvhBoot, LoadsElf32) { expect_pvh_load(false, false); }
TEST(PvhBoot, FindsTheNoteThroughSections) { expect_pvh_load(true, true); }

TEST(PvhBoot, WithoutInitrd) {
  GuestMemory mem(64 * MiB);
  LinuxBootResult r = boot(mem, make_elf());
  EXPECT_EQ(rd<uint32_t>(mem, kBootParamsAddr + 12), 0u);
  EXPECT_EQ(rd<uint64_t>(mem, kBootParamsAddr + 16), 0u);
  EXPECT_EQ(rd<uint64_t>(mem, kBootParamsAddr + 32), 0u);  // no RSDP given
  EXPECT_EQ(r.initrd_addr, 0u);
}

TEST(PvhBoot, ElfWithoutPvhNoteIsRejected) {
  GuestMemory mem(64 * MiB);
  std::string err = error_of(mem, make_elf({.pvh_note = false}));
  EXPECT_NE(err.find("an ELF kernel needs a PVH entry note (CONFIG_PVH)"), std::string::npos) << err;
}

TEST(PvhBoot, SegmentsMustFitInRam) {
  GuestMemory mem(64 * MiB);
  std::string err = error_of(mem, make_elf({.data_paddr = 0x3F00000, .data_memsz = 0x200000}));  // ends at 65 MiB
  EXPECT_NE(err.find("needs 65 MiB"), std::string::npos) << err;
  EXPECT_NE(err.find("--memory"), std::string::npos) << err;
  err = error_of(mem, make_elf({.data_paddr = 0x80000}));  // below 1 MiB
  EXPECT_NE(err.find("1 MiB"), std::string::npos) << err;
  EXPECT_THROW(boot(mem, make_elf({.data_paddr = 0xFFFFFFFFFFFFF000ull})), Error);  // wraps
  EXPECT_THROW(boot(mem, make_elf({.data_paddr = 0xC0000000ull})), Error);          // MMIO hole
}

TEST(PvhBoot, EntryMustBeInsideTheKernel) {
  GuestMemory mem(64 * MiB);
  EXPECT_THROW(boot(mem, make_elf({.entry = 0x2000000})), Error);
  EXPECT_THROW(boot(mem, make_elf({.entry = 0x100001000000ull})), Error);
}

TEST(PvhBoot, InitrdTooBig) {
  GuestMemory mem(64 * MiB);
  const std::vector<uint8_t> initrd = pattern(46 * MiB, 1);  // kernel ends at 18 MiB + 64 KiB
  std::string err = error_of(mem, make_elf(), "", &initrd);
  EXPECT_NE(err.find("initrd"), std::string::npos) << err;
  const std::vector<uint8_t> fits = pattern(45 * MiB, 1);
  EXPECT_NO_THROW(boot(mem, make_elf(), "", &fits));
}

TEST(PvhBoot, CommandLineTooLong) {
  GuestMemory mem(64 * MiB);
  EXPECT_NO_THROW(boot(mem, make_elf(), std::string(kCmdlineMax - 1, 'c')));
  EXPECT_THROW(boot(mem, make_elf(), std::string(kCmdlineMax, 'c')), Error);
}

TEST(PvhBoot, MalformedHeadersGiveErrors) {
  GuestMemory mem(64 * MiB);
  const std::vector<uint8_t> good = make_elf();
  auto with = [&](auto edit) {
    std::vector<uint8_t> f = good;
    edit(f);
    return f;
  };
  // Segment data beyond the end of the file.
  EXPECT_THROW(boot(mem, with([](auto& f) { put<uint64_t>(f, ph64(0, 8), 0x100000); })), Error);
  EXPECT_THROW(boot(mem, with([](auto& f) { put<uint64_t>(f, ph64(0, 8), ~0ull - 10); })), Error);
  EXPECT_THROW(boot(mem, with([](auto& f) { put<uint64_t>(f, ph64(1, 32), 0x100000); })), Error);
  // filesz > memsz.
  EXPECT_THROW(boot(mem, with([](auto& f) { put<uint64_t>(f, ph64(1, 40), 0x10); })), Error);
  // Program header table outside the file; entries too small; none at all.
  EXPECT_THROW(boot(mem, with([](auto& f) { put<uint64_t>(f, 32, f.size() - 8); })), Error);
  EXPECT_THROW(boot(mem, with([](auto& f) { put<uint16_t>(f, 54, 16); })), Error);
  EXPECT_THROW(boot(mem, with([](auto& f) { put<uint16_t>(f, 56, 0); })), Error);
  // Big-endian, unknown class, other machine.
  EXPECT_THROW(boot(mem, with([](auto& f) { f[5] = 2; })), Error);
  EXPECT_THROW(boot(mem, with([](auto& f) { f[4] = 3; })), Error);
  EXPECT_THROW(boot(mem, with([](auto& f) { put<uint16_t>(f, 18, 183); })), Error);
  // Truncated to the ELF magic only.
  EXPECT_THROW(boot(mem, std::vector<uint8_t>(good.begin(), good.begin() + 4)), Error);
  EXPECT_THROW(boot(mem, std::vector<uint8_t>(good.begin(), good.begin() + 40)), Error);
}

TEST(PvhBoot, MalformedNotesAreIgnoredNotOverread) {
  // A note whose name size runs past the note area: the walk stops there, so the PVH
  // note after it is not found (and nothing outside the area is read).
  std::vector<uint8_t> f = make_elf();
  put<uint32_t>(f, kNoteOffset, 0xFFFFFFF0u);
  EXPECT_EQ(detect_kernel_format(f), KernelFormat::Unknown);
  f = make_elf();
  put<uint32_t>(f, kNoteOffset + 4, 0xFFFFFFFFu);  // descsz
  EXPECT_EQ(detect_kernel_format(f), KernelFormat::Unknown);
  // PT_NOTE pointing outside the file.
  f = make_elf();
  put<uint64_t>(f, ph64(2, 8), f.size() - 4);
  EXPECT_EQ(detect_kernel_format(f), KernelFormat::Unknown);
  // A PVH note with a descriptor size other than 4 or 8 is not an entry.
  EXPECT_EQ(detect_kernel_format(make_elf({.entry_desc_size = 2})), KernelFormat::Unknown);
}

TEST(PvhBoot, SurvivesTruncationAndCorruption) {
  // Every prefix of a valid file, and random corruption of its headers and notes,
  // must end in a result or a vireo::Error, never in a crash or an access outside RAM.
  GuestMemory mem(64 * MiB);
  const std::vector<uint8_t> good = make_elf();
  for (size_t len = 0; len < good.size(); len += (len < 0x600 ? 1 : 97)) {
    std::vector<uint8_t> f(good.begin(), good.begin() + static_cast<long>(len));
    (void)detect_kernel_format(f);
    EXPECT_THROW(boot(mem, f), Error) << "prefix of " << len << " bytes";
  }
  std::mt19937 rng(1234);
  unsigned loaded = 0;
  for (int iter = 0; iter < 3000; ++iter) {
    std::vector<uint8_t> f = good;
    const int flips = 1 + static_cast<int>(rng() % 4);
    for (int i = 0; i < flips; ++i) f[rng() % 0x500] = static_cast<uint8_t>(rng());
    (void)detect_kernel_format(f);
    try {
      boot(mem, f);
      ++loaded;
    } catch (const Error&) {
    }
  }
  EXPECT_GT(loaded, 0u);  // some corruptions hit unused bytes and still load
}

TEST(LinuxBootBzImage, SurvivesTruncationAndCorruption) {
  GuestMemory mem(64 * MiB);
  const std::vector<uint8_t> good = make_bzimage({.init_size = 0x100000});
  std::mt19937 rng(99);
  for (int iter = 0; iter < 3000; ++iter) {
    std::vector<uint8_t> f = good;
    for (int i = 0; i < 3; ++i) f[0x1F1 + rng() % 0x80] = static_cast<uint8_t>(rng());
    if (iter % 3 == 0) f.resize(rng() % good.size());
    (void)detect_kernel_format(f);
    try {
      boot(mem, f, "console=ttyS0");
    } catch (const Error&) {
    }
  }
}

// ---- the real Debian kernel (when scripts/make-guest.sh has built it) -------------------

const std::string kGuestDir = std::string(VIREO_SOURCE_DIR) + "/build/guest";

TEST(LinuxBootRealKernel, DebianBzImage) {
  const std::string path = kGuestDir + "/vmlinuz";
  if (!std::filesystem::exists(path)) GTEST_SKIP() << path << " is absent (scripts/make-guest.sh builds it)";
  const std::vector<uint8_t> kernel = read_file(path, "kernel");
  ASSERT_EQ(detect_kernel_format(kernel), KernelFormat::BzImage);
  GuestMemory mem(512 * MiB);
  std::vector<uint8_t> initrd;
  if (std::filesystem::exists(kGuestDir + "/initramfs.cpio.gz")) initrd = read_file(kGuestDir + "/initramfs.cpio.gz", "initrd");
  LinuxBootResult r = boot(mem, kernel, "console=ttyS0", initrd.empty() ? nullptr : &initrd);
  EXPECT_EQ(r.format, KernelFormat::BzImage);
  EXPECT_EQ(r.boot_cpu.rip, 0x100200u);
  EXPECT_EQ(r.boot_cpu.gpr[RSI], kBootParamsAddr);
  expect_long_mode_entry(r.boot_cpu);
  std::vector<uint8_t> payload = bzimage_payload(kernel);
  EXPECT_TRUE(guest_bytes_equal(mem, 0x100000, payload.data(), payload.size()));
  EXPECT_GE(zp16(mem, 0x206), 0x020C);
  EXPECT_EQ(zp8(mem, 0x210), 0xFF);
  if (!initrd.empty()) {
    // Above the region the kernel decompresses into (pref_address + init_size).
    EXPECT_GE(r.initrd_addr, zp64(mem, 0x258) + zp32(mem, 0x260));
    EXPECT_TRUE(guest_bytes_equal(mem, r.initrd_addr, initrd.data(), initrd.size()));
  }
  // 64 MiB is too little for this kernel to decompress: a clear error, not a crash.
  GuestMemory small(64 * MiB);
  std::string err = error_of(small, kernel);
  EXPECT_NE(err.find("--memory"), std::string::npos) << err;
}

TEST(LinuxBootRealKernel, DebianVmlinuxThroughPvh) {
  const std::string path = kGuestDir + "/vmlinux";
  if (!std::filesystem::exists(path)) GTEST_SKIP() << path << " is absent (scripts/make-guest.sh builds it)";
  const std::vector<uint8_t> kernel = read_file(path, "kernel");
  ASSERT_EQ(detect_kernel_format(kernel), KernelFormat::PvhElf);
  GuestMemory mem(512 * MiB);
  LinuxBootResult r = boot(mem, kernel, "console=ttyS0");
  EXPECT_EQ(r.format, KernelFormat::PvhElf);
  // Linux links its PVH entry into the kernel image above its 16 MiB load address.
  EXPECT_GT(r.kernel_entry, 16 * MiB);
  EXPECT_LT(r.kernel_entry, 64 * MiB);
  expect_pvh_entry(r.boot_cpu, r.kernel_entry);
  EXPECT_EQ(rd<uint32_t>(mem, kBootParamsAddr), 0x336ec578u);
  // Too little memory: the error names the end of the highest segment, not the first.
  uint64_t highest_end = 0;
  const uint64_t phoff = rd_file<uint64_t>(kernel, 32);
  for (unsigned i = 0; i < rd_file<uint16_t>(kernel, 56); ++i) {
    const uint64_t at = phoff + i * rd_file<uint16_t>(kernel, 54);
    if (rd_file<uint32_t>(kernel, at) == 1) {
      highest_end = std::max(highest_end, rd_file<uint64_t>(kernel, at + 24) + rd_file<uint64_t>(kernel, at + 40));
    }
  }
  GuestMemory small(32 * MiB);
  std::string err = error_of(small, kernel);
  EXPECT_NE(err.find(fmt::format("needs {} MiB", (highest_end + MiB - 1) / MiB)), std::string::npos) << err;
}

}  // namespace
