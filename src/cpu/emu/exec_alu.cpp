// Integer arithmetic and logic: ADD OR ADC SBB AND SUB XOR CMP, TEST, NOT, NEG, INC,
// DEC, XCHG, XADD, CMPXCHG, CMPXCHG8B/16B. Flags per SDM Vol. 2, lazily (flags.h).
#include "base/error.h"
#include "cpu/emu/exec_common.h"

namespace vireo::emu {
namespace {

enum AluOp : unsigned { kAdd = 0, kOr = 1, kAdc = 2, kSbb = 3, kAnd = 4, kSub = 5, kXor = 6, kCmp = 7 };

inline uint64_t alu_compute(unsigned op, uint64_t a, uint64_t b, unsigned cin, unsigned size) {
  uint64_t r;
  switch (op) {
    case kAdd: r = a + b; break;
    case kOr: r = a | b; break;
    case kAdc: r = a + b + cin; break;
    case kSbb: r = a - b - cin; break;
    case kAnd: r = a & b; break;
    case kXor: r = a ^ b; break;
    default: r = a - b; break;  // SUB, CMP
  }
  return r & size_mask(size);
}

inline void alu_flags(EmuCpu& c, unsigned op, unsigned size, uint64_t a, uint64_t b, uint64_t r, unsigned cin) {
  switch (op) {
    case kAdd:
    case kAdc: c.s.flags.set_lazy(FlagOp::Add, size, a, b, r, cin); break;
    case kSub:
    case kSbb:
    case kCmp: c.s.flags.set_lazy(FlagOp::Sub, size, a, b, r, cin); break;
    default: c.s.flags.set_lazy_result(FlagOp::Logic, size, r); break;
  }
}

// dest(ModRM r/m) op= src, with LOCK support.
inline void alu_rm(EmuCpu& c, const DecodedInsn& d, unsigned op, unsigned size, uint64_t src) {
  src &= size_mask(size);
  unsigned cin = (op == kAdc || op == kSbb) ? unsigned(c.s.flags.cf()) : 0;
  if (op == kCmp) {
    uint64_t a = c.read_rm(d, size);
    alu_flags(c, op, size, a, src, alu_compute(op, a, src, 0, size), 0);
    return;
  }
  uint64_t old = c.rmw_rm(d, size, [&](uint64_t a) { return alu_compute(op, a, src, cin, size); });
  alu_flags(c, op, size, old, src, alu_compute(op, old, src, cin, size), cin);
}

inline void alu_reg(EmuCpu& c, const DecodedInsn& d, unsigned op, unsigned size, unsigned reg, uint64_t src) {
  src &= size_mask(size);
  unsigned cin = (op == kAdc || op == kSbb) ? unsigned(c.s.flags.cf()) : 0;
  uint64_t a = c.reg(d, reg, size);
  uint64_t r = alu_compute(op, a, src, cin, size);
  alu_flags(c, op, size, a, src, r, cin);
  if (op != kCmp) c.set_reg(d, reg, size, r);
}

// 00..3D: the eight ALU operations in their six forms each.
void exec_alu_classic(EmuCpu& c, const DecodedInsn& d) {
  unsigned op = d.opcode() >> 3;
  switch (d.opcode() & 7) {
    case 0: alu_rm(c, d, op, 1, c.reg(d, d.reg, 1)); break;
    case 1: alu_rm(c, d, op, d.osize, c.reg(d, d.reg, d.osize)); break;
    case 2: alu_reg(c, d, op, 1, d.reg, c.read_rm(d, 1)); break;
    case 3: alu_reg(c, d, op, d.osize, d.reg, c.read_rm(d, d.osize)); break;
    case 4: alu_reg(c, d, op, 1, RAX, d.imm); break;
    default: alu_reg(c, d, op, d.osize, RAX, imm_sx(d, d.osize)); break;
  }
}

// 80 81 83: group 1 with an immediate.
void exec_group1(EmuCpu& c, const DecodedInsn& d) {
  unsigned size = d.opcode() == 0x80 ? 1 : d.osize;
  alu_rm(c, d, (d.modrm >> 3) & 7, size, imm_sx(d, size));
}

// 84 85 TEST r/m, r; A8 A9 TEST AL/rAX, imm.
void exec_test_rm(EmuCpu& c, const DecodedInsn& d) {
  unsigned size = byte_or_v(d);
  uint64_t r = c.read_rm(d, size) & c.reg(d, d.reg, size);
  c.s.flags.set_lazy_result(FlagOp::Logic, size, r);
}
void exec_test_acc(EmuCpu& c, const DecodedInsn& d) {
  unsigned size = byte_or_v(d);
  uint64_t r = c.reg(d, RAX, size) & imm_sx(d, size);
  c.s.flags.set_lazy_result(FlagOp::Logic, size, r);
}

// F6 F7: TEST NOT NEG MUL IMUL DIV IDIV.
void exec_group3(EmuCpu& c, const DecodedInsn& d) {
  unsigned size = byte_or_v(d);
  switch ((d.modrm >> 3) & 7) {
    case 0:
    case 1: {
      uint64_t r = c.read_rm(d, size) & imm_sx(d, size);
      c.s.flags.set_lazy_result(FlagOp::Logic, size, r);
      break;
    }
    case 2: c.rmw_rm(d, size, [&](uint64_t a) { return ~a & size_mask(size); }); break;
    case 3: {
      uint64_t old = c.rmw_rm(d, size, [&](uint64_t a) { return (0 - a) & size_mask(size); });
      c.s.flags.set_lazy(FlagOp::Sub, size, 0, old, (0 - old) & size_mask(size));
      break;
    }
    default: exec_mul_div_group3(c, d, size); break;
  }
}

inline void inc_dec(EmuCpu& c, const DecodedInsn& d, unsigned size, bool dec) {
  unsigned cf = c.s.flags.cf();
  uint64_t m = size_mask(size);
  uint64_t old = c.rmw_rm(d, size, [&](uint64_t a) { return (dec ? a - 1 : a + 1) & m; });
  uint64_t r = (dec ? old - 1 : old + 1) & m;
  c.s.flags.set_lazy_result(dec ? FlagOp::Dec : FlagOp::Inc, size, r, cf);
}

// FE: INC/DEC r/m8.
void exec_group4(EmuCpu& c, const DecodedInsn& d) {
  unsigned r = (d.modrm >> 3) & 7;
  if (r > 1) c.fault(kUD);
  inc_dec(c, d, 1, r == 1);
}

// FF: INC DEC CALL CALLF JMP JMPF PUSH.
void exec_group5(EmuCpu& c, const DecodedInsn& d) {
  unsigned r = (d.modrm >> 3) & 7;
  if (r <= 1) {
    inc_dec(c, d, d.osize, r == 1);
  } else if (r == 6) {
    exec_push_rm(c, d);
  } else if (r == 7) {
    c.fault(kUD);
  } else {
    exec_group5_control(c, d);
  }
}

// 40..4F in 32-bit modes: INC/DEC r.
void exec_inc_dec_reg(EmuCpu& c, const DecodedInsn& d) {
  unsigned reg = d.opcode() & 7;
  bool dec = d.opcode() & 8;
  unsigned cf = c.s.flags.cf();
  uint64_t m = size_mask(d.osize);
  uint64_t old = c.reg(d, reg, d.osize);
  uint64_t r = (dec ? old - 1 : old + 1) & m;
  c.set_reg(d, reg, d.osize, r);
  c.s.flags.set_lazy_result(dec ? FlagOp::Dec : FlagOp::Inc, d.osize, r, cf);
}

// 86 87: XCHG r/m, r (always locked with a memory operand).
void exec_xchg_rm(EmuCpu& c, const DecodedInsn& d) {
  unsigned size = byte_or_v(d);
  uint64_t src = c.reg(d, d.reg, size);
  uint64_t old;
  if (d.mod == 3) {
    old = c.reg(d, d.rm, size);
    c.set_reg(d, d.rm, size, src);
  } else {
    old = c.rmw_mem(c.operand_address(d), size, true, [&](uint64_t) { return src; });
  }
  c.set_reg(d, d.reg, size, old);
}

// 90..97: XCHG rAX, r; 90 alone is NOP (and F3 90 PAUSE).
void exec_xchg_acc(EmuCpu& c, const DecodedInsn& d) {
  unsigned reg = (d.opcode() & 7) | ((d.rex & 1) << 3);
  if (reg == RAX) return;
  uint64_t a = c.reg(d, RAX, d.osize), b = c.reg(d, reg, d.osize);
  c.set_reg(d, RAX, d.osize, b);
  c.set_reg(d, reg, d.osize, a);
}

// 0F C0 C1: XADD.
void exec_xadd(EmuCpu& c, const DecodedInsn& d) {
  unsigned size = byte_or_v(d);
  uint64_t src = c.reg(d, d.reg, size);
  uint64_t m = size_mask(size);
  uint64_t old;
  if (d.mod == 3) {
    old = c.reg(d, d.rm, size);
    c.set_reg(d, d.reg, size, old);
    c.set_reg(d, d.rm, size, (old + src) & m);
  } else {
    old = c.rmw_rm(d, size, [&](uint64_t a) { return (a + src) & m; });
    c.set_reg(d, d.reg, size, old);
  }
  c.s.flags.set_lazy(FlagOp::Add, size, old, src, (old + src) & m);
}

// 0F B0 B1: CMPXCHG (SDM Vol. 2 "CMPXCHG").
void exec_cmpxchg(EmuCpu& c, const DecodedInsn& d) {
  unsigned size = byte_or_v(d);
  uint64_t acc = c.reg(d, RAX, size);
  uint64_t src = c.reg(d, d.reg, size);
  uint64_t old;
  if (d.mod == 3) {
    old = c.reg(d, d.rm, size);
    if (old == acc) c.set_reg(d, d.rm, size, src);
  } else {
    old = c.rmw_rm(d, size, [&](uint64_t a) { return a == acc ? src : a; });
  }
  c.s.flags.set_lazy(FlagOp::Sub, size, acc, old, (acc - old) & size_mask(size));
  if (old != acc) c.set_reg(d, RAX, size, old);
}

// 0F C7 /1: CMPXCHG8B m64 / CMPXCHG16B m128 (REX.W), atomic on RAM.
void exec_cmpxchg8b16b(EmuCpu& c, const DecodedInsn& d) {
  if (!d.mem()) c.fault(kUD);
  bool wide = d.rex_w();
  uint64_t la = c.operand_address(d);
  if (wide) {
    if (la & 15) c.fault(kGP, 0);
    uint64_t exp_lo = c.s.gpr[RAX], exp_hi = c.s.gpr[RDX];
    uint64_t new_lo = c.s.gpr[RBX], new_hi = c.s.gpr[RCX];
    uint8_t* p = c.writable_host_ptr(la, 16);
    uint64_t cur_lo, cur_hi;
    bool equal;
    if (p) {
      cur_lo = exp_lo;
      cur_hi = exp_hi;
      asm volatile("lock cmpxchg16b %2"
                   : "+a"(cur_lo), "+d"(cur_hi), "+m"(*reinterpret_cast<unsigned __int128*>(p)), "=@ccz"(equal)
                   : "b"(new_lo), "c"(new_hi)
                   : "memory");
    } else {
      cur_lo = c.read(la, 8);
      cur_hi = c.read(la + 8, 8);
      equal = cur_lo == exp_lo && cur_hi == exp_hi;
      c.write(la, 8, equal ? new_lo : cur_lo);
      c.write(la + 8, 8, equal ? new_hi : cur_hi);
    }
    c.s.flags.set_arith(rf::ZF, equal ? rf::ZF : 0);
    if (!equal) {
      c.s.gpr[RAX] = cur_lo;
      c.s.gpr[RDX] = cur_hi;
    }
    return;
  }
  uint64_t expected = (c.s.gpr[RDX] << 32) | (c.s.gpr[RAX] & 0xffffffff);
  uint64_t desired = (c.s.gpr[RCX] << 32) | (c.s.gpr[RBX] & 0xffffffff);
  uint64_t old = c.rmw_mem(la, 8, true, [&](uint64_t a) { return a == expected ? desired : a; });
  bool equal = old == expected;
  c.s.flags.set_arith(rf::ZF, equal ? rf::ZF : 0);
  if (!equal) {
    c.set_reg(RAX, 4, old & 0xffffffff, true);
    c.set_reg(RDX, 4, old >> 32, true);
  }
}

}  // namespace

// 0F C7: group 9 (CMPXCHG8B/16B here; RDRAND/RDSEED are not offered).
void exec_group9(EmuCpu& c, const DecodedInsn& d) {
  if (((d.modrm >> 3) & 7) == 1 && d.mem()) {
    exec_cmpxchg8b16b(c, d);
    return;
  }
  c.fault(kUD);
}

void register_alu(HandlerTable& t) {
  for (unsigned base = 0; base < 0x40; base += 8)
    for (unsigned form = 0; form < 6; ++form) set_handler(t, kMapOne, base + form, exec_alu_classic);
  for (unsigned op : {0x80u, 0x81u, 0x82u, 0x83u}) set_handler(t, kMapOne, op, exec_group1);
  set_handler(t, kMapOne, 0x84, exec_test_rm);
  set_handler(t, kMapOne, 0x85, exec_test_rm);
  set_handler(t, kMapOne, 0xa8, exec_test_acc);
  set_handler(t, kMapOne, 0xa9, exec_test_acc);
  set_handler(t, kMapOne, 0xf6, exec_group3);
  set_handler(t, kMapOne, 0xf7, exec_group3);
  set_handler(t, kMapOne, 0xfe, exec_group4);
  set_handler(t, kMapOne, 0xff, exec_group5);
  for (unsigned op = 0x40; op < 0x50; ++op) set_handler(t, kMapOne, op, exec_inc_dec_reg);
  set_handler(t, kMapOne, 0x86, exec_xchg_rm);
  set_handler(t, kMapOne, 0x87, exec_xchg_rm);
  for (unsigned op = 0x90; op < 0x98; ++op) set_handler(t, kMapOne, op, exec_xchg_acc);
  set_handler(t, kMap0F, 0xc0, exec_xadd);
  set_handler(t, kMap0F, 0xc1, exec_xadd);
  set_handler(t, kMap0F, 0xb0, exec_cmpxchg);
  set_handler(t, kMap0F, 0xb1, exec_cmpxchg);
  set_handler(t, kMap0F, 0xc7, exec_group9);
}

}  // namespace vireo::emu
