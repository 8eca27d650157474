#include "ctl/control.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cerrno>
#include <map>
#include <random>
#include <set>
#include <string>

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


// The data plane refuses a change (a full map): the command fails with its errno and the table,
// the workers' snapshot and the scheduler are as before (issue 11, defect 1).
TEST_F(ControlTest, AChangeTheDataPlaneRefusesLeavesTheTableUnchanged) {
  auto k = tcp("10.0.0.1", 80);
  ASSERT_EQ(ctl_.apply(add_service(k, "rr")), 0);
  ASSERT_EQ(ctl_.apply(add_dest(k, "1.2.3.4", 80)), 0);
  size_t room = 2;  // NAT real servers the "maps" take
  std::vector<ConfigDelta> seen;
  ASSERT_EQ(ctl_.set_config_listener([&](const ConfigDelta& d) {
    seen.push_back(d);
    if (d.dests_added.size() > d.dests_removed.size() + room) return ENOMEM;
    room -= d.dests_added.size() - d.dests_removed.size();
    return 0;
  }), 0);
  // The first call: the whole table, as additions.
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].services_added.size(), 1u);
  EXPECT_EQ(seen[0].dests_added.size(), 1u);
  ASSERT_EQ(ctl_.apply(add_dest(k, "1.2.3.5", 80)), 0);
  const uint64_t generation = ctl_.data_plane().current()->generation();
  EXPECT_EQ(ctl_.apply(add_dest(k, "1.2.3.6", 80)), ENOMEM);
  TableView t = ctl_.table();
  ASSERT_EQ(t.services[0].dests.size(), 2u);
  EXPECT_EQ(t.services[0].dests[0].cfg.key.addr.to_string(), "1.2.3.5");
  EXPECT_EQ(ctl_.data_plane().current()->generation(), generation);
  EXPECT_EQ(ctl_.snapshot()->services[0]->sched->dests().size(), 2u);
  // A new service the maps cannot take is refused the same way.
  int services_room = 1;  // the one there is
  ASSERT_EQ(ctl_.set_config_listener([&](const ConfigDelta& d) {
    if (static_cast<int>(d.services_added.size()) > services_room) return ENOMEM;
    services_room -= static_cast<int>(d.services_added.size());
    return 0;
  }), 0);
  EXPECT_EQ(ctl_.apply(add_service(tcp("10.0.0.2", 80))), ENOMEM);
  EXPECT_EQ(ctl_.table().services.size(), 1u);
  EXPECT_EQ(ctl_.data_plane().current()->find_key(tcp("10.0.0.2", 80)), nullptr);
  // Removals are never refused: deleting works with the maps full.
  Command del = add_dest(k, "1.2.3.5", 80);
  del.kind = CommandKind::kDelDest;
  EXPECT_EQ(ctl_.apply(del), 0);
  Command d;
  d.kind = CommandKind::kDelService;
  d.svc.key = k;
  EXPECT_EQ(ctl_.apply(d), 0);
  EXPECT_TRUE(ctl_.table().services.empty());
}

// What the listener hears: real servers count while in a service or in the trash.
TEST_F(ControlTest, DeltasFollowRealServersThroughTheTrash) {
  auto k = tcp("10.0.0.1", 80);
  ASSERT_EQ(ctl_.apply(add_service(k, "rr")), 0);
  std::vector<ConfigDelta> seen;
  ctl_.set_config_listener([&](const ConfigDelta& d) {
    seen.push_back(d);
    return 0;
  });
  seen.clear();
  ASSERT_EQ(ctl_.apply(add_dest(k, "1.2.3.4", 80)), 0);
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].dests_added.size(), 1u);
  Command del = add_dest(k, "1.2.3.4", 80);
  del.kind = CommandKind::kDelDest;
  ASSERT_EQ(ctl_.apply(del), 0);
  EXPECT_EQ(seen.size(), 1u);  // to the trash: still referenced
  // Back from the trash as DR: the NAT reference goes, the DR one comes.
  ASSERT_EQ(ctl_.apply(add_dest(k, "1.2.3.4", 80, Fwd::kRoute)), 0);
  ASSERT_EQ(seen.size(), 2u);
  ASSERT_EQ(seen[1].dests_removed.size(), 1u);
  EXPECT_EQ(seen[1].dests_removed[0].second.fwd, Fwd::kMasq);
  ASSERT_EQ(seen[1].dests_added.size(), 1u);
  EXPECT_EQ(seen[1].dests_added[0].second.fwd, Fwd::kRoute);
  // Deleting the service: its key goes; its real server moves to the trash (no dest delta).
  Command ds;
  ds.kind = CommandKind::kDelService;
  ds.svc.key = k;
  ASSERT_EQ(ctl_.apply(ds), 0);
  ASSERT_EQ(seen.size(), 3u);
  EXPECT_EQ(seen[2].services_removed.size(), 1u);
  EXPECT_TRUE(seen[2].dests_removed.empty());
}

