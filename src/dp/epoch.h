// Publishes immutable snapshots to workers without locks on the data path. The control plane
// swaps a pointer; each worker announces, between bursts, the generation it has seen; a retired
// snapshot is freed once every worker has announced a later generation (epoch reclamation).
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

namespace uvs::dp {

template <typename T>
class EpochPublisher {
 public:
  explicit EpochPublisher(unsigned workers) : seen_(workers) {
    for (auto& s : seen_) s.generation.store(kIdle, std::memory_order_relaxed);
  }
  ~EpochPublisher() {
    delete current_.load();
    for (auto& r : retired_) delete r.snapshot;
  }
  EpochPublisher(const EpochPublisher&) = delete;
  EpochPublisher& operator=(const EpochPublisher&) = delete;

  // Control plane: makes `next` current and frees what no worker can still be reading.
  void publish(std::unique_ptr<const T> next) {
    std::lock_guard lock(mutex_);
    // seq_cst, with the loads of seen_ in reclaim_locked() and enter()'s store and load: see
    // enter().
    const T* old = current_.exchange(next.release(), std::memory_order_seq_cst);
    uint64_t gen = generation_.fetch_add(1, std::memory_order_acq_rel) + 1;
    if (old) retired_.push_back(Retired{gen, old});
    reclaim_locked();
  }
  // Control plane: frees retired snapshots every worker has moved past (call periodically).
  void reclaim() {
    std::lock_guard lock(mutex_);
    reclaim_locked();
  }

  // Worker: at the start of a burst. Announces that nothing older than the current generation
  // is in use, then returns the current snapshot for this burst.
  const T* enter(unsigned worker) {
    // A store then a load against publish()'s exchange then loads of seen_: with weaker
    // orders both sides may read the old values (x86 lets the load pass the buffered store), so
    // a worker back from idle could load the snapshot being retired while the publisher still
    // reads kIdle for it and frees that snapshot. seq_cst on all four forbids that outcome.
    seen_[worker].generation.store(generation_.load(std::memory_order_acquire),
                                   std::memory_order_seq_cst);
    return current_.load(std::memory_order_seq_cst);
  }
  // Worker: parked (no burst in progress), so it holds no snapshot.
  void idle(unsigned worker) { seen_[worker].generation.store(kIdle, std::memory_order_release); }

  // Control plane readers under their own synchronisation (e.g. listings after publish).
  const T* current() const { return current_.load(std::memory_order_acquire); }
  size_t retired_count() const {
    std::lock_guard lock(mutex_);
    return retired_.size();
  }

 private:
  static constexpr uint64_t kIdle = UINT64_MAX;
  struct alignas(64) Seen {
    std::atomic<uint64_t> generation;
  };
  struct Retired {
    uint64_t generation;  // the generation that replaced it
    const T* snapshot;
  };

  void reclaim_locked() {
    uint64_t oldest = UINT64_MAX;
    for (const auto& s : seen_)
      oldest = std::min(oldest, s.generation.load(std::memory_order_seq_cst));
    std::erase_if(retired_, [&](const Retired& r) {
      // A worker that announced generation g loaded the snapshot current at g or later.
      if (oldest != kIdle && oldest < r.generation) return false;
      delete r.snapshot;
      return true;
    });
  }

  std::atomic<const T*> current_{nullptr};
  std::atomic<uint64_t> generation_{0};
  std::vector<Seen> seen_;
  mutable std::mutex mutex_;  // control plane only
  std::vector<Retired> retired_;
};

}  // namespace uvs::dp
