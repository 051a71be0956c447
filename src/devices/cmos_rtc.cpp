#include "devices/cmos_rtc.h"

#include <algorithm>
#include <chrono>

#include "bus/io_bus.h"
#include "memory/guest_memory.h"

namespace vireo {
namespace {

using i128 = __int128;
constexpr int64_t kNsPerSecond = 1'000'000'000;
constexpr uint64_t kTicksPerSecond = 32768;  // the RTC's time base
constexpr int64_t kUpdateWarningNs = 244'000;  // UIP leads the update by t_BUC = 244 us
constexpr int64_t kFirstUpdateAfterDividerStartNs = 500'000'000;

// Register numbers (MC146818 datasheet, "Address map").
constexpr uint8_t kSeconds = 0x00, kSecondsAlarm = 0x01, kMinutes = 0x02, kMinutesAlarm = 0x03, kHours = 0x04,
                  kHoursAlarm = 0x05, kDayOfWeek = 0x06, kDayOfMonth = 0x07, kMonth = 0x08, kYear = 0x09,
                  kRegA = 0x0a, kRegB = 0x0b, kRegC = 0x0c, kRegD = 0x0d;

constexpr uint8_t kAUpdateInProgress = 0x80;
constexpr uint8_t kADividerMask = 0x70;
constexpr uint8_t kADividerNormal = 0x20;  // DV2-DV0 = 010: 32.768 kHz time base
constexpr uint8_t kARateMask = 0x0f;
constexpr uint8_t kBSet = 0x80, kBPeriodicIe = 0x40, kBAlarmIe = 0x20, kBUpdateIe = 0x10, kBBinary = 0x04,
                  kB24Hour = 0x02;
constexpr uint8_t kCIrqf = 0x80, kCPeriodic = 0x40, kCAlarm = 0x20, kCUpdate = 0x10;
constexpr uint8_t kDValidRam = 0x80;
constexpr uint8_t kHourPm = 0x80;
constexpr uint8_t kAlarmDontCare = 0xc0;

// PC BIOS CMOS layout (memory size and checksum).
constexpr uint8_t kBaseMemLow = 0x15, kExtMemLow = 0x17, kExtMemLow2 = 0x30, kMemAbove16MLow = 0x34,
                  kMemAbove4G = 0x5b, kChecksumHigh = 0x2e, kChecksumFirst = 0x10, kChecksumLast = 0x2d;
constexpr uint64_t kKiB = 1024, kMiB = 1024 * kKiB;

int64_t floor_div(i128 a, int64_t b) {
  i128 q = a / b;
  if ((a % b != 0) && ((a < 0) != (b < 0))) --q;
  return static_cast<int64_t>(q);
}
int64_t floor_mod(i128 a, int64_t b) { return static_cast<int64_t>(a - i128{floor_div(a, b)} * b); }

// Days since 1970-01-01 of a proleptic Gregorian date, and back. Years are shifted
// to start in March so the leap day ends the year; 400-year eras have 146097 days.
int64_t days_from_civil(int64_t y, int m, int d) {
  y -= m <= 2;
  const int64_t era = floor_div(y, 400);
  const int64_t year_of_era = y - era * 400;
  const int64_t day_of_year = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const int64_t day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
  return era * 146097 + day_of_era - 719468;
}

void civil_from_days(int64_t z, int64_t& y, int& m, int& d) {
  z += 719468;
  const int64_t era = floor_div(z, 146097);
  const int64_t day_of_era = z - era * 146097;
  const int64_t year_of_era =
      (day_of_era - day_of_era / 1460 + day_of_era / 36524 - day_of_era / 146096) / 365;
  const int64_t day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
  const int64_t mp = (5 * day_of_year + 2) / 153;
  d = static_cast<int>(day_of_year - (153 * mp + 2) / 5 + 1);
  m = static_cast<int>(mp < 10 ? mp + 3 : mp - 9);
  y = year_of_era + era * 400 + (m <= 2);
}

uint64_t host_steady_ns() {
  return static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
          .count());
}

int64_t host_wall_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

CmosRtc::CmosRtc(IrqLine& irq8, uint64_t ram_bytes, Clocks clocks)
    : irq_(irq8), mono_(std::move(clocks.monotonic_ns)), wall_(std::move(clocks.wall_ns)) {
  if (!mono_) mono_ = host_steady_ns;
  if (!wall_) wall_ = host_wall_ns;
  const uint64_t now = mono_();
  anchor_ns_ = static_cast<int64_t>(now) - floor_mod(wall_(), kNsPerSecond);
  last_advance_ns_ = now;
  fill_memory_size(ram_bytes);
}

void CmosRtc::attach_to(IoBus& pio) { pio.add(kBasePort, kPortCount, this, "cmos-rtc"); }

void CmosRtc::fill_memory_size(uint64_t ram_bytes) {
  const uint64_t low = std::min(ram_bytes, GuestMemory::kMmioHoleStart);
  const uint64_t high = ram_bytes - low;
  auto put16 = [this](uint8_t reg, uint64_t v) {
    cmos_[reg] = static_cast<uint8_t>(v);
    cmos_[reg + 1] = static_cast<uint8_t>(v >> 8);
  };
  put16(kBaseMemLow, 640);  // KiB of conventional memory
  const uint64_t extended_kib = low > kMiB ? std::min<uint64_t>((low - kMiB) / kKiB, 0xffff) : 0;
  put16(kExtMemLow, extended_kib);
  put16(kExtMemLow2, extended_kib);
  const uint64_t above_16m = low > 16 * kMiB ? std::min<uint64_t>((low - 16 * kMiB) / (64 * kKiB), 0xffff) : 0;
  put16(kMemAbove16MLow, above_16m);
  const uint64_t above_4g = std::min<uint64_t>(high / (64 * kKiB), 0xffffff);
  cmos_[kMemAbove4G] = static_cast<uint8_t>(above_4g);
  cmos_[kMemAbove4G + 1] = static_cast<uint8_t>(above_4g >> 8);
  cmos_[kMemAbove4G + 2] = static_cast<uint8_t>(above_4g >> 16);
  cmos_[0x14] = 0x02;  // equipment byte: math coprocessor present, no floppy
  unsigned sum = 0;
  for (unsigned i = kChecksumFirst; i <= kChecksumLast; ++i) sum += cmos_[i];
  cmos_[kChecksumHigh] = static_cast<uint8_t>(sum >> 8);
  cmos_[kChecksumHigh + 1] = static_cast<uint8_t>(sum);
}

void CmosRtc::set_deadline_listener(std::function<void()> listener) {
  std::lock_guard<std::mutex> lock(mu_);
  deadline_listener_ = std::move(listener);
}

// --- time keeping -------------------------------------------------------------------------

bool CmosRtc::divider_running() const { return (reg_a_ & kADividerMask) == kADividerNormal; }
bool CmosRtc::frozen() const { return (reg_b_ & kBSet) || !divider_running(); }

i128 CmosRtc::rtc_now_ns() const { return i128{wall_()} + offset_ns_; }

CmosRtc::DateTime CmosRtc::current_time() const {
  if (frozen()) return held_;
  const i128 ns = rtc_now_ns();
  int64_t seconds = floor_div(ns, kNsPerSecond);
  // The registers hold years 0-9999.
  const int64_t min_s = days_from_civil(0, 1, 1) * 86400, max_s = days_from_civil(9999, 12, 31) * 86400 + 86399;
  seconds = std::clamp(seconds, min_s, max_s);
  DateTime t{};
  const int64_t days = floor_div(seconds, 86400);
  const int64_t in_day = seconds - days * 86400;
  civil_from_days(days, t.year, t.month, t.day);
  t.hour = static_cast<int>(in_day / 3600);
  t.minute = static_cast<int>(in_day / 60 % 60);
  t.second = static_cast<int>(in_day % 60);
  return t;
}

void CmosRtc::set_running_time(const DateTime& t, int64_t fraction_ns) {
  const int64_t seconds = days_from_civil(t.year, t.month, t.day) * 86400 + t.hour * 3600 + t.minute * 60 + t.second;
  offset_ns_ = i128{seconds} * kNsPerSecond + fraction_ns - wall_();
}

void CmosRtc::unfreeze(int64_t fraction_ns, uint64_t now) {
  // The held time resumes with `fraction_ns` of its second already gone; updates
  // fall on the second boundaries from here.
  set_running_time(held_, fraction_ns);
  anchor_ns_ = static_cast<int64_t>(now) - fraction_ns;
  last_advance_ns_ = now;
}

uint8_t CmosRtc::encode(int value) const {
  if (reg_b_ & kBBinary) return static_cast<uint8_t>(value);
  return static_cast<uint8_t>(((value / 10 % 10) << 4) | (value % 10));
}

int CmosRtc::decode(uint8_t value) const {
  if (reg_b_ & kBBinary) return value;
  return (value >> 4) * 10 + (value & 0xf);  // non-decimal digits are taken at face value
}

uint8_t CmosRtc::read_time_register(uint8_t reg) const {
  const DateTime t = current_time();
  switch (reg) {
    case kSeconds: return encode(t.second);
    case kMinutes: return encode(t.minute);
    case kHours: {
      if (reg_b_ & kB24Hour) return encode(t.hour);
      const int h12 = t.hour % 12 == 0 ? 12 : t.hour % 12;
      return static_cast<uint8_t>(encode(h12) | (t.hour >= 12 ? kHourPm : 0));
    }
    case kDayOfWeek:  // 1 = Sunday; 1970-01-01 was a Thursday
      return encode(static_cast<int>(floor_mod(days_from_civil(t.year, t.month, t.day) + 4, 7)) + 1);
    case kDayOfMonth: return encode(t.day);
    case kMonth: return encode(t.month);
    case kYear: return encode(static_cast<int>(t.year % 100));
    case kCenturyRegister: return encode(static_cast<int>(t.year / 100));
    default: return 0xff;
  }
}

void CmosRtc::write_time_register(uint8_t reg, uint8_t value) {
  DateTime t = current_time();
  const int64_t fraction = frozen() ? 0 : floor_mod(rtc_now_ns(), kNsPerSecond);
  switch (reg) {
    case kSeconds: t.second = std::clamp(decode(value), 0, 59); break;
    case kMinutes: t.minute = std::clamp(decode(value), 0, 59); break;
    case kHours:
      if (reg_b_ & kB24Hour) {
        t.hour = std::clamp(decode(value), 0, 23);
      } else {
        const int h12 = std::clamp(decode(value & 0x7f), 1, 12);
        t.hour = h12 % 12 + ((value & kHourPm) ? 12 : 0);
      }
      break;
    case kDayOfMonth: t.day = std::clamp(decode(value), 1, 31); break;
    case kMonth: t.month = std::clamp(decode(value), 1, 12); break;
    case kYear: t.year = t.year / 100 * 100 + std::clamp(decode(value), 0, 99); break;
    case kCenturyRegister: t.year = std::clamp(decode(value), 0, 99) * 100 + t.year % 100; break;
    default: return;  // day of week: derived from the date
  }
  if (frozen()) held_ = t;
  else set_running_time(t, fraction);
}

// --- update cycle, periodic and alarm flags --------------------------------------------

uint64_t CmosRtc::periodic_ticks() const {
  // Register A RS3-RS0 (MC146818 datasheet, "Periodic interrupt rate"): 0 off;
  // 1 and 2 repeat rates 8 and 9 (256 and 128 Hz); n >= 3 is 65536 >> n Hz.
  const unsigned rs = reg_a_ & kARateMask;
  if (rs == 0) return 0;
  if (rs <= 2) return uint64_t{1} << (rs + 6);
  return uint64_t{1} << (rs - 1);
}

uint64_t CmosRtc::next_grid_point(uint64_t t, uint64_t ticks) const {
  const i128 spacing_num = i128{ticks} * kNsPerSecond;  // spacing = spacing_num / 32768 ns
  const i128 d = i128{static_cast<int64_t>(t)} - anchor_ns_;
  int64_t k = floor_div(d * kTicksPerSecond, static_cast<int64_t>(spacing_num)) + 1;
  for (;;) {
    const i128 at = i128{anchor_ns_} + (i128{k} * spacing_num + kTicksPerSecond - 1) / kTicksPerSecond;
    if (at > d + anchor_ns_) return at < 0 ? 0 : static_cast<uint64_t>(at);
    ++k;
  }
}

bool CmosRtc::alarm_matches() const {
  static constexpr uint8_t kPairs[3][2] = {{kSecondsAlarm, kSeconds}, {kMinutesAlarm, kMinutes}, {kHoursAlarm, kHours}};
  for (const auto& pair : kPairs) {
    const uint8_t alarm = cmos_[pair[0]];
    if ((alarm & kAlarmDontCare) == kAlarmDontCare) continue;
    if (alarm != read_time_register(pair[1])) return false;
  }
  return true;
}

void CmosRtc::advance(uint64_t now) {
  if (now <= last_advance_ns_) return;
  if (divider_running()) {
    // PF and UF are set whatever PIE and UIE say (datasheet, register C).
    if (!(reg_b_ & kBSet) && next_grid_point(last_advance_ns_, kTicksPerSecond) <= now) {
      flags_ |= kCUpdate;
      if (alarm_matches()) flags_ |= kCAlarm;
    }
    const uint64_t period = periodic_ticks();
    if (period != 0 && next_grid_point(last_advance_ns_, period) <= now) flags_ |= kCPeriodic;
  }
  last_advance_ns_ = now;
}

uint8_t CmosRtc::irq_flags() const {
  uint8_t c = flags_;
  const uint8_t enabled = static_cast<uint8_t>(reg_b_ & (kBPeriodicIe | kBAlarmIe | kBUpdateIe));
  // IRQF = PF.PIE + AF.AIE + UF.UIE: the enable bits sit at the same positions.
  if (flags_ & enabled) c |= kCIrqf;
  return c;
}

void CmosRtc::update_irq() {
  const bool level = irq_flags() & kCIrqf;
  if (level != irq_level_) {
    irq_level_ = level;
    irq_.set_level(level);
  }
}

uint64_t CmosRtc::next_event_locked() const {
  if (irq_level_ || !divider_running()) return kNever;  // the line cannot rise again before C is read
  uint64_t next = kNever;
  if ((reg_b_ & (kBUpdateIe | kBAlarmIe)) && !(reg_b_ & kBSet))
    next = std::min(next, next_grid_point(last_advance_ns_, kTicksPerSecond));
  const uint64_t period = periodic_ticks();
  if ((reg_b_ & kBPeriodicIe) && period != 0) next = std::min(next, next_grid_point(last_advance_ns_, period));
  return next;
}

// --- registers ---------------------------------------------------------------------------

uint8_t CmosRtc::read_register(uint8_t reg, uint64_t now) {
  switch (reg) {
    case kSeconds:
    case kMinutes:
    case kHours:
    case kDayOfWeek:
    case kDayOfMonth:
    case kMonth:
    case kYear:
    case kCenturyRegister:
      return read_time_register(reg);
    case kRegA: {
      uint8_t a = reg_a_;
      if (divider_running() && !(reg_b_ & kBSet) &&
          static_cast<int64_t>(next_grid_point(now, kTicksPerSecond) - now) <= kUpdateWarningNs)
        a |= kAUpdateInProgress;
      return a;
    }
    case kRegB: return reg_b_;
    case kRegC: {
      const uint8_t c = irq_flags();
      flags_ = 0;  // reading C clears every flag and releases the IRQ line
      update_irq();
      return c;
    }
    case kRegD: return kDValidRam;
    default: return cmos_[reg];
  }
}

void CmosRtc::write_register(uint8_t reg, uint8_t value, uint64_t now) {
  switch (reg) {
    case kSeconds:
    case kMinutes:
    case kHours:
    case kDayOfWeek:
    case kDayOfMonth:
    case kMonth:
    case kYear:
    case kCenturyRegister:
      write_time_register(reg, value);
      return;
    case kRegA:
    case kRegB: {
      const bool was_frozen = frozen();
      const bool was_running = divider_running();
      const DateTime time_before = current_time();
      if (reg == kRegA) {
        reg_a_ = value & ~kAUpdateInProgress;  // UIP is read-only
      } else {
        reg_b_ = value;
        if (value & kBSet) reg_b_ &= ~kBUpdateIe;  // SET clears UIE
      }
      if (!was_frozen && frozen()) {
        held_ = time_before;
      } else if (was_frozen && !frozen()) {
        unfreeze(was_running ? 0 : kNsPerSecond - kFirstUpdateAfterDividerStartNs, now);
      } else if (!was_running && divider_running()) {
        // The divider restarted while SET holds the time: its phase starts over.
        anchor_ns_ = static_cast<int64_t>(now) - kNsPerSecond + kFirstUpdateAfterDividerStartNs;
        last_advance_ns_ = now;
      }
      update_irq();
      return;
    }
    case kRegC:
    case kRegD:
      return;  // read-only
    default:
      cmos_[reg] = value;
      return;
  }
}

uint64_t CmosRtc::io_read(uint64_t offset, unsigned size) {
  std::lock_guard<std::mutex> lock(mu_);
  const uint64_t now = mono_();
  advance(now);
  update_irq();
  uint64_t value = 0;
  for (unsigned i = 0; i < size && i < 8; ++i) {
    uint8_t byte = 0xff;  // the index port is write-only
    if (offset + i == 1) byte = read_register(index_, now);
    value |= uint64_t{byte} << (8 * i);
  }
  return value;
}

void CmosRtc::io_write(uint64_t offset, unsigned size, uint64_t value) {
  bool earlier;
  {
    std::lock_guard<std::mutex> lock(mu_);
    const uint64_t now = mono_();
    advance(now);
    const uint64_t before = next_event_locked();
    for (unsigned i = 0; i < size && i < 8; ++i) {
      const uint8_t byte = static_cast<uint8_t>(value >> (8 * i));
      if (offset + i == 0) {
        index_ = byte & 0x7f;  // bit 7 is the NMI mask, not part of the address
        nmi_disabled_ = byte & 0x80;
      } else if (offset + i == 1) {
        write_register(index_, byte, now);
      }
    }
    update_irq();
    earlier = next_event_locked() < before;
  }
  if (earlier && deadline_listener_) deadline_listener_();
}

bool CmosRtc::nmi_disabled() {
  std::lock_guard<std::mutex> lock(mu_);
  return nmi_disabled_;
}

uint64_t CmosRtc::next_event_ns() {
  std::lock_guard<std::mutex> lock(mu_);
  return next_event_locked();
}

void CmosRtc::poll(uint64_t now_ns) {
  std::lock_guard<std::mutex> lock(mu_);
  advance(now_ns);
  update_irq();
}

}  // namespace vireo
