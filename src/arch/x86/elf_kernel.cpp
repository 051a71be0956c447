#include "arch/x86/elf_kernel.h"

#include <cstring>

#include "arch/x86/elf.h"
#include "base/error.h"

namespace vireo::x86 {

namespace {

// True when [offset, offset + size) lies inside a file of `file_size` bytes (no wrap).
bool in_file(uint64_t file_size, uint64_t offset, uint64_t size) {
  return offset <= file_size && size <= file_size - offset;
}

template <typename T>
T read_at(const std::vector<uint8_t>& image, uint64_t offset) {
  T value;
  std::memcpy(&value, image.data() + offset, sizeof(T));  // caller checked in_file
  return value;
}

// The class-independent parts of the headers.
struct FileHeader {
  uint16_t machine;
  uint64_t phoff, shoff;
  uint16_t phentsize, phnum, shentsize, shnum;
};
struct ProgramHeader {
  uint32_t type;
  uint64_t offset, paddr, filesz, memsz, align;
};
struct SectionHeader {
  uint32_t type;
  uint64_t offset, size, addralign;
};

FileHeader read_file_header(const std::vector<uint8_t>& image, bool is64) {
  if (is64) {
    if (!in_file(image.size(), 0, sizeof(elf::Ehdr64))) fail("ELF header is truncated");
    auto h = read_at<elf::Ehdr64>(image, 0);
    return {h.e_machine, h.e_phoff, h.e_shoff, h.e_phentsize, h.e_phnum, h.e_shentsize, h.e_shnum};
  }
  if (!in_file(image.size(), 0, sizeof(elf::Ehdr32))) fail("ELF header is truncated");
  auto h = read_at<elf::Ehdr32>(image, 0);
  return {h.e_machine, h.e_phoff, h.e_shoff, h.e_phentsize, h.e_phnum, h.e_shentsize, h.e_shnum};
}

ProgramHeader read_program_header(const std::vector<uint8_t>& image, bool is64, uint64_t offset) {
  if (is64) {
    auto p = read_at<elf::Phdr64>(image, offset);
    return {p.p_type, p.p_offset, p.p_paddr, p.p_filesz, p.p_memsz, p.p_align};
  }
  auto p = read_at<elf::Phdr32>(image, offset);
  return {p.p_type, p.p_offset, p.p_paddr, p.p_filesz, p.p_memsz, p.p_align};
}

SectionHeader read_section_header(const std::vector<uint8_t>& image, bool is64, uint64_t offset) {
  if (is64) {
    auto s = read_at<elf::Shdr64>(image, offset);
    return {s.sh_type, s.sh_offset, s.sh_size, s.sh_addralign};
  }
  auto s = read_at<elf::Shdr32>(image, offset);
  return {s.sh_type, s.sh_offset, s.sh_size, s.sh_addralign};
}

uint64_t align_up(uint64_t value, uint64_t alignment) { return (value + alignment - 1) & ~(alignment - 1); }

// Walks the notes in [offset, offset + size) of the file (gABI "Note Section": each
// entry is a header, the name and the descriptor, name and descriptor padded to the
// note alignment, 4 bytes, or 8 for areas aligned to 8). Returns the PVH entry if a
// Xen PHYS32_ENTRY note is there. A malformed note ends the walk; it never reads
// outside the area.
std::optional<uint64_t> find_pvh_note(const std::vector<uint8_t>& image, uint64_t offset, uint64_t size,
                                      uint64_t area_alignment) {
  if (!in_file(image.size(), offset, size)) return std::nullopt;
  const uint64_t pad = area_alignment == 8 ? 8 : 4;
  const uint64_t end = offset + size;
  uint64_t pos = offset;
  while (end - pos >= sizeof(elf::Nhdr)) {
    auto note = read_at<elf::Nhdr>(image, pos);
    const uint64_t name_pos = pos + sizeof(elf::Nhdr);
    const uint64_t name_padded = align_up(note.n_namesz, pad);  // u32 values: no overflow
    if (name_padded > end - name_pos) break;
    const uint64_t desc_pos = name_pos + name_padded;
    if (note.n_descsz > end - desc_pos) break;
    static constexpr char kXenOwner[4] = {'X', 'e', 'n', '\0'};
    if (note.n_type == kXenElfnotePhys32Entry && note.n_namesz == sizeof(kXenOwner) &&
        std::memcmp(image.data() + name_pos, kXenOwner, sizeof(kXenOwner)) == 0) {
      if (note.n_descsz == 4) return read_at<uint32_t>(image, desc_pos);
      if (note.n_descsz == 8) return read_at<uint64_t>(image, desc_pos);
    }
    const uint64_t desc_padded = align_up(note.n_descsz, pad);
    if (desc_padded >= end - desc_pos) break;  // this was the last note
    pos = desc_pos + desc_padded;
  }
  return std::nullopt;
}

}  // namespace

bool has_elf_magic(const std::vector<uint8_t>& image) {
  return image.size() >= sizeof(elf::kMagic) && std::memcmp(image.data(), elf::kMagic, sizeof(elf::kMagic)) == 0;
}

ElfKernel parse_elf_kernel(const std::vector<uint8_t>& image) {
  if (!has_elf_magic(image)) fail("is not an ELF file");
  if (image.size() <= elf::kIdentData) fail("ELF header is truncated");
  const uint8_t elf_class = image[elf::kIdentClass];
  if (elf_class != elf::kClass32 && elf_class != elf::kClass64) fail("ELF class {} is neither 32- nor 64-bit", elf_class);
  if (image[elf::kIdentData] != elf::kDataLittleEndian) fail("ELF file is not little-endian, so not an x86 kernel");

  ElfKernel kernel;
  kernel.is_64bit = elf_class == elf::kClass64;
  const FileHeader header = read_file_header(image, kernel.is_64bit);
  if (header.machine != elf::kMachineX86_64 && header.machine != elf::kMachine386) {
    fail("ELF file is for machine type {}, not x86", header.machine);
  }

  // Program headers (gABI "Program Header").
  const uint64_t phentsize_min = kernel.is_64bit ? sizeof(elf::Phdr64) : sizeof(elf::Phdr32);
  if (header.phnum == elf::kPnXnum) fail("ELF file uses extended program header numbering, which is not supported");
  if (header.phnum == 0) fail("ELF file has no program headers, so nothing to load");
  if (header.phentsize < phentsize_min) fail("ELF program header size {} is too small", header.phentsize);
  if (!in_file(image.size(), header.phoff, uint64_t{header.phnum} * header.phentsize)) {
    fail("ELF program headers lie outside the file (truncated?)");
  }
  for (unsigned i = 0; i < header.phnum; ++i) {
    const ProgramHeader ph = read_program_header(image, kernel.is_64bit, header.phoff + uint64_t{i} * header.phentsize);
    if (ph.type == elf::kPtLoad) {
      if (ph.filesz > ph.memsz) fail("ELF segment {} has a file size larger than its memory size", i);
      if (!in_file(image.size(), ph.offset, ph.filesz)) fail("ELF segment {} lies outside the file (truncated?)", i);
      if (ph.memsz != 0) kernel.segments.push_back({ph.offset, ph.filesz, ph.paddr, ph.memsz});
    } else if (ph.type == elf::kPtNote && !kernel.pvh_entry) {
      kernel.pvh_entry = find_pvh_note(image, ph.offset, ph.filesz, ph.align);
    }
  }

  // Sections are optional for loading; look at SHT_NOTE only when no segment had the
  // note, and ignore a section table that does not fit in the file.
  const uint64_t shentsize_min = kernel.is_64bit ? sizeof(elf::Shdr64) : sizeof(elf::Shdr32);
  if (!kernel.pvh_entry && header.shoff != 0 && header.shentsize >= shentsize_min &&
      in_file(image.size(), header.shoff, uint64_t{header.shnum} * header.shentsize)) {
    for (unsigned i = 0; i < header.shnum && !kernel.pvh_entry; ++i) {
      const SectionHeader sh =
          read_section_header(image, kernel.is_64bit, header.shoff + uint64_t{i} * header.shentsize);
      if (sh.type == elf::kShtNote) kernel.pvh_entry = find_pvh_note(image, sh.offset, sh.size, sh.addralign);
    }
  }
  return kernel;
}

}  // namespace vireo::x86
