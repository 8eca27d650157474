// The fast path's user-space side, one per worker: user space decides, XDP repeats the decision.
// When a connection needs no more decisions (TCP or SCTP ESTABLISHED, UDP once it exists), the
// worker describes each direction its transmitter can hand to XDP (xmit::Transmitter's offload
// entries plus the route's next hop) and queues it for the thread that writes the BPF maps
// (uvs_flows); when the connection leaves that state or the table, it queues the removal.
// The worker stays the authority on the connection: XDP's per-direction counters and last-seen
// time (uvs_flow_stats, mmap-ed) are folded into the statistics between bursts, and an expiring
// connection that XDP still saw traffic for is re-armed instead (the kernel's flowtable and
// Open vSwitch's datapath split the work the same way).
//
// Per worker, no locks, no allocation after construction, no system call: the map writes
// happen on the offload thread (uvsd/dataplane.cc) that drains the ring.
#pragma once

#include <atomic>
#include <cstdint>
#include <vector>

#include "conn/conn.h"
#include "io/xdp_flow_abi.h"
#include "util/spsc_ring.h"

namespace uvs::dp {

struct OffloadRequest {
  enum class Op : uint8_t { kInstall, kRemove };
  Op op = Op::kInstall;
  uvs_flow_key key{};
  uvs_flow flow{};  // kInstall
};
using OffloadRing = util::SpscRing<OffloadRequest, 4096>;

// The interfaces XDP may send offloaded flows out of, as uvsd last checked them
// (nl/xdp_egress.h); workers read it, the offload thread updates it.
struct XdpEgresses {
  static constexpr int kMax = 32;
  int ifindex[kMax] = {};
  std::atomic<bool> ok[kMax] = {};
  int count = 0;

  bool any() const {
    for (int i = 0; i < count; ++i)
      if (ok[i].load(std::memory_order_relaxed)) return true;
    return false;
  }
  bool allows(int index) const {
    for (int i = 0; i < count; ++i)
      if (ifindex[i] == index) return ok[i].load(std::memory_order_relaxed);
    return false;
  }
};

// Where a worker's fast path lives; without a ring and stats there is none (--offload off,
// tests).
struct OffloadOptions {
  OffloadRing* ring = nullptr;            // to the thread that writes the BPF maps
  const uvs_flow_stats* stats = nullptr;  // the mmap-ed uvs_flow_stats array
  uint32_t first_slot = 0;                // this worker's slice of it
  uint32_t slots = 0;
  const XdpEgresses* egresses = nullptr;  // null: every egress takes XDP's frames (tests)
};

// Does the connection's state leave nothing for user space to decide? The kernel's flowtable
// offloads TCP once established; UDP has a single state.
bool offloadable(const conn::Conn& c);

class Offload {
 public:
  // Two slots (in, out) per offloaded connection; `conn_capacity` is the worker's table size.
  Offload(const OffloadOptions& options, uint32_t conn_capacity);

  bool enabled() const { return options_.ring != nullptr && options_.stats != nullptr; }
  // Connections are named by their pool index in the worker's table (Table::index_of()).
  bool offloaded(uint32_t conn) const { return slot_of_[conn] != kNoSlot; }
  // A slot pair is free for one more connection; counted in no_slot() when not.
  bool has_room() {
    if (!free_pairs_.empty()) return true;
    ++no_slot_;
    return false;
  }

  // Queues the installation of a connection's directions (`in` and/or `out` may be null; their
  // next hops already in place). False when no slot or no ring room is left: the connection
  // stays in user space, which is always correct.
  bool install(uint32_t conn, const uvs_flow_key* in_key, uvs_flow* in,
               const uvs_flow_key* out_key, uvs_flow* out);
  // Queues the removal of the connection's directions and frees their slots (no-op if it is
  // not offloaded).
  void remove(uint32_t conn);

  // Queues the removals a full ring turned away earlier (between bursts).
  void retry_removals();
  bool removals_pending() const { return !pending_removals_.empty(); }

  // The latest time XDP forwarded a packet of the connection, in ms on the CLOCK_MONOTONIC
  // scale; 0 if never.
  uint64_t last_seen_ms(uint32_t conn) const;

  // Calls add(conn index, direction (0 in, 1 out), packets, bytes) for what XDP forwarded
  // since the last fold: for every offloaded connection, or for one (before it is removed).
  template <typename Add>
  void fold(Add&& add) {
    for (uint32_t pair = 0; pair < conn_of_.size(); ++pair)
      if (conn_of_[pair] != conn::kNoConn) fold_pair(pair, add);
  }
  template <typename Add>
  void fold(uint32_t conn, Add&& add) {
    if (enabled() && slot_of_[conn] != kNoSlot) fold_pair(slot_of_[conn] / 2, add);
  }

  // Calls fn(conn index) for every offloaded connection.
  template <typename Fn>
  void each(Fn&& fn) {
    for (uint32_t conn : conn_of_)
      if (conn != conn::kNoConn) fn(conn);
  }
  // The connections with a direction leaving by an interface `egresses` no longer allows.
  template <typename Fn>
  void each_stranded(const XdpEgresses& egresses, Fn&& fn) {
    for (uint32_t pair = 0; pair < conn_of_.size(); ++pair) {
      if (conn_of_[pair] == conn::kNoConn) continue;
      for (uint32_t dir = 0; dir < 2; ++dir) {
        const uint32_t slot = 2 * pair + dir;
        if (keys_[slot].family && !egresses.allows(static_cast<int>(egress_[slot]))) {
          fn(conn_of_[pair]);
          break;
        }
      }
    }
  }

  uint64_t queue_full() const { return queue_full_; }
  uint64_t no_slot() const { return no_slot_; }

 private:
  static constexpr uint32_t kNoSlot = UINT32_MAX;
  bool queue(OffloadRequest::Op op, const uvs_flow_key& key, const uvs_flow* flow);
  template <typename Add>
  void fold_pair(uint32_t pair, Add& add) {
    for (uint32_t dir = 0; dir < 2; ++dir) {
      const uint32_t slot = 2 * pair + dir;
      const uvs_flow_stats& now = options_.stats[options_.first_slot + slot];
      const uint64_t packets = now.packets - folded_[slot].packets;
      const uint64_t bytes = now.bytes - folded_[slot].bytes;
      if (packets == 0) continue;
      folded_[slot].packets += packets;
      folded_[slot].bytes += bytes;
      add(conn_of_[pair], dir, packets, bytes);
    }
  }

  OffloadOptions options_;
  std::vector<uint32_t> slot_of_;      // by connection pool index: its pair's first slot
  std::vector<uint32_t> conn_of_;      // by slot pair: the connection's pool index
  std::vector<uint32_t> free_pairs_;
  std::vector<uvs_flow_stats> folded_;  // by slot: what fold() has already counted
  std::vector<uvs_flow_key> keys_;      // by slot: what to remove (family 0: not installed)
  std::vector<uint32_t> egress_;        // by slot: the ifindex the direction leaves by
  std::vector<uvs_flow_key> pending_removals_;  // removals the ring had no room for
  uint64_t queue_full_ = 0;
  uint64_t no_slot_ = 0;
};

}  // namespace uvs::dp
