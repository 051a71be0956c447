// ELF file layouts (System V gABI, "Object Files"): the file header, program headers,
// section headers and note headers of 32- and 64-bit little-endian files, as packed
// structs read from a byte image with memcpy.
#pragma once

#include <cstddef>
#include <cstdint>

namespace vireo::x86::elf {

constexpr uint8_t kMagic[4] = {0x7f, 'E', 'L', 'F'};
constexpr size_t kIdentClass = 4;
constexpr size_t kIdentData = 5;
constexpr uint8_t kClass32 = 1;
constexpr uint8_t kClass64 = 2;
constexpr uint8_t kDataLittleEndian = 1;

constexpr uint16_t kMachine386 = 3;
constexpr uint16_t kMachineX86_64 = 62;

constexpr uint32_t kPtLoad = 1;
constexpr uint32_t kPtNote = 4;
constexpr uint32_t kShtNote = 7;
constexpr uint16_t kPnXnum = 0xffff;  // e_phnum escape for extended numbering

#pragma pack(push, 1)
struct Ehdr32 {
  uint8_t e_ident[16];
  uint16_t e_type, e_machine;
  uint32_t e_version, e_entry, e_phoff, e_shoff, e_flags;
  uint16_t e_ehsize, e_phentsize, e_phnum, e_shentsize, e_shnum, e_shstrndx;
};
struct Ehdr64 {
  uint8_t e_ident[16];
  uint16_t e_type, e_machine;
  uint32_t e_version;
  uint64_t e_entry, e_phoff, e_shoff;
  uint32_t e_flags;
  uint16_t e_ehsize, e_phentsize, e_phnum, e_shentsize, e_shnum, e_shstrndx;
};
struct Phdr32 {
  uint32_t p_type, p_offset, p_vaddr, p_paddr, p_filesz, p_memsz, p_flags, p_align;
};
struct Phdr64 {
  uint32_t p_type, p_flags;
  uint64_t p_offset, p_vaddr, p_paddr, p_filesz, p_memsz, p_align;
};
struct Shdr32 {
  uint32_t sh_name, sh_type, sh_flags, sh_addr, sh_offset, sh_size, sh_link, sh_info, sh_addralign,
      sh_entsize;
};
struct Shdr64 {
  uint32_t sh_name, sh_type;
  uint64_t sh_flags, sh_addr, sh_offset, sh_size;
  uint32_t sh_link, sh_info;
  uint64_t sh_addralign, sh_entsize;
};
struct Nhdr {
  uint32_t n_namesz, n_descsz, n_type;
};
#pragma pack(pop)

static_assert(sizeof(Ehdr32) == 52 && sizeof(Ehdr64) == 64);
static_assert(sizeof(Phdr32) == 32 && sizeof(Phdr64) == 56);
static_assert(sizeof(Shdr32) == 40 && sizeof(Shdr64) == 64);
static_assert(sizeof(Nhdr) == 12);

}  // namespace vireo::x86::elf
