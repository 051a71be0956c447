// CmosRtc: the PC's MC146818-compatible real-time clock and its 128 bytes of CMOS
// RAM, at ports 0x70 (index; bit 7 disables NMI) and 0x71 (data).
//
// Time of day (registers 0x00-0x09 and the century at 0x32) is the host's wall clock
// (UTC) at the moment of the read, plus an offset the guest sets by writing the time.
// Register B selects binary or BCD (DM, bit 2) and 24- or 12-hour format (bit 1; in
// 12-hour format bit 7 of the hours is PM). With B.SET (bit 7) the time is frozen and
// guest writes go to the frozen copy; clearing SET resumes counting from that time,
// and a new second starts then. Time registers written while SET is clear change the
// running time. The day of week is always derived from the date (writes are ignored).
// Setting SET clears B.UIE (MC146818 datasheet, register B).
//
// Register A: the divider bits 6:4 must be 010 (32.768 kHz time base) for the clock
// to run; any other value stops it (time frozen, no updates, no periodic flag), and
// the first update after it starts again comes 500 ms later. RS3-RS0 select the
// periodic rate. UIP (bit 7) reads 1 during the 244 us before each update.
// Register C: IRQF, PF, AF, UF; a read returns and clears them. Register D: VRT = 1.
//
// Interrupts on ISA IRQ 8: the line is held asserted while IRQF is set (PF.PIE +
// AF.AIE + UF.UIE) and released when register C is read. Flags are brought up to
// date on every register access and by poll(); periodic and update events lie on a
// grid anchored at an RTC second boundary of the monotonic clock. The alarm
// (registers 1, 3, 5, "don't care" from 0xC0) is compared at each update; updates
// skipped by a late poll are not compared one by one.
//
// The poll/next_event contract is the PIT's (devices/pit8254.h): next_event_ns() is
// the monotonic time at which the IRQ line may next rise (UINT64_MAX when no enabled
// interrupt can come, also while IRQF is still set), poll(now) must be called once
// `now` has reached it and is harmless at any other time, and the deadline listener
// is called when a register write moves it earlier.
//
// CMOS RAM also carries what a PC BIOS would put there for memory size: base memory
// (0x15/0x16, 640 KiB), extended memory above 1 MiB in KiB (0x17/0x18 and 0x30/0x31,
// at most 0xFFFF), memory above 16 MiB below 4 GiB in 64 KiB units (0x34/0x35), memory
// above 4 GiB in 64 KiB units (0x5B-0x5D), with the standard checksum over
// 0x10-0x2D at 0x2E/0x2F. Other bytes are free RAM for the guest.
//
// Thread-safe: one lock; the IRQ line is driven with it held.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <mutex>

#include "bus/io_device.h"
#include "bus/irq_line.h"

namespace vireo {

class IoBus;

class CmosRtc final : public IoDevice {
 public:
  static constexpr uint16_t kBasePort = 0x70;
  static constexpr uint64_t kPortCount = 2;  // index, data
  static constexpr unsigned kSize = 128;
  static constexpr uint8_t kCenturyRegister = 0x32;
  static constexpr uint64_t kNever = UINT64_MAX;

  struct Clocks {
    // Monotonic nanoseconds (the clock the vCPU loop passes to poll()); empty: the
    // host's steady clock.
    std::function<uint64_t()> monotonic_ns;
    // UTC nanoseconds since the Unix epoch; empty: the host's system clock.
    std::function<int64_t()> wall_ns;
  };

  // `irq8` must outlive the device. `ram_bytes` is the guest's RAM size, split into
  // low and high RAM as GuestMemory does (the hole from 3 GiB to 4 GiB).
  CmosRtc(IrqLine& irq8, uint64_t ram_bytes, Clocks clocks = {});

  // Registers ports 0x70-0x71.
  void attach_to(IoBus& pio);

  uint64_t io_read(uint64_t offset, unsigned size) override;
  void io_write(uint64_t offset, unsigned size, uint64_t value) override;

  // The NMI-disable bit last written to port 0x70 (bit 7).
  bool nmi_disabled();

  uint64_t next_event_ns();
  void poll(uint64_t now_ns);
  void set_deadline_listener(std::function<void()> listener);

 private:
  struct DateTime {
    int64_t year;  // 0-9999
    int month;     // 1-12
    int day;       // 1-31
    int hour;      // 0-23
    int minute;
    int second;
  };

  // All below run with mu_ held.
  bool divider_running() const;
  bool frozen() const;  // SET, or the divider stopped: time does not advance
  DateTime current_time() const;
  __int128 rtc_now_ns() const;  // while running
  void set_running_time(const DateTime& t, int64_t fraction_ns);
  void unfreeze(int64_t fraction_ns, uint64_t now);
  uint8_t encode(int value) const;
  int decode(uint8_t value) const;
  uint8_t read_time_register(uint8_t reg) const;
  void write_time_register(uint8_t reg, uint8_t value);
  uint8_t read_register(uint8_t reg, uint64_t now);
  void write_register(uint8_t reg, uint8_t value, uint64_t now);
  uint64_t periodic_ticks() const;  // period in 32.768 kHz ticks, 0 = off
  // The first grid point after `t` of a grid with spacing ticks/32768 s at anchor_ns_.
  uint64_t next_grid_point(uint64_t t, uint64_t ticks_32k) const;
  void advance(uint64_t now);
  bool alarm_matches() const;
  uint8_t irq_flags() const;  // register C with IRQF computed
  void update_irq();
  uint64_t next_event_locked() const;
  void fill_memory_size(uint64_t ram_bytes);

  IrqLine& irq_;
  std::function<uint64_t()> mono_;
  std::function<int64_t()> wall_;
  std::function<void()> deadline_listener_;

  std::mutex mu_;
  std::array<uint8_t, kSize> cmos_{};
  uint8_t index_ = 0;
  bool nmi_disabled_ = false;
  uint8_t reg_a_ = 0x26;  // 32.768 kHz time base, 1024 Hz periodic rate
  uint8_t reg_b_ = 0x02;  // 24-hour, BCD
  uint8_t flags_ = 0;     // register C: PF, AF, UF
  __int128 offset_ns_ = 0;  // RTC time = wall clock + offset (years 0-9999 exceed int64 ns)
  DateTime held_{};       // the time while frozen
  int64_t anchor_ns_ = 0; // monotonic time of an RTC second boundary
  uint64_t last_advance_ns_ = 0;
  bool irq_level_ = false;
};

}  // namespace vireo
