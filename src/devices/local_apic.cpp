#include "devices/local_apic.h"

#include <cassert>
#include <chrono>

#include "base/log.h"

namespace vireo {

namespace {

constexpr uint64_t kNsPerSecond = 1'000'000'000;

// IA32_APIC_BASE (SDM 11.4.4).
constexpr uint64_t kBaseBsp = 1ull << 8;
constexpr uint64_t kBaseX2apic = 1ull << 10;
constexpr uint64_t kBaseEnable = 1ull << 11;
constexpr uint64_t kBaseAddressMask = 0x000ffffffffff000ull;  // 52-bit physical addresses

// LVT fields (SDM 11.5.1, Figure 11-8).
constexpr uint32_t kLvtVector = 0xff;
constexpr unsigned kLvtDeliveryModeShift = 8;
constexpr uint32_t kLvtMasked = 1u << 16;
constexpr unsigned kLvtTimerModeShift = 17;
constexpr uint32_t kLvtReset = kLvtMasked;
constexpr unsigned kTimerOneShot = 0, kTimerPeriodic = 1, kTimerTscDeadline = 2;
// Writable bits per entry; delivery status (12) and remote IRR (14) are read-only.
constexpr uint32_t kLvtTimerWritable = 0x000700ff;     // vector, mask, timer mode
constexpr uint32_t kLvtThermalPerfWritable = 0x000107ff;  // vector, delivery mode, mask
constexpr uint32_t kLvtLintWritable = 0x0001a7ff;      // + polarity, trigger mode
constexpr uint32_t kLvtErrorWritable = 0x000100ff;     // vector, mask

constexpr uint32_t kSvrEnable = 1u << 8;
constexpr uint32_t kSvrWritable = 0x3ff;  // vector, APIC enable, focus checking
constexpr uint32_t kSvrReset = 0xff;

// ICR (SDM 11.6.1, Figure 11-12).
constexpr uint32_t kIcrWritable = 0x000ccfff;  // vector, mode, dest mode, level, trigger, shorthand
constexpr uint32_t kIcrLogical = 1u << 11;
constexpr uint32_t kIcrAssert = 1u << 14;
constexpr uint32_t kIcrLevelTriggered = 1u << 15;
constexpr unsigned kIcrShorthandShift = 18;

constexpr uint32_t kDfrFlat = 0xf, kDfrCluster = 0x0;

bool test_bit(const std::array<uint32_t, 8>& set, uint8_t v) { return (set[v / 32] >> (v % 32)) & 1; }
void set_bit(std::array<uint32_t, 8>& set, uint8_t v) { set[v / 32] |= 1u << (v % 32); }
void clear_bit(std::array<uint32_t, 8>& set, uint8_t v) { set[v / 32] &= ~(1u << (v % 32)); }
// The highest set vector, or -1.
int highest(const std::array<uint32_t, 8>& set) {
  for (int i = 7; i >= 0; --i) {
    if (set[i]) return i * 32 + 31 - __builtin_clz(set[i]);
  }
  return -1;
}

uint64_t steady_now_ns() {
  return static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
          .count());
}

uint64_t mul_div_ceil(uint64_t a, uint64_t b, uint64_t c) {
  unsigned __int128 p = static_cast<unsigned __int128>(a) * b;
  unsigned __int128 q = (p + c - 1) / c;
  return q > UINT64_MAX ? UINT64_MAX : static_cast<uint64_t>(q);
}

}  // namespace

LocalApic::LocalApic(LocalApicConfig config)
    : cpu_index_(config.cpu_index),
      timer_hz_(config.timer_hz),
      tsc_hz_(config.tsc_hz),
      now_ns_(config.now_ns ? std::move(config.now_ns) : std::function<uint64_t()>(steady_now_ns)),
      read_tsc_(std::move(config.read_tsc)) {
  assert(timer_hz_ > 0 && tsc_hz_ > 0);
  assert(cpu_index_ < 255);
  reset();
}

// ---- state ---------------------------------------------------------------------

void LocalApic::reset() {
  std::lock_guard<std::mutex> lock(mu_);
  apic_base_ = kDefaultBase | kBaseEnable | (cpu_index_ == 0 ? kBaseBsp : 0);
  id_ = static_cast<uint8_t>(cpu_index_);
  reset_registers();
}

