// The simulation's only source of chance: xoshiro256** seeded by splitmix64, so a seed
// replays the same run exactly.
#pragma once

#include <cstdint>

namespace peregrine::sim {

class SimRandom {
 public:
  explicit SimRandom(uint64_t seed) {
    for (uint64_t& word : _s) {
      seed += 0x9E3779B97F4A7C15ull;
      uint64_t z = seed;
      z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
      z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
      word = z ^ (z >> 31);
    }
  }
  uint64_t next() {
    const uint64_t result = rotl(_s[1] * 5, 7) * 9;
    const uint64_t t = _s[1] << 17;
    _s[2] ^= _s[0];
    _s[3] ^= _s[1];
    _s[1] ^= _s[2];
    _s[0] ^= _s[3];
    _s[2] ^= t;
    _s[3] = rotl(_s[3], 45);
    return result;
  }
  // Uniform in [0, n); n > 0.
  uint64_t below(uint64_t n) { return next() % n; }
  // In [lo, hi].
  uint64_t between(uint64_t lo, uint64_t hi) { return lo + below(hi - lo + 1); }
  // True with probability `percent` / 100.
  bool chance(uint32_t percent) { return below(100) < percent; }

 private:
  static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  uint64_t _s[4];
};

}  // namespace peregrine::sim
