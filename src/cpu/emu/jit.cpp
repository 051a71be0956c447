// The translation tier (see jit.h): analysis of which instructions translate, a
// small x86-64 encoder, and the translator proper.
#include "cpu/emu/jit.h"

#include <cpuid.h>
#include <sys/mman.h>

#include <cstring>
#include <new>
#include <vector>

#include "cpu/emu/block_cache.h"
#include "cpu/emu/cpu.h"
#include "cpu/emu/emu_cpu.h"
#include "cpu/emu/x86_emitter.h"

namespace vireo::emu {
namespace {

// ---- host registers ------------------------------------------------------------------
// rbp holds the EmuCpu; rax, rcx and rdx are the translator's scratch registers (rcx
// ends up holding a memory operand's host address, rax the flags as LAHF/SETO leave
// them); the other eleven hold guest registers.
enum : uint8_t { H_RAX = 0, H_RCX = 1, H_RDX = 2, H_RBX = 3, H_RSP = 4, H_RBP = 5, H_RSI = 6, H_RDI = 7 };
constexpr uint8_t kPool[] = {3, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};
using namespace x86enc;

struct HostFeatures {
  bool lahf = false, popcnt = false, lzcnt = false, bmi1 = false;
  HostFeatures() {
    unsigned a, b, c, d;
    if (__get_cpuid(1, &a, &b, &c, &d)) popcnt = c & (1u << 23);
    if (__get_cpuid(0x80000001, &a, &b, &c, &d)) {
      lahf = c & 1u;
      lzcnt = c & (1u << 5);
    }
    if (__get_cpuid_count(7, 0, &a, &b, &c, &d)) bmi1 = b & (1u << 3);
  }
};
const HostFeatures& host() {
  static const HostFeatures f;
  return f;
}

// ---- which instructions translate --------------------------------------------------

enum class Kind : uint8_t { Generic, AccImm, MovImm, Push, PushImm, Pop, Lea, Nop, Jcc, Jmp, Call, Ret, Bswap, JmpInd, CallInd,
                          ShiftCl, MulDiv, Cmpxchg, Convert, Sse };

// What an SSE instruction's ModRM operands are (Kind::Sse).
enum class Role : uint8_t { None, XmmR, XmmW, XmmRW, GprR, GprW, Digit };

// How an instruction treats the status flags: not at all; it writes all six (so it
// needs no earlier value); it reads some or writes only some (or leaves some
// undefined, which hardware may implement as "unchanged"), so the guest's current
// flags must be in the host's RFLAGS before it.
enum class Fl : uint8_t { None, All, Use };

struct Info {
  Kind kind = Kind::Generic;
  Role reg_role = Role::None, rm_role = Role::None;  // Kind::Sse
  bool aligned = false;      // Kind::Sse: a memory operand must be 16-byte aligned (#GP)
  Fl fl = Fl::None;
  bool reg_operand = false;  // ModRM.reg names a register (else an opcode extension)
  bool byte_regs = false;    // register operands are byte registers (REX always emitted)
  bool byte_reg_field = true;// with byte_regs: whether ModRM.reg is a byte register too
  bool writes_mem = false;
  uint8_t mem_size = 0;      // bytes of the memory operand
  uint8_t opreg = kNone;     // the register in the opcode (B8+r, 50+r, 0F C8+r)
};

Fl alu_flags(unsigned aluop) { return (aluop == 0 || aluop == 5 || aluop == 7) ? Fl::All : Fl::Use; }

// The SSE/SSE2 data movement and integer/logic instructions (no MXCSR, no flags),
// as the interpreter implements them (exec_sse.cpp); false for the rest.
bool analyze_sse(const DecodedInsn& d, Info& in) {
  const unsigned op = d.opcode();
  const unsigned p = d.sse_prefix();  // 0 none, 1 = 66, 2 = F3, 3 = F2
  const bool mem = d.mem();
  const unsigned digit = (d.modrm >> 3) & 7;
  if (d.has(kPrefixLock) || (d.has(kPrefixOpSize) && d.last_rep)) return false;
  in.kind = Kind::Sse;
  in.fl = Fl::None;
  auto set = [&](Role reg, Role rm, unsigned size, bool aligned, bool writes) {
    in.reg_role = reg;
    in.rm_role = rm;
    in.mem_size = uint8_t(size);
    in.aligned = aligned;
    in.writes_mem = writes && mem;
    return true;
  };
  switch (op) {
    case 0x10: case 0x11:  // MOVUPS/MOVUPD
      if (p > 1) return false;
      return op == 0x10 ? set(Role::XmmW, Role::XmmR, 16, false, false) : set(Role::XmmR, Role::XmmW, 16, false, true);
    case 0x28: case 0x29:  // MOVAPS/MOVAPD
      if (p > 1) return false;
      return op == 0x28 ? set(Role::XmmW, Role::XmmR, 16, true, false) : set(Role::XmmR, Role::XmmW, 16, true, true);
    case 0x6f: case 0x7f:  // MOVDQA (66), MOVDQU (F3)
      if (p != 1 && p != 2) return false;
      return op == 0x6f ? set(Role::XmmW, Role::XmmR, 16, p == 1, false)
                        : set(Role::XmmR, Role::XmmW, 16, p == 1, true);
    case 0x6e:  // MOVD/MOVQ xmm, r/m
      if (p != 1) return false;
      return set(Role::XmmW, Role::GprR, d.rex_w() ? 8 : 4, false, false);
    case 0x7e:
      if (p == 2) return set(Role::XmmW, Role::XmmR, 8, false, false);  // MOVQ xmm, xmm/m64
      if (p != 1) return false;
      return set(Role::XmmR, Role::GprW, d.rex_w() ? 8 : 4, false, true);  // MOVD/MOVQ r/m, xmm
    case 0xd6:  // MOVQ xmm/m64, xmm
      if (p != 1) return false;
      return set(Role::XmmR, Role::XmmW, 8, false, true);
    case 0xd7: case 0x50:  // PMOVMSKB (66), MOVMSKPS/PD
      if (mem || (op == 0xd7 ? p != 1 : p > 1)) return false;
      return set(Role::GprW, Role::XmmR, 0, false, false);
    case 0x70:  // PSHUFD
      if (p != 1) return false;
      return set(Role::XmmW, Role::XmmR, 16, true, false);
    case 0xc6:  // SHUFPS/SHUFPD
      if (p > 1) return false;
      return set(Role::XmmRW, Role::XmmR, 16, true, false);
    case 0x71: case 0x72: case 0x73:  // shifts by an immediate
      if (p != 1 || mem) return false;
      if (!(digit == 2 || digit == 6 || (digit == 4 && op != 0x73) || (op == 0x73 && (digit == 3 || digit == 7))))
        return false;
      return set(Role::Digit, Role::XmmRW, 0, false, false);
    case 0x14: case 0x15: case 0x54: case 0x55: case 0x56: case 0x57:  // UNPCK*PS/PD, AND/ANDN/OR/XOR PS/PD
      if (p > 1) return false;
      return set(Role::XmmRW, Role::XmmR, 16, true, false);
    default: break;
  }
  const bool int_op = (op >= 0x60 && op <= 0x6d) || (op >= 0x74 && op <= 0x76) ||
                      (op >= 0xd1 && op <= 0xfe && op != 0xd6 && op != 0xd7 && op != 0xe6 && op != 0xe7 &&
                       op != 0xf0 && op != 0xf7);
  if (!int_op || p != 1) return false;
  return set(Role::XmmRW, Role::XmmR, 16, true, false);
}

// Fills `in` for `d` (64-bit mode); false when the instruction is not translated.
bool analyze(const DecodedInsn& d, Info& in) {
  if (d.vex()) return false;
  if (d.mem() && (d.asize != 8)) return false;
  const unsigned op = d.opcode();
  const unsigned digit = (d.modrm >> 3) & 7;
  const bool opsize = d.has(kPrefixOpSize);
  const bool rep = d.last_rep != 0;
  const bool lock = d.has(kPrefixLock);
  if (lock && !d.mem()) return false;
  auto generic = [&](Fl fl, bool reg_operand, bool byte, bool writes) {
    in.kind = Kind::Generic;
    in.fl = fl;
    in.reg_operand = reg_operand;
    in.byte_regs = byte;
    in.writes_mem = writes && d.mem();
    in.mem_size = uint8_t(byte ? 1 : d.osize);
    return true;
  };
  if (d.map() == kMapOne) {
    if (rep) return false;
    if (op < 0x40 && (op & 7) < 4) {
      const unsigned aluop = op >> 3;
      return generic(alu_flags(aluop), true, !(op & 1), !(op & 2) && aluop != 7);
    }
    if (op < 0x40 && (op & 7) < 6) {
      in.kind = Kind::AccImm;
      in.fl = alu_flags(op >> 3);
      in.byte_regs = !(op & 1);
      return true;
    }
    if (lock && !(op >= 0x80 && op <= 0x83) && op != 0x86 && op != 0x87 && op != 0xf6 && op != 0xf7 && op != 0xfe &&
        op != 0xff)
      return false;
    switch (op) {
      case 0x63:
        generic(Fl::None, true, false, false);
        in.mem_size = d.osize == 2 ? 2 : 4;
        return true;
      case 0x69: case 0x6b: return generic(Fl::Use, true, false, false);
      case 0x50: case 0x51: case 0x52: case 0x53: case 0x54: case 0x55: case 0x56: case 0x57:
      case 0x58: case 0x59: case 0x5a: case 0x5b: case 0x5c: case 0x5d: case 0x5e: case 0x5f:
        if (opsize) return false;
        in.kind = op < 0x58 ? Kind::Push : Kind::Pop;
        in.opreg = uint8_t((op & 7) | ((d.rex & 1) << 3));
        return true;
      case 0x68: case 0x6a:
        if (opsize) return false;
        in.kind = Kind::PushImm;
        return true;
      case 0x70: case 0x71: case 0x72: case 0x73: case 0x74: case 0x75: case 0x76: case 0x77:
      case 0x78: case 0x79: case 0x7a: case 0x7b: case 0x7c: case 0x7d: case 0x7e: case 0x7f:
        if (opsize) return false;
        in.kind = Kind::Jcc;
        in.fl = Fl::Use;
        return true;
      case 0x80: case 0x81: case 0x83:
        return generic(alu_flags(digit), false, op == 0x80, digit != 7);
      case 0x84: case 0x85: return generic(Fl::Use, true, op == 0x84, false);
      case 0x86: case 0x87: return generic(Fl::None, true, op == 0x86, true);
      case 0x88: case 0x89: case 0x8a: case 0x8b: return generic(Fl::None, true, !(op & 1), !(op & 2));
      case 0x8d:
        if (!d.mem() || d.osize == 2) return false;
        in.kind = Kind::Lea;
        in.reg_operand = true;
        return true;
      case 0x90:
        if (d.rex & 1) return false;  // XCHG R8, RAX
        in.kind = Kind::Nop;
        return true;
      case 0xa8: case 0xa9:
        in.kind = Kind::AccImm;
        in.fl = Fl::Use;
        in.byte_regs = op == 0xa8;
        return true;
      case 0xb0: case 0xb1: case 0xb2: case 0xb3: case 0xb4: case 0xb5: case 0xb6: case 0xb7:
      case 0xb8: case 0xb9: case 0xba: case 0xbb: case 0xbc: case 0xbd: case 0xbe: case 0xbf:
        in.kind = Kind::MovImm;
        in.byte_regs = op < 0xb8;
        in.opreg = uint8_t((op & 7) | ((d.rex & 1) << 3));
        return true;
      case 0xc0: case 0xc1: case 0xd0: case 0xd1:
        if (digit == 6) return false;
        return generic(Fl::Use, false, !(op & 1), true);
      case 0xd2: case 0xd3:  // shifts by CL: register forms (host CL is the count)
        if (digit == 6 || d.mem()) return false;
        generic(Fl::Use, false, op == 0xd2, true);
        in.kind = Kind::ShiftCl;
        return true;
      case 0x98: case 0x99:  // CWDE/CDQE, CDQ/CQO
        if (opsize) return false;
        in.kind = Kind::Convert;
        return true;
      case 0xc3:
        if (opsize) return false;
        in.kind = Kind::Ret;
        return true;
      case 0xc6: case 0xc7:
        if (digit != 0) return false;
        return generic(Fl::None, false, op == 0xc6, true);
      case 0xe8:
        if (opsize) return false;
        in.kind = Kind::Call;
        return true;
      case 0xe9: case 0xeb:
        if (opsize) return false;
        in.kind = Kind::Jmp;
        return true;
      case 0xf6: case 0xf7:
        if (digit <= 1) return generic(Fl::Use, false, op == 0xf6, false);
        if (digit == 2) return generic(Fl::None, false, op == 0xf6, true);
        if (digit == 3) return generic(Fl::All, false, op == 0xf6, true);
        if (digit >= 4 && digit <= 6 && op == 0xf7 && !opsize && !lock) {  // MUL, IMUL, DIV (not IDIV)
          generic(Fl::Use, false, false, false);
          in.kind = Kind::MulDiv;
          return true;
        }
        return false;
      case 0xfe: case 0xff:
        if (op == 0xff && (digit == 2 || digit == 4)) {
          if (opsize || lock) return false;
          in.kind = digit == 2 ? Kind::CallInd : Kind::JmpInd;
          in.mem_size = 8;
          return true;
        }
        if (digit > 1) return false;
        return generic(Fl::Use, false, op == 0xfe, true);
      default: return false;
    }
  }
  if (d.map() != kMap0F) return false;
  if (analyze_sse(d, in)) return true;
  in = Info{};
  if (lock && op != 0xc0 && op != 0xc1 && op != 0xba && op != 0xb1) return false;
  if (rep && !(d.last_rep == 0xf3 && (op == 0xb8 || op == 0xbc || op == 0xbd))) return false;
  if (op >= 0x40 && op <= 0x4f) return generic(Fl::Use, true, false, false);
  if (op >= 0x80 && op <= 0x8f) {
    if (opsize) return false;
    in.kind = Kind::Jcc;
    in.fl = Fl::Use;
    return true;
  }
  if (op >= 0x90 && op <= 0x9f) return generic(Fl::Use, false, true, true);
  if (op >= 0xc8 && op <= 0xcf) {
    if (opsize) return false;
    in.kind = Kind::Bswap;
    in.opreg = uint8_t((op & 7) | ((d.rex & 1) << 3));
    return true;
  }
  switch (op) {
    case 0x1f:
      in.kind = Kind::Nop;
      return true;
    case 0x18:  // PREFETCHh: a hint that never faults
      if (!d.mem() || opsize) return false;
      in.kind = Kind::Nop;
      return true;
    case 0xb1:  // CMPXCHG r/m, r (RAX implicit); not with RAX as the destination register
      if (!d.mem() && d.rm == RAX) return false;
      generic(Fl::All, true, false, true);
      in.kind = Kind::Cmpxchg;
      return true;
    case 0xa3: case 0xab: case 0xb3: case 0xbb:  // BT* r/m, r: register forms only
      if (d.mem()) return false;
      return generic(Fl::Use, true, false, op != 0xa3);
    case 0xa4: case 0xac: return generic(Fl::Use, true, false, true);
    case 0xaf: return generic(Fl::Use, true, false, false);
    case 0xb6: case 0xbe:
      generic(Fl::None, true, true, false);
      in.byte_reg_field = false;
      return true;
    case 0xb7: case 0xbf:
      generic(Fl::None, true, false, false);
      in.mem_size = 2;
      return true;
    case 0xba:
      if (digit < 4) return false;
      return generic(Fl::Use, false, false, digit != 4);
    case 0xb8:
      if (d.last_rep != 0xf3 || !host().popcnt) return false;
      return generic(Fl::All, true, false, false);
    case 0xbc: case 0xbd:
      if (d.last_rep == 0xf3 && !(op == 0xbc ? host().bmi1 : host().lzcnt)) return false;
      return generic(Fl::Use, true, false, false);
    case 0xc0: case 0xc1: return generic(Fl::All, true, op == 0xc0, true);
    default: return false;
  }
}

// The guest registers `d` names.
uint32_t guest_regs(const DecodedInsn& d, const Info& in) {
  uint32_t r = 0;
  auto add = [&](unsigned g) {
    if (g < 16) r |= 1u << g;
  };
  if (in.opreg != kNone) add(in.opreg);
  switch (in.kind) {
    case Kind::Push: case Kind::Pop: case Kind::PushImm: case Kind::Call: case Kind::Ret: case Kind::CallInd:
      add(RSP);
      break;
    case Kind::AccImm: add(RAX); break;
    case Kind::ShiftCl: add(RCX); break;
    case Kind::MulDiv: case Kind::Convert: add(RAX); add(RDX); break;
    case Kind::Cmpxchg: add(RAX); break;
    default: break;
  }
  if (in.kind == Kind::Sse) {
    if (in.reg_role == Role::GprW) add(d.reg);
    if ((in.rm_role == Role::GprR || in.rm_role == Role::GprW) && d.mod == 3) add(d.rm);
    if (d.mem() && !d.rip_relative) {
      add(d.base);
      add(d.index);
    }
    return r;
  }
  if (in.kind == Kind::Generic || in.kind == Kind::Lea || in.kind == Kind::JmpInd || in.kind == Kind::CallInd ||
      in.kind == Kind::ShiftCl || in.kind == Kind::MulDiv || in.kind == Kind::Cmpxchg) {
    if (in.reg_operand) add(d.reg);
    if (d.has_modrm && d.mod == 3) add(d.rm);
    if (d.mem() && !d.rip_relative) {
      add(d.base);
      add(d.index);
    }
  }
  return r;
}

// Whether byte-register operands name AH CH DH BH (no REX, registers 4..7), which the
// translator does not map.
bool uses_high_byte(const DecodedInsn& d, const Info& in) {
  if (!in.byte_regs || d.rex_present()) return false;
  auto high = [](unsigned g) { return g >= 4 && g < 8; };
  if (in.kind == Kind::MovImm) return high(in.opreg);
  if (in.kind != Kind::Generic && in.kind != Kind::ShiftCl) return false;
  if (in.reg_operand && in.byte_reg_field && high(d.reg)) return true;
  return d.mod == 3 && high(d.rm);
}

bool translatable(const DecodedInsn& d) {
  Info in;
  return analyze(d, in) && !uses_high_byte(d, in);
}

// ---- the translator ----------------------------------------------------------------

class Translator {
 public:
  Translator(Emitter& e, const JitLayout& L, bool user) : e_(e), L_(L), user_(user) {
    std::memset(map_, kNone, sizeof map_);
  }

