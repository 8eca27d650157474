// The per-worker connection tracker: what the pipeline calls for the connection steps of the
// kernel's ip_vs_in(). It owns the worker's Table, TimerWheel and Defense, and implements on
// top of them the kernel's ip_vs_conn.c semantics: creating and binding connections,
// persistence templates (check, invalidation, control counts, the 60 s re-check of a template
// that still controls connections), state transitions with the secure_tcp switch, expiry,
// conn_reuse_mode and expire_nodest_conn, the drop_entry / drop_packet defences, and listings.
//
// Single-threaded (one per worker). No allocation, exception, lock or system call in any call
// the pipeline makes per packet or per tick.
//
// Pipeline sketch (`now` is the burst's clock in ms). A burst is looked up in three passes so
// the cache misses of all its packets overlap (bench/conn_bench: ~24 ns a lookup at 10M
// entries, against ~50 ns with the bucket pass only and ~95 ns one at a time):
//
//   for each packet i: h[i] = table.hash_in(t[i]) (hash_out for a reply); table.prefetch(h[i]);
//   for each packet i: table.prefetch_candidates(h[i]);
//   for each packet i: the per-packet steps below, with lookup_*_with_hash(h[i], t[i]).
//
// Per packet:
//   Tuple t = Tuple::of(p.af, p.proto, p.saddr, p.sport, p.daddr, p.dport);
//   L4Info l4{p.tcp_flags, p.sctp_chunk_type, p.sctp_chunk2_type, p.has_sctp_chunk2};
//   // From a client:
//   Conn* c = tracker.table().lookup_in_with_hash(h, t);
//   if (c) switch (tracker.check_existing(*c, l4, p.is_fragment, now)) {  // ip_vs_in() checks
//     case Existing::kDrop: drop; case Existing::kReschedule: c = nullptr; break; default: ;
//   }
//   if (c && (c->flags & kConnNoCport)) tracker.fill_cport(*c, t.sport);
//   if (!c) {                                               // conn_schedule, ip_vs_schedule()
//     if (!may_create_conn(t.protocol, l4, sloppy_tcp, sloppy_sctp)) pass to the kernel;
//     if (tracker.drop_new_conn()) drop;                    // drop_packet defence
//     ConnParams cp = ConnParams::from_packet(t, mark);
//     cp.flags = one_packet_flag(svc, t.protocol);
//     if (svc.persistent()) {
//       PersistChoice pc = tracker.persist_schedule(svc, t, mark, now, [&] { return pick(); });
//       if (!pc.dest) pc.table_full ? drop : no-dest (ICMP unreachable);
//       (FULLNAT: pool.allocate(tracker.table(), t.protocol, daddr, pc.dport, &cp.laddr,
//                               &cp.lport))
//       c = tracker.create(cp, pc.dest, pc.dport, pc.tmpl, now);
//     } else {
//       Dest* d = pick();  ...
//       c = tracker.create(cp, d, conn_dport(d->key().port, t.dport), nullptr, now);
//     }
//     if (!c) drop (table full: counted in stats().create_failed);
//   }
//   tracker.on_packet(*c, Dir::kInput, l4);                 // state, counters, in_pkts
//   ... transmit by c->fwd() ...
//   tracker.release(*c, now);                               // refresh: one store
//
//   // From a real server: c = table.lookup_out_with_hash(table.hash_out(t), t);
//   //   then on_packet(*c, Dir::kOutput, l4), transform, release(*c, now).
//
// Between bursts: tracker.tick(now, budget) (expiry, defence scans); serve_listing() when
// asked. On a new configuration snapshot: set_timeouts(), set_sysctls(). When a dest is
// deleted and expire_nodest_conn is on: request_nodest_flush().
#pragma once

#include <cstdint>

#include "conn/conn.h"
#include "conn/defense.h"
#include "conn/listing.h"
#include "conn/persistence.h"
#include "conn/state.h"
#include "conn/table.h"
#include "conn/timer_wheel.h"
#include "model/service.h"
#include "sched/dest.h"
#include "util/hash.h"

