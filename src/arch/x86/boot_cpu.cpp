#include "arch/x86/boot_cpu.h"

#include <array>

#include "arch/x86/layout.h"

namespace vireo::x86 {

namespace {

constexpr uint8_t kTypeBusyTss = 0xB;   // 64-bit (or 32-bit) busy TSS, system descriptor
constexpr uint8_t kTypeCodeExecRead = 0xB;  // execute/read, accessed
constexpr uint8_t kTypeDataReadWrite = 0x3;  // read/write, accessed
constexpr uint8_t kTypeLdt = 0x2;

// The low 8 bytes of a system-segment descriptor (Intel SDM vol. 3, 3.4.5 and 7.2.3).
uint64_t system_descriptor_low(uint64_t base, uint32_t limit, uint8_t type) {
  return (limit & 0xFFFFull) | ((base & 0xFFFFFFull) << 16) | (uint64_t{type} << 40) | (1ull << 47) /* P */ |
         ((uint64_t{limit} >> 16 & 0xF) << 48) | ((base >> 24 & 0xFF) << 56);
}

Segment flat_data_segment() {
  Segment s;
  s.base = 0;
  s.limit = 0xFFFFFFFF;
  s.selector = kBootDataSelector;
  s.type = kTypeDataReadWrite;
  s.present = true;
  s.s = true;
  s.db = true;
  s.g = true;
  return s;
}

// The state both entries share: flat data segments, TR, no LDT, the boot GDT, no IDT.
X86CpuState common_boot_state() {
  X86CpuState cpu;
  cpu.ds = cpu.es = cpu.fs = cpu.gs = cpu.ss = flat_data_segment();

  cpu.tr = Segment{};
  cpu.tr.base = kBootTssAddr;
  cpu.tr.limit = kBootTssLimit;
  cpu.tr.selector = kBootTssSelector;
  cpu.tr.type = kTypeBusyTss;
  cpu.tr.present = true;
  cpu.tr.s = false;

  cpu.ldt = Segment{};
  cpu.ldt.base = 0;
  cpu.ldt.limit = 0;
  cpu.ldt.selector = 0;
  cpu.ldt.type = kTypeLdt;
  cpu.ldt.present = false;
  cpu.ldt.s = false;
  cpu.ldt.unusable = true;

  cpu.gdt = {kGdtAddr, static_cast<uint16_t>(kBootGdtSize - 1)};
  cpu.idt = {0, 0};
  cpu.rflags = RFLAGS_FIXED;  // IF clear
  cpu.cr2 = cpu.cr3 = cpu.cr4 = cpu.cr8 = 0;
  cpu.efer = 0;
  return cpu;
}

}  // namespace

void write_boot_gdt(GuestMemory& mem) {
  static_assert(kBootTssSelector + 16 == kBootGdtSize);
  std::array<uint64_t, kBootGdtSize / 8> gdt{};
  gdt[kBootCode32Selector / 8] = kBootCode32Descriptor;
  gdt[kBootCode64Selector / 8] = kBootCode64Descriptor;
  gdt[kBootDataSelector / 8] = kBootDataDescriptor;
  gdt[kBootTssSelector / 8] = system_descriptor_low(kBootTssAddr, kBootTssLimit, kTypeBusyTss);
  gdt[kBootTssSelector / 8 + 1] = kBootTssAddr >> 32;  // base[63:32]; reserved bits zero
  mem.write(kGdtAddr, gdt.data(), sizeof(gdt));
  mem.fill(kBootTssAddr, 0, kBootTssLimit + 1);
}

void write_identity_page_tables(GuestMemory& mem) {
  constexpr uint64_t kPageSize = 0x1000;
  constexpr unsigned kPdCount = 4;  // 4 x 1 GiB
  constexpr uint64_t kTableFlags = kPtePresent | kPteWritable;

  mem.fill(kPml4Addr, 0, kPageSize);
  mem.write_obj<uint64_t>(kPml4Addr, kPdptAddr | kTableFlags);
  mem.fill(kPdptAddr, 0, kPageSize);
  std::array<uint64_t, 512> pd{};
  for (unsigned t = 0; t < kPdCount; ++t) {
    const uint64_t pd_addr = kPdAddr + t * kPageSize;
    mem.write_obj<uint64_t>(kPdptAddr + t * 8, pd_addr | kTableFlags);
    for (unsigned i = 0; i < pd.size(); ++i) {
      const uint64_t page = (uint64_t{t} * 512 + i) << 21;  // 2 MiB pages
      pd[i] = page | kTableFlags | kPteLargePage;
    }
    mem.write(pd_addr, pd.data(), sizeof(pd));
  }
}

X86CpuState long_mode_boot_state() {
  X86CpuState cpu = common_boot_state();
  cpu.cs = Segment{};
  cpu.cs.base = 0;
  cpu.cs.limit = 0xFFFFFFFF;
  cpu.cs.selector = kBootCode64Selector;
  cpu.cs.type = kTypeCodeExecRead;
  cpu.cs.present = true;
  cpu.cs.s = true;
  cpu.cs.l = true;
  cpu.cs.db = false;  // must be clear with L (SDM vol. 3, 5.2.1)
  cpu.cs.g = true;
  // Paging with PAE and long mode active; WP stays off so the kernel may write its
  // read-only mappings during early boot (boot.rst, 64-bit boot protocol).
  cpu.cr0 = CR0_PE | CR0_PG | CR0_ET | CR0_NE;
  cpu.cr3 = kPml4Addr;
  cpu.cr4 = CR4_PAE;
  cpu.efer = EFER_LME | EFER_LMA;
  return cpu;
}

X86CpuState protected_mode_boot_state() {
  X86CpuState cpu = common_boot_state();
  cpu.cs = Segment{};
  cpu.cs.base = 0;
  cpu.cs.limit = 0xFFFFFFFF;
  cpu.cs.selector = kBootCode32Selector;
  cpu.cs.type = kTypeCodeExecRead;
  cpu.cs.present = true;
  cpu.cs.s = true;
  cpu.cs.db = true;
  cpu.cs.g = true;
  cpu.cr0 = CR0_PE | CR0_ET;
  return cpu;
}

}  // namespace vireo::x86
