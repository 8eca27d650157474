// Tracker: creation and binding (ip_vs_conn_new()), refresh and expiry on the wheel,
// ONE_PACKET, the conn_reuse_mode and expire_nodest_conn decisions (ip_vs_in(), kernel >=
// 5.16), NO_CPORT, the expire hook, full tables, listings.
#include "conn/tracker.h"

#include <atomic>
#include <thread>

#include "conn_test_util.h"

namespace uvs::conn::test {
namespace {

class TrackerTest : public ::testing::Test {
 protected:
  explicit TrackerTest(TrackerOptions o = small_options()) : tracker_(o, 0) {}

  // A client connection to the VIP through `d`, scheduled without persistence.
  Conn* connect(sched::Dest* d, uint16_t cport = 40000, uint8_t proto = kProtoTcp,
                uint16_t flags = 0) {
    ConnParams p = ConnParams::from_packet(tuple(v4(kClient), cport, v4(kVip), 80, proto));
    p.flags = flags;
    return tracker_.create(p, d, conn_dport(d->key().port, 80), nullptr, now_);
  }
  Conn* find(uint16_t cport = 40000, uint8_t proto = kProtoTcp) {
    return tracker_.table().lookup_in(tuple(v4(kClient), cport, v4(kVip), 80, proto));
  }
  // Runs one packet through the tracker the way the pipeline does.
  void packet(Conn* c, Dir dir, uint8_t flags) {
    tracker_.on_packet(*c, dir, tcp_flags(flags));
    tracker_.release(*c, now_);
  }
  TickResult tick_to(uint64_t now) {
    now_ = now;
    return tracker_.tick(now_, 1u << 30);
  }

