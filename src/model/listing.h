// What a listing sees: one consistent copy of the table with folded counters and rates.
// The daemon builds it under one snapshot; uvsadm formats it as ipvsadm's list_all() would.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "model/service.h"

namespace uvs {

struct StatsView {
  uint64_t conns = 0;
  uint64_t inpkts = 0;
  uint64_t outpkts = 0;
  uint64_t inbytes = 0;
  uint64_t outbytes = 0;
};

// Rates as ipvsadm prints them (already rounded from the estimator's fixed point).
struct RateView {
  uint64_t cps = 0;
  uint64_t inpps = 0;
  uint64_t outpps = 0;
  uint64_t inbps = 0;
  uint64_t outbps = 0;
};

struct DestView {
  DestConfig cfg;
  uint32_t activeconns = 0;
  uint32_t inactconns = 0;
  uint32_t persistconns = 0;
  StatsView stats;
  RateView rate;
};

struct LaddrView {
  InetAddr addr{};
  uint64_t port_conflicts = 0;
  uint64_t conns = 0;
};

struct ServiceView {
  ServiceConfig cfg;
  std::vector<DestView> dests;  // kernel list order: most recently added first
  std::vector<LaddrView> laddrs;
  StatsView stats;
  RateView rate;
};

struct ConnView {
  uint8_t protocol = 0;  // 0 = IP (fwmark template)
  uint16_t af = AF_INET;
  uint16_t daf = AF_INET;
  InetAddr caddr{}, vaddr{}, daddr{};
  uint16_t cport = 0, vport = 0, dport = 0;
  std::string state;         // name as -c prints it
  uint32_t expire_secs = 0;  // seconds until expiry
  std::string pe_name;
  std::string pe_data;
};

struct TableView {
  uint32_t conn_tab_size = 4096;
  std::vector<ServiceView> services;  // kernel order (creation order in uvs)
  Timeouts timeouts;
  std::vector<DaemonConfig> daemons;  // running ones, master first
};

}  // namespace uvs
