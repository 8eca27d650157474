// The SYN proxy (Alibaba LVS's ip_vs_synproxy.c, DPVS's dp_vs_synproxy.c) for TCP services
// with -j enable, NAT and FULLNAT:
//
//  1. A client's SYN is answered here with a SYN-ACK whose ISN is a cookie (conn/syncookie.h):
//     no entry, nothing scheduled, so a flood of spoofed SYNs costs one reply each and never
//     reaches a real server. A retransmitted SYN gets the same cookie.
//  2. The client's ACK carries the cookie back (ack - 1): only then is a real server chosen
//     and the connection made (SYN_SENT), the ACK and the first data segments kept, and a SYN
//     with the client's own ISN and the options the cookie carried sent to the server (again
//     after 1, 2, 4 s... up to synproxy_syn_retry times).
//  3. The server's SYN-ACK is consumed: delta = cookie ISN - server ISN becomes the entry's
//     sequence shift (xmit/tcp_opts.h, the one FULLNAT uses; the fast path repeats it), the
//     connection is ESTABLISHED, and the kept segments go to the server with their
//     acknowledgements shifted.
//
// DR and TUN are not proxied: their replies bypass the director, so nothing could shift the
// server's sequence numbers into the cookie's (see README).
#include <algorithm>

#include "dp/pipeline.h"
#include "xmit/synproxy.h"
#include "xmit/tcp_opts.h"

