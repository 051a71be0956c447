// Tests of the Multiboot (version 1) loader: the header search, ELF32/ELF64/a.out-kludge
// loading, the information structure (every field read at its offset in the
// specification, section 3.3, not through vireo's code), module placement, the memory
// map, the entry state, and hostile kernel files.
#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "arch/x86/boot_cpu.h"
#include "arch/x86/layout.h"
#include "arch/x86/linux_boot.h"
#include "arch/x86/multiboot.h"
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

uint32_t rd32(const GuestMemory& mem, uint64_t gpa) { return mem.read_obj<uint32_t>(gpa); }
uint64_t rd64(const GuestMemory& mem, uint64_t gpa) { return mem.read_obj<uint64_t>(gpa); }

std::string read_cstring(const GuestMemory& mem, uint64_t gpa) {
  std::string s;
  for (size_t i = 0; i < 100000; ++i) {
    char c = static_cast<char>(mem.read_obj<uint8_t>(gpa + i));
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

bool guest_bytes_equal(const GuestMemory& mem, uint64_t gpa, const std::vector<uint8_t>& data) {
  const uint8_t* p = mem.host_ptr(gpa, data.size());
  return p != nullptr && std::memcmp(p, data.data(), data.size()) == 0;
}

bool guest_bytes_are(const GuestMemory& mem, uint64_t gpa, uint64_t size, uint8_t value) {
  const uint8_t* p = mem.host_ptr(gpa, size);
  if (p == nullptr) return false;
  for (uint64_t i = 0; i < size; ++i)
    if (p[i] != value) return false;
  return true;
}

// Writes a Multiboot header at `off`: magic, flags, checksum (+ `checksum_error`), and the
// five address fields when given.
struct AddressFields {
  uint32_t header_addr, load_addr, load_end_addr, bss_end_addr, entry_addr;
};
void put_header(std::vector<uint8_t>& f, size_t off, uint32_t flags, const AddressFields* a = nullptr,
                uint32_t checksum_error = 0) {
  put<uint32_t>(f, off, kMultibootHeaderMagic);
  put<uint32_t>(f, off + 4, flags);
  put<uint32_t>(f, off + 8, static_cast<uint32_t>(0u - kMultibootHeaderMagic - flags) + checksum_error);
  if (a) {
    put<uint32_t>(f, off + 12, a->header_addr);
    put<uint32_t>(f, off + 16, a->load_addr);
    put<uint32_t>(f, off + 20, a->load_end_addr);
    put<uint32_t>(f, off + 24, a->bss_end_addr);
    put<uint32_t>(f, off + 28, a->entry_addr);
  }
}

// A minimal ELF file, built field by field at the gABI offsets.
struct ElfSegment {
  uint64_t vaddr, paddr;
  std::vector<uint8_t> data;
  uint64_t memsz;
};
std::vector<uint8_t> make_elf(bool is64, uint64_t entry, const std::vector<ElfSegment>& segs, uint32_t mb_flags = 0x3) {
  std::vector<uint8_t> f(0x1000, 0);
  const size_t ehsize = is64 ? 64 : 52, phentsize = is64 ? 56 : 32;
  const size_t phoff = ehsize;
  f[0] = 0x7f, f[1] = 'E', f[2] = 'L', f[3] = 'F';
  f[4] = is64 ? 2 : 1;
  f[5] = 1;  // little-endian
  f[6] = 1;  // version
  put<uint16_t>(f, 16, 2);               // ET_EXEC
  put<uint16_t>(f, 18, is64 ? 62 : 3);   // EM_X86_64 / EM_386
  put<uint32_t>(f, 20, 1);
  if (is64) {
    put<uint64_t>(f, 24, entry);
    put<uint64_t>(f, 32, phoff);
    put<uint16_t>(f, 52, static_cast<uint16_t>(ehsize));
    put<uint16_t>(f, 54, static_cast<uint16_t>(phentsize));
    put<uint16_t>(f, 56, static_cast<uint16_t>(segs.size()));
  } else {
    put<uint32_t>(f, 24, static_cast<uint32_t>(entry));
    put<uint32_t>(f, 28, static_cast<uint32_t>(phoff));
    put<uint16_t>(f, 40, static_cast<uint16_t>(ehsize));
    put<uint16_t>(f, 42, static_cast<uint16_t>(phentsize));
    put<uint16_t>(f, 44, static_cast<uint16_t>(segs.size()));
  }
  // The Multiboot header right after the program headers (well inside 8 KiB).
  const size_t header_off = (phoff + phentsize * segs.size() + 3) & ~size_t{3};
  put_header(f, header_off, mb_flags);
  size_t data_off = 0x1000;
  for (size_t i = 0; i < segs.size(); ++i) {
    const ElfSegment& s = segs[i];
    const size_t ph = phoff + i * phentsize;
    if (is64) {
      put<uint32_t>(f, ph + 0, 1);  // PT_LOAD
      put<uint32_t>(f, ph + 4, 7);
      put<uint64_t>(f, ph + 8, data_off);
      put<uint64_t>(f, ph + 16, s.vaddr);
      put<uint64_t>(f, ph + 24, s.paddr);
      put<uint64_t>(f, ph + 32, s.data.size());
      put<uint64_t>(f, ph + 40, s.memsz);
      put<uint64_t>(f, ph + 48, 0x1000);
    } else {
      put<uint32_t>(f, ph + 0, 1);
      put<uint32_t>(f, ph + 4, static_cast<uint32_t>(data_off));
      put<uint32_t>(f, ph + 8, static_cast<uint32_t>(s.vaddr));
      put<uint32_t>(f, ph + 12, static_cast<uint32_t>(s.paddr));
      put<uint32_t>(f, ph + 16, static_cast<uint32_t>(s.data.size()));
      put<uint32_t>(f, ph + 20, static_cast<uint32_t>(s.memsz));
      put<uint32_t>(f, ph + 24, 7);
      put<uint32_t>(f, ph + 28, 0x1000);
    }
    f.resize(data_off);
    f.insert(f.end(), s.data.begin(), s.data.end());
    data_off = (f.size() + 0xfff) & ~size_t{0xfff};
  }
  return f;
}

// A simple valid ELF32 kernel: 0x3000 bytes of code/data at 1 MiB and 0x2000 bytes of bss.
std::vector<uint8_t> simple_elf32() { return make_elf(false, 0x100010, {{0x100000, 0x100000, pattern(0x3000, 1), 0x5000}}); }

MultibootSpec spec_for(const std::vector<uint8_t>& kernel) {
  MultibootSpec s;
  s.kernel = &kernel;
  s.kernel_path = "/boot/kernel.elf";
  s.cmdline = "mb-test answer=42";
  return s;
}

std::string error_of(GuestMemory& mem, const MultibootSpec& spec) {
  try {
    load_multiboot(mem, spec);
  } catch (const Error& e) {
    return e.what();
  }
  return "<no error>";
}

// ---- header search -------------------------------------------------------------------

TEST(MultibootHeader, FoundAtOffsetZero) {
  std::vector<uint8_t> f(64, 0);
  put_header(f, 0, 0x3);
  ASSERT_TRUE(has_multiboot_header(f));
  auto h = find_multiboot_header(f);
  ASSERT_TRUE(h.has_value());
  EXPECT_EQ(h->offset, 0u);
  EXPECT_EQ(h->flags, 0x3u);
}

TEST(MultibootHeader, FoundAtTheLastOffsetWhereItFitsIn8KiB) {
  std::vector<uint8_t> f(16384, 0);
  put_header(f, 8180, 0x1);  // bytes 8180..8191: the last 12 of the first 8 KiB
  auto h = find_multiboot_header(f);
  ASSERT_TRUE(h.has_value());
  EXPECT_EQ(h->offset, 8180u);
}

TEST(MultibootHeader, MagicAt8188IsClaimedButTheHeaderCrossesThe8KiBLimit) {
  std::vector<uint8_t> f(16384, 0);
  put_header(f, 8188, 0x1);
  EXPECT_TRUE(has_multiboot_header(f));
  try {
    find_multiboot_header(f);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("offset 8188 does not lie completely within the first 8192 bytes"),
              std::string::npos)
        << e.what();
  }
}

TEST(MultibootHeader, NotFoundBeyond8KiB) {
  std::vector<uint8_t> f(16384, 0);
  put_header(f, 8192, 0x1);
  EXPECT_FALSE(has_multiboot_header(f));
  EXPECT_FALSE(find_multiboot_header(f).has_value());
}

TEST(MultibootHeader, MisalignedMagicIsNotAHeader) {
  std::vector<uint8_t> f(4096, 0);
  put_header(f, 2, 0x1);
  EXPECT_FALSE(has_multiboot_header(f));
  EXPECT_FALSE(find_multiboot_header(f).has_value());
}

TEST(MultibootHeader, NoMagicInAShortOrEmptyFile) {
  EXPECT_FALSE(has_multiboot_header({}));
  EXPECT_FALSE(find_multiboot_header({1, 2, 3}).has_value());
}

TEST(MultibootHeader, WrongChecksumIsAnErrorNamingTheOffset) {
  std::vector<uint8_t> f(4096, 0);
  put_header(f, 64, 0x3, nullptr, /*checksum_error=*/1);
  EXPECT_TRUE(has_multiboot_header(f));
  try {
    find_multiboot_header(f);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "Multiboot header at offset 64 has a wrong checksum");
  }
}