namespace uvs::conn {

// The /proc/sys/net/ipv4/vs values the connection code reads (see the kernel's
// Documentation/networking/ipvs-sysctl.rst), per worker copy.
struct ConnSysctls {
  int conn_reuse_mode = 1;  // bit 0: reschedule reused ports; bit 1: also FIN_WAIT of NOOUTPUT
  bool expire_nodest_conn = false;
  bool expire_quiescent_template = false;
  bool sloppy_tcp = false;  // for may_create_conn(); kept here with the others
  bool sloppy_sctp = false;
  DefenseModes defense;
};

struct TrackerOptions {
  TableOptions table;
  WheelOptions wheel;
  Timeouts timeouts;
  ConnSysctls sysctls;
  uint64_t rng_seed = 0;  // start of drop_entry scans; 0 = random
};

// Entries per worker for --conn-max: the kernel's limit is global, ours is split evenly.
inline uint32_t per_worker_capacity(uint64_t conn_max, unsigned workers) {
  const uint64_t n = conn_max / (workers == 0 ? 1 : workers);
  return static_cast<uint32_t>(n == 0 ? 1 : (n > UINT32_MAX / 2 ? UINT32_MAX / 2 : n));
}

// What a new connection is made of besides its dest.
struct ConnParams {
  uint8_t af = AF_INET;
  uint8_t protocol = 0;
  AddrBytes caddr{};
  AddrBytes vaddr{};
  uint16_t cport = 0;
  uint16_t vport = 0;
  uint32_t fwmark = 0;
  // kConnOnePacket (one_packet_flag()), kConnNoCport; for connections made by the sync
  // backup kConnSync plus kConnInactive as the record says (and, with no dest, the record's
  // forwarding method and NOOUTPUT).
  uint16_t flags = 0;
  // FULLNAT: the local address and port LocalAddrPool::allocate() chose.
  AddrBytes laddr{};
  uint16_t lport = 0;
  // Only when there is no dest (sync records whose dest does not exist yet).
  uint8_t daf = AF_INET;
  AddrBytes daddr{};

  static ConnParams from_packet(const Tuple& t, uint32_t fwmark = 0) {
    ConnParams p;
    p.af = t.af;
    p.protocol = t.protocol;
    p.caddr = t.saddr;
    p.cport = t.sport;
    p.vaddr = t.daddr;
    p.vport = t.dport;
    p.fwmark = fwmark;
    return p;
  }
};

// What persist_schedule() decided: dest null means no dest (or table_full).
struct PersistChoice {
  Conn* tmpl = nullptr;
  sched::Dest* dest = nullptr;
  uint16_t dport = 0;  // for create()
  bool table_full = false;
};

// ip_vs_in()'s verdict on a packet that found a connection (kernel >= 5.16).
enum class Existing : uint8_t {
  kForward,     // use the connection
  kReschedule,  // the old one is gone (or left to its controlled connections): schedule anew
  kDrop,        // its dest is gone and expire_nodest_conn is off
};

enum class ExpireEvent : uint8_t {
  kFreed,  // the entry is about to return to the pool (FULLNAT: release its local port)
  kKept,   // it still controls connections: re-armed for 60 s (a sync master re-sends it)
};
using ExpireHook = void (*)(void* ctx, const Conn& conn, ExpireEvent event);
using ActivityHook = uint64_t (*)(void* ctx, const Conn& conn);

struct TickResult {
  WheelRun wheel;
  uint32_t scanned = 0;  // pool slots looked at by defence / nodest scans
  uint32_t dropped = 0;  // entries those scans removed
};

struct TrackerStats {
  uint64_t conns_created = 0;
  uint64_t templates_created = 0;
  uint64_t create_failed = 0;  // table full (or index full): the caller drops the packet
  uint64_t expired = 0;        // entries freed, any reason
  uint64_t kept_for_controlled = 0;
  uint64_t templates_invalidated = 0;
  uint64_t rescheduled = 0;  // check_existing() said kReschedule
  uint64_t defense_dropped_entries = 0;
  uint64_t defense_dropped_packets = 0;
};

class Tracker {
 public:
  static constexpr uint32_t kControllerRecheckMs = 60 * 1000;

