#include "host/host_info.h"

#include <linux/kvm.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <fstream>
#include <set>
#include <sstream>

#include "base/error.h"
#include "cpu/kvm/kvm_system.h"

namespace vireo {
namespace {

struct CpuInfo {
  std::string model;
  std::set<std::string> flags;
};

CpuInfo read_cpuinfo() {
  CpuInfo info;
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line)) {
    auto colon = line.find(':');
    if (colon == std::string::npos) continue;
    std::string key = line.substr(0, line.find_last_not_of(" \t", colon - 1) + 1);
    std::string value = colon + 2 <= line.size() ? line.substr(colon + 2) : "";
    if (key == "model name" && info.model.empty()) info.model = value;
    if (key == "flags" && info.flags.empty()) {
      std::istringstream ss(value);
      std::string f;
      while (ss >> f) info.flags.insert(f);
    }
  }
  return info;
}

}  // namespace

std::string host_info_report() {
  std::string out;
  struct utsname u {};
  ::uname(&u);
  CpuInfo cpu = read_cpuinfo();
  out += fmt::format("host:        {} {} {}, {} CPUs online\n", u.sysname, u.release, u.machine,
                     ::sysconf(_SC_NPROCESSORS_ONLN));
  out += fmt::format("cpu:         {}\n", cpu.model.empty() ? "unknown" : cpu.model);

  KvmProbe probe = probe_kvm();
  out += fmt::format("kvm:         {}\n", kvm_kind_name(probe.kind));
  out += fmt::format("             {}\n", probe.detail);
  if (probe.kind != KvmKind::Missing && probe.kind != KvmKind::NoPermission) {
    try {
      KvmSystem kvm;
      int max_vcpus = kvm.check_extension(KVM_CAP_MAX_VCPUS);
      out += fmt::format("kvm api:     version {}, max vCPUs {}, memory slots {}, irqchip {}, immediate exit {}\n",
                         KVM_API_VERSION, max_vcpus, kvm.check_extension(KVM_CAP_NR_MEMSLOTS),
                         kvm.check_extension(KVM_CAP_IRQCHIP) > 0 ? "yes" : "no",
                         kvm.check_extension(KVM_CAP_IMMEDIATE_EXIT) > 0 ? "yes" : "no");
    } catch (const Error& e) {
      out += fmt::format("kvm api:     {}\n", e.what());
    }
  }
  const char* boots_linux = probe.kind == KvmKind::Hardware ? "kvm" : "emu (the emulator)";
  out += fmt::format("accelerator: --accel auto uses {} for a stock kernel here\n", boots_linux);

  // CPU features that matter to a VMM and its guests.
  const char* interesting[] = {"vmx",    "svm",          "hypervisor", "lm",     "nx",     "pdpe1gb", "x2apic",
                               "tsc_deadline_timer", "constant_tsc", "nonstop_tsc", "sse2", "sse4_2", "popcnt",
                               "xsave",  "avx",          "avx2",       "avx512f", "aes",    "rdrand",  "invpcid"};
  std::string have, lack;
  for (const char* f : interesting) (cpu.flags.count(f) ? have : lack) += std::string(" ") + f;
  out += fmt::format("cpu has:    {}\n", have.empty() ? " (none)" : have);
  out += fmt::format("cpu lacks:  {}\n", lack.empty() ? " (none)" : lack);
  return out;
}

}  // namespace vireo
