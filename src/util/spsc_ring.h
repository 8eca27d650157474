// A single-producer single-consumer ring of fixed slots: the producer claims a slot, fills it in
// place and publishes it; the consumer peeks at the oldest and releases it when done. Lock-free,
// no allocation after construction, one cache line per index.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>

namespace uvs::util {

template <typename T, uint32_t kSlots>
class SpscRing {
  static_assert((kSlots & (kSlots - 1)) == 0, "a power of two");

 public:
  // Producer: the next slot to fill, or null when the ring is full; publish() makes it visible.
  T* claim() {
    const uint32_t head = head_.load(std::memory_order_relaxed);
    if (head - tail_.load(std::memory_order_acquire) == kSlots) return nullptr;
    return &slots_[head & (kSlots - 1)];
  }
  // Producer: slots free to claim.
  uint32_t room() const {
    return kSlots - (head_.load(std::memory_order_relaxed) - tail_.load(std::memory_order_acquire));
  }
  void publish() { head_.store(head_.load(std::memory_order_relaxed) + 1, std::memory_order_release); }

  // Consumer: the oldest published slot, or null; release() it after reading.
  const T* peek() const {
    const uint32_t tail = tail_.load(std::memory_order_relaxed);
    if (tail == head_.load(std::memory_order_acquire)) return nullptr;
    return &slots_[tail & (kSlots - 1)];
  }
  void release() { tail_.store(tail_.load(std::memory_order_relaxed) + 1, std::memory_order_release); }

 private:
  alignas(64) std::atomic<uint32_t> head_{0};
  alignas(64) std::atomic<uint32_t> tail_{0};
  std::unique_ptr<T[]> slots_ = std::make_unique<T[]>(kSlots);
};

}  // namespace uvs::util