  // Whether plan() stopped at an instruction that does not translate, followed by one
  // that does (or by the end of the block).
  bool stopped_untranslatable() const { return untranslatable_next_; }

  // Chooses the translated prefix of `b` and maps its registers; false if empty.
  bool plan(const Block& b) {
    const BlockInsn* insns = b.insns();
    unsigned used = 0;
    n_ = 0;
    for (unsigned i = 0; i < b.count; ++i) {
      Info in;
      if (!analyze(insns[i].d, in) || uses_high_byte(insns[i].d, in)) {
        // One instruction left to the interpreter between translated ones runs alone
        // (a side exit); a run of them (string operations, say) runs as an interpreted
        // block.
        untranslatable_next_ = i + 1 >= b.count || translatable(insns[i + 1].d);
        break;
      }
      uint32_t regs = guest_regs(insns[i].d, in);
      for (unsigned g = 0; g < 16; ++g) {
        if (!(regs & (1u << g)) || map_[g] != kNone) continue;
        if (used == sizeof kPool) return n_ > 0;
        map_[g] = kPool[used++];
        mapped_.push_back(uint8_t(g));
      }
      infos_.push_back(in);
      if (in.kind == Kind::Sse) has_sse_ = true;
      ++n_;
      if (in.kind == Kind::Jmp || in.kind == Kind::Call || in.kind == Kind::Ret || in.kind == Kind::JmpInd ||
          in.kind == Kind::CallInd)
        break;
    }
    return n_ > 0;
  }

