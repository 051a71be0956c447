#include "devices/pit8254.h"

#include <chrono>

#include "bus/io_bus.h"

namespace vireo {
namespace {

using u128 = unsigned __int128;
constexpr uint64_t kNsPerSecond = 1'000'000'000;

// Control word (8254 datasheet, "Control word format"): SC1 SC0 RW1 RW0 M2 M1 M0 BCD.
constexpr unsigned kSelectReadBack = 3;
constexpr unsigned kAccessLatch = 0;
constexpr unsigned kAccessLsb = 1;
constexpr unsigned kAccessMsb = 2;
constexpr unsigned kAccessLsbMsb = 3;
// Read-back command: 1 1 /COUNT /STATUS CNT2 CNT1 CNT0 0.
constexpr uint8_t kReadBackNoCount = 0x20;
constexpr uint8_t kReadBackNoStatus = 0x10;
// Status byte: OUTPUT NULL-COUNT RW1 RW0 M2 M1 M0 BCD.
constexpr uint8_t kStatusOutput = 0x80;
constexpr uint8_t kStatusNullCount = 0x40;

constexpr unsigned kControlPort = 3;

uint64_t host_steady_ns() {
  return static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
          .count());
}

// Clock pulses in `ns` nanoseconds (whole pulses completed).
uint64_t ticks_in(uint64_t ns) { return static_cast<uint64_t>(u128{ns} * Pit8254::kInputHz / kNsPerSecond); }

// Nanoseconds until `ticks` pulses have completed (rounded up), saturating.
uint64_t ns_for(uint64_t ticks) {
  u128 ns = (u128{ticks} * kNsPerSecond + Pit8254::kInputHz - 1) / Pit8254::kInputHz;
  return ns > Pit8254::kNever ? Pit8254::kNever : static_cast<uint64_t>(ns);
}

uint32_t from_bcd(uint32_t v) {
  return (v & 0xf) + ((v >> 4) & 0xf) * 10 + ((v >> 8) & 0xf) * 100 + ((v >> 12) & 0xf) * 1000;
}

uint16_t to_bcd(uint32_t v) {
  return static_cast<uint16_t>((v % 10) | ((v / 10 % 10) << 4) | ((v / 100 % 10) << 8) | ((v / 1000 % 10) << 12));
}

unsigned effective_mode(unsigned mode) { return mode >= 6 ? mode - 4 : mode; }  // modes 6/7 are 2/3

}  // namespace

Pit8254::Pit8254(IrqLine& irq0, Clock now_ns) : irq0_(irq0), now_(std::move(now_ns)) {
  if (!now_) now_ = host_steady_ns;
  counters_[2].gate = false;  // port 0x61 bit 0 is clear after reset
}

void Pit8254::attach_to(IoBus& pio) { pio.add(kBasePort, kPortCount, this, "pit"); }

void Pit8254::set_deadline_listener(std::function<void()> listener) {
  std::lock_guard<std::mutex> lock(mu_);
  deadline_listener_ = std::move(listener);
}

// --- the counting model ----------------------------------------------------------------

uint64_t Pit8254::elapsed_ticks(const Counter& c, uint64_t now) const {
  uint64_t ticks = c.base_ticks;
  if (c.running && now > c.start_ns) ticks += ticks_in(now - c.start_ns);
  return ticks;
}

uint32_t Pit8254::period(const Counter& c) const {
  // A count of 1 is illegal in modes 2 and 3 (datasheet); treat it as 2.
  unsigned mode = effective_mode(c.mode);
  if ((mode == 2 || mode == 3) && c.active < 2) return 2;
  return c.active;
}

uint16_t Pit8254::count_at(const Counter& c, uint64_t now) const {
  const uint32_t mod = modulus(c);
  uint32_t value;
  if (!c.armed) {
    value = c.reload % mod;
  } else {
    const uint64_t e = elapsed_ticks(c, now);
    const uint32_t n = period(c);
    switch (effective_mode(c.mode)) {
      case 2:
        // Counts N, N-1, ..., 1, then reloads (datasheet, "Mode 2").
        value = n - static_cast<uint32_t>(e % n);
        break;
      case 3: {
        // Decrements by two through each half period; OUT high for the first
        // ceil(N/2) pulses (datasheet, "Mode 3").
        const uint32_t even = n & ~1u;
        const uint32_t high = (n + 1) / 2;
        uint32_t phase = static_cast<uint32_t>(e % n);
        if (phase >= high) phase -= high;
        if (phase > even / 2 - 1) phase = even / 2 - 1;
        value = even - 2 * phase;
        break;
      }
      default:
        // Modes 0, 1, 4, 5: counts down from N and keeps wrapping after zero.
        value = static_cast<uint32_t>((c.active + mod - e % mod) % mod);
        break;
    }
    value %= mod;
  }
  return c.bcd ? to_bcd(value) : static_cast<uint16_t>(value);
}

