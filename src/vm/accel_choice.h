// Which accelerator runs a VM: the user's --accel, or for "auto" the best one this
// host has, with the reason in words.
#pragma once

#include <string>

#include "cpu/kvm/kvm_system.h"
#include "vm/vm_config.h"

namespace vireo {

struct AccelDecision {
  AccelChoice chosen = AccelChoice::Kvm;
  std::string reason;  // one line, shown to the user
  bool ok = true;      // false: nothing here can run the guest; reason says why
};

// `emu_boots_linux`: whether the emulator can boot a stock Linux kernel yet.
AccelDecision choose_accelerator(AccelChoice requested, const KvmProbe& kvm, bool emu_available, bool emu_boots_linux);

const char* accel_name(AccelChoice choice);

}  // namespace vireo
