#include "cpu/kvm/kvm_irq_line.h"

#include <linux/kvm.h>
#include <sys/ioctl.h>

#include <cerrno>
#include <cstring>

#include "base/log.h"

namespace vireo {

void KvmIrqLine::set_level(bool asserted) {
  kvm_irq_level irq{};
  irq.irq = gsi_;
  irq.level = asserted ? 1 : 0;
  if (::ioctl(vm_fd_, KVM_IRQ_LINE, &irq) < 0) log_warn("KVM_IRQ_LINE gsi {} failed: {}", gsi_, std::strerror(errno));
}

}  // namespace vireo
