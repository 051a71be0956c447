// LocalApic: one vCPU's local APIC in xAPIC mode, for the emulator (under KVM the
// in-kernel one is used). Register model per SDM Vol. 3 chapter 11 (Table 11-1):
// ID, version, TPR, APR, PPR, EOI, LDR, DFR, SVR, ISR/TMR/IRR, ESR, ICR, the six LVT
// entries (timer, thermal, performance counter, LINT0, LINT1, error), the timer's
// initial/current count and divide configuration; the MSRs IA32_APIC_BASE and
// IA32_TSC_DEADLINE. x2APIC is not implemented (the CPU does not advertise it).
//
// Interrupt delivery to the CPU (emu::InterruptSource):
//   - pending() is true when the APIC is enabled (IA32_APIC_BASE[11] and SVR[8]) and
//     the highest IRR vector's priority class is above PPR's (SDM 11.8.3.1), or when
//     LVT LINT0 is unmasked in ExtINT mode (or the APIC is hardware-disabled, which
//     leaves the INTR pin wired straight to the CPU) and the ExtIntSource (the PIC)
//     has an interrupt. acknowledge() moves the highest IRR vector to ISR and returns
//     it; otherwise it runs the PIC's INTA cycle; with nothing left it returns the
//     spurious vector (SVR[7:0]).
//   - A write to EOI clears the highest ISR bit; if that vector was accepted
//     level-triggered (TMR), the EOI listener (the I/O APIC) is called with it, after
//     the APIC's lock is released.
//   - NMI, SMI and the thermal/performance/LINT1 sources are not emulated: nothing
//     raises them, and NMI/SMI messages are dropped by the bus.
//
// Timer (SDM 11.5.4): one-shot, periodic and TSC-deadline modes. The count-down
// timer runs at timer_hz / divide; timer_hz defaults to kApicTimerHz, the core
// crystal clock the CPU reports in CPUID leaf 0x15 (with that leaf enumerated, the APIC
// timer runs at the crystal clock). The TSC-deadline mode compares against the guest
// TSC (read_tsc, tsc_hz). Expiry is measured on the host's monotonic clock (now_ns):
// next_deadline_ns() says when the timer next fires and poll_timer(now) fires it.
// pending() calls poll_timer itself, reading the clock on one call in
// kTimerCheckInterval while the timer is armed; next_deadline_ns() makes the next
// pending() read it, so a vCPU that waited in HLT until the deadline sees it at once.
//
// Threads: pending(), acknowledge(), the register and MSR accessors run on the
// owning vCPU's thread; accept_fixed(), matches(), init_reset() and poll_timer() may
// be called from any thread. Each APIC has its own lock; callbacks (IPI sender, EOI
// listener, wake) are called with it released, so delivering from one APIC to another
// never holds two APIC locks. The wake callback is called whenever an interrupt may
// have become pending, so a vCPU parked in HLT polls again.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <mutex>

#include "cpu/emu/interrupt_source.h"
#include "devices/apic_message.h"
#include "devices/ext_int_source.h"

namespace vireo {

// The APIC timer's input clock: the 25 MHz core crystal clock of CPUID leaf 0x15.
constexpr uint64_t kApicTimerHz = 25'000'000;
// The guest TSC rate the emulated CPU announces (CPUID 0x15: crystal x 40).
constexpr uint64_t kGuestTscHz = 1'000'000'000;

struct LocalApicConfig {
  unsigned cpu_index = 0;  // the initial APIC id; CPU 0 is the bootstrap processor
  uint64_t timer_hz = kApicTimerHz;
  uint64_t tsc_hz = kGuestTscHz;
  // The host's monotonic clock in nanoseconds; empty: std::chrono::steady_clock.
  std::function<uint64_t()> now_ns;
  // This CPU's guest TSC; empty: now_ns() scaled to tsc_hz. set_tsc_reader() replaces it.
  std::function<uint64_t()> read_tsc;
};

class LocalApic final : public emu::InterruptSource {
 public:
  static constexpr uint64_t kNever = UINT64_MAX;
  static constexpr uint64_t kDefaultBase = 0xfee00000;
  static constexpr uint64_t kWindowSize = 0x1000;
  // Version 0x14 (integrated xAPIC), max LVT entry 5 (six entries: no CMCI).
  static constexpr uint32_t kVersion = 0x00050014;
  static constexpr unsigned kTimerCheckInterval = 8;
  static constexpr uint32_t kMsrApicBase = 0x1b;
  static constexpr uint32_t kMsrTscDeadline = 0x6e0;