void LocalApic::init_reset() {
  std::lock_guard<std::mutex> lock(mu_);
  reset_registers();
}

// Power-up values (SDM 11.4.7.1) of everything but IA32_APIC_BASE and the APIC id.
void LocalApic::reset_registers() {
  tpr_ = 0;
  ldr_ = 0;
  dfr_ = 0xffffffff;
  svr_ = kSvrReset;
  isr_ = {};
  tmr_ = {};
  irr_ = {};
  esr_ = esr_pending_ = 0;
  icr_low_ = icr_high_ = 0;
  lvt_.fill(kLvtReset);
  initial_count_ = 0;
  divide_config_ = 0;
  tsc_deadline_ = 0;
  deadline_ns_.store(kNever);
  update_summary();
}

bool LocalApic::hw_enabled() const { return apic_base_ & kBaseEnable; }
bool LocalApic::sw_enabled() const { return svr_ & kSvrEnable; }

// SDM 11.8.3.1: PPR is TPR when TPR's class is at least that of the highest in-service
// vector, else that vector's class.
uint8_t LocalApic::ppr() const {
  int isrv = highest(isr_);
  uint8_t isr_class = isrv < 0 ? 0 : static_cast<uint8_t>(isrv & 0xf0);
  return (tpr_ & 0xf0) >= isr_class ? tpr_ : isr_class;
}

// SDM 11.8.2 (arbitration priority).
uint8_t LocalApic::apr() const {
  int isrv = highest(isr_);
  int irrv = highest(irr_);
  unsigned isr_class = isrv < 0 ? 0 : unsigned(isrv) & 0xf0;
  unsigned irr_class = irrv < 0 ? 0 : unsigned(irrv) & 0xf0;
  unsigned tpr_class = tpr_ & 0xf0;
  if (tpr_class >= irr_class && tpr_class > isr_class) return tpr_;
  unsigned m = tpr_class > isr_class ? tpr_class : isr_class;
  return static_cast<uint8_t>(m > irr_class ? m : irr_class);
}

void LocalApic::update_summary() {
  int irrv = highest(irr_);
  bool deliverable = hw_enabled() && sw_enabled() && irrv >= 0 && (unsigned(irrv) >> 4) > (ppr() >> 4u);
  apic_deliverable_.store(deliverable, std::memory_order_release);
  uint32_t lint0 = lvt_[kLvtLint0];
  bool ext_int = !hw_enabled() || (sw_enabled() && !(lint0 & kLvtMasked) &&
                                   static_cast<ApicDeliveryMode>((lint0 >> kLvtDeliveryModeShift) & 7) ==
                                       ApicDeliveryMode::ExtInt);
  ext_int_enabled_.store(ext_int, std::memory_order_release);
}

void LocalApic::set_irr(uint8_t vector, bool level_triggered) {
  // SDM 11.5.3 / 11.8.1: vectors 0-15 are reserved; receiving one is an error.
  if (vector < 16) {
    record_error(kEsrReceiveIllegalVector);
    return;
  }
  set_bit(irr_, vector);
  if (level_triggered) {
    set_bit(tmr_, vector);
  } else {
    clear_bit(tmr_, vector);
  }
}

void LocalApic::record_error(uint32_t esr_bit) {
  bool first = !(esr_pending_ & esr_bit);
  esr_pending_ |= esr_bit;
  uint32_t lvt = lvt_[kLvtError];
  uint8_t vector = lvt & kLvtVector;
  // The error interrupt is sent once per new error; an illegal error vector is not
  // raised again (no recursion).
  if (first && !(lvt & kLvtMasked) && vector >= 16) set_irr(vector, false);
}

// ---- interrupt source ----------------------------------------------------------

bool LocalApic::pending() {
  uint64_t deadline = deadline_ns_.load(std::memory_order_relaxed);
  if (deadline != kNever) {
    unsigned countdown = timer_countdown_.load(std::memory_order_relaxed);
    if (countdown <= 1) {
      timer_countdown_.store(kTimerCheckInterval, std::memory_order_relaxed);
      // The CPU itself is looking: no need to wake it.
      uint64_t now = now_ns_();
      if (now >= deadline) {
        std::lock_guard<std::mutex> lock(mu_);
        fire_timer(now);
      }
    } else {
      timer_countdown_.store(countdown - 1, std::memory_order_relaxed);
    }
  }
  if (apic_deliverable_.load(std::memory_order_acquire)) return true;
  return ext_int_ && ext_int_enabled_.load(std::memory_order_acquire) && ext_int_->pending();
}

