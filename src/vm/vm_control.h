// VmControl: what a device may ask of the VM that owns it (stop it with a status).
#pragma once

#include <string>

namespace vireo {

// Exit statuses of `vireo run` (besides 0 and the debug-exit device's odd values).
constexpr int kExitVireoError = 1;  // bad input or a host failure
constexpr int kExitGuestCrash = 2;  // the guest crashed: triple fault, panic, emulation failure

enum class StopKind {
  PowerOff,    // the guest powered off (ACPI S5): exit status 0
  Reset,       // the guest rebooted: vireo ends with exit status 0
  DebugExit,   // a test device asked for a specific exit status
  UserQuit,    // Ctrl-A X on the console
  GuestCrash,  // triple fault, guest panic, emulation failure: non-zero status
  HostError,   // vireo itself failed
};

struct StopRequest {
  StopKind kind = StopKind::PowerOff;
  int exit_status = 0;
  std::string message;  // printed when non-empty
};

class VmControl {
 public:
  virtual ~VmControl() = default;
  // Thread-safe; the first request wins, later ones are ignored.
  virtual void request_stop(StopRequest request) = 0;
};

}  // namespace vireo
