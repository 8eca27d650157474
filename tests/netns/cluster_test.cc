// A cluster of uvs directors behind an ECMP router (scripts/cluster): the routing daemons the
// operators run (FRR's ospfd and bgpd, BIRD) announce the VIP from every healthy director, the
// router spreads flows over them by an L4 hash, every director picks the same real server (mh)
// and holds every connection (sync, master and backup at once). What a director's loss, a
// join and a drain must not break: 30 long downloads byte-compared, short requests.
#include <gtest/gtest.h>

#include <filesystem>
#include <regex>

#include "tests/netns/netns_lab.h"

namespace uvs::testing::netns {
namespace {

constexpr const char* kVip = "10.200.0.1";

// Short HTTP requests, one connection each, for SECONDS: prints "requests=N failed=N
// slowest=S" and the wall-clock start (epoch seconds) of every failed one: "fail T why".
constexpr const char* kShortRequests = R"PY(
import socket, sys, time
host, port, seconds = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
end = time.monotonic() + seconds
n, fails, slowest = 0, [], 0.0
while time.monotonic() < end:
    t, t0 = time.time(), time.monotonic()
    why = ''
    try:
        s = socket.create_connection((host, port), timeout=4)
        s.sendall(b'GET / HTTP/1.0\r\nHost: vip\r\n\r\n')
        data = b''
        while True:
            b = s.recv(4096)
            if not b: break
            data += b
        s.close()
        if not data.startswith(b'HTTP/1.1 200'): why = 'answer %r' % data[:40]
    except OSError as e:
        why = str(e)
    slowest = max(slowest, time.monotonic() - t0)
    if why: fails.append((t, why))
    n += 1
    time.sleep(0.02)
print('requests=%d failed=%d slowest=%.3f' % (n, len(fails), slowest))
for t, why in fails: print('fail %.3f %s' % (t, why))
)PY";

enum class Loss { kSigkill, kLinkDown };

struct ClusterCase {
  const char* routing;  // scripts/cluster --routing
  const char* method;   // --method
  Loss loss;
};

// PID runs: /proc has it and it is not a zombie (uvsd's parent, a script's shell, is gone).
bool alive(const std::string& pid) {
  const std::string stat = read_file("/proc/" + pid + "/stat", 4096);
  const size_t paren = stat.rfind(')');
  return paren != std::string::npos && paren + 2 < stat.size() && stat[paren + 2] != 'Z';
}

double epoch_now() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

class ClusterTest : public LabTest {
 protected:
  void TearDown() override {
    if (HasFailure() && lab_) {
      std::cerr << "==== cluster " << lab_->prefix() << ": router's route\n" << route() << "\n"
                << lab_->exec(lab_->prefix() + "w",
                              {"/bin/sh", "-c",
                               "for u in /sys/class/net/u*; do echo ${u##*/} sent "
                               "$(cat $u/statistics/tx_packets) packets; done"})
                       .out;
      for (int k = 1; k <= 4; ++k) {
        const std::string dir = run_dir() + "/d" + std::to_string(k);
        if (!std::filesystem::exists(dir)) continue;
        std::cerr << "==== director " << k << "\n"
                  << read_file(dir + "/announce.log", 4096) << read_file(dir + "/uvsd.log", 8192)
                  << adm(k, {"-Ln", "--stats", "--exact"}).out;
      }
    }
    LabTest::TearDown();
  }

