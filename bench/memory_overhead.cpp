// VMM memory overhead: peak RSS of a `vireo run` process minus the guest memory the
// guest touched. Guest: tests/guests/mem_touch.asm (touches exactly 64 MiB, then
// powers off). Target: under 5 MiB.
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

namespace {

constexpr double kTouchedMiB = 64.0;

// Runs vireo on the guest; returns peak RSS in KiB, or -1.
long peak_rss_kib(const std::string& accel) {
  std::string guest = std::string(VIREO_GUEST_DIR) + "/mem_touch.bin";
  pid_t pid = fork();
  if (pid == 0) {
    int null = open("/dev/null", 0);
    dup2(null, 0);
    execl(VIREO_BINARY, VIREO_BINARY, "-q", "run", "--accel", accel.c_str(), "--kernel", guest.c_str(), "--memory",
          "256M", static_cast<char*>(nullptr));
    _exit(127);
  }
  int status = 0;
  struct rusage ru {};
  if (wait4(pid, &status, 0, &ru) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) return -1;
  return ru.ru_maxrss;
}

}  // namespace

int main(int argc, char** argv) {
  int rounds = argc > 1 ? std::atoi(argv[1]) : 5;
  std::string accel = argc > 2 ? argv[2] : "kvm";
  std::vector<long> rss;
  for (int i = 0; i < rounds; ++i) {
    long r = peak_rss_kib(accel);
    if (r < 0) {
      std::fprintf(stderr, "memory_overhead: vireo run --accel %s failed\n", accel.c_str());
      return 1;
    }
    rss.push_back(r);
  }
  std::sort(rss.begin(), rss.end());
  double peak = rss[rss.size() / 2] / 1024.0;
  std::printf("VMM memory overhead (--accel %s, guest touches %.0f MiB of 256 MiB, median of %d runs)\n",
              accel.c_str(), kTouchedMiB, rounds);
  std::printf("  peak RSS          : %7.1f MiB\n", peak);
  std::printf("  overhead          : %7.1f MiB  (target < 5 MiB)\n", peak - kTouchedMiB);
  return 0;
}
