#include "vm/accel_choice.h"

namespace vireo {

const char* accel_name(AccelChoice choice) {
  switch (choice) {
    case AccelChoice::Auto: return "auto";
    case AccelChoice::Kvm: return "kvm";
    case AccelChoice::Emu: return "emu";
  }
  return "?";
}

AccelDecision choose_accelerator(AccelChoice requested, const KvmProbe& kvm, bool emu_available,
                                 bool emu_boots_linux) {
  AccelDecision d;
  if (requested == AccelChoice::Kvm) {
    d.chosen = AccelChoice::Kvm;
    d.reason = "--accel kvm";
    if (kvm.kind == KvmKind::Missing || kvm.kind == KvmKind::NoPermission) {
      d.ok = false;
      d.reason = kvm.detail;
    }
    return d;
  }
  if (requested == AccelChoice::Emu) {
    d.chosen = AccelChoice::Emu;
    d.reason = "--accel emu";
    if (!emu_available) {
      d.ok = false;
      d.reason = "the emulator (--accel emu) is not part of this build yet";
    }
    return d;
  }
  // auto: KVM with hardware virtualization first; else the emulator.
  if (kvm.kind == KvmKind::Hardware) {
    d.chosen = AccelChoice::Kvm;
    d.reason = "auto: " + kvm.detail;
    return d;
  }
  d.chosen = AccelChoice::Emu;
  std::string why = kvm.kind == KvmKind::Pvm ? "this host's KVM is PVM (no VT-x/AMD-V) and cannot run a stock kernel"
                    : kvm.kind == KvmKind::Unknown ? "this host's KVM is of an unknown kind"
                                                    : kvm.detail;
  if (emu_available && emu_boots_linux) {
    d.reason = "auto: using the emulator, because " + why;
  } else {
    d.ok = false;
    d.reason = "no accelerator in this build can boot a stock kernel here: " + why +
               (emu_available ? ", and the emulator cannot boot Linux yet" : ", and the emulator is not built yet") +
               " (bare-metal guests run with --accel kvm or --accel emu)";
  }
  return d;
}

}  // namespace vireo
