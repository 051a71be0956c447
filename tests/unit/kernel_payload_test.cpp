// Tests of the bzImage payload (kernel_payload.h) and of load_linux's decompress_on_host:
// synthetic bzImages whose payload is a small ELF kernel with a PVH note, compressed at
// test time by Debian's command-line compressors the way the kernel build invokes them
// (scripts/Makefile.lib: the compressor's output, then the 4-byte uncompressed size,
// except for gzip whose own trailer holds it); hostile payload locations and streams;
// and the Debian kernel when scripts/make-guest.sh has built it.
#include <gtest/gtest.h>
#include <lz4.h>
#include <sys/wait.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <random>
#include <string>
#include <vector>

#include "arch/x86/elf_kernel.h"
#include "arch/x86/kernel_payload.h"
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
T get(const std::vector<uint8_t>& b, size_t off) {
  T v;
  std::memcpy(&v, b.data() + off, sizeof(T));
  return v;
}

void append_le32(std::vector<uint8_t>& b, uint32_t v) { put<uint32_t>(b, b.size(), v); }

// Bytes that compress, but not to nothing: a random walk over a small alphabet.
std::vector<uint8_t> kernel_like_bytes(size_t size, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<uint8_t> v(size);
  for (size_t i = 0; i < size; ++i) v[i] = static_cast<uint8_t>((rng() % 7) * 17 + (i % 97 == 0 ? rng() : 0));
  return v;
}

bool guest_bytes_equal(const GuestMemory& mem, uint64_t gpa, const uint8_t* data, size_t size) {
  const uint8_t* p = mem.host_ptr(gpa, size);
  return p != nullptr && std::memcmp(p, data, size) == 0;
}

// ---- a small ELF64 vmlinux: text, data + bss, a PVH note ---------------------------------

constexpr uint64_t kTextPaddr = 0x1000000, kDataPaddr = 0x1800000;
constexpr uint64_t kPvhEntry = kTextPaddr + 0x40;
constexpr uint64_t kTextOffset = 0x1000;
constexpr uint64_t kDataSize = 0x900, kBssSize = 0x3000;

struct TinyElf {
  std::vector<uint8_t> file;
  uint64_t text_size = 0;
  uint64_t data_offset = 0;
};

TinyElf make_pvh_elf(size_t text_size = 0x6000, bool pvh_note = true) {
  TinyElf e;
  e.text_size = text_size;
  e.data_offset = kTextOffset + ((text_size + 0xFFF) & ~size_t{0xFFF});
  std::vector<uint8_t>& f = e.file;
  f.assign(e.data_offset + kDataSize, 0);
  const std::vector<uint8_t> text = kernel_like_bytes(text_size, 1), data = kernel_like_bytes(kDataSize, 2);
  std::memcpy(f.data() + kTextOffset, text.data(), text.size());
  std::memcpy(f.data() + e.data_offset, data.data(), data.size());

  // The note area at 0x200: owner "Xen", type 18 (PHYS32_ENTRY), an 8-byte entry.
  constexpr size_t kNote = 0x200;
  put<uint32_t>(f, kNote, 4);
  put<uint32_t>(f, kNote + 4, 8);
  put<uint32_t>(f, kNote + 8, pvh_note ? 18 : 6);
  std::memcpy(f.data() + kNote + 12, "Xen", 4);
  put<uint64_t>(f, kNote + 16, kPvhEntry);
  constexpr size_t kNoteSize = 24;

  f[0] = 0x7f; f[1] = 'E'; f[2] = 'L'; f[3] = 'F';
  f[4] = 2; f[5] = 1; f[6] = 1;          // ELF64, little-endian, version 1
  put<uint16_t>(f, 16, 2);               // ET_EXEC
  put<uint16_t>(f, 18, 62);              // EM_X86_64
  put<uint32_t>(f, 20, 1);
  put<uint64_t>(f, 24, 0xffffffff81000000ull);
  put<uint64_t>(f, 32, 64);              // e_phoff
  put<uint16_t>(f, 52, 64);
  put<uint16_t>(f, 54, 56);
  put<uint16_t>(f, 56, 3);               // text, data, note
  struct Ph { uint32_t type; uint64_t offset, paddr, filesz, memsz; };
  const Ph ph[3] = {{1, kTextOffset, kTextPaddr, text_size, text_size},
                    {1, e.data_offset, kDataPaddr, kDataSize, kDataSize + kBssSize},
                    {4, kNote, 0, kNoteSize, kNoteSize}};
  for (size_t i = 0; i < 3; ++i) {
    const size_t at = 64 + i * 56;
    put<uint32_t>(f, at, ph[i].type);
    put<uint32_t>(f, at + 4, 7);
    put<uint64_t>(f, at + 8, ph[i].offset);
    put<uint64_t>(f, at + 16, ph[i].paddr);
    put<uint64_t>(f, at + 24, ph[i].paddr);
    put<uint64_t>(f, at + 32, ph[i].filesz);
    put<uint64_t>(f, at + 40, ph[i].memsz);
    put<uint64_t>(f, at + 48, 4);
  }
  return e;
}

