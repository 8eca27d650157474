// Stateless SYN cookies for the SYN proxy (Alibaba LVS's ip_vs_synproxy.c, built on the
// kernel's classic secure_tcp_syn_cookie()/check_tcp_syn_cookie() layout):
//
//   cookie = H0(tuple) + client_isn + (count << 24) + ((H1(tuple, count) + data) & 0xffffff)
//
// `count` is the minute counter, `data` the client's SYN options in bits 12..21: MSS table
// index (12..15), window-scale shift (16..19, 15 = none offered), timestamps (20), SACK (21).
// Bits 0..11 and 22..23 of `data` are zero, so a guessed cookie must also hit them. H0 and H1
// are SipHash-2-4 (sched/hash.h) under keys derived from a secret drawn from getrandom(); the
// keys change every kRotateMinutes (derived from the secret and the rotation number, so no
// system call is needed to rotate), and a cookie is accepted for kMaxAgeMinutes counts.
//
// One instance per worker (the ACK of a SYN arrives at the worker that answered the SYN); no
// allocation, no locks, no system call after construction.
#pragma once

#include <array>
#include <cstdint>
#include <optional>

#include "model/address.h"

namespace uvs::conn {

// The client's SYN options a cookie carries to the real server's SYN.
struct SynOptions {
  uint16_t mss = 536;     // a table value (kCookieMss), the largest not above the client's
  uint8_t wscale = 0xf;   // the client's window-scale shift, 0xf when it offered none
  bool timestamps = false;
  bool sack = false;

  bool has_wscale() const { return wscale != 0xf; }
  friend bool operator==(const SynOptions&, const SynOptions&) = default;
};

// The MSS values a cookie can carry (the Alibaba patch's table, each +1).
inline constexpr std::array<uint16_t, 10> kCookieMss = {64,   256,  512,  536,  1024,
                                                        1280, 1440, 1452, 1460, 4312};

// The connection a cookie belongs to: the client's SYN as it arrived.
struct CookieTuple {
  InetAddr saddr, daddr;
  uint16_t sport = 0, dport = 0;  // host order
};

class SynCookies {
 public:
  static constexpr uint32_t kMaxAgeMinutes = 4;   // counts accepted: now, now-1 .. now-3
  static constexpr uint32_t kRotateMinutes = 16;  // keys change this often (> the window)
  using Secret = std::array<uint64_t, 4>;

  // From the system's CSPRNG (getrandom()); aborts if it has none.
  static Secret random_secret();
  explicit SynCookies(const Secret& secret);

  // The cookie ISN for a SYN received at now_ms (a monotonic clock in milliseconds).
  uint32_t make(const CookieTuple& t, uint32_t client_isn, const SynOptions& opts,
                uint64_t now_ms);
  // For the client's ACK: `cookie` is its ack - 1, `client_isn` its seq - 1. The options
  // encoded, or none when the cookie is not ours for this tuple, or too old.
  std::optional<SynOptions> check(const CookieTuple& t, uint32_t client_isn, uint32_t cookie,
                                  uint64_t now_ms);

  // The option bits of `data` (exposed for tests).
  static uint32_t encode(const SynOptions& opts);
  static std::optional<SynOptions> decode(uint32_t data);

 private:
  struct Keys {
    uint64_t rotation = UINT64_MAX;
    uint64_t k[4] = {};  // H0's key (k[0], k[1]), H1's (k[2], k[3])
  };
  const Keys& keys_for(uint64_t minute);
  static uint32_t h0(const Keys& k, const CookieTuple& t);
  static uint32_t h1(const Keys& k, const CookieTuple& t, uint32_t count);

  Secret secret_;
  Keys cache_[2];  // the two latest rotations used
};

}  // namespace uvs::conn
