#include "sync/policy.h"

#include <netinet/in.h>

#include "conn/state.h"

namespace uvs::sync {

namespace {

constexpr uint32_t bit(unsigned state) { return uint32_t{1} << state; }

// The states in which a connection is worth announcing: the backup must not hold half-open
// connections (a SYN flood on the master would fill it).
constexpr uint32_t kTcpSynced = bit(conn::tcp::kEstablished) | bit(conn::tcp::kFinWait) |
                                bit(conn::tcp::kClose) | bit(conn::tcp::kCloseWait) |
                                bit(conn::tcp::kTimeWait);
constexpr uint32_t kSctpSynced = bit(conn::sctp::kEstablished) | bit(conn::sctp::kShutdownSent) |
                                 bit(conn::sctp::kShutdownReceived) |
                                 bit(conn::sctp::kShutdownAckSent) | bit(conn::sctp::kClosed);

}  // namespace

bool sync_needed(conn::Conn& c, const SyncSettings& s, uint32_t pkts, bool in_persistence) {
  bool force = false;
  if (c.is_template()) {
    force = false;
  } else if (s.persist_mode && in_persistence) {
    return false;
  } else if (c.protocol == IPPROTO_TCP || c.protocol == IPPROTO_SCTP) {
    const uint32_t synced = c.protocol == IPPROTO_TCP ? kTcpSynced : kSctpSynced;
    const uint8_t established = c.protocol == IPPROTO_TCP
                                    ? uint8_t{conn::tcp::kEstablished}
                                    : uint8_t{conn::sctp::kEstablished};
    if (c.state >= 32 || !(bit(c.state) & synced)) return false;
    force = c.state != c.old_state;
    if (force && c.state != established) {  // a state change past ESTABLISHED goes at once
      c.old_state = c.state;
      return true;
    }
  }
  const int64_t p = pkts;
  if (s.period > 0) {
    if (!c.is_template() && p % s.period != s.threshold) return false;
  } else if (p != s.threshold) {
    return false;
  }
  c.old_state = c.state;
  return true;
}

bool record_of(const conn::Conn& c, SyncConn& out) {
  if (c.af != c.daf) return false;
  out = SyncConn{};
  out.inet6 = c.af == AF_INET6;
  out.protocol = c.protocol;
  out.flags = c.flags;
  out.state = c.state;
  out.cport = c.cport;
  out.vport = c.vport;
  out.dport = c.dport;
  out.fwmark = c.fwmark;
  out.timeout_s = c.timeout_ms / 1000;
  out.caddr = c.caddr;
  out.vaddr = c.vaddr;
  out.daddr = c.daddr;
  // The same option carries a SYN-proxied connection's shift (NAT too: local side zero).
  if ((c.fwd() == Fwd::kFullNat || (c.xflags & conn::kXSynproxySeq)) && !c.is_template()) {
    out.has_fnat = true;
    out.fnat.laddr = c.laddr;
    out.fnat.lport = c.lport;
    out.fnat.xflags = c.xflags & (conn::kXFnatSeqDelta | conn::kXFnatTsStrip |
                                  conn::kXFnatToaDone | conn::kXFnatMssAdjust |
                                  conn::kXSynproxySeq);
    out.fnat.seq_delta = c.seq_delta;
  }
  return true;
}

}  // namespace uvs::sync