  void start_cluster(const std::string& routing, const std::string& method, int directors = 3) {
    const std::string up = "exec " + source_path("scripts/cluster") + " up --prefix \"$1\"" +
                           " --routing " + routing + " --method " + method + " --directors " +
                           std::to_string(directors) + " --build " + UVS_BUILD_DIR +
                           " >/dev/null";
    lab_ = std::make_unique<Lab>(2, up);
    ASSERT_TRUE(lab_->ok()) << lab_->error();
    ASSERT_TRUE(wait_until([&] { return next_hops() == directors; }, 30s, 100ms))
        << "the router has no " << directors << "-way route to the VIP:\n"
        << route();
  }
  std::string run_dir() const { return "/tmp/" + lab_->prefix() + "-run"; }
  std::string director_ns(int k) const { return lab_->prefix() + "s9" + std::to_string(k); }
  RunResult cluster(const std::vector<std::string>& args) {
    std::vector<std::string> argv = {source_path("scripts/cluster")};
    argv.insert(argv.end(), args.begin(), args.end());
    argv.insert(argv.end(), {"--prefix", lab_->prefix(), "--build", UVS_BUILD_DIR});
    return run(argv, "", 60s);
  }
  RunResult adm(int k, const std::vector<std::string>& args) {
    std::vector<std::string> argv = {build_path("uvsadm"), "--socket",
                                     run_dir() + "/d" + std::to_string(k) + "/uvsd.sock"};
    argv.insert(argv.end(), args.begin(), args.end());
    return lab_->exec(director_ns(k), argv, 20s);
  }
  std::string route() {
    return lab_->exec(lab_->prefix() + "w", {kIp, "route", "show", kVip}).out;
  }
  // Next hops of the router's route to the VIP (0: none).
  int next_hops() {
    const std::string r = route();
    if (r.empty()) return 0;
    int n = 0;
    for (const auto& line : split_lines(r))
      if (line.find("nexthop via") != std::string::npos) ++n;
    return n == 0 ? 1 : n;
  }
  // Director K's packets in and out over all its services (-Ln --stats --exact).
  long packets(int k) {
    long n = 0;
    for (const auto& line : split_lines(adm(k, {"-Ln", "--stats", "--exact"}).out)) {
      std::istringstream in(line);
      std::string proto, service;
      long conns = 0, in_pkts = 0, out_pkts = 0;
      if (in >> proto >> service >> conns >> in_pkts >> out_pkts && (proto == "TCP" || proto == "UDP"))
        n += in_pkts + out_pkts;
    }
    return n;
  }

  // N downloads of /10m.bin at RATE each (1M: they last about ten seconds).
  void start_downloads(const std::string& batch, int n, const std::string& rate = "1M") {
    for (int i = 0; i < n; ++i) {
      const std::string name = batch + std::to_string(i);
      spawn(lab_->client(),
            {"/usr/bin/curl", "-sS", "--max-time", "120", "--limit-rate", rate, "-o",
             lab_->tmp(name), http_url(kVip, 80, "/10m.bin")},
            name);
      downloads_.push_back({name, procs_.back().get()});
    }
  }
  // Every download of the batch ended well with the bytes of a server's file.
  void expect_downloads_intact() {
    const std::string s1 = read_file(lab_->server_file(1), 11 << 20);
    const std::string s2 = read_file(lab_->server_file(2), 11 << 20);
    ASSERT_EQ(s1.size(), 10u << 20);
    int intact = 0;
    for (auto& [name, proc] : downloads_) {
      auto status = proc->wait(120s);
      const std::string got = read_file(lab_->tmp(name), 11 << 20);
      const bool ok = status && *status == 0 && (got == s1 || got == s2);
      EXPECT_TRUE(ok) << name << ": exit " << (status ? std::to_string(*status) : "none") << ", "
                      << got.size() << " bytes, " << proc->log();
      intact += ok;
    }
    std::cout << "[ figure ] long downloads intact: " << intact << " of " << downloads_.size()
              << "\n";
    downloads_.clear();
  }
  // Waits until the router's route has N next hops; seconds it took (-1: never).
  double wait_next_hops(int n, std::chrono::seconds timeout = 15s) {
    const auto start = Clock::now();
    if (!wait_until([&] { return next_hops() == n; }, timeout, 20ms)) return -1;
    return std::chrono::duration<double>(Clock::now() - start).count();
  }

