// The compressed kernel inside a bzImage: where the setup header says it is, which
// compressor made it, and its decompression on the host into the ELF vmlinux the
// bzImage's own decompressor would produce in the guest (Documentation/arch/x86/boot.rst,
// "payload_offset" and "payload_length"). The file is hostile input: every offset and
// length is checked, and the output is capped so a "zip bomb" is an error, not an OOM.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

namespace vireo::x86 {

enum class PayloadCompression { Gzip, Bzip2, Lzma, Xz, Lzo, Lz4, Zstd, Unknown };

// "gzip", "bzip2", "LZMA", "XZ", "LZO", "LZ4", "ZSTD", "unknown".
const char* payload_compression_name(PayloadCompression compression);

struct PayloadInfo {
  PayloadCompression compression = PayloadCompression::Unknown;
  uint64_t file_offset = 0;  // of the payload's first byte in the bzImage file
  uint64_t length = 0;       // payload_length, > 4 and inside the file
  // The last 4 bytes of the payload: the uncompressed size modulo 2^32, which the kernel
  // build appends (gzip's own trailer holds the same value). A hint only: hostile.
  uint32_t size_hint = 0;
  uint8_t magic[4] = {};     // the payload's first bytes, for messages about unknown formats
};

// Locates the payload of a bzImage through its setup header (boot protocol 2.08 or newer).
// Returns nullopt when the file is not a bzImage or its protocol predates the payload
// fields. Throws vireo::Error when the header describes a payload that is empty or lies
// outside the file. An unrecognised compressor gives compression == Unknown.
std::optional<PayloadInfo> bzimage_payload(const std::vector<uint8_t>& bzimage);

// The largest kernel decompress_kernel_payload produces by default.
constexpr uint64_t kMaxDecompressedKernel = uint64_t{512} << 20;

// Decompresses the payload `info` describes (as returned by bzimage_payload for the same
// file) and checks that the result is an ELF file. Supports gzip, bzip2, LZMA, XZ, LZ4
// (legacy frame) and ZSTD; LZO and unknown formats are errors. Throws vireo::Error for a
// corrupt or truncated stream, output beyond `max_output` bytes, or a non-ELF result.
std::vector<uint8_t> decompress_kernel_payload(const std::vector<uint8_t>& bzimage, const PayloadInfo& info,
                                               uint64_t max_output = kMaxDecompressedKernel);

}  // namespace vireo::x86
