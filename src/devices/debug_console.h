// DebugConsole: the port-0xE9 debug console of bare-metal test guests and early boot
// code. Every byte written is collected into lines; each complete line (without its
// "\n", a trailing "\r" dropped, control characters shown as \xNN) goes to the line
// sink. Over-long lines are cut into pieces of kMaxLine bytes; a partial line is
// handed over by flush() and by the destructor. Reads return 0xE9, which is how
// guests detect the port.
#pragma once

#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>

#include "arch/x86/layout.h"
#include "bus/io_device.h"

namespace vireo {

class IoBus;

class DebugConsole final : public IoDevice {
 public:
  using LineSink = std::function<void(std::string_view line)>;
  static constexpr size_t kMaxLine = 1024;
  static constexpr uint8_t kReadValue = 0xe9;

  // `sink` receives whole lines (called with the device's lock held, so lines keep
  // their order).
  explicit DebugConsole(LineSink sink);
  ~DebugConsole() override;

  // The sink vireo uses: each line on stderr as "guest debug: <line>", in one write.
  static LineSink stderr_sink();

  // Registers the single port x86::kDebugConsolePort.
  void attach_to(IoBus& pio);

  uint64_t io_read(uint64_t offset, unsigned size) override;
  void io_write(uint64_t offset, unsigned size, uint64_t value) override;

  // Hands over a partial line, if any.
  void flush();

 private:
  void put(uint8_t byte);
  void append_escaped(uint8_t byte);
  void emit_line();

  LineSink sink_;
  std::mutex mu_;
  std::string line_;
  bool pending_cr_ = false;  // a "\r" that may be the first half of "\r\n"
};

}  // namespace vireo
