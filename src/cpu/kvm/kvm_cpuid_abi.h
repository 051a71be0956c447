// The KVM CPUID ioctls, spelled out for C++.
//
// <asm/kvm.h> declares struct kvm_cpuid2's `entries` with __DECLARE_FLEX_ARRAY, which
// in C++ puts an empty struct (size 1) in front of the array: sizeof(kvm_cpuid2) and
// offsetof(entries) become 12 instead of the kernel's 8, and the ioctl numbers derived
// from that size are ones the kernel does not know (EINVAL). This header gives the
// kernel's real layout: an 8-byte header followed by the entries.
#pragma once

#include <linux/kvm.h>
#include <sys/ioctl.h>

#include <cstdint>
#include <cstring>
#include <vector>

namespace vireo {

struct KvmCpuid2Header {
  uint32_t nent;
  uint32_t padding;
};
static_assert(sizeof(KvmCpuid2Header) == 8);

constexpr unsigned long kKvmGetSupportedCpuid = _IOC(_IOC_READ | _IOC_WRITE, KVMIO, 0x05, sizeof(KvmCpuid2Header));
constexpr unsigned long kKvmSetCpuid2 = _IOC(_IOC_WRITE, KVMIO, 0x90, sizeof(KvmCpuid2Header));

// A buffer in the kernel's layout holding `entries`.
inline std::vector<uint8_t> make_cpuid2_buffer(const std::vector<kvm_cpuid_entry2>& entries, size_t capacity = 0) {
  size_t n = capacity > entries.size() ? capacity : entries.size();
  std::vector<uint8_t> buf(sizeof(KvmCpuid2Header) + n * sizeof(kvm_cpuid_entry2));
  auto* h = reinterpret_cast<KvmCpuid2Header*>(buf.data());
  h->nent = static_cast<uint32_t>(n);
  if (!entries.empty())
    std::memcpy(buf.data() + sizeof(KvmCpuid2Header), entries.data(), entries.size() * sizeof(kvm_cpuid_entry2));
  return buf;
}

inline std::vector<kvm_cpuid_entry2> cpuid2_entries(const std::vector<uint8_t>& buf) {
  auto* h = reinterpret_cast<const KvmCpuid2Header*>(buf.data());
  std::vector<kvm_cpuid_entry2> out(h->nent);
  std::memcpy(out.data(), buf.data() + sizeof(KvmCpuid2Header), h->nent * sizeof(kvm_cpuid_entry2));
  return out;
}

}  // namespace vireo
