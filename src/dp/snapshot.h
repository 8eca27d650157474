// What a worker sees of the configuration: an immutable snapshot published by the control
// plane after every change (dp/epoch.h). Service lookup follows ip_vs_service_find()'s order.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "dp/counters.h"
#include "model/service.h"
#include "model/sysctl.h"
#include "sched/scheduler.h"

namespace uvs::dp {

struct ServiceEntry {
  ServiceConfig cfg;
  std::shared_ptr<const sched::SchedView> sched;
  std::shared_ptr<CounterSet> counters;
  std::vector<InetAddr> laddrs;  // FULLNAT local-address pool
};

class Snapshot {
 public:
  Snapshot(std::vector<ServiceEntry> services, Timeouts timeouts, Sysctls sysctls,
           uint64_t generation, std::vector<FwmarkRule> fwmark_rules = {});

  // The mark the first matching rule gives a packet, 0 if none (or no rules).
  uint32_t classify(uint8_t protocol, const InetAddr& daddr, uint16_t dport) const {
    for (const auto& r : fwmark_rules_)
      if (r.matches(protocol, daddr, dport)) return r.mark;
    return 0;
  }
  const std::vector<FwmarkRule>& fwmark_rules() const { return fwmark_rules_; }
  // A FULLNAT local address of some service.
  bool is_local_addr(const InetAddr& addr) const {
    for (const auto& a : local_addrs_)
      if (a == addr) return true;
    return false;
  }

  // ip_vs_service_find: fwmark service first (if the packet has a mark), then the exact
  // <af, proto, addr, port>, then the FTP data rule (port 21 service for dport 20 or >= 1024),
  // then a port-0 (any port) service. Null if none.
  const ServiceEntry* find(uint16_t af, uint8_t protocol, const InetAddr& addr, uint16_t port,
                           uint32_t fwmark) const;
  // Exact match only.
  const ServiceEntry* find_exact(uint16_t af, uint8_t protocol, const InetAddr& addr,
                                 uint16_t port) const;
  const ServiceEntry* find_fwmark(uint16_t af, uint32_t fwmark) const;

  const std::vector<ServiceEntry>& services() const { return services_; }
  const Timeouts& timeouts() const { return timeouts_; }
  const Sysctls& sysctls() const { return sysctls_; }
  uint64_t generation() const { return generation_; }

 private:
  struct Slot {
    uint64_t hash = 0;
    int32_t index = -1;  // into services_, -1 = empty
  };
  static uint64_t hash_addr(uint16_t af, uint8_t protocol, const InetAddr& addr, uint16_t port);
  static uint64_t hash_mark(uint16_t af, uint32_t fwmark);
  void insert(uint64_t hash, int32_t index);
  template <typename Match>
  const ServiceEntry* probe(uint64_t hash, Match match) const;

  std::vector<ServiceEntry> services_;
  std::vector<Slot> slots_;  // open addressing, power of two, at most half full
  uint64_t mask_ = 0;
  int port21_services_ = 0;
  int port0_services_ = 0;
  Timeouts timeouts_;
  Sysctls sysctls_;
  uint64_t generation_;
  std::vector<FwmarkRule> fwmark_rules_;
  std::vector<InetAddr> local_addrs_;
};

}  // namespace uvs::dp
