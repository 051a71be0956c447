// VmConfig: everything the user asked for, parsed and validated by the CLI.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "base/size.h"

namespace vireo {

enum class AccelChoice { Auto, Kvm, Emu };

// A test or auxiliary device requested with --device.
struct DeviceSpec {
  std::string kind;  // "debug-exit"
  uint64_t iobase = 0;
  uint64_t iosize = 0;
};

// The command line a Linux kernel gets when the user gives none: the console on the
// UART, and reboot through the FADT's reset register (this machine has no BIOS, so
// Linux's other fallbacks end in a triple fault).
constexpr const char* kDefaultLinuxCmdline = "console=ttyS0 reboot=acpi";

struct VmConfig {
  std::string kernel_path;
  std::string initrd_path;
  std::string cmdline;  // empty: kDefaultLinuxCmdline for Linux, "" for Multiboot
  uint64_t memory_bytes = 512 * MiB;
  unsigned cpus = 1;
  AccelChoice accel = AccelChoice::Auto;
  std::string trace_path;  // --trace: instruction trace (emu)
  bool trace_io = false;   // log unclaimed port/MMIO accesses once each
  bool jit = true;         // emu: translate hot blocks to host code (--jit off: interpret only)
  std::vector<DeviceSpec> devices;
};

// Parses "debug-exit[,iobase=0xf4][,iosize=4]". Throws vireo::Error.
DeviceSpec parse_device_spec(const std::string& text);

}  // namespace vireo
