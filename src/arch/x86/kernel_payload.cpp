// bzimage_payload and decompress_kernel_payload: find the compressed kernel through the
// setup header and undo the kernel build's compression with the host's libraries.
#include "arch/x86/kernel_payload.h"

#include <bzlib.h>
#include <lz4.h>
#include <lzma.h>
#include <zlib.h>
#include <zstd.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>

#include "arch/x86/boot_params.h"
#include "arch/x86/elf_kernel.h"
#include "arch/x86/linux_boot.h"
#include "base/error.h"

namespace vireo::x86 {

namespace {

// boot.rst: payload_offset and payload_length exist from protocol 2.08.
constexpr uint16_t kBootProtocolPayload = 0x0208;
constexpr size_t kPayloadOffsetField = kSetupHeaderOffset + offsetof(SetupHeader, payload_offset);
constexpr size_t kPayloadLengthField = kSetupHeaderOffset + offsetof(SetupHeader, payload_length);
constexpr size_t kPayloadFieldsEnd = kPayloadLengthField + sizeof(uint32_t);
static_assert(kPayloadOffsetField == 0x248 && kPayloadLengthField == 0x24C);
constexpr size_t kVersionField = kSetupHeaderOffset + offsetof(SetupHeader, version);
constexpr size_t kSetupSectsField = kSetupHeaderOffset + offsetof(SetupHeader, setup_sects);
constexpr size_t kHeaderJumpOperand = 0x201;  // header length - 0x202 (boot.rst, "jump")

// The shortest payload that holds a compressor's magic and the 4-byte size trailer.
constexpr uint64_t kMinPayloadLength = 8;

// LZ4's legacy frame (the lz4 tool's -l output, which the kernel build uses): a magic,
// then blocks, each a 32-bit little-endian compressed size and that many bytes, each
// decompressing to at most 8 MiB.
constexpr uint32_t kLz4LegacyMagic = 0x184C2102;
constexpr size_t kLz4LegacyBlockMax = size_t{8} << 20;

// The streaming decompressors write into the output in pieces of at least this much.
constexpr size_t kStreamChunk = size_t{64} << 10;
// No single library call is handed more than this (zlib and bzip2 count in 32 bits).
constexpr size_t kMaxCallBytes = size_t{1} << 30;

// Kernels compress by a factor of 3 to 6; the output buffer starts no larger than this
// factor times the input, whatever the size hint says.
constexpr uint64_t kPlausibleRatio = 8;

// liblzma may allocate this much for its dictionary; a kernel's XZ or LZMA stream needs
// at most a few tens of MiB, a hostile header could ask for 4 GiB.
constexpr uint64_t kLzmaMemoryLimit = uint64_t{256} << 20;

template <typename T>
T load_le(const uint8_t* p) {
  T value;
  std::memcpy(&value, p, sizeof(T));  // x86 hosts only: little-endian like the file
  return value;
}

PayloadCompression identify_compression(const uint8_t* p, uint64_t length) {
  auto starts_with = [&](std::initializer_list<uint8_t> magic) {
    return length >= magic.size() && std::equal(magic.begin(), magic.end(), p);
  };
  if (starts_with({0x1F, 0x8B})) return PayloadCompression::Gzip;
  if (starts_with({'B', 'Z', 'h'})) return PayloadCompression::Bzip2;
  if (starts_with({0x5D, 0x00, 0x00})) return PayloadCompression::Lzma;
  if (starts_with({0xFD, '7', 'z', 'X', 'Z', 0x00})) return PayloadCompression::Xz;
  if (starts_with({0x89, 'L', 'Z', 'O'})) return PayloadCompression::Lzo;
  if (starts_with({0x02, 0x21, 0x4C, 0x18})) return PayloadCompression::Lz4;
  if (starts_with({0x28, 0xB5, 0x2F, 0xFD})) return PayloadCompression::Zstd;
  return PayloadCompression::Unknown;
}

std::string describe_bytes(uint64_t bytes) {
  if (bytes % (uint64_t{1} << 20) == 0) return fmt::format("{} MiB", bytes >> 20);
  return fmt::format("{} bytes", bytes);
}

// Where a decompressor writes: a buffer that grows on demand and never beyond the
// limit plus one piece, so exceeding the limit is detected without allocating more.
class OutputBuffer {
 public:
  // The first allocation follows the size hint, but no further than a kernel's
  // compression ratio makes plausible, so a lying hint costs nothing.
  OutputBuffer(PayloadCompression compression, uint64_t max_output, uint32_t size_hint, uint64_t input_length,
               size_t piece)
      : compression_(compression), max_(max_output), piece_(piece) {
    out_.resize(std::min({uint64_t{size_hint}, max_, input_length * kPlausibleRatio}) + piece_);
  }

