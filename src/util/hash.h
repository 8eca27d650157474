// The hashing and random primitives the whole tree shares: one SplitMix64 (Steele, Lea, Flood
// 2014) for seeded streams and seeds, its finaliser for hashing words, and the 32-bit
// multiplicative mix the data path uses to spread flows over workers and slots.
#pragma once

#include <cstdint>

namespace uvs::util {

inline constexpr uint64_t kGolden64 = 0x9E3779B97F4A7C15ULL;  // 2^64 / phi
inline constexpr uint32_t kGolden32 = 0x9E3779B1u;            // 2^32 / phi, rounded to a prime

// SplitMix64's output function: a bijective 64-bit mix, good enough to hash table keys.
inline uint64_t mix64(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

// A small seeded generator: each owner (worker, table, tracker) keeps its own, so draws need no
// shared state, and a fixed seed gives a reproducible sequence (tests).
class SplitMix64 {
 public:
  explicit SplitMix64(uint64_t seed) : state_(seed) {}

  uint64_t next() {
    state_ += kGolden64;
    return mix64(state_);
  }

  // Uniform in [0, bound), bound > 0: the kernel's get_random_u32_below(). Lemire's
  // multiply-and-reject, so there is no modulo bias and rarely a second draw.
  uint64_t below(uint64_t bound) {
    unsigned __int128 product = static_cast<unsigned __int128>(next()) * bound;
    uint64_t low = static_cast<uint64_t>(product);
    if (low < bound) {
      const uint64_t threshold = -bound % bound;
      while (low < threshold) {
        product = static_cast<unsigned __int128>(next()) * bound;
        low = static_cast<uint64_t>(product);
      }
    }
    return static_cast<uint64_t>(product >> 64);
  }

 private:
  uint64_t state_;
};

// Knuth's multiplicative hash with a final xor-shift: spreads a 32-bit key (already folded
// from addresses and ports) over a power-of-two or modulo range.
inline uint32_t mix32(uint32_t key) {
  uint32_t h = key * kGolden32;
  return h ^ (h >> 16);
}

}  // namespace uvs::util
