#include "devices/i8042.h"

#include "arch/x86/layout.h"
#include "base/log.h"
#include "bus/io_bus.h"

namespace vireo {
namespace {

// Status register bits.
constexpr uint8_t kStatusOutputFull = 0x01;
constexpr uint8_t kStatusSystemFlag = 0x04;
constexpr uint8_t kStatusCommand = 0x08;  // the last write went to the command port
constexpr uint8_t kStatusUnlocked = 0x10;  // keyboard not inhibited

// Configuration ("command byte") bits.
constexpr uint8_t kConfigKbdInterrupt = 0x01;
constexpr uint8_t kConfigSystemFlag = 0x04;
constexpr uint8_t kConfigKbdDisabled = 0x10;
constexpr uint8_t kConfigAuxDisabled = 0x20;
constexpr uint8_t kConfigTranslate = 0x40;

constexpr uint8_t kOutputPortReset = 0x01;  // active low: 0 holds the CPU in reset

constexpr uint8_t kCmdReadConfig = 0x20;
constexpr uint8_t kCmdWriteConfig = 0x60;
constexpr uint8_t kCmdDisableAux = 0xa7;
constexpr uint8_t kCmdEnableAux = 0xa8;
constexpr uint8_t kCmdTestAux = 0xa9;
constexpr uint8_t kCmdSelfTest = 0xaa;
constexpr uint8_t kCmdTestKbd = 0xab;
constexpr uint8_t kCmdDisableKbd = 0xad;
constexpr uint8_t kCmdEnableKbd = 0xae;
constexpr uint8_t kCmdReadOutputPort = 0xd0;
constexpr uint8_t kCmdWriteOutputPort = 0xd1;
constexpr uint8_t kCmdWriteKbdBuffer = 0xd2;
constexpr uint8_t kCmdWriteAuxBuffer = 0xd3;
constexpr uint8_t kCmdWriteAux = 0xd4;
constexpr uint8_t kCmdPulseFirst = 0xf0;

constexpr uint8_t kSelfTestPassed = 0x55;
constexpr uint8_t kInterfaceTestPassed = 0x00;
constexpr size_t kOutputQueueMax = 16;

}  // namespace

I8042::I8042(VmControl& vm)
    : vm_(vm), config_(kConfigKbdInterrupt | kConfigSystemFlag | kConfigTranslate) {}

void I8042::attach_to(IoBus& pio) {
  pio.add(x86::kI8042DataPort, 1, &data_port_, "i8042 data");
  pio.add(x86::kI8042CmdPort, 1, &command_port_, "i8042 command");
}

uint64_t I8042::Port::io_read(uint64_t offset, unsigned) {
  if (offset != 0) return 0;
  return is_command_ ? controller_.read_status() : controller_.read_data();
}

void I8042::Port::io_write(uint64_t offset, unsigned, uint64_t value) {
  // The controller has 8-bit ports; a wider write delivers its low byte.
  if (offset != 0) return;
  if (is_command_) {
    controller_.write_command(static_cast<uint8_t>(value));
  } else {
    controller_.write_data(static_cast<uint8_t>(value));
  }
}

uint8_t I8042::read_status() {
  std::lock_guard<std::mutex> lock(mu_);
  uint8_t status = kStatusUnlocked;
  if (!output_.empty()) status |= kStatusOutputFull;
  if (config_ & kConfigSystemFlag) status |= kStatusSystemFlag;
  if (last_write_was_command_) status |= kStatusCommand;
  return status;
}

uint8_t I8042::read_data() {
  std::lock_guard<std::mutex> lock(mu_);
  if (output_.empty()) return 0;
  uint8_t byte = output_.front();
  output_.pop_front();
  return byte;
}

void I8042::write_data(uint8_t value) {
  bool reset = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    last_write_was_command_ = false;
    uint8_t command = pending_command_;
    pending_command_ = 0;
    switch (command) {
      case kCmdWriteConfig:
        config_ = value;
        break;
      case kCmdWriteOutputPort:
        output_port_ = value;
        reset = !(value & kOutputPortReset);
        break;
      case kCmdWriteKbdBuffer:
      case kCmdWriteAuxBuffer:
      case kCmdWriteAux:
        break;  // no keyboard or mouse behind the controller
      default:
        break;  // a byte for the keyboard, which is absent: the guest's probe times out
    }
  }
  if (reset) reset_cpu();
}

void I8042::write_command(uint8_t command) {
  bool reset = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    last_write_was_command_ = true;
    pending_command_ = 0;
    auto queue = [this](uint8_t byte) {
      if (output_.size() < kOutputQueueMax) output_.push_back(byte);
    };
    switch (command) {
      case kCmdReadConfig:
        queue(config_);
        break;
      case kCmdWriteConfig:
      case kCmdWriteOutputPort:
      case kCmdWriteKbdBuffer:
      case kCmdWriteAuxBuffer:
      case kCmdWriteAux:
        pending_command_ = command;
        break;
      case kCmdSelfTest:
        queue(kSelfTestPassed);
        break;
      case kCmdTestKbd:
      case kCmdTestAux:
        queue(kInterfaceTestPassed);
        break;
      case kCmdDisableKbd:
        config_ |= kConfigKbdDisabled;
        break;
      case kCmdEnableKbd:
        config_ &= static_cast<uint8_t>(~kConfigKbdDisabled);
        break;
      case kCmdDisableAux:
        config_ |= kConfigAuxDisabled;
        break;
      case kCmdEnableAux:
        config_ &= static_cast<uint8_t>(~kConfigAuxDisabled);
        break;
      case kCmdReadOutputPort:
        queue(output_port_);
        break;
      default:
        // 0xF0-0xFF pulse the output port lines whose bit is clear in the low nibble;
        // line 0 is the CPU reset (0xFE is the classic "reboot" command).
        if (command >= kCmdPulseFirst) {
          reset = !(command & kOutputPortReset);
        } else {
          log_debug("i8042: ignoring command {:#04x}", command);
        }
        break;
    }
  }
  if (reset) reset_cpu();
}

void I8042::reset_cpu() { vm_.request_stop({StopKind::Reset, 0, ""}); }

}  // namespace vireo