  JitCode emit(const Block& b, uint64_t rip, const uint8_t* code) {
    uint8_t* entry = e_.here();
    start_rip_ = rip;
    // Prologue: callee-saved registers, rbp = the EmuCpu, the guest registers.
    e_.byte(0x53);                 // push rbx
    e_.byte(0x55);                 // push rbp
    for (uint8_t r : {0x54, 0x55, 0x56, 0x57}) {  // push r12..r15
      e_.byte(0x41);
      e_.byte(r);
    }
    e_.mov_rr(H_RBP, 7);           // mov rbp, rdi
    uint8_t* load_regs = e_.here();
    for (uint8_t g : mapped_) e_.load(h(g), gpr(g));
    host_flags_ = false;
    if (has_sse_) {
      // SSE instructions need CR0.EM = CR0.TS = 0 and CR4.OSFXSR = 1 (else #UD / #NM from
      // the interpreter); no translated instruction changes CR0 or CR4.
      e_.op_mem(0xf7, 0, field(L_.cr0), false);  // test dword [cr0], EM | TS
      e_.u32(0xc);
      side_exit(5, rip, 0);
      e_.op_mem(0xf7, 0, field(L_.cr4), false);  // test dword [cr4], OSFXSR
      e_.u32(0x200);
      side_exit(4, rip, 0);
    }
    loop_head_ = e_.here();

    const BlockInsn* insns = b.insns();
    uint64_t ip = rip;
    bool ended = false;
    for (unsigned i = 0; i < n_; ++i) {
      const DecodedInsn& d = insns[i].d;
      const uint64_t next = ip + d.len;
      ended = insn(d, infos_[i], i, ip, next);
      ip = next;
      if (ended) break;
    }
    if (!ended && untranslatable_next_) {
      // The interpreter runs the next instruction alone, and translated code goes on
      // after it.
      flags_to_memory();
      side_exit(-1, ip, n_);
    } else if (!ended) {
      exit_static(ip, n_);
    }
    emit_stubs(b, code);
    // The chained entry: the block's bytes checked, then its registers loaded.
    uint8_t* chained = e_.here();
    std::vector<uint8_t*> bail;
    compare_bytes(b, code, bail);
    e_.patch(e_.jump32(-1), load_regs);
    uint8_t* bail_to = e_.here();
    for (uint8_t* f : bail) e_.patch(f, bail_to);
    e_.mov_imm(H_RAX, start_rip_);
    e_.store(field(L_.rip), H_RAX);
    epilogue(0);
    // The chain slots.
    e_.align(8);
    for (const ChainRef& c : chains_) {
      uint8_t* slot = e_.here();
      e_.bytes(0, 8);
      e_.bytes(c.target, 8);
      e_.bytes(0, 8);
      e_.bytes(user_ ? 1 : 0, 8);
      e_.fill64(c.slot_imm, reinterpret_cast<uint64_t>(slot));
    }
    if (e_.overflow() || bad_) return {};
    return {reinterpret_cast<JitEntry>(entry), chained};
  }