  // At least one piece of free space; `*avail` is how much.
  uint8_t* space(size_t* avail) {
    if (out_.size() - used_ < piece_) {
      const uint64_t grown = std::max<uint64_t>(used_ + piece_, out_.size() + out_.size() / 2);
      out_.resize(std::min<uint64_t>(grown, max_ + piece_));
    }
    *avail = out_.size() - used_;
    return out_.data() + used_;
  }

  void advance(size_t produced) {
    used_ += produced;
    if (used_ > max_) {
      fail("the bzImage's {} payload decompresses to more than {}; it is corrupt or hostile",
           payload_compression_name(compression_), describe_bytes(max_));
    }
  }

  size_t used() const { return used_; }

  std::vector<uint8_t> take() {
    out_.resize(used_);
    return std::move(out_);
  }

 private:
  PayloadCompression compression_;
  uint64_t max_;
  size_t piece_;
  std::vector<uint8_t> out_;
  size_t used_ = 0;
};

[[noreturn]] void fail_stream(PayloadCompression compression, std::string_view problem) {
  fail("the bzImage's {} payload {}", payload_compression_name(compression), problem);
}

[[noreturn]] void fail_truncated(PayloadCompression compression) {
  fail_stream(compression, "is truncated: the compressed stream ends before its end marker");
}

void inflate_gzip(const uint8_t* in, size_t length, OutputBuffer& out) {
  z_stream s{};
  // 16 + MAX_WBITS: a gzip wrapper (RFC 1952) around deflate, nothing else accepted.
  if (inflateInit2(&s, 16 + MAX_WBITS) != Z_OK) fail("zlib could not start a gzip decoder (out of memory?)");
  std::unique_ptr<z_stream, int (*)(z_stream*)> end(&s, inflateEnd);
  s.next_in = const_cast<Bytef*>(in);
  s.avail_in = static_cast<uInt>(length);  // payload_length is a 32-bit field
  for (;;) {
    size_t avail;
    uint8_t* dst = out.space(&avail);
    s.next_out = dst;
    s.avail_out = static_cast<uInt>(std::min(avail, kMaxCallBytes));
    const uInt in_before = s.avail_in, out_before = s.avail_out;
    const int rc = inflate(&s, Z_NO_FLUSH);
    out.advance(out_before - s.avail_out);
    if (rc == Z_STREAM_END) return;  // the gzip trailer (CRC-32, ISIZE) is checked
    if (rc != Z_OK && rc != Z_BUF_ERROR) {
      fail_stream(PayloadCompression::Gzip, fmt::format("is corrupt: {}", s.msg ? s.msg : "zlib error"));
    }
    if (s.avail_in == 0 && s.avail_out != 0) fail_truncated(PayloadCompression::Gzip);
    if (s.avail_in == in_before && s.avail_out == out_before) fail_stream(PayloadCompression::Gzip, "is corrupt");
  }
}

void decompress_bzip2(const uint8_t* in, size_t length, OutputBuffer& out) {
  bz_stream s{};
  if (BZ2_bzDecompressInit(&s, 0, 0) != BZ_OK) fail("libbz2 could not start a decoder (out of memory?)");
  std::unique_ptr<bz_stream, int (*)(bz_stream*)> end(&s, BZ2_bzDecompressEnd);
  s.next_in = reinterpret_cast<char*>(const_cast<uint8_t*>(in));
  s.avail_in = static_cast<unsigned>(length);
  for (;;) {
    size_t avail;
    uint8_t* dst = out.space(&avail);
    s.next_out = reinterpret_cast<char*>(dst);
    s.avail_out = static_cast<unsigned>(std::min(avail, kMaxCallBytes));
    const unsigned in_before = s.avail_in, out_before = s.avail_out;
    const int rc = BZ2_bzDecompress(&s);
    out.advance(out_before - s.avail_out);
    if (rc == BZ_STREAM_END) return;  // block and stream CRCs are checked
    if (rc == BZ_MEM_ERROR) fail("libbz2 ran out of memory decompressing the kernel");
    if (rc != BZ_OK) fail_stream(PayloadCompression::Bzip2, fmt::format("is corrupt (libbz2 error {})", rc));
    if (s.avail_in == 0 && s.avail_out != 0) fail_truncated(PayloadCompression::Bzip2);
    if (s.avail_in == in_before && s.avail_out == out_before) fail_stream(PayloadCompression::Bzip2, "is corrupt");
  }
}

const char* lzma_problem(lzma_ret rc) {
  switch (rc) {
    case LZMA_MEM_ERROR: return "could not be decoded: out of memory";
    case LZMA_MEMLIMIT_ERROR: return "needs a larger dictionary than any kernel uses (more than 256 MiB)";
    case LZMA_FORMAT_ERROR: return "is not in the format its magic announces";
    case LZMA_OPTIONS_ERROR: return "uses compression options liblzma does not support";
    case LZMA_DATA_ERROR: return "is corrupt";
    case LZMA_BUF_ERROR: return "is truncated: the compressed stream ends before its end marker";
    default: return "could not be decoded (liblzma error)";
  }
}

// XZ (the kernel build adds the x86 BCJ filter, which liblzma's stream decoder applies)
// and the legacy .lzma ("LZMA alone") format.
void decompress_lzma(PayloadCompression compression, const uint8_t* in, size_t length, OutputBuffer& out) {
  lzma_stream s = LZMA_STREAM_INIT;
  lzma_ret rc = compression == PayloadCompression::Xz ? lzma_stream_decoder(&s, kLzmaMemoryLimit, 0)
                                                      : lzma_alone_decoder(&s, kLzmaMemoryLimit);
  if (rc != LZMA_OK) fail("liblzma could not start a decoder (out of memory?)");
  std::unique_ptr<lzma_stream, void (*)(lzma_stream*)> end(&s, lzma_end);
  s.next_in = in;
  s.avail_in = length;
  for (;;) {
    size_t avail;
    s.next_out = out.space(&avail);
    s.avail_out = avail;
    rc = lzma_code(&s, LZMA_FINISH);
    out.advance(avail - s.avail_out);
    if (rc == LZMA_STREAM_END) return;  // whatever follows (the size trailer) is ignored
    if (rc != LZMA_OK) fail_stream(compression, lzma_problem(rc));
  }
}

void decompress_zstd(const uint8_t* in, size_t length, OutputBuffer& out) {
  std::unique_ptr<ZSTD_DCtx, size_t (*)(ZSTD_DCtx*)> ctx(ZSTD_createDCtx(), ZSTD_freeDCtx);
  if (!ctx) fail("libzstd could not start a decoder (out of memory?)");
  // The default window limit (2^27 bytes) is what `zstd -22 --ultra`, the kernel's
  // setting, needs; a stream asking for more is refused by the library.
  ZSTD_inBuffer src{in, length, 0};
  for (;;) {
    size_t avail;
    uint8_t* dst = out.space(&avail);
    ZSTD_outBuffer sink{dst, avail, 0};
    const size_t rc = ZSTD_decompressStream(ctx.get(), &sink, &src);
    out.advance(sink.pos);
    if (ZSTD_isError(rc)) fail_stream(PayloadCompression::Zstd, fmt::format("is corrupt: {}", ZSTD_getErrorName(rc)));
    if (rc == 0) return;  // the frame is complete (its checksum, if any, verified)
    if (src.pos == src.size && sink.pos < sink.size) fail_truncated(PayloadCompression::Zstd);
  }
}

// The kernel's payload ends with the 4-byte size trailer, which cannot be a block: a
// block is a 4-byte size and at least one byte.
void decompress_lz4_legacy(const uint8_t* in, size_t length, OutputBuffer& out) {
  constexpr PayloadCompression kLz4 = PayloadCompression::Lz4;
  const uint32_t max_block = LZ4_compressBound(static_cast<int>(kLz4LegacyBlockMax));
  size_t pos = sizeof(kLz4LegacyMagic);
  size_t blocks = 0;
  while (length - pos > sizeof(uint32_t)) {
    const uint32_t block_size = load_le<uint32_t>(in + pos);
    if (block_size == kLz4LegacyMagic) {  // frames may be concatenated
      pos += sizeof(uint32_t);
      continue;
    }
    if (block_size == 0 || block_size > max_block) {
      fail_stream(kLz4, fmt::format("is corrupt: block {} claims {} compressed bytes (at most {} are possible)",
                                    blocks, block_size, max_block));
    }
    pos += sizeof(uint32_t);
    if (block_size > length - pos) {
      fail_stream(kLz4, fmt::format("is truncated: block {} claims {} bytes, {} remain", blocks, block_size,
                                    length - pos));
    }
    size_t avail;
    char* dst = reinterpret_cast<char*>(out.space(&avail));
    const int produced = LZ4_decompress_safe(reinterpret_cast<const char*>(in + pos), dst,
                                             static_cast<int>(block_size),
                                             static_cast<int>(std::min(avail, kLz4LegacyBlockMax)));
    if (produced < 0) fail_stream(kLz4, fmt::format("is corrupt: block {} does not decode", blocks));
    out.advance(static_cast<size_t>(produced));
    pos += block_size;
    ++blocks;
  }
  if (blocks == 0) fail_stream(kLz4, "holds no compressed blocks");
}

}  // namespace

const char* payload_compression_name(PayloadCompression compression) {
  switch (compression) {
    case PayloadCompression::Gzip: return "gzip";
    case PayloadCompression::Bzip2: return "bzip2";
    case PayloadCompression::Lzma: return "LZMA";
    case PayloadCompression::Xz: return "XZ";
    case PayloadCompression::Lzo: return "LZO";
    case PayloadCompression::Lz4: return "LZ4";
    case PayloadCompression::Zstd: return "ZSTD";
    case PayloadCompression::Unknown: break;
  }
  return "unknown";
}

std::optional<PayloadInfo> bzimage_payload(const std::vector<uint8_t>& bzimage) {
  if (detect_kernel_format(bzimage) != KernelFormat::BzImage) return std::nullopt;
  if (bzimage.size() < kVersionField + sizeof(uint16_t)) fail("bzImage setup header is truncated");
  if (load_le<uint16_t>(bzimage.data() + kVersionField) < kBootProtocolPayload) return std::nullopt;
  // The fields must be inside both the header (its length is given by the jump at 0x201)
  // and the file.
  const size_t header_end = 0x202 + size_t{bzimage[kHeaderJumpOperand]};
  if (header_end < kPayloadFieldsEnd || bzimage.size() < kPayloadFieldsEnd) {
    fail("bzImage setup header ends at {:#x}, before its payload_offset and payload_length fields",
         std::min(header_end, bzimage.size()));
  }
  // The offset counts from the protected-mode code, after the boot sector and setup_sects
  // sectors of setup code; setup_sects 0 means 4 (boot.rst, "payload_offset").
  const uint64_t setup_sects = bzimage[kSetupSectsField] == 0 ? 4 : bzimage[kSetupSectsField];
  const uint64_t protected_mode_start = (setup_sects + 1) * 512;
  const uint64_t offset = load_le<uint32_t>(bzimage.data() + kPayloadOffsetField);
  const uint64_t length = load_le<uint32_t>(bzimage.data() + kPayloadLengthField);
  if (length < kMinPayloadLength) fail("bzImage payload_length is {}, too short for a compressed kernel", length);
  const uint64_t file_offset = protected_mode_start + offset;  // no overflow: both < 2^33
  if (file_offset > bzimage.size() || length > bzimage.size() - file_offset) {
    fail("bzImage payload ({} bytes at file offset {:#x}) runs past the end of the {}-byte file; the file is "
         "truncated or corrupt",
         length, file_offset, bzimage.size());
  }
  PayloadInfo info;
  const uint8_t* payload = bzimage.data() + file_offset;
  info.compression = identify_compression(payload, length);
  info.file_offset = file_offset;
  info.length = length;
  info.size_hint = load_le<uint32_t>(payload + length - sizeof(uint32_t));
  std::memcpy(info.magic, payload, sizeof(info.magic));
  return info;
}

std::vector<uint8_t> decompress_kernel_payload(const std::vector<uint8_t>& bzimage, const PayloadInfo& info,
                                               uint64_t max_output) {
  if (info.file_offset > bzimage.size() || info.length > bzimage.size() - info.file_offset ||
      info.length < kMinPayloadLength) {
    fail("the payload location ({} bytes at {:#x}) does not fit the {}-byte bzImage", info.length, info.file_offset,
         bzimage.size());
  }
  const uint8_t* in = bzimage.data() + info.file_offset;
  const size_t length = info.length;
  const PayloadCompression compression = info.compression;
  OutputBuffer out(compression, max_output, info.size_hint, length,
                   compression == PayloadCompression::Lz4 ? kLz4LegacyBlockMax : kStreamChunk);
  switch (compression) {
    case PayloadCompression::Gzip: inflate_gzip(in, length, out); break;
    case PayloadCompression::Bzip2: decompress_bzip2(in, length, out); break;
    case PayloadCompression::Lzma:
    case PayloadCompression::Xz: decompress_lzma(compression, in, length, out); break;
    case PayloadCompression::Lz4: decompress_lz4_legacy(in, length, out); break;
    case PayloadCompression::Zstd: decompress_zstd(in, length, out); break;
    case PayloadCompression::Lzo:
      fail("the bzImage's payload is LZO-compressed, which vireo does not decompress on the host");
    case PayloadCompression::Unknown:
      fail("the bzImage's payload has an unknown compression format (it starts with {:02x} {:02x} {:02x} {:02x})",
           info.magic[0], info.magic[1], info.magic[2], info.magic[3]);
  }
  std::vector<uint8_t> vmlinux = out.take();
  if (!has_elf_magic(vmlinux)) {
    fail("the bzImage's {} payload decompresses to {} bytes that are not an ELF kernel",
         payload_compression_name(compression), vmlinux.size());
  }
  return vmlinux;
}

}  // namespace vireo::x86
