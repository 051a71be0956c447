// KvmSystem: /dev/kvm itself — opening it with a useful error, the API version, the
// kind of KVM this host has (hardware-assisted or PVM) and the supported CPUID.
#pragma once

#include <linux/kvm.h>

#include <memory>
#include <string>
#include <vector>

namespace vireo {

enum class KvmKind {
  Missing,        // no /dev/kvm
  NoPermission,   // exists, cannot be opened
  Hardware,       // VT-x (kvm_intel) or AMD-V (kvm_amd): runs stock kernels
  Pvm,            // pagetable-based KVM without VT-x: ring-0 guest code is software-emulated
  Unknown,        // opens, but no module we recognise
};

struct KvmProbe {
  KvmKind kind = KvmKind::Missing;
  std::string detail;  // one line: what it means for the user
};

// Looks at /dev/kvm and /sys/module without keeping anything open.
KvmProbe probe_kvm();
const char* kvm_kind_name(KvmKind kind);

class KvmSystem {
 public:
  // Opens /dev/kvm; throws vireo::Error with what to do when it cannot.
  KvmSystem();
  ~KvmSystem();
  KvmSystem(const KvmSystem&) = delete;
  KvmSystem& operator=(const KvmSystem&) = delete;

  int fd() const { return fd_; }
  int check_extension(long cap) const;
  size_t vcpu_mmap_size() const { return vcpu_mmap_size_; }
  // KVM_GET_SUPPORTED_CPUID, fetched once.
  const std::vector<kvm_cpuid_entry2>& supported_cpuid() const { return cpuid_; }

 private:
  int fd_ = -1;
  size_t vcpu_mmap_size_ = 0;
  std::vector<kvm_cpuid_entry2> cpuid_;
};

}  // namespace vireo
