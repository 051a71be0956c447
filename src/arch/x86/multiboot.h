// Multiboot (version 1, specification 0.6.96) kernels: finding the header in the first
// 8 KiB of the file, loading the image (ELF32/ELF64 program headers, or the header's
// a.out-kludge address fields), building the Multiboot information structure (memory
// sizes, memory map, command line, modules, boot loader name) and the entry state:
// 32-bit protected mode, paging off, EAX = 0x2BADB002, EBX = the information structure.
// Pure functions over GuestMemory; the kernel file is hostile input.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "cpu/cpu_state.h"
#include "memory/guest_memory.h"

namespace vireo::x86 {

// Spec 3.1.1: the header lies 32-bit aligned, completely inside the first 8192 bytes.
constexpr uint32_t kMultibootHeaderMagic = 0x1BADB002;
constexpr uint64_t kMultibootSearchLength = 8192;
constexpr uint64_t kMultibootHeaderAlignment = 4;
// Spec 3.2: EAX at entry.
constexpr uint32_t kMultibootBootloaderMagic = 0x2BADB002;

// Header flags (spec 3.1.2). Bits 0-15 are requirements: a loader that does not know one
// must refuse the kernel. Bits 16-31 are optional features.
constexpr uint32_t kMultibootPageAlignModules = 1u << 0;
constexpr uint32_t kMultibootWantsMemoryInfo = 1u << 1;
constexpr uint32_t kMultibootWantsVideoMode = 1u << 2;
constexpr uint32_t kMultibootRequiredMask = 0xFFFF;
constexpr uint32_t kMultibootAddressFieldsValid = 1u << 16;  // the "a.out kludge"

// Information-structure flags (spec 3.3): which fields are valid.
constexpr uint32_t kMultibootInfoMemory = 1u << 0;
constexpr uint32_t kMultibootInfoBootDevice = 1u << 1;
constexpr uint32_t kMultibootInfoCmdline = 1u << 2;
constexpr uint32_t kMultibootInfoModules = 1u << 3;
constexpr uint32_t kMultibootInfoMemoryMap = 1u << 6;
constexpr uint32_t kMultibootInfoBootLoaderName = 1u << 9;

// Where vireo puts the information structure, its strings and memory map when they fit
// in conventional memory there without touching the kernel (else above the modules).
constexpr uint64_t kMultibootInfoAddr = 0x9000;
constexpr const char* kMultibootBootLoaderName = "vireo";

// The header as found in the file. The address fields are meaningful only when
// flags has kMultibootAddressFieldsValid.
struct MultibootHeaderInfo {
  uint64_t offset = 0;  // file offset of the magic
  uint32_t flags = 0;
  uint32_t header_addr = 0, load_addr = 0, load_end_addr = 0, bss_end_addr = 0, entry_addr = 0;
};

// True when the first 8 KiB hold the Multiboot magic at a 4-byte aligned offset, i.e.
// the file claims to be a Multiboot kernel. Says nothing about the checksum: use it to
// choose the loader, and let find_multiboot_header / load_multiboot judge the header.
bool has_multiboot_header(const std::vector<uint8_t>& image);

// The first valid header (magic + flags + checksum == 0 mod 2^32) in the first 8 KiB, or
// nullopt when there is no magic at all. Throws vireo::Error "Multiboot header at offset
// N has a wrong checksum" when magics are there but none has a valid checksum, and when a
// header with flag 16 is cut off by the end of the file.
std::optional<MultibootHeaderInfo> find_multiboot_header(const std::vector<uint8_t>& image);

struct MultibootModule {
  std::vector<uint8_t> data;
  std::string string;  // the module's string in the information structure: its path and any arguments
};

struct MultibootSpec {
  const std::vector<uint8_t>* kernel = nullptr;
  std::string kernel_path;  // first word of the kernel's command line
  std::string cmdline;      // the rest, after one space ("<path> <cmdline>")
  std::vector<MultibootModule> modules;
};

struct MultibootLoadedRange {
  uint64_t addr = 0;
  uint64_t size = 0;
};

struct MultibootBootResult {
  X86CpuState boot_cpu;  // entry state for vCPU 0
  uint64_t entry = 0;
  uint64_t info_addr = 0;     // the information structure (EBX)
  uint64_t kernel_start = 0;  // lowest and highest-plus-one guest-physical byte of the image, bss included
  uint64_t kernel_end = 0;
  std::vector<MultibootLoadedRange> modules;
  std::vector<std::string> warnings;  // things the user should know (e.g. a video mode vireo cannot set)
};

// Loads the kernel, the modules and the information structure into `mem` and returns the
// entry state. Writes the boot GDT at kGdtAddr (selectors 0x08 flat code, 0x10 and 0x18 flat
// data). Validates everything before writing; throws vireo::Error with one clear line for
// a missing or bad header, unsupported required flags, a malformed ELF, or anything that
// does not fit in guest RAM.
MultibootBootResult load_multiboot(GuestMemory& mem, const MultibootSpec& spec);

// One entry of a module list given as "file1 args,file2,...": `path` is the file to read
// (up to the first space), `string` the whole entry. ",," stands for a literal comma.
struct MultibootModuleArg {
  std::string path;
  std::string string;
};
// Throws vireo::Error on an empty entry.
std::vector<MultibootModuleArg> parse_multiboot_module_list(const std::string& list);

}  // namespace vireo::x86
