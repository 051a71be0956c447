// detect_kernel_format and load_linux: recognise a Linux kernel image and hand it to the
// loader for its format (kernel_loading.h).
#include "arch/x86/linux_boot.h"

#include <cassert>
#include <cstring>

#include "arch/x86/boot_params.h"
#include "arch/x86/elf_kernel.h"
#include "arch/x86/kernel_loading.h"
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
  if (is_bzimage(image)) return load_bzimage(mem, spec);
  if (has_elf_magic(image)) return load_pvh_elf(mem, spec);
  fail("is not a Linux kernel: neither a bzImage (no \"HdrS\" setup header) nor an ELF vmlinux");
}

}  // namespace vireo::x86