TEST(MultibootHeader, AMagicWithAWrongChecksumBeforeAValidHeaderIsSkipped) {
  std::vector<uint8_t> f(4096, 0);
  put_header(f, 16, 0x3, nullptr, 5);  // the magic as data
  put_header(f, 256, 0x2);
  auto h = find_multiboot_header(f);
  ASSERT_TRUE(h.has_value());
  EXPECT_EQ(h->offset, 256u);
  EXPECT_EQ(h->flags, 0x2u);
}

TEST(MultibootHeader, AddressFieldsAreReadWithFlag16) {
  std::vector<uint8_t> f(4096, 0);
  AddressFields a{0x100020, 0x100000, 0x101000, 0x102000, 0x100040};
  put_header(f, 32, kMultibootAddressFieldsValid | 1, &a);
  auto h = find_multiboot_header(f);
  ASSERT_TRUE(h.has_value());
  EXPECT_EQ(h->header_addr, 0x100020u);
  EXPECT_EQ(h->load_addr, 0x100000u);
  EXPECT_EQ(h->load_end_addr, 0x101000u);
  EXPECT_EQ(h->bss_end_addr, 0x102000u);
  EXPECT_EQ(h->entry_addr, 0x100040u);
}

TEST(MultibootHeader, Flag16WithAddressFieldsCutOffByTheEndOfFileIsAnError) {
  std::vector<uint8_t> f;
  put_header(f, 0, kMultibootAddressFieldsValid);
  put<uint32_t>(f, 12, 0x100000);  // 16 bytes, the fields need 32
  EXPECT_THROW(find_multiboot_header(f), Error);
}

