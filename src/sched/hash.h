// The hash functions the hashing schedulers use: the kernel's ip_vs_dh_hashkey(),
// ip_vs_sh_hashkey(), ip_vs_mh_hashkey() and ip_vs_lblc_hashkey()/ip_vs_lblcr_hashkey().
#pragma once

#include <cstddef>
#include <cstdint>

#include "model/address.h"

namespace uvs::sched {

// The kernel's hash_32(): multiply by the 32-bit golden ratio and keep the top `bits` bits.
inline constexpr uint32_t kGoldenRatio32 = 0x61C88647;
constexpr uint32_t hash_32(uint32_t value, unsigned bits) {
  return (value * kGoldenRatio32) >> (32 - bits);
}

// ntohl(ip_vs_addr_fold(addr)): IPv4 is the address itself, IPv6 the XOR of its four words.
inline uint32_t addr_fold(const InetAddr& addr) { return addr.fold(); }

// SipHash-c-d (Aumasson & Bernstein) with a 128-bit key given as two little-endian words.
// Generic form, used to check the fast path below against the published test vectors.
namespace siphash_detail {

constexpr uint64_t rotl(uint64_t x, int b) { return (x << b) | (x >> (64 - b)); }

struct State {
  uint64_t v0, v1, v2, v3;
  constexpr State(uint64_t k0, uint64_t k1)
      : v0(k0 ^ 0x736f6d6570736575ULL),
        v1(k1 ^ 0x646f72616e646f6dULL),
        v2(k0 ^ 0x6c7967656e657261ULL),
        v3(k1 ^ 0x7465646279746573ULL) {}
  constexpr void round() {
    v0 += v1;
    v1 = rotl(v1, 13);
    v1 ^= v0;
    v0 = rotl(v0, 32);
    v2 += v3;
    v3 = rotl(v3, 16);
    v3 ^= v2;
    v0 += v3;
    v3 = rotl(v3, 21);
    v3 ^= v0;
    v2 += v1;
    v1 = rotl(v1, 17);
    v1 ^= v2;
    v2 = rotl(v2, 32);
  }
  constexpr void absorb(uint64_t m, int rounds) {
    v3 ^= m;
    for (int i = 0; i < rounds; ++i) round();
    v0 ^= m;
  }
  constexpr uint64_t finish(int rounds) {
    v2 ^= 0xff;
    for (int i = 0; i < rounds; ++i) round();
    return v0 ^ v1 ^ v2 ^ v3;
  }
};

}  // namespace siphash_detail

template <int kCompressionRounds, int kFinalRounds>
uint64_t siphash(uint64_t k0, uint64_t k1, const uint8_t* data, size_t len) {
  siphash_detail::State s(k0, k1);
  const size_t whole = len & ~size_t{7};
  for (size_t i = 0; i < whole; i += 8) {
    uint64_t m = 0;
    for (int b = 0; b < 8; ++b) m |= uint64_t{data[i + b]} << (8 * b);
    s.absorb(m, kCompressionRounds);
  }
  uint64_t last = uint64_t{len} << 56;
  for (size_t b = 0; b < (len & 7); ++b) last |= uint64_t{data[whole + b]} << (8 * b);
  s.absorb(last, kCompressionRounds);
  return s.finish(kFinalRounds);
}

// SipHash-1-3 of one 32-bit value (its 4 little-endian bytes), truncated to 32 bits: what the
// kernel's hsiphash() computes on 64-bit machines. The fixed-length form costs 4 rounds and no
// loops, which keeps an mh pick in a few nanoseconds.
constexpr uint32_t siphash13_u32(uint32_t value, uint64_t k0, uint64_t k1) {
  siphash_detail::State s(k0, k1);
  s.absorb((uint64_t{4} << 56) | value, 1);
  return static_cast<uint32_t>(s.finish(3));
}

}  // namespace uvs::sched