uint8_t LocalApic::acknowledge() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    int irrv = highest(irr_);
    if (hw_enabled() && sw_enabled() && irrv >= 0 && (unsigned(irrv) >> 4) > (ppr() >> 4u)) {
      uint8_t v = static_cast<uint8_t>(irrv);
      clear_bit(irr_, v);
      set_bit(isr_, v);
      update_summary();
      return v;
    }
  }
  // The PIC is asked without the APIC's lock held (its listener may wake this CPU).
  if (ext_int_ && ext_int_enabled_.load(std::memory_order_acquire) && ext_int_->pending()) {
    return ext_int_->acknowledge();
  }
  // SDM 11.9: an interrupt that went away before INTA yields the spurious vector,
  // which is not put in service.
  std::lock_guard<std::mutex> lock(mu_);
  return static_cast<uint8_t>(svr_ & 0xff);
}

void LocalApic::ext_int_raised() {
  if (ext_int_enabled_.load(std::memory_order_acquire) && wake_) wake_();
}

// ---- registers -----------------------------------------------------------------

uint64_t LocalApic::mmio_read(uint64_t offset, unsigned size) {
  if (offset >= kWindowSize) return 0;
  unsigned byte = offset & 0xf;
  if (byte >= 4) return 0;  // only the low 4 bytes of each 16-byte slot are a register
  uint64_t value = read_register(static_cast<uint32_t>(offset & ~0xfull)) >> (8 * byte);
  if (size < 8) value &= (1ull << (8 * size)) - 1;
  return value;
}

void LocalApic::mmio_write(uint64_t offset, unsigned size, uint64_t value) {
  // SDM 11.4.1: registers are written as aligned 32-bit quantities; anything else is
  // ignored.
  if (offset >= kWindowSize || (offset & 0xf) != 0 || size < 4) {
    log_debug("lapic {}: ignored {}-byte write of {:#x} at offset {:#x}", cpu_index_, size, value, offset);
    return;
  }
  write_register(static_cast<uint32_t>(offset), static_cast<uint32_t>(value));
}

uint32_t LocalApic::read_register(uint32_t offset) {
  uint64_t now = 0;
  if (offset == kRegTimerCurrent) now = now_ns_();
  std::lock_guard<std::mutex> lock(mu_);
  if (!hw_enabled()) return 0;
  if (offset >= kRegIsr && offset < kRegIsr + 0x80) return isr_[(offset - kRegIsr) / 16];
  if (offset >= kRegTmr && offset < kRegTmr + 0x80) return tmr_[(offset - kRegTmr) / 16];
  if (offset >= kRegIrr && offset < kRegIrr + 0x80) return irr_[(offset - kRegIrr) / 16];
  switch (offset) {
    case kRegId: return uint32_t(id_) << 24;
    case kRegVersion: return kVersion;
    case kRegTpr: return tpr_;
    case kRegApr: return apr();
    case kRegPpr: return ppr();
    case kRegLdr: return ldr_;
    case kRegDfr: return dfr_;
    case kRegSvr: return svr_;
    case kRegEsr: return esr_;
    case kRegIcrLow: return icr_low_;  // delivery status (bit 12) reads 0: IPIs leave at once
    case kRegIcrHigh: return icr_high_;
    case kRegLvtTimer: return lvt_[kLvtTimer];
    case kRegLvtThermal: return lvt_[kLvtThermal];
    case kRegLvtPerf: return lvt_[kLvtPerf];
    case kRegLvtLint0: return lvt_[kLvtLint0];
    case kRegLvtLint1: return lvt_[kLvtLint1];
    case kRegLvtError: return lvt_[kLvtError];
    case kRegTimerInitial: return initial_count_;
    case kRegTimerCurrent: return current_count(now);
    case kRegTimerDivide: return divide_config_;
    default: return 0;  // EOI and RRD read 0, reserved slots too
  }
}