// ---- loading ------------------------------------------------------------------------

TEST(MultibootLoad, Elf32SegmentsGoToTheirPhysicalAddressesAndTheBssIsZeroed) {
  GuestMemory mem(64 * MiB);
  mem.fill(0x100000, 0xAA, 0x10000);  // the bss must be cleared, not just left as it was
  const std::vector<uint8_t> code = pattern(0x3000, 1), data = pattern(0x800, 9);
  auto k = make_elf(false, 0x100010, {{0x100000, 0x100000, code, 0x3000}, {0x104000, 0x104000, data, 0x2000}});
  auto r = load_multiboot(mem, spec_for(k));
  EXPECT_TRUE(guest_bytes_equal(mem, 0x100000, code));
  EXPECT_TRUE(guest_bytes_equal(mem, 0x104000, data));
  EXPECT_TRUE(guest_bytes_are(mem, 0x104800, 0x1800, 0));
  EXPECT_TRUE(guest_bytes_are(mem, 0x103000, 0x1000, 0xAA));  // the gap between segments is untouched
  EXPECT_EQ(r.entry, 0x100010u);
  EXPECT_EQ(r.kernel_start, 0x100000u);
  EXPECT_EQ(r.kernel_end, 0x106000u);
}

TEST(MultibootLoad, Elf64LoadsByPhysicalAddressAndEntersAtThePhysicalEntry) {
  GuestMemory mem(64 * MiB);
  // Linked at a higher-half virtual address, loaded at 2 MiB.
  const uint64_t vbase = 0xffffffff80000000ull;
  const std::vector<uint8_t> code = pattern(0x2000, 3);
  auto k = make_elf(true, vbase + 0x40, {{vbase, 0x200000, code, 0x4000}});
  auto r = load_multiboot(mem, spec_for(k));
  EXPECT_TRUE(guest_bytes_equal(mem, 0x200000, code));
  EXPECT_TRUE(guest_bytes_are(mem, 0x202000, 0x2000, 0));
  EXPECT_EQ(r.entry, 0x200040u);
  EXPECT_EQ(r.boot_cpu.rip, 0x200040u);
}

TEST(MultibootLoad, AnEntryOutsideEverySegmentIsTakenAsIs) {
  GuestMemory mem(64 * MiB);
  auto k = make_elf(false, 0x180000, {{0xC0100000, 0x100000, pattern(0x1000, 3), 0x1000}});
  EXPECT_EQ(load_multiboot(mem, spec_for(k)).entry, 0x180000u);
}

TEST(MultibootLoad, AoutKludgeLoadsFromTheHeaderOffsetAndZeroesTheBss) {
  GuestMemory mem(64 * MiB);
  mem.fill(0x200000, 0xAA, 0x10000);
  // A flat binary: the header sits 0x40 bytes into the file, which loads at 2 MiB.
  std::vector<uint8_t> f = pattern(0x3000, 7);
  AddressFields a{0x200040, 0x200000, 0x202800, 0x204000, 0x200100};
  put_header(f, 0x40, kMultibootAddressFieldsValid | kMultibootPageAlignModules, &a);
  auto r = load_multiboot(mem, spec_for(f));
  EXPECT_TRUE(guest_bytes_equal(mem, 0x200000, std::vector<uint8_t>(f.begin(), f.begin() + 0x2800)));
  EXPECT_TRUE(guest_bytes_are(mem, 0x202800, 0x1800, 0));
  EXPECT_TRUE(guest_bytes_are(mem, 0x204000, 0x1000, 0xAA));
  EXPECT_EQ(r.entry, 0x200100u);
  EXPECT_EQ(r.kernel_end, 0x204000u);
}

