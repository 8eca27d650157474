#include "dp/snapshot.h"

#include <algorithm>
#include <cstring>

#include "util/hash.h"

namespace uvs::dp {

// Hashes: splitmix64's finaliser, cheap and good enough for keys a client chooses (the table
// degrades to longer leaves, never fails).
using util::mix64;

uint64_t Snapshot::hash_addr(uint16_t af, uint8_t protocol, const InetAddr& addr, uint16_t port) {
  uint64_t a, b;
  std::memcpy(&a, addr.bytes.data(), 8);
  std::memcpy(&b, addr.bytes.data() + 8, 8);
  return mix64(a ^ mix64(b ^ (uint64_t{af} << 40 | uint64_t{protocol} << 16 | port)));
}

uint64_t Snapshot::hash_mark(uint16_t af, uint32_t fwmark) {
  return mix64(uint64_t{fwmark} | uint64_t{af} << 32 | uint64_t{1} << 63);
}

uint64_t Snapshot::hash_key(const ServiceKey& k) {
  return k.is_fwmark() ? hash_mark(k.af, k.fwmark) : hash_addr(k.af, k.protocol, k.addr, k.port);
}

namespace {
unsigned dir_of(uint64_t hash) { return static_cast<unsigned>(hash >> 58); }
unsigned leaf_of(uint64_t hash) { return static_cast<unsigned>(hash >> 52) & 63; }
}  // namespace

Snapshot::Snapshot(std::vector<ServiceEntry> services, Timeouts timeouts, Sysctls sysctls,
                   uint64_t generation, std::vector<FwmarkRule> fwmark_rules)
    : timeouts_(timeouts),
      sysctls_(sysctls),
      generation_(generation),
      fwmark_rules_(std::make_shared<const std::vector<FwmarkRule>>(std::move(fwmark_rules))),
      local_addrs_(std::make_shared<const std::vector<InetAddr>>()) {
  Owned owned;
  for (auto& s : services) put(std::make_shared<const ServiceEntry>(std::move(s)), owned);
  rebuild_local_addrs();
}

Snapshot::Snapshot(const Snapshot& prev, std::span<const ServiceKey> removed,
                   std::span<const std::shared_ptr<const ServiceEntry>> put_entries,
                   Timeouts timeouts, uint64_t generation)
    : root_(prev.root_),
      size_(prev.size_),
      port21_services_(prev.port21_services_),
      port0_services_(prev.port0_services_),
      laddr_services_(prev.laddr_services_),
      timeouts_(timeouts),
      sysctls_(prev.sysctls_),
      generation_(generation),
      fwmark_rules_(prev.fwmark_rules_),
      local_addrs_(prev.local_addrs_),
      laddr_entries_(prev.laddr_entries_) {
  Owned owned;
  bool laddrs_changed = false;
  for (const auto& key : removed) {
    if (const ServiceEntry* old = find_key(key); old && !old->laddrs.empty()) laddrs_changed = true;
    remove(key, owned);
  }
  for (const auto& entry : put_entries) {
    const ServiceEntry* old = find_key(entry->cfg.key);
    if (!entry->laddrs.empty() || (old && !old->laddrs.empty())) laddrs_changed = true;
    put(entry, owned);
  }
  // Only FULLNAT services have local addresses; the list is rebuilt when one of them changes.
  if (laddrs_changed) rebuild_local_addrs();
}

void Snapshot::rebuild_local_addrs() {
  auto addrs = std::make_shared<std::vector<InetAddr>>();
  auto entries = std::make_shared<std::vector<std::shared_ptr<const ServiceEntry>>>();
  for (unsigned d = 0; laddr_services_ && d < kFanout; ++d) {
    if (!root_[d]) continue;
    for (const auto& leaf : root_[d]->leaves) {
      if (!leaf) continue;
      for (const auto& slot : leaf->slots) {
        if (slot.entry->laddrs.empty()) continue;
        entries->push_back(slot.entry);
        for (const auto& l : slot.entry->laddrs) addrs->push_back(l);
      }
    }
  }
  local_addrs_ = std::move(addrs);
  laddr_entries_ = std::move(entries);
}

Snapshot::Leaf& Snapshot::writable_leaf(uint64_t hash, Owned& owned) {
  const unsigned d = dir_of(hash), l = leaf_of(hash);
  if (!owned.dirs[d]) {
    auto dir = root_[d] ? std::make_shared<Dir>(*root_[d]) : std::make_shared<Dir>();
    root_[d] = dir;
    owned.dirs[d] = true;
  }
  // Made by this constructor, so not shared with any published snapshot.
  Dir& dir = const_cast<Dir&>(*root_[d]);
  if (!owned.leaves[d * kFanout + l]) {
    dir.leaves[l] = dir.leaves[l] ? std::make_shared<Leaf>(*dir.leaves[l]) : std::make_shared<Leaf>();
    owned.leaves[d * kFanout + l] = true;
  }
  return const_cast<Leaf&>(*dir.leaves[l]);
}

void Snapshot::count(const ServiceKey& k, int delta) {
  size_ += delta;
  if (!k.is_fwmark()) {
    if (k.port == 21) port21_services_ += delta;
    if (k.port == 0) port0_services_ += delta;
  }
}

void Snapshot::put(std::shared_ptr<const ServiceEntry> entry, Owned& owned) {
  const ServiceKey& key = entry->cfg.key;
  const uint64_t hash = hash_key(key);
  Leaf& leaf = writable_leaf(hash, owned);
  for (auto& slot : leaf.slots) {
    if (slot.hash == hash && slot.entry->cfg.key == key) {
      laddr_services_ += !entry->laddrs.empty();
      laddr_services_ -= !slot.entry->laddrs.empty();
      slot.entry = std::move(entry);
      return;
    }
  }
  count(key, +1);
  laddr_services_ += !entry->laddrs.empty();
  leaf.slots.push_back(Slot{hash, std::move(entry)});
}

void Snapshot::remove(const ServiceKey& key, Owned& owned) {
  const uint64_t hash = hash_key(key);
  if (!find_key(key)) return;
  Leaf& leaf = writable_leaf(hash, owned);
  auto it = std::find_if(leaf.slots.begin(), leaf.slots.end(), [&](const Slot& s) {
    return s.hash == hash && s.entry->cfg.key == key;
  });
  count(key, -1);
  laddr_services_ -= !it->entry->laddrs.empty();
  leaf.slots.erase(it);
}

template <typename Match>
const ServiceEntry* Snapshot::probe(uint64_t hash, Match match) const {
  const Dir* dir = root_[dir_of(hash)].get();
  if (!dir) return nullptr;
  const Leaf* leaf = dir->leaves[leaf_of(hash)].get();
  if (!leaf) return nullptr;
  for (const Slot& s : leaf->slots)
    if (s.hash == hash && match(s.entry->cfg.key)) return s.entry.get();
  return nullptr;
}

const ServiceEntry* Snapshot::find_key(const ServiceKey& key) const {
  return probe(hash_key(key), [&](const ServiceKey& k) { return k == key; });
}

const ServiceEntry* Snapshot::find_exact(uint16_t af, uint8_t protocol, const InetAddr& addr,
                                         uint16_t port) const {
  return probe(hash_addr(af, protocol, addr, port), [&](const ServiceKey& k) {
    return !k.is_fwmark() && k.af == af && k.protocol == protocol && k.port == port &&
           k.addr == addr;
  });
}

const ServiceEntry* Snapshot::find_fwmark(uint16_t af, uint32_t fwmark) const {
  return probe(hash_mark(af, fwmark), [&](const ServiceKey& k) {
    return k.fwmark == fwmark && k.af == af;
  });
}

const ServiceEntry* Snapshot::find(uint16_t af, uint8_t protocol, const InetAddr& addr,
                                   uint16_t port, uint32_t fwmark) const {
  if (fwmark)
    if (const auto* s = find_fwmark(af, fwmark)) return s;
  if (const auto* s = find_exact(af, protocol, addr, port)) return s;
  if (port21_services_ && protocol == kProtoTcp && (port == 20 || port >= 1024))
    if (const auto* s = find_exact(af, protocol, addr, 21)) return s;
  if (port0_services_)
    if (const auto* s = find_exact(af, protocol, addr, 0)) return s;
  return nullptr;
}

}  // namespace uvs::dp
