// The guest memory image and the initial ring-3 CPU state shared by both runners
// (layout in guest_layout.h).
#pragma once

#include <cstdint>
#include <vector>

#include "cpu/cpu_state.h"
#include "difftest/program.h"

namespace vireo::difftest {

// Writes the page tables, GDT, TSS, IDT and exception handler stubs into `ram`
// (kRamSize bytes, guest-physical 0 at ram[0]). Done once per machine.
void write_system_structures(uint8_t* ram);

// The bytes appended to every test case: `mov [kEndMmioVa], al`, a store to a page
// with no RAM behind it, which ends the run with an MMIO access.
std::vector<uint8_t> end_store_bytes();

// The KVM-side epilogue, placed after the end store and a `jmp $` (so the
// interpreter, which stops there, never runs it): fxsave [kSseOutGpa];
// mov [kEndMmioVa + 8], al. It starts at sse_epilogue_address(tc).
std::vector<uint8_t> sse_epilogue_bytes();
uint64_t sse_epilogue_address(const TestCase& tc);

// Reads the FXSAVE image the epilogue wrote into r.xmm / r.mxcsr.
void read_sse_image(const uint8_t* ram, Result& r);

// Loads the code (with the end store and the SSE epilogue), the data area, the
// stack page and the FXSAVE image of the initial SSE state of `tc`.
// Clears the rest of the code pages (so running off the end executes zeros, the
// same on both sides) and the ring-0 stack (where exception frames appear).
void load_test_case(uint8_t* ram, const TestCase& tc);

// Reads the data area and stack page back into `r`.
void read_user_memory(const uint8_t* ram, Result& r);

// Ring-3 long-mode state: CS = kUserCodeSel (DPL 3, L=1), SS/DS/ES = kUserDataSel,
// paging on with kPml4Gpa, TR = the 64-bit TSS, IDT = kIdtGpa; GPRs, RIP = kCodeGpa
// and RFLAGS from the test case.
X86CpuState initial_cpu_state(const TestCase& tc);

// Decodes the ring-0 exception frame that a handler stub left at RSP (the value of
// RSP when the handler's MMIO store exited): fills r.rip, r.rflags, r.gpr[RSP] and
// r.error_code from it. Returns false when the frame is not inside the ring-0 stack.
bool read_exception_frame(const uint8_t* ram, uint64_t handler_rsp, unsigned vector, Result& r);

}  // namespace vireo::difftest