TEST(MultibootLoad, AoutKludgeWithLoadEndZeroLoadsTheRestOfTheFile) {
  GuestMemory mem(64 * MiB);
  // The text starts 0x100 bytes into the file: header_addr - load_addr = header offset - 0x100.
  std::vector<uint8_t> f = pattern(0x1800, 5);
  AddressFields a{0x100020, 0x100000, 0, 0, 0x100000};
  put_header(f, 0x120, kMultibootAddressFieldsValid, &a);
  auto r = load_multiboot(mem, spec_for(f));
  EXPECT_TRUE(guest_bytes_equal(mem, 0x100000, std::vector<uint8_t>(f.begin() + 0x100, f.end())));
  EXPECT_EQ(r.kernel_end, 0x100000u + 0x1700);
}

TEST(MultibootLoad, AoutKludgeTakesPrecedenceOverElfHeaders) {
  GuestMemory mem(64 * MiB);
  auto k = simple_elf32();  // program headers say 1 MiB
  // Rewrite its header with flag 16: the whole file at 3 MiB instead.
  auto h = find_multiboot_header(k);
  ASSERT_TRUE(h.has_value());
  AddressFields a{static_cast<uint32_t>(0x300000 + h->offset), 0x300000, 0, 0, 0x300000};
  put_header(k, h->offset, kMultibootAddressFieldsValid, &a);
  auto r = load_multiboot(mem, spec_for(k));
  EXPECT_TRUE(guest_bytes_equal(mem, 0x300000, k));
  EXPECT_TRUE(guest_bytes_are(mem, 0x100000, 0x1000, 0));
  EXPECT_EQ(r.entry, 0x300000u);
}

TEST(MultibootLoad, VideoModeFlagIsAcceptedWithAWarningAndNoVideoInformation) {
  GuestMemory mem(64 * MiB);
  auto k = make_elf(false, 0x100000, {{0x100000, 0x100000, pattern(0x100, 1), 0x100}},
                    kMultibootWantsVideoMode | kMultibootWantsMemoryInfo);
  auto r = load_multiboot(mem, spec_for(k));
  ASSERT_EQ(r.warnings.size(), 1u);
  EXPECT_NE(r.warnings[0].find("video mode"), std::string::npos);
  const uint32_t flags = rd32(mem, r.info_addr);
  EXPECT_EQ(flags & ((1u << 11) | (1u << 12)), 0u);  // no VBE, no framebuffer
  for (uint64_t off = 72; off < 116; off += 4) EXPECT_EQ(rd32(mem, r.info_addr + off), 0u) << "offset " << off;
}

// ---- the information structure ----------------------------------------------------------

struct Booted {
  GuestMemory mem{64 * MiB};
  std::vector<uint8_t> kernel = simple_elf32();
  MultibootSpec spec;
  MultibootBootResult result;
  Booted() {
    spec = spec_for(kernel);
    std::vector<uint8_t> one(5000), two(0x2000);
    std::memcpy(one.data(), "MODULE-ONE", 10);
    std::memcpy(two.data(), "MODULE-TWO", 10);
    for (size_t i = 10; i < one.size(); ++i) one[i] = static_cast<uint8_t>(i);
    for (size_t i = 10; i < two.size(); ++i) two[i] = static_cast<uint8_t>(i * 7);
    spec.modules.push_back({one, "/tmp/mod1"});
    spec.modules.push_back({two, "/tmp/mod2 arg=x"});
    mem.fill(0, 0xCC, 0x100000);  // leftovers the loader must not leave in its structures
    result = load_multiboot(mem, spec);
  }
  uint32_t field(uint64_t off) const { return rd32(mem, result.info_addr + off); }
};

TEST(MultibootInfo, FlagsNameExactlyTheFieldsVireoFills) {
  Booted b;
  // mem (0), cmdline (2), mods (3), mmap (6), boot_loader_name (9); no boot device (1).
  EXPECT_EQ(b.field(0), (1u << 0) | (1u << 2) | (1u << 3) | (1u << 6) | (1u << 9));
}

TEST(MultibootInfo, MemoryFieldsInKiB) {
  Booted b;
  EXPECT_EQ(b.field(4), 639u);                 // mem_lower: below the EBDA at 0x9fc00
  EXPECT_EQ(b.field(8), 64u * 1024 - 1024);    // mem_upper: from 1 MiB to the end of RAM
  EXPECT_EQ(b.field(12), 0u);                  // boot_device: not provided
}

TEST(MultibootInfo, CommandLineIsTheKernelPathThenTheUsersCommandLine) {
  Booted b;
  EXPECT_EQ(read_cstring(b.mem, b.field(16)), "/boot/kernel.elf mb-test answer=42");
}

