// vireo: the command line. Parses user intent into a VmConfig; no VM logic here.
#include <CLI/CLI.hpp>

#include <cstdio>
#include <map>

#include "base/error.h"
#include "base/log.h"
#include "base/size.h"
#include "cpu/emu/jit.h"
#include "host/host_info.h"
#include "vm/vm.h"
#include "vm/vm_config.h"

using namespace vireo;

int main(int argc, char** argv) {
  CLI::App app{"vireo: a virtual machine monitor for x86-64 Linux hosts.\n"
               "Runs unmodified x86-64 guests under KVM (hardware virtualization) or vireo's own emulator."};
  app.require_subcommand(1);
  app.set_version_flag("--version", "vireo 0.1");
  bool verbose = false, quiet = false;
  app.add_flag("-v,--verbose", verbose, "Say more about what vireo does (on stderr)");
  app.add_flag("-q,--quiet", quiet, "Print only errors");

  VmConfig cfg;
  std::string memory = "512M";
  std::string accel = "auto";
  std::string cmdline;
  std::vector<std::string> devices;

  CLI::App* run = app.add_subcommand("run", "Boot a guest kernel; its serial console is this terminal");
  run->footer(
      "Exit status: 0 when the guest powers off or reboots (or on Ctrl-A X), 1 on bad input or a host\n"
      "error, 2 when the guest crashes (triple fault, panic, emulation failure), (V << 1) | 1 when a\n"
      "guest writes V to a debug-exit device.\n"
      "Console keys: Ctrl-A X quits, Ctrl-A H shows help, Ctrl-A Ctrl-A sends Ctrl-A.");
  run->add_option("--kernel", cfg.kernel_path,
                  "Kernel to boot: an x86-64 Linux bzImage, an ELF vmlinux with a PVH entry note, or a Multiboot "
                  "(version 1) kernel (ELF32/ELF64, or a flat image with the header's address fields)")
      ->required();
  run->add_option("--initrd", cfg.initrd_path,
                  "Linux: the initial ramdisk. Multiboot: the modules, comma-separated (\"file args,file2\"; ',,' is "
                  "a literal comma); each module's string is its entry");
  run->add_option("--cmdline", cmdline,
                  std::string("Kernel command line (Linux default: \"") + kDefaultLinuxCmdline +
                      "\"; a Multiboot kernel gets its path followed by this)");
  run->add_option("--memory,-m", memory, "Guest RAM, e.g. 512M, 2G (default 512M)");
  run->add_option("--cpus", cfg.cpus, "Number of vCPUs (default 1)");
  run->add_option("--accel", accel,
                  "Who runs guest code: kvm (hardware virtualization through /dev/kvm), emu (vireo's own x86-64 "
                  "emulator) or auto (kvm where it has VT-x/AMD-V, else emu; the default)")
      ->check(CLI::IsMember({"auto", "kvm", "emu"}));
  std::string jit = "on";
  run->add_option("--jit", jit,
                  "emu: translate hot 64-bit code into host code (on, the default) or only interpret it (off)")
      ->check(CLI::IsMember({"on", "off"}));
  run->add_option("--trace", cfg.trace_path, "Write an instruction trace to FILE (emu only)");
  run->add_flag("--trace-io", cfg.trace_io, "Log each port or MMIO address no device claims (once each)");
  run->add_option("--device", devices,
                  "Add a device: debug-exit[,iobase=0xf4][,iosize=4] (a write of V exits vireo with (V << 1) | 1)");

  app.add_subcommand("info", "Print what this host offers: KVM and its kind, CPU features that matter");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  if (verbose) set_log_level(LogLevel::Debug);
  else if (!quiet) set_log_level(LogLevel::Info);

  try {
    if (app.got_subcommand("info")) {
      std::fputs(host_info_report().c_str(), stdout);
      std::fputs(emu::JitCache::host_supported()
                     ? "emulator:    translates hot 64-bit guest code into host code (--jit off: interpret only)\n"
                     : "emulator:    interprets only (translated code needs an x86-64 host with LAHF in 64-bit mode)\n",
                 stdout);
      return 0;
    }
    cfg.memory_bytes = parse_size(memory);
    cfg.cmdline = cmdline;
    static const std::map<std::string, AccelChoice> accels = {
        {"auto", AccelChoice::Auto}, {"kvm", AccelChoice::Kvm}, {"emu", AccelChoice::Emu}};
    cfg.accel = accels.at(accel);
    cfg.jit = jit == "on";
    for (const std::string& d : devices) cfg.devices.push_back(parse_device_spec(d));
    if (cfg.cpus == 0) fail("--cpus must be at least 1");
    Vm vm(cfg);
    return vm.run();
  } catch (const Error& e) {
    log_error("{}", e.what());
    return kExitVireoError;
  } catch (const std::exception& e) {
    log_error("internal error: {}", e.what());
    return kExitVireoError;
  }
}
