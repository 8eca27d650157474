// Connection sync between two directors: the lab's uvsd is the master; a second uvsd, the
// backup, sits in a namespace of its own joined to the director by a dedicated sync link, with
// the same virtual service. What the master's clients open, the backup must hold: same
// client, virtual address, real server and state, with the fast path on and off.
#include <gtest/gtest.h>

#include <map>
#include <regex>

#include "tests/netns/netns_lab.h"
#include "tests/netns/two_directors_lab.h"

namespace uvs::testing::netns {
namespace {

// One UDP socket (one connection for the directors) sending a numbered datagram every 20 ms for
// SECONDS and taking the echoes as they come; prints "sent=N ok=N last2s=N servers=s1[,s2]"
// (last2s: echoes of the run's last two seconds, after any failover).
constexpr const char* kUdpStream = R"PY(
import socket, struct, sys, time
host, port, seconds = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.connect((host, port))
s.setblocking(False)
sent, ok, late, servers = 0, set(), 0, set()
start = time.monotonic()
end = start + seconds
while time.monotonic() < end:
    s.send(struct.pack('!I', sent) + b'x' * 60)
    sent += 1
    t = time.monotonic() + 0.02
    while time.monotonic() < t:
        try:
            name, _, body = s.recv(2048).partition(b' ')
        except BlockingIOError:
            time.sleep(0.002)
            continue
        n = struct.unpack('!I', body[:4])[0]
        if n not in ok:
            ok.add(n)
            servers.add(name.decode())
            if time.monotonic() > end - 2: late += 1
print('sent=%d ok=%d last2s=%d servers=%s' % (sent, len(ok), late, ','.join(sorted(servers))), flush=True)
)PY";

class SyncTest : public LabTest {
 protected:
  // The backup: namespace ${P}s99 (so that `scripts/lab down` takes it and its processes),
  // veth sy0 (director) - sy1 (backup), uvsd on sy1 with its own socket.
  void start_backup() {
    backup_ns_ = lab_->prefix() + "s99";
    const std::string d = lab_->director();
    for (const std::vector<std::string>& argv : std::vector<std::vector<std::string>>{
             {kIp, "netns", "add", backup_ns_},
             {kIp, "-n", d, "link", "add", "sy0", "type", "veth", "peer", "name", "sy1", "netns",
              backup_ns_},
             {kIp, "-n", d, "addr", "add", "10.250.0.1/24", "dev", "sy0"},
             {kIp, "-n", backup_ns_, "addr", "add", "10.250.0.2/24", "dev", "sy1"},
             {kIp, "-n", d, "link", "set", "sy0", "up"},
             {kIp, "-n", backup_ns_, "link", "set", "sy1", "up"},
             {kIp, "-n", backup_ns_, "link", "set", "lo", "up"}}) {
      RunResult r = run(argv);
      ASSERT_EQ(r.status, 0) << join(argv) << ": " << r.err;
    }
    backup_sock_ = lab_->tmp("backup.sock");
    backup_ = &spawn(backup_ns_,
                     {build_path("uvsd"), "--socket", backup_sock_, "--conn-max", "65536",
                      "--interface", "sy1"},
                     "backup-uvsd");
    ASSERT_TRUE(wait_until([&] { return std::filesystem::exists(backup_sock_); }, 15s, 50ms))
        << backup_->log();
  }
  RunResult backup_adm(const std::vector<std::string>& args) {
    std::vector<std::string> argv = {build_path("uvsadm"), "--socket", backup_sock_};
    argv.insert(argv.end(), args.begin(), args.end());
    return run(argv, "", 20s);
  }
  bool backup_ok(const std::vector<std::string>& args) {
    RunResult r = backup_adm(args);
    EXPECT_EQ(r.status, 0) << join(args) << ": " << r.err << backup_->log();
    return r.status == 0;
  }
  // The same service on both directors.
  void configure(const std::string& vip) {
    for (bool on_backup : {false, true}) {
      auto ok = [&](const std::vector<std::string>& a) { return on_backup ? backup_ok(a) : adm(a); };
      ASSERT_TRUE(ok({"-A", "-t", vip + ":80", "-s", "rr"}));
      for (int k = 1; k <= 2; ++k)
        ASSERT_TRUE(ok({"-a", "-t", vip + ":80", "-r", Lab::server_v4(k) + ":8000", "-m"}));
    }
  }
  // -Lnc rows by client address:port.
  static std::map<std::string, ConnRow> by_source(const std::string& listing) {
    std::map<std::string, ConnRow> rows;
    for (const ConnRow& c : parse_conns(listing)) rows[c.source] = c;
    return rows;
  }

