#include "arch/x86/multiboot.h"

#include <algorithm>
#include <cassert>
#include <cstring>

#include "arch/x86/boot_cpu.h"
#include "arch/x86/elf.h"
#include "arch/x86/layout.h"
#include "arch/x86/linux_boot.h"
#include "base/error.h"
#include "base/size.h"

namespace vireo::x86 {

namespace {

constexpr uint64_t kPageSize = 0x1000;
constexpr uint64_t k4GiB = 1ull << 32;

// Header layout (spec 3.1.1): magic, flags, checksum, then the address fields.
constexpr uint64_t kHeaderCoreSize = 12;
constexpr uint64_t kHeaderWithAddressesSize = 32;

// Information structure (spec 3.3): field offsets and the size vireo reserves for it.
constexpr uint64_t kInfoFlags = 0;
constexpr uint64_t kInfoMemLower = 4;
constexpr uint64_t kInfoMemUpper = 8;
constexpr uint64_t kInfoCmdline = 16;
constexpr uint64_t kInfoModsCount = 20;
constexpr uint64_t kInfoModsAddr = 24;
constexpr uint64_t kInfoMmapLength = 44;
constexpr uint64_t kInfoMmapAddr = 48;
constexpr uint64_t kInfoBootLoaderName = 64;
constexpr uint64_t kInfoSize = 116;  // up to and including the framebuffer fields
constexpr uint64_t kModuleEntrySize = 16;  // mod_start, mod_end, string, reserved
constexpr uint64_t kMmapEntrySize = 24;    // size (= 20), base_addr, length, type
constexpr uint32_t kMmapEntrySizeField = 20;

uint64_t align_up(uint64_t value, uint64_t alignment) { return (value + alignment - 1) & ~(alignment - 1); }
uint64_t mib_rounded_up(uint64_t bytes) { return (bytes + MiB - 1) / MiB; }

template <typename T>
T read_at(const std::vector<uint8_t>& image, uint64_t offset) {
  T value;
  std::memcpy(&value, image.data() + offset, sizeof(T));  // caller checked the bounds
  return value;
}

bool in_file(uint64_t file_size, uint64_t offset, uint64_t size) {
  return offset <= file_size && size <= file_size - offset;
}

// The aligned offsets in the search area where a 12-byte header fits.
uint64_t search_end(const std::vector<uint8_t>& image) {
  return std::min<uint64_t>(image.size(), kMultibootSearchLength);
}

// One piece of the kernel image to copy into guest memory: file_size bytes from the file,
// then zeros up to mem_size.
struct LoadSegment {
  uint64_t file_offset = 0;
  uint64_t file_size = 0;
  uint64_t paddr = 0;
  uint64_t mem_size = 0;
};

struct KernelImage {
  std::vector<LoadSegment> segments;
  uint64_t entry = 0;
};

// Spec 3.1.3: with flag 16, load_addr..load_end_addr comes from the file at the header's
// offset minus (header_addr - load_addr); the bss up to bss_end_addr is zeroed.
KernelImage aout_kludge_image(const std::vector<uint8_t>& image, const MultibootHeaderInfo& h) {
  if (h.load_addr > h.header_addr) {
    fail("Multiboot header: load_addr {:#x} lies above header_addr {:#x}", h.load_addr, h.header_addr);
  }
  const uint64_t header_distance = h.header_addr - h.load_addr;
  if (header_distance > h.offset) {
    fail("Multiboot header: load_addr {:#x} would start {} bytes before the beginning of the file", h.load_addr,
         header_distance - h.offset);
  }
  LoadSegment seg;
  seg.file_offset = h.offset - header_distance;
  seg.paddr = h.load_addr;
  if (h.load_end_addr == 0) {
    seg.file_size = image.size() - seg.file_offset;  // text and data are the rest of the file
  } else {
    if (h.load_end_addr < h.load_addr) {
      fail("Multiboot header: load_end_addr {:#x} lies below load_addr {:#x}", h.load_end_addr, h.load_addr);
    }
    seg.file_size = uint64_t{h.load_end_addr} - h.load_addr;
    if (!in_file(image.size(), seg.file_offset, seg.file_size)) {
      fail("the file is {} bytes long, but its Multiboot header loads {} bytes from offset {} (truncated?)",
           image.size(), seg.file_size, seg.file_offset);
    }
  }
  seg.mem_size = seg.file_size;
  if (h.bss_end_addr != 0) {
    const uint64_t load_end = seg.paddr + seg.file_size;
    if (h.bss_end_addr < load_end) {
      fail("Multiboot header: bss_end_addr {:#x} lies below the end of the loaded image {:#x}", h.bss_end_addr,
           load_end);
    }
    seg.mem_size = uint64_t{h.bss_end_addr} - seg.paddr;
  }
  KernelImage k;
  if (seg.mem_size != 0) k.segments.push_back(seg);
  k.entry = h.entry_addr;
  return k;
}

// ELF32 or ELF64 by its program headers (gABI): PT_LOAD segments at p_paddr. The entry is
// e_entry, moved to its physical address when it lies in a segment whose virtual and
// physical addresses differ (a kernel linked to run at a higher virtual address).
KernelImage elf_image(const std::vector<uint8_t>& image) {
  if (image.size() < sizeof(elf::kMagic) || std::memcmp(image.data(), elf::kMagic, sizeof(elf::kMagic)) != 0) {
    fail("the Multiboot header has no load addresses (flag 16), so the kernel must be an ELF file, and it is not");
  }
  if (image.size() <= elf::kIdentData) fail("ELF header is truncated");
  const uint8_t elf_class = image[elf::kIdentClass];
  if (elf_class != elf::kClass32 && elf_class != elf::kClass64) fail("ELF class {} is neither 32- nor 64-bit", elf_class);
  if (image[elf::kIdentData] != elf::kDataLittleEndian) fail("ELF file is not little-endian, so not an x86 kernel");
  const bool is64 = elf_class == elf::kClass64;

  uint16_t machine, phentsize, phnum;
  uint64_t entry, phoff;
  if (is64) {
    if (!in_file(image.size(), 0, sizeof(elf::Ehdr64))) fail("ELF header is truncated");
    const auto h = read_at<elf::Ehdr64>(image, 0);
    machine = h.e_machine, phentsize = h.e_phentsize, phnum = h.e_phnum, entry = h.e_entry, phoff = h.e_phoff;
  } else {
    if (!in_file(image.size(), 0, sizeof(elf::Ehdr32))) fail("ELF header is truncated");
    const auto h = read_at<elf::Ehdr32>(image, 0);
    machine = h.e_machine, phentsize = h.e_phentsize, phnum = h.e_phnum, entry = h.e_entry, phoff = h.e_phoff;
  }
  if (machine != elf::kMachine386 && machine != elf::kMachineX86_64) {
    fail("ELF file is for machine type {}, not x86", machine);
  }
  const uint64_t phentsize_min = is64 ? sizeof(elf::Phdr64) : sizeof(elf::Phdr32);
  if (phnum == 0 || phnum == elf::kPnXnum) fail("ELF file has no usable program headers, so nothing to load");
  if (phentsize < phentsize_min) fail("ELF program header size {} is too small", phentsize);
  if (!in_file(image.size(), phoff, uint64_t{phnum} * phentsize)) {
    fail("ELF program headers lie outside the file (truncated?)");
  }

  KernelImage k;
  k.entry = entry;
  bool entry_translated = false;
  for (unsigned i = 0; i < phnum; ++i) {
    const uint64_t at = phoff + uint64_t{i} * phentsize;
    uint32_t type;
    uint64_t offset, vaddr, paddr, filesz, memsz;
    if (is64) {
      const auto p = read_at<elf::Phdr64>(image, at);
      type = p.p_type, offset = p.p_offset, vaddr = p.p_vaddr, paddr = p.p_paddr, filesz = p.p_filesz,
      memsz = p.p_memsz;
    } else {
      const auto p = read_at<elf::Phdr32>(image, at);
      type = p.p_type, offset = p.p_offset, vaddr = p.p_vaddr, paddr = p.p_paddr, filesz = p.p_filesz,
      memsz = p.p_memsz;
    }
    if (type != elf::kPtLoad || memsz == 0) continue;
    if (filesz > memsz) fail("ELF segment {} has a file size larger than its memory size", i);
    if (!in_file(image.size(), offset, filesz)) fail("ELF segment {} lies outside the file (truncated?)", i);
    k.segments.push_back({offset, filesz, paddr, memsz});
    if (!entry_translated && entry >= vaddr && entry - vaddr < memsz) {
      k.entry = entry - vaddr + paddr;
      entry_translated = true;
    }
  }
  if (k.segments.empty()) fail("ELF file has no loadable segments");
  return k;
}

// Every byte of the image must land in guest RAM.
void check_segment_fits(const GuestMemory& mem, const LoadSegment& seg) {
  if (mem.is_ram(seg.paddr, seg.mem_size)) return;
  const bool below_hole = seg.paddr < GuestMemory::kMmioHoleStart && seg.mem_size <= GuestMemory::kMmioHoleStart - seg.paddr;
  if (below_hole) {
    fail("segment at {:#x} ({} bytes) does not fit in guest memory ({} MiB); use --memory {}M or more", seg.paddr,
         seg.mem_size, mem.ram_size() / MiB, mib_rounded_up(seg.paddr + seg.mem_size));
  }
  fail("segment at {:#x} ({} bytes) lies outside guest RAM (the MMIO hole is {:#x}-{:#x}, RAM above it starts at "
       "{:#x})",
       seg.paddr, seg.mem_size, GuestMemory::kMmioHoleStart, GuestMemory::kHighRamStart - 1,
       GuestMemory::kHighRamStart);
}

bool overlaps(uint64_t a, uint64_t a_size, uint64_t b, uint64_t b_size) {
  return a < b + b_size && b < a + a_size;
}

// The information structure and everything it points to, laid out from one base address:
// the structure, the module list, the memory map, then the strings.
struct InfoLayout {
  uint64_t mods_offset = 0, mmap_offset = 0, strings_offset = 0, size = 0;
};

InfoLayout info_layout(size_t module_count, size_t mmap_count, uint64_t strings_size) {
  InfoLayout l;
  l.mods_offset = align_up(kInfoSize, 16);
  l.mmap_offset = align_up(l.mods_offset + module_count * kModuleEntrySize, 8);
  l.strings_offset = l.mmap_offset + mmap_count * kMmapEntrySize;
  l.size = l.strings_offset + strings_size;
  return l;
}

}  // namespace

bool has_multiboot_header(const std::vector<uint8_t>& image) {
  const uint64_t end = search_end(image);
  for (uint64_t off = 0; off + sizeof(uint32_t) <= end; off += kMultibootHeaderAlignment) {
    if (read_at<uint32_t>(image, off) == kMultibootHeaderMagic) return true;
  }
  return false;
}

std::optional<MultibootHeaderInfo> find_multiboot_header(const std::vector<uint8_t>& image) {
  const uint64_t end = search_end(image);
  std::optional<uint64_t> first_bad;
  for (uint64_t off = 0; off + sizeof(uint32_t) <= end; off += kMultibootHeaderAlignment) {
    if (read_at<uint32_t>(image, off) != kMultibootHeaderMagic) continue;
    if (off + kHeaderCoreSize > end) {
      // The magic is there but flags and checksum are not within the first 8 KiB.
      if (!first_bad) first_bad = off;
      continue;
    }
    const uint32_t flags = read_at<uint32_t>(image, off + 4);
    const uint32_t checksum = read_at<uint32_t>(image, off + 8);
    if (static_cast<uint32_t>(kMultibootHeaderMagic + flags + checksum) != 0) {
      if (!first_bad) first_bad = off;
      continue;
    }
    MultibootHeaderInfo h;
    h.offset = off;
    h.flags = flags;
    if (flags & kMultibootAddressFieldsValid) {
      if (!in_file(image.size(), off, kHeaderWithAddressesSize)) {
        fail("Multiboot header at offset {} sets flag 16 but its address fields lie past the end of the file", off);
      }
      h.header_addr = read_at<uint32_t>(image, off + 12);
      h.load_addr = read_at<uint32_t>(image, off + 16);
      h.load_end_addr = read_at<uint32_t>(image, off + 20);
      h.bss_end_addr = read_at<uint32_t>(image, off + 24);
      h.entry_addr = read_at<uint32_t>(image, off + 28);
    }
    return h;
  }
  if (first_bad) {
    if (*first_bad + kHeaderCoreSize > end) {
      fail("Multiboot header at offset {} does not lie completely within the first {} bytes of the file", *first_bad,
           std::min<uint64_t>(kMultibootSearchLength, image.size()));
    }
    fail("Multiboot header at offset {} has a wrong checksum", *first_bad);
  }
  return std::nullopt;
}

MultibootBootResult load_multiboot(GuestMemory& mem, const MultibootSpec& spec) {
  assert(spec.kernel != nullptr);
  const std::vector<uint8_t>& image = *spec.kernel;
  if (image.empty()) fail("the file is empty");
  const std::optional<MultibootHeaderInfo> header = find_multiboot_header(image);
  if (!header) fail("is not a Multiboot kernel: no Multiboot header in the first {} bytes", kMultibootSearchLength);

  MultibootBootResult result;
  // Spec 3.1.2: a required feature the loader does not provide means it must not boot the kernel.
  const uint32_t known = kMultibootPageAlignModules | kMultibootWantsMemoryInfo | kMultibootWantsVideoMode;
  const uint32_t unknown = header->flags & kMultibootRequiredMask & ~known;
  if (unknown != 0) {
    fail("the Multiboot header requires features vireo does not provide (flag bits {:#x})", unknown);
  }
  if (header->flags & kMultibootWantsVideoMode) {
    result.warnings.push_back("the kernel asks for a video mode; vireo has no display and passes no video information");
  }

  // The kernel image: flag 16 wins over the ELF headers (spec 3.1.3).
  const KernelImage kernel =
      (header->flags & kMultibootAddressFieldsValid) ? aout_kludge_image(image, *header) : elf_image(image);
  uint64_t kernel_start = ~0ull, kernel_end = 0, low_kernel_end = 0;
  for (const LoadSegment& seg : kernel.segments) {
    check_segment_fits(mem, seg);
    kernel_start = std::min(kernel_start, seg.paddr);
    kernel_end = std::max(kernel_end, seg.paddr + seg.mem_size);
    if (seg.paddr < mem.low_ram_end()) low_kernel_end = std::max(low_kernel_end, seg.paddr + seg.mem_size);
  }
  if (kernel.segments.empty()) kernel_start = kernel_end = 0;
  if (kernel.entry >= k4GiB) fail("entry point {:#x} is above 4 GiB, out of reach of 32-bit code", kernel.entry);
  if (!mem.is_ram(kernel.entry)) fail("entry point {:#x} is not in guest memory", kernel.entry);

  // Modules: page-aligned (flag 0) from the first page above the kernel, below the end of
  // low RAM (their addresses are 32-bit).
  uint64_t cursor = align_up(std::max(low_kernel_end, kKernelLoadAddr), kPageSize);
  std::vector<uint64_t> module_addrs;
  for (const MultibootModule& module : spec.modules) {
    module_addrs.push_back(cursor);
    cursor = align_up(cursor + module.data.size(), kPageSize);
  }
  if (cursor > mem.low_ram_end()) {
    fail("the kernel and its {} module(s) need {} MiB of memory, the VM has {} MiB; use --memory {}M or more",
         spec.modules.size(), mib_rounded_up(cursor), mem.ram_size() / MiB, mib_rounded_up(cursor));
  }

  // Strings: the command line is "<kernel path> <cmdline>", the kernel's own name first.
  const std::string cmdline = spec.kernel_path + " " + spec.cmdline;
  uint64_t strings_size = cmdline.size() + 1 + std::strlen(kMultibootBootLoaderName) + 1;
  for (const MultibootModule& module : spec.modules) strings_size += module.string.size() + 1;
  const std::vector<E820Entry> e820 = build_e820(mem);
  const InfoLayout layout = info_layout(spec.modules.size(), e820.size(), strings_size);

  // The information block goes in conventional memory unless the kernel is there; else above the modules.
  uint64_t info = kMultibootInfoAddr;
  bool low_fits = info + layout.size <= kEbdaStart;
  for (const LoadSegment& seg : kernel.segments) low_fits = low_fits && !overlaps(info, layout.size, seg.paddr, seg.mem_size);
  if (!low_fits) {
    info = cursor;
    const uint64_t end = info + layout.size;
    if (end > mem.low_ram_end()) {
      fail("the kernel, its modules and the Multiboot information need {} MiB of memory, the VM has {} MiB; use "
           "--memory {}M or more",
           mib_rounded_up(end), mem.ram_size() / MiB, mib_rounded_up(end));
    }
  }

  // Everything is validated; write. The boot GDT first, so a kernel loaded over it wins.
  write_boot_gdt(mem);
  // Selector 0x10 becomes flat data too, as kernels written for other loaders expect.
  mem.write_obj<uint64_t>(kGdtAddr + 0x10, kBootDataDescriptor);
  for (const LoadSegment& seg : kernel.segments) {
    mem.write(seg.paddr, image.data() + seg.file_offset, seg.file_size);
    mem.fill(seg.paddr + seg.file_size, 0, seg.mem_size - seg.file_size);
  }
  for (size_t i = 0; i < spec.modules.size(); ++i) {
    const std::vector<uint8_t>& data = spec.modules[i].data;
    mem.write(module_addrs[i], data.data(), data.size());
    result.modules.push_back({module_addrs[i], data.size()});
  }

  mem.fill(info, 0, layout.size);
  uint64_t string_at = info + layout.strings_offset;
  auto put_string = [&](const std::string& s) {
    const uint64_t addr = string_at;
    mem.write(addr, s.c_str(), s.size() + 1);
    string_at += s.size() + 1;
    return static_cast<uint32_t>(addr);
  };
  uint32_t flags = kMultibootInfoMemory | kMultibootInfoCmdline | kMultibootInfoModules | kMultibootInfoMemoryMap |
                   kMultibootInfoBootLoaderName;
  // mem_lower: KiB of conventional memory from 0 (at most 640); mem_upper: KiB from 1 MiB
  // up to the first hole.
  mem.write_obj<uint32_t>(info + kInfoMemLower, static_cast<uint32_t>(kEbdaStart / KiB));
  const uint64_t upper = mem.low_ram_end() > kKernelLoadAddr ? (mem.low_ram_end() - kKernelLoadAddr) / KiB : 0;
  mem.write_obj<uint32_t>(info + kInfoMemUpper, static_cast<uint32_t>(upper));
  mem.write_obj<uint32_t>(info + kInfoCmdline, put_string(cmdline));
  mem.write_obj<uint32_t>(info + kInfoBootLoaderName, put_string(kMultibootBootLoaderName));

  mem.write_obj<uint32_t>(info + kInfoModsCount, static_cast<uint32_t>(spec.modules.size()));
  mem.write_obj<uint32_t>(info + kInfoModsAddr, static_cast<uint32_t>(info + layout.mods_offset));
  for (size_t i = 0; i < spec.modules.size(); ++i) {
    const uint64_t entry = info + layout.mods_offset + i * kModuleEntrySize;
    mem.write_obj<uint32_t>(entry + 0, static_cast<uint32_t>(module_addrs[i]));
    mem.write_obj<uint32_t>(entry + 4, static_cast<uint32_t>(module_addrs[i] + spec.modules[i].data.size()));
    mem.write_obj<uint32_t>(entry + 8, put_string(spec.modules[i].string));
  }

  // Memory map (spec 3.3): each entry is preceded by its size, which excludes the size field.
  for (size_t i = 0; i < e820.size(); ++i) {
    const uint64_t entry = info + layout.mmap_offset + i * kMmapEntrySize;
    mem.write_obj<uint32_t>(entry + 0, kMmapEntrySizeField);
    mem.write_obj<uint64_t>(entry + 4, e820[i].addr);
    mem.write_obj<uint64_t>(entry + 12, e820[i].size);
    mem.write_obj<uint32_t>(entry + 20, e820[i].type);
  }
  mem.write_obj<uint32_t>(info + kInfoMmapLength, static_cast<uint32_t>(e820.size() * kMmapEntrySize));
  mem.write_obj<uint32_t>(info + kInfoMmapAddr, static_cast<uint32_t>(info + layout.mmap_offset));
  mem.write_obj<uint32_t>(info + kInfoFlags, flags);
  assert(string_at == info + layout.size);

  // Machine state (spec 3.2): protected mode, paging off, flat 32-bit segments, IF clear,
  // EAX = the boot loader magic, EBX = the information structure. ESP is undefined by the
  // specification; vireo gives a small stack below the information structure.
  result.boot_cpu = protected_mode_boot_state();
  for (Segment* s : {&result.boot_cpu.ds, &result.boot_cpu.es, &result.boot_cpu.fs, &result.boot_cpu.gs,
                     &result.boot_cpu.ss})
    s->selector = 0x10;
  result.boot_cpu.rip = kernel.entry;
  result.boot_cpu.gpr[RAX] = kMultibootBootloaderMagic;
  result.boot_cpu.gpr[RBX] = info;
  result.boot_cpu.gpr[RSP] = kBootStackTop;
  result.entry = kernel.entry;
  result.info_addr = info;
  result.kernel_start = kernel_start;
  result.kernel_end = kernel_end;
  return result;
}

std::vector<MultibootModuleArg> parse_multiboot_module_list(const std::string& list) {
  std::vector<MultibootModuleArg> modules;
  std::string current;
  auto finish = [&] {
    if (current.empty() || current[0] == ' ') {
      fail("module list '{}' has an empty module name; give files separated by single commas", list);
    }
    modules.push_back({current.substr(0, current.find(' ')), current});
    current.clear();
  };
  for (size_t i = 0; i < list.size(); ++i) {
    if (list[i] != ',') {
      current.push_back(list[i]);
    } else if (i + 1 < list.size() && list[i + 1] == ',') {
      current.push_back(',');  // ",," is a comma inside a name or argument
      ++i;
    } else {
      finish();
    }
  }
  finish();
  return modules;
}

}  // namespace vireo::x86