 private:
  enum class StubKind : uint8_t { Static, Side, Loop };
  struct Stub {
    uint8_t* fixup;
    StubKind kind;
    bool save_flags;
    uint64_t rip;
    uint32_t k;
  };
  struct ChainRef {
    uint8_t* slot_imm;  // the mov's immediate that receives the slot's address
    uint64_t target;
  };

  // The host register of guest register g (every register an instruction names was
  // mapped by plan(); a miss is a translator bug, and the block is not translated).
  uint8_t h(unsigned g) {
    if (g >= 16 || map_[g] == kNone) {
      bad_ = true;
      return H_RAX;
    }
    return map_[g];
  }
  Mem gpr(unsigned g) const { return Mem{H_RBP, kNone, 0, L_.gpr + int32_t(8 * g)}; }
  Mem field(int32_t off) const { return Mem{H_RBP, kNone, 0, off}; }

  void save_flags() {
    e_.byte(0x9f);  // lahf
    e_.byte(0x0f);  // seto al
    e_.byte(0x90);
    e_.byte(0xc0);
    e_.byte(0x66);  // mov [rbp+flags], ax
    e_.op_mem(0x89, H_RAX, field(L_.flags), false);
  }
  void restore_flags() {
    e_.byte(0x66);  // mov ax, [rbp+flags]
    e_.op_mem(0x8b, H_RAX, field(L_.flags), false);
    e_.byte(0x04);  // add al, 0x7f: OF = (al == 1)
    e_.byte(0x7f);
    e_.byte(0x9e);  // sahf
    host_flags_ = true;
  }
  // Before code that clobbers the host flags.
  void flags_to_memory() {
    if (host_flags_) save_flags();
    host_flags_ = false;
  }

  void writeback() {
    for (uint8_t g : mapped_) e_.store(gpr(g), h(g));
  }
  void epilogue(uint32_t k) {
    e_.byte(0xb8);  // mov eax, k
    e_.u32(k);
    for (uint8_t r : {0x5f, 0x5e, 0x5d, 0x5c}) {  // pop r15..r12
      e_.byte(0x41);
      e_.byte(r);
    }
    e_.byte(0x5d);  // pop rbp
    e_.byte(0x5b);  // pop rbx
    e_.byte(0xc3);  // ret
  }