TEST(MultibootInfo, CommandLineIsPresentWithAnEmptyUserCommandLine) {
  GuestMemory mem(64 * MiB);
  auto k = simple_elf32();
  auto s = spec_for(k);
  s.cmdline = "";
  auto r = load_multiboot(mem, s);
  EXPECT_TRUE(rd32(mem, r.info_addr) & (1u << 2));
  EXPECT_EQ(read_cstring(mem, rd32(mem, r.info_addr + 16)), "/boot/kernel.elf ");
}

TEST(MultibootInfo, ModulesArePageAlignedAboveTheKernelWithTheirContentsAndStrings) {
  Booted b;
  ASSERT_EQ(b.field(20), 2u);
  const uint64_t mods = b.field(24);
  uint64_t prev_end = b.result.kernel_end;
  for (unsigned i = 0; i < 2; ++i) {
    const uint64_t e = mods + 16 * i;
    const uint32_t start = rd32(b.mem, e), end = rd32(b.mem, e + 4);
    EXPECT_EQ(start % 0x1000, 0u) << "module " << i;
    EXPECT_GE(start, prev_end) << "module " << i;
    EXPECT_EQ(end - start, b.spec.modules[i].data.size()) << "mod_end is one past the last byte";
    EXPECT_TRUE(guest_bytes_equal(b.mem, start, b.spec.modules[i].data)) << "module " << i;
    EXPECT_EQ(read_cstring(b.mem, rd32(b.mem, e + 8)), b.spec.modules[i].string);
    EXPECT_EQ(rd32(b.mem, e + 12), 0u);  // reserved
    EXPECT_EQ(b.result.modules[i].addr, start);
    prev_end = end;
  }
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(b.mem.host_ptr(rd32(b.mem, mods), 10)), 10), "MODULE-ONE");
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(b.mem.host_ptr(rd32(b.mem, mods + 16), 10)), 10), "MODULE-TWO");
}

TEST(MultibootInfo, MemoryMapEntriesMatchTheMachineAndCoverItsRam) {
  Booted b;
  const uint32_t length = b.field(44);
  const uint64_t addr = b.field(48);
  const std::vector<E820Entry> e820 = build_e820(b.mem);
  ASSERT_EQ(length, e820.size() * 24);
  uint64_t ram = 0, pos = addr;
  size_t i = 0;
  while (pos < addr + length) {
    const uint32_t size = rd32(b.mem, pos);
    ASSERT_EQ(size, 20u);  // the size field does not count itself
    const uint64_t base = rd64(b.mem, pos + 4), len = rd64(b.mem, pos + 12);
    const uint32_t type = rd32(b.mem, pos + 20);
    EXPECT_EQ(base, e820[i].addr);
    EXPECT_EQ(len, e820[i].size);
    EXPECT_EQ(type, e820[i].type);
    if (type == 1) ram += len;
    pos += size + 4;
    ++i;
  }
  EXPECT_EQ(i, e820.size());
  // All RAM but the reserved BIOS area below 1 MiB.
  EXPECT_EQ(ram, 64 * MiB - (kKernelLoadAddr - kEbdaStart));
  // The first entry starts at 0: page 0 and low memory are ordinary RAM.
  EXPECT_EQ(rd64(b.mem, addr + 4), 0u);
  EXPECT_EQ(rd32(b.mem, addr + 20), 1u);
}

TEST(MultibootInfo, BootLoaderNameIsVireo) {
  Booted b;
  EXPECT_EQ(read_cstring(b.mem, b.field(64)), "vireo");
}

TEST(MultibootInfo, UnsetFieldsAreZero) {
  Booted b;
  for (uint64_t off : {12u, 28u, 32u, 36u, 40u, 52u, 56u, 60u, 68u, 72u, 76u})
    EXPECT_EQ(b.field(off), 0u) << "offset " << off;
}

TEST(MultibootInfo, PlacedInConventionalMemoryClearOfKernelAndModules) {
  Booted b;
  EXPECT_EQ(b.result.info_addr, kMultibootInfoAddr);
  EXPECT_LT(b.field(44) + b.field(48), kEbdaStart);
}

TEST(MultibootInfo, PlacedAboveTheModulesWhenTheKernelUsesConventionalMemory) {
  GuestMemory mem(64 * MiB);
  mem.fill(0, 0xCC, 0x10000);
  const std::vector<uint8_t> code = pattern(0x4000, 2);
  auto k = make_elf(false, 0x8000, {{0x8000, 0x8000, code, 0x4000}});
  auto s = spec_for(k);
  s.modules.push_back({pattern(100, 1), "m"});
  auto r = load_multiboot(mem, s);
  EXPECT_TRUE(guest_bytes_equal(mem, 0x8000, code));  // not overwritten by the information
  EXPECT_GE(r.info_addr, r.modules[0].addr + 100);
  EXPECT_EQ(read_cstring(mem, rd32(mem, r.info_addr + 16)), "/boot/kernel.elf mb-test answer=42");
  EXPECT_EQ(read_cstring(mem, rd32(mem, r.info_addr + 64)), "vireo");
  EXPECT_EQ(r.modules[0].addr, kKernelLoadAddr);  // modules never go below 1 MiB
}