  void established_connections_reach_the_backup(bool offload) {
    std::vector<std::string> args;
    if (offload) args.push_back("--offload");
    ASSERT_NO_FATAL_FAILURE(start_lab(2, args));
    if (offload) {
      ASSERT_NO_FATAL_FAILURE(attach_peer_xdp());
    }
    ASSERT_NO_FATAL_FAILURE(start_backup());
    const std::string vip = "192.168.56.102";
    ASSERT_NO_FATAL_FAILURE(configure(vip));
    ASSERT_TRUE(backup_ok({"--start-daemon", "backup", "--mcast-interface", "sy1"}));
    ASSERT_TRUE(adm({"--start-daemon", "master", "--mcast-interface", "sy0"}));
    ASSERT_EQ(lab_->exec(lab_->client(),
                         {"/usr/sbin/sysctl", "-qw", "net.ipv4.tcp_rmem=4096 65536 131072"})
                  .status,
              0);
    // Four downloads paced to last: ESTABLISHED on the master while the backup is read.
    constexpr int kStreams = 4;
    for (int i = 0; i < kStreams; ++i)
      spawn(lab_->client(),
            {"/usr/bin/curl", "-sS", "--max-time", "30", "--limit-rate", "1M", "-o",
             lab_->tmp("dl" + std::to_string(i)), http_url(vip, 80, "/10m.bin")},
            "dl" + std::to_string(i));
    std::map<std::string, ConnRow> master, backup;
    const bool synced = wait_until(
        [&] {
          master = by_source(director_->adm({"-Lnc"}).out);
          backup = by_source(backup_adm({"-Lnc"}).out);
          int matched = 0;
          for (const auto& [source, m] : master) {
            auto it = backup.find(source);
            if (m.state == "ESTABLISHED" && it != backup.end() && it->second.state == m.state &&
                it->second.virt == m.virt && it->second.dest == m.dest)
              ++matched;
          }
          return matched == kStreams;
        },
        10s, 200ms);
    EXPECT_TRUE(synced) << "master:\n"
                        << director_->adm({"-Lnc"}).out << "backup:\n"
                        << backup_adm({"-Lnc"}).out << backup_->log();
    // The backup counts them on its real servers as the master does.
    Table t = parse_table(backup_adm({"-Ln"}).out, false);
    const ServiceRow* svc = t.service("TCP", vip + ":80");
    ASSERT_NE(svc, nullptr) << backup_adm({"-Ln"}).out;
    int active = 0;
    for (int k = 1; k <= 2; ++k)
      if (const DestRow* d = svc->dest(Lab::server_v4(k) + ":8000")) active += d->active;
    EXPECT_EQ(active, kStreams) << backup_adm({"-Ln"}).out;
  }