  Tracker(const TrackerOptions& options, uint64_t now_ms);
  Tracker(const Tracker&) = delete;
  Tracker& operator=(const Tracker&) = delete;

  Table& table() { return table_; }
  const Table& table() const { return table_; }
  TimerWheel& wheel() { return wheel_; }
  const TimeoutTable& timeouts() const { return timeouts_; }
  const ConnSysctls& sysctls() const { return sysctls_; }
  const Defense& defense() const { return defense_; }
  const TrackerStats& stats() const { return stats_; }
  // Memory held for entries, index and timer wheel.
  size_t memory_bytes() const { return table_.memory_bytes() + wheel_.memory_bytes(); }
  Conn* control_of(const Conn& c) const {
    return c.control == kNoConn ? nullptr : &table_.at(c.control);
  }

  // --- Configuration (between bursts, from a new snapshot) ---------------------------------
  void set_timeouts(const Timeouts& timeouts) { timeouts_.apply(timeouts); }
  void set_sysctls(const ConnSysctls& sysctls);
  // Called for every entry leaving the table (and every 60 s re-arm of a controller).
  void set_expire_hook(ExpireHook hook, void* ctx) {
    hook_ = hook;
    hook_ctx_ = ctx;
  }
  // Asked when a connection's timer runs out: the latest time (ms, this tracker's clock) it
  // saw traffic that bypassed the tracker (the XDP fast path), or 0. Traffic within the
  // connection's timeout re-arms it from that time instead of expiring it.
  void set_activity_hook(ActivityHook hook, void* ctx) {
    activity_hook_ = hook;
    activity_ctx_ = ctx;
  }

  // --- Creation (ip_vs_schedule(), ip_vs_conn_new()) ---------------------------------------
  // A connection to `dest` for a scheduled packet: flags from the dest (forwarding method,
  // NOOUTPUT unless NAT/FULLNAT) and p.flags, INACTIVE, state NONE, timeout 3 s, counted in the
  // dest (bind_conn). Linked and armed unless ONE_PACKET. With `tmpl`, the connection is
  // controlled by it and the template's timer restarts. Null if the table is full.
  Conn* create(const ConnParams& p, sched::Dest* dest, uint16_t dport, Conn* tmpl, uint64_t now_ms);

  // --- Sync backup (ip_vs_proc_conn()) ------------------------------------------------------
  // A connection or template as a sync record describes it: p.flags carries the record's
  // flags (kConnSync added by the caller), `dest` may be null (created unbound, bound later by
  // bind_synced()). State, timeout and in_pkts are the caller's to set; armed with `timeout_ms`.
  Conn* create_synced(const ConnParams& p, sched::Dest* dest, uint16_t dport, uint8_t state,
                      uint32_t timeout_ms, uint64_t now_ms);
  // A record flipped INACTIVE: the flag and the dest's active/inactive counters follow.
  void set_synced_activity(Conn& c, bool inactive);
  // ip_vs_try_bind_dest(): an unbound synced entry meets its dest.
  void bind_synced(Conn& c, sched::Dest* dest);

