#include "vm/vm.h"

#include <sys/sysinfo.h>

#include <cerrno>
#include <cstring>

#include "arch/x86/acpi.h"
#include "arch/x86/layout.h"
#include "arch/x86/linux_boot.h"
#include "arch/x86/multiboot.h"
#include "base/error.h"
#include "base/file.h"
#include "base/log.h"
#include "cpu/emu/emu_accelerator.h"
#include "cpu/kvm/kvm_accelerator.h"
#include "devices/acpi_pm.h"
#include "devices/debug_console.h"
#include "devices/debug_exit.h"
#include "devices/cmos_rtc.h"
#include "devices/i8042.h"
#include "devices/pvpanic.h"
#include "devices/uart16550.h"
#include "host/console.h"

namespace vireo {
namespace {

void check_host_memory(uint64_t bytes) {
  struct sysinfo si {};
  if (::sysinfo(&si) != 0) return;
  uint64_t host = static_cast<uint64_t>(si.totalram) * si.mem_unit;
  if (bytes > host) {
    fail("--memory {} is more than this host's {} MiB of RAM", format_size(bytes), host / MiB);
  }
}

}  // namespace

Vm::Vm(const VmConfig& config) : config_(config) {
  if (config_.cpus == 0) fail("--cpus must be at least 1");
  if (config_.cpus > 254) fail("--cpus {} is too many (at most 254)", config_.cpus);
  check_host_memory(config_.memory_bytes);
  // Bad input first: the files must be readable and the kernel must be a kernel,
  // whatever the host can run.
  kernel_image_ = read_file(config_.kernel_path, "kernel");
  if (x86::detect_kernel_format(kernel_image_) == x86::KernelFormat::Unknown) {
    if (!x86::has_multiboot_header(kernel_image_))
      fail("kernel '{}' is not a bzImage or an ELF vmlinux with a PVH note, nor a Multiboot kernel (no Multiboot header in its first 8 KiB)",
           config_.kernel_path);
    multiboot_ = true;
    try {
      x86::find_multiboot_header(kernel_image_);
    } catch (const Error& e) {
      fail("kernel '{}': {}", config_.kernel_path, e.what());
    }
  }
  if (multiboot_) {
    if (!config_.initrd_path.empty())
      for (const auto& m : x86::parse_multiboot_module_list(config_.initrd_path))
        multiboot_modules_.push_back({read_file(m.path, "module"), m.string});
  } else if (!config_.initrd_path.empty()) {
    initrd_image_ = read_file(config_.initrd_path, "initrd");
  }

  KvmProbe probe = probe_kvm();
  decision_ = choose_accelerator(config_.accel, probe, /*emu_available=*/true, /*emu_boots_linux=*/true);
  if (!config_.trace_path.empty() && decision_.chosen != AccelChoice::Emu)
    fail("--trace needs the emulator (--accel emu): under KVM the CPU runs guest code itself");
  if (!decision_.ok) fail("{}", decision_.reason);
  if (config_.accel == AccelChoice::Auto) log_info("{}", decision_.reason);
  if (decision_.chosen == AccelChoice::Kvm && probe.kind == KvmKind::Pvm)
    log_info("this host's KVM is PVM: guest kernel code is software-emulated by KVM; stock kernels do not boot");
  memory_ = std::make_unique<GuestMemory>(config_.memory_bytes);
  ctx_.memory = memory_.get();
  ctx_.pio = &pio_;
  ctx_.mmio = &mmio_;
  ctx_.control = this;
  ctx_.num_cpus = config_.cpus;
  pio_.set_trace_unclaimed(config_.trace_io);
  mmio_.set_trace_unclaimed(config_.trace_io);
  load_guest();
  build_accelerator();
  build_devices();
  for (unsigned i = 0; i < config_.cpus; ++i) vcpus_.push_back(accel_->create_vcpu(i));
  vcpus_[0]->set_state(boot_state_);
}

Vm::~Vm() = default;

void Vm::build_accelerator() {
  if (decision_.chosen == AccelChoice::Kvm) {
    accel_ = std::make_unique<KvmAccelerator>(ctx_);
  } else {
    auto emu = std::make_unique<emu::EmuAccelerator>(ctx_, emu::EmuOptions{.interrupt_controllers = true, .jit = config_.jit});
    if (!config_.trace_path.empty()) {
      trace_file_.reset(std::fopen(config_.trace_path.c_str(), "w"));
      if (!trace_file_) fail("cannot open trace file '{}': {}", config_.trace_path, std::strerror(errno));
      emu->set_trace(trace_file_.get());
    }
    accel_ = std::move(emu);
  }
  if (!accel_) fail("accelerator '{}' is not available in this build", accel_name(decision_.chosen));
}

void Vm::build_devices() {
  // COM1, wired to the terminal.
  irq_lines_.push_back(accel_->create_irq_line(x86::kCom1Irq));
  auto uart = std::make_unique<Uart16550>(*irq_lines_.back(), Console::write_output);
  uart_ = uart.get();
  pio_.add(x86::kCom1Port, 8, uart.get(), "uart16550 (COM1)");
  devices_.push_back(std::move(uart));

  // Power-off and reset: the ACPI sleep/reset registers and the i8042 reset line.
  auto pm = std::make_unique<AcpiPm>(*this);
  pm->attach_to(pio_);
  devices_.push_back(std::move(pm));
  i8042_ = std::make_unique<I8042>(*this);
  i8042_->attach_to(pio_);

  // The battery-backed clock: the guest reads the date from it (ports 0x70/0x71).
  irq_lines_.push_back(accel_->create_irq_line(8));
  auto rtc = std::make_unique<CmosRtc>(*irq_lines_.back(), config_.memory_bytes);
  rtc->attach_to(pio_);
  devices_.push_back(std::move(rtc));

  // A panicking guest kernel says so here (ACPI QEMU0001).
  pvpanic_ = std::make_unique<PvPanic>(*this);
  pvpanic_->attach_to(pio_);

  // Bare-metal guests print through port 0xE9.
  auto dbg = std::make_unique<DebugConsole>(DebugConsole::stderr_sink());
  dbg->attach_to(pio_);
  devices_.push_back(std::move(dbg));

  for (const DeviceSpec& spec : config_.devices) {
    if (spec.kind == "debug-exit") {
      auto dev = std::make_unique<DebugExit>(*this, static_cast<uint16_t>(spec.iobase), static_cast<uint16_t>(spec.iosize));
      dev->attach_to(pio_);
      devices_.push_back(std::move(dev));
    }
  }
}

void Vm::load_guest() {
  x86::AcpiConfig acpi;
  acpi.num_cpus = config_.cpus;
  acpi.pvpanic_port = PvPanic::kDefaultPort;
  uint64_t rsdp = x86::write_acpi_tables(*memory_, acpi);

  if (multiboot_) {
    x86::MultibootSpec mb;
    mb.kernel = &kernel_image_;
    mb.kernel_path = config_.kernel_path;
    mb.cmdline = config_.cmdline;
    mb.modules = std::move(multiboot_modules_);
    try {
      x86::MultibootBootResult r = x86::load_multiboot(*memory_, mb);
      for (const std::string& w : r.warnings) log_warn("kernel '{}': {}", config_.kernel_path, w);
      boot_state_ = r.boot_cpu;
    } catch (const Error& e) {
      fail("kernel '{}': {}", config_.kernel_path, e.what());
    }
    kernel_image_ = {};
    multiboot_modules_ = {};
    return;
  }
  x86::LinuxBootSpec spec;
  spec.kernel = &kernel_image_;
  spec.initrd = config_.initrd_path.empty() ? nullptr : &initrd_image_;
  // A Linux kernel without --cmdline gets its console on the UART.
  spec.cmdline = config_.cmdline.empty() ? std::string(kDefaultLinuxCmdline) : config_.cmdline;
  spec.rsdp_addr = rsdp;
  // Under the emulator every guest instruction is expensive: decompress the kernel
  // here and enter it through its PVH note instead of letting the guest do it.
  spec.decompress_on_host = decision_.chosen == AccelChoice::Emu;
  try {
    x86::LinuxBootResult result = x86::load_linux(*memory_, spec);
    if (!result.note.empty()) log_debug("{}", result.note);
    boot_state_ = result.boot_cpu;
  } catch (const Error& e) {
    fail("kernel '{}': {}", config_.kernel_path, e.what());
  }
  // The images are in guest memory now; keep no second copy.
  kernel_image_ = {};
  initrd_image_ = {};
}

void Vm::request_stop(StopRequest request) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stop_) return;
    stop_ = std::move(request);
  }
  cv_.notify_all();
}