bool Pit8254::output_at(const Counter& c, uint64_t now) const {
  const unsigned mode = effective_mode(c.mode);
  // After the control word OUT is low in mode 0 and high in every other mode
  // (datasheet, "Operating modes").
  if (!c.loaded) return mode != 0;
  if (!c.armed) return true;  // modes 1 and 5 waiting for their trigger
  const uint64_t e = elapsed_ticks(c, now);
  const uint32_t n = period(c);
  switch (mode) {
    case 0:
    case 1:
      return e >= c.active;  // high from terminal count on
    case 2:
      if (!c.gate) return true;
      return e % n != n - 1;  // low for the pulse with count 1
    case 3:
      if (!c.gate) return true;
      return e % n < (n + 1) / 2;
    default:  // 4, 5: one low pulse after terminal count
      return e != c.active;
  }
}

uint8_t Pit8254::status_at(const Counter& c, uint64_t now) const {
  uint8_t status = static_cast<uint8_t>((c.access << 4) | (c.mode << 1) | (c.bcd ? 1 : 0));
  if (output_at(c, now)) status |= kStatusOutput;
  if (c.null_count) status |= kStatusNullCount;
  return status;
}

uint64_t Pit8254::next_edge_tick(const Counter& c, uint64_t after) const {
  if (!c.armed || !c.running) return kNever;
  switch (effective_mode(c.mode)) {
    case 0:
    case 1:
      return c.active > after ? c.active : kNever;
    case 2:
    case 3: {
      const uint64_t n = period(c);
      return (after / n + 1) * n;  // OUT rises as each period starts again
    }
    default:  // 4, 5: OUT rises again one pulse after terminal count
      return uint64_t{c.active} + 1 > after ? uint64_t{c.active} + 1 : kNever;
  }
}

void Pit8254::reschedule(uint64_t now) {
  const Counter& c = counters_[0];
  const uint64_t edge = next_edge_tick(c, elapsed_ticks(c, now));
  if (edge == kNever) {
    next_edge_ns_ = kNever;
    return;
  }
  const uint64_t delta = ns_for(edge - c.base_ticks);
  next_edge_ns_ = delta > kNever - c.start_ns ? kNever : c.start_ns + delta;
}

void Pit8254::start_counting(Counter& c, uint64_t now) {
  c.active = c.reload;
  c.armed = true;
  c.null_count = false;  // the count moved into the counting element
  c.base_ticks = 0;
  c.start_ns = now;
  c.running = c.gate || effective_mode(c.mode) == 1 || effective_mode(c.mode) == 5;
}

void Pit8254::stop_counting(Counter& c, uint64_t now) {
  c.base_ticks = elapsed_ticks(c, now);
  c.running = false;
}

void Pit8254::set_gate_locked(Counter& c, bool level, uint64_t now) {
  if (level == c.gate) return;
  c.gate = level;
  switch (effective_mode(c.mode)) {
    case 0:
    case 4:
      // GATE low suspends counting; high resumes it.
      if (!c.armed) return;
      if (level) {
        c.start_ns = now;
        c.running = true;
      } else {
        stop_counting(c, now);
      }
      return;
    case 1:
    case 5:
      // A rising edge (re)triggers: the count is loaded and counting starts.
      if (level && c.loaded) start_counting(c, now);
      return;
    default:
      // Modes 2 and 3: GATE low stops counting and forces OUT high; a rising edge
      // reloads the count and starts a new period.
      if (!c.loaded) return;
      if (level) start_counting(c, now);
      else stop_counting(c, now);
      return;
  }
}

// --- registers ---------------------------------------------------------------------------

void Pit8254::write_control(uint8_t value, uint64_t now) {
  const unsigned select = value >> 6;
  if (select == kSelectReadBack) {
    read_back(value, now);
    return;
  }
  Counter& c = counters_[select];
  const unsigned access = (value >> 4) & 3;
  if (access == kAccessLatch) {
    // Counter latch command: a second latch before the count is read is ignored.
    if (!c.count_latched) {
      c.latched_count = count_at(c, now);
      c.count_latched = true;
      c.latched_msb_next = false;
    }
    return;
  }
  // A control word resets the counter's control logic; counting waits for a count.
  c.mode = (value >> 1) & 7;
  c.access = static_cast<uint8_t>(access);
  c.bcd = value & 1;
  c.loaded = false;
  c.armed = false;
  c.running = false;
  c.base_ticks = 0;
  c.null_count = true;
  c.write_msb_next = false;
  c.read_msb_next = false;
  c.count_latched = false;
  c.status_latched = false;
}