// ---- a bzImage around a payload ------------------------------------------------------------

struct BzImageLayout {
  uint8_t setup_sects = 6;
  uint16_t version = 0x020F;
  uint32_t code_before_payload = 0x3C0;  // payload_offset: decompressor code comes first
  size_t code_after_payload = 0x240;     // more code and data follow the payload
};

size_t protected_mode_start(const BzImageLayout& l) { return (size_t{l.setup_sects == 0 ? 4u : l.setup_sects} + 1) * 512; }

std::vector<uint8_t> make_bzimage(const std::vector<uint8_t>& payload, const BzImageLayout& l = {}) {
  std::vector<uint8_t> b(protected_mode_start(l), 0);
  put<uint8_t>(b, 0x1F1, l.setup_sects);
  put<uint16_t>(b, 0x1FE, 0xAA55);
  put<uint8_t>(b, 0x200, 0xEB);
  put<uint8_t>(b, 0x201, 0x6A);  // the header ends at 0x26C
  std::memcpy(b.data() + 0x202, "HdrS", 4);
  put<uint16_t>(b, 0x206, l.version);
  put<uint32_t>(b, 0x214, 0x100000);
  put<uint32_t>(b, 0x22C, 0x7FFFFFFF);   // initrd_addr_max
  put<uint32_t>(b, 0x230, 0x200000);     // kernel_alignment
  put<uint8_t>(b, 0x234, 1);             // relocatable
  put<uint16_t>(b, 0x236, 0x3);          // XLF_KERNEL_64 | XLF_CAN_BE_LOADED_ABOVE_4G
  put<uint32_t>(b, 0x238, 0x7FF);        // cmdline_size
  put<uint32_t>(b, 0x248, l.code_before_payload);
  put<uint32_t>(b, 0x24C, static_cast<uint32_t>(payload.size()));
  put<uint64_t>(b, 0x258, 0x1000000);    // pref_address
  put<uint32_t>(b, 0x260, 0x800000);     // init_size
  b.resize(b.size() + l.code_before_payload, 0x90);
  b.insert(b.end(), payload.begin(), payload.end());
  b.resize(b.size() + l.code_after_payload, 0xCC);
  return b;
}

// ---- Debian's compressors, run as the kernel build runs them ------------------------------

struct Compressor {
  PayloadCompression compression;
  const char* tool;
  const char* command;  // {in} and {out} are replaced
  bool append_size;     // the kernel build's size_append
};

const Compressor kCompressors[] = {
    {PayloadCompression::Gzip, "gzip", "gzip -n -9 -c {in} > {out}", false},
    {PayloadCompression::Bzip2, "bzip2", "bzip2 -9 -c {in} > {out}", true},
    {PayloadCompression::Lzma, "xz", "xz --format=lzma -6 -c {in} > {out}", true},
    {PayloadCompression::Xz, "xz", "xz --check=crc32 --x86 --lzma2=preset=6 -c {in} > {out}", true},
    {PayloadCompression::Lz4, "lz4", "lz4 -l -9 -c {in} > {out}", true},
    {PayloadCompression::Zstd, "zstd", "zstd -19 -q -c {in} > {out}", true},
};

bool tool_exists(const char* tool) {
  const std::string cmd = std::string("command -v ") + tool + " >/dev/null 2>&1";
  return std::system(cmd.c_str()) == 0;
}

// A scratch directory, removed at the end of the test.
class ScratchDir {
 public:
  ScratchDir() {
    char tmpl[] = "/tmp/vireo-payload-test-XXXXXX";
    if (const char* d = mkdtemp(tmpl)) path_ = d;
  }
  ~ScratchDir() {
    if (!path_.empty()) std::filesystem::remove_all(path_);
  }
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

std::string replace_all(std::string s, const std::string& from, const std::string& to) {
  for (size_t at = s.find(from); at != std::string::npos; at = s.find(from, at + to.size())) s.replace(at, from.size(), to);
  return s;
}

// Compresses `data` with `c`'s tool and appends the size as the kernel build does.
// Reports a test failure and returns {} when the tool fails.
std::vector<uint8_t> compress(const Compressor& c, const std::vector<uint8_t>& data) {
  ScratchDir dir;
  if (dir.path().empty()) {
    ADD_FAILURE() << "mkdtemp failed";
    return {};
  }
  const std::string in = (dir.path() / "in").string(), out = (dir.path() / "out").string();
  {
    std::ofstream f(in, std::ios::binary);
    f.write(reinterpret_cast<const char*>(data.data()), static_cast<std::streamsize>(data.size()));
  }
  const std::string cmd = replace_all(replace_all(c.command, "{in}", "'" + in + "'"), "{out}", "'" + out + "'");
  const int status = std::system(cmd.c_str());
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    ADD_FAILURE() << "`" << cmd << "` failed";
    return {};
  }
  std::vector<uint8_t> bytes = read_file(out, "compressed file");
  if (c.append_size) append_le32(bytes, static_cast<uint32_t>(data.size()));
  return bytes;
}

