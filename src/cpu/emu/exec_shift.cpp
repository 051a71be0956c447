// Shifts and rotates: ROL ROR RCL RCR SHL SHR SAL SAR (group 2), SHLD, SHRD.
// Flags per SDM Vol. 2 "RCL/RCR/ROL/ROR", "SAL/SAR/SHL/SHR", "SHLD", "SHRD". Where the
// SDM leaves OF undefined (counts above 1) the count-1 formula is used; AF is cleared.
#include "cpu/emu/exec_common.h"

namespace vireo::emu {
namespace {

struct ShiftResult {
  uint64_t value;
  bool cf, of;
  bool status;  // SF ZF PF come from the result (shifts), not kept (rotates)
};

ShiftResult shift_compute(unsigned op, uint64_t a, unsigned count, unsigned size, bool cf_in) {
  const unsigned bits = size * 8;
  const uint64_t m = size_mask(size);
  const uint64_t msb = sign_bit(size);
  ShiftResult r{a, cf_in, false, false};
  switch (op) {
    case 0: {  // ROL
      unsigned k = count % bits;
      uint64_t v = k ? ((a << k) | (a >> (bits - k))) & m : a;
      r.value = v;
      r.cf = v & 1;
      r.of = bool(v & msb) != r.cf;
      break;
    }
    case 1: {  // ROR
      unsigned k = count % bits;
      uint64_t v = k ? ((a >> k) | (a << (bits - k))) & m : a;
      r.value = v;
      r.cf = v & msb;
      r.of = bool(v & msb) != bool(v & (msb >> 1));
      break;
    }
    case 2: {  // RCL: rotate the (bits+1)-bit value CF:a left
      unsigned k = size <= 2 ? count % (bits + 1) : count;
      uint64_t v = a;
      bool c = cf_in;
      for (unsigned i = 0; i < k; ++i) {
        bool out = v & msb;
        v = ((v << 1) | uint64_t(c)) & m;
        c = out;
      }
      r.value = v;
      r.cf = c;
      r.of = bool(v & msb) != c;
      break;
    }
    case 3: {  // RCR
      unsigned k = size <= 2 ? count % (bits + 1) : count;
      uint64_t v = a;
      bool c = cf_in;
      for (unsigned i = 0; i < k; ++i) {
        bool out = v & 1;
        v = (v >> 1) | (c ? msb : 0);
        c = out;
      }
      r.value = v;
      r.cf = c;
      r.of = bool(v & msb) != bool(v & (msb >> 1));
      break;
    }
    case 4:
    case 6: {  // SHL / SAL
      r.value = count < 64 ? (a << count) & m : 0;
      r.cf = count <= bits ? (a >> (bits - count)) & 1 : false;
      r.of = bool(r.value & msb) != r.cf;
      r.status = true;
      break;
    }
    case 5: {  // SHR
      r.value = count < 64 ? a >> count : 0;
      r.cf = count <= bits ? (a >> (count - 1)) & 1 : false;
      r.of = a & msb;
      r.status = true;
      break;
    }
    default: {  // SAR
      int64_t sa = int64_t(sext(a, size));
      unsigned k = count >= bits ? bits - 1 : count;
      r.value = uint64_t(sa >> k) & m;
      r.cf = count >= bits ? (sa < 0) : ((sa >> (count - 1)) & 1);
      if (count >= bits) r.value = sa < 0 ? m : 0;
      r.of = false;
      r.status = true;
      break;
    }
  }
  return r;
}

// A shift or rotate whose masked count is 0 changes no flag, but still writes its
// destination: a 32-bit register is zero-extended to 64 bits, and a memory operand
// is accessed for writing (a read-only page faults with a write error code), as the
// CPU does. 8- and 16-bit registers keep their other bits.
void write_back_unchanged(EmuCpu& c, const DecodedInsn& d, unsigned size) {
  (void)c.rmw_rm(d, size, [](uint64_t v) { return v; });
}

void shift_rm(EmuCpu& c, const DecodedInsn& d, unsigned size, unsigned raw_count) {
  unsigned count = raw_count & (size == 8 ? 0x3f : 0x1f);
  if (count == 0) {
    write_back_unchanged(c, d, size);
    return;
  }
  unsigned op = (d.modrm >> 3) & 7;
  bool cf_in = c.s.flags.cf();
  uint64_t old = c.rmw_rm(d, size, [&](uint64_t a) { return shift_compute(op, a, count, size, cf_in).value; });
  ShiftResult r = shift_compute(op, old, count, size, cf_in);
  if (r.status) {
    set_status_flags(c, r.cf, r.of, r.value, size);
  } else {
    c.s.flags.set_cf_of(r.cf, r.of);
  }
}

void exec_group2(EmuCpu& c, const DecodedInsn& d) {
  unsigned size = byte_or_v(d);
  unsigned count;
  switch (d.opcode()) {
    case 0xc0:
    case 0xc1: count = d.imm & 0xff; break;
    case 0xd0:
    case 0xd1: count = 1; break;
    default: count = c.s.gpr[RCX] & 0xff; break;
  }
  shift_rm(c, d, size, count);
}

// 0F A4/A5 SHLD, 0F AC/AD SHRD.
void exec_shld_shrd(EmuCpu& c, const DecodedInsn& d) {
  unsigned size = d.osize;
  unsigned bits = size * 8;
  bool left = d.opcode() < 0xa8;
  unsigned count = ((d.opcode() & 1) ? c.s.gpr[RCX] : d.imm) & (size == 8 ? 0x3f : 0x1f);
  if (count == 0) {
    write_back_unchanged(c, d, size);
    return;
  }
  uint64_t src = c.reg(d, d.reg, size);
  auto compute = [&](uint64_t a) -> uint64_t {
    unsigned __int128 v;
    if (left) {
      v = ((unsigned __int128)a << bits) | src;
      return uint64_t((v << count) >> bits) & size_mask(size);
    }
    v = ((unsigned __int128)src << bits) | a;
    return uint64_t(v >> count) & size_mask(size);
  };
  uint64_t old = c.rmw_rm(d, size, compute);
  uint64_t r = compute(old);
  bool cf = left ? (count <= bits && ((old >> (bits - count)) & 1)) : ((old >> (count - 1)) & 1);
  bool of = bool(r & sign_bit(size)) != bool(old & sign_bit(size));
  set_status_flags(c, cf, of, r, size);
}

}  // namespace

void register_shift(HandlerTable& t) {
  for (unsigned op : {0xc0u, 0xc1u, 0xd0u, 0xd1u, 0xd2u, 0xd3u}) set_handler(t, kMapOne, op, exec_group2);
  for (unsigned op : {0xa4u, 0xa5u, 0xacu, 0xadu}) set_handler(t, kMap0F, op, exec_shld_shrd);
}

}  // namespace vireo::emu
