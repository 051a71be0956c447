// Rng: a small seeded pseudo-random generator (xoshiro256**), so a seed reproduces
// every generated test case on any host.
#pragma once

#include <cstdint>

namespace vireo::difftest {

class Rng {
 public:
  explicit Rng(uint64_t seed) {
    // Expand the seed with splitmix64 so nearby seeds give unrelated streams.
    for (uint64_t& s : s_) {
      seed += 0x9e3779b97f4a7c15ull;
      uint64_t z = seed;
      z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
      z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
      s = z ^ (z >> 31);
    }
  }
  uint64_t next() {
    uint64_t result = rotl(s_[1] * 5, 7) * 9;
    uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = rotl(s_[3], 45);
    return result;
  }
  // Uniform in [0, n), n > 0.
  uint64_t below(uint64_t n) { return next() % n; }
  bool chance(unsigned percent) { return below(100) < percent; }
  template <typename T, size_t N>
  const T& pick(const T (&items)[N]) { return items[below(N)]; }
  // Values that find edge cases more often than uniform ones: 0, ±1, powers of two,
  // sign boundaries, all ones, or fully random.
  uint64_t interesting() {
    switch (below(8)) {
      case 0: return 0;
      case 1: return ~0ull;
      case 2: return 1ull << below(64);
      case 3: return (1ull << below(64)) - 1;
      case 4: return below(256);
      case 5: return 0x80ull << (8 * below(8));
      default: return next();
    }
  }

 private:
  static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  uint64_t s_[4];
};

}  // namespace vireo::difftest
