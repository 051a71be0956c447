#include "host/escape_parser.h"

namespace vireo {

EscapeParser::Output EscapeParser::feed(const uint8_t* data, size_t len) {
  Output out;
  out.guest_bytes.reserve(len);
  for (size_t i = 0; i < len; ++i) {
    const uint8_t byte = data[i];
    if (!escape_pending_) {
      if (byte == kEscapeKey) {
        escape_pending_ = true;
      } else {
        out.guest_bytes.push_back(byte);
      }
      continue;
    }
    escape_pending_ = false;
    switch (byte) {
      case 'x':
      case 'X':
        out.events.push_back(EscapeEvent::Quit);
        break;
      case 'h':
      case 'H':
        out.events.push_back(EscapeEvent::Help);
        break;
      case kEscapeKey:
        out.guest_bytes.push_back(kEscapeKey);
        break;
      default:
        out.guest_bytes.push_back(kEscapeKey);
        out.guest_bytes.push_back(byte);
        break;
    }
  }
  return out;
}

}  // namespace vireo
