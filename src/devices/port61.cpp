#include "devices/port61.h"

#include "bus/io_bus.h"
#include "devices/pit8254.h"

namespace vireo {
namespace {

constexpr uint8_t kWritableBits = 0x0f;
constexpr uint8_t kGate2 = 0x01;
constexpr uint8_t kRefreshToggle = 0x10;
constexpr uint8_t kOut2 = 0x20;
constexpr unsigned kSpeakerCounter = 2;

}  // namespace

SystemControlPortB::SystemControlPortB(Pit8254& pit) : pit_(pit) {}

void SystemControlPortB::attach_to(IoBus& pio) { pio.add(kPort, 1, this, "system-control-b"); }

uint64_t SystemControlPortB::io_read(uint64_t offset, unsigned size) {
  if (offset != 0) return 0xff;
  std::lock_guard<std::mutex> lock(mu_);
  refresh_ = !refresh_;
  uint8_t value = control_;
  if (refresh_) value |= kRefreshToggle;
  if (pit_.output(kSpeakerCounter)) value |= kOut2;
  // A wider read covers unclaimed ports above: all ones, as the bus gives them.
  uint64_t result = value;
  for (unsigned i = 1; i < size && i < 8; ++i) result |= uint64_t{0xff} << (8 * i);
  return result;
}

void SystemControlPortB::io_write(uint64_t offset, unsigned size, uint64_t value) {
  (void)size;
  if (offset != 0) return;
  std::lock_guard<std::mutex> lock(mu_);
  control_ = static_cast<uint8_t>(value) & kWritableBits;
  pit_.set_gate(kSpeakerCounter, control_ & kGate2);
}

}  // namespace vireo
