// IoBus: maps address ranges (I/O ports or guest-physical MMIO) to devices.
//
// Ranges are registered while the VM is built and never change while vCPUs run, so
// lookups take no lock. Accesses nobody claims behave as on a PC: reads return all
// ones, writes are dropped; with tracing on, each unclaimed address is logged once.
#pragma once

#include <cstdint>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "bus/io_device.h"

namespace vireo {

class IoBus {
 public:
  explicit IoBus(std::string name) : name_(std::move(name)) {}

  // Registers [base, base+length) to `device` (not owned). Throws vireo::Error on overlap.
  void add(uint64_t base, uint64_t length, IoDevice* device, std::string device_name);

  // Dispatch an access. Return true when a device claimed it. An unclaimed read
  // yields all ones for `size` bytes.
  bool read(uint64_t addr, unsigned size, uint64_t& value);
  bool write(uint64_t addr, unsigned size, uint64_t value);

  // Byte-buffer forms used by accelerators (KVM hands over byte arrays). Accesses
  // wider than 8 bytes are split into 8-byte pieces.
  bool read_bytes(uint64_t addr, uint8_t* data, unsigned size);
  bool write_bytes(uint64_t addr, const uint8_t* data, unsigned size);

  void set_trace_unclaimed(bool on) { trace_unclaimed_ = on; }

  struct Range {
    uint64_t base;
    uint64_t length;
    IoDevice* device;
    std::string name;
  };
  const Range* find(uint64_t addr) const;
  const std::vector<Range>& ranges() const { return ranges_; }

 private:
  void note_unclaimed(const char* kind, uint64_t addr, unsigned size, uint64_t value);

  std::string name_;
  std::vector<Range> ranges_;  // sorted by base, non-overlapping
  bool trace_unclaimed_ = false;
  std::mutex trace_mu_;
  std::set<uint64_t> traced_;
};

}  // namespace vireo