void LocalApic::write_register(uint32_t offset, uint32_t value) {
  uint64_t now = 0;
  if (offset == kRegTimerInitial || offset == kRegTimerDivide) now = now_ns_();
  int eoi_vector = -1;
  ApicMessage ipi;
  bool send = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!hw_enabled()) return;
    switch (offset) {
      case kRegId: id_ = static_cast<uint8_t>(value >> 24); break;
      case kRegTpr:
        tpr_ = static_cast<uint8_t>(value);
        update_summary();
        break;
      case kRegEoi: {
        // SDM 11.8.5: EOI retires the highest in-service vector; a level-triggered one
        // is broadcast to the I/O APIC.
        int isrv = highest(isr_);
        if (isrv < 0) break;
        uint8_t v = static_cast<uint8_t>(isrv);
        clear_bit(isr_, v);
        if (test_bit(tmr_, v)) eoi_vector = v;
        update_summary();
        break;
      }
      case kRegLdr: ldr_ = value & 0xff000000; break;
      case kRegDfr: dfr_ = value | 0x0fffffff; break;
      case kRegSvr: write_svr(value); break;
      case kRegEsr:
        // SDM 11.5.3: a write latches the errors found since the previous write.
        esr_ = esr_pending_;
        esr_pending_ = 0;
        break;
      case kRegIcrLow:
        icr_low_ = value & kIcrWritable;
        send = icr_message(ipi);
        update_summary();  // a send error may have raised the error interrupt
        break;
      case kRegIcrHigh: icr_high_ = value & 0xff000000; break;
      case kRegLvtTimer: write_lvt(kLvtTimer, value); break;
      case kRegLvtThermal: write_lvt(kLvtThermal, value); break;
      case kRegLvtPerf: write_lvt(kLvtPerf, value); break;
      case kRegLvtLint0: write_lvt(kLvtLint0, value); break;
      case kRegLvtLint1: write_lvt(kLvtLint1, value); break;
      case kRegLvtError: write_lvt(kLvtError, value); break;
      case kRegTimerInitial: {
        if (timer_mode() == kTimerTscDeadline) break;  // SDM 11.5.4.1: ignored in TSC-deadline mode
        initial_count_ = value;
        if (value == 0) {
          disarm_timer();
        } else {
          deadline_ns_.store(now + counts_to_ns(value));
        }
        break;
      }
      case kRegTimerDivide: {
        // The count keeps its value and goes on at the new rate.
        uint32_t remaining = current_count(now);
        divide_config_ = value & 0xb;
        if (timer_mode() != kTimerTscDeadline && deadline_ns_.load() != kNever && remaining > 0) {
          deadline_ns_.store(now + counts_to_ns(remaining));
        }
        break;
      }
      default:
        // Read-only and reserved registers ignore writes.
        break;
    }
  }
  if (eoi_vector >= 0 && eoi_listener_) eoi_listener_(static_cast<uint8_t>(eoi_vector));
  if (send && send_ipi_) send_ipi_(ipi);
}

void LocalApic::write_svr(uint32_t value) {
  svr_ = value & kSvrWritable;
  // SDM 11.4.7.2: software-disabling the APIC masks every LVT entry.
  if (!sw_enabled()) {
    for (uint32_t& lvt : lvt_) lvt |= kLvtMasked;
  }
  update_summary();
}

void LocalApic::write_lvt(unsigned lvt, uint32_t value) {
  uint32_t writable = kLvtErrorWritable;
  switch (lvt) {
    case kLvtTimer: writable = kLvtTimerWritable; break;
    case kLvtThermal:
    case kLvtPerf: writable = kLvtThermalPerfWritable; break;
    case kLvtLint0:
    case kLvtLint1: writable = kLvtLintWritable; break;
    default: break;
  }
  uint32_t old = lvt_[lvt];
  uint32_t next = (old & ~writable) | (value & writable);
  // SDM 11.4.7.2: while the APIC is software-disabled, mask bits cannot be cleared.
  if (!sw_enabled()) next |= kLvtMasked;
  lvt_[lvt] = next;
  if (lvt == kLvtTimer) {
    unsigned old_mode = (old >> kLvtTimerModeShift) & 3;
    unsigned new_mode = (next >> kLvtTimerModeShift) & 3;
    // SDM 11.5.4.1: switching into or out of TSC-deadline mode disarms the timer.
    if (old_mode != new_mode && (old_mode == kTimerTscDeadline || new_mode == kTimerTscDeadline)) {
      initial_count_ = 0;
      disarm_timer();
    }
  }
  if (lvt == kLvtLint0) update_summary();
}