TEST(MultibootInfo, MemoryAbove4GiBIsInTheMapAndMemUpperStopsAtTheHole) {
  GuestMemory mem(4 * GiB + 256 * MiB);
  auto k = simple_elf32();
  auto r = load_multiboot(mem, spec_for(k));
  EXPECT_EQ(rd32(mem, r.info_addr + 8), (3 * GiB - MiB) / KiB);
  const uint64_t mmap = rd32(mem, r.info_addr + 48);
  const uint32_t n = rd32(mem, r.info_addr + 44) / 24;
  const uint64_t last = mmap + (n - 1) * 24;
  EXPECT_EQ(rd64(mem, last + 4), 4 * GiB);
  EXPECT_EQ(rd64(mem, last + 12), 1 * GiB + 256 * MiB);
  EXPECT_EQ(rd32(mem, last + 20), 1u);
}

// ---- entry state ----------------------------------------------------------------------

TEST(MultibootEntry, ProtectedModeWithoutPagingAndTheMagicRegisters) {
  Booted b;
  const X86CpuState& c = b.result.boot_cpu;
  EXPECT_EQ(c.gpr[RAX], 0x2BADB002u);
  EXPECT_EQ(c.gpr[RBX], b.result.info_addr);
  EXPECT_EQ(c.rip, 0x100010u);
  EXPECT_TRUE(c.cr0 & CR0_PE);
  EXPECT_FALSE(c.cr0 & CR0_PG);
  EXPECT_EQ(c.efer & EFER_LMA, 0u);
  EXPECT_EQ(c.cr4 & CR4_PAE, 0u);
  EXPECT_FALSE(c.rflags & RFLAGS_IF);
  EXPECT_FALSE(c.rflags & (1u << 17));  // VM
  EXPECT_TRUE(c.rflags & RFLAGS_FIXED);
  // CS: 32-bit execute/read, base 0, limit 4 GiB.
  EXPECT_EQ(c.cs.selector, 0x08);
  EXPECT_EQ(c.cs.base, 0u);
  EXPECT_EQ(c.cs.limit, 0xFFFFFFFFu);
  EXPECT_TRUE(c.cs.db);
  EXPECT_FALSE(c.cs.l);
  EXPECT_TRUE(c.cs.type & 0x8);  // code
  EXPECT_TRUE(c.cs.type & 0x2);  // readable
  for (const Segment* s : {&c.ds, &c.es, &c.fs, &c.gs, &c.ss}) {
    EXPECT_EQ(s->selector, 0x10);
    EXPECT_EQ(s->base, 0u);
    EXPECT_EQ(s->limit, 0xFFFFFFFFu);
    EXPECT_TRUE(s->db);
    EXPECT_FALSE(s->type & 0x8);  // data
    EXPECT_TRUE(s->type & 0x2);   // writable
    EXPECT_TRUE(s->present);
  }
}

TEST(MultibootEntry, TheGdtInMemoryHasFlatCodeAt08AndFlatDataAt10And18) {
  Booted b;
  EXPECT_EQ(b.result.boot_cpu.gdt.base, kGdtAddr);
  EXPECT_EQ(rd64(b.mem, kGdtAddr + 0x08), 0x00CF9B000000FFFFull);
  EXPECT_EQ(rd64(b.mem, kGdtAddr + 0x10), 0x00CF93000000FFFFull);
  EXPECT_EQ(rd64(b.mem, kGdtAddr + 0x18), 0x00CF93000000FFFFull);
}

// ---- bad input --------------------------------------------------------------------------

TEST(MultibootErrors, NoHeader) {
  GuestMemory mem(64 * MiB);
  std::vector<uint8_t> f(10000, 0x90);
  EXPECT_EQ(error_of(mem, spec_for(f)), "is not a Multiboot kernel: no Multiboot header in the first 8192 bytes");
}

TEST(MultibootErrors, WrongChecksum) {
  GuestMemory mem(64 * MiB);
  auto k = simple_elf32();
  const uint64_t off = find_multiboot_header(k)->offset;
  k[off + 8] ^= 1;
  EXPECT_EQ(error_of(mem, spec_for(k)), fmt::format("Multiboot header at offset {} has a wrong checksum", off));
}

TEST(MultibootErrors, SegmentBeyondTheEndOfRam) {
  GuestMemory mem(16 * MiB);
  auto k = make_elf(false, 0x100000, {{0x100000, 0x100000, pattern(0x100, 1), 0x100}, {0x2000000, 0x2000000, pattern(0x100, 1), 0x3000}});
  EXPECT_EQ(error_of(mem, spec_for(k)),
            "segment at 0x2000000 (12288 bytes) does not fit in guest memory (16 MiB); use --memory 33M or more");
}