LinuxBootResult boot(GuestMemory& mem, const std::vector<uint8_t>& kernel, bool on_host,
                     const std::vector<uint8_t>* initrd = nullptr, const std::string& cmdline = "",
                     uint64_t rsdp = 0) {
  LinuxBootSpec spec;
  spec.kernel = &kernel;
  spec.initrd = initrd;
  spec.cmdline = cmdline;
  spec.rsdp_addr = rsdp;
  spec.decompress_on_host = on_host;
  return load_linux(mem, spec);
}

std::string decompress_error(const std::vector<uint8_t>& bzimage, uint64_t max_output = kMaxDecompressedKernel) {
  try {
    std::optional<PayloadInfo> info = bzimage_payload(bzimage);
    if (!info) return "<no payload>";
    decompress_kernel_payload(bzimage, *info, max_output);
  } catch (const Error& e) {
    return e.what();
  }
  return "<no error>";
}

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

// The bzImage protocol's entry, which a fallback uses: 64-bit code at 1 MiB + 0x200.
constexpr uint64_t kBzImageEntry = 0x100200;
constexpr const char* kFallbackSuffix = "; the guest decompresses itself";

// ---- locating the payload -------------------------------------------------------------------

TEST(KernelPayload, LocatesThePayloadThroughTheSetupHeader) {
  struct Magic { PayloadCompression compression; std::vector<uint8_t> bytes; };
  const Magic magics[] = {
      {PayloadCompression::Gzip, {0x1F, 0x8B, 0x08}},
      {PayloadCompression::Bzip2, {'B', 'Z', 'h', '9'}},
      {PayloadCompression::Lzma, {0x5D, 0x00, 0x00, 0x80}},
      {PayloadCompression::Xz, {0xFD, '7', 'z', 'X', 'Z', 0x00}},
      {PayloadCompression::Lzo, {0x89, 'L', 'Z', 'O', 0x00}},
      {PayloadCompression::Lz4, {0x02, 0x21, 0x4C, 0x18}},
      {PayloadCompression::Zstd, {0x28, 0xB5, 0x2F, 0xFD}},
      {PayloadCompression::Unknown, {0x5D, 0x01, 0x00, 0x00}},
  };
  for (const Magic& m : magics) {
    for (uint8_t setup_sects : {0, 1, 27}) {
      SCOPED_TRACE(payload_compression_name(m.compression));
      SCOPED_TRACE(int{setup_sects});
      std::vector<uint8_t> payload = m.bytes;
      payload.resize(100, 0x33);
      append_le32(payload, 0x12345678);
      const BzImageLayout layout{.setup_sects = setup_sects, .code_before_payload = 0x111};
      const std::vector<uint8_t> bz = make_bzimage(payload, layout);
      const std::optional<PayloadInfo> info = bzimage_payload(bz);
      ASSERT_TRUE(info.has_value());
      EXPECT_EQ(info->compression, m.compression);
      EXPECT_EQ(info->file_offset, protected_mode_start(layout) + 0x111);
      EXPECT_EQ(info->length, payload.size());
      EXPECT_EQ(info->size_hint, 0x12345678u);
      EXPECT_EQ(std::memcmp(info->magic, payload.data(), 4), 0);
    }
  }
  EXPECT_EQ(std::string(payload_compression_name(PayloadCompression::Lz4)), "LZ4");
}

TEST(KernelPayload, NoPayloadOutsideBzImagesOrBeforeProtocol208) {
  EXPECT_FALSE(bzimage_payload(make_pvh_elf().file).has_value());
  EXPECT_FALSE(bzimage_payload(std::vector<uint8_t>(10, 0)).has_value());
  EXPECT_FALSE(bzimage_payload({}).has_value());
  std::vector<uint8_t> payload(64, 0x1F);
  EXPECT_FALSE(bzimage_payload(make_bzimage(payload, {.version = 0x0207})).has_value());
  EXPECT_TRUE(bzimage_payload(make_bzimage(payload, {.version = 0x0208})).has_value());
}