namespace uvs::dp {

namespace {

constexpr uint32_t kSynRtoMs = 1000;       // TCP_TIMEOUT_INIT: the first SYN retransmission
constexpr uint32_t kRouteRetryMs = 20;     // a SYN waiting for the server's neighbour

bool pure_syn(const pkt::ParsedPacket& p) {
  return (p.tcp_flags & (pkt::kTcpSyn | pkt::kTcpAck | pkt::kTcpRst | pkt::kTcpFin)) ==
         pkt::kTcpSyn;
}

conn::CookieTuple cookie_tuple(const pkt::ParsedPacket& p) {
  return conn::CookieTuple{p.saddr, p.daddr, p.sport, p.dport};
}

bool proxied_method(Fwd fwd) { return fwd == Fwd::kMasq || fwd == Fwd::kFullNat; }

// Proxied when every real server is NAT or FULLNAT: a DR or TUN server answers the client
// directly, with its own sequence numbers, which no cookie ISN could be mapped to.
bool proxied_service(const ServiceEntry& svc) {
  if (!svc.sched || svc.sched->dests().empty()) return false;
  for (const sched::Dest* d : svc.sched->dests())
    if (!proxied_method(d->forwarding().fwd)) return false;
  return true;
}

uint32_t tcp_payload(const uint8_t* frame, const pkt::ParsedPacket& p) {
  const uint32_t hlen = (frame[p.l4_off + 12] >> 4) * 4u;
  return p.l4_off + hlen <= p.l3_end ? p.l3_end - p.l4_off - hlen : 0;
}

}  // namespace

Pipeline::Step Pipeline::synproxy_new(io::Frame& f, pkt::ParsedPacket& p, const conn::Tuple& t,
                                      const ServiceEntry& svc, uint32_t mark) {
  if (p.is_fragment) return Step::kContinue;
  if (!proxied_service(svc)) return Step::kContinue;
  if (pure_syn(p)) {
    synproxy_answer_syn(f, p);
    return Step::kConsumed;
  }
  if ((p.tcp_flags & (pkt::kTcpSyn | pkt::kTcpRst | pkt::kTcpAck)) != pkt::kTcpAck) {
    drop(f, Drop::kNoConnection);
    return Step::kConsumed;
  }
  const uint32_t client_isn = xmit::tcp_seq(f.data, p) - 1;
  const uint32_t cookie = xmit::tcp_ack(f.data, p) - 1;
  auto opts = cookies_.check(cookie_tuple(p), client_isn, cookie, now_ms_);
  if (!opts) {
    drop(f, Drop::kSynproxyBadCookie);
    return Step::kConsumed;
  }
  synproxy_open(f, p, t, svc, mark, *opts);
  return Step::kConsumed;
}

void Pipeline::synproxy_answer_syn(io::Frame& f, const pkt::ParsedPacket& p) {
  const Sysctls& s = snap_->sysctls();
  const xmit::SynOffer offer = xmit::read_syn_offer(f.data, p);
  // What the real server's SYN will carry: the client's options that the sysctls let through.
  conn::SynOptions opts;
  opts.mss = offer.mss ? offer.mss : 536;
  opts.wscale = s.synproxy_wscale && offer.wscale != 0xf ? offer.wscale : 0xf;
  opts.sack = s.synproxy_sack && offer.sack;
  opts.timestamps = s.synproxy_timestamp && offer.timestamps;
  const uint32_t client_isn = xmit::tcp_seq(f.data, p);
  xmit::SynFields a;
  a.seq = cookies_.make(cookie_tuple(p), client_isn, opts, now_ms_);
  a.ack = client_isn + 1;
  a.mss = static_cast<uint16_t>(s.synproxy_init_mss);
  a.sack = opts.sack;
  a.wscale = opts.has_wscale() ? static_cast<uint8_t>(s.synproxy_wscale) : 0xf;
  a.timestamps = opts.timestamps;
  a.tsval = static_cast<uint32_t>(now_ms_);
  a.tsecr = offer.tsval;
  // The client may send this much before the server answered: what is kept for it.
  const uint32_t window = (s.synproxy_skb_store_thresh > 0 ? s.synproxy_skb_store_thresh : 1) *
                          static_cast<uint32_t>(s.synproxy_init_mss);
  a.window = static_cast<uint16_t>(window > 65535 ? 65535 : window);
  const xmit::L2Next back = back_to_sender(f);
  if (!xmit::make_synack(f, p, a, static_cast<uint8_t>(s.synproxy_synack_ttl), back)) {
    drop(f, Drop::kNoRoom);
    return;
  }
  ++stats_.synproxy_synacks;
  queue_tx(f, back.port);
}

void Pipeline::synproxy_open(io::Frame& f, pkt::ParsedPacket& p, const conn::Tuple& t,
                             const ServiceEntry& svc, uint32_t mark,
                             const conn::SynOptions& opts) {
  if (synproxy_free_.empty()) {
    // Every slot holds a handshake in progress: the client's ACK is retransmitted later.
    drop(f, Drop::kTableFull);
    return;
  }
  if (tracker_.drop_new_conn()) {
    drop(f, Drop::kDefence);
    return;
  }
  conn::Conn* c = create_conn(f, p, t, svc, mark);
  if (!c) return;
  const uint32_t slot = synproxy_free_.back();
  synproxy_free_.pop_back();
  ++synproxy_waiting_;
  SynproxyWait& w = synproxy_[slot];
  w.conn = tracker_.table().index_of(*c);
  w.cookie_isn = xmit::tcp_ack(f.data, p) - 1;
  w.client_isn = xmit::tcp_seq(f.data, p) - 1;
  uint32_t tsecr = 0;
  w.tsval = 0;
  xmit::read_timestamps(f.data, p, &w.tsval, &tsecr);
  w.opts = opts;
  w.retries = 0;
  w.dups = 0;
  w.frames[0] = f;
  w.stored = 1;
  c->xflags |= conn::kXSynproxyPending;
  c->seq_delta = slot;
  tracker_.set_tcp_state(*c, conn::tcp::kSynSent);
  ++stats_.synproxy_opened;
  synproxy_send_syn(*c, w);
  tracker_.release(*c, now_ms_);
}

bool Pipeline::synproxy_may_reuse(const conn::Conn& c) const {
  const Sysctls& s = snap_->sysctls();
  if (!s.synproxy_conn_reuse) return false;
  switch (c.state) {
    case conn::tcp::kClose:
      return s.synproxy_conn_reuse_cl;
    case conn::tcp::kTimeWait:
      return s.synproxy_conn_reuse_tw;
    case conn::tcp::kFinWait:
      return s.synproxy_conn_reuse_fw;
    case conn::tcp::kCloseWait:
      return s.synproxy_conn_reuse_cw;
    case conn::tcp::kLastAck:
      return s.synproxy_conn_reuse_la;
    default:
      return false;
  }
}

void Pipeline::synproxy_send_syn(conn::Conn& c, SynproxyWait& w) {
  const io::Frame& ack = w.frames[0];
  pkt::ParsedPacket ap;
  pkt::parse_frame(ack.data, ack.len, &ap);
  xmit::SynFields s = xmit::syn_fields(w.opts);
  s.seq = w.client_isn;
  s.tsval = w.tsval;
  // The client's receive window as its ACK says, unscaled for the SYN (RFC 7323 2.2).
  const uint32_t shift = w.opts.has_wscale() ? w.opts.wscale : 0;
  const uint64_t window = uint64_t{pkt::load_be16(ack.data + ap.l4_off + 14)} << shift;
  s.window = static_cast<uint16_t>(window > 65535 ? 65535 : window);
  xmit::Hop hop;
  const RouteResult route = router_.route(conn::to_inet(c.daf, c.daddr), &hop);
  if (route != RouteResult::kResolved) {
    // Resolving the server's neighbour: try again shortly (not counted as a retry).
    w.next_syn_ms = now_ms_ + kRouteRetryMs;
    next_synproxy_tick_ms_ = std::min(next_synproxy_tick_ms_, w.next_syn_ms);
    return;
  }
  w.next_syn_ms = now_ms_ + (uint64_t{kSynRtoMs} << w.retries);
  next_synproxy_tick_ms_ = std::min(next_synproxy_tick_ms_, w.next_syn_ms);
  io::Frame out;
  if (!io_.alloc(out, 256)) return;  // the timer tries again
  if (!xmit::make_proxy_syn(out, ack, ap, s)) {
    io_.free({&out, 1});
    return;
  }
  pkt::ParsedPacket sp;
  pkt::parse_frame(out.data, out.len, &sp);
  synproxy_transmit(out, sp, c, hop);
}

void Pipeline::synproxy_forget(uint32_t slot) {
  SynproxyWait& w = synproxy_[slot];
  if (w.conn == conn::kNoConn) return;
  for (uint32_t i = 0; i < w.stored; ++i) free_.push_back(w.frames[i]);
  w.stored = 0;
  w.conn = conn::kNoConn;
  synproxy_free_.push_back(slot);
  --synproxy_waiting_;
}

void Pipeline::synproxy_give_up(conn::Conn& c, SynproxyWait& w, uint32_t slot, uint64_t now_ms) {
  ++stats_.synproxy_gave_up;
  io::Frame ack = w.frames[0];
  pkt::ParsedPacket ap;
  pkt::parse_frame(ack.data, ack.len, &ap);
  for (uint32_t i = 1; i < w.stored; ++i) free_.push_back(w.frames[i]);
  w.stored = 0;
  synproxy_forget(slot);
  c.xflags &= ~conn::kXSynproxyPending;
  answer_reset(ack, ap);  // the kept ACK's frame carries the reset
  tracker_.expire_now(c, now_ms);
}

void Pipeline::synproxy_client_waiting(io::Frame& f, pkt::ParsedPacket& p, conn::Conn& c) {
  SynproxyWait& w = synproxy_[c.seq_delta];
  const Sysctls& s = snap_->sysctls();
  if (p.tcp_flags & pkt::kTcpRst) {
    // The client gives up: so does the server's half-open connection.
    synproxy_forget(c.seq_delta);
    c.xflags &= ~conn::kXSynproxyPending;
    c.seq_delta = 0;
    forward_in(f, p, c);
    return;
  }
  const bool has_data = tcp_payload(f.data, p) > 0 || (p.tcp_flags & pkt::kTcpFin);
  if (has_data && !(p.tcp_flags & pkt::kTcpSyn) &&
      w.stored < 1 + static_cast<uint32_t>(s.synproxy_skb_store_thresh)) {
    w.frames[w.stored++] = f;  // counted when it goes (forward_in())
    tracker_.release(c, now_ms_);
    return;
  }
  // A duplicate (the ACK again, data beyond what is kept, a SYN): dropped. Past
  // synproxy_dup_ack_thresh of them the handshake is abandoned (the client is reset).
  ++w.dups;
  drop(f, Drop::kSynproxyDupAck);
  if (s.synproxy_dup_ack_thresh && w.dups > s.synproxy_dup_ack_thresh) {
    synproxy_give_up(c, w, c.seq_delta, now_ms_);
  }
}

void Pipeline::synproxy_server_answer(io::Frame& f, pkt::ParsedPacket& p, conn::Conn& c) {
  const uint32_t slot = c.seq_delta;
  SynproxyWait& w = synproxy_[slot];
  const uint32_t seq = xmit::tcp_seq(f.data, p);
  const uint32_t ack = xmit::tcp_ack(f.data, p);
  const bool answers_our_syn = (p.tcp_flags & pkt::kTcpAck) && ack == w.client_isn + 1;
  if (answers_our_syn && (p.tcp_flags & pkt::kTcpRst)) {
    // Refused: the client gets the reset, in its own sequence space (the cookie's).
    synproxy_forget(slot);
    c.xflags = static_cast<uint8_t>((c.xflags & ~conn::kXSynproxyPending) | conn::kXSynproxySeq);
    c.seq_delta = w.cookie_isn + 1 - seq;
    tracker_.set_tcp_state(c, conn::tcp::kClose);  // as the kernel's SYN_SENT would not
    forward_out(f, p, c);
    return;
  }
  if (!answers_our_syn || (p.tcp_flags & (pkt::kTcpSyn | pkt::kTcpFin)) != pkt::kTcpSyn) {
    drop(f, Drop::kSynproxyBadReply);
    return;
  }
  // ip_vs_synproxy_synack_rcv(): the shift for the connection's life, ESTABLISHED, and the
  // kept segments out in order; the SYN-ACK itself goes no further.
  std::array<io::Frame, kSynproxyStoreMax> kept;
  const uint32_t n = w.stored;
  std::copy_n(w.frames.begin(), n, kept.begin());
  w.stored = 0;
  synproxy_forget(slot);
  c.xflags = static_cast<uint8_t>((c.xflags & ~conn::kXSynproxyPending) | conn::kXSynproxySeq);
  c.seq_delta = w.cookie_isn - seq;
  tracker_.set_tcp_state(c, conn::tcp::kEstablished);
  ++stats_.synproxy_established;
  count_out(c, p.ip_total_len());
  free_.push_back(f);
  for (uint32_t i = 0; i < n; ++i) {
    pkt::ParsedPacket kp;
    pkt::parse_frame(kept[i].data, kept[i].len, &kp);
    forward_in(kept[i], kp, c);
  }
  tracker_.release(c, now_ms_);
}

void Pipeline::synproxy_tick(uint64_t now_ms) {
  // The next deadline is the earliest left after this pass (or set by the SYNs sent in it).
  next_synproxy_tick_ms_ = UINT64_MAX;
  const int retries = snap_->sysctls().synproxy_syn_retry;
  for (uint32_t slot = 0; slot < kSynproxySlots; ++slot) {
    SynproxyWait& w = synproxy_[slot];
    if (w.conn == conn::kNoConn) continue;
    if (now_ms < w.next_syn_ms) {
      next_synproxy_tick_ms_ = std::min(next_synproxy_tick_ms_, w.next_syn_ms);
      continue;
    }
    conn::Conn& c = tracker_.table().at(w.conn);
    if (w.retries < retries) {
      ++w.retries;
      ++stats_.synproxy_syn_retries;
      synproxy_send_syn(c, w);
      continue;
    }
    // The server never answered: the client's connection is reset, as its own stack would
    // after its retries, and the entry goes.
    synproxy_give_up(c, w, slot, now_ms);
  }
}

}  // namespace uvs::dp