bool LocalApic::icr_message(ApicMessage& m) {
  m.vector = icr_low_ & 0xff;
  m.mode = static_cast<ApicDeliveryMode>((icr_low_ >> 8) & 7);
  m.logical = icr_low_ & kIcrLogical;
  m.level_triggered = icr_low_ & kIcrLevelTriggered;
  m.shorthand = static_cast<ApicShorthand>((icr_low_ >> kIcrShorthandShift) & 3);
  m.destination = static_cast<uint8_t>(icr_high_ >> 24);
  // SDM 11.6.1: INIT with level de-assert only synchronizes arbitration ids.
  if (m.mode == ApicDeliveryMode::Init && !(icr_low_ & kIcrAssert) && m.level_triggered) return false;
  if ((m.mode == ApicDeliveryMode::Fixed || m.mode == ApicDeliveryMode::LowestPriority) && m.vector < 16) {
    record_error(kEsrSendIllegalVector);
    return false;
  }
  // IPIs are edge-triggered messages: they never set the target's TMR.
  m.level_triggered = false;
  return true;
}

uint8_t LocalApic::tpr() {
  std::lock_guard<std::mutex> lock(mu_);
  return tpr_;
}

void LocalApic::set_tpr(uint8_t tpr) {
  std::lock_guard<std::mutex> lock(mu_);
  tpr_ = tpr;
  update_summary();
}

uint8_t LocalApic::apic_id() {
  std::lock_guard<std::mutex> lock(mu_);
  return id_;
}

bool LocalApic::irr_bit(uint8_t v) {
  std::lock_guard<std::mutex> lock(mu_);
  return test_bit(irr_, v);
}

bool LocalApic::isr_bit(uint8_t v) {
  std::lock_guard<std::mutex> lock(mu_);
  return test_bit(isr_, v);
}

bool LocalApic::tmr_bit(uint8_t v) {
  std::lock_guard<std::mutex> lock(mu_);
  return test_bit(tmr_, v);
}

// ---- MSRs ----------------------------------------------------------------------

bool LocalApic::read_msr(uint32_t index, uint64_t& value) {
  std::lock_guard<std::mutex> lock(mu_);
  switch (index) {
    case kMsrApicBase: value = apic_base_; return true;
    case kMsrTscDeadline:
      // SDM 11.5.4.1: reads 0 outside TSC-deadline mode and once the timer fired.
      value = timer_mode() == kTimerTscDeadline ? tsc_deadline_ : 0;
      return true;
    default: return false;
  }
}

bool LocalApic::write_msr(uint32_t index, uint64_t value) {
  if (index == kMsrApicBase) {
    // SDM 11.4.4: x2APIC mode (bit 10) is not offered, reserved bits raise #GP.
    if (value & ~(kBaseAddressMask | kBaseEnable | kBaseBsp)) return false;
    std::lock_guard<std::mutex> lock(mu_);
    bool was_enabled = hw_enabled();
    apic_base_ = (value & (kBaseAddressMask | kBaseEnable)) | (apic_base_ & kBaseBsp);
    if ((apic_base_ & kBaseAddressMask) != kDefaultBase && !warned_base_) {
      warned_base_ = true;
      log_warn("lapic {}: the guest moved the APIC to {:#x}; the registers stay at {:#x}", cpu_index_,
               apic_base_ & kBaseAddressMask, kDefaultBase);
    }
    // SDM 11.4.3: a globally disabled APIC loses its state.
    if (was_enabled && !hw_enabled()) reset_registers();
    update_summary();
    return true;
  }
  if (index == kMsrTscDeadline) {
    uint64_t now = now_ns_();
    uint64_t tsc = read_tsc();
    std::lock_guard<std::mutex> lock(mu_);
    if (timer_mode() != kTimerTscDeadline || !hw_enabled()) return true;  // ignored (SDM 11.5.4.1)
    tsc_deadline_ = value;
    if (value == 0) {
      disarm_timer();
    } else {
      uint64_t ahead = value > tsc ? mul_div_ceil(value - tsc, kNsPerSecond, tsc_hz_) : 0;
      deadline_ns_.store(ahead > kNever - 1 - now ? kNever - 1 : now + ahead);
    }
    return true;
  }
  return false;
}

