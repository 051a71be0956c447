#include "cpu/kvm/kvm_system.h"

#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "base/error.h"
#include "cpu/kvm/kvm_cpuid_abi.h"

namespace vireo {
namespace {

// VIREO_KVM_DEVICE overrides the device path (tests use it to play a host without KVM).
const char* kvm_device_path() {
  const char* p = std::getenv("VIREO_KVM_DEVICE");
  return p && *p ? p : "/dev/kvm";
}

bool path_exists(const char* path) {
  struct stat st {};
  return ::stat(path, &st) == 0;
}

}  // namespace

const char* kvm_kind_name(KvmKind kind) {
  switch (kind) {
    case KvmKind::Missing: return "missing";
    case KvmKind::NoPermission: return "no permission";
    case KvmKind::Hardware: return "hardware-assisted";
    case KvmKind::Pvm: return "PVM (no hardware virtualization)";
    case KvmKind::Unknown: return "unknown";
  }
  return "?";
}

KvmProbe probe_kvm() {
  KvmProbe p;
  const char* path = kvm_device_path();
  int fd = ::open(path, O_RDWR | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT || errno == ENODEV || errno == ENXIO) {
      p.kind = KvmKind::Missing;
      p.detail = fmt::format("{} does not exist: this host has no KVM (load kvm_intel or kvm_amd, or use --accel emu)", path);
    } else {
      p.kind = KvmKind::NoPermission;
      p.detail = fmt::format("cannot open {}: {}", path, std::strerror(errno)) +
                 " (add your user to the 'kvm' group: sudo usermod -aG kvm $USER, then log in again; or use --accel emu)";
    }
    return p;
  }
  ::close(fd);
  if (path_exists("/sys/module/kvm_pvm")) {
    p.kind = KvmKind::Pvm;
    p.detail = "KVM here is PVM (no VT-x/AMD-V): guest kernel code is software-emulated by KVM and stock kernels do not boot";
  } else if (path_exists("/sys/module/kvm_intel") || path_exists("/sys/module/kvm_amd")) {
    p.kind = KvmKind::Hardware;
    p.detail = path_exists("/sys/module/kvm_intel") ? "KVM with Intel VT-x" : "KVM with AMD-V";
  } else {
    p.kind = KvmKind::Unknown;
    p.detail = "/dev/kvm opens but no kvm_intel/kvm_amd/kvm_pvm module is loaded";
  }
  return p;
}

KvmSystem::KvmSystem() {
  fd_ = ::open(kvm_device_path(), O_RDWR | O_CLOEXEC);
  if (fd_ < 0) fail("{}", probe_kvm().detail);
  int version = ::ioctl(fd_, KVM_GET_API_VERSION, 0);
  if (version != KVM_API_VERSION) {
    ::close(fd_);
    fail("/dev/kvm speaks KVM API version {}, vireo needs {}", version, KVM_API_VERSION);
  }
  int size = ::ioctl(fd_, KVM_GET_VCPU_MMAP_SIZE, 0);
  if (size <= 0) {
    ::close(fd_);
    fail("KVM_GET_VCPU_MMAP_SIZE failed: {}", std::strerror(errno));
  }
  vcpu_mmap_size_ = static_cast<size_t>(size);

  // KVM_GET_SUPPORTED_CPUID: grow the buffer until it fits (E2BIG).
  for (size_t n = 64; n <= 4096; n *= 2) {
    std::vector<uint8_t> buf = make_cpuid2_buffer({}, n);
    if (::ioctl(fd_, kKvmGetSupportedCpuid, buf.data()) == 0) {
      cpuid_ = cpuid2_entries(buf);
      return;
    }
    if (errno != E2BIG) break;
  }
  int e = errno;
  ::close(fd_);
  fail("KVM_GET_SUPPORTED_CPUID failed: {}", std::strerror(e));
}

KvmSystem::~KvmSystem() {
  if (fd_ >= 0) ::close(fd_);
}

int KvmSystem::check_extension(long cap) const { return ::ioctl(fd_, KVM_CHECK_EXTENSION, cap); }

}  // namespace vireo