  std::vector<std::pair<std::string, Process*>> downloads_;
};

// ---------------------------------------------------------------------------------------------
class ClusterLossTest : public ClusterTest, public ::testing::WithParamInterface<ClusterCase> {};

TEST_P(ClusterLossTest, FlowsSpreadOverThreeDirectorsAndSurviveTheLossOfOne) {
  const ClusterCase& c = GetParam();
  ASSERT_NO_FATAL_FAILURE(start_cluster(c.routing, c.method));

  // 30 long downloads and short requests all along, spread over the three directors.
  start_downloads("long", 30);
  Process& shorts = spawn(lab_->client(),
                          {"/usr/bin/python3", "-c", kShortRequests, kVip, "80", "14"}, "short");
  ASSERT_TRUE(wait_until([&] { return packets(1) > 0 && packets(2) > 0 && packets(3) > 0; }, 10s,
                         200ms))
      << "not every director carries traffic: " << packets(1) << " " << packets(2) << " "
      << packets(3);
  std::this_thread::sleep_for(2s);
  const long before = packets(2);

  // Director 2 goes: its uvsd killed outright (the routing daemon still runs: uvs-announce
  // withdraws the VIP) or its uplink down (the router sees the carrier go).
  const double lost_at = epoch_now();
  if (c.loss == Loss::kSigkill) {
    RunResult r = cluster({"director", "kill", "2"});
    ASSERT_EQ(r.status, 0) << r.err;
  } else {
    RunResult r = lab_->exec(director_ns(2), {kIp, "link", "set", "up0", "down"});
    ASSERT_EQ(r.status, 0) << r.err;
  }
  const double withdrawn = wait_next_hops(2);
  ASSERT_GE(withdrawn, 0) << "the route still has director 2:\n" << route();
  const double converged_at = epoch_now();
  std::cout << "[ figure ] " << c.routing << " " << c.method << ": route withdrawn "
            << static_cast<int>(withdrawn * 1000) << " ms after director 2 "
            << (c.loss == Loss::kSigkill ? "was killed" : "lost its link") << " (" << before
            << " packets through it before)\n";
  EXPECT_EQ(route().find("10.98.2.2"), std::string::npos) << route();

  expect_downloads_intact();
  ASSERT_TRUE(shorts.wait(30s));
  const std::string out = shorts.log();
  std::smatch m;
  ASSERT_TRUE(std::regex_search(out, m, std::regex(R"(requests=(\d+) failed=(\d+) slowest=(\S+))")))
      << out;
  int late_failures = 0;
  for (const auto& line : split_lines(out)) {
    double t = 0;
    if (std::sscanf(line.c_str(), "fail %lf", &t) == 1 && t > converged_at) ++late_failures;
  }
  std::cout << "[ figure ] short requests: " << m[1] << ", failed " << m[2]
            << " (before the route converged), slowest " << m[3] << " s; loss at "
            << std::fixed << lost_at << "\n";
  EXPECT_GT(std::stoi(m[1]), 50) << out;
  EXPECT_EQ(late_failures, 0) << "requests failed after the route converged:\n" << out;
}

INSTANTIATE_TEST_SUITE_P(
    Cluster, ClusterLossTest,
    ::testing::Values(ClusterCase{"frr-ospf", "dr", Loss::kSigkill},
                      ClusterCase{"frr-bgp", "fullnat", Loss::kLinkDown},
                      ClusterCase{"bird-ospf", "tun", Loss::kSigkill}),
    [](const ::testing::TestParamInfo<ClusterCase>& info) {
      std::string name = std::string(info.param.routing) + "_" + info.param.method + "_" +
                         (info.param.loss == Loss::kSigkill ? "sigkill" : "linkdown");
      for (char& ch : name)
        if (ch == '-') ch = '_';
      return name;
    });

// ---------------------------------------------------------------------------------------------
// A director back after a crash, and a fourth one: the router rehashes flows onto them mid-way,
// and they carry them on with what sync taught them.
class ClusterJoinTest : public ClusterTest {
 protected:
  void flows_moved_to_a_returning_and_a_fourth_director_keep_working(const std::string& method) {
    ASSERT_NO_FATAL_FAILURE(start_cluster("frr-ospf", method));
    ASSERT_EQ(cluster({"director", "kill", "2"}).status, 0);
    ASSERT_GE(wait_next_hops(2), 0) << route();

    // Forty seconds: starting the two directors takes 10-15 s of it here.
    start_downloads("moved", 30, "256K");
    const auto started = Clock::now();
    auto since = [&] {
      return std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(
                                Clock::now() - started)
                                .count()) +
             " ms";
    };
    ASSERT_TRUE(wait_until([&] { return packets(1) > 0 && packets(3) > 0; }, 10s, 200ms));
    std::this_thread::sleep_for(2s);
    RunResult r = cluster({"director", "start", "2"});
    ASSERT_EQ(r.status, 0) << r.err << r.out;
    r = cluster({"director", "add", "4"});
    ASSERT_EQ(r.status, 0) << r.err << r.out;
    const double joined = wait_next_hops(4, 20s);
    ASSERT_GE(joined, 0) << route();
    std::cout << "[ figure ] 4-way route " << static_cast<int>(joined * 1000)
              << " ms after the two directors started (" << since() << " into the downloads)\n";
    // The flows the router moves to them go on there.
    ASSERT_TRUE(wait_until([&] { return packets(2) > 0 && packets(4) > 0; }, 10s, 200ms))
        << "director 2: " << packets(2) << " packets, director 4: " << packets(4) << " at "
        << since();
    expect_downloads_intact();
  }
};

