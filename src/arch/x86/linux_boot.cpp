// detect_kernel_format and load_linux: recognise a Linux kernel image and hand it to the
// loader for its format (kernel_loading.h).
#include "arch/x86/linux_boot.h"

#include <cassert>
#include <cstring>
#include <optional>
#include <string>

#include "arch/x86/boot_params.h"
#include "arch/x86/elf_kernel.h"
#include "arch/x86/kernel_loading.h"
#include "arch/x86/kernel_payload.h"
#include "base/error.h"

namespace vireo::x86 {

namespace {

// boot.rst: boot_flag 0xAA55 at 0x1FE and the "HdrS" magic at 0x202.
bool is_bzimage(const std::vector<uint8_t>& image) {
  constexpr size_t kBootFlagOffset = kSetupHeaderOffset + offsetof(SetupHeader, boot_flag);
  constexpr size_t kHeaderOffset = kSetupHeaderOffset + offsetof(SetupHeader, header);
  if (image.size() < kHeaderOffset + sizeof(uint32_t)) return false;
  uint16_t boot_flag;
  uint32_t magic;
  std::memcpy(&boot_flag, image.data() + kBootFlagOffset, sizeof(boot_flag));
  std::memcpy(&magic, image.data() + kHeaderOffset, sizeof(magic));
  return boot_flag == kBootFlag && magic == kHdrSMagic;
}

// ---- decompress_on_host: a bzImage's kernel decompressed here, entered through PVH ----

std::string describe_size(uint64_t bytes) {
  if (bytes >= (uint64_t{1} << 20)) return fmt::format("{:.1f} MiB", static_cast<double>(bytes) / (1 << 20));
  if (bytes >= (uint64_t{1} << 10)) return fmt::format("{:.1f} KiB", static_cast<double>(bytes) / (1 << 10));
  return fmt::format("{} bytes", bytes);
}

// Returns the PVH boot of the decompressed kernel, or nullopt with `*why_not` set.
std::optional<LinuxBootResult> try_pvh_boot_of_payload(GuestMemory& mem, const LinuxBootSpec& spec,
                                                       std::string* why_not) {
  const std::vector<uint8_t>& bzimage = *spec.kernel;
  constexpr const char* kFallback = "; the guest decompresses itself";
  std::optional<PayloadInfo> payload;
  std::vector<uint8_t> vmlinux;
  try {
    payload = bzimage_payload(bzimage);
    if (!payload) fail("its boot protocol predates the payload fields (2.08)");
    vmlinux = decompress_kernel_payload(bzimage, *payload);
  } catch (const Error& e) {
    *why_not = fmt::format("could not decompress the kernel on the host: {}{}", e.what(), kFallback);
    return std::nullopt;
  }
  try {
    if (!parse_elf_kernel(vmlinux).pvh_entry) {
      *why_not = fmt::format("the kernel decompressed on the host has no PVH entry note (CONFIG_PVH){}", kFallback);
      return std::nullopt;
    }
  } catch (const Error& e) {
    *why_not = fmt::format("the kernel decompressed on the host is not a loadable ELF file: {}{}", e.what(), kFallback);
    return std::nullopt;
  }
  LinuxBootSpec elf_spec = spec;
  elf_spec.kernel = &vmlinux;
  try {
    LinuxBootResult result = load_pvh_elf(mem, elf_spec);
    result.note = fmt::format("kernel decompressed on the host ({}, {} -> {}), entered through its PVH note",
                              payload_compression_name(payload->compression), describe_size(payload->length),
                              describe_size(vmlinux.size()));
    return result;
  } catch (const Error& e) {
    *why_not = fmt::format("could not enter the kernel decompressed on the host through its PVH note: {}{}", e.what(),
                           kFallback);
    return std::nullopt;
  }
}

LinuxBootResult load_bzimage_through_host_decompression(GuestMemory& mem, const LinuxBootSpec& spec) {
  std::string why_not;
  if (std::optional<LinuxBootResult> pvh = try_pvh_boot_of_payload(mem, spec, &why_not)) return std::move(*pvh);
  LinuxBootResult result = load_bzimage(mem, spec);
  result.note = why_not;
  return result;
}

}  // namespace

KernelFormat detect_kernel_format(const std::vector<uint8_t>& image) {
  if (is_bzimage(image)) return KernelFormat::BzImage;
  if (has_elf_magic(image)) {
    try {
      if (parse_elf_kernel(image).pvh_entry) return KernelFormat::PvhElf;
    } catch (const Error&) {
      // A malformed ELF is not a kernel vireo can boot; load_linux says why.
    }
  }
  return KernelFormat::Unknown;
}

LinuxBootResult load_linux(GuestMemory& mem, const LinuxBootSpec& spec) {
  assert(spec.kernel != nullptr);
  const std::vector<uint8_t>& image = *spec.kernel;
  if (image.empty()) fail("the file is empty");
  if (is_bzimage(image)) {
    if (spec.decompress_on_host) return load_bzimage_through_host_decompression(mem, spec);
    return load_bzimage(mem, spec);
  }
  if (has_elf_magic(image)) return load_pvh_elf(mem, spec);
  fail("is not a Linux kernel: neither a bzImage (no \"HdrS\" setup header) nor an ELF vmlinux");
}

}  // namespace vireo::x86
