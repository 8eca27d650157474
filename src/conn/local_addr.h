// FULLNAT local addresses and ports (as the Alibaba LVS FULLNAT patch has them), per worker.
//
// Each worker owns a slice of the local port range (lport_min..lport_max split evenly by the
// worker count, the last worker taking the remainder), so the destination port of a reply
// names the worker that owns the connection: the XDP steering program computes
// worker_of_lport() and no reply ever crosses workers.
//
// A LocalAddrPool serves one FULLNAT service on one worker: a new connection takes the next
// local address of the service's pool (round robin), then tries the address's next ports in
// the worker's slice, up to lport_tries of them, until the reply tuple
// <protocol, daddr:dport -> laddr:lport> is not in the worker's table; every port found taken
// counts as a conflict of that address. Built by the control plane with the service's snapshot;
// allocate() and release() allocate nothing.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "conn/table.h"

namespace uvs::conn {

struct LocalPortRange {
  uint16_t min = 5000;   // lport_min
  uint16_t max = 65535;  // lport_max
};

struct PortSlice {
  uint16_t lo = 0;
  uint16_t hi = 0;  // inclusive
  uint32_t size() const { return uint32_t{hi} - lo + 1; }
};

// The ports of `worker` (0-based) among `workers`.
PortSlice lport_slice(const LocalPortRange& range, unsigned worker, unsigned workers);
// The worker owning `lport`; ports outside the range map to worker 0.
unsigned worker_of_lport(const LocalPortRange& range, unsigned workers, uint16_t lport);

// One worker's share of a local address's -G counters (`uvsadm -G`): written by that worker
// only (plain relaxed stores, its own cache line), summed by the control plane.
struct alignas(64) LocalAddrCounters {
  std::atomic<uint64_t> port_conflicts{0};
  std::atomic<uint64_t> conns{0};
};

// A local address's counters, one line per worker; the control plane owns it (with the
// service's -P entry) and hands it to the workers in their snapshot.
class LocalAddrCounterSet {
 public:
  explicit LocalAddrCounterSet(unsigned workers)
      : workers_(workers), lines_(std::make_unique<LocalAddrCounters[]>(workers)) {}
  LocalAddrCounters& worker(unsigned w) { return lines_[w]; }
  uint64_t port_conflicts() const;
  uint64_t conns() const;

 private:
  unsigned workers_;
  std::unique_ptr<LocalAddrCounters[]> lines_;
};

struct LocalAddr {
  InetAddr addr;
  LocalAddrCounters* shared = nullptr;  // this worker's line of the -G counters, if any
  uint32_t port_counter = 0;    // last port offset tried, within the slice
  uint64_t port_conflicts = 0;  // ports found in use (LaddrView::port_conflicts)
  uint64_t conns = 0;           // connections holding a port of this address
};

class LocalAddrPool {
 public:
  static constexpr uint32_t kDefaultTries = 10000;  // lport_tries

  LocalAddrPool(std::span<const InetAddr> laddrs, unsigned worker, unsigned workers,
                const LocalPortRange& range = {}, uint32_t lport_tries = kDefaultTries);

  // Picks a local address of daddr's family and a free port for a connection to daddr:dport.
  // False if the pool has no address of that family or lport_tries ports were all taken. On
  // success the address counts one more connection: release() it when the connection expires
  // (or if creating it fails).
  bool allocate(const Table& table, uint8_t protocol, const InetAddr& daddr, uint16_t dport,
                AddrBytes* laddr, uint16_t* lport);
  void release(uint8_t af, const AddrBytes& laddr);
  void release(const Conn& c) { release(c.daf, c.laddr); }

  std::span<const LocalAddr> addrs() const { return addrs_; }
  // Address i also counts into `line` (LocalAddrCounterSet::worker() of this worker).
  void share(size_t i, LocalAddrCounters* line) { addrs_[i].shared = line; }
  const PortSlice& slice() const { return slice_; }

 private:
  std::vector<LocalAddr> addrs_;
  PortSlice slice_;
  uint32_t tries_;
  uint32_t cursor_ = 0;  // next address, round robin
};

}  // namespace uvs::conn