void Vm::vcpu_thread(unsigned index) {
  try {
    VcpuExit e = vcpus_[index]->run();
    switch (e.kind) {
      case VcpuExitKind::Stopped:
        return;
      case VcpuExitKind::Shutdown:
        request_stop({StopKind::GuestCrash, kExitGuestCrash, "guest stopped: " + e.message});
        return;
      case VcpuExitKind::Halted:
        request_stop({StopKind::GuestCrash, kExitGuestCrash,
                      fmt::format("guest stopped: vCPU {} halted with interrupts disabled (it can never wake)", index)});
        return;
      case VcpuExitKind::InternalError: {
        std::string msg = fmt::format("vCPU {}: {}", index, e.message);
        if (decision_.chosen == AccelChoice::Kvm && probe_kvm().kind == KvmKind::Pvm)
          msg += " (this host's KVM is PVM, which cannot run this guest's kernel code; try --accel emu)";
        request_stop({StopKind::GuestCrash, kExitGuestCrash, msg});
        return;
      }
    }
  } catch (const std::exception& ex) {
    request_stop({StopKind::HostError, kExitVireoError, fmt::format("vCPU {}: {}", index, ex.what())});
  }
}

int Vm::run() {
  console_ = std::make_unique<Console>();
  console_->start([this](const uint8_t* data, size_t len) { return uart_->receive(data, len); },
                  [this](EscapeEvent ev) {
                    if (ev == EscapeEvent::Quit) request_stop({StopKind::UserQuit, 0, "terminated by Ctrl-A X"});
                  });
  std::vector<std::thread> threads;
  for (unsigned i = 0; i < vcpus_.size(); ++i) threads.emplace_back([this, i] { vcpu_thread(i); });

  StopRequest stop;
  {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [this] { return stop_.has_value(); });
    stop = *stop_;
  }
  for (auto& v : vcpus_) v->kick();
  for (auto& t : threads) t.join();
  console_->stop();
  if (!stop.message.empty()) {
    if (stop.kind == StopKind::GuestCrash || stop.kind == StopKind::HostError)
      log_error("{}", stop.message);
    else
      log_info("{}", stop.message);
  }
  return stop.exit_status;
}

}  // namespace vireo
