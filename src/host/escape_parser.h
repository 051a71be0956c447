// EscapeParser: the console's escape key. While a guest owns the terminal, Ctrl-A
// (0x01) starts a two-key command:
//   Ctrl-A x       quit vireo                       -> EscapeEvent::Quit
//   Ctrl-A h       print the escape help            -> EscapeEvent::Help
//   Ctrl-A Ctrl-A  send one Ctrl-A to the guest
//   Ctrl-A other   send both bytes to the guest
// Letters are accepted in either case. A Ctrl-A that ends one feed() waits for the
// next byte of the next feed(). Pure: no I/O.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace vireo {

enum class EscapeEvent { Quit, Help };

class EscapeParser {
 public:
  static constexpr uint8_t kEscapeKey = 0x01;  // Ctrl-A
  static constexpr const char* kHelpText =
      "Ctrl-A X: quit vireo, Ctrl-A Ctrl-A: send Ctrl-A, Ctrl-A H: this help";

  struct Output {
    std::vector<uint8_t> guest_bytes;  // bytes for the guest, in order
    std::vector<EscapeEvent> events;   // commands, in the order they were typed
  };

  Output feed(const uint8_t* data, size_t len);

  // True while a Ctrl-A waits for its second key.
  bool escape_pending() const { return escape_pending_; }

 private:
  bool escape_pending_ = false;
};

}  // namespace vireo
