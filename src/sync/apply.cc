#include "sync/apply.h"

#include <netinet/in.h>

#include "conn/state.h"

namespace uvs::sync {

namespace {

constexpr uint32_t kTemplateSyncTimeoutMs = 3 * 60 * 1000;  // a v0 template's: 3 minutes
// IP_VS_CONN_F_BACKUP_UPD_MASK: what a record changes on an existing entry.
constexpr uint16_t kUpdateMask = conn::kConnInactive | conn::kConnOutSeq | conn::kConnInSeq;

// v1 records carry the timeout; v0 ones leave it to the protocol's table for the state.
uint32_t timeout_of(const conn::Tracker& tracker, const SyncConn& r) {
  if (r.timeout_s != 0) return r.timeout_s * 1000u;
  if (r.flags & kFlagTemplate) return kTemplateSyncTimeoutMs;
  const uint8_t state = static_cast<uint8_t>(r.state);
  switch (r.protocol) {
    case IPPROTO_TCP: return tracker.timeouts().tcp_ms(state);
    case IPPROTO_UDP: return tracker.timeouts().udp_ms();
    case IPPROTO_SCTP: return tracker.timeouts().sctp_ms(state);
    default: return kTemplateSyncTimeoutMs;
  }
}

conn::Conn* find_existing(conn::Tracker& tracker, const SyncConn& r, uint8_t af) {
  if (r.flags & kFlagTemplate) {
    conn::TemplateKey key;
    key.snet = r.caddr;
    key.vaddr = r.vaddr;
    key.vport = r.vport;
    key.protocol = r.protocol;
    key.af = af;
    return tracker.table().lookup_template(key);
  }
  conn::Tuple t;
  t.af = af;
  t.protocol = r.protocol;
  t.saddr = r.caddr;
  t.sport = r.cport;
  t.daddr = r.vaddr;
  t.dport = r.vport;
  return tracker.table().lookup_in(t);
}

void take_record(conn::Table& table, conn::Conn& c, const SyncConn& r, uint32_t timeout_ms,
                 int sync_threshold) {
  c.in_pkts = static_cast<uint32_t>(sync_threshold);
  c.state = static_cast<uint8_t>(r.state);
  c.old_state = c.state;
  c.timeout_ms = timeout_ms;
  const bool proxied = r.has_fnat && (r.fnat.xflags & conn::kXSynproxySeq);
  if (r.has_fnat && (c.fwd() == Fwd::kFullNat || proxied)) {
    if (c.fwd() == Fwd::kFullNat && (c.lport != r.fnat.lport || c.laddr != r.fnat.laddr)) {
      // Another director translated the same client with its own local address (a SYN
      // retransmitted after the router moved the flow): the record's translation wins. The
      // reply key is hashed, so the entry is re-filed, never edited in place.
      const bool hashed = c.flags & conn::kConnHashed;
      if (hashed) table.unlink(c);
      c.laddr = r.fnat.laddr;
      c.lport = r.fnat.lport;
      if (hashed) table.link(c);
    }
    c.seq_delta = r.fnat.seq_delta;
    constexpr uint8_t kCarried = conn::kXFnatSeqDelta | conn::kXFnatTsStrip |
                                 conn::kXFnatToaDone | conn::kXFnatMssAdjust |
                                 conn::kXSynproxySeq;
    c.xflags = static_cast<uint8_t>((c.xflags & ~kCarried) | (r.fnat.xflags & kCarried));
  }
}

}  // namespace

Applied apply_record(conn::Tracker& tracker, const SyncConn& r, FindDest find, void* ctx,
                     int sync_threshold, uint64_t now_ms) {
  const uint8_t af = r.inet6 ? AF_INET6 : AF_INET;
  const uint32_t timeout_ms = timeout_of(tracker, r);
  Applied result = Applied::kCreated;
  conn::Conn* c = find_existing(tracker, r, af);
  if (c != nullptr && !c->is_template() &&
      (c->dport != r.dport || !conn::addr_equal(c->daddr, r.daddr))) {
    if (r.flags & conn::kConnInactive) return Applied::kIgnored;
    tracker.expire_now(*c, now_ms);
    c = nullptr;
    result = Applied::kReplaced;
  }
  if (c != nullptr) {
    tracker.set_synced_activity(*c, r.flags & conn::kConnInactive);
    c->flags = static_cast<uint16_t>((c->flags & ~kUpdateMask) | (r.flags & kUpdateMask));
    if (c->dest == nullptr) tracker.bind_synced(*c, find(ctx, r));
    take_record(tracker.table(), *c, r, timeout_ms, sync_threshold);
    tracker.refresh(*c, now_ms);  // re-files it when the record's timeout is the shorter
    return Applied::kUpdated;
  }
  conn::ConnParams p;
  p.af = af;
  p.protocol = r.protocol;
  p.caddr = r.caddr;
  p.cport = r.cport;
  p.vaddr = r.vaddr;
  p.vport = r.vport;
  p.fwmark = r.fwmark;
  p.flags = static_cast<uint16_t>(r.flags | conn::kConnSync);
  p.daf = af;
  p.daddr = r.daddr;
  if (r.has_fnat) {
    p.laddr = r.fnat.laddr;
    p.lport = r.fnat.lport;
  }
  c = tracker.create_synced(p, find(ctx, r), r.dport, static_cast<uint8_t>(r.state), timeout_ms,
                            now_ms);
  if (c == nullptr) return Applied::kTableFull;
  take_record(tracker.table(), *c, r, timeout_ms, sync_threshold);
  return result;
}

}  // namespace uvs::sync
