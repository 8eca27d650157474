#include "dp/pipeline.h"

#include <netinet/icmp6.h>
#include <netinet/ip_icmp.h>

#include <cstring>

#include "conn/persistence.h"
#include "dp/runtime.h"
#include "pkt/checksum.h"
#include "util/hash.h"
#include "util/proto.h"
#include "xmit/icmp.h"
#include "xmit/tunnel.h"

namespace uvs::dp {

namespace {

constexpr uint16_t kFtpDataPort = 20;

constexpr const char* kDropNames[] = {
    "malformed",      "not-ours",     "no-connection", "no-destination", "dest-gone",
    "table-full",     "defence",      "ttl-exceeded",  "too-big",        "no-route",
    "neighbour-pending", "no-room",   "fragment-orphan", "no-local-port", "unsupported",
    "tx-full",        "fragment-bad", "fragment-incomplete", "synproxy-bad-cookie",
    "synproxy-dup-ack", "synproxy-bad-reply",
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
    h = (h ^ w) * util::kGolden64;
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
      xmit_(options.tracker.rng_seed ? options.tracker.rng_seed : 0x2545F4914F6CDD1DULL ^ now_ms),
      offload_(options.offload, tracker_.table().capacity()),
      cookies_(options.synproxy_secret ? *options.synproxy_secret
                                       : conn::SynCookies::random_secret()),
      synproxy_(kSynproxySlots) {
  free_.reserve(kBurst * 2);
  synproxy_free_.reserve(kSynproxySlots);
  for (uint32_t i = kSynproxySlots; i-- > 0;) synproxy_free_.push_back(i);
  held_.reserve(kMaxHeld);
  tracker_.set_expire_hook(&Pipeline::expire_hook, this);
  if (offload_.enabled()) tracker_.set_activity_hook(&Pipeline::activity_hook, this);
}

Pipeline::~Pipeline() {
  for (auto& h : held_) io_.free({&h.frame, 1});
  for (auto& w : synproxy_)
    if (w.conn != conn::kNoConn) io_.free({w.frames.data(), w.stored});
  snapshots_.idle(options_.worker);
}

void Pipeline::expire_hook(void* ctx, const conn::Conn& c, conn::ExpireEvent ev) {
  static_cast<Pipeline*>(ctx)->on_expire(c, ev);
}

void Pipeline::on_expire(const conn::Conn& c, conn::ExpireEvent ev) {
  if (ev != conn::ExpireEvent::kFreed || c.is_template()) return;
  remove_offload(c);
  if (c.xflags & conn::kXSynproxyPending) synproxy_forget(c.seq_delta);
  if (c.fwd() != Fwd::kFullNat) return;
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
  xmit_.sysctls = &snap->sysctls();
  tracker_.set_timeouts(snap->timeouts());
  tracker_.set_sysctls(conn_sysctls(snap->sysctls()));
  adopt_pools(*snap);
  // A deleted real server gets no more packets from XDP; user space decides for them again
  // (expire_nodest_conn, or the drop the kernel does).
  offload_.each([&](uint32_t index) {
    const conn::Conn& c = tracker_.table().at(index);
    if (c.dest && !c.dest->available()) remove_offload(c);
  });
}

// Local-address pools follow the services' -P/-Q lists; a pool whose list is unchanged keeps
// its port cursor and counters. The snapshot hands on the same list while no FULLNAT service
// changed, so a change elsewhere costs nothing here, whatever the table's size.
void Pipeline::adopt_pools(const Snapshot& snap) {
  const Sysctls& s = snap.sysctls();
  conn::LocalPortRange range{static_cast<uint16_t>(s.fullnat_lport_min),
                             static_cast<uint16_t>(s.fullnat_lport_max)};
  const auto* list = &snap.laddr_services();
  if (list == pools_from_ && range.min == pools_range_.min && range.max == pools_range_.max)
    return;
  pools_from_ = list;
  pools_range_ = range;
  std::unordered_map<uint64_t, std::unique_ptr<conn::LocalAddrPool>> next;
  for (const auto& entry : *list) {
    const ServiceEntry& svc = *entry;
    if (svc.laddrs.empty()) continue;
    uint64_t id = service_id(svc.cfg.key);
    auto it = pools_.find(id);
    auto line = [&](size_t i) -> conn::LocalAddrCounters* {
      return i < svc.laddr_counters.size() && svc.laddr_counters[i]
                 ? &svc.laddr_counters[i]->worker(options_.worker)
                 : nullptr;
    };
    // Same addresses counting into the same -G counters (a service made again has new ones).
    bool same = it != pools_.end() && it->second->addrs().size() == svc.laddrs.size();
    for (size_t i = 0; same && i < svc.laddrs.size(); ++i)
      same = it->second->addrs()[i].addr == svc.laddrs[i] && it->second->addrs()[i].shared == line(i);
    if (same) {
      next[id] = std::move(it->second);
    } else {
      next[id] = std::make_unique<conn::LocalAddrPool>(
          svc.laddrs, options_.worker, options_.workers, range,
          static_cast<uint32_t>(s.fullnat_lport_tries));
      for (size_t i = 0; i < svc.laddrs.size(); ++i) next[id]->share(i, line(i));
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
          free_.push_back(burst[i]);  // the ring holds a copy
        } else {
          drop(burst[i], Drop::kTxFull);
        }
        continue;
      }
    }
    hashes[i] = flow_hash(p);
    if (hashes[i]) tracker_.table().prefetch(hashes[i]);
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
  return p.is_fragment && !p.is_icmp_error ? fragment_owner(p) : flow_owner(p);
}

unsigned Pipeline::worker_of_lport(uint16_t lport) const {
  const Sysctls& s = snap_->sysctls();
  return conn::worker_of_lport({static_cast<uint16_t>(s.fullnat_lport_min),
                                static_cast<uint16_t>(s.fullnat_lport_max)},
                               options_.workers, lport);
}

unsigned Pipeline::fragment_owner(const pkt::ParsedPacket& p) const {
  return util::mix32(p.saddr.fold() ^ p.daddr.fold() * util::kGolden32 ^ p.frag_id) %
         options_.workers;
}

unsigned Pipeline::flow_owner(const pkt::ParsedPacket& p) const {
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
    if (!from_vip && snap_->is_local_addr(p.inner.saddr))  // FULLNAT: by local port
      return worker_of_lport(p.inner.sport);
    client = from_vip ? p.inner.daddr : p.inner.saddr;
    port = from_vip ? p.inner.dport : p.inner.sport;
  } else if (!p.has_l4 || !util::has_ports(p.proto)) {
    return options_.worker;  // nothing to hash: a datagram's fragments met in fragment_owner()
  } else if (snap_->find(p.af, p.proto, p.daddr, p.dport,
                         snap_->classify(p.proto, p.daddr, p.dport))) {
    client = p.saddr;
    port = p.sport;
  } else if (snap_->is_local_addr(p.daddr)) {
    return worker_of_lport(p.dport);
  } else {
    client = p.daddr;  // a reply toward the client
    port = p.dport;
  }
  return client_owner(client, port, workers);
}

uint64_t Pipeline::flow_hash(const pkt::ParsedPacket& p) const {
  if (!p.ok() || !p.has_l4 || !util::has_ports(p.proto)) return 0;
  return tracker_.table().hash_in(
      conn::Tuple::of(p.af, p.proto, p.saddr, p.sport, p.daddr, p.dport));
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
  if (synproxy_waiting_ && now_ms >= next_synproxy_tick_ms_) {
    synproxy_tick(now_ms);
    flush();
  }
  if (frag_queue_.datagrams()) {
    frag_queue_.expire(now_ms);
    drop_given_up_fragments();
  }
  if (offload_.removals_pending()) offload_.retry_removals();
  if (offload_.enabled() && now_ms >= next_fold_ms_) {
    next_fold_ms_ = now_ms + kFoldMs;
    fold_offloaded();
    // An egress that stopped taking XDP's frames (a veth peer lost its program): its flows
    // come back to user space.
    if (const XdpEgresses* egresses = options_.offload.egresses)
      offload_.each_stranded(*egresses,
                             [&](uint32_t conn) { remove_offload(tracker_.table().at(conn)); });
  }
  tracker_.tick(now_ms, 256);
  if (options_.sync) options_.sync->tick(tracker_, *snap_, now_ms, 256);
  if (listing_.requested()) tracker_.serve_listing(listing_, now_ms, 4096);
  io_.flush();
  return n;
}

// --- One packet -----------------------------------------------------------------------------

void Pipeline::handle(io::Frame& f, pkt::ParsedPacket& p, uint64_t hash_in, bool collected) {
  if (!p.ok()) {
    if (p.verdict == pkt::Verdict::kNotIp) {
      free_passed(f);
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
  if (!util::has_ports(p.proto)) {  // fragments: by their addresses only (bpf/steer.bpf.c)
    forward_untranslated(f, p);
    return;
  }
  if (p.is_fragment && !collected) {
    collect_fragment(f, p);
    return;
  }
  if (p.is_fragment && !p.has_l4) {
    handle_fragment(f, p);
    return;
  }
  handle_ports(f, p, hash_in);
}

void Pipeline::handle_ports(io::Frame& f, pkt::ParsedPacket& p, uint64_t hash_in) {
  const conn::Tuple t = conn::Tuple::of(p.af, p.proto, p.saddr, p.sport, p.daddr, p.dport);
  conn::Conn* c = tracker_.table().lookup_in_with_hash(hash_in, t);
  if (c && (c->xflags & (conn::kXSynproxyPending | conn::kXSynproxySeq)) && p.has_l4) {
    if (c->xflags & conn::kXSynproxyPending) {
      synproxy_client_waiting(f, p, *c);
      return;
    }
    if (synproxy_may_reuse(*c) && (p.tcp_flags & (pkt::kTcpSyn | pkt::kTcpAck | pkt::kTcpRst)) ==
                                      pkt::kTcpSyn) {
      tracker_.expire_now(*c, now_ms_);
      c = nullptr;
    }
  }
  if (c) {
    switch (tracker_.check_existing(*c, l4_of(p), p.is_fragment, now_ms_)) {
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
      // Steered for its source (a NAT real server's address and port) or a fwmark rule, but
      // nothing here is for it: no reset, no connection, routed on as ip_vs_out() lets it be.
      if (p.is_first_fragment()) remember_untranslated(p);
      forward_untranslated(f, p);
      return;
    }
    if ((svc->cfg.flags & kSvcSynproxy) && p.proto == IPPROTO_TCP &&
        synproxy_new(f, p, t, *svc, mark) == Step::kConsumed)
      return;
    c = schedule(f, p, t, *svc, mark);
    if (!c) return;
  }
  forward_in(f, p, *c);
}

conn::Conn* Pipeline::schedule(io::Frame& f, pkt::ParsedPacket& p, const conn::Tuple& t,
                               const ServiceEntry& svc, uint32_t mark) {
  if (admit_new_conn(f, p) == Step::kConsumed) return nullptr;
  return create_conn(f, p, t, svc, mark);
}

conn::Conn* Pipeline::create_conn(io::Frame& f, pkt::ParsedPacket& p, const conn::Tuple& t,
                                  const ServiceEntry& svc, uint32_t mark) {
  Choice choice;
  if (choose_dest(f, p, t, svc, mark, &choice) == Step::kConsumed) return nullptr;
  sched::Dest* dest = choice.dest;
  conn::ConnParams cp = conn::ConnParams::from_packet(t, mark);
  cp.flags = conn::one_packet_flag(svc.cfg, p.proto);
  conn::LocalAddrPool* pool = nullptr;
  if (dest->forwarding().fwd == Fwd::kFullNat) {
    pool = pool_for(svc);
    if (!pool || !pool->allocate(tracker_.table(), p.proto, dest->key().addr, choice.dport,
                                 &cp.laddr, &cp.lport)) {
      drop(f, Drop::kNoLocalPort);
      return nullptr;
    }
  }
  conn::Conn* c = tracker_.create(cp, dest, choice.dport, choice.tmpl, now_ms_);
  if (!c) {
    if (pool) pool->release(dest->key().addr.family, cp.laddr);
    drop(f, Drop::kTableFull);
    return nullptr;
  }
  auto& rs = RealServer::of(*dest);
  rs.counters().worker(options_.worker).add_conn();
  rs.service_counters().worker(options_.worker).add_conn();
  return c;
}

Pipeline::Step Pipeline::admit_new_conn(io::Frame& f, const pkt::ParsedPacket& p) {
  const Sysctls& sys = snap_->sysctls();
  if (!conn::may_create_conn(p.proto, l4_of(p), sys.sloppy_tcp, sys.sloppy_sctp)) {
    // As ip_vs_in(): a segment that may not open a connection is the local stack's, which has
    // no socket for it and resets it. But while a backup daemon runs, the connection may be
    // on its way from another director (a cluster's flow rehashed here, a failover): the
    // segment is dropped, and the client's retransmission finds the connection.
    if (options_.sync != nullptr && options_.sync->backup()) {
      drop(f, Drop::kNoConnection);
      return Step::kConsumed;
    }
    count_drop(Drop::kNoConnection);
    answer_reset(f, p);
    return Step::kConsumed;
  }
  if (tracker_.drop_new_conn()) {
    drop(f, Drop::kDefence);
    return Step::kConsumed;
  }
  // As ip_vs_schedule(): active FTP data (from port 20) is never scheduled; the kernel leaves
  // it to its local stack, which here means passing it.
  if (p.sport == kFtpDataPort) {
    free_passed(f);
    return Step::kConsumed;
  }
  return Step::kContinue;
}

Pipeline::Step Pipeline::choose_dest(io::Frame& f, const pkt::ParsedPacket& p,
                                     const conn::Tuple& t, const ServiceEntry& svc,
                                     uint32_t mark, Choice* choice) {
  auto no_destination = [&] {
    count_drop(Drop::kNoDestination);
    answer_icmp(f, p, xmit::icmp_port_unreachable(p.is_v6()), 0);
    return Step::kConsumed;
  };
  const sched::PacketKey key{p.saddr, p.daddr, p.sport, p.proto};
  auto pick = [&]() -> sched::Dest* {
    return svc.sched ? svc.sched->schedule(options_.worker, key,
                                           sched::Nanos(int64_t(now_ms_) * 1000000))
                     : nullptr;
  };
  if (svc.cfg.persistent()) {
    conn::PersistChoice pc = tracker_.persist_schedule(svc.cfg, t, mark, now_ms_, pick);
    if (!pc.dest) {
      if (!pc.table_full) return no_destination();
      drop(f, Drop::kTableFull);
      return Step::kConsumed;
    }
    *choice = Choice{pc.dest, pc.dport, pc.tmpl};
    return Step::kContinue;
  }
  // A non-persistent service answers only its own port (port 0 needs persistence).
  if (!svc.cfg.key.is_fwmark() && p.dport != svc.cfg.key.port) return no_destination();
  sched::Dest* dest = pick();
  if (!dest) return no_destination();
  *choice = Choice{dest, conn::conn_dport(dest->key().port, p.dport), nullptr};
  return Step::kContinue;
}

// As ip_vs_in(): route (or wait for the neighbour), move the state machine, count, and hand the
// packet to the connection's transmitter.
void Pipeline::forward_in(io::Frame& f, pkt::ParsedPacket& p, conn::Conn& c) {
  const xmit::Transmitter& x = xmit::transmitter_of(c);
  // The fragments that follow must find the connection even while this one waits.
  if (p.is_first_fragment()) remember_fragment(p, c, /*to_real=*/true);
  xmit::Hop hop;
  RouteResult route = RouteResult::kLocal;
  if (x.routed &&
      route_or_hold(f, conn::to_inet(c.daf, c.daddr), &hop, &route) == Step::kConsumed) {
    tracker_.release(c, now_ms_);
    return;
  }
  // A non-first fragment has no L4 header: it moves no state machine.
  if (p.has_l4) tracker_.on_packet(c, conn::Dir::kInput, l4_of(p));
  if (options_.sync) options_.sync->on_input(tracker_, c, snap_->sysctls(), now_ms_);
  update_offload(c);
  count_in(c, p.ip_total_len());
  transmit(f, p, c, route, hop, x.in);
  tracker_.release(c, now_ms_);
}

// As ip_vs_out() / handle_response(): the same for a real server's reply.
void Pipeline::forward_out(io::Frame& f, pkt::ParsedPacket& p, conn::Conn& c) {
  if ((c.xflags & conn::kXSynproxyPending) && p.has_l4) {
    synproxy_server_answer(f, p, c);
    return;
  }
  if (p.is_first_fragment()) remember_fragment(p, c, /*to_real=*/false);
  xmit::Hop hop;
  RouteResult route;
  if (route_or_hold(f, conn::to_inet(c.af, c.caddr), &hop, &route) == Step::kConsumed) {
    tracker_.release(c, now_ms_);
    return;
  }
  if (p.has_l4) tracker_.on_packet(c, conn::Dir::kOutput, l4_of(p));
  update_offload(c);
  count_out(c, p.ip_total_len());
  transmit(f, p, c, route, hop, xmit::transmitter_of(c).out);
  tracker_.release(c, now_ms_);
}

// What the kernel's ip_forward() does with a packet IPVS accepted untouched: route it, check
// its TTL and MTU (ICMP back to the sender), send it on unchanged. What is for the director
// itself the XDP program gave the kernel already where it could tell (a NAT real server's
// answer to a health check: for_this_host() in bpf/steer.bpf.c); AF_XDP has no way back into
// the stack, so one that still arrives here is counted and freed. XDP cannot forward the rest
// itself: it sees only the connections offloaded to it, and a packet belongs to no connection
// only when user space, which holds them all, says so.
void Pipeline::forward_untranslated(io::Frame& f, pkt::ParsedPacket& p) {
  xmit::Hop hop;
  RouteResult route;
  if (route_or_hold(f, p.daddr, &hop, &route) == Step::kConsumed) return;
  switch (route) {
    case RouteResult::kResolved: {
      const xmit::Result r = xmit::forward_unchanged(f, p, hop);
      if (r.sent()) ++stats_.forwarded;
      emit(f, p, hop, r);
      return;
    }
    case RouteResult::kLocal:
      count_drop(Drop::kNotOurs);
      free_passed(f);
      return;
    case RouteResult::kPending:  // route_or_hold() took those
    case RouteResult::kUnreachable:
      drop(f, Drop::kNoRoute);
      return;
  }
}

Pipeline::Step Pipeline::route_or_hold(io::Frame& f, const InetAddr& dst, xmit::Hop* hop,
                                       RouteResult* route) {
  *route = router_.route(dst, hop);
  if (*route != RouteResult::kPending) return Step::kContinue;
  hold(f);
  return Step::kConsumed;
}

void Pipeline::synproxy_transmit(io::Frame& f, pkt::ParsedPacket& p, conn::Conn& c,
                                 const xmit::Hop& hop) {
  transmit(f, p, c, RouteResult::kResolved, hop, xmit::transmitter_of(c).in);
}

void Pipeline::transmit(io::Frame& f, pkt::ParsedPacket& p, conn::Conn& c, RouteResult route,
                        const xmit::Hop& hop, xmit::XmitFn xmit) {
  if (!xmit) {
    drop(f, Drop::kUnsupported);
    return;
  }
  switch (route) {
    case RouteResult::kResolved:
      emit(f, p, hop, xmit(xmit_, f, p, c, hop));
      return;
    case RouteResult::kLocal:
      free_passed(f);
      return;
    case RouteResult::kPending:  // route_or_hold() took those
    case RouteResult::kUnreachable:
      drop(f, Drop::kNoRoute);
      return;
  }
}

void Pipeline::emit(io::Frame& f, const pkt::ParsedPacket& p, const xmit::Hop& hop,
                    xmit::Result r) {
  switch (r.verdict) {
    case xmit::Verdict::kSend:
      queue_tx(f, hop.l2.port);
      return;
    case xmit::Verdict::kSendFragmented:
      queue_tx_fragmented(f, hop);
      return;
    case xmit::Verdict::kPass:
      free_passed(f);
      return;
    case xmit::Verdict::kNoRoom:
      drop(f, Drop::kNoRoom);
      return;
    case xmit::Verdict::kNeedsFragmenting:
      drop(f, Drop::kTooBig);  // would need fragmenting, which only tunnels do
      return;
    case xmit::Verdict::kTooBig:
      count_drop(Drop::kTooBig);
      answer_icmp(f, p, xmit::icmp_frag_needed(p.is_v6()), r.mtu);
      return;
    case xmit::Verdict::kTtlExceeded:
      count_drop(Drop::kTtlExceeded);
      answer_icmp(f, p, xmit::icmp_ttl_exceeded(p.is_v6()), 0);
      return;
  }
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

// As the kernel's ip_vs_in_stats() / ip_vs_out_stats(): a connection's traffic counts (IP
// datagram bytes) only while its real server is available.
void Pipeline::count_in(const conn::Conn& c, uint64_t bytes, uint64_t packets) {
  if (!c.dest || !c.dest->available()) return;
  auto& rs = RealServer::of(*c.dest);
  rs.counters().worker(options_.worker).add_in(bytes, packets);
  rs.service_counters().worker(options_.worker).add_in(bytes, packets);
}

void Pipeline::count_out(const conn::Conn& c, uint64_t bytes, uint64_t packets) {
  if (!c.dest || !c.dest->available()) return;
  auto& rs = RealServer::of(*c.dest);
  rs.counters().worker(options_.worker).add_out(bytes, packets);
  rs.service_counters().worker(options_.worker).add_out(bytes, packets);
}

// --- The fast path (dp/offload.h) -----------------------------------------------------------

void Pipeline::offload_settle(conn::Conn& c) {
  const uint32_t index = tracker_.table().index_of(c);
  // A deleted real server's connections are user space's for good: it drops (or expires) what
  // the client sends, while the real server's replies still pass (handle_response()).
  const bool settled = offloadable(c) && (!c.dest || c.dest->available());
  if (settled == offload_.offloaded(index)) return;
  if (!settled) {
    remove_offload(c);
    return;
  }
  // A method XDP does not repeat, nowhere XDP could send (veths without peer programs),
  // or no slot left: not worth describing the flow on every packet.
  const xmit::Transmitter& x = xmit::transmitter_of(c);
  if (!x.offload_in && !x.offload_out) return;
  if (options_.offload.egresses && !options_.offload.egresses->any()) return;
  if (!offload_.has_room()) return;
  uvs_flow_key in_key, out_key;
  uvs_flow in{}, out{};
  // A direction whose neighbour is still being resolved is retried with a later packet, the
  // whole connection with it: a connection is offloaded once, so both directions go together.
  bool retry = false;
  const bool has_in = x.offload_in && x.offload_in(xmit_, c, &in_key, &in) &&
                      offload_next_hop(conn::to_inet(c.daf, c.daddr), &in, &retry);
  const bool has_out = x.offload_out && x.offload_out(xmit_, c, &out_key, &out) &&
                       offload_next_hop(conn::to_inet(c.af, c.caddr), &out, &retry);
  if (retry) return;
  offload_.install(index, has_in ? &in_key : nullptr, has_in ? &in : nullptr,
                   has_out ? &out_key : nullptr, has_out ? &out : nullptr);
  // Its packets stop counting here: the backup hears of it now, not at the third one.
  if (options_.sync) options_.sync->on_offloaded(tracker_, c, snap_->sysctls(), now_ms_);
}

void Pipeline::remove_offload(const conn::Conn& c) {
  if (!offload_.enabled()) return;
  const uint32_t index = tracker_.table().index_of(c);
  // What XDP forwarded up to now still counts.
  offload_.fold(index, [&](uint32_t conn, uint32_t dir, uint64_t packets, uint64_t bytes) {
    count_offloaded(conn, dir, packets, bytes);
  });
  offload_.remove(index);
}

bool Pipeline::offload_next_hop(const InetAddr& dst, uvs_flow* flow, bool* retry) {
  xmit::Hop hop;
  const RouteResult route = router_.route(dst, &hop);
  if (route == RouteResult::kPending) *retry = true;
  if (route != RouteResult::kResolved || hop.l2.port >= io_.ports().size()) return false;
  flow->ifindex = static_cast<uint32_t>(io_.ports()[hop.l2.port].ifindex);
  const XdpEgresses* egresses = options_.offload.egresses;
  if (egresses && !egresses->allows(static_cast<int>(flow->ifindex))) return false;
  std::memcpy(flow->dmac, hop.l2.dst.data(), 6);
  std::memcpy(flow->smac, hop.l2.src.data(), 6);
  flow->mtu = static_cast<uint16_t>(std::min<uint32_t>(hop.mtu, UINT16_MAX));
  return flow->ifindex != 0;
}

void Pipeline::fold_offloaded() {
  offload_.fold([&](uint32_t conn, uint32_t dir, uint64_t packets, uint64_t bytes) {
    count_offloaded(conn, dir, packets, bytes);
  });
}

void Pipeline::count_offloaded(uint32_t conn, uint32_t dir, uint64_t packets, uint64_t bytes) {
  const conn::Conn& c = tracker_.table().at(conn);
  if (dir == 0)
    count_in(c, bytes, packets);
  else
    count_out(c, bytes, packets);
}

uint64_t Pipeline::activity_hook(void* ctx, const conn::Conn& c) {
  auto* self = static_cast<Pipeline*>(ctx);
  const uint32_t index = self->tracker_.table().index_of(c);
  const uint64_t last_seen = self->offload_.last_seen_ms(index);
  // XDP kept it alive: so must the backup, which sees no packet count move.
  if (last_seen && last_seen + c.timeout_ms > self->now_ms_ && self->options_.sync)
    self->options_.sync->on_offloaded(self->tracker_, self->tracker_.table().at(index),
                                      self->snap_->sysctls(), self->now_ms_);
  return last_seen;
}

// Back out of the port a frame came in, to the MAC it came from.
xmit::L2Next Pipeline::back_to_sender(const io::Frame& f) {
  xmit::L2Next back;
  back.port = f.port;
  std::memcpy(back.src.data(), f.data, 6);
  std::memcpy(back.dst.data(), f.data + 6, 6);
  return back;
}

void Pipeline::answer_icmp(io::Frame& f, const pkt::ParsedPacket& p, xmit::IcmpKind kind,
                           uint32_t info) {
  // The source is the packet's destination when that is ours (a VIP), else our address
  // toward the sender.
  const xmit::L2Next back = back_to_sender(f);
  InetAddr src = p.daddr;
  xmit::Hop toward;
  if (!snap_->find(p.af, p.proto, p.daddr, p.dport, snap_->classify(p.proto, p.daddr, p.dport)) &&
      router_.route(p.saddr, &toward) == RouteResult::kResolved)
    src = toward.src;
  if (xmit::make_icmp_error(f, p, kind.type, kind.code, info, src, back)) {
    ++stats_.icmp_sent;
    queue_tx(f, back.port);
  } else {
    io_.free({&f, 1});
  }
}

void Pipeline::answer_reset(io::Frame& f, const pkt::ParsedPacket& p) {
  const xmit::L2Next back = back_to_sender(f);
  if (xmit::make_tcp_reset(f, p, back))
    queue_tx(f, back.port);
  else
    io_.free({&f, 1});
}

// --- ICMP errors about tracked connections (ip_vs_in_icmp(), ip_vs_out_icmp()) ---------------

void Pipeline::handle_icmp_error(io::Frame& f, pkt::ParsedPacket& p) {
  // What relates to no connection goes on as it came (ip_vs_out_icmp() accepts it).
  if (!relayed_icmp_error(p) || !p.has_inner || !p.inner.has_l4 ||
      !util::has_ports(p.inner.proto)) {
    forward_untranslated(f, p);
    return;
  }
  const auto& in = p.inner;
  // The quoted packet reversed: the tuple of the flow the error travels against.
  const conn::Tuple quoted =
      conn::Tuple::of(p.af, in.proto, in.daddr, in.dport, in.saddr, in.sport);
  xmit::Hop hop;
  RouteResult route;
  // About our reply to a client (quoted: VIP -> client): toward the real server. A held frame
  // is handled again from the start: it counts when it goes.
  if (conn::Conn* c = tracker_.table().lookup_in(quoted)) {
    if (route_or_hold(f, conn::to_inet(c->daf, c->daddr), &hop, &route) == Step::kConsumed)
      return;
    count_in(*c, p.ip_total_len());
    transmit(f, p, *c, route, hop, xmit::transmitter_of(*c).icmp_in);
    return;
  }
  // From a real server about a request it got (quoted: client -> real server): to the client.
  conn::Conn* c = tracker_.table().lookup_out(quoted);
  if (!c || !xmit::transmitter_of(*c).icmp_out) {
    forward_untranslated(f, p);
    return;
  }
  // To the client (FULLNAT: the error came to our local address).
  if (route_or_hold(f, conn::to_inet(c->af, c->caddr), &hop, &route) == Step::kConsumed) return;
  count_out(*c, p.ip_total_len());
  transmit(f, p, *c, route, hop, xmit::transmitter_of(*c).icmp_out);
}

// --- Fragments: collected until whole; then the first one, with the ports, finds or makes the
// connection and the rest follow it ---------------------------------------------------------

void Pipeline::collect_fragment(io::Frame& f, const pkt::ParsedPacket& p) {
  switch (frag_queue_.add(f, p, now_ms_)) {
    case FragQueue::Added::kHeld:
      return;
    case FragQueue::Added::kDuplicate:
      drop(f, Drop::kFragmentBad);
      return;
    case FragQueue::Added::kBad:
      drop(f, Drop::kFragmentBad);
      for (io::Frame& g : frag_queue_.dropped()) drop(g, Drop::kFragmentBad);
      frag_queue_.clear_dropped();
      return;
    case FragQueue::Added::kComplete:
      drop_given_up_fragments();  // what made room for this one
      forward_datagram(frag_queue_.whole());
      return;
  }
}

void Pipeline::drop_given_up_fragments() {
  for (io::Frame& g : frag_queue_.dropped()) drop(g, Drop::kFragmentIncomplete);
  frag_queue_.clear_dropped();
}

void Pipeline::forward_datagram(std::span<io::Frame> frames) {
  const size_t used = FragQueue::complete_l4_header(frames);
  for (size_t i = used; i < frames.size(); ++i) free_.push_back(frames[i]);
  frames = frames.first(used);
  pkt::ParsedPacket first;
  pkt::parse_frame(frames[0].data, frames[0].len, &first);
  // Its connection lives with the worker that owns the flow: the fragments go there in order
  // (and meet again in that worker's queue), or not at all.
  if (options_.handoff && first.ok()) {
    const unsigned owner = flow_owner(first);
    if (owner != options_.worker) {
      HandoffRing& ring = options_.handoff->ring(options_.worker, owner);
      const bool room = ring.room() >= frames.size();
      for (io::Frame& g : frames) {
        if (room && ring.push(g)) {
          ++stats_.handed_off;
          free_.push_back(g);
        } else {
          drop(g, Drop::kTxFull);
        }
      }
      return;
    }
  }
  for (io::Frame& g : frames) {
    pkt::ParsedPacket p;
    pkt::parse_frame(g.data, g.len, &p);
    handle(g, p, flow_hash(p), /*collected=*/true);
  }
}

uint32_t Pipeline::frag_slot(const pkt::ParsedPacket& p) {
  return (p.frag_id * util::kGolden32 ^ p.saddr.fold() ^ p.daddr.fold()) % kFragSlots;
}

void Pipeline::remember_fragment(const pkt::ParsedPacket& p, const conn::Conn& c, bool to_real) {
  frags_[frag_slot(p)] = FragSlot{FragKey{p.saddr, p.daddr, p.frag_id, p.proto},
                                  tracker_.table().index_of(c), to_real};
}

void Pipeline::remember_untranslated(const pkt::ParsedPacket& p) {
  frags_[frag_slot(p)] =
      FragSlot{FragKey{p.saddr, p.daddr, p.frag_id, p.proto}, conn::kNoConn, false, true};
}

void Pipeline::handle_fragment(io::Frame& f, pkt::ParsedPacket& p) {
  const FragSlot& s = frags_[frag_slot(p)];
  const bool same_datagram = s.key.id == p.frag_id && s.key.proto == p.proto &&
                             s.key.saddr == p.saddr && s.key.daddr == p.daddr;
  if (same_datagram && s.untranslated) {  // its first fragment belonged to no connection
    forward_untranslated(f, p);
    return;
  }
  if (s.conn == conn::kNoConn || !same_datagram) {
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
  if (s.to_real)
    forward_in(f, p, c);
  else
    forward_out(f, p, c);
}

// --- Frame ownership: each of these takes the frame ---------------------------------------

void Pipeline::queue_tx(io::Frame& f, uint16_t port) {
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

void Pipeline::queue_tx_fragmented(io::Frame& f, const xmit::Hop& hop) {
  const int extra = xmit::outer_fragments_needed(f, hop.mtu);
  if (extra <= 0) {
    queue_tx(f, hop.l2.port);
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
  queue_tx(f, hop.l2.port);
  for (int i = 0; i < extra; ++i) queue_tx(rest[i], hop.l2.port);
}

void Pipeline::drop(io::Frame& f, Drop why) {
  count_drop(why);
  free_.push_back(f);
}

void Pipeline::free_passed(io::Frame& f) {
  // The XDP program already let the kernel have everything that is not ours; what reaches here
  // and is not ours cannot be re-injected, so it is counted and freed.
  ++stats_.passed;
  free_.push_back(f);
}

void Pipeline::flush() {
  for (uint16_t port = 0; port < tx_.size(); ++port) {
    Tx& q = tx_[port];
    if (!q.count) continue;
    uint32_t sent = io_.tx_burst(port, {q.frames.data(), q.count});
    stats_.tx += sent;
    for (uint32_t i = sent; i < q.count; ++i) drop(q.frames[i], Drop::kTxFull);
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
    handle(again[i].frame, p, flow_hash(p), /*collected=*/true);
    // Still pending: keep the original deadline.
    if (held_.size() > before) held_.back().deadline_ms = again[i].deadline_ms;
  }
}

}  // namespace uvs::dp
