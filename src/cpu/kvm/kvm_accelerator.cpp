#include "cpu/kvm/kvm_accelerator.h"

#include <sys/ioctl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "base/error.h"
#include "base/log.h"
#include "cpu/kvm/kvm_irq_line.h"
#include "cpu/kvm/kvm_vcpu.h"
#include "memory/guest_memory.h"

namespace vireo {

KvmAccelerator::KvmAccelerator(const MachineContext& ctx) : ctx_(ctx) {
  vm_fd_ = ::ioctl(system_.fd(), KVM_CREATE_VM, 0);
  if (vm_fd_ < 0) fail("KVM_CREATE_VM failed: {} (is another hypervisor holding VT-x?)", std::strerror(errno));

  // Intel VT-x needs three pages for the real-mode TSS and one for the identity map
  // just below 4 GiB, outside guest RAM and the device hole we use. Other KVMs (AMD,
  // PVM) may not need or support these; failure there is harmless.
  if (::ioctl(vm_fd_, KVM_SET_TSS_ADDR, 0xfffbd000ul) < 0) log_debug("KVM_SET_TSS_ADDR: {}", std::strerror(errno));
  uint64_t identity = 0xfffbc000;
  if (::ioctl(vm_fd_, KVM_SET_IDENTITY_MAP_ADDR, &identity) < 0)
    log_debug("KVM_SET_IDENTITY_MAP_ADDR: {}", std::strerror(errno));

  // The in-kernel PIC pair, IOAPIC and LAPICs, and the PIT.
  if (::ioctl(vm_fd_, KVM_CREATE_IRQCHIP, 0) < 0) fail("KVM_CREATE_IRQCHIP failed: {}", std::strerror(errno));
  kvm_pit_config pit{};
  if (::ioctl(vm_fd_, KVM_CREATE_PIT2, &pit) < 0) fail("KVM_CREATE_PIT2 failed: {}", std::strerror(errno));

  unsigned slot = 0;
  for (const MemoryRegion& r : ctx_.memory->regions()) {
    kvm_userspace_memory_region region{};
    region.slot = slot++;
    region.guest_phys_addr = r.gpa;
    region.memory_size = r.size;
    region.userspace_addr = reinterpret_cast<uint64_t>(r.host);
    if (::ioctl(vm_fd_, KVM_SET_USER_MEMORY_REGION, &region) < 0)
      fail("KVM_SET_USER_MEMORY_REGION at {:#x}+{:#x} failed: {}", r.gpa, r.size, std::strerror(errno));
  }

  int max_vcpus = system_.check_extension(KVM_CAP_MAX_VCPUS);
  if (max_vcpus <= 0) max_vcpus = system_.check_extension(KVM_CAP_NR_VCPUS);
  if (max_vcpus > 0 && ctx_.num_cpus > static_cast<unsigned>(max_vcpus))
    fail("--cpus {} is more than this host's KVM supports ({})", ctx_.num_cpus, max_vcpus);
}

KvmAccelerator::~KvmAccelerator() {
  if (vm_fd_ >= 0) ::close(vm_fd_);
}

std::unique_ptr<Vcpu> KvmAccelerator::create_vcpu(unsigned index) { return std::make_unique<KvmVcpu>(*this, index); }

std::unique_ptr<IrqLine> KvmAccelerator::create_irq_line(unsigned gsi) {
  return std::make_unique<KvmIrqLine>(vm_fd_, gsi);
}

}  // namespace vireo
