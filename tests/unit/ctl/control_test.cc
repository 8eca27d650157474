#include "ctl/control.h"

#include <gtest/gtest.h>

#include <cerrno>

namespace uvs::ctl {
namespace {

ServiceKey tcp(const char* ip, uint16_t port) {
  ServiceKey k;
  k.af = AF_INET;
  k.protocol = kProtoTcp;
  k.addr = *InetAddr::parse(ip);
  k.port = port;
  return k;
}

Command add_service(ServiceKey key, const char* sched = "wlc") {
  Command c;
  c.kind = CommandKind::kAddService;
  c.options = opt(kOptService);
  c.svc.key = key;
  c.svc.sched_name = sched;
  return c;
}

Command add_dest(ServiceKey key, const char* ip, uint16_t port, Fwd fwd = Fwd::kMasq,
                 int weight = 1) {
  Command c;
  c.kind = CommandKind::kAddDest;
  c.options = opt(kOptService) | opt(kOptServer);
  c.svc.key = key;
  c.dest.key = DestKey{*InetAddr::parse(ip), port};
  c.dest.fwd = fwd;
  c.dest.weight = weight;
  return c;
}

class ControlTest : public ::testing::Test {
 protected:
  Control ctl_{ControlOptions{4096}};
};

TEST_F(ControlTest, AddServiceAndDestsNewestFirst) {
  auto k = tcp("192.168.56.102", 80);
  ASSERT_EQ(ctl_.apply(add_service(k, "rr")), 0);
  ASSERT_EQ(ctl_.apply(add_dest(k, "172.17.0.2", 8000)), 0);
  ASSERT_EQ(ctl_.apply(add_dest(k, "172.17.0.3", 8000)), 0);
  TableView t = ctl_.table();
  ASSERT_EQ(t.services.size(), 1u);
  EXPECT_EQ(t.conn_tab_size, 4096u);
  ASSERT_EQ(t.services[0].dests.size(), 2u);
  EXPECT_EQ(t.services[0].dests[0].cfg.key.addr.to_string(), "172.17.0.3");
  EXPECT_EQ(t.services[0].dests[1].cfg.key.addr.to_string(), "172.17.0.2");
}

TEST_F(ControlTest, KernelErrnos) {
  auto k = tcp("10.0.0.1", 80);
  EXPECT_EQ(ctl_.apply(add_service(k, "nosuch")), ENOENT);
  ASSERT_EQ(ctl_.apply(add_service(k)), 0);
  EXPECT_EQ(ctl_.apply(add_service(k)), EEXIST);
  EXPECT_EQ(ctl_.apply(add_dest(tcp("10.0.0.2", 80), "1.2.3.4", 80)), ESRCH);
  ASSERT_EQ(ctl_.apply(add_dest(k, "1.2.3.4", 80)), 0);
  EXPECT_EQ(ctl_.apply(add_dest(k, "1.2.3.4", 80)), EEXIST);
  EXPECT_EQ(ctl_.apply(add_dest(k, "224.0.0.5", 80)), EINVAL);
  EXPECT_EQ(ctl_.apply(add_dest(k, "0.0.0.0", 80)), EINVAL);
  Command neg = add_dest(k, "1.2.3.5", 80);
  neg.dest.weight = -1;
  EXPECT_EQ(ctl_.apply(neg), ERANGE);
  Command thr = add_dest(k, "1.2.3.5", 80);
  thr.dest.u_threshold = 10;
  thr.dest.l_threshold = 20;
  EXPECT_EQ(ctl_.apply(thr), ERANGE);
  Command gue = add_dest(k, "1.2.3.5", 80, Fwd::kTunnel);
  gue.dest.tun_type = TunType::kGue;
  EXPECT_EQ(ctl_.apply(gue), EINVAL);
  Command edit = add_dest(k, "9.9.9.9", 80);
  edit.kind = CommandKind::kEditDest;
  EXPECT_EQ(ctl_.apply(edit), ENOENT);
  edit.kind = CommandKind::kDelDest;
  EXPECT_EQ(ctl_.apply(edit), ENOENT);
  Command del;
  del.kind = CommandKind::kDelService;
  del.svc.key = tcp("10.0.0.9", 80);
  EXPECT_EQ(ctl_.apply(del), ESRCH);
  // Nothing above changed the table.
  TableView t = ctl_.table();
  ASSERT_EQ(t.services.size(), 1u);
  EXPECT_EQ(t.services[0].dests.size(), 1u);
}

TEST_F(ControlTest, Ipv6PrefixChecked) {
  Command c;
  c.kind = CommandKind::kAddService;
  c.svc.key.af = AF_INET6;
  c.svc.key.addr = *InetAddr::parse("2001:db8::1");
  c.svc.key.port = 80;
  c.svc.netmask = 129;
  EXPECT_EQ(ctl_.apply(c), EINVAL);
  c.svc.netmask = 64;
  EXPECT_EQ(ctl_.apply(c), 0);
}

TEST_F(ControlTest, EditKeepsDestsAndReplacesDefinition) {
  auto k = tcp("10.0.0.1", 80);
  Command a = add_service(k, "sh");
  a.svc.flags = kSvcPersistent | kSvcSched2;
  a.svc.timeout = 600;
  ASSERT_EQ(ctl_.apply(a), 0);
  ASSERT_EQ(ctl_.apply(add_dest(k, "1.2.3.4", 80)), 0);
  Command e = add_service(k, "rr");
  e.kind = CommandKind::kEditService;
  ASSERT_EQ(ctl_.apply(e), 0);
  TableView t = ctl_.table();
  EXPECT_EQ(t.services[0].cfg.sched_name, "rr");
  EXPECT_EQ(t.services[0].cfg.flags, 0u);
  EXPECT_EQ(t.services[0].cfg.timeout, 0u);
  EXPECT_EQ(t.services[0].dests.size(), 1u);
}

TEST_F(ControlTest, SnapshotsAreImmutable) {
  auto k = tcp("10.0.0.1", 80);
  ASSERT_EQ(ctl_.apply(add_service(k)), 0);
  auto before = ctl_.snapshot();
  ASSERT_EQ(ctl_.apply(add_dest(k, "1.2.3.4", 80)), 0);
  EXPECT_TRUE(before->services[0]->dests.empty());
  EXPECT_EQ(ctl_.snapshot()->services[0]->dests.size(), 1u);
}

TEST_F(ControlTest, SetTimeoutsZeroMeansUnchanged) {
  Command s;
  s.kind = CommandKind::kSetTimeout;
  s.timeouts = Timeouts{0, 60, 0};
  ASSERT_EQ(ctl_.apply(s), 0);
  Timeouts t = ctl_.table().timeouts;
  EXPECT_EQ(t.tcp, 900);
  EXPECT_EQ(t.tcp_fin, 60);
  EXPECT_EQ(t.udp, 300);
}

TEST_F(ControlTest, LocalAddresses) {
  auto k = tcp("192.168.58.200", 80);
  ASSERT_EQ(ctl_.apply(add_service(k, "wrr")), 0);
  Command p;
  p.kind = CommandKind::kAddLaddr;
  p.svc.key = k;
  p.laddr = *InetAddr::parse("192.168.58.100");
  EXPECT_EQ(ctl_.apply(p), 0);
  EXPECT_EQ(ctl_.apply(p), EEXIST);
  p.laddr = *InetAddr::parse("2001:db8::1");
  EXPECT_EQ(ctl_.apply(p), EINVAL);
  p.kind = CommandKind::kDelLaddr;
  p.laddr = *InetAddr::parse("192.168.58.101");
  EXPECT_EQ(ctl_.apply(p), ENOENT);
  EXPECT_EQ(ctl_.table().services[0].laddrs.size(), 1u);
}

TEST_F(ControlTest, DaemonsMasterFirstAndOnceEach) {
  Command d;
  d.kind = CommandKind::kStartDaemon;
  d.daemon.state = kDaemonBackup;
  d.daemon.mcast_ifn = "lo";
  ASSERT_EQ(ctl_.apply(d), 0);
  EXPECT_EQ(ctl_.apply(d), EEXIST);
  d.daemon.state = kDaemonMaster;
  ASSERT_EQ(ctl_.apply(d), 0);
  auto daemons = ctl_.table().daemons;
  ASSERT_EQ(daemons.size(), 2u);
  EXPECT_EQ(daemons[0].state, kDaemonMaster);
  EXPECT_EQ(daemons[0].sync_maxlen, 1472);
  EXPECT_EQ(daemons[0].mcast_port, 8848);
  d.daemon.mcast_ifn = "nosuchif0";
  d.daemon.state = kDaemonMaster;
  Command stop;
  stop.kind = CommandKind::kStopDaemon;
  stop.daemon.state = kDaemonMaster;
  ASSERT_EQ(ctl_.apply(stop), 0);
  EXPECT_EQ(ctl_.apply(stop), ESRCH);
  EXPECT_EQ(ctl_.apply(d), ENODEV);
}

TEST_F(ControlTest, DeletedDestRevivesFromTheTrashWithItsCounters) {
  auto k = tcp("10.0.0.1", 80);
  ASSERT_EQ(ctl_.apply(add_service(k, "rr")), 0);
  ASSERT_EQ(ctl_.apply(add_dest(k, "1.2.3.4", 80)), 0);
  auto rs = ctl_.snapshot()->services[0]->dests[0].rs;
  rs->counters().worker(0).add_in(1500);
  Command del = add_dest(k, "1.2.3.4", 80);
  del.kind = CommandKind::kDelDest;
  ASSERT_EQ(ctl_.apply(del), 0);
  EXPECT_FALSE(rs->available());
  ASSERT_EQ(ctl_.apply(add_dest(k, "1.2.3.4", 80)), 0);
  EXPECT_EQ(ctl_.snapshot()->services[0]->dests[0].rs, rs);
  EXPECT_TRUE(rs->available());
  EXPECT_EQ(ctl_.table().services[0].dests[0].stats.inbytes, 1500u);
  // A different service with the same real server starts fresh.
  auto k2 = tcp("10.0.0.2", 80);
  ASSERT_EQ(ctl_.apply(add_service(k2, "rr")), 0);
  ASSERT_EQ(ctl_.apply(add_dest(k2, "1.2.3.4", 80)), 0);
  EXPECT_NE(ctl_.snapshot()->services[1]->dests[0].rs, rs);
}

TEST_F(ControlTest, SchedulerViewFollowsTheTable) {
  auto k = tcp("10.0.0.1", 80);
  ASSERT_EQ(ctl_.apply(add_service(k, "rr")), 0);
  for (const char* ip : {"10.1.0.1", "10.1.0.2", "10.1.0.3"})
    ASSERT_EQ(ctl_.apply(add_dest(k, ip, 80)), 0);
  auto view = ctl_.snapshot()->services[0]->sched->view();
  sched::PacketKey key;
  std::string seq;
  for (int i = 0; i < 4; ++i)
    seq += view->schedule(0, key, sched::Nanos{0})->key().addr.to_string() + " ";
  // Newest first: rr after adding A, B, C goes C, B, A, C.
  EXPECT_EQ(seq, "10.1.0.3 10.1.0.2 10.1.0.1 10.1.0.3 ");
  // -E to wrr rebinds; listing shows the new name.
  Command e = add_service(k, "wrr");
  e.kind = CommandKind::kEditService;
  ASSERT_EQ(ctl_.apply(e), 0);
  EXPECT_EQ(ctl_.snapshot()->services[0]->sched->scheduler().name(), "wrr");
  EXPECT_EQ(ctl_.table().services[0].cfg.sched_name, "wrr");
}

}  // namespace
}  // namespace uvs::ctl
