// ExtIntSource: an 8259-compatible interrupt controller as the local APIC sees it
// through LINT0 in ExtINT delivery mode ("virtual wire", SDM Vol. 3 11.5.1): the
// controller's INTR output level and its interrupt-acknowledge cycle.
//
// Implemented by the PIC pair (devices/pic8259). The local APIC polls pending() from
// its vCPU thread, without holding any APIC lock. Whenever INTR may have risen, the
// controller calls notify_intr() so that a vCPU parked in HLT wakes up; the listener
// takes no APIC lock and may be called with the controller's own lock held.
#pragma once

#include <cstdint>
#include <functional>
#include <utility>

namespace vireo {

class ExtIntSource {
 public:
  virtual ~ExtIntSource() = default;
  // The INTR output: true while an unmasked request waits for acknowledgement.
  // Called between guest instructions: keep it cheap.
  virtual bool pending() = 0;
  // The INTA cycle: takes the highest-priority request and returns its vector (the
  // controller's spurious vector when nothing is pending any more).
  virtual uint8_t acknowledge() = 0;

  // Set once while the machine is built, before any vCPU or device thread runs.
  void set_intr_listener(std::function<void()> listener) { intr_listener_ = std::move(listener); }

 protected:
  // For the implementation: INTR may have gone from low to high.
  void notify_intr() {
    if (intr_listener_) intr_listener_();
  }

 private:
  std::function<void()> intr_listener_;
};

}  // namespace vireo
