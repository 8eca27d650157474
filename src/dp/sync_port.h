// A worker's share of connection sync (ip_vs_sync.c), per worker so that nothing is shared:
//   master: for each input packet of a connection, ip_vs_sync_conn()'s decision for it and its
//           controlling template, records into the worker's outbox (sync/daemon.h), a message
//           older than 2 s pushed between bursts;
//   backup: records the backup thread routed to this worker (the owner of their flow) wait in
//           a single-producer ring until the worker applies them between bursts
//           (ip_vs_proc_conn(), sync/apply.h) against its own table and configuration.
// The control side only flips a word (master on, syncid, sync_maxlen); the worker notices it
// between bursts and reconfigures its own outbox, so the outbox is never touched by two
// threads but through its ring.
#pragma once

#include <atomic>
#include <cstdint>
#include <vector>

#include "conn/tracker.h"
#include "dp/snapshot.h"
#include "sync/apply.h"
#include "sync/daemon.h"
#include "sync/policy.h"
#include "util/spsc_ring.h"

namespace uvs::dp {

struct SyncPortStats {
  uint64_t synced = 0;      // records put in the outbox
  uint64_t applied = 0;     // records applied (created, updated or replaced)
  uint64_t ignored = 0;     // records for a connection already replaced
  uint64_t table_full = 0;  // records the table had no room for
};

class SyncPort {
 public:
  static constexpr uint32_t kInboxSlots = 4096;  // 16 full messages of 255 records

  // `table_capacity`: the worker's connection table, one sync_endtime per entry.
  explicit SyncPort(uint32_t table_capacity) : outbox_(0, 1472), sync_endtime_(table_capacity) {}

  // --- Control side ---
  // A master started (syncid, sync_maxlen) or stopped (nullopt-like: on = false).
  void set_master(bool on, uint8_t syncid = 0, uint16_t maxlen = 0) {
    master_word_.store(on ? (kOn | uint32_t{syncid} << 16 | maxlen) : 0,
                       std::memory_order_release);
  }
  // A backup daemon started or stopped: while one runs, this director may be handed any
  // connection by another one (a failover, a cluster's flows moving), so a segment it has no
  // connection for yet is dropped, not answered with a reset (Pipeline::admit_new_conn()).
  void set_backup(bool on) { backup_.store(on, std::memory_order_relaxed); }
  bool backup() const { return backup_.load(std::memory_order_relaxed); }
  // The master thread's side of the outbox.
  sync::Outbox& outbox() { return outbox_; }

  // --- Takeover (a new uvsd taking this one's table) ---
  // Asks the worker for every connection it holds, as sync messages in the dump ring (between
  // bursts, a slice of the table at a time); dump_done() once the last one is in the ring.
  void request_dump() {
    dump_done_.store(false, std::memory_order_relaxed);
    dump_requested_.store(true, std::memory_order_release);
  }
  bool dump_done() const { return dump_done_.load(std::memory_order_acquire); }
  // The control side of the dump ring.
  const sync::Outbox::Message* dump_peek() const { return dump_ring_.peek(); }
  void dump_release() { dump_ring_.release(); }

  // --- Backup thread ---
  bool push(const sync::SyncConn& record);
  uint64_t inbox_full() const { return inbox_full_.load(std::memory_order_relaxed); }

  // --- Worker ---
  // ip_vs_sync_conn() after an input packet of `c` (its in_pkts already counted).
  void on_input(conn::Tracker& tracker, conn::Conn& c, const Sysctls& sysctls, uint64_t now_ms) {
    if (master_) announce(tracker, c, sysctls, now_ms, /*force=*/false);
  }
  // A connection whose packets stop passing through user space (offloaded to XDP), or whose
  // timer XDP's traffic re-armed: announced now, whatever its count, so that the backup holds
  // it and its timer keeps up.
  void on_offloaded(conn::Tracker& tracker, conn::Conn& c, const Sysctls& sysctls,
                    uint64_t now_ms) {
    if (master_) announce(tracker, c, sysctls, now_ms, /*force=*/true);
  }
  // Between bursts: follows the control side's word, pushes a message older than 2 s, applies
  // waiting records (at most `budget`). Returns true if it did any work.
  bool tick(conn::Tracker& tracker, const Snapshot& snap, uint64_t now_ms, uint32_t budget);

  const SyncPortStats& stats() const { return stats_; }

  // ip_vs_find_dest() over a snapshot (passed as `snapshot`), for sync::apply_record().
  static sched::Dest* find_dest(void* snapshot, const sync::SyncConn& record);

 private:
  static constexpr uint32_t kOn = 1u << 31;

  void announce(conn::Tracker& tracker, conn::Conn& c, const Sysctls& sysctls, uint64_t now_ms,
                bool force);
  // One step of a requested dump: at most `budget` table slots.
  void dump_step(conn::Tracker& tracker, uint32_t budget);
  bool push_dump();

  std::atomic<uint32_t> master_word_{0};
  std::atomic<bool> backup_{false};
  uint32_t seen_word_ = 0;  // worker: the word the outbox is configured for
  bool master_ = false;     // worker: seen_word_ has kOn
  sync::Outbox outbox_;
  // ip_vs_conn's sync_endtime, beside the table rather than in its full cache lines: only a
  // master reads it, and only with sync_refresh_period set does it decide anything.
  std::vector<uint32_t> sync_endtime_;
  util::SpscRing<sync::SyncConn, kInboxSlots> inbox_;
  std::atomic<uint64_t> inbox_full_{0};
  SyncPortStats stats_;
  // Takeover dump: its own message and ring, so that a running master's are not disturbed.
  std::atomic<bool> dump_requested_{false};
  std::atomic<bool> dump_done_{false};
  bool dumping_ = false;        // worker: a walk is under way
  uint32_t dump_cursor_ = 0;    // worker: next table slot
  sync::MessageBuilder dump_builder_{0, sync::MessageBuilder::kMaxLen};
  util::SpscRing<sync::Outbox::Message, sync::Outbox::kSlots> dump_ring_;
};

}  // namespace uvs::dp