  // Leaves to `target` after k instructions: a loop back when it is the block's start.
  void exit_static(uint64_t target, uint32_t k) {
    if (target == start_rip_) {
      stubs_.push_back({e_.jump32(-1), StubKind::Loop, host_flags_, target, k});
      return;
    }
    stubs_.push_back({e_.jump32(-1), StubKind::Static, host_flags_, target, k});
  }
  void jcc_static(unsigned cc, uint64_t target, uint32_t k) {
    const StubKind kind = target == start_rip_ ? StubKind::Loop : StubKind::Static;
    stubs_.push_back({e_.jump32(int(cc)), kind, true, target, k});
  }
  // A side exit before instruction i (at ip), from code where the flags are in memory.
  void side_exit(int cc, uint64_t ip, uint32_t i) { stubs_.push_back({e_.jump32(cc), StubKind::Side, false, ip, i}); }
  // The exit to the address in rdx after k instructions: on into the translation the
  // jump cache has there (after the poll, the TLB and, at its chained entry, its
  // bytes are checked), else back to the dispatcher.
  void exit_rdx(uint32_t k) {
    flags_to_memory();
    writeback();
    e_.store(field(L_.rip), H_RDX);
    e_.op_mem(0x81, 5, field(L_.poll), false);  // sub dword [rbp+poll], k
    e_.u32(k);
    std::vector<uint8_t*> leave;
    leave.push_back(e_.jump32(0xe));  // jle
    // rax = rbp + 32 * index(rdx): the entry is at [rax + jump_cache].
    e_.mov_rr(H_RAX, H_RDX);
    e_.shift_ri(kShr, H_RAX, 10);
    e_.alu_rr(kXor, H_RAX, H_RDX);
    e_.alu_ri(kAnd, H_RAX, JitJumpCache::kEntries - 1, false);
    e_.shift_ri(kShl, H_RAX, 5);
    e_.alu_rr(kAdd, H_RAX, H_RBP);
    const int32_t jc = L_.jump_cache;
    e_.op_mem(0x3b, H_RDX, Mem{H_RAX, kNone, 0, jc + int32_t(offsetof(JitJumpEntry, rip))});  // cmp rdx, rip
    leave.push_back(e_.jump32(5));
    e_.op_mem(0x83, 7, Mem{H_RAX, kNone, 0, jc + int32_t(offsetof(JitJumpEntry, user))});  // cmp qword user, imm8
    e_.byte(user_ ? 1 : 0);
    leave.push_back(e_.jump32(5));
    // The TLB entry of rdx's page: rcx = its offset from rbp; rsi (stored already) = the page.
    e_.mov_rr(H_RCX, H_RDX);
    e_.shift_ri(kShr, H_RCX, 12);
    e_.alu_ri(kAnd, H_RCX, EmuCpu::kTlbSize - 1, false);
    e_.shift_ri(kShl, H_RCX, 5);  // TlbEntry is 32 bytes
    e_.mov_rr(H_RSI, H_RDX);
    e_.alu_ri(kAnd, H_RSI, 0xfffff000u);  // the page
    e_.op_mem(0x3b, H_RSI, Mem{H_RBP, H_RCX, 0, L_.tlb + int32_t(offsetof(TlbEntry, tag))});
    leave.push_back(e_.jump32(5));
    e_.load(H_RSI, Mem{H_RBP, H_RCX, 0, L_.tlb + int32_t(offsetof(TlbEntry, phys))});
    e_.op_mem(0x3b, H_RSI, Mem{H_RAX, kNone, 0, jc + int32_t(offsetof(JitJumpEntry, phys_page))});
    leave.push_back(e_.jump32(5));
    e_.op_mem(0xf7, 0, Mem{H_RBP, H_RCX, 0, L_.tlb + int32_t(offsetof(TlbEntry, perms))}, false);  // test dword
    e_.u32(EmuCpu::perm_bit(Access::Exec, user_));
    leave.push_back(e_.jump32(4));  // jz
    e_.op_mem(0xff, 4, Mem{H_RAX, kNone, 0, jc + int32_t(offsetof(JitJumpEntry, entry))}, false);  // jmp [entry]
    uint8_t* out = e_.here();
    for (uint8_t* f : leave) e_.patch(f, out);
    epilogue(0);
  }

  // A non-canonical target in rdx: a side exit, where the interpreter raises #GP.
  void check_canonical_rdx(uint64_t ip, uint32_t i) {
    e_.mov_rr(H_RAX, H_RDX);
    e_.shift_ri(kShl, H_RAX, 16);
    e_.shift_ri(kSar, H_RAX, 16);
    e_.alu_rr(kCmp, H_RAX, H_RDX);
    side_exit(5, ip, i);
  }

  // rcx = the host address of the `size`-byte access at the linear address in rcx,
  // or a side exit when the TLB view does not allow it.
  void tlb_check(unsigned size, bool write, uint64_t ip, uint32_t i) {
    e_.mov_rr(H_RDX, H_RCX);
    e_.shift_ri(kShr, H_RDX, 12);
    e_.alu_ri(kAnd, H_RDX, EmuCpu::kTlbSize - 1, false);
    e_.lea(H_RDX, Mem{H_RDX, H_RDX, 1, 0});  // rdx *= 3 (entries are 24 bytes)
    e_.lea(H_RAX, Mem{H_RCX, kNone, 0, int32_t(size - 1)});
    e_.alu_ri(kAnd, H_RAX, 0xfffff000u);  // the page of the last byte
    const int32_t base = L_.fast_tlb[user_ ? 1 : 0];
    e_.op_mem(0x3b, H_RAX, Mem{H_RBP, H_RDX, 3, base + int32_t(write ? offsetof(FastTlbEntry, write_tag)
                                                                      : offsetof(FastTlbEntry, read_tag))});
    side_exit(5, ip, i);  // jne
    e_.op_mem(0x03, H_RCX, Mem{H_RBP, H_RDX, 3, base + int32_t(offsetof(FastTlbEntry, addend))});
  }

  // rcx = the linear address of d's memory operand (flags must be in memory).
  void linear_address(const DecodedInsn& d, uint64_t next) {
    if (d.rip_relative) {
      e_.mov_imm(H_RCX, next + uint64_t(d.disp));
    } else if (d.base == kNoReg && d.index == kNoReg) {
      e_.mov_imm(H_RCX, uint64_t(d.disp));
    } else {
      Mem m;
      m.base = d.base == kNoReg ? kNone : h(d.base);
      m.index = d.index == kNoReg ? kNone : h(d.index);
      m.scale = d.scale;
      m.disp = int32_t(d.disp);
      e_.lea(H_RCX, m);
    }
    if (d.seg == FS || d.seg == GS) e_.op_mem(0x03, H_RCX, field(d.seg == FS ? L_.fs_base : L_.gs_base));
  }

  // rcx = the host address of d's `size`-byte memory operand, or a side exit before
  // instruction i; the flags go to memory first (the check clobbers them).
  void host_address(const DecodedInsn& d, unsigned size, bool write, uint64_t ip, uint32_t i, uint64_t next) {
    flags_to_memory();
    linear_address(d, next);
    tlb_check(size, write, ip, i);
  }
  static constexpr Mem kAtRcx{H_RCX, kNone, 0, 0};

