// What a worker sees of the configuration: an immutable snapshot published by the control
// plane after every change (dp/epoch.h). Service lookup follows ip_vs_service_find()'s order.
//
// A change costs O(what changed), not O(table): the next snapshot is made from the previous one
// (Snapshot(prev, removed, put, ...)) and shares every service entry and every part of the
// lookup table it does not touch. The table is a two-level radix of the key hash (64 x 64
// immutable leaves): a change copies one leaf, one directory of 64 pointers and the root's 64.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <iterator>
#include <memory>
#include <span>
#include <vector>

#include "conn/local_addr.h"
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
  // Their -G counters (one per address, same order), fed by the workers' pools.
  std::vector<std::shared_ptr<conn::LocalAddrCounterSet>> laddr_counters;
};

class Snapshot {
  static constexpr unsigned kFanout = 64;
  struct Slot {
    uint64_t hash = 0;
    std::shared_ptr<const ServiceEntry> entry;
  };
  struct Leaf {
    std::vector<Slot> slots;
  };
  struct Dir {
    std::array<std::shared_ptr<const Leaf>, kFanout> leaves;
  };
  using Root = std::array<std::shared_ptr<const Dir>, kFanout>;

 public:
  Snapshot(std::vector<ServiceEntry> services, Timeouts timeouts, Sysctls sysctls,
           uint64_t generation, std::vector<FwmarkRule> fwmark_rules = {});
  // `prev` with the services of `removed` gone and those of `put` added or replaced (same key),
  // sharing everything else with `prev`.
  Snapshot(const Snapshot& prev, std::span<const ServiceKey> removed,
           std::span<const std::shared_ptr<const ServiceEntry>> put, Timeouts timeouts,
           uint64_t generation);

  // The mark the first matching rule gives a packet, 0 if none (or no rules).
  uint32_t classify(uint8_t protocol, const InetAddr& daddr, uint16_t dport) const {
    for (const auto& r : *fwmark_rules_)
      if (r.matches(protocol, daddr, dport)) return r.mark;
    return 0;
  }
  const std::vector<FwmarkRule>& fwmark_rules() const { return *fwmark_rules_; }
  // A FULLNAT local address of some service.
  bool is_local_addr(const InetAddr& addr) const {
    for (const auto& a : *local_addrs_)
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
  // The entry of exactly this service key, null if none.
  const ServiceEntry* find_key(const ServiceKey& key) const;

  // Every service, in no particular order.
  class Services {
   public:
    class iterator {
     public:
      using iterator_category = std::forward_iterator_tag;
      using value_type = ServiceEntry;
      using difference_type = std::ptrdiff_t;
      using pointer = const ServiceEntry*;
      using reference = const ServiceEntry&;
      iterator() = default;
      iterator(const Root* root, unsigned dir) : root_(root), dir_(dir) { settle(); }
      reference operator*() const { return *slot()->entry; }
      pointer operator->() const { return slot()->entry.get(); }
      iterator& operator++() {
        ++slot_;
        settle();
        return *this;
      }
      iterator operator++(int) {
        iterator old = *this;
        ++*this;
        return old;
      }
      friend bool operator==(const iterator& a, const iterator& b) {
        return a.dir_ == b.dir_ && a.leaf_ == b.leaf_ && a.slot_ == b.slot_;
      }

     private:
      const Slot* slot() const { return &(*root_)[dir_]->leaves[leaf_]->slots[slot_]; }
      void settle();
      const Root* root_ = nullptr;
      unsigned dir_ = kFanout, leaf_ = 0;
      size_t slot_ = 0;
    };
    iterator begin() const { return iterator(root_, 0); }
    iterator end() const { return iterator(root_, kFanout); }
    size_t size() const { return size_; }
    bool empty() const { return size_ == 0; }

   private:
    friend class Snapshot;
    Services(const Root* root, size_t size) : root_(root), size_(size) {}
    const Root* root_;
    size_t size_;
  };
  Services services() const { return Services(&root_, size_); }
  // The services with FULLNAT local addresses. The same vector (same address) as the previous
  // snapshot's unless one of them changed: a worker can skip its pools when it is.
  const std::vector<std::shared_ptr<const ServiceEntry>>& laddr_services() const {
    return *laddr_entries_;
  }
  const Timeouts& timeouts() const { return timeouts_; }
  const Sysctls& sysctls() const { return sysctls_; }
  uint64_t generation() const { return generation_; }

 private:
  static uint64_t hash_addr(uint16_t af, uint8_t protocol, const InetAddr& addr, uint16_t port);
  static uint64_t hash_mark(uint16_t af, uint32_t fwmark);
  static uint64_t hash_key(const ServiceKey& key);
  // Which directories and leaves this snapshot has already copied (it may write those).
  struct Owned {
    std::array<bool, kFanout> dirs{};
    std::vector<bool> leaves = std::vector<bool>(kFanout * kFanout);
  };
  // The leaf of `hash`, copied for writing unless this snapshot made it.
  Leaf& writable_leaf(uint64_t hash, Owned& owned);
  void put(std::shared_ptr<const ServiceEntry> entry, Owned& owned);
  void remove(const ServiceKey& key, Owned& owned);
  void count(const ServiceKey& key, int delta);
  void rebuild_local_addrs();
  template <typename Match>
  const ServiceEntry* probe(uint64_t hash, Match match) const;

  Root root_;
  size_t size_ = 0;
  int port21_services_ = 0;
  int port0_services_ = 0;
  size_t laddr_services_ = 0;
  Timeouts timeouts_;
  Sysctls sysctls_;
  uint64_t generation_;
  std::shared_ptr<const std::vector<FwmarkRule>> fwmark_rules_;
  std::shared_ptr<const std::vector<InetAddr>> local_addrs_;
  std::shared_ptr<const std::vector<std::shared_ptr<const ServiceEntry>>> laddr_entries_;
};

inline void Snapshot::Services::iterator::settle() {
  while (dir_ < kFanout) {
    const auto& dir = (*root_)[dir_];
    if (dir) {
      while (leaf_ < kFanout) {
        const auto& leaf = dir->leaves[leaf_];
        if (leaf && slot_ < leaf->slots.size()) return;
        ++leaf_;
        slot_ = 0;
      }
    }
    ++dir_;
    leaf_ = 0;
    slot_ = 0;
  }
}

}  // namespace uvs::dp
