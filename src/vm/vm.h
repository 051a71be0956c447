// Vm: the composition root. Builds guest memory, the buses, the devices and the vCPUs
// of one virtual machine from a VmConfig, boots the kernel, runs until the guest or
// the user stops it, and turns the way it stopped into an exit status.
#pragma once

#include <condition_variable>
#include <cstdio>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "bus/io_bus.h"
#include "bus/irq_line.h"
#include "cpu/vcpu.h"
#include "memory/guest_memory.h"
#include "vm/accel_choice.h"
#include "arch/x86/multiboot.h"
#include "vm/vm_config.h"
#include "vm/vm_control.h"

namespace vireo {

class Uart16550;
class I8042;
class PvPanic;
class Console;

class Vm final : public VmControl {
 public:
  // Builds the whole machine; throws vireo::Error on bad input or a host failure.
  explicit Vm(const VmConfig& config);
  ~Vm() override;

  // Runs the guest to the end and returns the exit status for the process.
  int run();

  void request_stop(StopRequest request) override;

  const AccelDecision& accel_decision() const { return decision_; }

 private:
  void build_accelerator();
  void build_devices();
  void load_guest();
  void vcpu_thread(unsigned index);

  VmConfig config_;
  AccelDecision decision_;
  std::unique_ptr<GuestMemory> memory_;
  IoBus pio_{"port"};
  IoBus mmio_{"mmio"};
  MachineContext ctx_;
  struct FileCloser {
    void operator()(std::FILE* f) const { std::fclose(f); }
  };
  std::unique_ptr<std::FILE, FileCloser> trace_file_;  // declared before accel_: outlives the vCPUs
  std::unique_ptr<Accelerator> accel_;
  std::vector<std::unique_ptr<IrqLine>> irq_lines_;
  std::vector<std::unique_ptr<IoDevice>> devices_;
  Uart16550* uart_ = nullptr;
  std::unique_ptr<I8042> i8042_;
  std::unique_ptr<PvPanic> pvpanic_;
  std::unique_ptr<Console> console_;
  std::vector<std::unique_ptr<Vcpu>> vcpus_;
  X86CpuState boot_state_;
  std::vector<uint8_t> kernel_image_, initrd_image_;
  bool multiboot_ = false;
  std::vector<x86::MultibootModule> multiboot_modules_;

  std::mutex mu_;
  std::condition_variable cv_;
  std::optional<StopRequest> stop_;
};

}  // namespace vireo