uint64_t LocalApic::read_tsc() {
  if (read_tsc_) return read_tsc_();
  return mul_div_ceil(now_ns_(), tsc_hz_, kNsPerSecond);
}

// ---- timer ---------------------------------------------------------------------

unsigned LocalApic::timer_mode() const { return (lvt_[kLvtTimer] >> kLvtTimerModeShift) & 3; }

// SDM Figure 11-10: bits 3, 1:0 select 2, 4, ..., 128; 111b is divide by 1.
uint64_t LocalApic::divide() const {
  unsigned code = ((divide_config_ >> 1) & 4) | (divide_config_ & 3);
  return code == 7 ? 1 : 2ull << code;
}

uint64_t LocalApic::counts_to_ns(uint64_t counts) const {
  return mul_div_ceil(counts * divide(), kNsPerSecond, timer_hz_);
}

uint32_t LocalApic::current_count(uint64_t now) const {
  uint64_t deadline = deadline_ns_.load();
  if (timer_mode() == kTimerTscDeadline || deadline == kNever) return 0;
  uint64_t remaining_ns;
  if (now < deadline) {
    remaining_ns = deadline - now;
  } else if (timer_mode() == kTimerPeriodic) {
    // Expired periods that poll_timer has not seen yet: the count has reloaded.
    uint64_t period = counts_to_ns(initial_count_);
    remaining_ns = period - (now - deadline) % period;
  } else {
    return 0;
  }
  uint64_t counts = mul_div_ceil(remaining_ns, timer_hz_, divide() * kNsPerSecond);
  return counts > initial_count_ ? initial_count_ : static_cast<uint32_t>(counts);
}

void LocalApic::disarm_timer() {
  tsc_deadline_ = 0;
  deadline_ns_.store(kNever);
}

uint64_t LocalApic::next_deadline_ns() {
  timer_countdown_.store(1, std::memory_order_relaxed);
  return deadline_ns_.load();
}

void LocalApic::poll_timer(uint64_t now) {
  if (now < deadline_ns_.load()) return;  // also kNever
  bool raised;
  {
    std::lock_guard<std::mutex> lock(mu_);
    raised = fire_timer(now);
  }
  if (raised && wake_) wake_();
}

bool LocalApic::fire_timer(uint64_t now) {
  uint64_t deadline = deadline_ns_.load();
  if (deadline == kNever || now < deadline) return false;
  unsigned mode = timer_mode();
  if (mode == kTimerPeriodic && initial_count_ != 0) {
    uint64_t period = counts_to_ns(initial_count_);
    uint64_t missed = (now - deadline) / period;
    deadline_ns_.store(deadline + (missed + 1) * period);
  } else {
    disarm_timer();  // one-shot ends at 0; TSC-deadline clears the MSR (SDM 11.5.4.1)
  }
  uint32_t lvt = lvt_[kLvtTimer];
  // SDM 11.5.4: the timer counts while masked; only the interrupt is suppressed.
  if ((lvt & kLvtMasked) || !hw_enabled()) return false;
  set_irr(lvt & kLvtVector, false);
  update_summary();
  return true;
}

// ---- from the bus --------------------------------------------------------------

void LocalApic::accept_fixed(uint8_t vector, bool level_triggered) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    // A disabled APIC does not accept fixed interrupts (SDM 11.4.7.2).
    if (!hw_enabled() || !sw_enabled()) return;
    set_irr(vector, level_triggered);
    update_summary();
  }
  if (wake_) wake_();
}

// SDM 11.6.2: physical ids match exactly, 0xff is a broadcast; logical destinations
// match the LDR per the DFR model (flat: any common bit; cluster: same cluster in the
// high nibble, a common bit in the low nibble).
bool LocalApic::matches(uint8_t destination, bool logical) {
  std::lock_guard<std::mutex> lock(mu_);
  if (!hw_enabled()) return false;
  if (destination == 0xff) return true;
  if (!logical) return destination == id_;
  uint8_t ldr = static_cast<uint8_t>(ldr_ >> 24);
  switch (dfr_ >> 28) {
    case kDfrFlat: return (destination & ldr) != 0;
    case kDfrCluster: return (destination >> 4) == (ldr >> 4) && (destination & ldr & 0xf) != 0;
    default: return false;
  }
}

}  // namespace vireo