  // Emits instruction i; true when it ended the translated code (an exit in all paths).
  bool insn(const DecodedInsn& d, const Info& in, uint32_t i, uint64_t ip, uint64_t next) {
    switch (in.kind) {
      case Kind::Generic: case Kind::Cmpxchg: generic(d, in, i, ip, next); return false;
      case Kind::ShiftCl:
        if (!host_flags_) restore_flags();
        e_.rex(false, H_RCX, 0, h(RCX));  // mov ecx, <guest ecx>
        e_.byte(0x8b);
        e_.modrm_reg(H_RCX, h(RCX));
        generic(d, in, i, ip, next);
        return false;
      case Kind::MulDiv: mul_div(d, in, i, ip, next); return false;
      case Kind::Sse: sse(d, in, i, ip, next); return false;
      case Kind::Convert:
        if (d.opcode() == 0x98) {
          const uint8_t r = h(RAX);
          if (d.osize == 8) {  // CDQE: movsxd r, r32
            e_.rex(true, r, 0, r);
            e_.byte(0x63);
          } else {  // CWDE: movsx r32, r16
            e_.rex(false, r, 0, r);
            e_.byte(0x0f);
            e_.byte(0xbf);
          }
          e_.modrm_reg(r, r);
        } else {  // CDQ / CQO through host rax:rdx
          e_.mov_rr(H_RAX, h(RAX));
          e_.rex(d.osize == 8, 0, 0, 0);
          e_.byte(0x99);
          e_.mov_rr(h(RDX), H_RDX);
        }
        return false;
      case Kind::Nop: return false;
      case Kind::AccImm: acc_imm(d, in); return false;
      case Kind::MovImm: mov_imm(d, in); return false;
      case Kind::Bswap:
        e_.rex(d.osize == 8, 0, 0, h(in.opreg));
        e_.byte(0x0f);
        e_.byte(uint8_t(0xc8 + (h(in.opreg) & 7)));
        return false;
      case Kind::Lea: {
        const uint8_t dst = h(d.reg);
        if (d.rip_relative) {
          const uint64_t v = next + uint64_t(d.disp);
          e_.mov_imm(dst, d.osize == 8 ? v : (v & 0xffffffffull));
          return false;
        }
        Mem m;
        m.base = d.base == kNoReg ? kNone : h(d.base);
        m.index = d.index == kNoReg ? kNone : h(d.index);
        m.scale = d.scale;
        m.disp = int32_t(d.disp);
        e_.lea(dst, m, d.osize == 8);
        return false;
      }
      case Kind::Push: case Kind::PushImm: case Kind::Call: {
        flags_to_memory();
        const uint8_t sp = h(RSP);
        e_.lea(H_RCX, Mem{sp, kNone, 0, -8});
        tlb_check(8, true, ip, i);
        if (in.kind == Kind::Push) {
          e_.store(kAtRcx, h(in.opreg));
        } else if (in.kind == Kind::PushImm) {
          const int64_t v = d.imm_size == 1 ? int8_t(d.imm) : int32_t(d.imm);
          e_.op_mem(0xc7, 0, kAtRcx);  // mov qword [rcx], imm32 (sign-extended)
          e_.u32(uint32_t(v));
        } else {
          e_.mov_imm(H_RAX, next);
          e_.store(kAtRcx, H_RAX);
        }
        e_.lea(sp, Mem{sp, kNone, 0, -8});
        if (in.kind != Kind::Call) return false;
        exit_static(next + uint64_t(int64_t(int32_t(d.imm))), i + 1);
        return true;
      }
      case Kind::Pop: case Kind::Ret: {
        flags_to_memory();
        const uint8_t sp = h(RSP);
        e_.mov_rr(H_RCX, sp);
        tlb_check(8, false, ip, i);
        e_.load(H_RDX, kAtRcx);
        if (in.kind == Kind::Ret) check_canonical_rdx(ip, i);  // #GP at the RET
        e_.lea(sp, Mem{sp, kNone, 0, 8});
        if (in.kind == Kind::Ret) {
          exit_rdx(i + 1);
          return true;
        }
        e_.mov_rr(h(in.opreg), H_RDX);
        return false;
      }
      case Kind::JmpInd: case Kind::CallInd: {
        flags_to_memory();
        if (d.mem()) {
          host_address(d, 8, false, ip, i, next);
          e_.load(H_RDX, kAtRcx);
        } else {
          e_.mov_rr(H_RDX, h(d.rm));
        }
        check_canonical_rdx(ip, i);  // #GP at the JMP/CALL
        if (in.kind == Kind::CallInd) {
          e_.store(field(L_.scratch), H_RDX);
          const uint8_t sp = h(RSP);
          e_.lea(H_RCX, Mem{sp, kNone, 0, -8});
          tlb_check(8, true, ip, i);
          e_.mov_imm(H_RAX, next);
          e_.store(kAtRcx, H_RAX);
          e_.lea(sp, Mem{sp, kNone, 0, -8});
          e_.load(H_RDX, field(L_.scratch));
        }
        exit_rdx(i + 1);
        return true;
      }
      case Kind::Jcc: {
        if (!host_flags_) restore_flags();
        const int64_t rel = d.imm_size == 1 ? int8_t(d.imm) : int32_t(d.imm);
        jcc_static(d.opcode() & 15, next + uint64_t(rel), i + 1);
        return false;
      }
      case Kind::Jmp: {
        const int64_t rel = d.imm_size == 1 ? int8_t(d.imm) : int32_t(d.imm);
        exit_static(next + uint64_t(rel), i + 1);
        return true;
      }
    }
    return false;
  }

  void generic(const DecodedInsn& d, const Info& in, uint32_t i, uint64_t ip, uint64_t next) {
    const bool mem = d.mem();
    if (mem) host_address(d, in.mem_size, in.writes_mem, ip, i, next);
    if (in.fl == Fl::Use && !host_flags_) restore_flags();
    if (in.kind == Kind::Cmpxchg) e_.mov_rr(H_RAX, h(RAX));
    if (d.has(kPrefixLock)) e_.byte(0xf0);
    if (d.has(kPrefixOpSize)) e_.byte(0x66);
    if (d.last_rep == 0xf3) e_.byte(0xf3);
    const unsigned reg = in.reg_operand ? h(d.reg) : ((d.modrm >> 3) & 7);
    const unsigned rm = mem ? unsigned(H_RCX) : unsigned(h(d.rm));
    e_.rex(d.rex_w(), in.reg_operand ? reg : 0, 0, rm, in.byte_regs);
    reencode(d, reg, rm);
    if (in.kind == Kind::Cmpxchg) e_.mov_rr(h(RAX), H_RAX);
    if (in.fl != Fl::None) host_flags_ = true;
  }

