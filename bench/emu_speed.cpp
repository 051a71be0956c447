// Instructions per second of vireo's x86-64 interpreter on compute-bound bare-metal
// guests, beside the same loop run natively, under QEMU TCG and under Bochs,
// alternating in one run. Prints medians and ratios.
//
// Guests: tests/guests/bench_checksum.asm (an integer checksum, 8 instructions per
// iteration) and tests/guests/bench_memcpy.asm (an 8-byte load/store copy loop, 6
// instructions per iteration). Each image carries a header ("VIREOKRN") with the
// loop kernel's length, its instructions per iteration and the iteration count,
// which this program patches. A machine's figure is the wall time of a run with N
// iterations minus that of a run with 0 (start-up, firmware and exit cancel out),
// both medians over the rounds.
//
//   native   the kernel's bytes from the image, copied into executable memory of
//            this process and called (ring 3 on the host CPU; on this project's
//            PVM hosts that is also where KVM runs ring-3 guest code)
//   vireo    vireo run --accel emu --device debug-exit --kernel IMAGE (64-bit entry),
//            hot blocks translated to host code (the default)
//   vireo-int the same with --jit off: the interpreter alone
//   qemu     qemu-system-x86_64 -accel tcg -M microvm -kernel IMAGE with
//            isa-debug-exit (the image's 32-bit entry builds its own page tables)
//   bochs    the image as a 1.44 MB floppy (its boot sector loads the rest) with
//            Bochs's BIOS; the guest quits through Bochs's shutdown port
//
//   emu_speed [--iterations N] [--rounds R] [--only vireo,native,qemu,bochs]
#include <fcntl.h>
#include <spawn.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "base/error.h"
#include "base/file.h"

extern char** environ;

using namespace vireo;
using Clock = std::chrono::steady_clock;
namespace fs = std::filesystem;

namespace {

constexpr char kMagic[] = "VIREOKRN";
constexpr uint64_t kDefaultIterations = 10'000'000;

struct BenchGuest {
  std::string name;
  std::vector<uint8_t> image;
  size_t header = 0;  // offset of the magic
  uint32_t kernel_len = 0;
  uint32_t insns_per_iteration = 0;

