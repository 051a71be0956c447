// Pit8254: the PC's Intel 8254 programmable interval timer at ports 0x40-0x43
// (counters 0-2 and the control word register), clocked at 1.193182 MHz.
//
// Used by the emulator only (under KVM the in-kernel PIT serves these ports).
// Counter 0's OUT drives ISA IRQ 0; counter 2's GATE and OUT are reached through
// port 0x61 (devices/port61.h); counter 1 (DRAM refresh on old PCs) is a plain
// counter with its gate high.
//
// Counts are computed from elapsed time on an injectable clock, never by ticking:
// with e clock pulses since the count was loaded (or since the gate triggered it) and
// N the count, a counter reads N - e in modes 0, 1, 4 and 5 (wrapping past zero),
// N - (e mod N) in mode 2, and N - 2 * (e mod N/2) in mode 3 (8254 datasheet,
// "Operating modes"). The loading clock pulse is not modelled: a count is in the
// counting element from the moment it is written.
//
// Implemented: modes 0 (interrupt on terminal count), 2 (rate generator) and 3
// (square wave) with their gate behaviour; modes 1 and 5 (gate-triggered) and 4
// (software strobe); modes 6/7 as 2/3; lobyte, hibyte and lobyte-then-hibyte access;
// the counter latch command; the read-back command (0xC0-0xFF) with count and status
// latches; BCD counting (counts 0-9999; non-decimal digits written by the guest are
// taken at face value and reduced modulo 10000).
// Simplified: a count written to a running counter in modes 2 and 3 restarts it at
// once instead of at the end of the current period; in mode 3 an odd count reads as
// the even count below it. All counters are idle after reset (nothing happens on IRQ 0
// until the guest programs counter 0).
//
// Interrupts (the contract with the vCPU loop): counter 0's OUT is not sampled
// continuously. next_event_ns() gives the clock time of its next rising edge
// (UINT64_MAX when none will come: idle, one-shot already fired, gate low); a caller
// must call poll(now) once `now` has reached that time, and may call it at any other
// time (it does nothing then). poll() gives IRQ 0 one pulse for the edge that is due,
// however many periods passed since the last poll (a late vCPU gets one interrupt,
// not a flood), and schedules the first edge after `now`. next_event_ns() may move
// earlier whenever the guest programs counter 0; the deadline listener is called
// then (without the PIT's lock), so a vCPU sleeping in HLT can recompute its wakeup.
//
// Thread-safe: one lock; the IRQ 0 line is driven with it held.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <mutex>

#include "bus/io_device.h"
#include "bus/irq_line.h"

namespace vireo {

class IoBus;

class Pit8254 final : public IoDevice {
 public:
  static constexpr uint16_t kBasePort = 0x40;
  static constexpr uint64_t kPortCount = 4;   // counters 0-2, control word
  static constexpr uint64_t kInputHz = 1'193'182;
  static constexpr unsigned kCounters = 3;
  static constexpr uint64_t kNever = UINT64_MAX;

  // Monotonic time in nanoseconds (the vCPU loop passes the same clock to poll()).
  using Clock = std::function<uint64_t()>;

  // `irq0` (counter 0's output) must outlive the PIT. An empty `now_ns` uses the
  // host's steady clock.
  explicit Pit8254(IrqLine& irq0, Clock now_ns = {});

  // Registers ports 0x40-0x43. The PIT must outlive the bus's use of it.
  void attach_to(IoBus& pio);

  uint64_t io_read(uint64_t offset, unsigned size) override;
  void io_write(uint64_t offset, unsigned size, uint64_t value) override;

  // GATE input of `counter` (0-2; others are ignored). Counters 0 and 1 have their
  // gate tied high on a PC; counter 2's is port 0x61 bit 0 (low after reset).
  void set_gate(unsigned counter, bool level);
  // OUT of `counter` now (false for counters past 2).
  bool output(unsigned counter);

  // See the contract above.
  uint64_t next_event_ns();
  void poll(uint64_t now_ns);
  // Called (without the PIT's lock) when next_event_ns() may have moved earlier
  // because the guest programmed counter 0 or its gate. Set before vCPUs run.
  void set_deadline_listener(std::function<void()> listener);

  uint64_t now_ns() const { return now_(); }

 private:
  struct Counter {
    // Programming (control word).
    uint8_t mode = 0;     // M2-M0 as written (6 and 7 behave as 2 and 3)
    uint8_t access = 3;   // RW bits: 1 LSB, 2 MSB, 3 LSB then MSB
    bool bcd = false;
    // The count register (the last count written) and the count the counting element
    // started from: N, 1..65536 (1..10000 in BCD); a written 0 is the maximum.
    uint32_t reload = 0x10000;
    uint32_t active = 0x10000;
    bool loaded = false;   // a count has been written since the control word
    bool armed = false;    // counting: loaded, and (modes 1/5) triggered by the gate
    bool gate = true;
    bool null_count = true;
    // Elapsed clock pulses: base_ticks plus, while running, the pulses since start_ns.
    bool running = false;
    uint64_t start_ns = 0;
    uint64_t base_ticks = 0;
    // Register access state.
    bool write_msb_next = false;
    uint8_t write_lsb = 0;
    bool read_msb_next = false;
    bool count_latched = false;
    uint16_t latched_count = 0;
    bool latched_msb_next = false;
    bool status_latched = false;
    uint8_t latched_status = 0;
  };

  // All below run with mu_ held.
  uint64_t elapsed_ticks(const Counter& c, uint64_t now) const;
  uint32_t modulus(const Counter& c) const { return c.bcd ? 10000 : 0x10000; }
  uint32_t period(const Counter& c) const;  // N, at least 2 in modes 2 and 3
  uint16_t count_at(const Counter& c, uint64_t now) const;  // as the guest reads it (BCD-encoded)
  bool output_at(const Counter& c, uint64_t now) const;
  uint8_t status_at(const Counter& c, uint64_t now) const;
  // Tick (in the counter's elapsed-pulse scale) of the first rising edge after `after`,
  // or kNever.
  uint64_t next_edge_tick(const Counter& c, uint64_t after) const;
  void reschedule(uint64_t now);  // recomputes next_edge_ns_ for counter 0
  void start_counting(Counter& c, uint64_t now);
  void stop_counting(Counter& c, uint64_t now);
  void write_control(uint8_t value, uint64_t now);
  void read_back(uint8_t value, uint64_t now);
  void write_count(Counter& c, uint8_t value, uint64_t now);
  uint8_t read_count(Counter& c, uint64_t now);
  void set_gate_locked(Counter& c, bool level, uint64_t now);

  IrqLine& irq0_;
  Clock now_;
  std::function<void()> deadline_listener_;

  std::mutex mu_;
  std::array<Counter, kCounters> counters_;
  uint64_t next_edge_ns_ = kNever;
};

}  // namespace vireo
