#include "difftest/guest_image.h"

#include <cassert>
#include <cstring>

namespace vireo::difftest {
namespace {

// Page-table entry bits (SDM vol. 3, 4.5, table 4-19/4-20).
constexpr uint64_t kPresent = 1ull << 0, kWritable = 1ull << 1, kUser = 1ull << 2, kAccessed = 1ull << 5,
                   kDirty = 1ull << 6, kNoExecute = 1ull << 63;

void put64(uint8_t* ram, uint64_t gpa, uint64_t v) {
  assert(gpa + 8 <= kRamSize);
  std::memcpy(ram + gpa, &v, 8);
}
void put32(uint8_t* ram, uint64_t gpa, uint32_t v) {
  assert(gpa + 4 <= kRamSize);
  std::memcpy(ram + gpa, &v, 4);
}
void put16(uint8_t* ram, uint64_t gpa, uint16_t v) {
  assert(gpa + 2 <= kRamSize);
  std::memcpy(ram + gpa, &v, 2);
}
uint64_t get64(const uint8_t* ram, uint64_t gpa) {
  uint64_t v;
  std::memcpy(&v, ram + gpa, 8);
  return v;
}

// Maps the 4 KiB virtual page `va` (below 2 MiB) to `gpa`. Accessed and dirty are
// preset so that neither side writes the tables while a test runs.
void map_page(uint8_t* ram, uint64_t va, uint64_t gpa, uint64_t flags) {
  assert(va < 0x200000 && va % kPageSize == 0);
  put64(ram, kPtGpa + (va / kPageSize) * 8, gpa | flags | kPresent | kAccessed | kDirty);
}

// A 64-bit code or data descriptor (SDM vol. 3, 3.4.5). `access` holds P, DPL, S
// and the type (with the accessed bit set, so the CPU never writes the GDT).
uint64_t segment_descriptor(uint8_t access, bool long_mode) {
  uint64_t flags = long_mode ? 0xA : 0xC;  // G=1 and L=1, or G=1 and D/B=1
  return 0xFFFFull | (uint64_t(access) << 40) | (0xFull << 48) | (flags << 52);
}

}  // namespace

void write_system_structures(uint8_t* ram) {
  std::memset(ram, 0, kRamSize);
  // Four levels, one table each: PML4[0] -> PDPT[0] -> PD[0] -> PT covering 0..2 MiB.
  // Upper levels allow everything; the PT entries decide (SDM vol. 3, 4.6).
  const uint64_t table = kPresent | kWritable | kUser | kAccessed;
  put64(ram, kPml4Gpa, kPdptGpa | table);
  put64(ram, kPdptGpa, kPdGpa | table);
  put64(ram, kPdGpa, kPtGpa | table);
  for (uint64_t va = kPml4Gpa; va < kKernelStackTop; va += kPageSize) map_page(ram, va, va, kWritable | kNoExecute);
  map_page(ram, kHandlerGpa, kHandlerGpa, 0);
  map_page(ram, kPrologueGpa, kPrologueGpa, kUser);
  for (uint64_t off = 0; off < kCodeSize; off += kPageSize) map_page(ram, kCodeGpa + off, kCodeGpa + off, kUser);
  for (uint64_t off = 0; off < kDataSize; off += kPageSize)
    map_page(ram, kDataGpa + off, kDataGpa + off, kUser | kWritable | kNoExecute);
  map_page(ram, kStackGpa, kStackGpa, kUser | kWritable | kNoExecute);
  map_page(ram, kSseAreaGpa, kSseAreaGpa, kUser | kWritable | kNoExecute);
  map_page(ram, kEndMmioVa, kEndMmioGpa, kUser | kWritable | kNoExecute);
  map_page(ram, kFaultMmioVa, kFaultMmioGpa, kWritable | kNoExecute);

  // The KVM-side SSE prologue: fxrstor [kSseInGpa], falling through into the test code.
  uint32_t in = kSseInGpa;
  const uint8_t prologue[] = {0x0F, 0xAE, 0x0C, 0x25, uint8_t(in), uint8_t(in >> 8), uint8_t(in >> 16), uint8_t(in >> 24)};
  static_assert(sizeof prologue == kCodeGpa - kSseEntryGpa);
  std::memcpy(ram + kSseEntryGpa, prologue, sizeof prologue);

  // GDT: null, ring-0 code/data, ring-3 data/code, then the 16-byte TSS descriptor.
  put64(ram, kGdtGpa + kKernelCodeSel, segment_descriptor(0x9B, true));
  put64(ram, kGdtGpa + kKernelDataSel, segment_descriptor(0x93, false));
  put64(ram, kGdtGpa + (kUserDataSel & ~3), segment_descriptor(0xF3, false));
  put64(ram, kGdtGpa + (kUserCodeSel & ~3), segment_descriptor(0xFB, true));
  // 64-bit TSS descriptor (SDM vol. 3, 8.2.3), type 0xB (busy: TR is loaded).
  uint64_t tss_low = 0x67 | ((kTssGpa & 0xFFFFFF) << 16) | (0x8Bull << 40) | (((kTssGpa >> 24) & 0xFF) << 56);
  put64(ram, kGdtGpa + kTssSel, tss_low);
  put64(ram, kGdtGpa + kTssSel + 8, kTssGpa >> 32);

  // TSS: RSP0 for ring-3 -> ring-0 transitions; no I/O bitmap (SDM vol. 3, 8.7).
  put64(ram, kTssGpa + 4, kKernelStackTop);
  put16(ram, kTssGpa + 0x66, 0x68);

  // IDT: an interrupt gate per exception vector to its stub (SDM vol. 3, 6.14.1).
  // #BP and #OF gates have DPL 3 so int3/into from ring 3 reach them.
  for (unsigned v = 0; v < kNumVectors; ++v) {
    uint64_t handler = kHandlerGpa + v * kHandlerStride;
    uint64_t gate = kIdtGpa + v * 16;
    uint8_t dpl = (v == 3 || v == 4) ? 3 : 0;
    put16(ram, gate, handler & 0xFFFF);
    put16(ram, gate + 2, kKernelCodeSel);
    ram[gate + 4] = 0;                           // IST 0
    ram[gate + 5] = 0x8E | (dpl << 5);           // present, 64-bit interrupt gate
    put16(ram, gate + 6, (handler >> 16) & 0xFFFF);
    put32(ram, gate + 8, handler >> 32);
    // Stub: mov [kFaultMmioVa + v], al ; jmp $. The store exits to the monitor with
    // the vector in the address and leaves every register as the fault left it.
    uint8_t* stub = ram + handler;
    uint32_t target = kFaultMmioVa + v;
    const uint8_t bytes[] = {0x88, 0x04, 0x25, uint8_t(target), uint8_t(target >> 8), uint8_t(target >> 16),
                             uint8_t(target >> 24), 0xEB, 0xFE};
    std::memcpy(stub, bytes, sizeof bytes);
  }
}

std::vector<uint8_t> end_store_bytes() {
  uint32_t t = kEndMmioVa;
  return {0x88, 0x04, 0x25, uint8_t(t), uint8_t(t >> 8), uint8_t(t >> 16), uint8_t(t >> 24)};
}

std::vector<uint8_t> sse_epilogue_bytes() {
  uint32_t area = kSseOutGpa;
  uint32_t t = kEndMmioVa + 8;
  return {0x0F, 0xAE, 0x04, 0x25, uint8_t(area), uint8_t(area >> 8), uint8_t(area >> 16), uint8_t(area >> 24),
          0x88, 0x04, 0x25, uint8_t(t), uint8_t(t >> 8), uint8_t(t >> 16), uint8_t(t >> 24)};
}

uint64_t sse_epilogue_address(const TestCase& tc) { return kCodeGpa + tc.code.size() + end_store_bytes().size() + 2; }

void load_test_case(uint8_t* ram, const TestCase& tc) {
  // End store, then `jmp $` (where the interpreter, which looks at its stop request
  // only every few instructions, waits), then the KVM-side SSE epilogue.
  std::vector<uint8_t> end = end_store_bytes();
  end.push_back(0xEB);
  end.push_back(0xFE);
  std::vector<uint8_t> epilogue = sse_epilogue_bytes();
  end.insert(end.end(), epilogue.begin(), epilogue.end());
  assert(tc.code.size() + end.size() <= kCodeSize);
  assert(tc.data.size() == kDataSize && tc.stack.size() == kStackSize);
  std::memset(ram + kCodeGpa, 0, kCodeSize);
  std::memcpy(ram + kCodeGpa, tc.code.data(), tc.code.size());
  std::memcpy(ram + kCodeGpa + tc.code.size(), end.data(), end.size());
  std::memcpy(ram + kDataGpa, tc.data.data(), kDataSize);
  std::memcpy(ram + kStackGpa, tc.stack.data(), kStackSize);
  std::memset(ram + kKernelStackGpa, 0, kPageSize);
  // The SSE state in FXSAVE layout (SDM vol. 1, 10.5.1, table 10-2), for the
  // prologue's FXRSTOR.
  uint8_t* in = ram + kSseInGpa;
  std::memset(in, 0, 0x400);
  uint16_t fcw = 0x37f;
  std::memcpy(in, &fcw, 2);
  std::memcpy(in + 24, &tc.mxcsr, 4);
  for (unsigned i = 0; i < 16; ++i) {
    std::memcpy(in + 160 + 16 * i, &tc.xmm[i].lo, 8);
    std::memcpy(in + 168 + 16 * i, &tc.xmm[i].hi, 8);
  }
}

void read_sse_image(const uint8_t* ram, Result& r) {
  const uint8_t* out = ram + kSseOutGpa;
  std::memcpy(&r.mxcsr, out + 24, 4);
  for (unsigned i = 0; i < 16; ++i) {
    std::memcpy(&r.xmm[i].lo, out + 160 + 16 * i, 8);
    std::memcpy(&r.xmm[i].hi, out + 168 + 16 * i, 8);
  }
  r.sse_valid = true;
}

void read_user_memory(const uint8_t* ram, Result& r) {
  r.data.assign(ram + kDataGpa, ram + kDataGpa + kDataSize);
  r.stack.assign(ram + kStackGpa, ram + kStackGpa + kStackSize);
}

X86CpuState initial_cpu_state(const TestCase& tc) {
  X86CpuState s;
  s.gpr = tc.gpr;
  s.rip = kCodeGpa;
  s.rflags = tc.rflags;
  Segment code;
  code.base = 0;
  code.limit = 0xFFFFFFFF;
  code.selector = kUserCodeSel;
  code.type = 0xB;  // execute/read, accessed
  code.present = true;
  code.dpl = 3;
  code.s = true;
  code.l = true;
  code.db = false;
  code.g = true;
  Segment data = code;
  data.selector = kUserDataSel;
  data.type = 0x3;  // read/write, accessed
  data.l = false;
  data.db = true;
  s.cs = code;
  s.ss = s.ds = s.es = s.fs = s.gs = data;
  Segment tr;
  tr.base = kTssGpa;
  tr.limit = 0x67;
  tr.selector = kTssSel;
  tr.type = 0xB;  // busy 64-bit TSS
  tr.s = false;
  tr.dpl = 0;
  tr.present = true;
  s.tr = tr;
  Segment ldt;
  ldt.selector = 0;
  ldt.type = 0x2;
  ldt.s = false;
  ldt.present = false;
  ldt.unusable = true;
  ldt.limit = 0;
  s.ldt = ldt;
  s.gdt = {kGdtGpa, kGdtLimit};
  s.idt = {kIdtGpa, uint16_t(kNumVectors * 16 - 1)};
  s.cr0 = x86::CR0_PE | x86::CR0_MP | x86::CR0_ET | x86::CR0_NE | x86::CR0_WP | x86::CR0_PG;
  s.cr3 = kPml4Gpa;
  s.cr4 = x86::CR4_PAE | x86::CR4_OSFXSR | x86::CR4_OSXMMEXCPT;
  s.efer = x86::EFER_SCE | x86::EFER_LME | x86::EFER_LMA | x86::EFER_NXE;
  return s;
}

bool read_exception_frame(const uint8_t* ram, uint64_t handler_rsp, unsigned vector, Result& r) {
  // The frame the CPU pushed on the ring-0 stack, lowest address first
  // (SDM vol. 3, 6.14.2): [error code], RIP, CS, RFLAGS, RSP, SS.
  unsigned words = vector_has_error_code(vector) ? 6 : 5;
  if (handler_rsp != kKernelStackTop - words * 8) return false;
  uint64_t p = handler_rsp;
  r.error_code = 0;
  if (vector_has_error_code(vector)) {
    r.error_code = get64(ram, p);
    p += 8;
  }
  r.rip = get64(ram, p);
  r.rflags = get64(ram, p + 16);
  r.gpr[4] = get64(ram, p + 24);
  return true;
}

}  // namespace vireo::difftest
