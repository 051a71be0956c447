// I8042: the PC keyboard controller, reduced to what a guest needs to reset the
// machine and to find that no keyboard or mouse is attached.
//
// The controller answers two ports, data (0x60) and command/status (0x64), which are
// not adjacent (0x61 belongs to other hardware), so it is registered as two
// one-port devices sharing one state: use attach_to().
//
// Supported commands (written to the command port): 0x20 read the configuration
// byte, 0x60 write it (next data byte), 0xAA self test, 0xAB/0xA9 interface tests,
// 0xAD/0xAE/0xA7/0xA8 disable/enable the keyboard/aux interface, 0xD0/0xD1 read/write
// the output port (bit 0 clear resets the CPU), 0xF0-0xFF pulse output lines (bit 0
// clear pulses reset). Reset asks the VM to stop with StopKind::Reset. Bytes sent to
// the (absent) keyboard are dropped, so the guest's device probe times out.
#pragma once

#include <cstdint>
#include <deque>
#include <mutex>

#include "bus/io_device.h"
#include "vm/vm_control.h"

namespace vireo {

class IoBus;

class I8042 {
 public:
  explicit I8042(VmControl& vm);

  // Registers the data port at x86::kI8042DataPort and the command/status port at
  // x86::kI8042CmdPort. The I8042 must outlive the bus's use of it.
  void attach_to(IoBus& pio);

  IoDevice& data_port() { return data_port_; }
  IoDevice& command_port() { return command_port_; }

 private:
  class Port final : public IoDevice {
   public:
    Port(I8042& controller, bool is_command) : controller_(controller), is_command_(is_command) {}
    uint64_t io_read(uint64_t offset, unsigned size) override;
    void io_write(uint64_t offset, unsigned size, uint64_t value) override;

   private:
    I8042& controller_;
    bool is_command_;
  };

  uint8_t read_data();
  uint8_t read_status();
  void write_data(uint8_t value);
  void write_command(uint8_t command);
  void reset_cpu();

  VmControl& vm_;
  Port data_port_{*this, false};
  Port command_port_{*this, true};

  std::mutex mu_;
  std::deque<uint8_t> output_;  // bytes waiting in the output buffer
  uint8_t config_;
  uint8_t output_port_ = 0x03;  // reset line high (not in reset), A20 enabled
  uint8_t pending_command_ = 0;  // a command waiting for its data byte, or 0
  bool last_write_was_command_ = false;
};

}  // namespace vireo
