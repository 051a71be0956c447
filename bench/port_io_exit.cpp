// The cost of one port-I/O exit through vireo's KVM path (KvmVcpu::run dispatching to
// the IoBus and a device), beside a minimal raw KVM_RUN loop doing the same exits on
// the same guest, alternating in one run. Prints medians and the ratio.
//
// Guest: tests/guests/port_io_loop.asm — 20000 `out 0x80, al`, then `out 0xf4`.
#include <linux/kvm.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <vector>

#include "arch/x86/linux_boot.h"
#include "base/error.h"
#include "base/file.h"
#include "base/size.h"
#include "bus/io_bus.h"
#include "cpu/kvm/kvm_accelerator.h"
#include "cpu/kvm/kvm_cpuid_abi.h"
#include "cpu/kvm/kvm_vcpu.h"
#include "memory/guest_memory.h"
#include "vm/vm_control.h"

using namespace vireo;
using Clock = std::chrono::steady_clock;

namespace {

constexpr int kExits = 20000;
constexpr uint64_t kMemory = 64 * MiB;

struct NullControl : VmControl {
  void request_stop(StopRequest) override {}
};

// Port 0x80: counts exits. Port 0xf4: ends the run.
struct Counter : IoDevice {
  int count = 0;
  uint64_t io_read(uint64_t, unsigned) override { return 0; }
  void io_write(uint64_t, unsigned, uint64_t) override { ++count; }
};
struct Stopper : IoDevice {
  Vcpu* vcpu = nullptr;
  uint64_t io_read(uint64_t, unsigned) override { return 0; }
  void io_write(uint64_t, unsigned, uint64_t) override { vcpu->kick(); }
};

X86CpuState load_guest(GuestMemory& mem, const std::vector<uint8_t>& image) {
  x86::LinuxBootSpec spec;
  spec.kernel = &image;
  return x86::load_linux(mem, spec).boot_cpu;
}

double run_vireo(const std::vector<uint8_t>& image) {
  GuestMemory mem(kMemory);
  X86CpuState state = load_guest(mem, image);
  IoBus pio("port"), mmio("mmio");
  Counter counter;
  Stopper stopper;
  pio.add(0x80, 1, &counter, "counter");
  pio.add(0xf4, 4, &stopper, "stopper");
  NullControl control;
  MachineContext ctx{&mem, &pio, &mmio, &control, 1};
  KvmAccelerator accel(ctx);
  auto vcpu = accel.create_vcpu(0);
  stopper.vcpu = vcpu.get();
  vcpu->set_state(state);
  auto t0 = Clock::now();
  VcpuExit e = vcpu->run();
  auto t1 = Clock::now();
  if (e.kind != VcpuExitKind::Stopped || counter.count != kExits)
    fail("vireo run ended early: {} after {} exits", e.message, counter.count);
  return std::chrono::duration<double, std::nano>(t1 - t0).count() / kExits;
}

// The same guest with nothing but ioctls: the floor any VMM's exit path sits on.
double run_raw(const std::vector<uint8_t>& image) {
  GuestMemory mem(kMemory);
  X86CpuState state = load_guest(mem, image);
  KvmSystem kvm;
  int vm = ::ioctl(kvm.fd(), KVM_CREATE_VM, 0);
  if (vm < 0) fail("KVM_CREATE_VM: {}", std::strerror(errno));
  ::ioctl(vm, KVM_SET_TSS_ADDR, 0xfffbd000ul);
  ::ioctl(vm, KVM_CREATE_IRQCHIP, 0);
  kvm_pit_config pit{};
  ::ioctl(vm, KVM_CREATE_PIT2, &pit);
  kvm_userspace_memory_region region{0, 0, 0, kMemory, reinterpret_cast<uint64_t>(mem.host_ptr(0))};
  if (::ioctl(vm, KVM_SET_USER_MEMORY_REGION, &region) < 0) fail("memory region: {}", std::strerror(errno));
  int cpu = ::ioctl(vm, KVM_CREATE_VCPU, 0);
  std::vector<uint8_t> cpuid = make_cpuid2_buffer(kvm.supported_cpuid());
  ::ioctl(cpu, kKvmSetCpuid2, cpuid.data());
  set_kvm_state(cpu, state);
  auto* run = static_cast<kvm_run*>(
      ::mmap(nullptr, kvm.vcpu_mmap_size(), PROT_READ | PROT_WRITE, MAP_SHARED, cpu, 0));
  int count = 0;
  auto t0 = Clock::now();
  for (;;) {
    if (::ioctl(cpu, KVM_RUN, 0) < 0) fail("KVM_RUN: {}", std::strerror(errno));
    if (run->exit_reason != KVM_EXIT_IO) fail("unexpected exit {}", run->exit_reason);
    if (run->io.port == 0x80) {
      ++count;
      continue;
    }
    break;
  }
  auto t1 = Clock::now();
  ::munmap(run, kvm.vcpu_mmap_size());
  ::close(cpu);
  ::close(vm);
  if (count != kExits) fail("raw run counted {} exits", count);
  return std::chrono::duration<double, std::nano>(t1 - t0).count() / kExits;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  int rounds = argc > 1 ? std::atoi(argv[1]) : 7;
  try {
    std::vector<uint8_t> image = read_file(std::string(VIREO_GUEST_DIR) + "/port_io_loop.bin", "guest");
    std::vector<double> vireo_ns, raw_ns;
    run_raw(image);  // warm-up
    for (int i = 0; i < rounds; ++i) {
      vireo_ns.push_back(run_vireo(image));
      raw_ns.push_back(run_raw(image));
    }
    double v = median(vireo_ns), r = median(raw_ns);
    std::printf("port-I/O exit round trip (%d exits per run, %d runs each, medians)\n", kExits, rounds);
    std::printf("  raw KVM_RUN loop : %8.0f ns/exit\n", r);
    std::printf("  vireo            : %8.0f ns/exit\n", v);
    std::printf("  ratio vireo/raw  : %8.3f  (target <= 1.10)\n", v / r);
    return 0;
  } catch (const Error& e) {
    std::fprintf(stderr, "port_io_exit: %s\n", e.what());
    return 1;
  }
}
