#include "conn/local_addr.h"

#include <algorithm>

namespace uvs::conn {

namespace {

uint32_t slice_width(const LocalPortRange& range, unsigned workers) {
  const uint32_t total = range.max >= range.min ? uint32_t{range.max} - range.min + 1 : 1;
  return std::max<uint32_t>(1, total / std::max(1u, workers));
}

}  // namespace

PortSlice lport_slice(const LocalPortRange& range, unsigned worker, unsigned workers) {
  workers = std::max(1u, workers);
  worker = std::min(worker, workers - 1);
  const uint32_t width = slice_width(range, workers);
  const uint32_t max = std::max(range.min, range.max);
  PortSlice s;
  s.lo = static_cast<uint16_t>(std::min<uint32_t>(range.min + worker * width, max));
  s.hi = worker + 1 == workers ? static_cast<uint16_t>(max)
                               : static_cast<uint16_t>(std::min<uint32_t>(s.lo + width - 1, max));
  return s;
}

unsigned worker_of_lport(const LocalPortRange& range, unsigned workers, uint16_t lport) {
  workers = std::max(1u, workers);
  if (lport < range.min || lport > range.max) return 0;
  const uint32_t w = (uint32_t{lport} - range.min) / slice_width(range, workers);
  return std::min<uint32_t>(w, workers - 1);
}

namespace {

void bump(std::atomic<uint64_t>& c, int64_t by) {
  c.store(c.load(std::memory_order_relaxed) + static_cast<uint64_t>(by), std::memory_order_relaxed);
}

}  // namespace

uint64_t LocalAddrCounterSet::port_conflicts() const {
  uint64_t n = 0;
  for (unsigned w = 0; w < workers_; ++w) n += lines_[w].port_conflicts.load(std::memory_order_relaxed);
  return n;
}

uint64_t LocalAddrCounterSet::conns() const {
  uint64_t n = 0;
  for (unsigned w = 0; w < workers_; ++w) n += lines_[w].conns.load(std::memory_order_relaxed);
  return n;
}

LocalAddrPool::LocalAddrPool(std::span<const InetAddr> laddrs, unsigned worker, unsigned workers,
                             const LocalPortRange& range, uint32_t lport_tries)
    : slice_(lport_slice(range, worker, workers)), tries_(lport_tries) {
  addrs_.reserve(laddrs.size());
  for (const InetAddr& a : laddrs) addrs_.push_back(LocalAddr{a});
}

bool LocalAddrPool::allocate(const Table& table, uint8_t protocol, const InetAddr& daddr,
                             uint16_t dport, AddrBytes* laddr, uint16_t* lport) {
  const uint32_t n = static_cast<uint32_t>(addrs_.size());
  LocalAddr* chosen = nullptr;
  for (uint32_t i = 0; i < n && chosen == nullptr; ++i) {
    LocalAddr& a = addrs_[cursor_];
    cursor_ = cursor_ + 1 == n ? 0 : cursor_ + 1;
    if (a.addr.family == daddr.family) chosen = &a;
  }
  if (chosen == nullptr) return false;

  // The reply to find free: from daddr:dport to laddr:lport.
  Tuple reply;
  reply.af = static_cast<uint8_t>(daddr.family);
  reply.protocol = protocol;
  reply.saddr = daddr.bytes;
  reply.sport = dport;
  reply.daddr = chosen->addr.bytes;
  const uint32_t width = slice_.size();
  for (uint32_t t = 0; t < tries_; ++t) {
    chosen->port_counter = chosen->port_counter + 1 >= width ? 0 : chosen->port_counter + 1;
    reply.dport = static_cast<uint16_t>(slice_.lo + chosen->port_counter);
    if (table.lookup_out_fullnat(reply) == nullptr) {
      *laddr = chosen->addr.bytes;
      *lport = reply.dport;
      ++chosen->conns;
      if (chosen->shared) bump(chosen->shared->conns, 1);
      return true;
    }
    ++chosen->port_conflicts;
    if (chosen->shared) bump(chosen->shared->port_conflicts, 1);
  }
  return false;
}

void LocalAddrPool::release(uint8_t af, const AddrBytes& laddr) {
  for (LocalAddr& a : addrs_) {
    if (a.addr.family == af && a.addr.bytes == laddr) {
      if (a.conns > 0) --a.conns;
      // The shared line outlives pools rebuilt by a -P/-Q change: it counts on its own.
      if (a.shared && a.shared->conns.load(std::memory_order_relaxed) > 0) bump(a.shared->conns, -1);
      return;
    }
  }
}

}  // namespace uvs::conn
