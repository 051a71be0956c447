// The opcode -> handler table, built once from the instruction families.
#include <algorithm>

#include "cpu/emu/exec_common.h"

namespace vireo::emu {
namespace {

void exec_unimplemented(EmuCpu& c, const DecodedInsn& d) { c.unimplemented(d); }
// A VEX encoding of an extension CPUID does not offer (AVX, AVX2, FMA, BMI2, ...): #UD.
void exec_vex_absent(EmuCpu& c, const DecodedInsn&) { c.fault(kUD); }

HandlerTable build() {
  HandlerTable t;
  t.fill(exec_unimplemented);
  std::fill(t.begin() + kMapVex * 256, t.end(), exec_vex_absent);
  register_alu(t);
  register_shift(t);
  register_muldiv(t);
  register_bit(t);
  register_string(t);
  register_control(t);
  register_stack(t);
  register_move(t);
  register_system(t);
  register_sse(t);
  register_x87(t);
  register_bmi(t);
  return t;
}

}  // namespace

const HandlerTable& handler_table() {
  static const HandlerTable table = build();
  return table;
}

}  // namespace vireo::emu