  // The rest of a re-encoded instruction after its prefixes and REX: the escape byte,
  // the opcode, ModRM with `reg` and either [rcx] (a memory operand) or register `rm`,
  // and the immediate.
  void reencode(const DecodedInsn& d, unsigned reg, unsigned rm) {
    if (d.map() == kMap0F) e_.byte(0x0f);
    e_.byte(d.opcode());
    if (d.mem()) {
      e_.modrm_mem(reg, kAtRcx);
    } else {
      e_.modrm_reg(reg, rm);
    }
    e_.bytes(d.imm, d.imm_size);
  }

  // An SSE instruction on host xmm0 (its ModRM.reg operand) and xmm1 (its ModRM.rm
  // register operand), loaded from and stored to the guest's XMM registers around it;
  // a memory operand through the TLB view, 16-byte aligned where the instruction wants.
  Mem xmm_slot(unsigned n) const { return Mem{H_RBP, kNone, 0, L_.xmm + int32_t(16 * n)}; }
  void movdqu(bool store, unsigned x, const Mem& m) {
    e_.byte(0xf3);
    e_.rex_mem(false, x, m);
    e_.byte(0x0f);
    e_.byte(store ? 0x7f : 0x6f);
    e_.modrm_mem(x, m);
  }
  void sse(const DecodedInsn& d, const Info& in, uint32_t i, uint64_t ip, uint64_t next) {
    const bool mem = d.mem();
    if (mem) {
      host_address(d, in.mem_size, in.writes_mem, ip, i, next);
      if (in.aligned) {
        e_.byte(0xf6);  // test cl, 15
        e_.modrm_reg(0, H_RCX);
        e_.byte(15);
        side_exit(5, ip, i);  // #GP from the interpreter
      }
    }
    if (in.reg_role == Role::XmmR || in.reg_role == Role::XmmRW) movdqu(false, 0, xmm_slot(d.reg));
    if (!mem && (in.rm_role == Role::XmmR || in.rm_role == Role::XmmRW)) movdqu(false, 1, xmm_slot(d.rm));
    unsigned reg = 0, rm = 1;
    if (in.reg_role == Role::GprW) reg = h(d.reg);
    if (in.reg_role == Role::Digit) reg = (d.modrm >> 3) & 7;
    if (mem) {
      rm = H_RCX;
    } else if (in.rm_role == Role::GprR || in.rm_role == Role::GprW) {
      rm = h(d.rm);
    }
    if (d.has(kPrefixOpSize)) e_.byte(0x66);
    if (d.last_rep) e_.byte(d.last_rep);
    const bool w = (d.opcode() == 0x6e || d.opcode() == 0x7e) && d.sse_prefix() == 1 && d.rex_w();
    e_.rex(w, in.reg_role == Role::Digit ? 0 : reg, 0, rm);
    reencode(d, reg, rm);
    if (in.reg_role == Role::XmmW || in.reg_role == Role::XmmRW) movdqu(true, 0, xmm_slot(d.reg));
    if (!mem && (in.rm_role == Role::XmmW || in.rm_role == Role::XmmRW)) movdqu(true, 1, xmm_slot(d.rm));
  }

  // MUL, IMUL (one operand) and DIV of RDX:RAX, through host rax and rdx. A divisor of
  // zero or a quotient too large (RDX >= divisor, unsigned) is a side exit: the
  // interpreter raises #DE.
  void mul_div(const DecodedInsn& d, const Info& in, uint32_t i, uint64_t ip, uint64_t next) {
    const bool mem = d.mem();
    const bool w = d.osize == 8;
    const unsigned digit = (d.modrm >> 3) & 7;
    if (mem) host_address(d, in.mem_size, false, ip, i, next);
    if (digit == 6) {
      flags_to_memory();
      if (mem) {
        e_.rex(w, h(RDX), 0, H_RCX);  // cmp <guest rdx>, [rcx]
        e_.byte(0x3b);
        e_.modrm_mem(h(RDX), kAtRcx);
      } else {
        e_.rex(w, h(RDX), 0, h(d.rm));  // cmp <guest rdx>, <divisor>
        e_.byte(0x3b);
        e_.modrm_reg(h(RDX), h(d.rm));
      }
      side_exit(3, ip, i);  // jae
    }
    if (!host_flags_) restore_flags();
    e_.mov_rr(H_RAX, h(RAX));
    e_.mov_rr(H_RDX, h(RDX));
    e_.rex(w, 0, 0, mem ? unsigned(H_RCX) : unsigned(h(d.rm)));
    e_.byte(0xf7);
    if (mem) {
      e_.modrm_mem(digit, kAtRcx);
    } else {
      e_.modrm_reg(digit, h(d.rm));
    }
    e_.mov_rr(h(RAX), H_RAX);
    e_.mov_rr(h(RDX), H_RDX);
    host_flags_ = true;
  }

  // ALU AL/eAX, imm and TEST AL/eAX, imm as their ModRM forms on the mapped RAX.
  void acc_imm(const DecodedInsn& d, const Info& in) {
    if (in.fl == Fl::Use && !host_flags_) restore_flags();
    const unsigned op = d.opcode();
    const bool test = op == 0xa8 || op == 0xa9;
    const unsigned digit = test ? 0 : op >> 3;
    const uint8_t r = h(RAX);
    if (d.has(kPrefixOpSize)) e_.byte(0x66);
    e_.rex(d.rex_w(), 0, 0, r, in.byte_regs);
    e_.byte(in.byte_regs ? (test ? 0xf6 : 0x80) : (test ? 0xf7 : 0x81));
    e_.modrm_reg(digit, r);
    e_.bytes(d.imm, in.byte_regs ? 1 : (d.osize == 2 ? 2 : 4));
    host_flags_ = true;
  }

  void mov_imm(const DecodedInsn& d, const Info& in) {
    const uint8_t r = h(in.opreg);
    if (in.byte_regs) {
      e_.rex(false, 0, 0, r, true);
      e_.byte(uint8_t(0xb0 + (r & 7)));
      e_.byte(uint8_t(d.imm));
    } else if (d.osize == 2) {
      e_.byte(0x66);
      e_.rex(false, 0, 0, r);
      e_.byte(uint8_t(0xb8 + (r & 7)));
      e_.bytes(d.imm, 2);
    } else if (d.osize == 4) {
      e_.rex(false, 0, 0, r);
      e_.byte(uint8_t(0xb8 + (r & 7)));
      e_.u32(uint32_t(d.imm));
    } else {
      e_.rex(true, 0, 0, r);
      e_.byte(uint8_t(0xb8 + (r & 7)));
      e_.bytes(d.imm, 8);
    }
  }