  std::string backup_ns_, backup_sock_, b_sock_;
  Process* backup_ = nullptr;
};

TEST_F(SyncTest, ABackupHoldsTheMastersEstablishedConnections) {
  established_connections_reach_the_backup(/*offload=*/false);
}

TEST_F(SyncTest, ABackupHoldsOffloadedConnectionsToo) {
  established_connections_reach_the_backup(/*offload=*/true);
}

// The failover itself: two directors on the same client and real-server segments, syncing over
// the real-server segment that both also forward on. Twenty paced downloads run through
// director A (which holds both gateway addresses); A's uvsd is killed with SIGKILL and its links
// go down; the gateways move to B with gratuitous ARP, as keepalived would move them. Every
// download finishes, byte for byte, through B.
enum class Method { kNat, kFullNat, kDr };

class SyncFailoverTest : public SyncTest, public ::testing::WithParamInterface<Method> {
 protected:
  RunResult b_adm(const std::vector<std::string>& args) {
    std::vector<std::string> argv = {build_path("uvsadm"), "--socket", b_sock_};
    argv.insert(argv.end(), args.begin(), args.end());
    return run(argv, "", 20s);
  }
  void take_gateways(const std::string& ns) {
    for (const auto& [addr, dev] : {std::pair{"10.99.1.1/24", "d0"}, {"172.17.0.1/16", "d1"}}) {
      RunResult r = lab_->exec(ns, {kIp, "addr", "add", addr, "dev", dev});
      ASSERT_EQ(r.status, 0) << ns << " " << addr << ": " << r.err;
      const std::string ip = std::string(addr).substr(0, std::string(addr).find('/'));
      r = lab_->exec(ns, {"/usr/bin/python3", "-c", kGratuitousArp, dev, ip});
      ASSERT_EQ(r.status, 0) << r.err;
    }
  }
};

TEST_P(SyncFailoverTest, EveryStreamSurvivesTheMastersDeath) {
  const Method method = GetParam();
  ASSERT_NO_FATAL_FAILURE(start_shaped_lab(2, kTwoDirectorsLab, {"d0", "d1"}));
  const std::string b = lab_->prefix() + "s9";
  b_sock_ = lab_->tmp("b.sock");
  Process& uvsd_b = spawn(b,
                          {build_path("uvsd"), "--socket", b_sock_, "--conn-max", "65536",
                           "--interface", "d0", "--interface", "d1"},
                          "uvsd-b");
  ASSERT_TRUE(wait_until([&] { return std::filesystem::exists(b_sock_); }, 15s, 50ms))
      << uvsd_b.log();
  const std::string vip = "192.168.56.102";
  // FULLNAT: one local address on both directors (the real servers reach it through the
  // gateway, so it follows the gateway); DR: the real servers hold the VIP.
  const std::string laddr = "192.168.58.100";
  std::vector<std::string> forward = {"-m"};
  if (method == Method::kFullNat) forward = {"-b"};
  if (method == Method::kDr) {
    forward = {"-g"};
    for (int k = 1; k <= 2; ++k) {
      std::vector<std::string> argv = {source_path("scripts/realserver"), "dr", vip, "--netns",
                                       lab_->server(k)};
      RunResult r = run(argv);
      ASSERT_EQ(r.status, 0) << describe(argv, r);
    }
  }
  const std::string rs_port = method == Method::kDr ? "80" : "8000";
  for (bool on_b : {false, true}) {
    auto ok = [&](const std::vector<std::string>& a) {
      if (!on_b) return adm(a);
      RunResult r = b_adm(a);
      EXPECT_EQ(r.status, 0) << join(a) << ": " << r.err;
      return r.status == 0;
    };
    ASSERT_TRUE(ok({"-A", "-t", vip + ":80", "-s", "rr"}));
    for (int k = 1; k <= 2; ++k) {
      std::vector<std::string> args = {"-a", "-t", vip + ":80", "-r",
                                       Lab::server_v4(k) + ":" + rs_port};
      args.insert(args.end(), forward.begin(), forward.end());
      ASSERT_TRUE(ok(args));
    }
    ASSERT_TRUE(ok({"-A", "-u", vip + ":7000", "-s", "rr"}));
    for (int k = 1; k <= 2; ++k) {
      std::vector<std::string> args = {"-a", "-u", vip + ":7000", "-r",
                                       Lab::server_v4(k) + ":7000"};
      args.insert(args.end(), forward.begin(), forward.end());
      ASSERT_TRUE(ok(args));
    }
    if (method == Method::kFullNat) {
      ASSERT_TRUE(ok({"-P", "-t", vip + ":80", "-z", laddr}));
      ASSERT_TRUE(ok({"-P", "-u", vip + ":7000", "-z", laddr}));
    }
  }
  for (int k = 1; k <= 2; ++k)  // DR: the echo must come from the VIP the server holds
    start_udp_echo(k, method == Method::kDr ? vip : "0.0.0.0", 7000);
  ASSERT_EQ(b_adm({"--start-daemon", "backup", "--mcast-interface", "d1"}).status, 0);
  ASSERT_TRUE(adm({"--start-daemon", "master", "--mcast-interface", "d1"}));
  ASSERT_NO_FATAL_FAILURE(take_gateways(lab_->director()));
  ASSERT_EQ(lab_->exec(lab_->client(),
                       {"/usr/sbin/sysctl", "-qw", "net.ipv4.tcp_rmem=4096 65536 131072"})
                .status,
            0);

  constexpr int kStreams = 20;
  std::vector<Process*> streams;
  for (int i = 0; i < kStreams; ++i)
    streams.push_back(&spawn(lab_->client(),
                             {"/usr/bin/curl", "-sS", "--max-time", "60", "--limit-rate", "1M",
                              "-o", lab_->tmp("dl" + std::to_string(i)),
                              http_url(vip, 80, "/10m.bin")},
                             "dl" + std::to_string(i)));
  Process& udp = spawn(lab_->client(), {"/usr/bin/python3", "-c", kUdpStream, vip, "7000", "9"},
                       "udp-stream");
  // B holds every stream before A goes.
  ASSERT_TRUE(wait_until(
      [&] {
        int established = 0;
        bool udp_synced = false;
        for (const ConnRow& c : parse_conns(b_adm({"-Lnc"}).out)) {
          established += c.state == "ESTABLISHED";
          udp_synced |= c.proto == "UDP";
        }
        return established == kStreams && udp_synced;
      },
      10s, 200ms))
      << "backup:\n" << b_adm({"-Lnc"}).out << "master:\n" << director_->adm({"-Lnc"}).out;
  std::this_thread::sleep_for(1s);

  // A dies: uvsd killed, links down; B takes the gateways.
  ASSERT_EQ(::kill(director_->pid(), SIGKILL), 0);
  for (const char* dev : {"d0", "d1"})
    ASSERT_EQ(lab_->exec(lab_->director(), {kIp, "link", "set", dev, "down"}).status, 0);
  auto b_in_pkts = [&] {
    Table t = parse_table(b_adm({"-Ln", "--stats", "--exact"}).out, true);
    const ServiceRow* svc = t.service("TCP", vip + ":80");
    return svc ? svc->in_pkts : -1;
  };
  const long before = b_in_pkts();
  const auto moved = std::chrono::steady_clock::now();
  ASSERT_NO_FATAL_FAILURE(take_gateways(b));
  // The failover's figure: from the gateways' move to the first packet B forwards (to 10 ms).
  EXPECT_TRUE(wait_until([&] { return b_in_pkts() > before; }, 10s, 10ms));
  std::cout << "[ figure ] failover: B forwarded its first packet "
            << std::chrono::duration_cast<std::chrono::milliseconds>(
                   std::chrono::steady_clock::now() - moved)
                   .count()
            << " ms after the gateways moved (gratuitous ARP included)\n";

  for (int i = 0; i < kStreams; ++i) {
    EXPECT_EQ(streams[i]->wait(60s), std::optional<int>(0))
        << "stream " << i << ": " << streams[i]->log();
    EXPECT_NE(which_server_file(lab_->tmp("dl" + std::to_string(i))), 0)
        << "stream " << i << " is not a server's file, byte for byte";
  }
  // The UDP stream kept its real server (B had its connection) and lost only what was sent
  // while the gateways moved.
  ASSERT_EQ(udp.wait(30s), std::optional<int>(0)) << udp.log();
  std::smatch m;
  const std::string out = udp.log();
  ASSERT_TRUE(std::regex_search(out, m, std::regex(R"(sent=(\d+) ok=(\d+) last2s=(\d+) servers=(\S+))")))
      << out;
  const long sent = std::stol(m[1]), echoed = std::stol(m[2]), late = std::stol(m[3]);
  std::cout << "[ figure ] failover: UDP stream " << echoed << " of " << sent << " echoed, "
            << sent - echoed << " lost\n";
  EXPECT_EQ(m[4].str().find(','), std::string::npos) << "the UDP stream changed real server: " << out;
  EXPECT_GE(echoed, sent - 50) << out;  // at most a second's worth
  EXPECT_GT(late, 50) << out;           // and flowing through B at the end
  EXPECT_TRUE(uvsd_b.running()) << uvsd_b.log();
}

INSTANTIATE_TEST_SUITE_P(Methods, SyncFailoverTest,
                         ::testing::Values(Method::kNat, Method::kFullNat, Method::kDr),
                         [](const ::testing::TestParamInfo<Method>& i) {
                           return i.param == Method::kNat       ? std::string("Nat")
                                  : i.param == Method::kFullNat ? std::string("FullNat")
                                                                : std::string("Dr");
                         });

}  // namespace
}  // namespace uvs::testing::netns
