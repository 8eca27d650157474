// Defence strategies (as update_defense_level() runs them) on a fixed table: "low memory" is
// a table fuller than full_percent. drop_packet rates, drop_entry's choices and its
// 1/32-per-second scan, secure_tcp switching tables, and the automatic modes flipping between
// 1 and 2.
#include "conn/defense.h"

#include "conn_test_util.h"

namespace uvs::conn::test {
namespace {

TEST(Defense, DropPacketAlwaysDropsOneInAmDroprate) {
  DefenseModes m;
  m.drop_packet = 3;
  m.am_droprate = 10;
  Defense d(m);
  d.update(1000, 1000);  // an empty table: mode 3 does not care
  int dropped = 0;
  for (int i = 0; i < 100; ++i) dropped += d.drop_packet();
  EXPECT_EQ(dropped, 10);
  EXPECT_EQ(d.drop_rate(), 10u);
}

TEST(Defense, DropPacketAutomaticFollowsTheFill) {
  DefenseModes m;
  m.drop_packet = 1;
  Defense d(m);
  d.update(/*available=*/500, /*capacity=*/1000);
  EXPECT_FALSE(d.low_memory());
  EXPECT_EQ(d.drop_rate(), 0u);
  EXPECT_FALSE(d.drop_packet());
  EXPECT_EQ(d.modes().drop_packet, 1);
  // 95% full: 50 free below a threshold of 100 -> rate 100 / (100 - 50) = 2.
  d.update(50, 1000);
  EXPECT_TRUE(d.low_memory());
  EXPECT_EQ(d.modes().drop_packet, 2);
  EXPECT_EQ(d.drop_rate(), 2u);
  int dropped = 0;
  for (int i = 0; i < 10; ++i) dropped += d.drop_packet();
  EXPECT_EQ(dropped, 5);
  // 99% full: rate 100 / 90 = 1, every new connection.
  d.update(10, 1000);
  EXPECT_EQ(d.drop_rate(), 1u);
  // Room again: back to armed.
  d.update(200, 1000);
  EXPECT_EQ(d.drop_rate(), 0u);
  EXPECT_EQ(d.modes().drop_packet, 1);
}

TEST(Defense, OffMeansOff) {
  Defense d;
  d.update(0, 1000);
  EXPECT_TRUE(d.low_memory());
  EXPECT_FALSE(d.drop_entry_active());
  EXPECT_FALSE(d.secure_tcp_active());
  EXPECT_FALSE(d.drop_packet());
}

TEST(Defense, ConfigurableThreshold) {
  DefenseModes m;
  m.drop_entry = 1;
  m.full_percent = 50;
  Defense d(m);
  d.update(600, 1000);
  EXPECT_FALSE(d.drop_entry_active());
  d.update(400, 1000);
  EXPECT_TRUE(d.drop_entry_active());
  EXPECT_EQ(d.modes().drop_entry, 2);
  d.update(600, 1000);
  EXPECT_FALSE(d.drop_entry_active());
  EXPECT_EQ(d.modes().drop_entry, 1);
}

TEST(Defense, SecureTcpAutomatic) {
  DefenseModes m;
  m.secure_tcp = 1;
  Defense d(m);
  d.update(1000, 1000);
  EXPECT_FALSE(d.secure_tcp_active());
  d.update(10, 1000);
  EXPECT_TRUE(d.secure_tcp_active());
  EXPECT_EQ(d.modes().secure_tcp, 2);
  d.update(1000, 1000);
  EXPECT_FALSE(d.secure_tcp_active());
  m.secure_tcp = 3;
  d.set_modes(m);
  d.update(1000, 1000);
  EXPECT_TRUE(d.secure_tcp_active());
}

TEST(Defense, DropEntryPrefersIdleConnectionsWithFewPackets) {
  Defense d;
  Conn c{};
  c.timeout_ms = 900 * kSec;
  const uint64_t now = 1000 * kSec;
  // Touched 30 s ago: kept whatever its packets.
  c.expires_ms = now - 30 * kSec + c.timeout_ms;
  c.in_pkts = 1;
  EXPECT_FALSE(d.drop_entry_candidate(c, now));
  // Idle 60 s: n packets -> one in n dropped; none or more than 8 never.
  c.expires_ms = now - 60 * kSec + c.timeout_ms;
  c.in_pkts = 0;
  EXPECT_FALSE(d.drop_entry_candidate(c, now));
  c.in_pkts = 9;
  EXPECT_FALSE(d.drop_entry_candidate(c, now));
  for (uint32_t n = 1; n <= 8; ++n) {
    c.in_pkts = n;
    int dropped = 0;
    for (uint32_t i = 0; i < 8 * n; ++i) dropped += d.drop_entry_candidate(c, now);
    EXPECT_EQ(dropped, 8) << n << " packets";
  }
}

class DefenseTrackerTest : public ::testing::Test {
 protected:
  DefenseTrackerTest() : tracker_(options(), 0) { d_ = dests_.add(v4(kRip), 80, Fwd::kRoute); }