// The incremental control plane gives what a rebuild gives: after random commands the worker
// snapshot (built change by change) finds exactly the services a snapshot built from scratch
// finds, with the same scheduler views, and snapshot() copies stay as they were.
TEST_F(ControlTest, IncrementalSnapshotsEqualAFullRebuild) {
  std::mt19937 rng(11);
  std::vector<ServiceKey> keys;
  for (int i = 0; i < 40; ++i) {
    ServiceKey key = tcp(("10.3.0." + std::to_string(i)).c_str(), static_cast<uint16_t>(i % 3 == 0 ? 21 : 80));
    if (i % 7 == 0) key.port = 0;
    if (i % 11 == 0) {
      key = ServiceKey{};
      key.fwmark = static_cast<uint32_t>(i + 1);
    }
    keys.push_back(key);
  }
  auto held = ctl_.snapshot();
  for (int step = 0; step < 3000; ++step) {
    const ServiceKey& k = keys[rng() % keys.size()];
    const std::string ip = "172.16.0." + std::to_string(rng() % 8 + 1);
    Command c;
    switch (rng() % 8) {
      case 0:
        c = add_service(k, "rr");
        break;
      case 1:
        c.kind = CommandKind::kDelService;
        c.svc.key = k;
        break;
      case 2:
      case 3:
        c = add_dest(k, ip.c_str(), 80);
        break;
      case 4:
        c = add_dest(k, ip.c_str(), 80, Fwd::kRoute, static_cast<int>(rng() % 5));
        c.kind = CommandKind::kEditDest;
        break;
      case 5:
        c = add_dest(k, ip.c_str(), 80);
        c.kind = CommandKind::kDelDest;
        break;
      case 6:
        c = add_service(k, rng() % 2 ? "wrr" : "rr");
        c.kind = CommandKind::kEditService;
        break;
      default:
        if (rng() % 50 == 0) c.kind = CommandKind::kFlush;
        else c = add_service(k, "rr");
        break;
    }
    ctl_.apply(c);
  }
  auto config = ctl_.snapshot();
  const dp::Snapshot& inc = *ctl_.data_plane().current();
  std::vector<dp::ServiceEntry> all;
  for (const auto& s : config->services) {
    dp::ServiceEntry e;
    e.cfg = s->cfg;
    e.sched = s->sched->view();
    all.push_back(e);
  }
  dp::Snapshot full(all, Timeouts{}, Sysctls{}, 1);
  EXPECT_EQ(inc.services().size(), config->services.size());
  EXPECT_EQ(static_cast<size_t>(std::distance(inc.services().begin(), inc.services().end())),
            config->services.size());
  for (const auto& s : config->services) {
    const dp::ServiceEntry* e = inc.find_key(s->cfg.key);
    ASSERT_NE(e, nullptr);
    EXPECT_EQ(e->sched, s->sched->view());
    EXPECT_EQ(e->cfg.sched_name, s->cfg.sched_name);
  }
  // Lookups as a packet makes them: every address, port and mark.
  for (int i = 0; i < 40; ++i)
    for (uint16_t port : {0, 20, 21, 80, 81, 2000})
      for (uint32_t mark : {0u, 1u, 12u, 23u, static_cast<uint32_t>(i + 1)}) {
        auto a = *InetAddr::parse("10.3.0." + std::to_string(i));
        const dp::ServiceEntry* x = inc.find(AF_INET, kProtoTcp, a, port, mark);
        const dp::ServiceEntry* y = full.find(AF_INET, kProtoTcp, a, port, mark);
        ASSERT_EQ(x == nullptr, y == nullptr) << i << " " << port << " " << mark;
        if (x) {
          EXPECT_TRUE(x->cfg.key == y->cfg.key);
        }
      }
  // The listing is the table in creation order, as before.
  TableView t = ctl_.table();
  ASSERT_EQ(t.services.size(), config->services.size());
  for (size_t i = 0; i < t.services.size(); ++i) {
    EXPECT_TRUE(t.services[i].cfg.key == config->services[i]->cfg.key);
    EXPECT_EQ(t.services[i].dests.size(), config->services[i]->dests.size());
  }
  EXPECT_TRUE(held->services.empty());
}