TEST(KernelPayload, LocationOutsideTheFileIsAnError) {
  std::vector<uint8_t> payload(200, 0);
  payload[0] = 0x1F;
  payload[1] = 0x8B;
  const BzImageLayout layout{};
  const std::vector<uint8_t> good = make_bzimage(payload, layout);
  ASSERT_TRUE(bzimage_payload(good).has_value());
  auto error_of = [](const std::vector<uint8_t>& bz) {
    try {
      bzimage_payload(bz);
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("<no error>");
  };
  const uint32_t room = static_cast<uint32_t>(good.size() - protected_mode_start(layout));
  struct Case { const char* name; uint32_t offset, length; const char* error; };
  const Case cases[] = {
      {"offset past the end", room, 200, "runs past the end"},
      {"offset 0xFFFFFFFF", 0xFFFFFFFF, 200, "runs past the end"},
      {"length past the end", layout.code_before_payload, room - layout.code_before_payload + 1, "runs past the end"},
      {"both huge (no wrap)", 0xFFFFFFFF, 0xFFFFFFFF, "runs past the end"},
      {"empty", layout.code_before_payload, 0, "too short"},
      {"shorter than magic + size", layout.code_before_payload, 7, "too short"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    std::vector<uint8_t> bz = good;
    put<uint32_t>(bz, 0x248, c.offset);
    put<uint32_t>(bz, 0x24C, c.length);
    EXPECT_TRUE(contains(error_of(bz), c.error)) << error_of(bz);
    // Through decompress_on_host: the bzImage protocol takes over, with the reason.
    GuestMemory mem(64 * MiB);
    const LinuxBootResult r = boot(mem, bz, true);
    EXPECT_EQ(r.format, KernelFormat::BzImage);
    EXPECT_EQ(r.boot_cpu.rip, kBzImageEntry);
    EXPECT_TRUE(contains(r.note, "could not decompress the kernel on the host: ")) << r.note;
    EXPECT_TRUE(contains(r.note, c.error)) << r.note;
  }
  // The file ends inside the payload.
  std::vector<uint8_t> cut = good;
  cut.resize(good.size() - layout.code_after_payload - 50);
  EXPECT_TRUE(contains(error_of(cut), "runs past the end")) << error_of(cut);
  // The file ends inside the setup header.
  for (size_t size : {0x206, 0x207, 0x208, 0x24F}) {
    SCOPED_TRACE(size);
    std::vector<uint8_t> stub(good.begin(), good.begin() + static_cast<long>(size));
    EXPECT_TRUE(contains(error_of(stub), "truncated") || contains(error_of(stub), "before its payload_offset"))
        << error_of(stub);
  }
  // A header too short to hold the payload fields (its jump says it ends at 0x242).
  std::vector<uint8_t> short_header = good;
  short_header[0x201] = 0x40;
  EXPECT_TRUE(contains(error_of(short_header), "before its payload_offset")) << error_of(short_header);
  // A location that does not belong to the file is refused by the decompressor too.
  PayloadInfo bogus = *bzimage_payload(good);
  bogus.length = good.size();
  EXPECT_THROW(decompress_kernel_payload(good, bogus), Error);
}

// ---- every format: round trip, PVH boot, hostile streams --------------------------------------

class KernelPayloadFormat : public testing::TestWithParam<Compressor> {
 protected:
  void SetUp() override {
    if (!tool_exists(GetParam().tool)) {
      GTEST_SKIP() << "'" << GetParam().tool << "' is not installed (scripts/install-deps.sh installs it); "
                   << payload_compression_name(GetParam().compression) << " is not tested";
    }
  }
};

TEST_P(KernelPayloadFormat, DecompressesToTheElfAndBootsThroughPvh) {
  const Compressor& c = GetParam();
  const TinyElf elf = make_pvh_elf();
  const std::vector<uint8_t> payload = compress(c, elf.file);
  ASSERT_FALSE(payload.empty());
  const std::vector<uint8_t> bz = make_bzimage(payload);

  const std::optional<PayloadInfo> info = bzimage_payload(bz);
  ASSERT_TRUE(info.has_value());
  EXPECT_EQ(info->compression, c.compression);
  EXPECT_EQ(info->size_hint, elf.file.size());
  EXPECT_EQ(decompress_kernel_payload(bz, *info), elf.file);

  GuestMemory mem(64 * MiB);
  mem.fill(kDataPaddr + kDataSize, 0xAB, kBssSize);  // the bss must be cleared
  const std::vector<uint8_t> initrd = kernel_like_bytes(5000, 9);
  const LinuxBootResult r = boot(mem, bz, true, &initrd, "console=ttyS0 quiet", 0xE0000);
  EXPECT_EQ(r.format, KernelFormat::PvhElf);
  EXPECT_EQ(r.kernel_entry, kPvhEntry);
  EXPECT_EQ(r.boot_cpu.rip, kPvhEntry);
  EXPECT_EQ(r.boot_cpu.gpr[RBX], kBootParamsAddr);
  EXPECT_EQ(r.boot_cpu.cr0 & 0x80000001u, 1u);  // protected mode, paging off
  EXPECT_TRUE(guest_bytes_equal(mem, kTextPaddr, elf.file.data() + kTextOffset, elf.text_size));
  EXPECT_TRUE(guest_bytes_equal(mem, kDataPaddr, elf.file.data() + elf.data_offset, kDataSize));
  const std::vector<uint8_t> zeros(kBssSize, 0);
  EXPECT_TRUE(guest_bytes_equal(mem, kDataPaddr + kDataSize, zeros.data(), kBssSize));
  // hvm_start_info: magic, one module (the initrd), the command line, the RSDP.
  EXPECT_EQ(mem.read_obj<uint32_t>(kBootParamsAddr), 0x336ec578u);
  EXPECT_EQ(mem.read_obj<uint32_t>(kBootParamsAddr + 12), 1u);
  EXPECT_EQ(mem.read_obj<uint64_t>(kBootParamsAddr + 32), 0xE0000u);
  const uint64_t modlist = mem.read_obj<uint64_t>(kBootParamsAddr + 16);
  EXPECT_EQ(mem.read_obj<uint64_t>(modlist), r.initrd_addr);
  EXPECT_EQ(mem.read_obj<uint64_t>(modlist + 8), initrd.size());
  EXPECT_TRUE(guest_bytes_equal(mem, r.initrd_addr, initrd.data(), initrd.size()));
  const uint64_t cmdline = mem.read_obj<uint64_t>(kBootParamsAddr + 24);
  const char expected_cmdline[] = "console=ttyS0 quiet";
  EXPECT_TRUE(guest_bytes_equal(mem, cmdline, reinterpret_cast<const uint8_t*>(expected_cmdline),
                                sizeof(expected_cmdline)));
  EXPECT_EQ(r.note, fmt::format("kernel decompressed on the host ({}, {:.1f} KiB -> {:.1f} KiB), entered through "
                                "its PVH note",
                                payload_compression_name(c.compression), payload.size() / 1024.0,
                                elf.file.size() / 1024.0));

  // Without the option the same file boots as a bzImage, as before, with nothing to say.
  GuestMemory plain(64 * MiB);
  const LinuxBootResult b = boot(plain, bz, false);
  EXPECT_EQ(b.format, KernelFormat::BzImage);
  EXPECT_EQ(b.boot_cpu.rip, kBzImageEntry);
  EXPECT_TRUE(b.note.empty()) << b.note;
}

TEST_P(KernelPayloadFormat, TruncatedStreamIsAnErrorAndTheGuestDecompresses) {
  const Compressor& c = GetParam();
  const std::vector<uint8_t> payload = compress(c, make_pvh_elf().file);
  ASSERT_GT(payload.size(), 64u);
  for (size_t keep : {payload.size() / 2, payload.size() - 12, size_t{9}}) {
    SCOPED_TRACE(keep);
    // The header says the payload is shorter than the stream; the size trailer goes too.
    const std::vector<uint8_t> cut(payload.begin(), payload.begin() + static_cast<long>(keep));
    const std::vector<uint8_t> bz = make_bzimage(cut);
    const std::string err = decompress_error(bz);
    EXPECT_TRUE(contains(err, payload_compression_name(c.compression))) << err;
    EXPECT_TRUE(contains(err, "truncated") || contains(err, "corrupt")) << err;
    GuestMemory mem(64 * MiB);
    const LinuxBootResult r = boot(mem, bz, true);
    EXPECT_EQ(r.format, KernelFormat::BzImage);
    EXPECT_EQ(r.boot_cpu.rip, kBzImageEntry);
    EXPECT_EQ(r.note, "could not decompress the kernel on the host: " + err + kFallbackSuffix);
  }
}

TEST_P(KernelPayloadFormat, CorruptStreamIsAnErrorOrDifferentBytesNeverACrash) {
  const Compressor& c = GetParam();
  const std::vector<uint8_t> elf = make_pvh_elf().file;
  const std::vector<uint8_t> payload = compress(c, elf);
  ASSERT_GT(payload.size(), 64u);
  // Formats with a checksum over the data must notice a flipped byte in the middle.
  const bool checked = c.compression == PayloadCompression::Gzip || c.compression == PayloadCompression::Bzip2 ||
                       c.compression == PayloadCompression::Xz || c.compression == PayloadCompression::Zstd;
  std::vector<uint8_t> flipped = payload;
  flipped[flipped.size() / 2] ^= 0x5A;
  const std::vector<uint8_t> bz = make_bzimage(flipped);
  try {
    const std::vector<uint8_t> out = decompress_kernel_payload(bz, *bzimage_payload(bz));
    EXPECT_FALSE(checked) << "a flipped byte went unnoticed";
    EXPECT_NE(out, elf);
  } catch (const Error& e) {
    EXPECT_TRUE(contains(e.what(), payload_compression_name(c.compression))) << e.what();
  }
  // Random damage: an error or some output, and the boot path either way.
  std::mt19937 rng(static_cast<uint32_t>(c.compression) + 1);
  GuestMemory mem(64 * MiB);
  for (int iter = 0; iter < 150; ++iter) {
    std::vector<uint8_t> damaged = payload;
    const int hits = 1 + static_cast<int>(rng() % 4);
    for (int i = 0; i < hits; ++i) damaged[rng() % damaged.size()] = static_cast<uint8_t>(rng());
    if (iter % 5 == 0) damaged.resize(8 + rng() % (damaged.size() - 8));
    const std::vector<uint8_t> image = make_bzimage(damaged);
    try {
      (void)decompress_kernel_payload(image, *bzimage_payload(image), 1 * MiB);
    } catch (const Error&) {
    }
    const LinuxBootResult r = boot(mem, image, true);
    EXPECT_FALSE(r.note.empty());
  }
}

TEST_P(KernelPayloadFormat, OutputBeyondTheCapIsAnError) {
  const Compressor& c = GetParam();
  const std::vector<uint8_t> zeros(6 * MiB, 0);
  const std::vector<uint8_t> bomb = compress(c, zeros);
  ASSERT_FALSE(bomb.empty());
  const std::vector<uint8_t> bz = make_bzimage(bomb);
  const std::string err = decompress_error(bz, 1 * MiB);
  EXPECT_TRUE(contains(err, "decompresses to more than 1 MiB")) << err;
  EXPECT_TRUE(contains(err, payload_compression_name(c.compression))) << err;
  // A lying size trailer does not make it allocate more, nor hide the excess.
  std::vector<uint8_t> liar = bomb;
  put<uint32_t>(liar, liar.size() - 4, 100);
  EXPECT_TRUE(contains(decompress_error(make_bzimage(liar), 1 * MiB), "more than 1 MiB"));
  // Under the cap it is merely not an ELF kernel.
  const std::string not_elf = decompress_error(bz, 8 * MiB);
  EXPECT_TRUE(contains(not_elf, "6291456 bytes that are not an ELF kernel")) << not_elf;
}

std::string format_test_name(const testing::TestParamInfo<Compressor>& info) {
  return payload_compression_name(info.param.compression);
}

INSTANTIATE_TEST_SUITE_P(KernelPayloadDebianTools, KernelPayloadFormat, testing::ValuesIn(kCompressors), format_test_name);

// ---- fallbacks with a note --------------------------------------------------------------------

TEST(KernelPayload, LzoAndUnknownFormatsFallBackWithANote) {
  std::vector<uint8_t> lzo = {0x89, 'L', 'Z', 'O', 0x00, 0x0D, 0x0A, 0x1A, 0x0A};
  lzo.resize(300, 0x11);
  std::vector<uint8_t> unknown = {0xDE, 0xAD, 0xBE, 0xEF};
  unknown.resize(300, 0x22);
  struct Case { std::vector<uint8_t> payload; std::string reason; };
  const Case cases[] = {
      {lzo, "the bzImage's payload is LZO-compressed, which vireo does not decompress on the host"},
      {unknown, "the bzImage's payload has an unknown compression format (it starts with de ad be ef)"},
  };
  for (const Case& c : cases) {
    const std::vector<uint8_t> bz = make_bzimage(c.payload);
    EXPECT_EQ(decompress_error(bz), c.reason);
    GuestMemory mem(64 * MiB);
    const LinuxBootResult r = boot(mem, bz, true, nullptr, "console=ttyS0", 0xE0000);
    EXPECT_EQ(r.format, KernelFormat::BzImage);
    EXPECT_EQ(r.boot_cpu.rip, kBzImageEntry);
    EXPECT_EQ(r.boot_cpu.gpr[RSI], kBootParamsAddr);
    EXPECT_EQ(mem.read_obj<uint64_t>(kBootParamsAddr + 0x70), 0xE0000u);  // acpi_rsdp_addr in the zero page
    EXPECT_EQ(r.note, "could not decompress the kernel on the host: " + c.reason + kFallbackSuffix);
  }
  // A protocol too old for payload fields.
  const std::vector<uint8_t> old = make_bzimage(lzo, {.version = 0x0207});
  GuestMemory mem(64 * MiB);
  try {
    const LinuxBootResult r = boot(mem, old, true);
    ADD_FAILURE() << "protocol 2.07 booted: " << r.note;
  } catch (const Error& e) {
    // The bzImage loader itself needs 2.12; its error is what the user sees.
    EXPECT_TRUE(contains(e.what(), "2.12")) << e.what();
  }
}

TEST(KernelPayload, ElfWithoutPvhNoteFallsBackWithANote) {
  const Compressor& gzip = kCompressors[0];
  if (!tool_exists(gzip.tool)) GTEST_SKIP() << "'gzip' is not installed (scripts/install-deps.sh installs it)";
  const std::vector<uint8_t> bz = make_bzimage(compress(gzip, make_pvh_elf(0x2000, false).file));
  GuestMemory mem(64 * MiB);
  const LinuxBootResult r = boot(mem, bz, true);
  EXPECT_EQ(r.format, KernelFormat::BzImage);
  EXPECT_EQ(r.boot_cpu.rip, kBzImageEntry);
  EXPECT_EQ(r.note, std::string("the kernel decompressed on the host has no PVH entry note (CONFIG_PVH)") +
                        kFallbackSuffix);
  // An ELF the PVH loader refuses (its text linked below 1 MiB) also falls back.
  std::vector<uint8_t> low = make_pvh_elf().file;
  put<uint64_t>(low, 64 + 24, 0x80000);  // segment 0's p_paddr
  GuestMemory mem2(64 * MiB);
  const LinuxBootResult s = boot(mem2, make_bzimage(compress(gzip, low)), true);
  EXPECT_EQ(s.format, KernelFormat::BzImage);
  EXPECT_EQ(s.boot_cpu.rip, kBzImageEntry);
  EXPECT_TRUE(s.note.starts_with("could not enter the kernel decompressed on the host through its PVH note: ")) << s.note;
  EXPECT_TRUE(contains(s.note, "below 1 MiB")) << s.note;
  EXPECT_TRUE(s.note.ends_with(kFallbackSuffix)) << s.note;
}

// ---- LZ4's legacy frame in detail (built here with liblz4, no tool needed) ----------------------

constexpr size_t kLz4Block = 8 * MiB;

// The lz4 tool's -l layout: magic, then per 8 MiB of input a size-prefixed block; with
// `frame_per_block`, a magic before every block (concatenated frames).
std::vector<uint8_t> lz4_legacy(const std::vector<uint8_t>& data, bool frame_per_block = false) {
  std::vector<uint8_t> out;
  for (size_t at = 0; at < data.size(); at += kLz4Block) {
    if (at == 0 || frame_per_block) append_le32(out, 0x184C2102);
    const size_t n = std::min(kLz4Block, data.size() - at);
    std::vector<char> block(static_cast<size_t>(LZ4_compressBound(static_cast<int>(n))));
    const int size = LZ4_compress_default(reinterpret_cast<const char*>(data.data() + at), block.data(),
                                          static_cast<int>(n), static_cast<int>(block.size()));
    append_le32(out, static_cast<uint32_t>(size));
    out.insert(out.end(), block.begin(), block.begin() + size);
  }
  return out;
}

TEST(KernelPayload, Lz4LegacyFrameWithSeveralBlocksAndFrames) {
  const TinyElf elf = make_pvh_elf(kLz4Block + 12345);  // two blocks, the second partial
  for (bool frame_per_block : {false, true}) {
    SCOPED_TRACE(frame_per_block);
    const std::vector<uint8_t> payload = lz4_legacy(elf.file, frame_per_block);
    // With and without the size trailer the kernel build appends.
    for (bool trailer : {true, false}) {
      std::vector<uint8_t> p = payload;
      if (trailer) append_le32(p, static_cast<uint32_t>(elf.file.size()));
      const std::vector<uint8_t> bz = make_bzimage(p);
      EXPECT_EQ(decompress_kernel_payload(bz, *bzimage_payload(bz)), elf.file);
    }
  }
  // A block size beyond what 8 MiB can compress to, and a block that runs past the payload.
  std::vector<uint8_t> bad = lz4_legacy(elf.file);
  put<uint32_t>(bad, 4, LZ4_compressBound(static_cast<int>(kLz4Block)) + 1);
  EXPECT_TRUE(contains(decompress_error(make_bzimage(bad)), "block 0 claims")) << decompress_error(make_bzimage(bad));
  std::vector<uint8_t> past = lz4_legacy(elf.file);
  past.resize(past.size() - 100);
  EXPECT_TRUE(contains(decompress_error(make_bzimage(past)), "is truncated: block 1 claims"))
      << decompress_error(make_bzimage(past));
  // Only the magic and the trailer: no blocks.
  std::vector<uint8_t> empty = {0x02, 0x21, 0x4C, 0x18, 0, 0, 0, 0};
  EXPECT_TRUE(contains(decompress_error(make_bzimage(empty)), "holds no compressed blocks"));
}

TEST(KernelPayload, ZipBombBeyondTheDefaultCapFallsBack) {
  // 65 blocks of 8 MiB of zeros: 520 MiB from about 2 MB of payload.
  const std::vector<uint8_t> zeros(kLz4Block, 0);
  const std::vector<uint8_t> one = lz4_legacy(zeros);
  std::vector<uint8_t> bomb(one.begin(), one.end());
  for (int i = 1; i < 65; ++i) bomb.insert(bomb.end(), one.begin() + 4, one.end());
  append_le32(bomb, 0);
  const std::vector<uint8_t> bz = make_bzimage(bomb);
  GuestMemory mem(64 * MiB);
  const LinuxBootResult r = boot(mem, bz, true);
  EXPECT_EQ(r.format, KernelFormat::BzImage);
  EXPECT_EQ(r.note, "could not decompress the kernel on the host: the bzImage's LZ4 payload decompresses to more "
                    "than 512 MiB; it is corrupt or hostile" + std::string(kFallbackSuffix));
}

// ---- the Debian kernel (when scripts/make-guest.sh has built it) -----------------------------

const std::string kGuestDir = std::string(VIREO_SOURCE_DIR) + "/build/guest/";

TEST(KernelPayloadRealKernel, DebianVmlinuzDecompressesToItsVmlinux) {
  const std::string vmlinuz_path = kGuestDir + "vmlinuz", vmlinux_path = kGuestDir + "vmlinux";
  if (!std::filesystem::exists(vmlinuz_path) || !std::filesystem::exists(vmlinux_path)) {
    GTEST_SKIP() << vmlinuz_path << " or " << vmlinux_path << " is absent (scripts/make-guest.sh builds them)";
  }
  const std::vector<uint8_t> vmlinuz = read_file(vmlinuz_path, "kernel");
  const std::vector<uint8_t> vmlinux = read_file(vmlinux_path, "kernel");
  const std::optional<PayloadInfo> info = bzimage_payload(vmlinuz);
  ASSERT_TRUE(info.has_value());
  std::cout << "[          ] payload: " << payload_compression_name(info->compression) << ", " << info->length
            << " bytes at " << info->file_offset << ", size trailer " << info->size_hint << "\n";

  const auto start = std::chrono::steady_clock::now();
  const std::vector<uint8_t> out = decompress_kernel_payload(vmlinuz, *info);
  const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  std::cout << "[          ] decompressed " << info->length << " -> " << out.size() << " bytes on the host in "
            << ms << " ms\n";
  RecordProperty("decompress_ms", std::to_string(ms));

  ASSERT_GE(out.size(), vmlinux.size());
  EXPECT_EQ(out.size(), vmlinux.size());
  EXPECT_EQ(info->size_hint, static_cast<uint32_t>(out.size()));
  EXPECT_TRUE(std::equal(vmlinux.begin(), vmlinux.end(), out.begin())) << "decompressed bytes differ from vmlinux";

  // Booted with decompress_on_host: the PVH entry of that vmlinux, its segments in memory.
  const ElfKernel elf = parse_elf_kernel(vmlinux);
  ASSERT_TRUE(elf.pvh_entry.has_value());
  GuestMemory mem(512 * MiB);
  std::vector<uint8_t> initrd;
  if (std::filesystem::exists(kGuestDir + "initramfs.cpio.gz")) initrd = read_file(kGuestDir + "initramfs.cpio.gz", "initrd");
  const LinuxBootResult r = boot(mem, vmlinuz, true, initrd.empty() ? nullptr : &initrd, "console=ttyS0", 0xE0000);
  std::cout << "[          ] note: " << r.note << "\n";
  EXPECT_EQ(r.format, KernelFormat::PvhElf);
  EXPECT_EQ(r.kernel_entry, *elf.pvh_entry);
  EXPECT_EQ(r.boot_cpu.rip, *elf.pvh_entry);
  for (const ElfLoadSegment& seg : elf.segments) {
    EXPECT_TRUE(guest_bytes_equal(mem, seg.paddr, vmlinux.data() + seg.file_offset, seg.file_size))
        << "segment at " << seg.paddr;
  }
  if (!initrd.empty()) {
    EXPECT_TRUE(guest_bytes_equal(mem, r.initrd_addr, initrd.data(), initrd.size()));
  }
  EXPECT_TRUE(r.note.starts_with("kernel decompressed on the host (LZ4, ")) << r.note;
  EXPECT_TRUE(r.note.ends_with(" MiB), entered through its PVH note")) << r.note;
}

}  // namespace