  size_t kernel_offset() const { return header + 24; }
  std::vector<uint8_t> with_iterations(uint64_t n) const {
    std::vector<uint8_t> img = image;
    std::memcpy(img.data() + header + 16, &n, 8);
    return img;
  }
};

BenchGuest load_guest(const std::string& name) {
  BenchGuest g;
  g.name = name;
  g.image = read_file(std::string(VIREO_GUEST_DIR) + "/" + name + ".bin", "benchmark guest");
  auto it = std::search(g.image.begin(), g.image.end(), kMagic, kMagic + 8);
  if (it == g.image.end()) fail("{}.bin has no {} header: rebuild the test guests", name, kMagic);
  g.header = size_t(it - g.image.begin());
  if (g.header + 24 > g.image.size()) fail("{}.bin: truncated benchmark header", name);
  std::memcpy(&g.kernel_len, g.image.data() + g.header + 8, 4);
  std::memcpy(&g.insns_per_iteration, g.image.data() + g.header + 12, 4);
  if (g.kernel_offset() + g.kernel_len > g.image.size() || g.insns_per_iteration == 0)
    fail("{}.bin: bad benchmark header", name);
  return g;
}

void write_bytes(const fs::path& p, const std::vector<uint8_t>& bytes, size_t pad_to = 0) {
  std::ofstream f(p, std::ios::binary | std::ios::trunc);
  f.write(reinterpret_cast<const char*>(bytes.data()), std::streamsize(bytes.size()));
  if (pad_to > bytes.size()) {
    std::vector<char> zeros(pad_to - bytes.size(), 0);
    f.write(zeros.data(), std::streamsize(zeros.size()));
  }
  if (!f) fail("cannot write {}", p.string());
}

// Runs argv with stdout/stderr to `log` and stdin from `input` (or /dev/null);
// returns the wall time in seconds and the exit status in *status.
double run_timed(const std::vector<std::string>& argv, const std::string& input, const std::string& log,
                 int* status) {
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, input.empty() ? "/dev/null" : input.c_str(), O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 1, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_adddup2(&fa, 1, 2);
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid;
  auto t0 = Clock::now();
  int rc = posix_spawnp(&pid, args[0], &fa, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  if (rc != 0) fail("cannot start {}: {}", argv[0], std::strerror(rc));
  int st = 0;
  waitpid(pid, &st, 0);
  double seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  *status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
  return seconds;
}

bool have_program(const std::string& name) {
  for (const char* dir : {"/usr/bin", "/usr/local/bin", "/bin"})
    if (access((std::string(dir) + "/" + name).c_str(), X_OK) == 0) return true;
  return false;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

// One machine that runs the guest image: prepares files once, then runs an image
// with a given iteration count and returns its wall time.
struct Machine {
  std::string name;
  virtual ~Machine() = default;
  virtual double run(const BenchGuest& g, uint64_t iterations) = 0;
};

struct TempDir {
  fs::path path;
  TempDir() {
    char tmpl[] = "/tmp/vireo-emu-speed-XXXXXX";
    if (!mkdtemp(tmpl)) fail("cannot create a temporary directory: {}", std::strerror(errno));
    path = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
};

struct NativeMachine : Machine {
  NativeMachine() { name = "native"; }
  double run(const BenchGuest& g, uint64_t iterations) override {
    size_t len = (g.kernel_len + 4095) & ~size_t(4095);
    void* code = mmap(nullptr, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (code == MAP_FAILED) fail("mmap: {}", std::strerror(errno));
    std::memcpy(code, g.image.data() + g.kernel_offset(), g.kernel_len);
    if (mprotect(code, len, PROT_READ | PROT_EXEC) != 0) fail("mprotect: {}", std::strerror(errno));
    std::vector<uint64_t> buffer(2 * 65536 / 8 + 512, 0);  // what the guests use at 0x200000
    // kernel(rdi = buffer, rcx = iterations): rcx is the fourth argument register.
    using Kernel = uint64_t (*)(void*, uint64_t, uint64_t, uint64_t);
    auto kernel = reinterpret_cast<Kernel>(code);
    auto t0 = Clock::now();
    volatile uint64_t sink = kernel(buffer.data(), 0, 0, iterations);
    double s = std::chrono::duration<double>(Clock::now() - t0).count();
    (void)sink;
    munmap(code, len);
    return s;
  }
};

struct ProcessMachine : Machine {
  fs::path dir;
  int expected_status = 1;  // the debug-exit device's (0 << 1) | 1
  std::string input;
  std::string done_marker;  // text the log must contain after a good run
  virtual std::vector<std::string> command(const fs::path& image) = 0;
  virtual void write_image(const fs::path& p, const std::vector<uint8_t>& img) { write_bytes(p, img); }
  double run(const BenchGuest& g, uint64_t iterations) override {
    fs::path image = dir / (name + "-" + g.name + ".img");
    write_image(image, g.with_iterations(iterations));
    std::string log = (dir / (name + ".log")).string();
    int status = 0;
    double s = run_timed(command(image), input, log, &status);
    bool ok = status == expected_status;
    if (ok && !done_marker.empty()) {
      std::ifstream f(log);
      std::string text((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
      ok = text.find(done_marker) != std::string::npos;
    }
    if (!ok) fail("{} did not finish {} (exit status {}); its output is in {}", name, g.name, status, log);
    return s;
  }
};

// vireo's emulator as it runs by default (hot blocks translated), or (`interp`)
// with --jit off: the interpreter alone.
struct VireoMachine : ProcessMachine {
  bool interp;
  VireoMachine(const fs::path& d, bool interpreter_only) : interp(interpreter_only) {
    name = interp ? "vireo-int" : "vireo";
    dir = d;
  }
  std::vector<std::string> command(const fs::path& image) override {
    return {VIREO_BINARY, "run",        "--accel", "emu",  "--jit",   interp ? "off" : "on",
            "-m",         "256M",       "--device", "debug-exit", "--kernel", image.string()};
  }
};

struct QemuMachine : ProcessMachine {
  explicit QemuMachine(const fs::path& d) {
    name = "qemu-tcg";
    dir = d;
  }
  std::vector<std::string> command(const fs::path& image) override {
    return {"qemu-system-x86_64", "-accel", "tcg", "-M", "microvm", "-m", "256M", "-nodefaults", "-no-user-config",
            "-display", "none", "-device", "isa-debug-exit,iobase=0xf4,iosize=4", "-kernel", image.string()};
  }
};

struct BochsMachine : ProcessMachine {
  explicit BochsMachine(const fs::path& d) {
    name = "bochs";
    dir = d;
    // Debian's Bochs has its debugger built in: it stops before the first
    // instruction and reads commands; "c" continues.
    input = (dir / "bochs-commands").string();
    write_bytes(input, {'c', '\n'});
    done_marker = "Shutdown port: shutdown requested";
  }
  void write_image(const fs::path& p, const std::vector<uint8_t>& img) override { write_bytes(p, img, 1474560); }
  std::vector<std::string> command(const fs::path& image) override {
    fs::path rc = dir / "bochsrc";
    std::ofstream f(rc, std::ios::trunc);
    f << "megs: 64\n"
         "romimage: file=/usr/share/bochs/BIOS-bochs-latest\n"
         "vgaromimage: file=/usr/share/bochs/VGABIOS-lgpl-latest\n"
         "floppya: 1_44="
      << image.string()
      << ", status=inserted\n"
         "boot: floppy\n"
         "display_library: rfb, options=\"timeout=0\"\n"
         "log: /dev/null\n"
         "panic: action=fatal\n"
         "error: action=report\n"
         "clock: sync=none\n"
         "cpu: model=corei7_sandy_bridge_2600k\n"
         "speaker: enabled=0\n"
         "sound: waveoutdrv=dummy, waveindrv=dummy, midioutdrv=dummy\n";
    if (!f) fail("cannot write {}", rc.string());
    return {"bochs", "-q", "-f", rc.string()};
  }
};

}  // namespace

int main(int argc, char** argv) {
  uint64_t iterations = kDefaultIterations;
  int rounds = 3;
  std::string only;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--iterations" && i + 1 < argc) {
      iterations = std::stoull(argv[++i]);
    } else if (a == "--rounds" && i + 1 < argc) {
      rounds = std::max(1, std::stoi(argv[++i]));
    } else if (a == "--only" && i + 1 < argc) {
      only = argv[++i];
    } else {
      std::fprintf(stderr, "usage: emu_speed [--iterations N] [--rounds R] [--only vireo,native,qemu,bochs]\n");
      return 2;
    }
  }
  auto wanted = [&](const char* n) { return only.empty() || only.find(n) != std::string::npos; };
  try {
    TempDir tmp;
    std::vector<std::unique_ptr<Machine>> machines;
    if (wanted("native")) machines.push_back(std::make_unique<NativeMachine>());
    if (wanted("vireo")) {
      machines.push_back(std::make_unique<VireoMachine>(tmp.path, false));
      machines.push_back(std::make_unique<VireoMachine>(tmp.path, true));
    }
    if (wanted("qemu")) {
      if (have_program("qemu-system-x86_64")) {
        machines.push_back(std::make_unique<QemuMachine>(tmp.path));
      } else {
        std::printf("emu_speed: qemu-system-x86_64 is not installed (scripts/install-deps.sh --bench): skipped\n");
      }
    }
    if (wanted("bochs")) {
      if (have_program("bochs") && fs::exists("/usr/share/bochs/BIOS-bochs-latest") &&
          fs::exists("/usr/share/bochs/VGABIOS-lgpl-latest")) {
        machines.push_back(std::make_unique<BochsMachine>(tmp.path));
      } else {
        std::printf("emu_speed: bochs, bochsbios or vgabios is not installed (scripts/install-deps.sh --bench): "
                    "skipped\n");
      }
    }
    std::vector<BenchGuest> guests = {load_guest("bench_checksum"), load_guest("bench_memcpy")};

    // times[guest][machine] = {runs with N iterations, runs with 0}
    std::map<std::string, std::map<std::string, std::pair<std::vector<double>, std::vector<double>>>> times;
    for (int r = 0; r < rounds; ++r) {
      for (const BenchGuest& g : guests) {
        for (auto& m : machines) {
          auto& t = times[g.name][m->name];
          t.first.push_back(m->run(g, iterations));
          t.second.push_back(m->run(g, 0));
        }
      }
    }

    std::printf("emulator speed: %llu loop iterations per run, %d rounds, medians; loop time = time(N) - time(0)\n",
                static_cast<unsigned long long>(iterations), rounds);
    std::printf("native = the loop's bytes called in this process (ring 3 on the host CPU)\n");
    for (const BenchGuest& g : guests) {
      double insns = double(iterations) * g.insns_per_iteration;
      std::printf("\n%s (%u instructions per iteration, %.0f M instructions)\n", g.name.c_str(),
                  g.insns_per_iteration, insns / 1e6);
      std::printf("  %-9s %10s %10s %10s %12s\n", "machine", "run (s)", "empty (s)", "loop (s)", "M insn/s");
      std::map<std::string, double> rate;
      for (auto& m : machines) {
        auto& t = times[g.name][m->name];
        double full = median(t.first), empty = median(t.second);
        double loop = std::max(full - empty, 1e-9);
        rate[m->name] = insns / loop;
        std::printf("  %-9s %10.3f %10.3f %10.3f %12.1f\n", m->name.c_str(), full, empty, loop, rate[m->name] / 1e6);
      }
      if (rate.count("vireo")) {
        double v = rate["vireo"];
        if (rate.count("native")) std::printf("  vireo slowdown vs native      : %8.1fx\n", rate["native"] / v);
        if (rate.count("qemu-tcg"))
          std::printf("  vireo vs QEMU TCG (time ratio): %8.2fx  (target <= 3)\n", rate["qemu-tcg"] / v);
        if (rate.count("bochs"))
          std::printf("  vireo vs Bochs (time ratio)   : %8.2fx  (target < 1)\n", rate["bochs"] / v);
        if (rate.count("vireo-int"))
          std::printf("  translation speed-up         : %8.1fx  (vireo with --jit off / vireo)\n", v / rate["vireo-int"]);
      }
    }
  } catch (const Error& e) {
    std::fprintf(stderr, "emu_speed: %s\n", e.what());
    return 1;
  }
  return 0;
}