// FULLNAT local addresses in the snapshot follow -P/-Q; the list of such services is shared
// between snapshots until one of them changes.
TEST_F(ControlTest, SnapshotLocalAddressesFollowTheirServices) {
  auto k = tcp("10.0.0.1", 80);
  ASSERT_EQ(ctl_.apply(add_service(k, "rr")), 0);
  Command p;
  p.kind = CommandKind::kAddLaddr;
  p.svc.key = k;
  p.laddr = *InetAddr::parse("192.168.58.100");
  ASSERT_EQ(ctl_.apply(p), 0);
  const dp::Snapshot* s1 = ctl_.data_plane().current();
  EXPECT_TRUE(s1->is_local_addr(p.laddr));
  ASSERT_EQ(s1->laddr_services().size(), 1u);
  const auto* list = &s1->laddr_services();
  ASSERT_EQ(ctl_.apply(add_service(tcp("10.0.0.2", 80), "rr")), 0);
  EXPECT_EQ(&ctl_.data_plane().current()->laddr_services(), list);
  p.kind = CommandKind::kDelLaddr;
  ASSERT_EQ(ctl_.apply(p), 0);
  EXPECT_FALSE(ctl_.data_plane().current()->is_local_addr(p.laddr));
  EXPECT_TRUE(ctl_.data_plane().current()->laddr_services().empty());
}


TEST_F(ControlTest, SummaryAndOneServiceListWhatTheTableLists) {
  auto k = tcp("10.0.0.1", 80);
  ASSERT_EQ(ctl_.apply(add_service(k, "rr")), 0);
  ASSERT_EQ(ctl_.apply(add_dest(k, "1.2.3.4", 80)), 0);
  ASSERT_EQ(ctl_.apply(add_service(tcp("10.0.0.2", 80), "wrr")), 0);
  TableView summary = ctl_.summary();
  EXPECT_TRUE(summary.services.empty());
  EXPECT_EQ(summary.conn_tab_size, 4096u);
  EXPECT_EQ(summary.timeouts.tcp, ctl_.table().timeouts.tcp);
  auto one = ctl_.service(k);
  ASSERT_TRUE(one.has_value());
  EXPECT_EQ(one->cfg.sched_name, "rr");
  ASSERT_EQ(one->dests.size(), 1u);
  EXPECT_EQ(one->dests[0].cfg.key.addr.to_string(), "1.2.3.4");
  EXPECT_FALSE(ctl_.service(tcp("10.0.0.3", 80)).has_value());
}

// The data plane runs the sync threads: it hears every start and stop, can refuse a start
// (its socket failed), and hears about daemons configured before it was there.
TEST_F(ControlTest, SyncDaemonsReachTheDaemonListener) {
  Command d;
  d.kind = CommandKind::kStartDaemon;
  d.daemon.state = kDaemonMaster;
  d.daemon.mcast_ifn = "lo";
  ASSERT_EQ(ctl_.apply(d), 0);  // before a listener: configuration only
  std::vector<std::pair<int, bool>> heard;
  int refuse = 0;
  ASSERT_EQ(ctl_.set_daemon_listener([&](const DaemonConfig& c, bool start) {
    heard.emplace_back(c.state, start);
    EXPECT_EQ(c.mcast_port, 8848);  // defaults filled before the listener sees it
    return start ? refuse : 0;
  }), 0);
  ASSERT_EQ(heard, (std::vector<std::pair<int, bool>>{{kDaemonMaster, true}}));
  d.daemon.state = kDaemonBackup;
  refuse = EADDRINUSE;
  EXPECT_EQ(ctl_.apply(d), EADDRINUSE);
  EXPECT_EQ(ctl_.table().daemons.size(), 1u);  // refused: not configured
  refuse = 0;
  EXPECT_EQ(ctl_.apply(d), 0);
  EXPECT_EQ(ctl_.table().daemons.size(), 2u);
  d.kind = CommandKind::kStopDaemon;
  d.daemon.state = kDaemonMaster;
  EXPECT_EQ(ctl_.apply(d), 0);
  EXPECT_EQ(heard.back(), std::make_pair(kDaemonMaster, false));
  EXPECT_EQ(ctl_.apply(d), ESRCH);
  EXPECT_EQ(heard.size(), 4u);
}