  // Register offsets (SDM Vol. 3 Table 11-1).
  enum Register : uint32_t {
    kRegId = 0x020,
    kRegVersion = 0x030,
    kRegTpr = 0x080,
    kRegApr = 0x090,
    kRegPpr = 0x0a0,
    kRegEoi = 0x0b0,
    kRegRrd = 0x0c0,
    kRegLdr = 0x0d0,
    kRegDfr = 0x0e0,
    kRegSvr = 0x0f0,
    kRegIsr = 0x100,
    kRegTmr = 0x180,
    kRegIrr = 0x200,
    kRegEsr = 0x280,
    kRegIcrLow = 0x300,
    kRegIcrHigh = 0x310,
    kRegLvtTimer = 0x320,
    kRegLvtThermal = 0x330,
    kRegLvtPerf = 0x340,
    kRegLvtLint0 = 0x350,
    kRegLvtLint1 = 0x360,
    kRegLvtError = 0x370,
    kRegTimerInitial = 0x380,
    kRegTimerCurrent = 0x390,
    kRegTimerDivide = 0x3e0,
  };

  // ESR bits (SDM 11.5.3).
  static constexpr uint32_t kEsrSendIllegalVector = 1u << 5;
  static constexpr uint32_t kEsrReceiveIllegalVector = 1u << 6;
  static constexpr uint32_t kEsrIllegalRegister = 1u << 7;

  explicit LocalApic(LocalApicConfig config);

  // ---- wiring: set while the machine is built, before any thread uses the APIC ----
  void set_wake(std::function<void()> wake) { wake_ = std::move(wake); }
  void set_ipi_sender(std::function<void(const ApicMessage&)> send) { send_ipi_ = std::move(send); }
  void set_eoi_listener(std::function<void(uint8_t vector)> listener) { eoi_listener_ = std::move(listener); }
  void set_ext_int_source(ExtIntSource* source) { ext_int_ = source; }
  void set_tsc_reader(std::function<uint64_t()> read_tsc) { read_tsc_ = std::move(read_tsc); }

  // ---- emu::InterruptSource (the owning vCPU's thread) ----
  bool pending() override;
  uint8_t acknowledge() override;

  // ---- guest accesses (the owning vCPU's thread) ----
  // The 4 KiB register window; registers are 32 bits wide at 16-byte strides.
  uint64_t mmio_read(uint64_t offset, unsigned size);
  void mmio_write(uint64_t offset, unsigned size, uint64_t value);
  uint32_t read_register(uint32_t offset);
  void write_register(uint32_t offset, uint32_t value);
  // IA32_APIC_BASE (0x1b) and IA32_TSC_DEADLINE (0x6e0). false: #GP(0) (another MSR,
  // or a reserved bit set).
  bool read_msr(uint32_t index, uint64_t& value);
  bool write_msr(uint32_t index, uint64_t value);
  // CR8 is TPR[7:4] (SDM 10.8.6.1): MOV to/from CR8 uses these.
  uint8_t tpr();
  void set_tpr(uint8_t tpr);

  // ---- timer ----
  // When the timer next fires, on the now_ns clock; kNever when it is not armed.
  uint64_t next_deadline_ns();
  // Fires the timer if it expired by `now_ns` (periodic: reloads, missed periods
  // coalesce into one interrupt).
  void poll_timer(uint64_t now_ns);

