#include "devices/pvpanic.h"

#include "base/log.h"

namespace vireo {

uint64_t PvPanic::io_read(uint64_t, unsigned) { return kPanicked | kCrashLoaded; }

void PvPanic::io_write(uint64_t, unsigned, uint64_t value) {
  if (value & kPanicked) {
    vm_.request_stop({StopKind::GuestCrash, kExitGuestCrash, "the guest kernel panicked (pvpanic)"});
  } else if (value & kCrashLoaded) {
    log_info("the guest kernel crashed and is starting its crash kernel (pvpanic)");
  }
}

}  // namespace vireo