  // --- Persistence (ip_vs_sched_persist()) -------------------------------------------------
  // The template for `key` if one exists and passes check_template().
  Conn* find_template(const TemplateKey& key);
  // ip_vs_check_template(): the template's dest must be available, and not quiesced when
  // expire_quiescent_template is set. A failing template is invalidated (vport/dport 0xffff,
  // never matched again) and left to expire.
  bool check_template(Conn& tmpl);
  // A template for `key` bound to `dest`, timeout = the service's persistence timeout.
  Conn* create_template(const TemplateKey& key, const ServiceConfig& svc, sched::Dest* dest,
                        uint16_t pkt_dport, uint32_t fwmark, uint64_t now_ms);
  // ip_vs_sched_persist() up to the connection: finds (or, calling schedule() -> Dest*,
  // makes) the template for a client packet `pkt` to persistent service `svc`, and returns the
  // dest and dport for create(..., choice.tmpl, ...).
  template <typename Schedule>
  PersistChoice persist_schedule(const ServiceConfig& svc, const Tuple& pkt, uint32_t fwmark,
                                 uint64_t now_ms, Schedule&& schedule) {
    PersistChoice choice;
    const TemplateKey key = persist_template_key(svc, pkt);
    Conn* tmpl = find_template(key);
    sched::Dest* dest;
    if (tmpl != nullptr) {
      dest = tmpl->dest;
    } else {
      dest = schedule();
      if (dest == nullptr) return choice;
      tmpl = create_template(key, svc, dest, pkt.dport, fwmark, now_ms);
      if (tmpl == nullptr) {
        choice.table_full = true;
        return choice;
      }
    }
    choice.tmpl = tmpl;
    choice.dest = dest;
    choice.dport = persist_conn_dport(svc, pkt.dport, dest->key().port);
    return choice;
  }

  // --- Per packet --------------------------------------------------------------------------
  // State transition (ip_vs_set_state()) with the worker's secure_tcp table; input packets
  // also count in in_pkts. Returns true if the state changed.
  bool on_packet(Conn& c, Dir dir, const L4Info& l4) {
    if (dir == Dir::kInput) ++c.in_pkts;
    return transition(c, control_of(c), dir, l4, timeouts_, defense_.secure_tcp_active());
  }
  // The SYN proxy's states (state.h set_tcp_state()).
  void set_tcp_state(Conn& c, uint8_t state) {
    conn::set_tcp_state(c, control_of(c), state, timeouts_);
  }
  // The packet is done with `c` (the kernel's ip_vs_conn_put): its expiry restarts from now,
  // or a ONE_PACKET connection goes at once.
  void release(Conn& c, uint64_t now_ms) {
    if (c.flags & kConnOnePacket) {
      expire_unarmed_or_rearm(c, now_ms, /*with_template=*/false);
      return;
    }
    refresh(c, now_ms);
  }
  // Restarts `c`'s timer (expires = now + timeout): a store, unless the expiry moves earlier.
  void refresh(Conn& c, uint64_t now_ms) {
    const uint64_t expires = now_ms + c.timeout_ms;
    const bool earlier = expires < c.expires_ms;
    c.expires_ms = expires;
    if (earlier) wheel_.refile(c);
  }
  // ip_vs_in()'s checks (kernel >= 5.16) on a packet from a client that found `c`.
  Existing check_existing(Conn& c, const L4Info& l4, bool is_fragment, uint64_t now_ms);
  // is_new_conn_expected(): `c` is finished, so a new SYN/INIT on its tuple may be scheduled
  // afresh -- TCP TIME_WAIT or CLOSE, FIN_WAIT of a NOOUTPUT (DR/TUN) connection when
  // conn_reuse_mode has bit 1, SCTP CLOSED. Uncontrolled connections only (checked by caller).
  static bool is_new_conn_expected(const Conn& c, int conn_reuse_mode);
  // A NO_CPORT connection's first packet supplies the client port (ip_vs_conn_fill_cport).
  void fill_cport(Conn& c, uint16_t cport);

  // --- Removal -----------------------------------------------------------------------------
  // One verb: an entry leaves the table by expiring (the expire hook sees kFreed), or, while it
  // still controls connections, is kept and re-checked in 60 s (kKept).
  //
  // ip_vs_conn_expire_now(): expire `c` now.
  void expire_now(Conn& c, uint64_t now_ms) { expire_armed(c, now_ms, /*with_template=*/false); }
  // ip_vs_conn_del(): as expire_now(), and the template controlling `c` goes too when that
  // leaves it unused and not ASSURED (defence paths).
  void expire_now_with_template(Conn& c, uint64_t now_ms) {
    expire_armed(c, now_ms, /*with_template=*/true);
  }