  // ---- from the APIC bus (any thread) ----
  // A fixed or lowest-priority message accepted by this APIC: sets IRR (TMR per the
  // trigger mode) unless the APIC is disabled; vectors 0-15 are an error (ESR[6]).
  void accept_fixed(uint8_t vector, bool level_triggered);
  // Whether a message with this destination addresses this APIC (SDM 11.6.2).
  bool matches(uint8_t destination, bool logical);
  // INIT: every register back to its power-up value except the APIC id (SDM 11.4.7.3).
  void init_reset();
  // Power-up reset (IA32_APIC_BASE and the APIC id too).
  void reset();
  // The PIC's INTR rose: wakes the vCPU if ExtINT interrupts reach it. Takes no lock.
  void ext_int_raised();

  unsigned cpu_index() const { return cpu_index_; }
  uint8_t apic_id();

  // For tests and diagnostics.
  bool irr_bit(uint8_t vector);
  bool isr_bit(uint8_t vector);
  bool tmr_bit(uint8_t vector);

 private:
  enum Lvt : unsigned { kLvtTimer, kLvtThermal, kLvtPerf, kLvtLint0, kLvtLint1, kLvtError, kLvtCount };
  using VectorSet = std::array<uint32_t, 8>;

  bool hw_enabled() const;
  bool sw_enabled() const;
  uint8_t ppr() const;
  uint8_t apr() const;
  unsigned timer_mode() const;
  uint64_t divide() const;
  uint64_t counts_to_ns(uint64_t counts) const;
  uint32_t current_count(uint64_t now) const;
  void reset_registers();
  // Recomputes the lock-free summaries pending() reads. Called with mu_ held after
  // every change of IRR, ISR, TPR, SVR, LVT LINT0 or IA32_APIC_BASE.
  void update_summary();
  void set_irr(uint8_t vector, bool level_triggered);
  void record_error(uint32_t esr_bit);
  void write_lvt(unsigned lvt, uint32_t value);
  void write_svr(uint32_t value);
  void write_divide(uint32_t value);
  void write_initial_count(uint32_t value);
  void arm_tsc_deadline(uint64_t tsc_deadline);
  void disarm_timer();
  bool fire_timer(uint64_t now);  // true when an interrupt was raised
  // Prepares the message an ICR write sends; false when nothing is sent.
  bool icr_message(ApicMessage& m);
  uint64_t read_tsc();

  const unsigned cpu_index_;
  const uint64_t timer_hz_;
  const uint64_t tsc_hz_;
  std::function<uint64_t()> now_ns_;
  std::function<uint64_t()> read_tsc_;
  std::function<void()> wake_;
  std::function<void(const ApicMessage&)> send_ipi_;
  std::function<void(uint8_t)> eoi_listener_;
  ExtIntSource* ext_int_ = nullptr;

  std::mutex mu_;
  uint64_t apic_base_ = 0;
  uint8_t id_ = 0;
  uint8_t tpr_ = 0;
  uint32_t ldr_ = 0;
  uint32_t dfr_ = 0;
  uint32_t svr_ = 0;
  VectorSet isr_{};
  VectorSet tmr_{};
  VectorSet irr_{};
  uint32_t esr_ = 0;          // what ESR reads: the errors latched by the last ESR write
  uint32_t esr_pending_ = 0;  // errors since the last ESR write
  uint32_t icr_low_ = 0;
  uint32_t icr_high_ = 0;
  std::array<uint32_t, kLvtCount> lvt_{};
  uint32_t initial_count_ = 0;
  uint32_t divide_config_ = 0;
  uint64_t tsc_deadline_ = 0;  // IA32_TSC_DEADLINE while armed, else 0
  bool warned_base_ = false;

  // Lock-free summaries for pending(), written under mu_.
  std::atomic<bool> apic_deliverable_{false};  // an IRR vector beats PPR
  std::atomic<bool> ext_int_enabled_{false};   // the PIC's INTR reaches the CPU
  std::atomic<uint64_t> deadline_ns_{kNever};  // timer expiry on now_ns_, kNever: disarmed
  std::atomic<unsigned> timer_countdown_{1};   // pending() calls until the next clock read
};

}  // namespace vireo
