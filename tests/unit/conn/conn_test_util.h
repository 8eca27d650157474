// Helpers for the connection-table tests: dests with a forwarding method, packet tuples, and a
// tracker on a small table with a 1 ms wheel so expiry times are exact.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <vector>

#include "conn/tracker.h"
#include "sched/dest.h"

namespace uvs::conn::test {

inline InetAddr v4(uint32_t host) { return InetAddr::v4(host); }
inline InetAddr v6(const char* text) { return *InetAddr::parse(text); }

inline constexpr uint32_t kClient = 0x0B000001;  // 11.0.0.1
inline constexpr uint32_t kVip = 0xC0A80001;     // 192.168.0.1
inline constexpr uint32_t kRip = 0x0A000001;     // 10.0.0.1
inline constexpr uint32_t kLaddr = 0xC0A86401;   // 192.168.100.1

inline Tuple tuple(const InetAddr& s, uint16_t sport, const InetAddr& d, uint16_t dport,
                   uint8_t proto = kProtoTcp) {
  return Tuple::of(static_cast<uint8_t>(s.family), proto, s, sport, d, dport);
}

// Owns dests (the control plane's job in the daemon).
class Dests {
 public:
  sched::Dest* add(const InetAddr& addr, uint16_t port, Fwd fwd = Fwd::kMasq, int32_t weight = 1) {
    DestConfig cfg;
    cfg.key.addr = addr;
    cfg.key.port = port;
    cfg.fwd = fwd;
    cfg.weight = weight;
    auto d = std::make_unique<sched::Dest>(cfg.key);
    d->apply_config(cfg, /*add=*/true);
    configs_.push_back(cfg);
    dests_.push_back(std::move(d));
    return dests_.back().get();
  }
  void set_weight(sched::Dest* d, int32_t weight) {
    for (size_t i = 0; i < dests_.size(); ++i) {
      if (dests_[i].get() != d) continue;
      configs_[i].weight = weight;
      d->apply_config(configs_[i], /*add=*/false);
    }
  }

 private:
  std::vector<std::unique_ptr<sched::Dest>> dests_;
  std::vector<DestConfig> configs_;
};

inline TrackerOptions small_options(uint32_t capacity = 1024) {
  TrackerOptions o;
  o.table.capacity = capacity;
  o.table.hash_seed = 0x5eed;
  o.wheel.slot_bits = 12;
  o.wheel.slot_shift = 0;  // 1 ms slots: expiries are exact
  o.rng_seed = 7;
  return o;
}

inline L4Info tcp_flags(uint8_t flags) {
  L4Info l4;
  l4.tcp_flags = flags;
  return l4;
}

inline L4Info sctp_chunk(uint8_t chunk) {
  L4Info l4;
  l4.sctp_chunk = chunk;
  return l4;
}

inline constexpr uint64_t kSec = 1000;

// Counters of one dest as (active, inactive, persistent).
struct Counts {
  int32_t active, inactive, persist;
  friend bool operator==(const Counts&, const Counts&) = default;
  friend std::ostream& operator<<(std::ostream& os, const Counts& c) {
    return os << "{" << c.active << "," << c.inactive << "," << c.persist << "}";
  }
};
inline Counts counts(const sched::Dest* d) {
  return {d->activeconns(), d->inactconns(), d->persistconns()};
}

}  // namespace uvs::conn::test
