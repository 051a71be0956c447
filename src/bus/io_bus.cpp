#include "bus/io_bus.h"

#include <algorithm>
#include <cstring>

#include "base/error.h"
#include "base/log.h"

namespace vireo {

void IoBus::add(uint64_t base, uint64_t length, IoDevice* device, std::string device_name) {
  if (length == 0 || base + length < base) fail("{} bus: bad range for {}", name_, device_name);
  for (const Range& r : ranges_) {
    if (base < r.base + r.length && r.base < base + length) {
      fail("{} bus: {} at {:#x}+{:#x} overlaps {} at {:#x}+{:#x}", name_, device_name, base, length, r.name, r.base,
           r.length);
    }
  }
  ranges_.push_back({base, length, device, std::move(device_name)});
  std::sort(ranges_.begin(), ranges_.end(), [](const Range& a, const Range& b) { return a.base < b.base; });
}

const IoBus::Range* IoBus::find(uint64_t addr) const {
  // Binary search for the last range with base <= addr.
  auto it = std::upper_bound(ranges_.begin(), ranges_.end(), addr,
                             [](uint64_t a, const Range& r) { return a < r.base; });
  if (it == ranges_.begin()) return nullptr;
  --it;
  if (addr - it->base < it->length) return &*it;
  return nullptr;
}

static uint64_t ones(unsigned size) { return size >= 8 ? ~0ull : ((1ull << (size * 8)) - 1); }

bool IoBus::read(uint64_t addr, unsigned size, uint64_t& value) {
  if (const Range* r = find(addr)) {
    value = r->device->io_read(addr - r->base, size) & ones(size);
    return true;
  }
  value = ones(size);
  if (trace_unclaimed_) note_unclaimed("read", addr, size, value);
  return false;
}

bool IoBus::write(uint64_t addr, unsigned size, uint64_t value) {
  if (const Range* r = find(addr)) {
    r->device->io_write(addr - r->base, size, value & ones(size));
    return true;
  }
  if (trace_unclaimed_) note_unclaimed("write", addr, size, value);
  return false;
}

bool IoBus::read_bytes(uint64_t addr, uint8_t* data, unsigned size) {
  bool claimed = true;
  while (size > 0) {
    unsigned chunk = size > 8 ? 8 : size;
    uint64_t v = 0;
    claimed &= read(addr, chunk, v);
    std::memcpy(data, &v, chunk);  // x86 hosts are little-endian
    data += chunk;
    addr += chunk;
    size -= chunk;
  }
  return claimed;
}

bool IoBus::write_bytes(uint64_t addr, const uint8_t* data, unsigned size) {
  bool claimed = true;
  while (size > 0) {
    unsigned chunk = size > 8 ? 8 : size;
    uint64_t v = 0;
    std::memcpy(&v, data, chunk);
    claimed &= write(addr, chunk, v);
    data += chunk;
    addr += chunk;
    size -= chunk;
  }
  return claimed;
}

void IoBus::note_unclaimed(const char* kind, uint64_t addr, unsigned size, uint64_t value) {
  std::lock_guard<std::mutex> lock(trace_mu_);
  if (!traced_.insert(addr).second) return;
  log_line(LogLevel::Info, fmt::format("unclaimed {} {} {:#x} size {} value {:#x}", name_, kind, addr, size, value));
}

}  // namespace vireo
