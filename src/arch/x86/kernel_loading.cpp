#include "arch/x86/kernel_loading.h"

#include <algorithm>

#include "arch/x86/layout.h"
#include "base/error.h"
#include "base/size.h"

namespace vireo::x86 {

namespace {

constexpr uint64_t kInitrdAlignment = 0x1000;

uint64_t mib_rounded_up(uint64_t bytes) { return (bytes + MiB - 1) / MiB; }

}  // namespace

void write_kernel_cmdline(GuestMemory& mem, const std::string& cmdline, uint64_t max_length) {
  const uint64_t limit = std::min(max_length, kCmdlineMax - 1);
  if (cmdline.size() > limit) {
    fail("the command line is {} bytes long, the kernel accepts at most {}", cmdline.size(), limit);
  }
  mem.write(kCmdlineAddr, cmdline.c_str(), cmdline.size() + 1);
}

uint64_t place_initrd(GuestMemory& mem, const std::vector<uint8_t>& initrd, uint64_t kernel_end, uint64_t limit) {
  const uint64_t size = initrd.size();
  const uint64_t floor = (kernel_end + kInitrdAlignment - 1) & ~(kInitrdAlignment - 1);
  if (size > limit || ((limit - size) & ~(kInitrdAlignment - 1)) < floor) {
    const uint64_t needed = floor + ((size + kInitrdAlignment - 1) & ~(kInitrdAlignment - 1));
    if (limit < mem.low_ram_end()) {
      // The kernel's own limit (initrd_addr_max) is the bound, not the RAM size.
      fail("the initrd ({} MiB) does not fit between the kernel's end at {:#x} and the highest address the "
           "kernel accepts for it, {:#x}; use a smaller initrd",
           mib_rounded_up(size), floor, limit);
    }
    fail("the initrd ({} MiB) does not fit in guest memory above the kernel: kernel and initrd need {} MiB, "
         "the VM has {} MiB; use --memory {}M or more",
         mib_rounded_up(size), mib_rounded_up(needed), mem.ram_size() / MiB, mib_rounded_up(needed));
  }
  const uint64_t addr = (limit - size) & ~(kInitrdAlignment - 1);
  mem.write(addr, initrd.data(), size);
  return addr;
}

void fail_needs_memory(const GuestMemory& mem, uint64_t needed_bytes, const char* purpose) {
  fail("needs {} MiB of memory {}, the VM has {} MiB; use --memory {}M or more", mib_rounded_up(needed_bytes),
       purpose, mem.ram_size() / MiB, mib_rounded_up(needed_bytes));
}

}  // namespace vireo::x86
