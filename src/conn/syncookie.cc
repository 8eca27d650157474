#include "conn/syncookie.h"

#include <sys/random.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "sched/hash.h"

namespace uvs::conn {

namespace {

constexpr uint32_t kCountBits = 24;
constexpr uint32_t kDataMask = (1u << kCountBits) - 1;
constexpr uint32_t kMssShift = 12, kWscaleShift = 16;
constexpr uint32_t kTimestampBit = 1u << 20, kSackBit = 1u << 21;
constexpr uint32_t kUsedBits = 0xfu << kMssShift | 0xfu << kWscaleShift | kTimestampBit | kSackBit;
constexpr uint64_t kMinuteMs = 60000;

// The tuple as hashed: family, both addresses (16 bytes each), both ports, and the count.
struct HashInput {
  uint8_t bytes[1 + 16 + 16 + 2 + 2 + 4];
  size_t len;
};

HashInput hash_input(const CookieTuple& t, const uint32_t* count) {
  HashInput in{};
  uint8_t* p = in.bytes;
  *p++ = t.saddr.family;
  std::memcpy(p, t.saddr.bytes.data(), 16);
  p += 16;
  std::memcpy(p, t.daddr.bytes.data(), 16);
  p += 16;
  *p++ = static_cast<uint8_t>(t.sport >> 8);
  *p++ = static_cast<uint8_t>(t.sport);
  *p++ = static_cast<uint8_t>(t.dport >> 8);
  *p++ = static_cast<uint8_t>(t.dport);
  if (count) {
    std::memcpy(p, count, 4);
    p += 4;
  }
  in.len = static_cast<size_t>(p - in.bytes);
  return in;
}

}  // namespace

SynCookies::Secret SynCookies::random_secret() {
  Secret s;
  uint8_t* out = reinterpret_cast<uint8_t*>(s.data());
  size_t got = 0;
  while (got < sizeof(s)) {
    const ssize_t n = getrandom(out + got, sizeof(s) - got, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      std::perror("uvsd: getrandom");
      std::abort();
    }
    got += static_cast<size_t>(n);
  }
  return s;
}

SynCookies::SynCookies(const Secret& secret) : secret_(secret) {}

uint32_t SynCookies::encode(const SynOptions& opts) {
  uint32_t index = 0;
  for (uint32_t i = 0; i < kCookieMss.size(); ++i)
    if (kCookieMss[i] <= opts.mss) index = i;
  // RFC 7323: a shift above 14 is used as 14.
  const uint32_t wscale = opts.has_wscale() && opts.wscale > 14 ? 14 : opts.wscale & 0xfu;
  return index << kMssShift | wscale << kWscaleShift |
         (opts.timestamps ? kTimestampBit : 0) | (opts.sack ? kSackBit : 0);
}

std::optional<SynOptions> SynCookies::decode(uint32_t data) {
  if (data & ~kUsedBits) return std::nullopt;
  const uint32_t index = data >> kMssShift & 0xf;
  const uint32_t wscale = data >> kWscaleShift & 0xf;
  if (index >= kCookieMss.size()) return std::nullopt;
  SynOptions o;
  o.mss = kCookieMss[index];
  o.wscale = static_cast<uint8_t>(wscale);
  o.timestamps = data & kTimestampBit;
  o.sack = data & kSackBit;
  return o;
}

// Keys of rotation r: SipHash of (r, i) under the secret, a PRF, so one rotation's keys tell
// nothing of another's. The two latest are cached: a check needs at most the previous one.
const SynCookies::Keys& SynCookies::keys_for(uint64_t minute) {
  const uint64_t rotation = minute / kRotateMinutes;
  for (const Keys& k : cache_)
    if (k.rotation == rotation) return k;
  // An empty slot (rotation UINT64_MAX) first, else the older rotation's.
  Keys* slot = &cache_[0];
  if (cache_[0].rotation != UINT64_MAX &&
      (cache_[1].rotation == UINT64_MAX || cache_[1].rotation < cache_[0].rotation))
    slot = &cache_[1];
  slot->rotation = rotation;
  for (uint64_t i = 0; i < 4; ++i) {
    const uint64_t in[2] = {rotation, i};
    slot->k[i] = sched::siphash<2, 4>(secret_[i & 2], secret_[(i & 2) + 1],
                                     reinterpret_cast<const uint8_t*>(in), sizeof(in));
  }
  return *slot;
}

uint32_t SynCookies::h0(const Keys& k, const CookieTuple& t) {
  const HashInput in = hash_input(t, nullptr);
  return static_cast<uint32_t>(sched::siphash<2, 4>(k.k[0], k.k[1], in.bytes, in.len));
}

uint32_t SynCookies::h1(const Keys& k, const CookieTuple& t, uint32_t count) {
  const HashInput in = hash_input(t, &count);
  return static_cast<uint32_t>(sched::siphash<2, 4>(k.k[2], k.k[3], in.bytes, in.len));
}

uint32_t SynCookies::make(const CookieTuple& t, uint32_t client_isn, const SynOptions& opts,
                          uint64_t now_ms) {
  const uint64_t minute = now_ms / kMinuteMs;
  const uint32_t count = static_cast<uint32_t>(minute);
  const Keys& k = keys_for(minute);
  return h0(k, t) + client_isn + (count << kCountBits) +
         ((h1(k, t, count) + encode(opts)) & kDataMask);
}

std::optional<SynOptions> SynCookies::check(const CookieTuple& t, uint32_t client_isn,
                                            uint32_t cookie, uint64_t now_ms) {
  const uint64_t now_minute = now_ms / kMinuteMs;
  // H0 depends on the rotation the cookie was made in: the current one, or, early in a
  // rotation, the previous one. Each candidate age names its minute, hence its keys.
  for (uint32_t age = 0; age < kMaxAgeMinutes && age <= now_minute; ++age) {
    const uint64_t minute = now_minute - age;
    const Keys& k = keys_for(minute);
    const uint32_t rest = cookie - h0(k, t) - client_isn;
    const uint32_t count = static_cast<uint32_t>(minute);
    if ((rest >> kCountBits) != (count & 0xff)) continue;
    const uint32_t data = (rest - h1(k, t, count)) & kDataMask;
    if (auto opts = decode(data)) return opts;
  }
  return std::nullopt;
}

}  // namespace uvs::conn