TEST(MultibootErrors, SegmentInTheMmioHole) {
  GuestMemory mem(16 * MiB);
  auto k = make_elf(false, 0x100000, {{0xfec00000, 0xfec00000, pattern(0x100, 1), 0x100}});
  EXPECT_NE(error_of(mem, spec_for(k)).find("segment at 0xfec00000 (256 bytes) lies outside guest RAM"),
            std::string::npos);
}

TEST(MultibootErrors, SegmentWrappingAroundTheAddressSpace) {
  GuestMemory mem(16 * MiB);
  auto k = make_elf(true, 0x100000, {{0x100000, 0xfffffffffffff000ull, pattern(0x100, 1), 0x2000}});
  EXPECT_NE(error_of(mem, spec_for(k)).find("lies outside guest RAM"), std::string::npos);
}

TEST(MultibootErrors, UnknownRequiredFlag) {
  GuestMemory mem(64 * MiB);
  auto k = make_elf(false, 0x100000, {{0x100000, 0x100000, pattern(0x100, 1), 0x100}}, 0x3 | (1u << 5));
  EXPECT_EQ(error_of(mem, spec_for(k)),
            "the Multiboot header requires features vireo does not provide (flag bits 0x20)");
}

TEST(MultibootErrors, UnknownOptionalFlagIsIgnored) {
  GuestMemory mem(64 * MiB);
  auto k = make_elf(false, 0x100000, {{0x100000, 0x100000, pattern(0x100, 1), 0x100}}, 0x3 | (1u << 20));
  EXPECT_NO_THROW(load_multiboot(mem, spec_for(k)));
}

TEST(MultibootErrors, NotElfWithoutAddressFields) {
  GuestMemory mem(64 * MiB);
  std::vector<uint8_t> f(4096, 0);
  put_header(f, 0, 0x3);
  EXPECT_NE(error_of(mem, spec_for(f)).find("must be an ELF file"), std::string::npos);
}

TEST(MultibootErrors, AoutKludgeInconsistentAddresses) {
  GuestMemory mem(64 * MiB);
  const uint32_t f16 = kMultibootAddressFieldsValid;
  std::vector<uint8_t> f(0x2000, 0x90);
  AddressFields above{0x100000, 0x100010, 0, 0, 0x100000};
  put_header(f, 0, f16, &above);
  EXPECT_NE(error_of(mem, spec_for(f)).find("lies above header_addr"), std::string::npos);

  AddressFields before_file{0x100010, 0x100000, 0, 0, 0x100000};  // header at file offset 0
  put_header(f, 0, f16, &before_file);
  EXPECT_NE(error_of(mem, spec_for(f)).find("before the beginning of the file"), std::string::npos);

  AddressFields truncated{0x100000, 0x100000, 0x110000, 0, 0x100000};
  put_header(f, 0, f16, &truncated);
  EXPECT_NE(error_of(mem, spec_for(f)).find("truncated?"), std::string::npos);

  AddressFields end_below{0x100000, 0x100000, 0xff000, 0, 0x100000};
  put_header(f, 0, f16, &end_below);
  EXPECT_NE(error_of(mem, spec_for(f)).find("load_end_addr 0xff000 lies below load_addr"), std::string::npos);

  AddressFields bss_below{0x100000, 0x100000, 0x101000, 0x100800, 0x100000};
  put_header(f, 0, f16, &bss_below);
  EXPECT_NE(error_of(mem, spec_for(f)).find("bss_end_addr 0x100800 lies below"), std::string::npos);

  AddressFields bss_beyond{0x100000, 0x100000, 0x101000, 0x8000000, 0x100000};
  put_header(f, 0, f16, &bss_beyond);
  EXPECT_NE(error_of(mem, spec_for(f)).find("does not fit in guest memory (64 MiB); use --memory 128M"),
            std::string::npos);

  AddressFields entry_out{0x100000, 0x100000, 0x101000, 0, 0xd0000000};
  put_header(f, 0, f16, &entry_out);
  EXPECT_EQ(error_of(mem, spec_for(f)), "entry point 0xd0000000 is not in guest memory");
}

TEST(MultibootErrors, Elf64EntryAbove4GiB) {
  GuestMemory mem(64 * MiB);
  auto k = make_elf(true, 0x100000000ull, {{0x100000, 0x100000, pattern(0x100, 1), 0x100}});
  EXPECT_NE(error_of(mem, spec_for(k)).find("above 4 GiB"), std::string::npos);
}

TEST(MultibootErrors, ModulesThatDoNotFit) {
  GuestMemory mem(4 * MiB);
  auto k = simple_elf32();
  auto s = spec_for(k);
  s.modules.push_back({std::vector<uint8_t>(3 * MiB), "big"});
  EXPECT_NE(error_of(mem, s).find("the kernel and its 1 module(s) need 5 MiB of memory, the VM has 4 MiB"),
            std::string::npos);
}