  Dests dests_;
  Tracker tracker_;
  uint64_t now_ = 0;
};

TEST_F(TrackerTest, NewConnectionStartsInactiveForThreeSeconds) {
  sched::Dest* d = dests_.add(v4(kRip), 8080, Fwd::kMasq);
  Conn* c = connect(d);
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(find(), c);
  EXPECT_EQ(c->state, tcp::kNone);
  EXPECT_EQ(c->timeout_ms, 3 * kSec);
  EXPECT_EQ(c->expires_ms, 3 * kSec);
  EXPECT_EQ(c->fwd(), Fwd::kMasq);
  EXPECT_TRUE(c->inactive());
  EXPECT_FALSE(c->flags & kConnNoOutput);  // NAT sees replies
  EXPECT_TRUE(c->flags & kConnHashed);
  EXPECT_EQ(c->dport, 8080);
  EXPECT_TRUE(addr_equal(c->daddr, v4(kRip).bytes));
  EXPECT_EQ(c->daf, AF_INET);
  EXPECT_EQ(counts(d), (Counts{0, 1, 0}));
  EXPECT_EQ(tracker_.stats().conns_created, 1u);

  // No packet: it goes after 3 s, uncounted from the dest.
  tick_to(2999);
  EXPECT_EQ(find(), c);
  tick_to(3000);
  EXPECT_EQ(find(), nullptr);
  EXPECT_EQ(counts(d), (Counts{0, 0, 0}));
  EXPECT_EQ(tracker_.table().size(), 0u);
}

TEST_F(TrackerTest, DestWithoutPortKeepsThePacketsPort) {
  sched::Dest* d = dests_.add(v4(kRip), 0, Fwd::kRoute);
  Conn* c = connect(d);
  EXPECT_EQ(c->dport, 80);
  EXPECT_EQ(c->fwd(), Fwd::kRoute);
  EXPECT_TRUE(c->flags & kConnNoOutput);  // DR never sees replies
}

TEST_F(TrackerTest, EveryPacketRestartsTheStateTimeout) {
  sched::Dest* d = dests_.add(v4(kRip), 80, Fwd::kRoute);
  Conn* c = connect(d);
  packet(c, Dir::kInput, kTcpSyn);
  EXPECT_EQ(c->expires_ms, 60 * kSec);
  now_ = 10 * kSec;
  packet(c, Dir::kInput, kTcpAck);
  EXPECT_EQ(c->state, tcp::kEstablished);
  EXPECT_EQ(c->expires_ms, 910 * kSec);
  EXPECT_EQ(counts(d), (Counts{1, 0, 0}));
  now_ = 500 * kSec;
  packet(c, Dir::kInput, kTcpAck);  // only a store
  EXPECT_EQ(c->expires_ms, 1400 * kSec);
  tick_to(1399 * kSec);
  EXPECT_EQ(find(), c);
  tick_to(1400 * kSec);
  EXPECT_EQ(find(), nullptr);
  EXPECT_EQ(counts(d), (Counts{0, 0, 0}));
}

TEST_F(TrackerTest, ShorterStateTimeoutTakesEffect) {
  // ES (900 s) -> FIN_WAIT (120 s): the expiry moves earlier, so the wheel must know.
  sched::Dest* d = dests_.add(v4(kRip), 80, Fwd::kRoute);
  Conn* c = connect(d);
  packet(c, Dir::kInput, kTcpSyn);
  packet(c, Dir::kInput, kTcpAck);
  now_ = 100 * kSec;
  packet(c, Dir::kInput, kTcpFin | kTcpAck);
  EXPECT_EQ(c->state, tcp::kFinWait);
  EXPECT_EQ(c->expires_ms, 220 * kSec);
  tick_to(219 * kSec);
  EXPECT_EQ(find(), c);
  tick_to(220 * kSec);
  EXPECT_EQ(find(), nullptr);
}

TEST_F(TrackerTest, InputPacketsAreCounted) {
  sched::Dest* d = dests_.add(v4(kRip), 80, Fwd::kMasq);
  Conn* c = connect(d);
  packet(c, Dir::kInput, kTcpSyn);
  packet(c, Dir::kOutput, kTcpSyn | kTcpAck);
  packet(c, Dir::kInput, kTcpAck);
  EXPECT_EQ(c->in_pkts, 2u);
}

TEST_F(TrackerTest, OnePacketConnectionsAreNeverIndexedAndGoAtOnce) {
  sched::Dest* d = dests_.add(v4(kRip), 53, Fwd::kMasq);
  Conn* c = connect(d, 5353, kProtoUdp, kConnOnePacket);
  ASSERT_NE(c, nullptr);
  EXPECT_TRUE(c->flags & kConnOnePacket);
  EXPECT_FALSE(c->flags & kConnHashed);
  EXPECT_FALSE(tracker_.wheel().armed(*c));
  EXPECT_EQ(find(5353, kProtoUdp), nullptr);
  EXPECT_EQ(counts(d), (Counts{0, 1, 0}));
  tracker_.on_packet(*c, Dir::kInput, L4Info{});
  tracker_.release(*c, now_);
  EXPECT_EQ(counts(d), (Counts{0, 0, 0}));
  EXPECT_EQ(tracker_.table().size(), 0u);

  // TCP ignores the service's -o.
  Conn* t = connect(d, 5354, kProtoTcp, kConnOnePacket);
  EXPECT_FALSE(t->flags & kConnOnePacket);
  EXPECT_EQ(find(5354, kProtoTcp), t);
}

TEST_F(TrackerTest, FullTableRefusesNewConnections) {
  Tracker small(small_options(4), 0);
  sched::Dest* d = dests_.add(v4(kRip), 80);
  for (uint16_t p = 1; p <= 4; ++p) {
    ConnParams cp = ConnParams::from_packet(tuple(v4(kClient), p, v4(kVip), 80));
    ASSERT_NE(small.create(cp, d, 80, nullptr, 0), nullptr);
  }
  ConnParams cp = ConnParams::from_packet(tuple(v4(kClient), 5, v4(kVip), 80));
  EXPECT_EQ(small.create(cp, d, 80, nullptr, 0), nullptr);
  EXPECT_EQ(small.stats().create_failed, 1u);
  EXPECT_EQ(counts(d), (Counts{0, 4, 0}));
  // Once one expires there is room again.
  small.tick(3000, 1u << 20);
  EXPECT_NE(small.create(cp, d, 80, nullptr, 3000), nullptr);
}

TEST_F(TrackerTest, FullNatConnectionIsFoundByItsReply) {
  sched::Dest* d = dests_.add(v4(kRip), 8080, Fwd::kFullNat);
  ConnParams p = ConnParams::from_packet(tuple(v4(kClient), 40000, v4(kVip), 80));
  p.laddr = v4(kLaddr).bytes;
  p.lport = 6000;
  Conn* c = tracker_.create(p, d, 8080, nullptr, 0);
  ASSERT_NE(c, nullptr);
  EXPECT_FALSE(c->flags & kConnNoOutput);
  EXPECT_EQ(tracker_.table().lookup_out(tuple(v4(kRip), 8080, v4(kLaddr), 6000)), c);
  EXPECT_EQ(tracker_.table().index_entries(), 2u);
  tick_to(3000);
  EXPECT_EQ(tracker_.table().index_entries(), 0u);
}

// --- ip_vs_in(): conn_reuse_mode -------------------------------------------------------------

class ReuseTest : public TrackerTest {
 protected:
  Conn* in_state(sched::Dest* d, uint8_t state, uint16_t cport = 40000) {
    Conn* c = connect(d, cport);
    c->state = state;
    return c;
  }
  Existing syn(Conn* c, bool fragment = false) {
    return tracker_.check_existing(*c, tcp_flags(kTcpSyn), fragment, now_);
  }
  void set_reuse_mode(int mode) {
    ConnSysctls s = tracker_.sysctls();
    s.conn_reuse_mode = mode;
    tracker_.set_sysctls(s);
  }
};

TEST_F(ReuseTest, TimeWaitAndCloseAreReusedByANewSyn) {
  sched::Dest* d = dests_.add(v4(kRip), 80, Fwd::kMasq);
  for (uint8_t state : {tcp::kTimeWait, tcp::kClose}) {
    Conn* c = in_state(d, state);
    EXPECT_EQ(syn(c), Existing::kReschedule);
    EXPECT_EQ(find(), nullptr);  // the old entry is gone
  }
  EXPECT_EQ(counts(d), (Counts{0, 0, 0}));
  EXPECT_EQ(tracker_.stats().rescheduled, 2u);
}

TEST_F(ReuseTest, OnlyNewConnectionPacketsReschedule) {
  sched::Dest* d = dests_.add(v4(kRip), 80, Fwd::kMasq);
  Conn* c = in_state(d, tcp::kTimeWait);
  EXPECT_EQ(tracker_.check_existing(*c, tcp_flags(kTcpAck), false, now_), Existing::kForward);
  EXPECT_EQ(syn(c, /*fragment=*/true), Existing::kForward);
  EXPECT_EQ(find(), c);
}

TEST_F(ReuseTest, LiveStatesAreNotReused) {
  sched::Dest* d = dests_.add(v4(kRip), 80, Fwd::kMasq);
  for (uint8_t state :
       {tcp::kEstablished, tcp::kSynRecv, tcp::kFinWait, tcp::kCloseWait, tcp::kLastAck}) {
    Conn* c = in_state(d, state, static_cast<uint16_t>(1000 + state));
    EXPECT_EQ(syn(c), Existing::kForward) << int{state};
  }
}

TEST_F(ReuseTest, FinWaitOfNoOutputNeedsModeBit2) {
  sched::Dest* dr = dests_.add(v4(kRip), 80, Fwd::kRoute);
  sched::Dest* nat = dests_.add(v4(kRip + 1), 80, Fwd::kMasq);
  Conn* c = in_state(dr, tcp::kFinWait);
  EXPECT_EQ(syn(c), Existing::kForward);  // mode 1
  set_reuse_mode(3);
  EXPECT_EQ(syn(c), Existing::kReschedule);
  EXPECT_EQ(find(), nullptr);
  // NAT has seen replies (not NOOUTPUT): FIN_WAIT is still alive.
  Conn* n = in_state(nat, tcp::kFinWait);
  EXPECT_EQ(syn(n), Existing::kForward);
}

TEST_F(ReuseTest, ModeZeroNeverReuses) {
  sched::Dest* d = dests_.add(v4(kRip), 80, Fwd::kMasq);
  set_reuse_mode(0);
  Conn* c = in_state(d, tcp::kTimeWait);
  EXPECT_EQ(syn(c), Existing::kForward);
}

TEST_F(ReuseTest, ControlledConnectionsAreNotReused) {
  sched::Dest* d = dests_.add(v4(kRip), 80, Fwd::kMasq);
  ServiceConfig svc;
  svc.key.addr = v4(kVip);
  svc.key.port = 80;
  svc.flags = kSvcPersistent;
  svc.timeout = 360;
  const Tuple t = tuple(v4(kClient), 40000, v4(kVip), 80);
  PersistChoice pc = tracker_.persist_schedule(svc, t, 0, now_, [&] { return d; });
  Conn* c = tracker_.create(ConnParams::from_packet(t), pc.dest, pc.dport, pc.tmpl, now_);
  c->state = tcp::kTimeWait;
  EXPECT_EQ(syn(c), Existing::kForward);
}

TEST_F(ReuseTest, SctpClosedIsReusedByInit) {
  sched::Dest* d = dests_.add(v4(kRip), 80, Fwd::kMasq);
  Conn* c = connect(d, 7000, kProtoSctp);
  c->state = sctp::kClosed;
  EXPECT_EQ(tracker_.check_existing(*c, sctp_chunk(sctp::kChunkData), false, now_),
            Existing::kForward);
  EXPECT_EQ(tracker_.check_existing(*c, sctp_chunk(sctp::kChunkInit), false, now_),
            Existing::kReschedule);
  EXPECT_EQ(find(7000, kProtoSctp), nullptr);
}

TEST_F(ReuseTest, UdpIsNeverReused) {
  sched::Dest* d = dests_.add(v4(kRip), 80, Fwd::kMasq);
  Conn* c = connect(d, 7000, kProtoUdp);
  EXPECT_EQ(tracker_.check_existing(*c, L4Info{}, false, now_), Existing::kForward);
}

// --- ip_vs_in(): expire_nodest_conn ----------------------------------------------------------

TEST_F(ReuseTest, QuiescedDestReschedulesNewSynOnlyWithExpireNodestConn) {
  sched::Dest* d = dests_.add(v4(kRip), 80, Fwd::kMasq);
  Conn* c = in_state(d, tcp::kEstablished);
  dests_.set_weight(d, 0);
  EXPECT_EQ(syn(c), Existing::kForward);  // quiesced: existing connections keep going
  ConnSysctls s = tracker_.sysctls();
  s.expire_nodest_conn = true;
  tracker_.set_sysctls(s);
  EXPECT_EQ(tracker_.check_existing(*c, tcp_flags(kTcpAck), false, now_), Existing::kForward);
  EXPECT_EQ(syn(c), Existing::kReschedule);
  EXPECT_EQ(find(), nullptr);
  // Even with conn_reuse_mode 0 (kernel >= 5.16).
  set_reuse_mode(0);
  Conn* c2 = in_state(d, tcp::kEstablished);
  EXPECT_EQ(syn(c2), Existing::kReschedule);
}

TEST_F(ReuseTest, DeletedDestDropsOrExpires) {
  sched::Dest* d = dests_.add(v4(kRip), 80, Fwd::kMasq);
  Conn* c = in_state(d, tcp::kEstablished);
  d->mark_unlinked();
  EXPECT_EQ(tracker_.check_existing(*c, tcp_flags(kTcpAck), false, now_), Existing::kDrop);
  EXPECT_EQ(find(), c);  // it stays until it times out
  ConnSysctls s = tracker_.sysctls();
  s.expire_nodest_conn = true;
  tracker_.set_sysctls(s);
  EXPECT_EQ(tracker_.check_existing(*c, tcp_flags(kTcpAck), false, now_), Existing::kReschedule);
  EXPECT_EQ(find(), nullptr);
  EXPECT_EQ(counts(d), (Counts{0, 0, 0}));
}

TEST_F(TrackerTest, NodestFlushRemovesConnectionsOfDeletedDests) {
  sched::Dest* gone = dests_.add(v4(kRip), 80, Fwd::kMasq);
  sched::Dest* kept = dests_.add(v4(kRip + 1), 80, Fwd::kMasq);
  for (uint16_t p = 1; p <= 50; ++p) {
    connect(gone, p);
    connect(kept, static_cast<uint16_t>(1000 + p));
  }
  gone->mark_unlinked();
  tracker_.request_nodest_flush();
  uint32_t dropped = 0;
  for (int i = 0; i < 200 && dropped < 50; ++i) dropped += tracker_.tick(now_, 16).dropped;
  EXPECT_EQ(dropped, 50u);
  EXPECT_EQ(counts(gone), (Counts{0, 0, 0}));
  EXPECT_EQ(counts(kept), (Counts{0, 50, 0}));
}

// --- Misc -------------------------------------------------------------------------------------

TEST_F(TrackerTest, FillCportMakesANoCportEntryExact) {
  sched::Dest* d = dests_.add(v4(kRip), 21, Fwd::kMasq);
  ConnParams p = ConnParams::from_packet(tuple(v4(kClient), 0, v4(kVip), 21));
  p.flags = kConnNoCport;
  Conn* c = tracker_.create(p, d, 21, nullptr, now_);
  EXPECT_EQ(tracker_.table().no_cport_count(), 1u);
  EXPECT_EQ(tracker_.table().lookup_in(tuple(v4(kClient), 1111, v4(kVip), 21)), c);
  tracker_.fill_cport(*c, 1111);
  EXPECT_EQ(c->cport, 1111);
  EXPECT_FALSE(c->flags & kConnNoCport);
  EXPECT_EQ(tracker_.table().no_cport_count(), 0u);
  EXPECT_EQ(tracker_.table().lookup_in(tuple(v4(kClient), 1111, v4(kVip), 21)), c);
  EXPECT_EQ(tracker_.table().lookup_in(tuple(v4(kClient), 2222, v4(kVip), 21)), nullptr);
}

TEST_F(TrackerTest, SyncedConnectionsKeepTheirRecordsActivity) {
  sched::Dest* d = dests_.add(v4(kRip), 80, Fwd::kRoute);
  ConnParams p = ConnParams::from_packet(tuple(v4(kClient), 1000, v4(kVip), 80));
  p.flags = kConnSync | static_cast<uint16_t>(Fwd::kTunnel);  // a dest's method wins
  Conn* active = tracker_.create(p, d, 80, nullptr, now_);
  EXPECT_FALSE(active->inactive());
  EXPECT_EQ(active->fwd(), Fwd::kRoute);
  EXPECT_TRUE(active->flags & kConnSync);
  p.cport = 1001;
  p.flags = kConnSync | kConnInactive;
  Conn* inactive = tracker_.create(p, d, 80, nullptr, now_);
  EXPECT_TRUE(inactive->inactive());
  EXPECT_EQ(counts(d), (Counts{1, 1, 0}));

  // No dest yet: the record's method and addresses stand.
  p.cport = 1002;
  p.flags = kConnSync | static_cast<uint16_t>(Fwd::kTunnel) | kConnNoOutput;
  p.daf = AF_INET;
  p.daddr = v4(kRip + 9).bytes;
  Conn* orphan = tracker_.create(p, nullptr, 80, nullptr, now_);
  ASSERT_NE(orphan, nullptr);
  EXPECT_EQ(orphan->fwd(), Fwd::kTunnel);
  EXPECT_TRUE(orphan->flags & kConnNoOutput);
  EXPECT_EQ(orphan->dest, nullptr);
  EXPECT_TRUE(addr_equal(orphan->daddr, v4(kRip + 9).bytes));
  tick_to(3000);
  EXPECT_EQ(tracker_.table().size(), 0u);
  EXPECT_EQ(counts(d), (Counts{0, 0, 0}));
}

struct HookLog {
  int freed = 0;
  int kept = 0;
  uint16_t last_lport = 0;
};

TEST_F(TrackerTest, ExpireHookSeesEveryEntryLeave) {
  HookLog log;
  tracker_.set_expire_hook(
      [](void* ctx, const Conn& c, ExpireEvent e) {
        auto* l = static_cast<HookLog*>(ctx);
        if (e == ExpireEvent::kFreed) {
          ++l->freed;
          l->last_lport = c.lport;
        } else {
          ++l->kept;
        }
      },
      &log);
  sched::Dest* d = dests_.add(v4(kRip), 80, Fwd::kFullNat);
  ConnParams p = ConnParams::from_packet(tuple(v4(kClient), 40000, v4(kVip), 80));
  p.laddr = v4(kLaddr).bytes;
  p.lport = 7777;
  tracker_.create(p, d, 80, nullptr, now_);
  tick_to(3000);
  EXPECT_EQ(log.freed, 1);
  EXPECT_EQ(log.last_lport, 7777);
}

TEST_F(TrackerTest, ListingCopiesEveryEntryInSlices) {
  sched::Dest* d = dests_.add(v4(kRip), 8080, Fwd::kMasq);
  Conn* a = connect(d, 1000);
  packet(a, Dir::kInput, kTcpSyn);
  packet(a, Dir::kInput, kTcpAck);
  connect(d, 1001, kProtoUdp);
  tracker_.on_packet(*find(1001, kProtoUdp), Dir::kInput, L4Info{});
  tracker_.release(*find(1001, kProtoUdp), now_);
  now_ = 100 * kSec + 500;

  ConnListing listing;
  EXPECT_FALSE(listing.requested());
  EXPECT_FALSE(tracker_.serve_listing(listing, now_, 100));
  listing.request(16);
  int calls = 0;
  while (!listing.done()) {
    ASSERT_TRUE(tracker_.serve_listing(listing, now_, 100));
    ++calls;
  }
  EXPECT_EQ(calls, (1024 + 99) / 100);
  ASSERT_TRUE(listing.wait(std::chrono::milliseconds(1)));
  std::vector<ConnView> views = listing.take();
  ASSERT_EQ(views.size(), 2u);
  std::sort(views.begin(), views.end(),
            [](const ConnView& x, const ConnView& y) { return x.cport < y.cport; });
  EXPECT_EQ(views[0].protocol, kProtoTcp);
  EXPECT_EQ(views[0].state, "ESTABLISHED");
  EXPECT_EQ(views[0].expire_secs, 799u);  // 900 s from t=0, listed at 100.5 s
  EXPECT_EQ(views[0].caddr, v4(kClient));
  EXPECT_EQ(views[0].cport, 1000);
  EXPECT_EQ(views[0].vaddr, v4(kVip));
  EXPECT_EQ(views[0].vport, 80);
  EXPECT_EQ(views[0].daddr, v4(kRip));
  EXPECT_EQ(views[0].dport, 8080);
  EXPECT_EQ(views[1].state, "UDP");
  EXPECT_EQ(views[1].expire_secs, 199u);
  EXPECT_FALSE(listing.requested());
}

TEST_F(TrackerTest, ListingAcrossThreads) {
  sched::Dest* d = dests_.add(v4(kRip), 80);
  for (uint16_t p = 1; p <= 300; ++p) connect(d, p);
  ConnListing listing;
  std::atomic<bool> finished{false};
  std::thread control([&] {
    listing.request(300);
    EXPECT_TRUE(listing.wait(std::chrono::seconds(10)));
    EXPECT_EQ(listing.take().size(), 300u);
    finished = true;
  });
  // The worker serves between its "bursts" until the control plane has its answer (take()
  // resets the listing, so done() alone may never be seen).
  while (!finished) {
    if (listing.requested()) tracker_.serve_listing(listing, now_, 64);
    std::this_thread::yield();
  }
  control.join();
}

TEST_F(TrackerTest, FlushEmptiesTheTableControllersLast) {
  sched::Dest* d = dests_.add(v4(kRip), 80);
  ServiceConfig svc;
  svc.key.addr = v4(kVip);
  svc.key.port = 80;
  svc.flags = kSvcPersistent;
  svc.timeout = 360;
  for (uint16_t p = 1; p <= 20; ++p) {
    const Tuple t = tuple(v4(kClient + p % 3), p, v4(kVip), 80);
    PersistChoice pc = tracker_.persist_schedule(svc, t, 0, now_, [&] { return d; });
    ASSERT_NE(tracker_.create(ConnParams::from_packet(t), pc.dest, pc.dport, pc.tmpl, now_),
              nullptr);
  }
  connect(d, 5000);
  EXPECT_EQ(counts(d), (Counts{0, 21, 3}));
  tracker_.flush(now_);
  EXPECT_EQ(tracker_.table().size(), 0u);
  EXPECT_EQ(tracker_.wheel().armed_count(), 0u);
  EXPECT_EQ(counts(d), (Counts{0, 0, 0}));
}

TEST_F(TrackerTest, NodestFlushTakesTheTemplateAlong) {
  sched::Dest* d = dests_.add(v4(kRip), 80);
  ServiceConfig svc;
  svc.key.addr = v4(kVip);
  svc.key.port = 80;
  svc.flags = kSvcPersistent;
  svc.timeout = 360;
  const Tuple t = tuple(v4(kClient), 1, v4(kVip), 80);
  PersistChoice pc = tracker_.persist_schedule(svc, t, 0, now_, [&] { return d; });
  Conn* c = tracker_.create(ConnParams::from_packet(t), pc.dest, pc.dport, pc.tmpl, now_);
  // Even an assured template goes once its last connection does.
  tracker_.on_packet(*c, Dir::kInput, tcp_flags(kTcpSyn));
  tracker_.on_packet(*c, Dir::kInput, tcp_flags(kTcpAck));
  EXPECT_EQ(pc.tmpl->state, kTemplateAssured);
  d->mark_unlinked();
  tracker_.request_nodest_flush();
  const TickResult r = tracker_.tick(now_, 1u << 20);
  EXPECT_EQ(r.dropped, 2u);
  EXPECT_EQ(tracker_.table().size(), 0u);
  EXPECT_EQ(counts(d), (Counts{0, 0, 0}));
}

TEST_F(TrackerTest, IndexFullFailsTheCreate) {
  TrackerOptions o = small_options(64);
  o.table.tuples_per_conn = 1;
  Tracker t(o, 0);
  sched::Dest* d = dests_.add(v4(kRip), 80, Fwd::kFullNat);
  int made = 0;
  for (uint16_t p = 1; p <= 64; ++p) {
    ConnParams cp = ConnParams::from_packet(tuple(v4(kClient), p, v4(kVip), 80));
    cp.laddr = v4(kLaddr).bytes;
    cp.lport = static_cast<uint16_t>(5000 + p);
    if (t.create(cp, d, 80, nullptr, 0) != nullptr) ++made;
  }
  EXPECT_LT(made, 64);
  EXPECT_EQ(t.stats().create_failed, static_cast<uint64_t>(64 - made));
  EXPECT_EQ(t.table().size(), static_cast<uint32_t>(made));
  EXPECT_EQ(counts(d), (Counts{0, made, 0}));
}

TEST(TrackerCapacity, PerWorkerShare) {
  EXPECT_EQ(per_worker_capacity(1'000'000, 4), 250'000u);
  EXPECT_EQ(per_worker_capacity(10, 0), 10u);
  EXPECT_EQ(per_worker_capacity(1, 8), 1u);
}

}  // namespace
}  // namespace uvs::conn::test