  static TrackerOptions options() {
    TrackerOptions o = small_options(320);
    o.wheel.slot_bits = 16;
    return o;
  }
  Conn* conn(uint16_t cport, uint8_t state, uint32_t pkts = 0) {
    ConnParams p = ConnParams::from_packet(tuple(v4(kClient), cport, v4(kVip), 80));
    Conn* c = tracker_.create(p, d_, 80, nullptr, now_);
    c->state = state;
    c->timeout_ms = tracker_.timeouts().tcp_ms(state);
    c->expires_ms = now_ + c->timeout_ms;
    c->in_pkts = pkts;
    return c;
  }
  void set_modes(DefenseModes m) {
    ConnSysctls s = tracker_.sysctls();
    s.defense = m;
    tracker_.set_sysctls(s);
  }
  // Ticks once a second for `seconds` with a budget that lets each scan finish.
  uint32_t run(int seconds) {
    uint32_t dropped = 0;
    for (int i = 0; i < seconds; ++i) {
      now_ += kSec;
      dropped += tracker_.tick(now_, 1u << 20).dropped;
    }
    return dropped;
  }
  bool alive(uint16_t cport) {
    return tracker_.table().lookup_in(tuple(v4(kClient), cport, v4(kVip), 80)) != nullptr;
  }