// uvsadm --pick runs the published view's scheduler here: the same dest a worker's schedule()
// gets for the same packet, by index in the reply's dest list; refused for schedulers that pick
// by more than the packet, and for clients of the other family.
TEST_F(ControlTest, PickGivesWhatTheWorkersViewSchedules) {
  auto k = tcp("10.0.0.1", 80);
  Command svc = add_service(k, "mh");
  svc.svc.flags = kSvcSched2;  // mh-port
  ASSERT_EQ(ctl_.apply(svc), 0);
  for (const char* ip : {"10.1.0.1", "10.1.0.2", "10.1.0.3", "10.1.0.4"})
    ASSERT_EQ(ctl_.apply(add_dest(k, ip, 8080, Fwd::kMasq, 2)), 0);
  ASSERT_EQ(ctl_.apply(add_dest(k, "10.1.0.5", 8080, Fwd::kMasq, 0)), 0);  // no slots
  std::vector<ClientTuple> clients;
  std::mt19937 rng(3);
  for (int i = 0; i < 5000; ++i)
    clients.push_back(ClientTuple{InetAddr::v4(rng()), static_cast<uint16_t>(rng())});
  PickView out;
  ASSERT_EQ(ctl_.pick(k, clients, out), 0);
  EXPECT_EQ(out.sched_name, "mh");
  ASSERT_EQ(out.dests.size(), 5u);
  ASSERT_EQ(out.picks.size(), clients.size());
  const dp::ServiceEntry* entry = ctl_.data_plane().current()->find_key(k);
  std::map<std::string, int> seen;
  for (size_t i = 0; i < clients.size(); ++i) {
    const sched::PacketKey key{clients[i].addr, k.addr, clients[i].port, kProtoTcp};
    const sched::Dest* d = entry->sched->schedule(0, key, sched::Nanos{0});
    ASSERT_NE(d, nullptr);
    ASSERT_GE(out.picks[i], 0);
    EXPECT_EQ(out.dests[size_t(out.picks[i])], d->key());
    ++seen[d->key().addr.to_string()];
  }
  EXPECT_EQ(seen.size(), 4u);  // the weight-0 server is never picked
  // A server quiesced to 0 keeps its slots: its clients get none ("-").
  Command quiesce = add_dest(k, "10.1.0.2", 8080, Fwd::kMasq, 0);
  quiesce.kind = CommandKind::kEditDest;
  ASSERT_EQ(ctl_.apply(quiesce), 0);
  ASSERT_EQ(ctl_.pick(k, clients, out), 0);
  const long none = std::count(out.picks.begin(), out.picks.end(), -1);
  EXPECT_NEAR(none / double(clients.size()), 0.25, 0.03);

  // Refusals change nothing and say why.
  EXPECT_EQ(ctl_.pick(tcp("10.0.0.9", 80), clients, out), ESRCH);
  std::vector<ClientTuple> v6 = {ClientTuple{*InetAddr::parse("2001:db8::1"), 1}};
  EXPECT_EQ(ctl_.pick(k, v6, out), EINVAL);
  auto rr = tcp("10.0.0.2", 80);
  ASSERT_EQ(ctl_.apply(add_service(rr, "rr")), 0);
  out = PickView{};
  EXPECT_EQ(ctl_.pick(rr, clients, out), EOPNOTSUPP);
  EXPECT_EQ(out.sched_name, "rr");
  EXPECT_TRUE(out.picks.empty());
  ServiceKey mark;
  mark.fwmark = 5;
  ASSERT_EQ(ctl_.apply(add_service(mark, "dh")), 0);
  EXPECT_EQ(ctl_.pick(mark, clients, out), EOPNOTSUPP);
  EXPECT_EQ(out.sched_name, "dh");
  // sh and dh on an address service are asked like mh: dh hashes the VIP, so one server.
  Command dh = add_service(rr, "dh");
  dh.kind = CommandKind::kEditService;
  ASSERT_EQ(ctl_.apply(dh), 0);
  for (const char* ip : {"10.2.0.1", "10.2.0.2", "10.2.0.3"})
    ASSERT_EQ(ctl_.apply(add_dest(rr, ip, 80)), 0);
  ASSERT_EQ(ctl_.pick(rr, clients, out), 0);
  EXPECT_EQ(std::count(out.picks.begin(), out.picks.end(), out.picks[0]), long(clients.size()));
}

}  // namespace
}  // namespace uvs::ctl
