#include "cpu/emu/flags.h"

namespace vireo::emu {

static bool overflow_of(const FlagsState& f) {
  uint64_t sign = sign_bit(f.size);
  switch (f.op) {
    case FlagOp::Add: return ((f.a ^ f.res) & (f.b ^ f.res) & sign) != 0;
    case FlagOp::Sub: return ((f.a ^ f.b) & (f.a ^ f.res) & sign) != 0;
    case FlagOp::Logic: return false;
    case FlagOp::Inc: return f.res == sign;
    case FlagOp::Dec: return f.res == sign - 1;
    case FlagOp::None: break;
  }
  return f.bits & rf::OF;
}

uint64_t FlagsState::compute() const {
  uint64_t out = 0;
  if (cf()) out |= rf::CF;
  if (overflow_of(*this)) out |= rf::OF;
  if (parity_even(res)) out |= rf::PF;
  if (res == 0) out |= rf::ZF;
  if (res & sign_bit(size)) out |= rf::SF;
  switch (op) {
    case FlagOp::Add:
    case FlagOp::Sub: out |= (a ^ b ^ res) & rf::AF; break;
    case FlagOp::Inc: out |= (res & 0xf) == 0 ? rf::AF : 0; break;
    case FlagOp::Dec: out |= (res & 0xf) == 0xf ? rf::AF : 0; break;
    default: break;
  }
  return out;
}

bool FlagsState::of() const { return op == FlagOp::None ? (bits & rf::OF) : overflow_of(*this); }
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