  Dests dests_;
  Tracker tracker_;
  sched::Dest* d_;
  uint64_t now_ = 0;
};

TEST_F(DefenseTrackerTest, DropEntryScansAThirtySecondOfTheTablePerSecond) {
  for (uint16_t p = 1; p <= 100; ++p) conn(p, tcp::kSynRecv);
  for (uint16_t p = 101; p <= 150; ++p) conn(p, tcp::kEstablished, 20);  // busy: kept
  for (uint16_t p = 151; p <= 160; ++p) conn(p, tcp::kTimeWait);         // kept
  DefenseModes m;
  m.drop_entry = 3;
  set_modes(m);
  // One second scans 320 / 32 = 10 slots: not everything at once.
  const uint32_t first = run(1);
  EXPECT_LE(first, 10u);
  // 32 seconds cover the table.
  run(33);
  for (uint16_t p = 1; p <= 100; ++p) EXPECT_FALSE(alive(p)) << p;
  for (uint16_t p = 101; p <= 160; ++p) EXPECT_TRUE(alive(p)) << p;
  EXPECT_EQ(tracker_.stats().defense_dropped_entries, 100u);
  EXPECT_EQ(counts(d_), (Counts{0, 60, 0}));
}

TEST_F(DefenseTrackerTest, DropEntryTakesIdleEstablishedWithFewPackets) {
  for (uint16_t p = 1; p <= 20; ++p) conn(p, tcp::kEstablished, 1);
  now_ = 70 * kSec;                                                   // idle for 70 s now
  for (uint16_t p = 21; p <= 40; ++p) conn(p, tcp::kEstablished, 1);  // fresh
  DefenseModes m;
  m.drop_entry = 3;
  set_modes(m);
  run(40);
  for (uint16_t p = 1; p <= 20; ++p) EXPECT_FALSE(alive(p)) << p;
  for (uint16_t p = 21; p <= 40; ++p) EXPECT_TRUE(alive(p)) << p;
}

TEST_F(DefenseTrackerTest, DropEntryForSctpAndUdp) {
  auto make = [&](uint8_t proto, uint16_t cport, uint8_t state, uint32_t pkts) {
    ConnParams p = ConnParams::from_packet(tuple(v4(kClient), cport, v4(kVip), 80, proto));
    Conn* c = tracker_.create(p, d_, 80, nullptr, now_);
    c->state = state;
    c->timeout_ms = 300 * kSec;
    c->expires_ms = now_ + c->timeout_ms;
    c->in_pkts = pkts;
    return c;
  };
  make(kProtoSctp, 1, sctp::kInit1, 0);
  make(kProtoSctp, 2, sctp::kInit, 0);
  make(kProtoSctp, 3, sctp::kEstablished, 1);
  make(kProtoSctp, 4, sctp::kShutdownSent, 1);
  make(kProtoUdp, 5, udp::kNormal, 1);
  make(kProtoUdp, 6, udp::kNormal, 50);
  now_ = 100 * kSec;  // all idle long enough
  DefenseModes m;
  m.drop_entry = 3;
  set_modes(m);
  run(40);
  auto alive_p = [&](uint8_t proto, uint16_t cport) {
    return tracker_.table().lookup_in(tuple(v4(kClient), cport, v4(kVip), 80, proto)) != nullptr;
  };
  EXPECT_FALSE(alive_p(kProtoSctp, 1));
  EXPECT_FALSE(alive_p(kProtoSctp, 2));
  EXPECT_FALSE(alive_p(kProtoSctp, 3));
  EXPECT_TRUE(alive_p(kProtoSctp, 4));
  EXPECT_FALSE(alive_p(kProtoUdp, 5));
  EXPECT_TRUE(alive_p(kProtoUdp, 6));
}

TEST_F(DefenseTrackerTest, DropEntryAutomaticStartsWhenTheTableIsFull) {
  DefenseModes m;
  m.drop_entry = 1;
  set_modes(m);
  for (uint16_t p = 1; p <= 200; ++p) conn(p, tcp::kSynRecv);  // 62%: fine
  EXPECT_EQ(run(40), 0u);
  EXPECT_EQ(tracker_.defense().modes().drop_entry, 1);
  for (uint16_t p = 201; p <= 300; ++p) conn(p, tcp::kSynRecv);  // 94%
  run(1);
  EXPECT_TRUE(tracker_.defense().drop_entry_active());
  EXPECT_EQ(tracker_.defense().modes().drop_entry, 2);
  run(40);
  // Dropped down below the threshold, then it stops (mode back to 1).
  EXPECT_LT(tracker_.table().size(), 300u);
  EXPECT_EQ(tracker_.defense().modes().drop_entry, 1);
}

TEST_F(DefenseTrackerTest, DropEntryDropsUnassuredTemplatesButNotTheirControllers) {
  ServiceConfig svc;
  svc.key.addr = v4(kVip);
  svc.key.port = 80;
  svc.flags = kSvcPersistent;
  svc.timeout = 3600;
  // A template with a live connection, and one left alone.
  const Tuple t1 = tuple(v4(kClient), 1, v4(kVip), 80);
  PersistChoice pc = tracker_.persist_schedule(svc, t1, 0, now_, [&] { return d_; });
  Conn* c = tracker_.create(ConnParams::from_packet(t1), pc.dest, pc.dport, pc.tmpl, now_);
  c->state = tcp::kCloseWait;
  c->timeout_ms = 60 * kSec;
  tracker_.release(*c, now_);
  const Tuple t2 = tuple(v4(kClient + 1), 1, v4(kVip), 80);
  PersistChoice lonely = tracker_.persist_schedule(svc, t2, 0, now_, [&] { return d_; });
  ASSERT_NE(lonely.tmpl, nullptr);
  DefenseModes m;
  m.drop_entry = 3;
  set_modes(m);
  run(40);
  EXPECT_TRUE(pc.tmpl->in_use());  // controls c
  EXPECT_TRUE(alive(1));
  EXPECT_EQ(tracker_.table().size(), 2u);  // the lonely template went
  EXPECT_EQ(counts(d_), (Counts{0, 1, 1}));
}

TEST_F(DefenseTrackerTest, SecureTcpSwitchesTheTable) {
  Conn* c = conn(1, tcp::kSynRecv);
  c->flags &= ~kConnNoOutput;  // as if NAT
  DefenseModes m;
  m.secure_tcp = 3;
  set_modes(m);
  // INPUT ack in SYN_RECV: the secure table waits for the server's SYN/ACK.
  tracker_.on_packet(*c, Dir::kInput, tcp_flags(kTcpAck));
  EXPECT_EQ(c->state, tcp::kSynRecv);
  m.secure_tcp = 0;
  set_modes(m);
  tracker_.on_packet(*c, Dir::kInput, tcp_flags(kTcpAck));
  EXPECT_EQ(c->state, tcp::kEstablished);
}

TEST_F(DefenseTrackerTest, DropNewConnCounts) {
  DefenseModes m;
  m.drop_packet = 3;
  m.am_droprate = 4;
  set_modes(m);
  int dropped = 0;
  for (int i = 0; i < 40; ++i) dropped += tracker_.drop_new_conn();
  EXPECT_EQ(dropped, 10);
  EXPECT_EQ(tracker_.stats().defense_dropped_packets, 10u);
}

}  // namespace
}  // namespace uvs::conn::test
