#include "dp/sync_port.h"

#include <cstring>

namespace uvs::dp {

bool SyncPort::push(const sync::SyncConn& record) {
  sync::SyncConn* slot = inbox_.claim();
  if (!slot) {
    inbox_full_.fetch_add(1, std::memory_order_relaxed);
    return false;
  }
  *slot = record;
  inbox_.publish();
  return true;
}

void SyncPort::announce(conn::Tracker& tracker, conn::Conn& c, const Sysctls& sysctls,
                        uint64_t now_ms, bool force) {
  const sync::SyncSettings settings{sysctls.sync_threshold, sysctls.sync_period,
                                    sysctls.sync_persist_mode != 0,
                                    static_cast<uint32_t>(sysctls.sync_refresh_period) * 1000,
                                    sysctls.sync_retries};
  const auto now = static_cast<uint32_t>(now_ms);
  // ip_vs_sync_conn(): the connection (never a ONE_PACKET one), then its controlling template
  // with the template's own count.
  conn::Conn* cp = &c;
  uint32_t pkts = (c.flags & conn::kConnOnePacket) ? static_cast<uint32_t>(settings.threshold)
                                                    : c.in_pkts;
  bool skip = c.flags & conn::kConnOnePacket;
  for (int depth = 0; cp != nullptr && depth < 2; ++depth) {
    conn::Conn* control = tracker.control_of(*cp);
    uint32_t& endtime = sync_endtime_[tracker.table().index_of(*cp)];
    if (cp->in_pkts <= 1) endtime = now & ~3u;  // a new entry, as ip_vs_conn_new() sets it
    bool due = force;
    if (force) {
      cp->old_state = cp->state;
      endtime = (now + cp->timeout_ms) & ~3u;
    } else {
      due = sync::sync_needed(*cp, settings, pkts, control != nullptr, endtime, now);
    }
    sync::SyncConn record;
    if (!skip && due && sync::record_of(*cp, record)) {
      outbox_.add(record, now_ms);
      ++stats_.synced;
    }
    skip = false;
    if (control == nullptr) break;
    cp = control;
    pkts = cp->is_template() ? ++cp->in_pkts : static_cast<uint32_t>(settings.threshold);
  }
}

sched::Dest* SyncPort::find_dest(void* snapshot, const sync::SyncConn& r) {
  // ip_vs_find_dest(): the service by <af, protocol, vaddr, vport> or by fwmark, then the
  // real server; a fwmark service's non-NAT real servers have no port of their own.
  const auto& snap = *static_cast<const Snapshot*>(snapshot);
  const uint16_t af = r.inet6 ? AF_INET6 : AF_INET;
  InetAddr vaddr, daddr;
  vaddr.family = daddr.family = af;
  vaddr.bytes = r.vaddr;
  daddr.bytes = r.daddr;
  const ServiceEntry* svc = r.fwmark ? snap.find_fwmark(af, r.fwmark) : nullptr;
  if (!svc) svc = snap.find_exact(af, r.protocol, vaddr, r.vport);
  if (!svc || !svc->sched) return nullptr;
  uint16_t port = r.dport;
  if (svc->cfg.key.fwmark && (r.flags & conn::kConnFwdMask) != static_cast<uint32_t>(Fwd::kMasq))
    port = 0;
  for (sched::Dest* d : svc->sched->dests())
    if (d->key().addr == daddr && d->key().port == port) return d;
  return nullptr;
}

bool SyncPort::push_dump() {
  sync::Outbox::Message* m = dump_ring_.claim();
  if (!m) return false;  // the collector has not caught up: next turn
  const auto bytes = dump_builder_.bytes();
  m->len = static_cast<uint32_t>(bytes.size());
  std::memcpy(m->data.data(), bytes.data(), bytes.size());
  dump_ring_.publish();
  dump_builder_.reset();
  return true;
}

void SyncPort::dump_step(conn::Tracker& tracker, uint32_t budget) {
  if (!dumping_) {
    if (!dump_requested_.exchange(false, std::memory_order_acquire)) return;
    dumping_ = true;
    dump_cursor_ = 0;
    dump_builder_.reset();
  }
  const conn::Table& table = tracker.table();
  const uint32_t end = table.high_water();  // entries above were never used
  for (; budget > 0 && dump_cursor_ < end; --budget) {
    conn::Conn& c = table.at(dump_cursor_);
    sync::SyncConn record;
    if (c.in_use() && sync::record_of(c, record) && !dump_builder_.add(record)) {
      if (!push_dump()) return;  // ring full: this entry again next turn
      dump_builder_.add(record);
    }
    ++dump_cursor_;
  }
  if (dump_cursor_ < end) return;
  if (!dump_builder_.empty() && !push_dump()) return;
  dumping_ = false;
  dump_done_.store(true, std::memory_order_release);
}

bool SyncPort::tick(conn::Tracker& tracker, const Snapshot& snap, uint64_t now_ms,
                    uint32_t budget) {
  dump_step(tracker, 4096);
  const uint32_t word = master_word_.load(std::memory_order_acquire);
  if (word != seen_word_) {
    seen_word_ = word;
    master_ = word & kOn;
    outbox_.reconfigure(static_cast<uint8_t>(word >> 16), word & 0xffff);
  }
  if (master_) outbox_.flush_if_older(now_ms);
  bool worked = false;
  void* ctx = const_cast<Snapshot*>(&snap);
  const int threshold = snap.sysctls().sync_threshold;
  while (budget-- > 0) {
    const sync::SyncConn* r = inbox_.peek();
    if (!r) break;
    switch (sync::apply_record(tracker, *r, &find_dest, ctx, threshold, now_ms)) {
      case sync::Applied::kCreated:
      case sync::Applied::kUpdated:
      case sync::Applied::kReplaced: ++stats_.applied; break;
      case sync::Applied::kIgnored: ++stats_.ignored; break;
      case sync::Applied::kTableFull: ++stats_.table_full; break;
    }
    inbox_.release();
    worked = true;
  }
  return worked;
}

}  // namespace uvs::dp