TEST_F(ClusterJoinTest, DrFlowsMovedToAReturningAndAFourthDirectorKeepWorking) {
  flows_moved_to_a_returning_and_a_fourth_director_keep_working("dr");
}

TEST_F(ClusterJoinTest, FullNatFlowsMovedToAReturningAndAFourthDirectorKeepWorking) {
  UVS_KNOWN_BUG(
      "FULLNAT: about 2 of 30 flows that the router moves to a joining director stall there: "
      "the joiner never receives their connection (no entry in its -Lnc), although the others "
      "hold it; DR is covered by sloppy_tcp and mh");
  flows_moved_to_a_returning_and_a_fourth_director_keep_working("fullnat");
}

// ---------------------------------------------------------------------------------------------
// uvs-announce drain: the VIP is withdrawn, the director keeps forwarding what still comes to
// it (FULLNAT: the replies to its own local address, for as long as its downloads last), then
// stops once it has been idle.
TEST_F(ClusterTest, ADrainedDirectorLetsItsStreamsFinishThenStops) {
  ASSERT_NO_FATAL_FAILURE(start_cluster("bird-bgp", "fullnat"));
  start_downloads("drained", 30);
  ASSERT_TRUE(wait_until([&] { return packets(1) > 0; }, 10s, 200ms));
  std::this_thread::sleep_for(1s);
  const std::string dir = run_dir() + "/d1";
  std::string uvsd_pid = read_file(dir + "/uvsd.pid");
  while (!uvsd_pid.empty() && uvsd_pid.back() == '\n') uvsd_pid.pop_back();
  ASSERT_FALSE(uvsd_pid.empty());
  Process& drain = spawn(director_ns(1),
                         {"/usr/bin/env", "UVSADM=" + build_path("uvsadm"),
                          source_path("scripts/uvs-announce"), "drain", "--socket",
                          dir + "/uvsd.sock", "--dev", "uvs0", "--keep", "10.97.0.1/32", "--keep",
                          "10.97.0.201/24", "--drain-file", dir + "/drain", "--pidfile",
                          dir + "/uvsd.pid", "--quiet", "2", "--timeout", "60"},
                         "drain");
  const double withdrawn = wait_next_hops(2);
  ASSERT_GE(withdrawn, 0) << route();
  std::cout << "[ figure ] drain: route withdrawn after " << static_cast<int>(withdrawn * 1000)
            << " ms\n";
  // Its downloads still need it for their replies: it is still there a second later.
  std::this_thread::sleep_for(1s);
  const bool alive_mid_way = alive(uvsd_pid);
  EXPECT_TRUE(alive_mid_way) << "uvsd stopped while its FULLNAT downloads still ran\n"
                             << drain.log();
  expect_downloads_intact();
  auto status = drain.wait(60s);
  ASSERT_TRUE(status) << drain.log();
  EXPECT_EQ(*status, 0) << drain.log();
  EXPECT_FALSE(alive(uvsd_pid)) << "uvsd still runs after the drain";
  EXPECT_NE(drain.log().find("no packet for 2s"), std::string::npos) << drain.log();
}

}  // namespace
}  // namespace uvs::testing::netns