TEST(MultibootErrors, NothingIsWrittenWhenTheImageIsRejected) {
  GuestMemory mem(16 * MiB);
  mem.fill(0, 0xCC, 0x200000);
  auto k = make_elf(false, 0x100000, {{0x100000, 0x100000, pattern(0x100, 1), 0x100}, {0x2000000, 0x2000000, pattern(0x100, 1), 0x100}});
  EXPECT_THROW(load_multiboot(mem, spec_for(k)), Error);
  EXPECT_TRUE(guest_bytes_are(mem, 0, 0x200000, 0xCC));
}

TEST(MultibootErrors, MutatedImagesFailCleanlyOrLoad) {
  // Hostile files: random bytes over a valid image never crash the loader or touch
  // memory outside the guest; they load or throw vireo::Error.
  const auto base = make_elf(false, 0x100010, {{0x100000, 0x100000, pattern(0x3000, 1), 0x5000}});
  std::mt19937 rng(1234);
  for (int iter = 0; iter < 400; ++iter) {
    auto k = base;
    const int edits = 1 + static_cast<int>(rng() % 8);
    for (int e = 0; e < edits; ++e) k[rng() % 0x200] = static_cast<uint8_t>(rng());
    if (iter % 3 == 0) k.resize(rng() % k.size());
    GuestMemory mem(8 * MiB);
    try {
      load_multiboot(mem, spec_for(k));
    } catch (const Error&) {
    }
  }
}

// ---- the test kernels built in the project (tests/guests/multiboot) -----------------------

TEST(MultibootBuiltKernels, EachHasAValidHeaderAndLoads) {
  const std::string dir = std::string(VIREO_GUEST_DIR) + "/multiboot/";
  for (const char* name : {"mb_info_check.elf", "mb_long_mode.elf", "mb_long_mode64.elf", "mb_pci_probe.elf",
                           "mb_aout.bin"}) {
    SCOPED_TRACE(name);
    const std::vector<uint8_t> k = read_file(dir + name, "kernel");
    auto h = find_multiboot_header(k);
    ASSERT_TRUE(h.has_value());
    GuestMemory mem(64 * MiB);
    auto s = spec_for(k);
    s.modules.push_back({pattern(5000, 1), "/tmp/m1"});
    MultibootBootResult r;
    ASSERT_NO_THROW(r = load_multiboot(mem, s));
    EXPECT_GE(r.entry, r.kernel_start);
    EXPECT_LT(r.entry, r.kernel_end);
    EXPECT_GE(r.modules[0].addr, r.kernel_end);
    // The header's bytes were loaded with the image.
    bool header_loaded = false;
    for (uint64_t a = r.kernel_start; a + 12 <= r.kernel_end && !header_loaded; a += 4)
      header_loaded = rd32(mem, a) == kMultibootHeaderMagic && rd32(mem, a + 4) == h->flags;
    EXPECT_TRUE(header_loaded);
  }
}

TEST(MultibootBuiltKernels, FlatKernelHasItsLoadAddressesAndEntryAfterTheHeader) {
  const std::vector<uint8_t> k = read_file(std::string(VIREO_GUEST_DIR) + "/multiboot/mb_aout.bin", "kernel");
  auto h = find_multiboot_header(k);
  ASSERT_TRUE(h.has_value());
  EXPECT_TRUE(h->flags & kMultibootAddressFieldsValid);
  EXPECT_EQ(h->load_addr, 0x200000u);
  EXPECT_EQ(h->header_addr, 0x200000u + h->offset);
  EXPECT_GT(h->entry_addr, h->header_addr);
  EXPECT_GT(h->bss_end_addr, h->load_end_addr);
}

// ---- module list -------------------------------------------------------------------------

TEST(MultibootModuleList, SplitsOnCommasAndTakesThePathUpToTheFirstSpace) {
  auto m = parse_multiboot_module_list("/tmp/a,/tmp/b arg1 arg2,c");
  ASSERT_EQ(m.size(), 3u);
  EXPECT_EQ(m[0].path, "/tmp/a");
  EXPECT_EQ(m[0].string, "/tmp/a");
  EXPECT_EQ(m[1].path, "/tmp/b");
  EXPECT_EQ(m[1].string, "/tmp/b arg1 arg2");
  EXPECT_EQ(m[2].path, "c");
}

TEST(MultibootModuleList, DoubleCommaIsALiteralComma) {
  auto m = parse_multiboot_module_list("/tmp/a x=1,,2,/tmp/b");
  ASSERT_EQ(m.size(), 2u);
  EXPECT_EQ(m[0].string, "/tmp/a x=1,2");
  EXPECT_EQ(m[1].path, "/tmp/b");
}

TEST(MultibootModuleList, EmptyEntriesAreErrors) {
  EXPECT_THROW(parse_multiboot_module_list(""), Error);
  EXPECT_THROW(parse_multiboot_module_list("a,"), Error);
  EXPECT_THROW(parse_multiboot_module_list(",a"), Error);
  EXPECT_THROW(parse_multiboot_module_list("a, b"), Error);
}

}  // namespace