  // Compares the block's bytes in guest memory with the copy it was decoded from;
  // each jne to be patched goes into `mismatch`. Clobbers rax, rcx, rdx and the flags.
  void compare_bytes(const Block& b, const uint8_t* code, std::vector<uint8_t*>& mismatch) {
    e_.mov_imm(H_RCX, reinterpret_cast<uint64_t>(code));
    e_.mov_imm(H_RDX, reinterpret_cast<uint64_t>(b.bytes()));
    const unsigned len = b.length;
    auto compare_at = [&](unsigned off, bool qword) {
      if (qword) {
        e_.load(H_RAX, Mem{H_RCX, kNone, 0, int32_t(off)});
        e_.op_mem(0x3b, H_RAX, Mem{H_RDX, kNone, 0, int32_t(off)});
      } else {
        e_.byte(0x0f);  // movzx eax, byte [rcx+off]
        e_.byte(0xb6);
        e_.modrm_mem(H_RAX, Mem{H_RCX, kNone, 0, int32_t(off)});
        e_.op_mem(0x3a, H_RAX, Mem{H_RDX, kNone, 0, int32_t(off)}, false);  // cmp al, [rdx+off]
      }
      mismatch.push_back(e_.jump32(5));  // jne
    };
    if (len >= 8) {
      for (unsigned off = 0; off + 8 < len; off += 8) compare_at(off, true);
      compare_at(len - 8, true);
    } else {
      for (unsigned off = 0; off < len; ++off) compare_at(off, false);
    }
  }

  // A static exit: the instructions counted against the poll, then on into the
  // translation in the exit's chain slot when there is one (and, for another page,
  // the TLB still maps it as it was), else back to the dispatcher.
  void chained_exit(uint64_t target, uint32_t k) {
    writeback();
    e_.op_mem(0x81, 5, field(L_.poll), false);  // sub dword [rbp+poll], k
    e_.u32(k);
    std::vector<uint8_t*> leave;
    leave.push_back(e_.jump32(0xe));  // jle
    chains_.push_back({e_.mov_imm64_placeholder(H_RAX), target});
    e_.store(field(L_.chain), H_RAX);                    // the dispatcher may fill this slot
    e_.load(H_RDX, Mem{H_RAX, kNone, 0, 0});             // rdx = slot.entry
    e_.test_rr(H_RDX, H_RDX);
    leave.push_back(e_.jump32(4));  // jz
    if ((target & ~0xfffull) != (start_rip_ & ~0xfffull)) {
      const int32_t tlb = L_.tlb + int32_t(((target >> 12) & (EmuCpu::kTlbSize - 1)) * sizeof(TlbEntry));
      e_.mov_imm(H_RCX, target & ~0xfffull);
      e_.op_mem(0x3b, H_RCX, field(tlb + int32_t(offsetof(TlbEntry, tag))));  // cmp rcx, tag
      leave.push_back(e_.jump32(5));
      e_.load(H_RCX, field(tlb + int32_t(offsetof(TlbEntry, phys))));
      e_.op_mem(0x3b, H_RCX, Mem{H_RAX, kNone, 0, int32_t(offsetof(JitChainSlot, phys_page))});
      leave.push_back(e_.jump32(5));
      e_.op_mem(0xf7, 0, field(tlb + int32_t(offsetof(TlbEntry, perms))), false);  // test dword [perms], exec
      e_.u32(EmuCpu::perm_bit(Access::Exec, user_));
      leave.push_back(e_.jump32(4));  // jz
    }
    e_.byte(0xff);  // jmp rdx
    e_.modrm_reg(4, H_RDX);
    uint8_t* out = e_.here();
    for (uint8_t* f : leave) e_.patch(f, out);
    e_.mov_imm(H_RAX, target);
    e_.store(field(L_.rip), H_RAX);
    epilogue(0);
  }

  void emit_stubs(const Block& b, const uint8_t* code) {
    uint8_t* restart = nullptr;  // writes the state back and leaves at the block's start
    std::vector<uint8_t*> to_restart;
    for (const Stub& s : stubs_) {
      e_.patch(s.fixup, e_.here());
      if (s.save_flags) save_flags();
      if (s.kind == StubKind::Loop) {
        // One turn done: count it against the poll, check the code is unchanged, go on.
        e_.op_mem(0x81, 5, field(L_.poll), false);  // sub dword [rbp+poll], k
        e_.u32(s.k);
        to_restart.push_back(e_.jump32(0xe));  // jle
        compare_bytes(b, code, to_restart);
        e_.patch(e_.jump32(-1), loop_head_);
        continue;
      }
      if (s.kind == StubKind::Static) {
        chained_exit(s.rip, s.k);
        continue;
      }
      writeback();
      e_.mov_imm(H_RAX, s.rip);
      e_.store(field(L_.rip), H_RAX);
      epilogue(s.k | kJitSideExit);
    }
    if (!to_restart.empty()) {
      restart = e_.here();
      writeback();
      e_.mov_imm(H_RAX, start_rip_);
      e_.store(field(L_.rip), H_RAX);
      epilogue(0);
      for (uint8_t* f : to_restart) e_.patch(f, restart);
    }
  }

  Emitter& e_;
  const JitLayout& L_;
  bool user_;
  uint8_t map_[17];
  std::vector<uint8_t> mapped_;
  std::vector<Info> infos_;
  unsigned n_ = 0;
  uint64_t start_rip_ = 0;
  uint8_t* loop_head_ = nullptr;
  bool host_flags_ = false;
  bool bad_ = false;
  bool untranslatable_next_ = false;  // the translated prefix ends before an untranslatable instruction
  bool has_sse_ = false;
  std::vector<Stub> stubs_;
  std::vector<ChainRef> chains_;
};

}  // namespace

JitCache::JitCache(size_t arena_bytes) : size_(arena_bytes) {
  void* p = mmap(nullptr, size_, PROT_READ | PROT_WRITE | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (p == MAP_FAILED) throw std::bad_alloc();
  arena_ = static_cast<uint8_t*>(p);
}

JitCache::~JitCache() { munmap(arena_, size_); }

bool JitCache::host_supported() {
#if defined(__x86_64__)
  return host().lahf;
#else
  return false;
#endif
}

JitCode JitCache::translate(const Block& b, uint64_t rip, const uint8_t* code, bool user, const JitLayout& layout) {
  if (b.mode != CpuMode::Long64) return {};
  Emitter e(arena_ + used_, size_ - used_);
  Translator t(e, layout, user);
  if (!t.plan(b)) {
    JitCode none;
    none.step_first = t.stopped_untranslatable() && b.count > 1;
    return none;
  }
  JitCode out = t.emit(b, rip, code);
  if (!out.entry) {
    if (e.overflow()) full_ = true;
    return {};
  }
  used_ = (used_ + e.size() + 15) & ~size_t(15);
  return out;
}

}  // namespace vireo::emu