void Pit8254::read_back(uint8_t value, uint64_t now) {
  for (unsigned i = 0; i < kCounters; ++i) {
    if (!(value & (2u << i))) continue;
    Counter& c = counters_[i];
    if (!(value & kReadBackNoCount) && !c.count_latched) {
      c.latched_count = count_at(c, now);
      c.count_latched = true;
      c.latched_msb_next = false;
    }
    if (!(value & kReadBackNoStatus) && !c.status_latched) {
      c.latched_status = status_at(c, now);
      c.status_latched = true;
    }
  }
}

void Pit8254::write_count(Counter& c, uint8_t value, uint64_t now) {
  uint32_t raw;
  switch (c.access) {
    case kAccessLsb: raw = value; break;
    case kAccessMsb: raw = uint32_t{value} << 8; break;
    default:
      if (!c.write_msb_next) {
        c.write_lsb = value;
        c.write_msb_next = true;
        // Mode 0: writing the first byte stops counting and OUT goes low.
        if (effective_mode(c.mode) == 0) {
          c.loaded = false;
          c.armed = false;
          c.running = false;
        }
        return;
      }
      c.write_msb_next = false;
      raw = c.write_lsb | (uint32_t{value} << 8);
      break;
  }
  uint32_t n = c.bcd ? from_bcd(raw) % 10000 : raw;
  if (n == 0) n = modulus(c);  // 0 is the largest count: 2^16, or 10^4 in BCD
  c.reload = n;
  c.loaded = true;
  c.null_count = true;
  switch (effective_mode(c.mode)) {
    case 1:
    case 5:
      // Loaded on the next gate trigger; a counter already triggered keeps counting.
      return;
    default:
      start_counting(c, now);
      return;
  }
}

uint8_t Pit8254::read_count(Counter& c, uint64_t now) {
  if (c.status_latched) {
    c.status_latched = false;
    return c.latched_status;
  }
  uint16_t count;
  bool msb;
  if (c.count_latched) {
    count = c.latched_count;
    if (c.access == kAccessLsbMsb && !c.latched_msb_next) {
      msb = false;
      c.latched_msb_next = true;
    } else {
      msb = c.access == kAccessMsb || c.access == kAccessLsbMsb;
      c.count_latched = false;
    }
  } else {
    count = count_at(c, now);
    if (c.access == kAccessLsbMsb) {
      msb = c.read_msb_next;
      c.read_msb_next = !c.read_msb_next;
    } else {
      msb = c.access == kAccessMsb;
    }
  }
  return static_cast<uint8_t>(msb ? count >> 8 : count);
}

uint64_t Pit8254::io_read(uint64_t offset, unsigned size) {
  std::lock_guard<std::mutex> lock(mu_);
  const uint64_t now = now_();
  uint64_t value = 0;
  for (unsigned i = 0; i < size && i < 8; ++i) {
    uint64_t port = offset + i;
    uint8_t byte = 0xff;  // the control word register cannot be read
    if (port < kCounters) byte = read_count(counters_[port], now);
    value |= uint64_t{byte} << (8 * i);
  }
  return value;
}

void Pit8254::io_write(uint64_t offset, unsigned size, uint64_t value) {
  bool earlier;
  {
    std::lock_guard<std::mutex> lock(mu_);
    const uint64_t now = now_();
    const uint64_t before = next_edge_ns_;
    for (unsigned i = 0; i < size && i < 8; ++i) {
      uint64_t port = offset + i;
      uint8_t byte = static_cast<uint8_t>(value >> (8 * i));
      if (port == kControlPort) write_control(byte, now);
      else if (port < kCounters) write_count(counters_[port], byte, now);
    }
    reschedule(now);
    earlier = next_edge_ns_ < before;
  }
  if (earlier && deadline_listener_) deadline_listener_();
}

void Pit8254::set_gate(unsigned counter, bool level) {
  if (counter >= kCounters) return;
  bool earlier;
  {
    std::lock_guard<std::mutex> lock(mu_);
    const uint64_t now = now_();
    const uint64_t before = next_edge_ns_;
    set_gate_locked(counters_[counter], level, now);
    reschedule(now);
    earlier = next_edge_ns_ < before;
  }
  if (earlier && deadline_listener_) deadline_listener_();
}

bool Pit8254::output(unsigned counter) {
  if (counter >= kCounters) return false;
  std::lock_guard<std::mutex> lock(mu_);
  return output_at(counters_[counter], now_());
}

uint64_t Pit8254::next_event_ns() {
  std::lock_guard<std::mutex> lock(mu_);
  return next_edge_ns_;
}

void Pit8254::poll(uint64_t now_ns) {
  std::lock_guard<std::mutex> lock(mu_);
  if (next_edge_ns_ == kNever || now_ns < next_edge_ns_) return;
  // One edge however many periods passed; the next one is the first after now.
  irq0_.pulse();
  reschedule(now_ns);
}

}  // namespace vireo
