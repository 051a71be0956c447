// Guest exceptions as the interpreter raises them, and their delivery through the
// guest's IDT (SDM Vol. 3 chapter 6).
#pragma once

#include <cstdint>
#include <string>

#include "cpu/vcpu.h"

namespace vireo::emu {

// Exception vectors (SDM Vol. 3 Table 6-1).
enum Vector : uint8_t {
  kDE = 0, kDB = 1, kNMI = 2, kBP = 3, kOF = 4, kBR = 5, kUD = 6, kNM = 7, kDF = 8, kTS = 10, kNP = 11,
  kSS = 12, kGP = 13, kPF = 14, kMF = 16, kAC = 17, kMC = 18, kXM = 19,
};

// Thrown by an instruction that faults; the interpreter catches it between
// instructions, with RIP still at the faulting instruction, and delivers it.
struct GuestFault {
  uint8_t vector;
  bool has_error;
  uint32_t error;
};

// Thrown when the vCPU must leave run(): halt, shutdown, an instruction the
// interpreter cannot execute.
struct CpuExit {
  VcpuExitKind kind;
  std::string message;
};

// Whether `vector` pushes an error code (SDM Vol. 3 6.13).
constexpr bool pushes_error_code(uint8_t vector) {
  return vector == kDF || vector == kTS || vector == kNP || vector == kSS || vector == kGP || vector == kPF ||
         vector == kAC;
}

// Exception classes for double-fault detection (SDM Vol. 3 6.15, Table 6-4).
enum class FaultClass { Benign, Contributory, PageFault, DoubleFault };
constexpr FaultClass fault_class(uint8_t vector) {
  switch (vector) {
    case kDE: case kTS: case kNP: case kSS: case kGP: return FaultClass::Contributory;
    case kPF: return FaultClass::PageFault;
    case kDF: return FaultClass::DoubleFault;
    default: return FaultClass::Benign;
  }
}

// Table 6-5: does a second exception raised while delivering the first become #DF?
constexpr bool makes_double_fault(uint8_t first, uint8_t second) {
  FaultClass a = fault_class(first), b = fault_class(second);
  if (a == FaultClass::Contributory) return b == FaultClass::Contributory;
  if (a == FaultClass::PageFault) return b == FaultClass::Contributory || b == FaultClass::PageFault;
  return false;
}

const char* vector_name(uint8_t vector);

}  // namespace vireo::emu
