// The Linux x86 "zero page" (struct boot_params) and the real-mode kernel header
// (struct setup_header) it embeds, as packed little-endian layouts.
//
// Offsets follow Documentation/arch/x86/boot.rst ("The real-mode kernel header") and
// Documentation/arch/x86/zero-page.rst; every field a loader reads or writes is pinned
// with a static_assert on its offset.
#pragma once

#include <cstddef>
#include <cstdint>

namespace vireo::x86 {

// The setup header: in a bzImage file it starts at file offset 0x1F1, and it is copied
// to the same offset in boot_params. Its real length is 0x202 + the byte at 0x201
// (the operand of the short jump at 0x200), so newer kernels may have more fields.
#pragma pack(push, 1)
struct SetupHeader {
  uint8_t setup_sects;           // 0x1F1  size of the setup code in 512-byte sectors (0 means 4)
  uint16_t root_flags;           // 0x1F2
  uint32_t syssize;              // 0x1F4
  uint16_t ram_size;             // 0x1F8
  uint16_t vid_mode;             // 0x1FA
  uint16_t root_dev;             // 0x1FC
  uint16_t boot_flag;            // 0x1FE  0xAA55
  uint8_t jump[2];               // 0x200  short jump; jump[1] + 0x202 = end of the header
  uint32_t header;               // 0x202  "HdrS"
  uint16_t version;              // 0x206  boot protocol version, major << 8 | minor
  uint32_t realmode_swtch;       // 0x208
  uint16_t start_sys_seg;        // 0x20C
  uint16_t kernel_version;       // 0x20E
  uint8_t type_of_loader;        // 0x210
  uint8_t loadflags;             // 0x211
  uint16_t setup_move_size;      // 0x212
  uint32_t code32_start;         // 0x214
  uint32_t ramdisk_image;        // 0x218
  uint32_t ramdisk_size;         // 0x21C
  uint32_t bootsect_kludge;      // 0x220
  uint16_t heap_end_ptr;         // 0x224
  uint8_t ext_loader_ver;        // 0x226
  uint8_t ext_loader_type;       // 0x227
  uint32_t cmd_line_ptr;         // 0x228
  uint32_t initrd_addr_max;      // 0x22C  highest address the initrd may occupy
  uint32_t kernel_alignment;     // 0x230
  uint8_t relocatable_kernel;    // 0x234
  uint8_t min_alignment;         // 0x235
  uint16_t xloadflags;           // 0x236
  uint32_t cmdline_size;         // 0x238  longest command line, without the NUL
  uint32_t hardware_subarch;     // 0x23C
  uint64_t hardware_subarch_data;  // 0x240
  uint32_t payload_offset;       // 0x248
  uint32_t payload_length;       // 0x24C
  uint64_t setup_data;           // 0x250
  uint64_t pref_address;         // 0x258  the kernel's link-time physical address
  uint32_t init_size;            // 0x260  memory the kernel needs from its start to run
  uint32_t handover_offset;      // 0x264
  uint32_t kernel_info_offset;   // 0x268
};
#pragma pack(pop)

constexpr size_t kSetupHeaderOffset = 0x1F1;
#define VIREO_SETUP_HEADER_AT(field, off) \
  static_assert(kSetupHeaderOffset + offsetof(SetupHeader, field) == (off), #field)
VIREO_SETUP_HEADER_AT(boot_flag, 0x1FE);
VIREO_SETUP_HEADER_AT(header, 0x202);
VIREO_SETUP_HEADER_AT(version, 0x206);
VIREO_SETUP_HEADER_AT(type_of_loader, 0x210);
VIREO_SETUP_HEADER_AT(ramdisk_image, 0x218);
VIREO_SETUP_HEADER_AT(heap_end_ptr, 0x224);
VIREO_SETUP_HEADER_AT(cmd_line_ptr, 0x228);
VIREO_SETUP_HEADER_AT(xloadflags, 0x236);
VIREO_SETUP_HEADER_AT(pref_address, 0x258);
VIREO_SETUP_HEADER_AT(init_size, 0x260);
VIREO_SETUP_HEADER_AT(kernel_info_offset, 0x268);
#undef VIREO_SETUP_HEADER_AT

// The fields of the setup header that protocol 2.12 (the oldest with the 64-bit entry
// flags in xloadflags) guarantees: everything up to and including handover_offset.
constexpr size_t kSetupHeaderMinEnd = 0x268;

constexpr uint16_t kBootFlag = 0xAA55;
constexpr uint32_t kHdrSMagic = 0x53726448;  // "HdrS" read as a little-endian u32
constexpr uint16_t kBootProtocol64 = 0x020C;  // 2.12: xloadflags and the 64-bit entry

// loadflags (boot.rst, "loadflags").
constexpr uint8_t kLoadedHigh = 0x01;
constexpr uint8_t kCanUseHeap = 0x80;
// xloadflags (boot.rst, "xloadflags").
constexpr uint16_t kXlfKernel64 = 0x0001;              // has the 64-bit entry at +0x200
constexpr uint16_t kXlfCanBeLoadedAbove4G = 0x0002;
constexpr uint8_t kLoaderTypeUndefined = 0xFF;
constexpr uint16_t kVidModeNormal = 0xFFFF;
constexpr uint64_t kEntry64Offset = 0x200;  // 64-bit entry relative to the protected-mode code

#pragma pack(push, 1)
struct BootE820Entry {
  uint64_t addr;
  uint64_t size;
  uint32_t type;
};
static_assert(sizeof(BootE820Entry) == 20);

// The zero page (zero-page.rst). Only the fields vireo writes are named; the rest is padding.
struct BootParams {
  uint8_t pad_000[0x070];
  uint64_t acpi_rsdp_addr;      // 0x070
  uint8_t pad_078[0x0C0 - 0x078];
  uint32_t ext_ramdisk_image;   // 0x0C0  high 32 bits of ramdisk_image
  uint32_t ext_ramdisk_size;    // 0x0C4  high 32 bits of ramdisk_size
  uint32_t ext_cmd_line_ptr;    // 0x0C8  high 32 bits of cmd_line_ptr
  uint8_t pad_0cc[0x1E8 - 0x0CC];
  uint8_t e820_entries;         // 0x1E8
  uint8_t pad_1e9[0x1F1 - 0x1E9];
  SetupHeader hdr;              // 0x1F1
  uint8_t pad_hdr_end[0x290 - 0x1F1 - sizeof(SetupHeader)];
  uint8_t edd_mbr_sig_buffer[0x40];  // 0x290
  BootE820Entry e820_table[128];     // 0x2D0
  uint8_t pad_cd0[0x1000 - 0xCD0];
};
#pragma pack(pop)
static_assert(sizeof(BootParams) == 0x1000);
static_assert(offsetof(BootParams, acpi_rsdp_addr) == 0x070);
static_assert(offsetof(BootParams, ext_ramdisk_image) == 0x0C0);
static_assert(offsetof(BootParams, ext_ramdisk_size) == 0x0C4);
static_assert(offsetof(BootParams, e820_entries) == 0x1E8);
static_assert(offsetof(BootParams, hdr) == kSetupHeaderOffset);
static_assert(offsetof(BootParams, e820_table) == 0x2D0);

// The setup header may be copied into boot_params up to here (edd_mbr_sig_buffer follows).
constexpr size_t kSetupHeaderMaxEnd = 0x290;
constexpr size_t kZeroPageE820Max = 128;

}  // namespace vireo::x86
