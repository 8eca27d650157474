#include "dp/pipeline.h"

#include <netinet/icmp6.h>
#include <netinet/ip_icmp.h>

#include <cstring>

#include "conn/persistence.h"
#include "dp/runtime.h"
#include "pkt/checksum.h"
#include "xmit/icmp.h"
#include "xmit/l3.h"
#include "xmit/tcp_opts.h"
#include "xmit/tunnel.h"

namespace uvs::dp {

namespace {

constexpr uint16_t kFtpDataPort = 20;

constexpr const char* kDropNames[] = {
    "malformed",      "not-ours",     "no-connection", "no-destination", "dest-gone",
    "table-full",     "defence",      "ttl-exceeded",  "too-big",        "no-route",
    "neighbour-pending", "no-room",   "fragment-orphan", "no-local-port", "unsupported",
    "tx-full",
};
static_assert(sizeof(kDropNames) / sizeof(kDropNames[0]) == static_cast<size_t>(Drop::kCount));

conn::L4Info l4_of(const pkt::ParsedPacket& p) {
  return conn::L4Info{p.tcp_flags, p.sctp_chunk_type, p.sctp_chunk2_type, p.has_sctp_chunk2};
}

uint64_t service_id(const ServiceKey& k) {
  uint64_t h = k.fwmark ? (uint64_t{k.fwmark} << 8 | 1) : (uint64_t{k.port} << 8 | k.protocol);
  h ^= uint64_t{k.af} << 56;
  for (int i = 0; i < 16; i += 8) {
    uint64_t w;
    std::memcpy(&w, k.addr.bytes.data() + i, 8);
    h = (h ^ w) * 0x9E3779B97F4A7C15ULL;
    h ^= h >> 29;
  }
  return h;
}

// ICMP errors IPVS relays: destination unreachable, source quench, time exceeded
// (ICMPv6: destination unreachable, packet too big, time exceeded).
bool relayed_icmp_error(const pkt::ParsedPacket& p) {
  if (p.is_v6())
    return p.icmp_type == ICMP6_DST_UNREACH || p.icmp_type == ICMP6_PACKET_TOO_BIG ||
           p.icmp_type == ICMP6_TIME_EXCEEDED;
  return p.icmp_type == ICMP_DEST_UNREACH || p.icmp_type == ICMP_SOURCE_QUENCH ||
         p.icmp_type == ICMP_TIME_EXCEEDED;
}

conn::ConnSysctls conn_sysctls(const Sysctls& s) {
  conn::ConnSysctls c;
  c.conn_reuse_mode = s.conn_reuse_mode;
  c.expire_nodest_conn = s.expire_nodest_conn != 0;
  c.expire_quiescent_template = s.expire_quiescent_template != 0;
  c.sloppy_tcp = s.sloppy_tcp != 0;
  c.sloppy_sctp = s.sloppy_sctp != 0;
  c.defense.drop_entry = s.drop_entry;
  c.defense.drop_packet = s.drop_packet;
  c.defense.secure_tcp = s.secure_tcp;
  c.defense.am_droprate = s.am_droprate;
  return c;
}

bool ipv4_df(const uint8_t* frame, const pkt::ParsedPacket& p) {
  return pkt::load_be16(frame + p.l3_off + 6) & pkt::kIpv4FlagDf;
}

}  // namespace

const char* drop_name(Drop d) { return kDropNames[static_cast<size_t>(d)]; }

Pipeline::Pipeline(const PipelineOptions& options, EpochPublisher<Snapshot>& snapshots,
                   Router& router, io::PacketIo& io, uint64_t now_ms)
    : options_(options),
      snapshots_(snapshots),
      router_(router),
      io_(io),
      tracker_(options.tracker, now_ms),
      now_ms_(now_ms),
      tx_(io.ports().size()),
      frags_(kFragSlots),
      isn_state_(options.tracker.rng_seed ? options.tracker.rng_seed : 0x2545F4914F6CDD1DULL ^ now_ms) {
  free_.reserve(kBurst * 2);
  held_.reserve(kMaxHeld);
  tracker_.set_expire_hook(&Pipeline::expire_hook, this);
}

Pipeline::~Pipeline() {
  for (auto& h : held_) io_.free({&h.frame, 1});
  snapshots_.idle(options_.worker);
}

void Pipeline::expire_hook(void* ctx, const conn::Conn& c, conn::ExpireEvent ev) {
  static_cast<Pipeline*>(ctx)->on_expire(c, ev);
}

void Pipeline::on_expire(const conn::Conn& c, conn::ExpireEvent ev) {
  if (ev != conn::ExpireEvent::kFreed || c.is_template() || c.fwd() != Fwd::kFullNat) return;
  if (const ServiceEntry* svc = service_of(c))
    if (auto* pool = pool_for(*svc)) pool->release(c);
}

const ServiceEntry* Pipeline::service_of(const conn::Conn& c) const {
  if (!snap_) return nullptr;
  return snap_->find(c.af, c.protocol, conn::to_inet(c.af, c.vaddr), c.vport, c.fwmark);
}

conn::LocalAddrPool* Pipeline::pool_for(const ServiceEntry& svc) {
  auto it = pools_.find(service_id(svc.cfg.key));
  return it == pools_.end() ? nullptr : it->second.get();
}

void Pipeline::adopt(const Snapshot* snap) {
  snap_ = snap;
  if (snap->generation() == snap_generation_) return;
  snap_generation_ = snap->generation();
  tracker_.set_timeouts(snap->timeouts());
  tracker_.set_sysctls(conn_sysctls(snap->sysctls()));
  // Local-address pools follow the services' -P/-Q lists; a pool whose list is unchanged keeps
  // its port cursor and counters.
  const Sysctls& s = snap->sysctls();
  conn::LocalPortRange range{static_cast<uint16_t>(s.fullnat_lport_min),
                             static_cast<uint16_t>(s.fullnat_lport_max)};
  std::unordered_map<uint64_t, std::unique_ptr<conn::LocalAddrPool>> next;
  for (const auto& svc : snap->services()) {
    if (svc.laddrs.empty()) continue;
    uint64_t id = service_id(svc.cfg.key);
    auto it = pools_.find(id);
    bool same = it != pools_.end() && it->second->addrs().size() == svc.laddrs.size();
    for (size_t i = 0; same && i < svc.laddrs.size(); ++i)
      same = it->second->addrs()[i].addr == svc.laddrs[i];
    if (same) {
      next[id] = std::move(it->second);
    } else {
      next[id] = std::make_unique<conn::LocalAddrPool>(
          svc.laddrs, options_.worker, options_.workers, range,
          static_cast<uint32_t>(s.fullnat_lport_tries));
    }
  }
  pools_ = std::move(next);
}

// --- Burst ----------------------------------------------------------------------------------

void Pipeline::process(std::span<io::Frame> burst, uint64_t now_ms, bool taken_over) {
  now_ms_ = now_ms;
  adopt(snapshots_.enter(options_.worker));
  router_.begin_burst();
  std::array<pkt::ParsedPacket, kBurst> parsed;
  std::array<uint64_t, kBurst> hashes;
  std::array<bool, kBurst> mine;
  const uint32_t n = static_cast<uint32_t>(std::min<size_t>(burst.size(), kBurst));
  stats_.rx += n;
  // Stage 1: parse, hand over what another worker owns, and start fetching each packet's
  // connection bucket.
  for (uint32_t i = 0; i < n; ++i) {
    pkt::parse_frame(burst[i].data, burst[i].len, &parsed[i]);
    const auto& p = parsed[i];
    mine[i] = true;
    hashes[i] = 0;
    if (options_.handoff && !taken_over && p.ok()) {
      const unsigned owner = owner_of(p);
      if (owner != options_.worker) {
        mine[i] = false;
        if (options_.handoff->ring(options_.worker, owner).push(burst[i])) {
          ++stats_.handed_off;
          free_.push_back(burst[i]);
        } else {
          drop(burst[i], Drop::kTxFull);
        }
        continue;
      }
    }
    if (p.ok() && p.has_l4 && xmit::has_ports(p.proto)) {
      hashes[i] = tracker_.table().hash_in(
          conn::Tuple::of(p.af, p.proto, p.saddr, p.sport, p.daddr, p.dport));
      tracker_.table().prefetch(hashes[i]);
    }
  }
  // Stage 2: the buckets are on their way; fetch the entries they point at.
  for (uint32_t i = 0; i < n; ++i)
    if (hashes[i]) tracker_.table().prefetch_candidates(hashes[i]);
  // Stage 3: handle them in order.
  for (uint32_t i = 0; i < n; ++i)
    if (mine[i]) handle(burst[i], parsed[i], hashes[i]);
  flush();
}

unsigned Pipeline::owner_of(const pkt::ParsedPacket& p) const {
  const unsigned workers = options_.workers;
  InetAddr client;
  uint16_t port;
  if (p.is_icmp_error) {
    if (!p.has_inner || !p.inner.has_l4) return options_.worker;
    // The client is the end of the quoted packet that is not a virtual service (a fwmark
    // service's address is one only through its rule, as in handle()).
    const uint32_t mark = snap_->classify(p.inner.proto, p.inner.saddr, p.inner.sport);
    const bool from_vip =
        snap_->find(p.af, p.inner.proto, p.inner.saddr, p.inner.sport, mark) != nullptr;
    client = from_vip ? p.inner.daddr : p.inner.saddr;
    port = from_vip ? p.inner.dport : p.inner.sport;
  } else if (!p.has_l4 || !xmit::has_ports(p.proto)) {
    // Non-first fragments carry no ports: they stay where they land (with several workers
    // they may miss their first fragment's connection).
    return options_.worker;
  } else if (snap_->find(p.af, p.proto, p.daddr, p.dport,
                         snap_->classify(p.proto, p.daddr, p.dport))) {
    client = p.saddr;
    port = p.sport;
  } else if (snap_->is_local_addr(p.daddr)) {
    const Sysctls& s = snap_->sysctls();
    return conn::worker_of_lport({static_cast<uint16_t>(s.fullnat_lport_min),
                                  static_cast<uint16_t>(s.fullnat_lport_max)},
                                 workers, p.dport);
  } else {
    client = p.daddr;  // a reply toward the client
    port = p.dport;
  }
  uint32_t h = (client.fold() ^ (uint32_t{port} << 16 | port)) * 0x9E3779B1u;
  h ^= h >> 16;
  return h % workers;
}

void Pipeline::take_over(uint64_t now_ms) {
  std::array<io::Frame, kBurst> burst;
  uint32_t n = 0;
  for (unsigned from = 0; from < options_.workers; ++from) {
    if (from == options_.worker) continue;
    HandoffRing& ring = options_.handoff->ring(from, options_.worker);
    while (n < kBurst) {
      const HandoffRing::Slot* s = ring.peek();
      if (!s) break;
      io::Frame f;
      if (!io_.alloc(f, 256) || f.tailroom < s->len) {
        if (f.data) io_.free({&f, 1});
        break;  // out of buffers: leave it in the ring for the next turn
      }
      std::memcpy(f.data, s->data, s->len);
      f.len = s->len;
      f.tailroom = static_cast<uint16_t>(f.tailroom - s->len);
      f.port = s->port;
      ring.release();
      burst[n++] = f;
    }
  }
  if (n) {
    stats_.taken_over += n;
    process({burst.data(), n}, now_ms, true);
  }
}

uint32_t Pipeline::poll(uint64_t now_ms) {
  std::array<io::Frame, kBurst> burst;
  if (options_.handoff) take_over(now_ms);
  uint32_t n = io_.rx_burst(burst);
  if (n) {
    process({burst.data(), n}, now_ms);
  } else {
    now_ms_ = now_ms;
    adopt(snapshots_.enter(options_.worker));
    router_.begin_burst();
  }
  if (!held_.empty()) {
    retry_held(now_ms);
    flush();
  }
  tracker_.tick(now_ms, 256);
  if (listing_.requested()) tracker_.serve_listing(listing_, now_ms, 4096);
  io_.flush();
  return n;
}

// --- One packet -----------------------------------------------------------------------------

void Pipeline::handle(io::Frame& f, pkt::ParsedPacket& p, uint64_t hash_in) {
  if (!p.ok()) {
    if (p.verdict == pkt::Verdict::kNotIp) {
      pass(f);
    } else {
      ++stats_.malformed[static_cast<size_t>(p.reason)];
      drop(f, Drop::kMalformed);
    }
    return;
  }
  if (p.is_icmp_error) {
    handle_icmp_error(f, p);
    return;
  }
  if (!xmit::has_ports(p.proto)) {
    pass(f);
    return;
  }
  if (p.is_fragment && !p.has_l4) {
    handle_fragment(f, p);
    return;
  }
  const conn::Tuple t = conn::Tuple::of(p.af, p.proto, p.saddr, p.sport, p.daddr, p.dport);
  const conn::L4Info l4 = l4_of(p);
  conn::Conn* c = tracker_.table().lookup_in_with_hash(hash_in, t);
  if (c) {
    switch (tracker_.check_existing(*c, l4, p.is_fragment, now_ms_)) {
      case conn::Existing::kDrop:
        drop(f, Drop::kDestGone);
        return;
      case conn::Existing::kReschedule:
        c = nullptr;
        break;
      case conn::Existing::kForward:
        if (c->flags & conn::kConnNoCport) tracker_.fill_cport(*c, t.sport);
        break;
    }
  }
  if (!c) {
    if (conn::Conn* reply = tracker_.table().lookup_out(t)) {
      forward_out(f, p, *reply);
      return;
    }
    const uint32_t mark = snap_->classify(p.proto, p.daddr, p.dport);
    const ServiceEntry* svc = snap_->find(p.af, p.proto, p.daddr, p.dport, mark);
    if (!svc) {
      ++stats_.drops[static_cast<size_t>(Drop::kNotOurs)];
      pass(f);
      return;
    }
    bool consumed = false;
    c = schedule(f, p, t, *svc, mark, &consumed);
    if (consumed) return;
  }
  forward_in(f, p, *c);
}

conn::Conn* Pipeline::schedule(io::Frame& f, pkt::ParsedPacket& p, const conn::Tuple& t,
                               const ServiceEntry& svc, uint32_t mark, bool* consumed) {
  *consumed = true;
  const Sysctls& sys = snap_->sysctls();
  if (!conn::may_create_conn(p.proto, l4_of(p), sys.sloppy_tcp, sys.sloppy_sctp)) {
    drop(f, Drop::kNoConnection);
    return nullptr;
  }
  if (tracker_.drop_new_conn()) {
    drop(f, Drop::kDefence);
    return nullptr;
  }
  // Spec D.3: active FTP data (from port 20) is never scheduled; the kernel leaves it to its
  // local stack, which here means passing it.
  if (p.sport == kFtpDataPort) {
    pass(f);
    return nullptr;
  }
  auto no_destination = [&] {
    ++stats_.drops[static_cast<size_t>(Drop::kNoDestination)];
    auto k = xmit::icmp_port_unreachable(p.is_v6());
    icmp_to_sender(f, p, k.type, k.code, 0);
    return nullptr;
  };
  const sched::PacketKey key{p.saddr, p.daddr, p.sport, p.proto};
  auto pick = [&]() -> sched::Dest* {
    return svc.sched ? svc.sched->schedule(options_.worker, key,
                                           sched::Nanos(int64_t(now_ms_) * 1000000))
                     : nullptr;
  };
  conn::ConnParams cp = conn::ConnParams::from_packet(t, mark);
  cp.flags = conn::one_packet_flag(svc.cfg, p.proto);
  sched::Dest* dest;
  uint16_t dport;
  conn::Conn* tmpl = nullptr;
  if (svc.cfg.persistent()) {
    conn::PersistChoice pc = tracker_.persist_schedule(svc.cfg, t, mark, now_ms_, pick);
    if (!pc.dest) {
      if (pc.table_full) {
        drop(f, Drop::kTableFull);
        return nullptr;
      }
      return no_destination();
    }
    dest = pc.dest;
    dport = pc.dport;
    tmpl = pc.tmpl;
  } else {
    // A non-persistent service answers only its own port (port 0 needs persistence).
    if (!svc.cfg.key.is_fwmark() && p.dport != svc.cfg.key.port) return no_destination();
    dest = pick();
    if (!dest) return no_destination();
    dport = conn::conn_dport(dest->key().port, p.dport);
  }
  conn::LocalAddrPool* pool = nullptr;
  if (dest->forwarding().fwd == Fwd::kFullNat) {
    pool = pool_for(svc);
    if (!pool || !pool->allocate(tracker_.table(), p.proto, dest->key().addr, dport, &cp.laddr,
                                 &cp.lport)) {
      drop(f, Drop::kNoLocalPort);
      return nullptr;
    }
  }
  conn::Conn* c = tracker_.create(cp, dest, dport, tmpl, now_ms_);
  if (!c) {
    if (pool) pool->release(dest->key().addr.family, cp.laddr);
    drop(f, Drop::kTableFull);
    return nullptr;
  }
  auto& rs = RealServer::of(*dest);
  rs.counters().worker(options_.worker).add_conn();
  rs.service_counters().worker(options_.worker).add_conn();
  *consumed = false;
  return c;
}

void Pipeline::forward_in(io::Frame& f, pkt::ParsedPacket& p, conn::Conn& c) {
  const InetAddr daddr = conn::to_inet(c.daf, c.daddr);
  Hop hop;
  const RouteResult route = c.fwd() == Fwd::kLocal ? RouteResult::kLocal : router_.route(daddr, &hop);
  // The fragments that follow must find the connection even while this one waits.
  if (p.is_first_fragment()) remember_fragment(p, c, true);
  if (route == RouteResult::kPending) {
    hold(f);
    tracker_.release(c, now_ms_);
    return;
  }
  // A non-first fragment has no L4 header: it moves no state machine.
  if (p.has_l4) tracker_.on_packet(c, conn::Dir::kInput, l4_of(p));
  count_in(c, p.ip_total_len());
  switch (c.fwd()) {
    case Fwd::kMasq:
      if (next_hop(f, p, route, hop, 0)) {
        xmit::rewrite_tuple(f.data, p, p.saddr, p.sport, daddr, c.dport);
        if (xmit::set_ethernet(f, p, hop.l2))
          send(f, hop.l2.port);
        else
          drop(f, Drop::kNoRoom);
      }
      break;
    case Fwd::kRoute:
      if (next_hop(f, p, route, hop, 0)) {
        // A local sender's partial checksum means nothing once the frame leaves this host.
        if (p.l4_csum == pkt::CsumStatus::kPartial) pkt::recompute_l4_checksum(f.data, p);
        if (xmit::set_ethernet(f, p, hop.l2))
          send(f, hop.l2.port);
        else
          drop(f, Drop::kNoRoom);
      }
      break;
    case Fwd::kTunnel: {
      xmit::TunnelParams t = tunnel_params(c, daddr);
      // Like the kernel, an IPv4 tunnel fragments the outer packet of an inner one without DF.
      if (next_hop(f, p, route, hop, xmit::tunnel_overhead(t), !daddr.is_v6())) {
        t.src = hop.src;
        if (p.l4_csum == pkt::CsumStatus::kPartial) pkt::recompute_l4_checksum(f.data, p);
        if (xmit::tunnel_encap(f, p, t, hop.l2))
          send_fragmented(f, hop);
        else
          drop(f, Drop::kNoRoom);
      }
      break;
    }
    case Fwd::kFullNat: {
      if (!next_hop(f, p, route, hop, 0)) break;
      const InetAddr laddr = conn::to_inet(c.daf, c.laddr);
      if (p.proto == IPPROTO_TCP && !p.is_fragment) {
        const Sysctls& s = snap_->sysctls();
        const bool syn = (p.tcp_flags & pkt::kTcpSyn) && !(p.tcp_flags & pkt::kTcpAck);
        if (syn && !(c.xflags & conn::kXFnatSeqDelta)) {
          // A fresh initial sequence number toward the real server, unguessable from the
          // client's (spec E.5).
          isn_state_ ^= isn_state_ << 13;
          isn_state_ ^= isn_state_ >> 7;
          isn_state_ ^= isn_state_ << 17;
          c.fnat_seq_delta = static_cast<uint32_t>(isn_state_) - xmit::tcp_seq(f.data, p);
          c.xflags |= conn::kXFnatSeqDelta;
        }
        if (syn) xmit::tcp_syn_fixups(f.data, p, s.fullnat_timestamp_remove != 0, 0);
        if (c.xflags & conn::kXFnatSeqDelta) xmit::tcp_shift_seq(f.data, p, c.fnat_seq_delta);
        const bool handshake_ack = !(p.tcp_flags & (pkt::kTcpSyn | pkt::kTcpRst | pkt::kTcpFin)) &&
                                   (p.tcp_flags & pkt::kTcpAck) &&
                                   !(c.xflags & conn::kXFnatToaDone);
        if (s.fullnat_toa && (syn || handshake_ack)) {
          const InetAddr caddr = conn::to_inet(c.af, c.caddr);
          if (xmit::tcp_insert_toa(f, p, caddr, c.cport, hop.mtu) && handshake_ack)
            c.xflags |= conn::kXFnatToaDone;
        }
        xmit::rewrite_tuple(f.data, p, laddr, c.lport, daddr, c.dport);
        pkt::ParsedPacket after = p;
        after.saddr = laddr;
        after.daddr = daddr;
        pkt::recompute_l4_checksum(f.data, after);
      } else {
        xmit::rewrite_tuple(f.data, p, laddr, c.lport, daddr, c.dport);
      }
      if (xmit::set_ethernet(f, p, hop.l2))
        send(f, hop.l2.port);
      else
        drop(f, Drop::kNoRoom);
      break;
    }
    case Fwd::kLocal:
    default:
      pass(f);
      break;
  }
  tracker_.release(c, now_ms_);
}

void Pipeline::forward_out(io::Frame& f, pkt::ParsedPacket& p, conn::Conn& c) {
  const InetAddr caddr = conn::to_inet(c.af, c.caddr);
  Hop hop;
  const RouteResult route = router_.route(caddr, &hop);
  if (p.is_first_fragment()) remember_fragment(p, c, false);
  if (route == RouteResult::kPending) {
    hold(f);
    tracker_.release(c, now_ms_);
    return;
  }
  if (p.has_l4) tracker_.on_packet(c, conn::Dir::kOutput, l4_of(p));
  count_out(c, p.ip_total_len());
  const InetAddr vaddr = conn::to_inet(c.af, c.vaddr);
  if (next_hop(f, p, route, hop, 0)) {
    if (c.fwd() == Fwd::kFullNat && p.proto == IPPROTO_TCP && !p.is_fragment) {
      if (c.xflags & conn::kXFnatSeqDelta) xmit::tcp_unshift_ack(f.data, p, c.fnat_seq_delta);
      const Sysctls& s = snap_->sysctls();
      if ((p.tcp_flags & pkt::kTcpSyn) && s.fullnat_mss_adjust && s.fullnat_toa)
        xmit::tcp_syn_fixups(f.data, p, false,
                             c.af == AF_INET6 ? xmit::kToaLenV6 + 4 : xmit::kToaLenV4);
      xmit::rewrite_tuple(f.data, p, vaddr, c.vport, caddr, c.cport);
      pkt::ParsedPacket after = p;
      after.saddr = vaddr;
      after.daddr = caddr;
      pkt::recompute_l4_checksum(f.data, after);
    } else if (c.fwd() == Fwd::kFullNat) {
      xmit::rewrite_tuple(f.data, p, vaddr, c.vport, caddr, c.cport);
    } else {
      xmit::rewrite_tuple(f.data, p, vaddr, c.vport, p.daddr, p.dport);
    }
    if (xmit::set_ethernet(f, p, hop.l2))
      send(f, hop.l2.port);
    else
      drop(f, Drop::kNoRoom);
  }
  tracker_.release(c, now_ms_);
}

bool Pipeline::next_hop(io::Frame& f, const pkt::ParsedPacket& p, RouteResult route,
                        const Hop& hop, uint32_t overhead, bool may_fragment) {
  switch (route) {
    case RouteResult::kResolved:
      break;
    case RouteResult::kLocal:
      pass(f);
      return false;
    case RouteResult::kPending:
      hold(f);
      return false;
    case RouteResult::kUnreachable:
      drop(f, Drop::kNoRoute);
      return false;
  }
  if (p.ip_total_len() + overhead > hop.mtu) {
    if (p.is_v6() || ipv4_df(f.data, p)) {
      ++stats_.drops[static_cast<size_t>(Drop::kTooBig)];
      auto k = xmit::icmp_frag_needed(p.is_v6());
      uint32_t mtu = hop.mtu > overhead ? hop.mtu - overhead : 0;
      if (p.is_v6() && mtu < 1280) mtu = 1280;
      icmp_to_sender(f, p, k.type, k.code, mtu);
      return false;
    }
    if (!may_fragment) {
      drop(f, Drop::kTooBig);  // would need fragmenting, which only tunnels do
      return false;
    }
  }
  if (!xmit::decrement_ttl(f.data, p)) {
    ++stats_.drops[static_cast<size_t>(Drop::kTtlExceeded)];
    auto k = xmit::icmp_ttl_exceeded(p.is_v6());
    icmp_to_sender(f, p, k.type, k.code, 0);
    return false;
  }
  return true;
}

void Pipeline::hold(io::Frame& f) {
  // Kept untouched until the kernel has resolved the neighbour; retried whole, so nothing is
  // transformed or counted twice.
  if (held_.size() < kMaxHeld) {
    held_.push_back(Held{f, now_ms_ + options_.hold_ms});
    ++stats_.held;
  } else {
    drop(f, Drop::kNeighbourPending);
  }
}

void Pipeline::count_in(const conn::Conn& c, uint32_t bytes) {
  if (!c.dest || !c.dest->available()) return;
  auto& rs = RealServer::of(*c.dest);
  rs.counters().worker(options_.worker).add_in(bytes);
  rs.service_counters().worker(options_.worker).add_in(bytes);
}

void Pipeline::count_out(const conn::Conn& c, uint32_t bytes) {
  if (!c.dest || !c.dest->available()) return;
  auto& rs = RealServer::of(*c.dest);
  rs.counters().worker(options_.worker).add_out(bytes);
  rs.service_counters().worker(options_.worker).add_out(bytes);
}

void Pipeline::icmp_to_sender(io::Frame& f, const pkt::ParsedPacket& p, uint8_t type,
                              uint8_t code, uint32_t info) {
  // Back out of the port the packet came in, to the MAC it came from. The source is the
  // packet's destination when that is ours (a VIP), else our address toward the sender.
  xmit::L2Next back;
  back.port = f.port;
  std::memcpy(back.src.data(), f.data, 6);
  std::memcpy(back.dst.data(), f.data + 6, 6);
  InetAddr src = p.daddr;
  Hop toward;
  if (!snap_->find(p.af, p.proto, p.daddr, p.dport, snap_->classify(p.proto, p.daddr, p.dport)) &&
      router_.route(p.saddr, &toward) == RouteResult::kResolved)
    src = toward.src;
  if (xmit::make_icmp_error(f, p, type, code, info, src, back)) {
    ++stats_.icmp_sent;
    send(f, back.port);
  } else {
    io_.free({&f, 1});
  }
}

// --- ICMP errors about tracked connections (spec E.1) -----------------------------------------

void Pipeline::handle_icmp_error(io::Frame& f, pkt::ParsedPacket& p) {
  if (!relayed_icmp_error(p) || !p.has_inner || !p.inner.has_l4 ||
      !xmit::has_ports(p.inner.proto)) {
    pass(f);
    return;
  }
  const auto& in = p.inner;
  // About our reply to a client (quoted: VIP -> client): the client's input tuple.
  const conn::Tuple as_input =
      conn::Tuple::of(p.af, in.proto, in.daddr, in.dport, in.saddr, in.sport);
  if (conn::Conn* c = tracker_.table().lookup_in(as_input)) {
    const InetAddr daddr = conn::to_inet(c->daf, c->daddr);
    Hop hop;
    const RouteResult route = router_.route(daddr, &hop);
    // A held frame is handled again from the start: it counts when it goes.
    if (route == RouteResult::kPending) {
      hold(f);
      return;
    }
    count_in(*c, p.ip_total_len());
    switch (c->fwd()) {
      case Fwd::kMasq:
        if (!next_hop(f, p, route, hop, 0)) return;
        xmit::rewrite_icmp_error(f.data, p, p.saddr, daddr, daddr, c->dport, in.daddr,
                                 in.dport);
        break;
      case Fwd::kRoute:
        if (!next_hop(f, p, route, hop, 0)) return;
        break;
      case Fwd::kTunnel: {
        xmit::TunnelParams t = tunnel_params(*c, daddr);
        if (!next_hop(f, p, route, hop, xmit::tunnel_overhead(t))) return;
        t.src = hop.src;
        if (xmit::tunnel_encap(f, p, t, hop.l2))
          send(f, hop.l2.port);
        else
          drop(f, Drop::kNoRoom);
        return;
      }
      default:
        drop(f, Drop::kUnsupported);
        return;
    }
    if (xmit::set_ethernet(f, p, hop.l2))
      send(f, hop.l2.port);
    else
      drop(f, Drop::kNoRoom);
    return;
  }
  // From a real server about a request it got (quoted: client -> real server): NAT output.
  const conn::Tuple as_output =
      conn::Tuple::of(p.af, in.proto, in.daddr, in.dport, in.saddr, in.sport);
  if (conn::Conn* c = tracker_.table().lookup_out(as_output); c && c->fwd() == Fwd::kMasq) {
    Hop hop;
    const RouteResult route = router_.route(p.daddr, &hop);
    if (route == RouteResult::kPending) {
      hold(f);
      return;
    }
    count_out(*c, p.ip_total_len());
    const InetAddr vaddr = conn::to_inet(c->af, c->vaddr);
    if (!next_hop(f, p, route, hop, 0)) return;
    xmit::rewrite_icmp_error(f.data, p, vaddr, p.daddr, in.saddr, in.sport, vaddr, c->vport);
    if (xmit::set_ethernet(f, p, hop.l2))
      send(f, hop.l2.port);
    else
      drop(f, Drop::kNoRoom);
    return;
  }
  pass(f);
}

// --- Fragments: the first one carries the ports; the rest follow its connection -------------

void Pipeline::remember_fragment(const pkt::ParsedPacket& p, const conn::Conn& c, bool to_real) {
  uint32_t slot = (p.frag_id * 0x9E3779B1u ^ p.saddr.fold() ^ p.daddr.fold()) % kFragSlots;
  frags_[slot] = FragSlot{FragKey{p.saddr, p.daddr, p.frag_id, p.proto},
                          tracker_.table().index_of(c), to_real};
}

void Pipeline::handle_fragment(io::Frame& f, pkt::ParsedPacket& p) {
  uint32_t slot = (p.frag_id * 0x9E3779B1u ^ p.saddr.fold() ^ p.daddr.fold()) % kFragSlots;
  const FragSlot& s = frags_[slot];
  if (s.conn == conn::kNoConn || s.key.id != p.frag_id || s.key.proto != p.proto ||
      !(s.key.saddr == p.saddr) || !(s.key.daddr == p.daddr)) {
    drop(f, Drop::kFragmentOrphan);
    return;
  }
  conn::Conn& c = tracker_.table().at(s.conn);
  // The entry may have been reused since: it must still be this flow's.
  const bool same = c.in_use() && !c.is_template() &&
                    (s.to_real ? conn::addr_equal(c.caddr, p.saddr.bytes)
                               : conn::addr_equal(c.daddr, p.saddr.bytes));
  if (!same) {
    drop(f, Drop::kFragmentOrphan);
    return;
  }
  if (!s.to_real) {
    const InetAddr vaddr = conn::to_inet(c.af, c.vaddr);
    const InetAddr caddr = conn::to_inet(c.af, c.caddr);
    Hop hop;
    const RouteResult route = router_.route(caddr, &hop);
    if (route == RouteResult::kPending) {
      hold(f);
      return;
    }
    count_out(c, p.ip_total_len());  // as forward_out counts the first fragment
    if (!next_hop(f, p, route, hop, 0)) return;
    xmit::rewrite_tuple(f.data, p, vaddr, 0, c.fwd() == Fwd::kFullNat ? caddr : p.daddr, 0);
    if (xmit::set_ethernet(f, p, hop.l2))
      send(f, hop.l2.port);
    else
      drop(f, Drop::kNoRoom);
    return;
  }
  forward_in(f, p, c);
}

// --- Output ---------------------------------------------------------------------------------

void Pipeline::send(io::Frame& f, uint16_t port) {
  if (port >= tx_.size()) {
    drop(f, Drop::kNoRoute);
    return;
  }
  Tx& q = tx_[port];
  if (q.count == q.frames.size()) {
    drop(f, Drop::kTxFull);
    return;
  }
  q.frames[q.count++] = f;
}

xmit::TunnelParams Pipeline::tunnel_params(const conn::Conn& c, const InetAddr& daddr) {
  const sched::DestForwarding fw = c.dest->forwarding();
  xmit::TunnelParams t;
  t.type = fw.tun_type;
  t.csum = fw.tun_flags;
  t.port = fw.tun_port;
  t.dst = daddr;
  t.pmtu_disc = snap_->sysctls().pmtu_disc != 0;
  t.ip_id = ip_id_++;
  return t;
}

void Pipeline::send_fragmented(io::Frame& f, const Hop& hop) {
  const int extra = xmit::outer_fragments_needed(f, hop.mtu);
  if (extra <= 0) {
    send(f, hop.l2.port);
    return;
  }
  std::array<io::Frame, 48> rest;  // 65535 / (68 - 20) would be more; such MTUs are refused
  int got = 0;
  while (got < extra && got < static_cast<int>(rest.size()) && io_.alloc(rest[got], 256)) ++got;
  if (got < extra) {
    io_.free({rest.data(), static_cast<size_t>(got)});
    drop(f, Drop::kNoRoom);
    return;
  }
  xmit::fragment_outer_ipv4(f, hop.mtu, {rest.data(), static_cast<size_t>(extra)});
  send(f, hop.l2.port);
  for (int i = 0; i < extra; ++i) send(rest[i], hop.l2.port);
}

void Pipeline::drop(io::Frame& f, Drop why) {
  ++stats_.drops[static_cast<size_t>(why)];
  free_.push_back(f);
}

void Pipeline::pass(io::Frame& f) {
  // The XDP program already let the kernel have everything that is not ours; what reaches here
  // and is not ours cannot be re-injected, so it is counted and dropped.
  ++stats_.passed;
  free_.push_back(f);
}

void Pipeline::flush() {
  for (uint16_t port = 0; port < tx_.size(); ++port) {
    Tx& q = tx_[port];
    if (!q.count) continue;
    uint32_t sent = io_.tx_burst(port, {q.frames.data(), q.count});
    stats_.tx += sent;
    for (uint32_t i = sent; i < q.count; ++i) {
      ++stats_.drops[static_cast<size_t>(Drop::kTxFull)];
      free_.push_back(q.frames[i]);
    }
    q.count = 0;
  }
  if (!free_.empty()) {
    io_.free(free_);
    free_.clear();
  }
}

void Pipeline::retry_held(uint64_t now_ms) {
  // Re-run the whole packet: it was never transformed nor counted.
  std::array<Held, kMaxHeld> again;
  uint32_t n = 0;
  for (auto& h : held_) again[n++] = h;
  held_.clear();
  for (uint32_t i = 0; i < n; ++i) {
    if (now_ms > again[i].deadline_ms) {
      drop(again[i].frame, Drop::kNeighbourPending);
      continue;
    }
    pkt::ParsedPacket p;
    pkt::parse_frame(again[i].frame.data, again[i].frame.len, &p);
    size_t before = held_.size();
    uint64_t h = 0;
    if (p.ok() && p.has_l4 && xmit::has_ports(p.proto))
      h = tracker_.table().hash_in(
          conn::Tuple::of(p.af, p.proto, p.saddr, p.sport, p.daddr, p.dport));
    handle(again[i].frame, p, h);
    // Still pending: keep the original deadline.
    if (held_.size() > before) held_.back().deadline_ms = again[i].deadline_ms;
  }
}

}  // namespace uvs::dp