  // --- Ticks -------------------------------------------------------------------------------
  // Between bursts: expires due entries and runs the defence and nodest scans, `budget` steps
  // at most. Re-evaluates the defence once a second.
  TickResult tick(uint64_t now_ms, uint32_t budget);
  // expire_nodest_conn with a dest deleted (kernel >= 5.9): drop, over the next ticks, every
  // connection whose dest is no longer available.
  void request_nodest_flush() { nodest_scan_left_ = table_.capacity(); }
  // Teardown: every entry, at once (not for the data path).
  void flush(uint64_t now_ms);

  // --- Defence (ip_vs_todrop(), ip_vs_random_dropentry()) ----------------------------------
  // drop_packet: true for the new connections to refuse (call before scheduling).
  bool drop_new_conn() {
    if (!defense_.drop_packet()) return false;
    ++stats_.defense_dropped_packets;
    return true;
  }

  // --- Listing -----------------------------------------------------------------------------
  // Copies up to `budget` pool slots' worth of entries into `listing` if it is requested;
  // marks it done after the last slot. Returns true if it did any work.
  bool serve_listing(ConnListing& listing, uint64_t now_ms, uint32_t budget);
  static ConnView view_of(const Conn& c, uint64_t now_ms);

 private:
  static sched::ConnKind kind_of(const Conn& c) {
    if (c.is_template()) return sched::ConnKind::kTemplate;
    return c.inactive() ? sched::ConnKind::kInactive : sched::ConnKind::kActive;
  }
  void bind_dest(Conn& c, sched::Dest* dest, uint16_t extra_flags);
  // An entry for `p` bound to `dest`, not yet linked; null (counted) when the pool is empty.
  Conn* new_entry(const ConnParams& p, sched::Dest* dest, uint16_t dport, uint16_t extra_flags);
  // Links `c` in the index; if the index refuses it, undoes new_entry() and returns false.
  bool link_or_undo(Conn& c);
  // The removal steps under the public verbs. `with_template`: ip_vs_conn_del()'s chain rule.
  // expire_unarmed(): `c` is off the wheel; returns true if it was kept (controls others) with
  // a new expiry, false if it was freed. The wheel calls it for due entries.
  bool expire_unarmed(Conn& c, uint64_t now_ms, bool with_template);
  // As expire_unarmed(), re-arming a kept entry.
  void expire_unarmed_or_rearm(Conn& c, uint64_t now_ms, bool with_template) {
    if (expire_unarmed(c, now_ms, with_template)) wheel_.arm(c);
  }
  // When traffic seen by the activity hook would have `c` expire, 0 without any.
  uint64_t expiry_after_activity(const Conn& c) const;
  // The wheel's verdict on a due entry: re-armed if it was active elsewhere (activity hook),
  // else expire_unarmed().
  bool expire_due(Conn& c, uint64_t now_ms);
  // `c` is on the wheel: off it first.
  void expire_armed(Conn& c, uint64_t now_ms, bool with_template) {
    wheel_.disarm(c);
    expire_unarmed_or_rearm(c, now_ms, with_template);
  }
  void update_defense(uint64_t now_ms);
  uint32_t run_scans(uint64_t now_ms, uint32_t budget, uint32_t* dropped);
  bool drop_entry_wanted(const Conn& c, uint64_t now_ms);

  Table table_;
  TimerWheel wheel_;
  TimeoutTable timeouts_;
  ConnSysctls sysctls_;
  Defense defense_;
  TrackerStats stats_;
  ExpireHook hook_ = nullptr;
  void* hook_ctx_ = nullptr;
  ActivityHook activity_hook_ = nullptr;
  void* activity_ctx_ = nullptr;
  uint64_t next_defense_ms_;
  util::SplitMix64 rng_;  // drop_entry scans start at a random slot
  uint32_t drop_scan_pos_ = 0;
  uint32_t drop_scan_left_ = 0;
  uint32_t nodest_scan_pos_ = 0;
  uint32_t nodest_scan_left_ = 0;
};

}  // namespace uvs::conn
