#include "sync/policy.h"

#include <netinet/in.h>

#include <algorithm>
#include <cstdlib>

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

bool sync_needed(conn::Conn& c, const SyncSettings& s, uint32_t pkts, bool in_persistence,
                 uint32_t& sync_endtime, uint32_t now_ms) {
  const uint32_t orig = sync_endtime;
  uint32_t n = (now_ms + c.timeout_ms) & ~3u;
  auto set = [&] {
    c.old_state = c.state;
    sync_endtime = n;
    return true;
  };
  if (c.is_template()) {
    // templates go by the refresh and period rules alone
  } else if (s.persist_mode && in_persistence) {
    return false;
  } else if (c.protocol == IPPROTO_TCP || c.protocol == IPPROTO_SCTP) {
    const uint32_t synced = c.protocol == IPPROTO_TCP ? kTcpSynced : kSctpSynced;
    const uint8_t established = c.protocol == IPPROTO_TCP
                                    ? uint8_t{conn::tcp::kEstablished}
                                    : uint8_t{conn::sctp::kEstablished};
    if (c.state >= 32 || !(bit(c.state) & synced)) return false;
    if (c.state != c.old_state && c.state != established)  // a state change past ESTABLISHED
      return set();                                        // goes at once
  }
  if (s.refresh_period_ms > 0) {
    // Not again while the backup's copy would expire within a refresh period (or half the
    // timeout, at least 10 s) of this one, but for sync_retries resends, the first an eighth
    // of the period after the last.
    const int64_t diff = static_cast<int32_t>(n - orig);
    const int64_t min_diff = std::max<int64_t>(c.timeout_ms >> 1, 10000);
    if (std::abs(diff) < std::min<int64_t>(s.refresh_period_ms, min_diff)) {
      const int retries = static_cast<int>(orig & 3);
      if (retries >= s.retries) return false;
      if (static_cast<int32_t>(now_ms - (orig - c.timeout_ms + (s.refresh_period_ms >> 3))) < 0)
        return false;
      n |= static_cast<uint32_t>(retries + 1);
    }
  }
  const int64_t p = pkts;
  if (s.period > 0) {
    if (!c.is_template() && p % s.period != s.threshold) return false;
  } else if (s.refresh_period_ms == 0 && p != s.threshold) {
    return false;
  }
  return set();
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
