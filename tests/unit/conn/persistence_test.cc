// Persistence (ip_vs_sched_persist()): template keys (netmask/prefix, port 21, port 0,
// fwmark), templates pinning clients, n_control and the 60 s re-check, timer restarts,
// check_template with expire_quiescent_template, invalidation, and the drop chain of
// unassured templates.
#include "conn/persistence.h"

#include "conn_test_util.h"

namespace uvs::conn::test {
namespace {

ServiceConfig persistent(uint16_t port, uint32_t timeout = 360, uint32_t netmask = 0xffffffff,
                         uint8_t proto = kProtoTcp) {
  ServiceConfig s;
  s.key.af = AF_INET;
  s.key.protocol = proto;
  s.key.addr = v4(kVip);
  s.key.port = port;
  s.flags = kSvcPersistent;
  s.timeout = timeout;
  s.netmask = netmask;
  return s;
}

ServiceConfig fwmark_service(uint32_t mark, uint32_t timeout = 360) {
  ServiceConfig s;
  s.key.af = AF_INET;
  s.key.fwmark = mark;
  s.flags = kSvcPersistent;
  s.timeout = timeout;
  return s;
}

TEST(PersistKey, ClientNetV4) {
  const AddrBytes a = v4(0x0B010203).bytes;
  EXPECT_EQ(persist_client_net(AF_INET, a, 0xffffff00), v4(0x0B010200).bytes);
  EXPECT_EQ(persist_client_net(AF_INET, a, 0xffffffff), a);
  EXPECT_EQ(persist_client_net(AF_INET, a, 0), v4(0).bytes);
  EXPECT_EQ(persist_client_net(AF_INET, a, 0xfffe0000), v4(0x0B000000).bytes);
}

TEST(PersistKey, ClientNetV6Prefix) {
  const AddrBytes a = v6("2001:db8:abcd:1234:5678:9abc:def0:1234").bytes;
  EXPECT_EQ(persist_client_net(AF_INET6, a, 128), a);
  EXPECT_EQ(persist_client_net(AF_INET6, a, 64), v6("2001:db8:abcd:1234::").bytes);
  EXPECT_EQ(persist_client_net(AF_INET6, a, 60), v6("2001:db8:abcd:1230::").bytes);
  EXPECT_EQ(persist_client_net(AF_INET6, a, 0), v6("::").bytes);
  EXPECT_EQ(persist_client_net(AF_INET6, a, 33), v6("2001:db8:8000::").bytes);
}

TEST(PersistKey, TemplateKeys) {
  const Tuple to80 = tuple(v4(kClient), 4000, v4(kVip), 80);
  TemplateKey k = persist_template_key(persistent(80, 360, 0xffffff00), to80);
  EXPECT_EQ(k.protocol, kProtoTcp);
  EXPECT_EQ(k.snet, v4(kClient & 0xffffff00).bytes);
  EXPECT_EQ(k.vaddr, v4(kVip).bytes);
  EXPECT_EQ(k.vport, 80);

  // FTP: one template for control and data.
  EXPECT_EQ(persist_template_key(persistent(21), tuple(v4(kClient), 4000, v4(kVip), 21)).vport, 0);
  EXPECT_EQ(persist_template_key(persistent(21), tuple(v4(kClient), 4000, v4(kVip), 2000)).vport,
            0);

  // Port-0 service: every port of the VIP, the real protocol.
  k = persist_template_key(persistent(0), tuple(v4(kClient), 4000, v4(kVip), 443));
  EXPECT_EQ(k.vport, 0);
  EXPECT_EQ(k.protocol, kProtoTcp);
  EXPECT_EQ(k.vaddr, v4(kVip).bytes);

  // fwmark: protocol IP, the mark as an IPv4 address.
  k = persist_template_key(fwmark_service(1), tuple(v4(kClient), 4000, v4(kVip), 443, kProtoUdp));
  EXPECT_EQ(k.protocol, 0);
  EXPECT_EQ(k.vaddr, v4(1).bytes);
  EXPECT_EQ(k.vport, 0);
}

TEST(PersistKey, Ports) {
  EXPECT_EQ(template_dport(persistent(80), 80, 8080), 8080);
  EXPECT_EQ(template_dport(persistent(21), 21, 21), 0);
  EXPECT_EQ(template_dport(persistent(0), 443, 8443), 0);
  EXPECT_EQ(template_dport(fwmark_service(1), 443, 8443), 0);
  EXPECT_EQ(persist_conn_dport(persistent(80), 80, 8080), 8080);
  EXPECT_EQ(persist_conn_dport(persistent(80), 80, 0), 80);
  EXPECT_EQ(persist_conn_dport(persistent(0), 443, 8443), 443);
  EXPECT_EQ(persist_conn_dport(fwmark_service(1), 443, 0), 443);
  EXPECT_EQ(conn_dport(0, 443), 443);
  EXPECT_EQ(conn_dport(8080, 80), 8080);
  ServiceConfig ops = persistent(53, 360, 0xffffffff, kProtoUdp);
  ops.flags |= kSvcOnePacket;
  EXPECT_EQ(one_packet_flag(ops, kProtoUdp), kConnOnePacket);
  EXPECT_EQ(one_packet_flag(ops, kProtoTcp), 0);
  EXPECT_EQ(one_packet_flag(persistent(53), kProtoUdp), 0);
}

class PersistTest : public ::testing::Test {
 protected:
  PersistTest() : tracker_(small_options(), 0) {}

