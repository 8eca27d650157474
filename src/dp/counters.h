// Traffic counters written by the data-plane workers and folded by the control plane.
// Each worker owns one cache line per object and is its only writer, so updates are plain
// relaxed load+store (no atomic read-modify-write, no false sharing); readers sum the lines.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>

#include "model/listing.h"

namespace uvs::dp {

struct alignas(64) WorkerCounters {
  std::atomic<uint64_t> conns{0};
  std::atomic<uint64_t> inpkts{0};
  std::atomic<uint64_t> outpkts{0};
  std::atomic<uint64_t> inbytes{0};
  std::atomic<uint64_t> outbytes{0};

  static void bump(std::atomic<uint64_t>& c, uint64_t n) {
    c.store(c.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
  }
  void add_conn() { bump(conns, 1); }
  void add_in(uint64_t bytes, uint64_t packets = 1) {
    bump(inpkts, packets);
    bump(inbytes, bytes);
  }
  void add_out(uint64_t bytes, uint64_t packets = 1) {
    bump(outpkts, packets);
    bump(outbytes, bytes);
  }
};

// One object's counters, one line per worker.
class CounterSet {
 public:
  explicit CounterSet(unsigned workers)
      : workers_(workers), lines_(std::make_unique<WorkerCounters[]>(workers)) {}

  WorkerCounters& worker(unsigned w) { return lines_[w]; }
  unsigned workers() const { return workers_; }

  StatsView fold() const;

 private:
  unsigned workers_;
  std::unique_ptr<WorkerCounters[]> lines_;
};

}  // namespace uvs::dp
