// The per-worker cache of lblc and lblcr (ip_vs_lblc.c, ip_vs_lblcr.c): destination address ->
// payload, in the kernel's shape (1024 hash chains keyed by hash_32(fold(daddr), 10), new entries
// at the head of their chain) with entries taken from a pool allocated up front, and the kernel's
// periodic garbage collection driven by the caller's clock instead of a kernel timer.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <vector>

#include "sched/hash.h"
#include "sched/scheduler.h"

namespace uvs::sched {

template <typename Payload>
class LocalityTable {
 public:
  static constexpr unsigned kBits = 10;  // CONFIG_IP_VS_LBLC_TAB_BITS / LBLCR_TAB_BITS
  static constexpr uint32_t kBuckets = 1u << kBits;
  static constexpr uint32_t kKernelMaxSize = kBuckets * 16;  // tbl->max_size
  static constexpr Nanos kCheckInterval = std::chrono::seconds(60);  // CHECK_EXPIRE_INTERVAL
  static constexpr Nanos kEntryTimeout = std::chrono::minutes(6);    // ENTRY_TIMEOUT
  static constexpr int kFullCheckEvery = 30;  // COUNT_FOR_FULL_EXPIRATION
  static constexpr uint32_t kNil = UINT32_MAX;

  struct Entry {
    InetAddr addr;
    uint32_t next = kNil;
    Nanos lastuse{0};
    Payload payload{};
  };

  // `capacity` entries, allocated now. The size above which the collector trims idle entries is
  // the kernel's 16384, or capacity/2 if the pool is smaller than twice that.
  explicit LocalityTable(uint32_t capacity)
      : heads_(kBuckets, kNil),
        pool_(capacity == 0 ? 1 : capacity),
        max_size_(std::min<uint32_t>(kKernelMaxSize, static_cast<uint32_t>(pool_.size() / 2))) {
    for (uint32_t i = 0; i < pool_.size(); ++i) pool_[i].next = i + 1 < pool_.size() ? i + 1 : kNil;
    free_ = 0;
  }

  uint32_t size() const { return size_; }
  uint32_t max_size() const { return max_size_; }

  Entry* find(const InetAddr& addr) {
    for (uint32_t i = heads_[bucket_of(addr)]; i != kNil; i = pool_[i].next)
      if (pool_[i].addr == addr) return &pool_[i];
    return nullptr;
  }

  // A new entry for `addr` (none may exist yet) at the head of its chain; null if the pool is
  // empty, and the caller goes on without caching.
  Entry* insert(const InetAddr& addr, Nanos now) {
    if (free_ == kNil) return nullptr;
    const uint32_t i = free_;
    free_ = pool_[i].next;
    const uint32_t b = bucket_of(addr);
    pool_[i].addr = addr;
    pool_[i].lastuse = now;
    pool_[i].payload = Payload{};
    pool_[i].next = heads_[b];
    heads_[b] = i;
    ++size_;
    return &pool_[i];
  }

  // Unlinks `entry`, after release(entry) has returned whatever the payload holds.
  template <typename Release>
  void erase(Entry* entry, Release&& release) {
    const uint32_t target = static_cast<uint32_t>(entry - pool_.data());
    uint32_t* link = &heads_[bucket_of(entry->addr)];
    while (*link != target) link = &pool_[*link].next;
    *link = entry->next;
    free_entry(target, release);
  }

  // The kernel's check_expire timer, run from the pick path: once every kCheckInterval. The
  // first call arms it. Every kFullCheckEvery-th run (counted only while the table is not over
  // max_size) drops every entry unused for `expiration`; otherwise, over max_size, entries idle
  // for kEntryTimeout are dropped from a rotating bucket cursor until (size - max)*4/3 entries
  // (at most max/2) are gone. A worker idle for several intervals runs it once.
  template <typename Release>
  void collect_if_due(Nanos now, Nanos expiration, Release&& release) {
    if (!timer_armed_) {
      timer_armed_ = true;
      next_check_ = now + kCheckInterval;
      return;
    }
    if (now < next_check_) return;
    check_expire(now, expiration, release);
    next_check_ = now + kCheckInterval;
  }

 private:
  static uint32_t bucket_of(const InetAddr& addr) { return hash_32(addr_fold(addr), kBits); }

  template <typename Release>
  void free_entry(uint32_t i, Release& release) {
    release(pool_[i]);
    pool_[i].next = free_;
    free_ = i;
    --size_;
  }

  // Drops the entries of bucket `b` for which expired(entry) holds; returns how many.
  template <typename Expired, typename Release>
  int32_t sweep(uint32_t b, Expired&& expired, Release& release) {
    int32_t dropped = 0;
    uint32_t* link = &heads_[b];
    while (*link != kNil) {
      const uint32_t i = *link;
      if (expired(pool_[i])) {
        *link = pool_[i].next;
        free_entry(i, release);
        ++dropped;
      } else {
        link = &pool_[i].next;
      }
    }
    return dropped;
  }

  template <typename Release>
  void check_expire(Nanos now, Nanos expiration, Release& release) {
    if (counter_ % kFullCheckEvery == 0) {
      uint32_t j = rover_;
      for (uint32_t n = 0; n < kBuckets; ++n) {
        j = (j + 1) & (kBuckets - 1);
        sweep(j, [&](const Entry& e) { return now >= e.lastuse + expiration; }, release);
      }
      rover_ = j;
      counter_ = 1;
      return;
    }
    if (size_ <= max_size_) {
      ++counter_;
      return;
    }
    int64_t goal = (int64_t{size_} - max_size_) * 4 / 3;
    if (goal > max_size_ / 2) goal = max_size_ / 2;
    uint32_t j = rover_;
    for (uint32_t n = 0; n < kBuckets; ++n) {
      j = (j + 1) & (kBuckets - 1);
      goal -= sweep(j, [&](const Entry& e) { return now >= e.lastuse + kEntryTimeout; }, release);
      if (goal <= 0) break;
    }
    rover_ = j;
  }

  std::vector<uint32_t> heads_;
  std::vector<Entry> pool_;
  uint32_t max_size_;
  uint32_t free_ = kNil;
  uint32_t size_ = 0;
  bool timer_armed_ = false;
  Nanos next_check_{0};
  int counter_ = 1;
  uint32_t rover_ = 0;
};

}  // namespace uvs::sched