  // One new connection through persistence; `picked` counts scheduler calls.
  Conn* connect(const ServiceConfig& svc, const Tuple& t, sched::Dest* schedule_to) {
    PersistChoice pc = tracker_.persist_schedule(svc, t, svc.key.fwmark, now_, [&] {
      ++picked_;
      return schedule_to;
    });
    if (pc.dest == nullptr) return nullptr;
    last_tmpl_ = pc.tmpl;
    return tracker_.create(ConnParams::from_packet(t, svc.key.fwmark), pc.dest, pc.dport, pc.tmpl,
                           now_);
  }
  void tick_to(uint64_t now) {
    now_ = now;
    tracker_.tick(now_, 1u << 30);
  }
  void set_sysctls(bool expire_quiescent_template) {
    ConnSysctls s = tracker_.sysctls();
    s.expire_quiescent_template = expire_quiescent_template;
    tracker_.set_sysctls(s);
  }

  Dests dests_;
  Tracker tracker_;
  uint64_t now_ = 0;
  int picked_ = 0;
  Conn* last_tmpl_ = nullptr;
};

TEST_F(PersistTest, NetmaskPinsAClientNetworkToOneDest) {
  const ServiceConfig svc = persistent(80, 360, 0xffffff00);
  sched::Dest* a = dests_.add(v4(kRip), 8080);
  sched::Dest* b = dests_.add(v4(kRip + 1), 8080);
  Conn* c1 = connect(svc, tuple(v4(0x0B000001), 1000, v4(kVip), 80), a);
  EXPECT_EQ(picked_, 1);
  Conn* tmpl = last_tmpl_;
  ASSERT_NE(tmpl, nullptr);
  EXPECT_TRUE(tmpl->is_template());
  EXPECT_EQ(tmpl->caddr, v4(0x0B000000).bytes);
  EXPECT_EQ(tmpl->cport, 0);
  EXPECT_EQ(tmpl->vport, 80);
  EXPECT_EQ(tmpl->dport, 8080);
  EXPECT_EQ(tmpl->timeout_ms, 360 * kSec);
  EXPECT_EQ(tmpl->state, kTemplateNone);
  EXPECT_EQ(c1->control, tracker_.table().index_of(*tmpl));
  EXPECT_EQ(c1->dport, 8080);

  // Same /24, another port: no scheduling, same dest.
  Conn* c2 = connect(svc, tuple(v4(0x0B0000FE), 2000, v4(kVip), 80), b);
  EXPECT_EQ(picked_, 1);
  EXPECT_EQ(c2->dest, a);
  EXPECT_EQ(tmpl->n_control, 2u);
  EXPECT_EQ(counts(a), (Counts{0, 2, 1}));

  // Another /24 is scheduled.
  Conn* c3 = connect(svc, tuple(v4(0x0B000101), 1000, v4(kVip), 80), b);
  EXPECT_EQ(picked_, 2);
  EXPECT_EQ(c3->dest, b);
  EXPECT_EQ(counts(b), (Counts{0, 1, 1}));
}

TEST_F(PersistTest, NoDestMeansNoTemplate) {
  const ServiceConfig svc = persistent(80);
  EXPECT_EQ(connect(svc, tuple(v4(kClient), 1000, v4(kVip), 80), nullptr), nullptr);
  EXPECT_EQ(tracker_.table().size(), 0u);
}

TEST_F(PersistTest, TemplateTimerRestartsOnEachNewConnectionOnly) {
  const ServiceConfig svc = persistent(80, 100);
  sched::Dest* a = dests_.add(v4(kRip), 80);
  Conn* c1 = connect(svc, tuple(v4(kClient), 1000, v4(kVip), 80), a);
  Conn* tmpl = last_tmpl_;
  EXPECT_EQ(tmpl->expires_ms, 100 * kSec);
  now_ = 30 * kSec;
  tracker_.on_packet(*c1, Dir::kInput, tcp_flags(kTcpSyn));
  tracker_.release(*c1, now_);
  EXPECT_EQ(tmpl->expires_ms, 100 * kSec);  // packets of a controlled conn: no refresh
  now_ = 50 * kSec;
  connect(svc, tuple(v4(kClient), 1001, v4(kVip), 80), a);
  EXPECT_EQ(tmpl->expires_ms, 150 * kSec);  // a new controlled connection: full timeout
}

TEST_F(PersistTest, TemplateOutlivesItsConnectionsAndRechecksEvery60s) {
  const ServiceConfig svc = persistent(80, 100);
  sched::Dest* a = dests_.add(v4(kRip), 80, Fwd::kRoute);
  Conn* c = connect(svc, tuple(v4(kClient), 1000, v4(kVip), 80), a);
  Conn* tmpl = last_tmpl_;
  // Keep the connection alive past the template's timeout.
  for (uint64_t t = 0; t <= 150; t += 10) {
    now_ = t * kSec;
    tracker_.on_packet(*c, Dir::kInput, tcp_flags(t == 0 ? kTcpSyn : kTcpAck));
    tracker_.release(*c, now_);
    tracker_.tick(now_, 1u << 30);
  }
  // Fired at 100 s with a controlled connection: kept, re-checked every 60 s from then.
  EXPECT_TRUE(tmpl->in_use());
  EXPECT_EQ(tmpl->timeout_ms, 60 * kSec);
  EXPECT_EQ(tmpl->expires_ms, 160 * kSec);
  EXPECT_EQ(tracker_.stats().kept_for_controlled, 1u);
  EXPECT_EQ(counts(a), (Counts{1, 0, 1}));
  // The connection goes (ES timeout after the last packet at 150 s)...
  for (uint64_t t = 151; t <= 1050; ++t) tick_to(t * kSec);  // the worker ticks on
  EXPECT_EQ(tracker_.table().lookup_in(tuple(v4(kClient), 1000, v4(kVip), 80)), nullptr);
  EXPECT_EQ(counts(a), (Counts{0, 0, 1}));
  // ...and the template at its next re-check (160 s + 15 x 60 s).
  tick_to(1059 * kSec);
  EXPECT_EQ(counts(a), (Counts{0, 0, 1}));
  tick_to(1060 * kSec);
  EXPECT_EQ(counts(a), (Counts{0, 0, 0}));
  EXPECT_EQ(tracker_.table().size(), 0u);
}

TEST_F(PersistTest, QuiescedDestKeepsItsClientsUnlessExpireQuiescentTemplate) {
  const ServiceConfig svc = persistent(80);
  sched::Dest* a = dests_.add(v4(kRip), 80);
  sched::Dest* b = dests_.add(v4(kRip + 1), 80);
  connect(svc, tuple(v4(kClient), 1000, v4(kVip), 80), a);
  Conn* old_tmpl = last_tmpl_;
  dests_.set_weight(a, 0);
  Conn* c2 = connect(svc, tuple(v4(kClient), 1001, v4(kVip), 80), b);
  EXPECT_EQ(c2->dest, a);  // sysctl 0: the template still wins
  EXPECT_EQ(picked_, 1);

  set_sysctls(true);
  Conn* c3 = connect(svc, tuple(v4(kClient), 1002, v4(kVip), 80), b);
  EXPECT_EQ(c3->dest, b);
  EXPECT_EQ(picked_, 2);
  EXPECT_NE(last_tmpl_, old_tmpl);
  // The old template is invalidated, not removed: it still holds a's connections.
  EXPECT_TRUE(old_tmpl->in_use());
  EXPECT_EQ(old_tmpl->vport, kInvalidPort);
  EXPECT_EQ(old_tmpl->dport, kInvalidPort);
  EXPECT_EQ(old_tmpl->n_control, 2u);
  EXPECT_EQ(tracker_.stats().templates_invalidated, 1u);
  // Later clients find the new template.
  EXPECT_EQ(connect(svc, tuple(v4(kClient), 1003, v4(kVip), 80), a)->dest, b);
  EXPECT_EQ(picked_, 2);
}

TEST_F(PersistTest, DeletedDestFailsTheTemplateCheck) {
  const ServiceConfig svc = persistent(80);
  sched::Dest* a = dests_.add(v4(kRip), 80);
  sched::Dest* b = dests_.add(v4(kRip + 1), 80);
  connect(svc, tuple(v4(kClient), 1000, v4(kVip), 80), a);
  a->mark_unlinked();
  EXPECT_EQ(connect(svc, tuple(v4(kClient), 1001, v4(kVip), 80), b)->dest, b);
  EXPECT_EQ(picked_, 2);
}

TEST_F(PersistTest, PortZeroServiceSharesOneTemplateAcrossPorts) {
  const ServiceConfig svc = persistent(0);
  sched::Dest* a = dests_.add(v4(kRip), 0);
  sched::Dest* b = dests_.add(v4(kRip + 1), 0);
  Conn* c1 = connect(svc, tuple(v4(kClient), 1000, v4(kVip), 80), a);
  Conn* c2 = connect(svc, tuple(v4(kClient), 1001, v4(kVip), 443), b);
  EXPECT_EQ(picked_, 1);
  EXPECT_EQ(c2->dest, a);
  EXPECT_EQ(c1->dport, 80);
  EXPECT_EQ(c2->dport, 443);
  EXPECT_EQ(last_tmpl_->vport, 0);
  EXPECT_EQ(last_tmpl_->dport, 0);
}

TEST_F(PersistTest, FwmarkTemplateCoversEveryProtocolAndPort) {
  const ServiceConfig svc = fwmark_service(1);
  sched::Dest* a = dests_.add(v4(kRip), 0, Fwd::kRoute);
  sched::Dest* b = dests_.add(v4(kRip + 1), 0, Fwd::kRoute);
  connect(svc, tuple(v4(kClient), 1000, v4(kVip), 80, kProtoTcp), a);
  Conn* tmpl = last_tmpl_;
  Conn* u = connect(svc, tuple(v4(kClient), 1000, v4(kVip + 7), 53, kProtoUdp), b);
  EXPECT_EQ(picked_, 1);
  EXPECT_EQ(u->dest, a);
  EXPECT_EQ(tmpl->protocol, 0);
  EXPECT_EQ(tmpl->fwmark, 1u);
  const ConnView v = Tracker::view_of(*tmpl, now_);
  EXPECT_EQ(v.protocol, 0);
  EXPECT_EQ(v.vaddr.to_string(), "0.0.0.1");
  EXPECT_EQ(v.vport, 0);
  EXPECT_EQ(v.cport, 0);
  EXPECT_EQ(v.state, "NONE");
  EXPECT_EQ(v.expire_secs, 360u);
}

TEST_F(PersistTest, FtpTemplateCoversControlAndData) {
  const ServiceConfig svc = persistent(21);
  sched::Dest* a = dests_.add(v4(kRip), 21, Fwd::kRoute);
  sched::Dest* b = dests_.add(v4(kRip + 1), 21, Fwd::kRoute);
  connect(svc, tuple(v4(kClient), 1000, v4(kVip), 21), a);
  EXPECT_EQ(last_tmpl_->vport, 0);
  EXPECT_EQ(last_tmpl_->dport, 0);
  Conn* data = connect(svc, tuple(v4(kClient), 1001, v4(kVip), 30000), b);
  EXPECT_EQ(data->dest, a);
  EXPECT_EQ(data->dport, 30000);
  EXPECT_EQ(picked_, 1);
}

TEST_F(PersistTest, ReplyOrEstablishedAssures) {
  sched::Dest* a = dests_.add(v4(kRip), 53, Fwd::kMasq);
  const ServiceConfig udp = persistent(53, 360, 0xffffffff, kProtoUdp);
  Conn* c = connect(udp, tuple(v4(kClient), 1000, v4(kVip), 53, kProtoUdp), a);
  tracker_.on_packet(*c, Dir::kInput, L4Info{});
  EXPECT_EQ(last_tmpl_->state, kTemplateNone);
  tracker_.on_packet(*c, Dir::kOutput, L4Info{});
  EXPECT_EQ(last_tmpl_->state, kTemplateAssured);
}

TEST_F(PersistTest, DroppingTheLastConnectionDropsAnUnassuredTemplate) {
  const ServiceConfig svc = persistent(80);
  sched::Dest* a = dests_.add(v4(kRip), 80, Fwd::kRoute);
  Conn* c = connect(svc, tuple(v4(kClient), 1000, v4(kVip), 80), a);
  tracker_.expire_now_with_template(*c, now_);
  EXPECT_EQ(tracker_.table().size(), 0u);
  EXPECT_EQ(counts(a), (Counts{0, 0, 0}));

  // Assured: the template stays for the client's next connection.
  c = connect(svc, tuple(v4(kClient), 1001, v4(kVip), 80), a);
  tracker_.on_packet(*c, Dir::kInput, tcp_flags(kTcpSyn));
  tracker_.on_packet(*c, Dir::kInput, tcp_flags(kTcpAck));
  EXPECT_EQ(last_tmpl_->state, kTemplateAssured);
  tracker_.expire_now_with_template(*c, now_);
  EXPECT_EQ(tracker_.table().size(), 1u);
  EXPECT_EQ(counts(a), (Counts{0, 0, 1}));

  // A plain expiry never takes the template along.
  c = connect(svc, tuple(v4(kClient), 1002, v4(kVip), 80), a);
  tracker_.expire_now(*c, now_);
  EXPECT_EQ(tracker_.table().size(), 1u);
}

TEST_F(PersistTest, OnePacketConnectionsUnderATemplate) {
  ServiceConfig svc = persistent(53, 360, 0xffffffff, kProtoUdp);
  svc.flags |= kSvcOnePacket;
  sched::Dest* a = dests_.add(v4(kRip), 53, Fwd::kMasq);
  for (uint16_t p = 1; p <= 3; ++p) {
    const Tuple t = tuple(v4(kClient), p, v4(kVip), 53, kProtoUdp);
    PersistChoice pc = tracker_.persist_schedule(svc, t, 0, now_, [&] {
      ++picked_;
      return a;
    });
    ConnParams cp = ConnParams::from_packet(t);
    cp.flags = one_packet_flag(svc, t.protocol);
    Conn* c = tracker_.create(cp, pc.dest, pc.dport, pc.tmpl, now_);
    ASSERT_NE(c, nullptr);
    EXPECT_EQ(pc.tmpl->n_control, 1u);
    tracker_.on_packet(*c, Dir::kInput, L4Info{});
    tracker_.release(*c, now_);
    EXPECT_EQ(pc.tmpl->n_control, 0u);
    EXPECT_TRUE(pc.tmpl->xflags & kXOpsTemplate);
  }
  EXPECT_EQ(picked_, 1);
  EXPECT_EQ(tracker_.table().size(), 1u);  // the template
  EXPECT_EQ(counts(a), (Counts{0, 0, 1}));
}

TEST_F(PersistTest, IPv6PrefixPersistence) {
  ServiceConfig svc;
  svc.key.af = AF_INET6;
  svc.key.addr = v6("2001:db8::80");
  svc.key.port = 443;
  svc.flags = kSvcPersistent;
  svc.timeout = 60;
  svc.netmask = 64;
  sched::Dest* a = dests_.add(v6("2001:db8:1::1"), 443);
  sched::Dest* b = dests_.add(v6("2001:db8:1::2"), 443);
  connect(svc, tuple(v6("2001:db8:5::1"), 1000, v6("2001:db8::80"), 443), a);
  Conn* c = connect(svc, tuple(v6("2001:db8:5::ffff"), 1000, v6("2001:db8::80"), 443), b);
  EXPECT_EQ(c->dest, a);
  EXPECT_EQ(c->daf, AF_INET6);
  Conn* other = connect(svc, tuple(v6("2001:db8:6::1"), 1000, v6("2001:db8::80"), 443), b);
  EXPECT_EQ(other->dest, b);
  EXPECT_EQ(picked_, 2);
}

}  // namespace
}  // namespace uvs::conn::test
