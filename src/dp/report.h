// What the data plane shows an observer (uvsd --http) while it runs: each worker's counters and
// table fill, copied by the worker itself into relaxed atomics between bursts, so a reader on
// another thread never shares a lock or a cache line the hot path writes on every packet.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <cstring>
#include <optional>
#include <type_traits>
#include <vector>

#include "dp/pipeline.h"
#include "io/xdp_steering.h"
#include "sync/daemon.h"

namespace uvs::dp {

struct WorkerReport {
  unsigned worker = 0;
  PipelineStats stats;
  uint32_t conns = 0;          // entries in the worker's connection table
  uint32_t conn_capacity = 0;  // its slots
};

// One worker's last published figures. The worker calls publish() (a few hundred plain stores,
// a few times a second); any thread may read() at any time.
class WorkerMirror {
 public:
  void publish(const PipelineStats& stats, uint32_t conns, uint32_t capacity) {
    uint64_t words[kWords];
    std::memcpy(words, &stats, sizeof stats);
    for (size_t i = 0; i < kWords; ++i) words_[i].store(words[i], std::memory_order_relaxed);
    conns_.store(conns, std::memory_order_relaxed);
    capacity_.store(capacity, std::memory_order_relaxed);
  }
  WorkerReport read(unsigned worker) const {
    uint64_t words[kWords];
    for (size_t i = 0; i < kWords; ++i) words[i] = words_[i].load(std::memory_order_relaxed);
    WorkerReport r;
    r.worker = worker;
    std::memcpy(&r.stats, words, sizeof r.stats);
    r.conns = conns_.load(std::memory_order_relaxed);
    r.conn_capacity = capacity_.load(std::memory_order_relaxed);
    return r;
  }

 private:
  static_assert(std::is_trivially_copyable_v<PipelineStats> && sizeof(PipelineStats) % 8 == 0,
                "PipelineStats is copied word by word");
  static constexpr size_t kWords = sizeof(PipelineStats) / 8;
  alignas(64) std::array<std::atomic<uint64_t>, kWords> words_{};
  std::atomic<uint32_t> conns_{0};
  std::atomic<uint32_t> capacity_{0};
};

struct SyncReport {
  bool master = false;  // a master daemon runs
  bool backup = false;  // a backup daemon runs
  sync::DaemonStats master_stats, backup_stats;
  uint64_t outbox_dropped = 0;  // connections the workers' outboxes had no room for
};

// Everything the data plane reports at one moment.
struct DataPlaneReport {
  std::vector<WorkerReport> workers;
  bool offload = false;             // the XDP fast path is on
  io::SteerCounters steer;          // the XDP program's own counters
  SyncReport sync;
};

}  // namespace uvs::dp
