// load_bzimage: the 64-bit Linux boot protocol (Documentation/arch/x86/boot.rst,
// "64-bit Boot Protocol"): the protected-mode kernel at 1 MiB, a zero page built from
// the file's setup header, and a vCPU in 64-bit mode at the kernel's start + 0x200.
#include <algorithm>
#include <cassert>
#include <cstring>

#include "arch/x86/boot_cpu.h"
#include "arch/x86/boot_params.h"
#include "arch/x86/kernel_loading.h"
#include "arch/x86/layout.h"
#include "base/error.h"

namespace vireo::x86 {

namespace {

uint64_t saturating_add(uint64_t a, uint64_t b) { return b > UINT64_MAX - a ? UINT64_MAX : a + b; }

bool is_power_of_two(uint64_t v) { return v != 0 && (v & (v - 1)) == 0; }

// Reads the setup header out of the file and checks that the kernel speaks a protocol
// vireo can use. Returns the header and the number of header bytes present in the file
// (counted from 0x1F1).
SetupHeader read_setup_header(const std::vector<uint8_t>& image, size_t* header_bytes) {
  constexpr size_t kVersionEnd = offsetof(BootParams, hdr) + offsetof(SetupHeader, version) + sizeof(uint16_t);
  if (image.size() < kVersionEnd) fail("bzImage setup header is truncated ({} bytes in the file)", image.size());
  uint16_t version;
  std::memcpy(&version, image.data() + kVersionEnd - sizeof(version), sizeof(version));
  if (version < kBootProtocol64) {
    fail("uses boot protocol {}.{:02}, which does not support the 64-bit boot protocol (2.12 or newer is needed)",
         version >> 8, version & 0xff);
  }
  // The header's length is given by the operand of the jump at 0x200 (boot.rst, "Details
  // of header fields": "jump"). Never copy past the space boot_params reserves for it.
  const size_t header_end = std::min<size_t>(0x202 + image[0x201], kSetupHeaderMaxEnd);
  if (header_end < kSetupHeaderMinEnd) {
    fail("bzImage setup header ends at {:#x}, too short for boot protocol {}.{:02}", header_end, version >> 8,
         version & 0xff);
  }
  if (image.size() < header_end) fail("bzImage setup header is truncated ({} bytes in the file)", image.size());
  SetupHeader hdr{};
  *header_bytes = header_end - kSetupHeaderOffset;
  std::memcpy(&hdr, image.data() + kSetupHeaderOffset, std::min(*header_bytes, sizeof(hdr)));
  if (!(hdr.xloadflags & kXlfKernel64)) {
    fail("does not support the 64-bit boot protocol (XLF_KERNEL_64 is clear in xloadflags); use a 64-bit kernel");
  }
  return hdr;
}

}  // namespace

LinuxBootResult load_bzimage(GuestMemory& mem, const LinuxBootSpec& spec) {
  const std::vector<uint8_t>& image = *spec.kernel;
  size_t header_bytes = 0;
  const SetupHeader hdr = read_setup_header(image, &header_bytes);

  // The protected-mode kernel follows the boot sector and setup_sects sectors of setup
  // code; setup_sects == 0 means 4 (boot.rst, "Loading the rest of the kernel").
  const uint64_t setup_sects = hdr.setup_sects == 0 ? 4 : hdr.setup_sects;
  const uint64_t kernel_offset = (setup_sects + 1) * 512;
  if (kernel_offset >= image.size()) {
    fail("bzImage is truncated: its setup code takes {} bytes, the file has only {}", kernel_offset, image.size());
  }
  const uint64_t kernel_size = image.size() - kernel_offset;

  // Where the kernel really runs: a relocatable kernel decompresses itself at its load
  // address rounded up to kernel_alignment, but never below its link address
  // (pref_address); a non-relocatable one at its link address. From there it needs
  // init_size bytes (boot.rst, "init_size"). Hostile values only make the region larger.
  uint64_t run_base = kKernelLoadAddr;
  if (hdr.relocatable_kernel && is_power_of_two(hdr.kernel_alignment)) {
    run_base = (kKernelLoadAddr + hdr.kernel_alignment - 1) & ~(uint64_t{hdr.kernel_alignment} - 1);
  }
  run_base = std::max<uint64_t>(run_base, uint64_t{hdr.pref_address});  // a copy: hdr is packed
  const uint64_t kernel_end = std::max(kKernelLoadAddr + kernel_size, saturating_add(run_base, hdr.init_size));
  if (kernel_end > mem.low_ram_end()) fail_needs_memory(mem, kernel_end, "to decompress and run");

  mem.write(kKernelLoadAddr, image.data() + kernel_offset, kernel_size);

  // The zero page: all zero but for the setup header copied from the file to the same
  // offset, then the fields a boot loader must fill (boot.rst, "The real-mode kernel
  // header", fields marked "write" / "modify").
  BootParams params{};
  std::memcpy(reinterpret_cast<uint8_t*>(&params) + kSetupHeaderOffset, image.data() + kSetupHeaderOffset,
              header_bytes);
  params.hdr.vid_mode = kVidModeNormal;
  params.hdr.type_of_loader = kLoaderTypeUndefined;
  params.hdr.loadflags |= kLoadedHigh | kCanUseHeap;
  params.hdr.heap_end_ptr = 0xfe00;  // only used by the real-mode setup code, which is skipped
  params.hdr.cmd_line_ptr = static_cast<uint32_t>(kCmdlineAddr);
  params.ext_cmd_line_ptr = static_cast<uint32_t>(kCmdlineAddr >> 32);
  write_kernel_cmdline(mem, spec.cmdline, hdr.cmdline_size);

  LinuxBootResult result{};
  result.format = KernelFormat::BzImage;
  if (spec.initrd && !spec.initrd->empty()) {
    // initrd_addr_max is the highest address the initrd may occupy (inclusive).
    const uint64_t limit = std::min(uint64_t{hdr.initrd_addr_max} + 1, mem.low_ram_end());
    result.initrd_addr = place_initrd(mem, *spec.initrd, kernel_end, limit);
    result.initrd_size = spec.initrd->size();
    params.hdr.ramdisk_image = static_cast<uint32_t>(result.initrd_addr);
    params.hdr.ramdisk_size = static_cast<uint32_t>(result.initrd_size);
    params.ext_ramdisk_image = static_cast<uint32_t>(result.initrd_addr >> 32);
    params.ext_ramdisk_size = static_cast<uint32_t>(result.initrd_size >> 32);
  }

  const std::vector<E820Entry> e820 = build_e820(mem);
  assert(e820.size() <= kZeroPageE820Max);
  params.e820_entries = static_cast<uint8_t>(e820.size());
  for (size_t i = 0; i < e820.size(); ++i) params.e820_table[i] = {e820[i].addr, e820[i].size, e820[i].type};
  if (spec.rsdp_addr != 0) params.acpi_rsdp_addr = spec.rsdp_addr;
  mem.write_obj(kBootParamsAddr, params);

  // Entry (boot.rst, "64-bit Boot Protocol"): 64-bit mode, paging on with an identity
  // map covering the kernel, zero page and command line; __BOOT_CS 0x10 and __BOOT_DS
  // 0x18 flat; interrupts off; rsi = the zero page.
  write_boot_gdt(mem);
  write_identity_page_tables(mem);
  result.kernel_entry = kKernelLoadAddr + kEntry64Offset;
  result.boot_cpu = long_mode_boot_state();
  result.boot_cpu.rip = result.kernel_entry;
  result.boot_cpu.gpr[RSP] = kBootStackTop;
  result.boot_cpu.gpr[RSI] = kBootParamsAddr;
  return result;
}

}  // namespace vireo::x86
