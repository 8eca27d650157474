// Helpers for the scheduler tests: a service with named dests and a few packet-key builders.
#pragma once

#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "sched/registry.h"
#include "sched/service_sched.h"

namespace uvs::sched::test {

inline DestConfig dest_config(uint32_t host, int32_t weight, uint32_t u_threshold = 0,
                              uint32_t l_threshold = 0) {
  DestConfig c;
  c.key.addr = InetAddr::v4(host);
  c.key.port = 80;
  c.weight = weight;
  c.u_threshold = u_threshold;
  c.l_threshold = l_threshold;
  return c;
}

inline PacketKey client(uint32_t saddr, uint16_t sport = 1024, uint8_t protocol = kProtoTcp) {
  PacketKey k;
  k.saddr = InetAddr::v4(saddr);
  k.daddr = InetAddr::v4(0xC0A80001);  // 192.168.0.1, the VIP
  k.sport = sport;
  k.protocol = protocol;
  return k;
}

inline PacketKey to_daddr(uint32_t daddr) {
  PacketKey k;
  k.saddr = InetAddr::v4(0x0B000001);
  k.daddr = InetAddr::v4(daddr);
  k.sport = 1024;
  k.protocol = kProtoTcp;
  return k;
}

// Brings a dest's counters to the given values through the connection-table calls.
inline void set_conns(Dest& d, int active, int inactive) {
  while (d.activeconns() < active) d.bind_conn(ConnKind::kActive);
  while (d.activeconns() > active) d.unbind_conn(ConnKind::kActive);
  while (d.inactconns() < inactive) d.bind_conn(ConnKind::kInactive);
  while (d.inactconns() > inactive) d.unbind_conn(ConnKind::kInactive);
}

// A service bound to one scheduler, with dests named "A", "B", ... for readable expectations.
class TestService {
 public:
  explicit TestService(std::string_view scheduler, uint32_t flags = 0, unsigned workers = 1,
                       SchedOptions options = with_seed())
      : svc_(*find_scheduler(scheduler), flags, workers, options) {}

  static SchedOptions with_seed() {
    SchedOptions o;
    o.rng_seed = 42;
    o.locality_capacity = 1024;
    return o;
  }

  Dest& add(const std::string& name, int32_t weight, uint32_t u_threshold = 0,
            uint32_t l_threshold = 0) {
    auto d = std::make_shared<Dest>(dest_config(next_host_, weight).key);
    configs_[d.get()] = dest_config(next_host_++, weight, u_threshold, l_threshold);
    EXPECT_EQ(svc_.add_dest(d, configs_[d.get()]), 0);
    names_[d.get()] = name;
    by_name_[name] = d;
    return *d;
  }
  // Re-adds a deleted dest (the kernel's trash), keeping its counters.
  int revive(const std::string& name, int32_t weight) {
    auto d = by_name_.at(name);
    configs_[d.get()].weight = weight;
    return svc_.add_dest(d, configs_[d.get()]);
  }
  Dest& dest(const std::string& name) { return *by_name_.at(name); }
  int del(const std::string& name) { return svc_.del_dest(*by_name_.at(name)); }
  int set_weight(const std::string& name, int32_t weight) {
    Dest& d = dest(name);
    configs_[&d].weight = weight;
    return svc_.edit_dest(d, configs_[&d]);
  }
  int set_thresholds(const std::string& name, uint32_t upper, uint32_t lower) {
    Dest& d = dest(name);
    configs_[&d].u_threshold = upper;
    configs_[&d].l_threshold = lower;
    return svc_.edit_dest(d, configs_[&d]);
  }

  Dest* pick(const PacketKey& key = client(0x0B000001), unsigned worker = 0, Nanos now = {}) {
    return svc_.view()->schedule(worker, key, now);
  }
  std::string name(const Dest* d) const { return d == nullptr ? "-" : names_.at(d); }
  std::string pick_name(const PacketKey& key = client(0x0B000001), unsigned worker = 0,
                        Nanos now = {}) {
    return name(pick(key, worker, now));
  }
  // `count` picks, names joined by spaces.
  std::string sequence(int count, unsigned worker = 0) {
    std::string out;
    for (int i = 0; i < count; ++i) out += (i ? " " : "") + pick_name(client(0x0B000001), worker);
    return out;
  }

  ServiceSched& svc() { return svc_; }

 private:
  ServiceSched svc_;
  uint32_t next_host_ = 0x0A000001;  // 10.0.0.1, .2, ...
  std::map<const Dest*, DestConfig> configs_;
  std::map<const Dest*, std::string> names_;
  std::map<std::string, std::shared_ptr<Dest>> by_name_;
};

// Spread of sh and mh (ip_vs_sh.c, ip_vs_mh.c): over many random clients, each of four real servers
// weighted 1..4 gets its weight's share (10/20/30/40 %) within 2 points.
inline void expect_shares_follow_weights(const char* scheduler, uint32_t seed) {
  TestService s(scheduler);
  s.add("A", 1);
  s.add("B", 2);
  s.add("C", 3);
  s.add("D", 4);
  std::mt19937 rng(seed);
  std::map<std::string, int> n;
  const int clients = 200000;
  for (int i = 0; i < clients; ++i) ++n[s.pick_name(client(rng()))];
  EXPECT_NEAR(n["A"] / double(clients), 0.1, 0.02);
  EXPECT_NEAR(n["B"] / double(clients), 0.2, 0.02);
  EXPECT_NEAR(n["C"] / double(clients), 0.3, 0.02);
  EXPECT_NEAR(n["D"] / double(clients), 0.4, 0.02);
}

}  // namespace uvs::sched::test
