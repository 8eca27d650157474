#include "dp/snapshot.h"

#include <algorithm>
#include <bit>
#include <cstring>

#include "util/hash.h"

namespace uvs::dp {

// Hashes: splitmix64's finaliser, cheap and good enough for a table rebuilt on every change.
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

Snapshot::Snapshot(std::vector<ServiceEntry> services, Timeouts timeouts, Sysctls sysctls,
                   uint64_t generation, std::vector<FwmarkRule> fwmark_rules)
    : services_(std::move(services)),
      timeouts_(timeouts),
      sysctls_(sysctls),
      generation_(generation),
      fwmark_rules_(std::move(fwmark_rules)) {
  size_t size = std::bit_ceil(std::max<size_t>(16, services_.size() * 2));
  slots_.resize(size);
  mask_ = size - 1;
  for (size_t i = 0; i < services_.size(); ++i) {
    for (const auto& l : services_[i].laddrs) local_addrs_.push_back(l);
    const ServiceKey& k = services_[i].cfg.key;
    if (k.is_fwmark()) {
      insert(hash_mark(k.af, k.fwmark), static_cast<int32_t>(i));
    } else {
      insert(hash_addr(k.af, k.protocol, k.addr, k.port), static_cast<int32_t>(i));
      if (k.port == 21) ++port21_services_;
      if (k.port == 0) ++port0_services_;
    }
  }
}

void Snapshot::insert(uint64_t hash, int32_t index) {
  for (uint64_t i = hash & mask_;; i = (i + 1) & mask_) {
    if (slots_[i].index < 0) {
      slots_[i] = Slot{hash, index};
      return;
    }
  }
}

template <typename Match>
const ServiceEntry* Snapshot::probe(uint64_t hash, Match match) const {
  for (uint64_t i = hash & mask_;; i = (i + 1) & mask_) {
    const Slot& s = slots_[i];
    if (s.index < 0) return nullptr;
    if (s.hash == hash && match(services_[s.index].cfg.key)) return &services_[s.index];
  }
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
