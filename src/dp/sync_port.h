// A worker's share of connection sync (ip_vs_sync.c), per worker so that nothing is shared:
//   master: for each input packet of a connection, ip_vs_sync_conn()'s decision for it and its
//           controlling template, records into the worker's outbox (sync/daemon.h), a message
//           older than 2 s pushed between bursts;
//   backup: records the backup thread routed to this worker (the owner of their flow) wait in
//           a single-producer ring until the worker applies them between bursts
//           (ip_vs_proc_conn(), sync/apply.h) against its own table and configuration.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>

#include "conn/tracker.h"
#include "dp/snapshot.h"
#include "sync/apply.h"
#include "sync/daemon.h"
#include "sync/policy.h"
#include "util/spsc_ring.h"

namespace uvs::dp {

struct SyncPortStats {
  uint64_t synced = 0;     // records put in the outbox
  uint64_t applied = 0;    // records applied (created, updated or replaced)
  uint64_t ignored = 0;    // records for a connection already replaced
  uint64_t table_full = 0;
  uint64_t inbox_full = 0;  // records the backup thread could not hand over (counted there)
};

class SyncPort {
 public:
  static constexpr uint32_t kInboxSlots = 4096;  // 16 full messages of 255 records

  // --- Control side (the data plane's daemon listener) ---
  // The outbox a master fills; null stops filling. The outbox outlives every worker turn.
  void set_outbox(sync::Outbox* outbox) { outbox_.store(outbox, std::memory_order_release); }

  // --- Backup thread ---
  bool push(const sync::SyncConn& record);

  // --- Worker ---
  // ip_vs_sync_conn() after an input packet of `c` (its in_pkts already counted).
  void on_input(conn::Tracker& tracker, conn::Conn& c, const Sysctls& sysctls, uint64_t now_ms) {
    if (sync::Outbox* box = outbox_.load(std::memory_order_acquire))
      announce(*box, tracker, c, sysctls, now_ms, /*force=*/false);
  }
  // A connection whose packets stop passing through user space (offloaded to XDP), or whose
  // timer was re-armed by XDP's traffic: announced now, whatever its count, so the backup
  // holds it and its timer keeps up.
  void on_offloaded(conn::Tracker& tracker, conn::Conn& c, const Sysctls& sysctls,
                    uint64_t now_ms) {
    if (sync::Outbox* box = outbox_.load(std::memory_order_acquire))
      announce(*box, tracker, c, sysctls, now_ms, /*force=*/true);
  }
  // Between bursts: pushes a message older than 2 s, applies waiting records (at most
  // `budget`). Returns true if it did any work.
  bool tick(conn::Tracker& tracker, const Snapshot& snap, int sync_threshold, uint64_t now_ms,
            uint32_t budget);

  const SyncPortStats& stats() const { return stats_; }
  uint64_t inbox_full() const { return inbox_full_.load(std::memory_order_relaxed); }

 private:
  void announce(sync::Outbox& box, conn::Tracker& tracker, conn::Conn& c, const Sysctls& sysctls,
                uint64_t now_ms, bool force);
  static sched::Dest* find_dest(void* snapshot, const sync::SyncConn& record);

  std::atomic<sync::Outbox*> outbox_{nullptr};
  util::SpscRing<sync::SyncConn, kInboxSlots> inbox_;
  std::atomic<uint64_t> inbox_full_{0};
  SyncPortStats stats_;
};

}  // namespace uvs::dp
