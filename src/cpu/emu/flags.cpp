#include "cpu/emu/flags.h"

namespace vireo::emu {

bool FlagsState::zf() const { return op == FlagOp::None ? (bits & rf::ZF) : res == 0; }
bool FlagsState::sf() const { return op == FlagOp::None ? (bits & rf::SF) : (res & sign_bit(size)) != 0; }

bool FlagsState::condition(unsigned cc) const {
  bool r;
  switch (cc >> 1) {
    case 0: r = of(); break;                  // O
    case 1: r = cf(); break;                  // B / C
    case 2: r = zf(); break;                  // E / Z
    case 3: r = cf() || zf(); break;          // BE
    case 4: r = sf(); break;                  // S
    case 5: r = pf(); break;                  // P
    case 6: r = sf() != of(); break;          // L
    default: r = zf() || (sf() != of()); break;  // LE
  }
  return (cc & 1) ? !r : r;
}

}  // namespace vireo::emu
