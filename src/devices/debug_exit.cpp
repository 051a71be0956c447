#include "devices/debug_exit.h"

#include "base/error.h"
#include "bus/io_bus.h"

namespace vireo {

DebugExit::DebugExit(VmControl& vm, uint16_t iobase, uint16_t iosize) : vm_(vm), iobase_(iobase), iosize_(iosize) {
  if (iosize == 0 || uint32_t{iobase} + iosize > 0x10000) {
    fail("debug-exit: ports {:#x}+{} are not a valid I/O port range; give iosize 1..{} for that iobase", iobase,
         iosize, 0x10000 - uint32_t{iobase});
  }
}

void DebugExit::attach_to(IoBus& pio) { pio.add(iobase_, iosize_, this, "debug-exit"); }

uint64_t DebugExit::io_read(uint64_t, unsigned) { return 0; }

void DebugExit::io_write(uint64_t, unsigned size, uint64_t value) {
  // The bus has already truncated the value to the access size. A process exit status
  // keeps only its low 8 bits; the full value is kept here for whoever reads it.
  const uint64_t mask = size >= 8 ? ~0ull : (1ull << (8 * size)) - 1;
  const uint64_t status = ((value & mask) << 1) | 1;
  vm_.request_stop({StopKind::DebugExit, static_cast<int>(status), ""});
}

}  // namespace vireo
