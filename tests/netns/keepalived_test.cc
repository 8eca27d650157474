// keepalived (Debian 2.2.7) and ldirectord, unchanged, drive uvsd through libuvs-ipvs, in the
// namespace lab (issue 12):
//   - keepalived's virtual_server (rr, NAT, two real servers, TCP_CHECK or HTTP_GET) becomes
//     uvsd's table; curl through the VIP alternates; a real server's nginx stops -> it leaves
//     the table within delay_loop + connect_timeout (the measured time is printed, "[ detect ]")
//     and no request fails after; nginx starts -> it returns and gets traffic; a server that goes
//     silent (its switch port down) leaves within delay_loop + connect_timeout too;
//   - inhibit_on_failure: weight 0 instead; SIGHUP with an edited keepalived.conf (scheduler,
//     weight, a server added, one removed) is applied; lb_kind DR forwards and follows health;
//   - without uvsd, keepalived exits as on a kernel without ip_vs and ipvsadm prints its error;
//   - two directors, each its own uvsd, with keepalived VRRP: the backup takes over;
//   - ldirectord (negotiate checks over HTTP, its ipvsadm calls under the library).
//
// Every keepalived runs as
//     ip netns exec <director> uvs-ipvs --socket <uvsd's socket> keepalived -n -l -D -G
//         -f <conf> -p <pid> -c <checkers pid> -r <vrrp pid> -b <bfd pid>
// with pid files in the lab's scratch directory (parallel tests never meet another keepalived's),
// and stops on SIGTERM to its parent, as systemd stops it: it must exit and leave no service.
#include <gtest/gtest.h>

#include "tests/netns/netns_lab.h"
#include "tests/netns/two_directors_lab.h"

namespace uvs::testing::netns {
namespace {

const std::string kKeepalived = "/usr/sbin/keepalived";
const std::string kIpvsadm = "/usr/sbin/ipvsadm";

// The seed runbooks' NAT service (changes_test.cc's): VIP 192.168.56.102:80 to the servers'
// port 8000 on 172.17.0.0/16.
const std::string kVip = "192.168.56.102";
const std::string kService = kVip + ":80";
std::string nat_real(int k) { return Lab::server_v4(k) + ":8000"; }
// DR (forwarding_test.cc's): VIP 192.168.56.200:80 to the servers' port 80 on 192.168.56.0/24.
const std::string kDrVip = "192.168.56.200";
const std::string kDrService = kDrVip + ":80";
std::string dr_real(int k) { return Lab::server_v4_b(k) + ":80"; }

// keepalived's checker timing in every test: a check a second, a one-second connect timeout,
// no retry (a server is down after one failed check: the goal is detection within
// delay_loop + connect_timeout), no random warm-up.
constexpr int kDelayLoop = 1;
constexpr int kConnectTimeout = 1;
// What the machine (2 shared cores, parallel suites) may add to that before we call it broken.
constexpr auto kDetectBound = 10s;

enum class Check { kTcp, kHttp };
void PrintTo(Check c, std::ostream* os) { *os << (c == Check::kTcp ? "TCP_CHECK" : "HTTP_GET"); }

struct RealServer {
  std::string addr;
  int port;
  int weight = 1;
  int check_port = 0;  // connect_port of its checker (0: the real server's port)
};

struct VirtualServer {
  std::string vip = kVip;
  int port = 80;
  std::string algo = "rr";
  std::string kind = "NAT";  // lb_kind
  Check check = Check::kTcp;
  bool inhibit_on_failure = false;
  std::vector<RealServer> reals;
};

RealServer nat_server(int k, int weight = 1) { return {Lab::server_v4(k), 8000, weight}; }

// keepalived.conf with one virtual_server: the shape of keepalived's own examples.
std::string keepalived_conf(const std::string& router_id, const VirtualServer& vs,
                            const std::string& more_global_defs = "") {
  std::ostringstream c;
  c << "global_defs {\n"
    << "    router_id " << router_id << "\n"
    << more_global_defs << "}\n\n"
    << "virtual_server " << vs.vip << " " << vs.port << " {\n"
    << "    delay_loop " << kDelayLoop << "\n"
    << "    lb_algo " << vs.algo << "\n"
    << "    lb_kind " << vs.kind << "\n"
    << "    protocol TCP\n";
  if (vs.inhibit_on_failure) c << "    inhibit_on_failure\n";
  for (const auto& r : vs.reals) {
    c << "\n    real_server " << r.addr << " " << r.port << " {\n"
      << "        weight " << r.weight << "\n";
    if (vs.check == Check::kTcp) {
      c << "        TCP_CHECK {\n";
    } else {
      c << "        HTTP_GET {\n"
        << "            url {\n"
        << "                path /\n"
        << "                status_code 200\n"
        << "            }\n";
    }
    if (r.check_port) c << "            connect_port " << r.check_port << "\n";
    c << "            connect_timeout " << kConnectTimeout << "\n"
      << "            retry 0\n"
      << "            delay_before_retry 1\n"
      << "            warmup 0\n"
      << "        }\n"
      << "    }\n";
  }
  c << "}\n";
  return c.str();
}

// The NAT service to SERVERS real servers, checked on the service's port (8000), as keepalived
// does by default.
VirtualServer nat_service(Check check, int servers = 2) {
  VirtualServer vs;
  vs.check = check;
  for (int k = 1; k <= servers; ++k) vs.reals.push_back(nat_server(k));
  return vs;
}

long ms_since(Clock::time_point t0) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t0).count();
}

class KeepalivedTest : public LabTest {
 protected:
  void SetUp() override {
    LabTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    for (const std::string& tool : {kKeepalived, kIpvsadm})
      ASSERT_TRUE(std::filesystem::exists(tool)) << tool << " is missing: run scripts/setup";
    for (const char* bin : {"uvs-ipvs", "libuvs-ipvs.so"})
      ASSERT_TRUE(std::filesystem::exists(build_path(bin)))
          << build_path(bin) << " not built (src/preload)";
  }

  void TearDown() override {
    if (HasFailure() && keepalived_)
      std::cerr << "[keepalived.conf " << conf_ << "]\n" << read_file(conf_) << "\n";
    // keepalived's checker and VRRP children stay in its process group, which the Process kills
    // whole when LabTest's TearDown clears it, if the test left it running.
    keepalived_ = nullptr;
    LabTest::TearDown();
  }

  // argv under the library: uvs-ipvs --socket SOCKET ARGV..., inside the director namespace.
  std::vector<std::string> under_library(const std::vector<std::string>& argv,
                                         const std::string& socket) {
    std::vector<std::string> a = {build_path("uvs-ipvs"), "--socket", socket};
    a.insert(a.end(), argv.begin(), argv.end());
    return a;
  }

  // The Debian ipvsadm under the library, in the director namespace, against this lab's uvsd.
  RunResult ipvsadm(const std::vector<std::string>& args, std::string socket = "") {
    std::vector<std::string> argv = {kIpvsadm};
    argv.insert(argv.end(), args.begin(), args.end());
    return lab_->exec(lab_->director(),
                      under_library(argv, socket.empty() ? director_->socket() : socket), 30s);
  }

  // Writes keepalived.conf (again, for a reload).
  void write_conf(const std::string& text) {
    conf_ = lab_->tmp("keepalived.conf");
    ASSERT_TRUE(write_file(conf_, text));
  }

  // keepalived under the library in namespace NS, on configuration file CONF, talking to the uvsd
  // on SOCKET; TAG names its pid files (TAG.pid: the parent's) and its log.
  Process& launch_keepalived(const std::string& ns, const std::string& socket,
                             const std::string& conf, const std::string& tag) {
    std::vector<std::string> argv = {kKeepalived,
                                     "-n",
                                     "-l",
                                     "-D",
                                     "-G",
                                     "-f",
                                     conf,
                                     "-p",
                                     lab_->tmp(tag + ".pid"),
                                     "-c",
                                     lab_->tmp(tag + "-checkers.pid"),
                                     "-r",
                                     lab_->tmp(tag + "-vrrp.pid"),
                                     "-b",
                                     lab_->tmp(tag + "-bfd.pid")};
    return spawn(ns, under_library(argv, socket), tag);
  }

  // keepalived's parent: TAG.pid's, else the process we started (uvs-ipvs and `ip netns exec`
  // exec in place).
  pid_t parent_pid(Process& p, const std::string& tag) {
    std::string s = read_file(lab_->tmp(tag + ".pid"));
    try {
      if (!s.empty()) return static_cast<pid_t>(std::stol(s));
    } catch (const std::exception&) {
    }
    return p.pid();
  }

  // Starts keepalived on the written configuration; SOCKET defaults to this lab's uvsd.
  Process& start_keepalived(std::string socket = "") {
    keepalived_ = &launch_keepalived(lab_->director(),
                                     socket.empty() ? director_->socket() : socket, conf_,
                                     "keepalived");
    return *keepalived_;
  }

  pid_t keepalived_pid() { return parent_pid(*keepalived_, "keepalived"); }

  // SIGTERM to keepalived's parent, as `systemctl stop` does; its exit status, or nullopt when
  // it is still running after TIMEOUT.
  std::optional<int> stop_keepalived(std::chrono::milliseconds timeout = 15s) {
    kill(keepalived_pid(), SIGTERM);
    return keepalived_->wait(timeout);
  }

  // SIGHUP to keepalived's parent: reload the configuration.
  void reload_keepalived() { kill(keepalived_pid(), SIGHUP); }

  // The lab's nginx on server k (scripts/lab starts it with a pid file in its run directory).
  std::string server_dir(int k) const {
    return "/tmp/" + lab_->prefix() + "-run/s" + std::to_string(k);
  }
  bool listening(int k, int port) {
    RunResult r =
        lab_->exec(lab_->server(k), {"/usr/bin/ss", "-Htln", "sport = :" + std::to_string(port)});
    return !r.out.empty();
  }
  // Stops server k's nginx (fast shutdown: SIGTERM to the master) and waits until it is gone.
  void stop_http_server(int k) {
    const std::string pid_text = read_file(server_dir(k) + "/nginx.pid");
    ASSERT_FALSE(pid_text.empty()) << "no nginx.pid for s" << k;
    const pid_t pid = static_cast<pid_t>(std::stol(pid_text));
    ASSERT_EQ(kill(pid, SIGTERM), 0) << "nginx on s" << k << " (pid " << pid << ")";
    // The daemonised master is nobody's child here: gone once it is a zombie.
    ASSERT_TRUE(wait_until([&] { return process_gone(pid); }, 10s, 5ms) && !listening(k, 8000))
        << "nginx on s" << k << " did not stop";
  }
  // Starts server k's nginx again, as scripts/lab does, and waits until it listens.
  void start_http_server(int k) {
    const std::string dir = server_dir(k);
    RunResult r = lab_->exec(lab_->server(k), {"/usr/sbin/nginx", "-c", dir + "/nginx.conf", "-p",
                                               dir, "-e", dir + "/error.log"});
    ASSERT_EQ(r.status, 0) << describe({"nginx", "-c", dir + "/nginx.conf"}, r);
    ASSERT_TRUE(wait_for_listener(lab_->server(k), 8000) && wait_for_listener(lab_->server(k), 80))
        << "nginx on s" << k << " does not listen";
    // scripts/lab down kills the pids it finds there.
    write_file("/tmp/" + lab_->prefix() + "-run/nginx-s" + std::to_string(k) + ".pid",
               read_file(dir + "/nginx.pid"));
  }

  // Polls the listing every 20 ms until PRED holds; the time it took (ms), -1 on timeout.
  long time_until(const std::function<bool(const Table&)>& pred, std::chrono::milliseconds bound,
                  Clock::time_point since, Table* last = nullptr) {
    Table t;
    bool ok = wait_until([&] { return pred(t = director_->table()); }, bound, 20ms);
    if (last) *last = t;
    return ok ? ms_since(since) : -1;
  }

  static bool has_dest(const Table& t, const std::string& svc, const std::string& dest) {
    const ServiceRow* s = t.service("TCP", svc);
    return s && s->dest(dest);
  }
  static long weight_of(const Table& t, const std::string& svc, const std::string& dest) {
    const ServiceRow* s = t.service("TCP", svc);
    const DestRow* d = s ? s->dest(dest) : nullptr;
    return d ? d->weight : -1;
  }

  // What keepalived logged, for failure messages.
  std::string keepalived_log() {
    return keepalived_ ? "[keepalived log]\n" + keepalived_->log() : "";
  }

  // keepalived has installed SERVICE with exactly DESTS (address -> weight) and FORWARD.
  void expect_table(const std::string& svc, const std::string& sched, const std::string& forward,
                    const std::map<std::string, long>& dests) {
    Table t;
    bool ok = wait_table(
        [&](const Table& tb) {
          const ServiceRow* s = tb.service("TCP", svc);
          if (!s || s->scheduler != sched || s->dests.size() != dests.size()) return false;
          for (const auto& [addr, w] : dests) {
            const DestRow* d = s->dest(addr);
            if (!d || d->weight != w || d->forward != forward) return false;
          }
          return true;
        },
        15s, &t);
    EXPECT_TRUE(ok) << "keepalived's table did not appear: want " << svc << " " << sched << " "
                    << forward << " " << [&] {
                         std::string s;
                         for (const auto& [a, w] : dests) s += a + " w" + std::to_string(w) + " ";
                         return s;
                       }() << "\n"
                    << director_->adm({"-Ln"}).out << keepalived_log();
  }

  // Stops keepalived with SIGTERM: it exits 0 and its services leave uvsd's table.
  void stop_and_expect_clean_table() {
    auto status = stop_keepalived();
    ASSERT_TRUE(status.has_value()) << "keepalived still runs 15 s after SIGTERM\n"
                                    << keepalived_log();
    EXPECT_EQ(*status, 0) << keepalived_log();
    Table t = director_->table();
    EXPECT_TRUE(t.services.empty()) << "keepalived left services behind\n"
                                    << director_->adm({"-Ln"}).out << keepalived_log();
  }

  std::string conf_;
  Process* keepalived_ = nullptr;
};

// ---------------------------------------------------------------------------------------------
// The runbook of issue 12: keepalived builds the table, curl alternates, a real server's nginx
// stops -> it leaves the table within delay_loop + connect_timeout and no request fails after,
// nginx starts -> it returns and gets traffic; SIGTERM -> keepalived removes its service.
class KeepalivedChecks : public KeepalivedTest, public ::testing::WithParamInterface<Check> {};

TEST_P(KeepalivedChecks, DeadRealServerLeavesTheTableAndReturns) {
  const Check check = GetParam();
  const std::string name = check == Check::kTcp ? "TCP_CHECK" : "HTTP_GET";
  ASSERT_NO_FATAL_FAILURE(start_lab(2));
  ASSERT_NO_FATAL_FAILURE(write_conf(keepalived_conf("uvs-" + lab_->prefix(), nat_service(check))));
  start_keepalived();

  {
    SCOPED_TRACE("keepalived installs the virtual server: rr, NAT (Masq), both weight 1");
    Phase phase("keepalived start");
    expect_table(kService, "rr", "Masq", {{nat_real(1), 1}, {nat_real(2), 1}});
    ASSERT_FALSE(HasFailure());
    // The Debian ipvsadm under the library lists the same table byte for byte.
    RunResult uvsadm = director_->adm({"-Ln"});
    RunResult theirs = ipvsadm({"-Ln"});
    EXPECT_EQ(theirs.status, 0) << describe({"uvs-ipvs ipvsadm -Ln"}, theirs);
    EXPECT_EQ(theirs.out, uvsadm.out);
  }

  {
    SCOPED_TRACE("curl through the VIP alternates between the servers");
    auto answers = curl_each(http_url(kVip), 10);
    for (size_t i = 1; i < answers.size(); ++i)
      EXPECT_NE(answers[i], answers[i - 1]) << "rr answers did not alternate: " << join(answers);
    EXPECT_EQ(tally(answers), (std::map<std::string, int>{{"s1", 5}, {"s2", 5}}));
  }

  {
    SCOPED_TRACE("s1's nginx stops: " + name + " takes s1 out of the table");
    const auto t0 = Clock::now();
    ASSERT_NO_FATAL_FAILURE(stop_http_server(1));
    const long stopped = ms_since(t0);
    Table t;
    const long detect = time_until(
        [&](const Table& tb) {
          return !has_dest(tb, kService, nat_real(1)) && has_dest(tb, kService, nat_real(2));
        },
        kDetectBound, t0, &t);
    ASSERT_GE(detect, 0) << "s1 still in the table " << kDetectBound.count() << " s after its stop\n"
                         << director_->adm({"-Ln"}).out << keepalived_log();
    std::cout << "[ detect   ] " << name << " (delay_loop " << kDelayLoop << " s, connect_timeout "
              << kConnectTimeout << " s): nginx stopped -> removed from uvsadm -Ln in " << detect
              << " ms (nginx took " << stopped << " ms to exit)" << std::endl;
    RecordProperty("detect_ms", static_cast<int>(detect));
  }

  {
    SCOPED_TRACE("after the removal, every request succeeds (all on s2)");
    auto answers = curl_each(http_url(kVip), 20);
    EXPECT_EQ(tally(answers), (std::map<std::string, int>{{"s2", 20}}));
  }

  {
    SCOPED_TRACE("s1's nginx starts again: it returns to the table and gets traffic");
    const auto t0 = Clock::now();
    ASSERT_NO_FATAL_FAILURE(start_http_server(1));
    const long back = time_until(
        [&](const Table& tb) { return weight_of(tb, kService, nat_real(1)) == 1; }, kDetectBound,
        t0);
    ASSERT_GE(back, 0) << "s1 did not return\n"
                       << director_->adm({"-Ln"}).out << keepalived_log();
    std::cout << "[ detect   ] " << name << ": nginx started -> back in uvsadm -Ln in " << back
              << " ms" << std::endl;
    expect_table(kService, "rr", "Masq", {{nat_real(1), 1}, {nat_real(2), 1}});
    auto answers = curl_each(http_url(kVip), 10);
    EXPECT_EQ(tally(answers), (std::map<std::string, int>{{"s1", 5}, {"s2", 5}}));
  }

  {
    SCOPED_TRACE("s2 goes silent (its switch port down): connect_timeout takes it out");
    const std::string port = "ws2";
    const auto t0 = Clock::now();
    RunResult r = lab_->exec(lab_->prefix() + "w", {kIp, "link", "set", port, "down"});
    ASSERT_EQ(r.status, 0) << r.err;
    const long detect = time_until(
        [&](const Table& tb) {
          return !has_dest(tb, kService, nat_real(2)) && has_dest(tb, kService, nat_real(1));
        },
        kDetectBound, t0);
    ASSERT_GE(detect, 0) << "s2 still in the table\n"
                         << director_->adm({"-Ln"}).out << keepalived_log();
    std::cout << "[ detect   ] " << name << " (delay_loop " << kDelayLoop << " s, connect_timeout "
              << kConnectTimeout << " s): s2 silent -> removed from uvsadm -Ln in " << detect
              << " ms" << std::endl;
    auto answers = curl_each(http_url(kVip), 20);
    EXPECT_EQ(tally(answers), (std::map<std::string, int>{{"s1", 20}}));
    r = lab_->exec(lab_->prefix() + "w", {kIp, "link", "set", port, "up"});
    ASSERT_EQ(r.status, 0) << r.err;
    expect_table(kService, "rr", "Masq", {{nat_real(1), 1}, {nat_real(2), 1}});
  }

  {
    SCOPED_TRACE("SIGTERM: keepalived exits and removes its virtual server");
    stop_and_expect_clean_table();
  }
}

INSTANTIATE_TEST_SUITE_P(Checkers, KeepalivedChecks, ::testing::Values(Check::kTcp, Check::kHttp),
                         [](const ::testing::TestParamInfo<Check>& info) {
                           return std::string(info.param == Check::kTcp ? "TcpCheck" : "HttpGet");
                         });

// inhibit_on_failure: a failed server stays in the table with weight 0 (no new connections,
// established ones drain) and gets its weight back when it returns.
TEST_F(KeepalivedTest, InhibitOnFailureKeepsTheServerWithWeightZero) {
  ASSERT_NO_FATAL_FAILURE(start_lab(2));
  VirtualServer vs = nat_service(Check::kTcp);
  vs.inhibit_on_failure = true;
  ASSERT_NO_FATAL_FAILURE(write_conf(keepalived_conf("uvs-" + lab_->prefix(), vs)));
  start_keepalived();
  expect_table(kService, "rr", "Masq", {{nat_real(1), 1}, {nat_real(2), 1}});
  ASSERT_FALSE(HasFailure());

  const auto t0 = Clock::now();
  ASSERT_NO_FATAL_FAILURE(stop_http_server(1));
  const long detect = time_until(
      [&](const Table& tb) { return weight_of(tb, kService, nat_real(1)) == 0; }, kDetectBound,
      t0);
  ASSERT_GE(detect, 0) << "s1 did not get weight 0\n"
                       << director_->adm({"-Ln"}).out << keepalived_log();
  std::cout << "[ detect   ] TCP_CHECK inhibit_on_failure: nginx stopped -> weight 0 in " << detect
            << " ms" << std::endl;
  // Still there, weight 0, s2 untouched.
  expect_table(kService, "rr", "Masq", {{nat_real(1), 0}, {nat_real(2), 1}});
  auto answers = curl_each(http_url(kVip), 10);
  EXPECT_EQ(tally(answers), (std::map<std::string, int>{{"s2", 10}}));

  ASSERT_NO_FATAL_FAILURE(start_http_server(1));
  const long back = time_until(
      [&](const Table& tb) { return weight_of(tb, kService, nat_real(1)) == 1; }, kDetectBound,
      Clock::now());
  ASSERT_GE(back, 0) << "s1 did not get its weight back\n"
                     << director_->adm({"-Ln"}).out << keepalived_log();
  answers = curl_each(http_url(kVip), 10);
  EXPECT_EQ(tally(answers), (std::map<std::string, int>{{"s1", 5}, {"s2", 5}}));

  stop_and_expect_clean_table();
}

// SIGHUP with an edited keepalived.conf: the scheduler, a weight, a new real server and a removed
// one reach uvsd's table, without a restart.
TEST_F(KeepalivedTest, SighupAppliesTheEditedConfiguration) {
  ASSERT_NO_FATAL_FAILURE(start_lab(3));
  VirtualServer vs = nat_service(Check::kTcp, 2);
  const std::string router_id = "uvs-" + lab_->prefix();
  ASSERT_NO_FATAL_FAILURE(write_conf(keepalived_conf(router_id, vs)));
  start_keepalived();
  expect_table(kService, "rr", "Masq", {{nat_real(1), 1}, {nat_real(2), 1}});
  ASSERT_FALSE(HasFailure());

  {
    SCOPED_TRACE("reload 1: wrr, s1 weight 3, s3 added (weight 1)");
    vs.algo = "wrr";
    vs.reals[0].weight = 3;
    vs.reals.push_back(nat_server(3));
    ASSERT_NO_FATAL_FAILURE(write_conf(keepalived_conf(router_id, vs)));
    reload_keepalived();
    expect_table(kService, "wrr", "Masq", {{nat_real(1), 3}, {nat_real(2), 1}, {nat_real(3), 1}});
    ASSERT_FALSE(HasFailure());
    // wrr 3:1:1 over two whole rounds of 5.
    auto answers = curl_each(http_url(kVip), 10);
    EXPECT_EQ(tally(answers), (std::map<std::string, int>{{"s1", 6}, {"s2", 2}, {"s3", 2}}))
        << join(answers);
  }

  {
    SCOPED_TRACE("reload 2: s2 removed from the configuration");
    vs.reals.erase(vs.reals.begin() + 1);
    ASSERT_NO_FATAL_FAILURE(write_conf(keepalived_conf(router_id, vs)));
    reload_keepalived();
    expect_table(kService, "wrr", "Masq", {{nat_real(1), 3}, {nat_real(3), 1}});
    ASSERT_FALSE(HasFailure());
    auto answers = curl_each(http_url(kVip), 8);
    EXPECT_EQ(tally(answers), (std::map<std::string, int>{{"s1", 6}, {"s3", 2}})) << join(answers);
  }

  stop_and_expect_clean_table();
}

// lb_kind DR: the real servers hold the VIP on lo (scripts/realserver dr) and answer the client
// directly; keepalived checks them on their own address.
TEST_F(KeepalivedTest, DirectRoutingServiceForwardsAndFollowsHealth) {
  ASSERT_NO_FATAL_FAILURE(start_lab(2));
  for (int k = 1; k <= 2; ++k) {
    std::vector<std::string> argv = {source_path("scripts/realserver"), "dr", kDrVip, "--netns",
                                     lab_->server(k)};
    RunResult r = run(argv);
    ASSERT_EQ(r.status, 0) << describe(argv, r);
  }
  VirtualServer vs;
  vs.vip = kDrVip;
  vs.kind = "DR";
  for (int k = 1; k <= 2; ++k) vs.reals.push_back({Lab::server_v4_b(k), 80});
  ASSERT_NO_FATAL_FAILURE(write_conf(keepalived_conf("uvs-" + lab_->prefix(), vs)));
  start_keepalived();
  expect_table(kDrService, "rr", "Route", {{dr_real(1), 1}, {dr_real(2), 1}});
  ASSERT_FALSE(HasFailure());
  RunResult theirs = ipvsadm({"-Ln"});
  EXPECT_EQ(theirs.out, director_->adm({"-Ln"}).out);

  auto answers = curl_each(http_url(kDrVip), 10);
  EXPECT_EQ(tally(answers), (std::map<std::string, int>{{"s1", 5}, {"s2", 5}}));

  // nginx on s2 stops (both ports): it leaves, every request goes to s1.
  const auto t0 = Clock::now();
  ASSERT_NO_FATAL_FAILURE(stop_http_server(2));
  const long detect = time_until(
      [&](const Table& tb) { return !has_dest(tb, kDrService, dr_real(2)); }, kDetectBound, t0);
  ASSERT_GE(detect, 0) << director_->adm({"-Ln"}).out << keepalived_log();
  std::cout << "[ detect   ] TCP_CHECK DR: nginx stopped -> removed in " << detect << " ms"
            << std::endl;
  answers = curl_each(http_url(kDrVip), 10);
  EXPECT_EQ(tally(answers), (std::map<std::string, int>{{"s1", 10}}));

  stop_and_expect_clean_table();
}

// No uvsd: the library answers the IPVS family lookup with ENOENT, as a kernel without ip_vs
// does; keepalived's checker logs that IPVS cannot be initialised and the whole daemon exits,
// and ipvsadm prints its usual error. Nothing waits for a uvsd that is not there.
TEST_F(KeepalivedTest, WithoutUvsdKeepalivedAndIpvsadmFailCleanly) {
  ASSERT_NO_FATAL_FAILURE(start_lab(2));
  const std::string socket = director_->socket();
  ASSERT_EQ(director_->stop(), 0) << director_->log();
  ASSERT_FALSE(std::filesystem::exists(socket));

  {
    SCOPED_TRACE("ipvsadm -Ln fails with its error, promptly");
    const auto t0 = Clock::now();
    RunResult r = ipvsadm({"-Ln"}, socket);
    const long took = ms_since(t0);
    EXPECT_NE(r.status, 0) << describe({"uvs-ipvs ipvsadm -Ln"}, r);
    EXPECT_NE(r.err.find("Can't initialize ipvs"), std::string::npos) << r.err;
    EXPECT_LT(took, 10000) << "ipvsadm took " << took << " ms";
    std::cout << "ipvsadm -Ln without uvsd: exit " << r.status << " in " << took << " ms: " << r.err;
    r = ipvsadm({"-A", "-t", kService, "-s", "rr"}, socket);
    EXPECT_NE(r.status, 0) << describe({"uvs-ipvs ipvsadm -A"}, r);
  }

  {
    SCOPED_TRACE("keepalived with a virtual_server exits as on a kernel without ip_vs");
    ASSERT_NO_FATAL_FAILURE(
        write_conf(keepalived_conf("uvs-" + lab_->prefix(), nat_service(Check::kTcp))));
    const auto t0 = Clock::now();
    Process& ka = start_keepalived(socket);
    auto status = ka.wait(20s);
    const long took = ms_since(t0);
    ASSERT_TRUE(status.has_value()) << "keepalived still runs after 20 s without uvsd\n"
                                    << keepalived_log();
    std::cout << "keepalived without uvsd: exit " << *status << " after " << took << " ms"
              << std::endl;
    // As on this kernel without the library: the checker logs "IPVS: Can't initialize ipvs: No
    // such file or directory" and exits FATAL, and the parent stops, status 1.
    EXPECT_EQ(*status, 1) << keepalived_log();
    EXPECT_NE(ka.log().find("Can't initialize ipvs"), std::string::npos) << keepalived_log();
    EXPECT_LT(took, 10000) << keepalived_log();
  }
}

// uvsd hung (SIGSTOP) when keepalived starts: the library gives up on it (its timeout) and
// keepalived exits as without ip_vs, within 20 s; uvsd, continued, has applied nothing.
TEST_F(KeepalivedTest, WithAHungUvsdKeepalivedGivesUp) {
  ASSERT_NO_FATAL_FAILURE(start_lab(2));
  ASSERT_NO_FATAL_FAILURE(
      write_conf(keepalived_conf("uvs-" + lab_->prefix(), nat_service(Check::kTcp))));
  ASSERT_EQ(kill(director_->pid(), SIGSTOP), 0);
  const auto t0 = Clock::now();
  Process& ka = start_keepalived();
  auto status = ka.wait(20s);
  const long took = ms_since(t0);
  kill(director_->pid(), SIGCONT);
  ASSERT_TRUE(status.has_value()) << "keepalived still runs after 20 s with uvsd stopped\n"
                                  << keepalived_log();
  std::cout << "keepalived with uvsd stopped: exit " << *status << " after " << took << " ms"
            << std::endl;
  EXPECT_EQ(*status, 1) << keepalived_log();
  EXPECT_NE(ka.log().find("Can't initialize ipvs"), std::string::npos) << keepalived_log();
  std::this_thread::sleep_for(1s);
  EXPECT_TRUE(director_->table().services.empty()) << director_->context();
}

// keepalived's other table shapes, in one keepalived.conf: an IPv6 service with persistence,
// a fwmark service (sh with sh-port, DR, persistence with a netmask, thresholds), TUN with GUE
// and a real server overriding it with GRE, a UDP service with one-packet scheduling, and
// lvs_timeouts. uvsd's table must be what the same configuration typed as ipvsadm commands gives
// (both as `uvsadm -S -n`, on a second, control-plane-only uvsd), every listing form of the Debian
// ipvsadm under the library must equal uvsadm's byte for byte, and SIGTERM removes everything
// and restores the timeouts.
TEST_F(KeepalivedTest, EveryTableShapeIsWhatIpvsadmCommandsGive) {
  ASSERT_NO_FATAL_FAILURE(start_lab(2));
  auto check = [](int port) {
    return "        TCP_CHECK {\n            connect_port " + std::to_string(port) +
           "\n            connect_timeout 1\n            retry 0\n            warmup 0\n"
           "        }\n";
  };
  const std::string conf =
      "global_defs {\n"
      "    router_id uvs-" + lab_->prefix() + "\n"
      "    lvs_timeouts tcp 600 tcpfin 30 udp 200\n"
      "}\n\n"
      "virtual_server fd00:100::1 80 {\n"
      "    delay_loop 1\n"
      "    lb_algo wlc\n"
      "    lb_kind NAT\n"
      "    protocol TCP\n"
      "    persistence_timeout 600\n"
      "    real_server fd00:2::11 8000 {\n        weight 2\n" + check(80) + "    }\n"
      "    real_server fd00:2::12 8000 {\n        weight 1\n" + check(80) + "    }\n"
      "}\n\n"
      "virtual_server fwmark 7 {\n"
      "    delay_loop 1\n"
      "    lvs_sched sh\n"
      "    sh-port\n"
      "    lvs_method DR\n"
      "    persistence_timeout 300\n"
      "    persistence_granularity 255.255.255.0\n"
      "    real_server 192.168.56.102 80 {\n        weight 1\n        uthreshold 100\n"
      "        lthreshold 10\n" + check(80) + "    }\n"
      "    real_server 192.168.56.104 80 {\n        weight 1\n" + check(80) + "    }\n"
      "}\n\n"
      "virtual_server 192.168.56.210 80 {\n"
      "    delay_loop 1\n"
      "    lb_algo rr\n"
      "    lvs_method TUN type gue port 6080\n"
      "    protocol TCP\n"
      "    real_server 192.168.56.102 80 {\n        weight 1\n    }\n"
      "    real_server 192.168.56.104 80 {\n        weight 1\n        lvs_method TUN type gre\n"
      "    }\n"
      "}\n\n"
      "virtual_server 192.168.56.102 53 {\n"
      "    lb_algo rr\n"
      "    lb_kind NAT\n"
      "    protocol UDP\n"
      "    ops\n"
      "    real_server 172.17.0.2 53 {\n        weight 1\n    }\n"
      "    real_server 172.17.0.3 53 {\n        weight 3\n    }\n"
      "}\n";
  ASSERT_NO_FATAL_FAILURE(write_conf(conf));

  // The same configuration as ipvsadm commands, on a uvsd of its own.
  const std::string expect_socket = lab_->tmp("expected.sock");
  Process& expected = spawn(lab_->director(), {build_path("uvsd"), "--socket", expect_socket, "--conn-max", "65536"},
                            "uvsd-expected");
  ASSERT_TRUE(wait_until([&] { return std::filesystem::exists(expect_socket); }, 15s))
      << expected.log();
  const std::vector<std::vector<std::string>> commands = {
      {"--set", "600", "30", "200"},
      {"-A", "-t", "[fd00:100::1]:80", "-s", "wlc", "-p", "600"},
      {"-a", "-t", "[fd00:100::1]:80", "-r", "[fd00:2::11]:8000", "-m", "-w", "2"},
      {"-a", "-t", "[fd00:100::1]:80", "-r", "[fd00:2::12]:8000", "-m", "-w", "1"},
      {"-A", "-f", "7", "-s", "sh", "-b", "sh-port", "-p", "300", "-M", "255.255.255.0"},
      // keepalived clears a fwmark service's real server ports ("has port specified").
      {"-a", "-f", "7", "-r", "192.168.56.102", "-g", "-w", "1", "-x", "100", "-y", "10"},
      {"-a", "-f", "7", "-r", "192.168.56.104", "-g", "-w", "1"},
      {"-A", "-t", "192.168.56.210:80", "-s", "rr"},
      {"-a", "-t", "192.168.56.210:80", "-r", "192.168.56.102:80", "-i", "--tun-type", "gue",
       "--tun-port", "6080", "-w", "1"},
      {"-a", "-t", "192.168.56.210:80", "-r", "192.168.56.104:80", "-i", "--tun-type", "gre",
       "-w", "1"},
      {"-A", "-u", "192.168.56.102:53", "-s", "rr", "-o"},
      {"-a", "-u", "192.168.56.102:53", "-r", "172.17.0.2:53", "-m", "-w", "1"},
      {"-a", "-u", "192.168.56.102:53", "-r", "172.17.0.3:53", "-m", "-w", "3"},
  };
  auto expected_adm = [&](const std::vector<std::string>& args) {
    std::vector<std::string> argv = {build_path("uvsadm"), "--socket", expect_socket};
    argv.insert(argv.end(), args.begin(), args.end());
    return run(argv, "", 20s);
  };
  for (const auto& c : commands) {
    RunResult r = expected_adm(c);
    ASSERT_EQ(r.status, 0) << describe({"uvsadm", join(c)}, r);
  }
  const std::string want = expected_adm({"-S", "-n"}).out;
  const std::string want_timeouts = expected_adm({"-L", "--timeout"}).out;
  // -S leaves the thresholds out: --thresholds shows them.
  const std::string want_thresholds = expected_adm({"-Ln", "--thresholds"}).out;

  start_keepalived();
  std::string got;
  EXPECT_TRUE(wait_until([&] { return (got = director_->adm({"-S", "-n"}).out) == want; }, 15s))
      << "keepalived's table differs from the ipvsadm commands'\n[want]\n"
      << want << "[got]\n"
      << got << keepalived_log();
  EXPECT_EQ(director_->adm({"-L", "--timeout"}).out, want_timeouts) << keepalived_log();
  EXPECT_EQ(director_->adm({"-Ln", "--thresholds"}).out, want_thresholds) << keepalived_log();

  for (const std::vector<std::string>& form :
       {std::vector<std::string>{"-Ln"},
        {"-Ln", "--stats"},
        {"-Ln", "--rate"},
        {"-Ln", "--thresholds"},
        {"-Ln", "--persistent-conn"},
        {"-Ln", "--tun-info"},
        {"-Ln", "--exact"},
        {"-L", "--timeout"},
        {"-S", "-n"},
        {"-Ln", "-f", "7"},
        {"-Ln", "-t", "[fd00:100::1]:80"}}) {
    RunResult theirs = ipvsadm(form);
    RunResult ours = director_->adm(form);
    EXPECT_EQ(theirs.status, ours.status) << join(form) << "\n" << theirs.err << ours.err;
    EXPECT_EQ(theirs.out, ours.out) << "ipvsadm " << join(form) << " under the library";
  }

  stop_and_expect_clean_table();
  EXPECT_EQ(director_->adm({"-L", "--timeout"}).out, "Timeout (tcp tcpfin udp): 900 120 300\n")
      << "keepalived restores the timeouts it found\n"
      << keepalived_log();
}

// keepalived's checker connects from the director to RIP:RPORT of a NAT real server, the address
// and port whose packets uvsd's XDP program steers to user space (uvs_nat_replies): the answers
// to the director's own connections must reach its kernel (bpf/steer.bpf.c, for_this_host()), or
// every check fails and keepalived takes every real server out. Several check rounds: both stay.
TEST_F(KeepalivedTest, NatHealthCheckOnTheServicePortKeepsTheServersUp) {
  ASSERT_NO_FATAL_FAILURE(start_lab(2));
  ASSERT_NO_FATAL_FAILURE(
      write_conf(keepalived_conf("uvs-" + lab_->prefix(), nat_service(Check::kTcp))));
  start_keepalived();
  expect_table(kService, "rr", "Masq", {{nat_real(1), 1}, {nat_real(2), 1}});
  ASSERT_FALSE(HasFailure());
  // Several check rounds: both servers answer, both stay.
  std::this_thread::sleep_for(4s);
  expect_table(kService, "rr", "Masq", {{nat_real(1), 1}, {nat_real(2), 1}});
  stop_and_expect_clean_table();
}

// keepalived stopped and started again deletes and re-adds its service while the connection
// table still holds connections to its real servers (TIME_WAIT): the new service counts its new
// connections, and its real servers, back from the trash into another service, count from zero
// (__ip_vs_update_dest()). Before 7929769 uvsd counted them for the deleted service.
TEST_F(KeepalivedTest, RestartedKeepalivedCountsNewConnectionsOnItsService) {
  ASSERT_NO_FATAL_FAILURE(start_lab(2));
  ASSERT_NO_FATAL_FAILURE(
      write_conf(keepalived_conf("uvs-" + lab_->prefix(), nat_service(Check::kTcp))));
  for (int round = 1; round <= 2; ++round) {
    SCOPED_TRACE("keepalived run " + std::to_string(round));
    start_keepalived();
    expect_table(kService, "rr", "Masq", {{nat_real(1), 1}, {nat_real(2), 1}});
    ASSERT_FALSE(HasFailure());
    curl_each(http_url(kVip), 10);
    Table t = director_->stats();
    const ServiceRow* svc = t.service("TCP", kService);
    ASSERT_TRUE(svc) << director_->context();
    EXPECT_EQ(svc->conns, 10) << director_->context();
    for (int k = 1; k <= 2; ++k) {
      const DestRow* d = svc->dest(nat_real(k));
      ASSERT_TRUE(d) << director_->context();
      EXPECT_EQ(d->conns, 5) << nat_real(k) << "\n" << director_->context();
    }
    stop_and_expect_clean_table();
  }
}

// ---------------------------------------------------------------------------------------------
// Two directors with keepalived VRRP, each its own uvsd (tests/netns/two_directors_lab.h:
// director A is ${P}d with priority 150, B is ${P}s9 with priority 100): the master holds the
// client side's gateway 10.99.1.1 and the real servers' gateway 172.17.0.1 (one vrrp_instance,
// unicast adverts every second); both keepalived build the same virtual server in their own
// uvsd. Stopping the master's keepalived moves the gateways to the backup, and new connections
// go through the backup's uvsd; the old master returns and (preempt) takes them back.

// The vrrp_instance of director ME (11 or 12) whose peer is PEER.
std::string vrrp_instance(int me, int peer, int priority, const std::string& track_script = "") {
  std::ostringstream c;
  if (!track_script.empty()) {
    // The script's exit status is the director's health: 1 s apart, one failure is enough.
    c << "\nvrrp_script chk_uvsd {\n"
      << "    script \"" << track_script << "\"\n"
      << "    interval 1\n"
      << "    timeout 1\n"
      << "    fall 1\n"
      << "    rise 1\n"
      << "}\n";
  }
  c << "\nvrrp_instance VI_1 {\n"
    << "    state BACKUP\n"
    << "    interface d0\n"
    << "    virtual_router_id 51\n"
    << "    priority " << priority << "\n"
    << "    advert_int 1\n"
    << "    unicast_src_ip 10.99.1." << me << "\n"
    << "    unicast_peer {\n"
    << "        10.99.1." << peer << "\n"
    << "    }\n"
    << "    virtual_ipaddress {\n"
    << "        10.99.1.1/24 dev d0\n"
    << "        172.17.0.1/16 dev d1\n"
    << "    }\n";
  if (!track_script.empty()) c << "    track_script {\n        chk_uvsd\n    }\n";
  c << "}\n";
  return c.str();
}

class VrrpTest : public KeepalivedTest {
 protected:
  // Whether namespace NS holds the client side's gateway address.
  bool holds_gateway(const std::string& ns) {
    RunResult r = lab_->exec(ns, {kIp, "-4", "-o", "addr", "show", "dev", "d0"});
    return r.out.find(" 10.99.1.1/24 ") != std::string::npos;
  }
  RunResult adm_b(const std::vector<std::string>& args) {
    std::vector<std::string> argv = {build_path("uvsadm"), "--socket", socket_b_};
    argv.insert(argv.end(), args.begin(), args.end());
    return run(argv, "", 20s);
  }
  // Connections the director scheduled for the service: the sum over its real servers.
  long conns(const Table& stats) {
    const ServiceRow* s = stats.service("TCP", kService);
    if (!s) return -1;
    long n = 0;
    for (const auto& d : s->dests) n += d.conns;
    return n;
  }
  long conns_a() { return conns(director_->stats()); }
  long conns_b() { return conns(parse_table(adm_b({"-Ln", "--stats", "--exact"}).out, true)); }
  bool has_both_servers(const Table& t) {
    return weight_of(t, kService, nat_real(1)) == 1 && weight_of(t, kService, nat_real(2)) == 1;
  }
  std::string context_b() {
    return "[director A: uvsadm -Ln, -L --daemon]\n" + director_->adm({"-Ln"}).out +
           director_->adm({"-L", "--daemon"}).out + "[director B: uvsadm -Ln, -L --daemon]\n" +
           adm_b({"-Ln"}).out + adm_b({"-L", "--daemon"}).out + "[keepalived A]\n" +
           (ka_a_ ? ka_a_->log() : "") + "\n[keepalived B]\n" + (ka_b_ ? ka_b_->log() : "");
  }

  // The two-director lab, director B's uvsd, and keepalived on both (A priority 150, B 100),
  // each checking the real servers for its own uvsd; with TRACK, each VRRP instance also tracks
  // `uvsadm --socket <its uvsd> -L -n -t VIP:80` (its uvsd answers and has the service).
  void start_two_directors(bool track) {
    ASSERT_NO_FATAL_FAILURE(start_shaped_lab(2, kTwoDirectorsLab, {"d0", "d1"}));
    ns_a_ = lab_->director();
    ns_b_ = lab_->prefix() + "s9";
    socket_b_ = lab_->tmp("uvsd-b.sock");
    Process& uvsd_b = spawn(ns_b_,
                            {build_path("uvsd"), "--socket", socket_b_, "--conn-max", "65536",
                             "--interface", "d0", "--interface", "d1"},
                            "uvsd-b");
    ASSERT_TRUE(
        wait_until([&] { return std::filesystem::exists(socket_b_) || !uvsd_b.running(); }, 15s) &&
        uvsd_b.running())
        << "director B's uvsd did not start\n"
        << uvsd_b.log();
    conf_a_ = lab_->tmp("keepalived-a.conf");
    conf_b_ = lab_->tmp("keepalived-b.conf");
    const VirtualServer vs = nat_service(Check::kTcp);
    auto script = [&](const std::string& socket) {
      return track ? build_path("uvsadm") + " --socket " + socket + " -L -n -t " + kService
                   : std::string();
    };
    // The VRRP child starts uvsd's sync daemon: master on the master, backup on the backup.
    const std::string globals =
        std::string("    lvs_sync_daemon d1 VI_1 id 51\n") + (track ? "    script_user root\n" : "");
    ASSERT_TRUE(write_file(conf_a_, keepalived_conf("uvs-" + lab_->prefix() + "-a", vs, globals) +
                                        vrrp_instance(11, 12, 150, script(director_->socket()))));
    ASSERT_TRUE(write_file(conf_b_, keepalived_conf("uvs-" + lab_->prefix() + "-b", vs, globals) +
                                        vrrp_instance(12, 11, 100, script(socket_b_))));
    ka_a_ = &launch_keepalived(ns_a_, director_->socket(), conf_a_, tag_a_ = "keepalived-a");
    ka_b_ = &launch_keepalived(ns_b_, socket_b_, conf_b_, "keepalived-b");

    SCOPED_TRACE("A is master (priority 150), both uvsd have the virtual server");
    ASSERT_TRUE(wait_until([&] { return holds_gateway(ns_a_); }, 15s)) << context_b();
    EXPECT_FALSE(holds_gateway(ns_b_)) << context_b();
    EXPECT_TRUE(wait_table([&](const Table& t) { return has_both_servers(t); }, 15s))
        << context_b();
    EXPECT_TRUE(wait_until(
        [&] { return has_both_servers(parse_table(adm_b({"-Ln"}).out, false)); }, 15s))
        << context_b();
    EXPECT_TRUE(wait_sync_daemons("master", "backup")) << context_b();
    ASSERT_FALSE(HasFailure());
    auto answers = curl_each(http_url(kVip), 10);
    EXPECT_EQ(tally(answers), (std::map<std::string, int>{{"s1", 5}, {"s2", 5}}));
    EXPECT_EQ(conns_a(), 10) << context_b();
    EXPECT_EQ(conns_b(), 0) << context_b();
  }

  // `-L --daemon` of A and of B say "<A> sync daemon (mcast=d1, syncid=51" and "<B> ..." ("" for
  // none), within 10 s.
  bool wait_sync_daemons(const std::string& a, const std::string& b) {
    auto shows = [](const std::string& listing, const std::string& state) {
      return state.empty() ? listing.empty()
                           : listing.find(state + " sync daemon (mcast=d1, syncid=51,") == 0 &&
                                 split_lines(listing).size() == 1;
    };
    return wait_until(
        [&] {
          return shows(director_->adm({"-L", "--daemon"}).out, a) &&
                 shows(adm_b({"-L", "--daemon"}).out, b);
        },
        10s, 50ms);
  }

  // Stops A's keepalived (SIGTERM) and starts it again, as `systemctl restart` does.
  void restart_keepalived_a() {
    kill(parent_pid(*ka_a_, tag_a_), SIGTERM);
    ASSERT_TRUE(ka_a_->wait(15s).has_value()) << context_b();
    tag_a_ += "+";
    ka_a_ = &launch_keepalived(ns_a_, director_->socket(), conf_a_, tag_a_);
  }

  // SIGTERM to both keepalived: they exit and leave both tables empty.
  void stop_both() {
    for (auto [ka, tag] : {std::pair{ka_a_, tag_a_}, std::pair{ka_b_, std::string("keepalived-b")}}) {
      kill(parent_pid(*ka, tag), SIGTERM);
      EXPECT_TRUE(ka->wait(15s).has_value()) << tag << "\n" << context_b();
    }
    EXPECT_TRUE(director_->table().services.empty()) << context_b();
    EXPECT_TRUE(parse_table(adm_b({"-Ln"}).out, false).services.empty()) << context_b();
  }

  std::string ns_a_, ns_b_, socket_b_, conf_a_, conf_b_, tag_a_;
  Process* ka_a_ = nullptr;
  Process* ka_b_ = nullptr;
};

TEST_F(VrrpTest, StoppingTheMastersKeepalivedMovesTheServiceToTheBackup) {
  ASSERT_NO_FATAL_FAILURE(start_two_directors(false));

  {
    SCOPED_TRACE("A's keepalived stops: B takes the gateways, new connections go through B");
    const auto t0 = Clock::now();
    kill(parent_pid(*ka_a_, tag_a_), SIGTERM);
    ASSERT_TRUE(wait_until([&] { return holds_gateway(ns_b_); }, 10s, 20ms)) << context_b();
    std::cout << "[ failover ] master's keepalived stopped -> backup holds the VIP in "
              << ms_since(t0) << " ms (advert_int 1 s)" << std::endl;
    auto status = ka_a_->wait(15s);
    ASSERT_TRUE(status.has_value()) << context_b();
    EXPECT_EQ(*status, 0) << context_b();
    EXPECT_FALSE(holds_gateway(ns_a_));
    EXPECT_TRUE(director_->table().services.empty()) << context_b();
    EXPECT_TRUE(wait_sync_daemons("", "master")) << context_b();
    auto answers = curl_each(http_url(kVip), 10);
    EXPECT_EQ(tally(answers), (std::map<std::string, int>{{"s1", 5}, {"s2", 5}}));
    EXPECT_EQ(conns_b(), 10) << context_b();
  }

  {
    SCOPED_TRACE("A's keepalived starts again: A (higher priority, preempt) takes them back");
    const auto t0 = Clock::now();
    tag_a_ = "keepalived-a2";
    ka_a_ = &launch_keepalived(ns_a_, director_->socket(), conf_a_, tag_a_);
    ASSERT_TRUE(wait_until([&] { return holds_gateway(ns_a_) && !holds_gateway(ns_b_); }, 15s, 20ms))
        << context_b();
    std::cout << "[ failover ] master's keepalived started -> it holds the VIP again in "
              << ms_since(t0) << " ms" << std::endl;
    EXPECT_TRUE(wait_table([&](const Table& t) { return has_both_servers(t); }, 15s))
        << context_b();
    EXPECT_TRUE(wait_sync_daemons("master", "backup")) << context_b();
    const long before = conns_a();
    auto answers = curl_each(http_url(kVip), 10);
    EXPECT_EQ(tally(answers), (std::map<std::string, int>{{"s1", 5}, {"s2", 5}}));
    EXPECT_EQ(conns_a(), before + 10) << context_b();
  }

  stop_both();
}

// The master's uvsd dies (SIGKILL). keepalived does not notice by itself: its requests are
// relayed per request, so a dead uvsd only fails them. A vrrp_script tracking
// `uvsadm -L -n -t VIP:80` puts the instance in FAULT, which hands the gateways to B. uvsd started
// again has an empty table (keepalived never reads back, and a SIGHUP only edits what it
// believes is there), so A stays in FAULT and B keeps the traffic until A's keepalived restarts
// (what a systemd unit bound to uvsd's would do): then A installs its table and takes over again.
TEST_F(VrrpTest, KillingTheMastersUvsdMovesTheServiceToTheBackup) {
  ASSERT_NO_FATAL_FAILURE(start_two_directors(true));

  {
    SCOPED_TRACE("A's uvsd is killed: A's track_script fails, B takes the gateways");
    const auto t0 = Clock::now();
    ASSERT_EQ(kill(director_->pid(), SIGKILL), 0);
    ASSERT_TRUE(wait_until([&] { return holds_gateway(ns_b_) && !holds_gateway(ns_a_); }, 10s, 20ms))
        << context_b();
    std::cout << "[ failover ] master's uvsd killed -> backup holds the VIP in " << ms_since(t0)
              << " ms (vrrp_script interval 1 s, advert_int 1 s)" << std::endl;
    EXPECT_TRUE(ka_a_->running()) << "keepalived exited when its uvsd died\n" << context_b();
    auto answers = curl_each(http_url(kVip), 10);
    EXPECT_EQ(tally(answers), (std::map<std::string, int>{{"s1", 5}, {"s2", 5}}));
    EXPECT_EQ(conns_b(), 10) << context_b();
  }

  {
    SCOPED_TRACE("A's uvsd starts again, empty: A stays in FAULT, B keeps the traffic");
    director_->stop();  // reaps the killed one
    ASSERT_TRUE(director_->start()) << director_->log();
    std::this_thread::sleep_for(3s);
    EXPECT_TRUE(director_->table().services.empty()) << context_b();
    EXPECT_TRUE(holds_gateway(ns_b_)) << context_b();
    EXPECT_FALSE(holds_gateway(ns_a_)) << context_b();
    curl_each(http_url(kVip), 4);
    EXPECT_EQ(conns_b(), 14) << context_b();
  }

  {
    SCOPED_TRACE("A's keepalived restarts: A's table is back and A takes the gateways back");
    const auto t0 = Clock::now();
    ASSERT_NO_FATAL_FAILURE(restart_keepalived_a());
    ASSERT_TRUE(wait_until([&] { return holds_gateway(ns_a_) && !holds_gateway(ns_b_); }, 15s, 20ms))
        << context_b();
    std::cout << "[ failover ] master's keepalived restarted on its new uvsd -> it holds the VIP "
              << "again in " << ms_since(t0) << " ms" << std::endl;
    EXPECT_TRUE(has_both_servers(director_->table())) << context_b();
    auto answers = curl_each(http_url(kVip), 10);
    EXPECT_EQ(tally(answers), (std::map<std::string, int>{{"s1", 5}, {"s2", 5}}));
    EXPECT_EQ(conns_a(), 10) << context_b();
  }

  stop_both();
}

// ---------------------------------------------------------------------------------------------
// ldirectord (Debian, perl) calls /usr/sbin/ipvsadm for every change; under uvs-ipvs each ipvsadm
// it runs inherits the library. A minimal ldirectord.cf with negotiate checks over HTTP.
class LdirectordTest : public KeepalivedTest {
 protected:
  void start_ldirectord(const std::string& cf_text) {
    ASSERT_TRUE(std::filesystem::exists(kLdirectord)) << kLdirectord << ": run scripts/setup";
    // Its pid file is /run/ldirectord.<config name>.pid: the lab's prefix keeps it unique.
    cf_ = lab_->tmp("ldirectord-" + lab_->prefix() + ".cf");
    ASSERT_TRUE(write_file(cf_, cf_text));
    ldirectord_ = &spawn(lab_->director(),
                         under_library({kLdirectord, "-d", cf_, "start"}, director_->socket()),
                         "ldirectord");
  }
  std::string ldirectord_log() {
    return ldirectord_ ? "[ldirectord log]\n" + ldirectord_->log() + "\n[ldirectord.cf]\n" +
                             read_file(cf_)
                       : "";
  }

  static inline const std::string kLdirectord = "/usr/sbin/ldirectord";
  std::string cf_;
  Process* ldirectord_ = nullptr;
};

// quiescent=no: a failed real server is deleted; quiescent=yes: its weight goes to 0.
class LdirectordChecks : public LdirectordTest, public ::testing::WithParamInterface<bool> {};

TEST_P(LdirectordChecks, NegotiateCheckFollowsARealServerFailingAndReturning) {
  const bool quiescent = GetParam();
  ASSERT_NO_FATAL_FAILURE(start_lab(2));
  ASSERT_NO_FATAL_FAILURE(start_ldirectord(
      "checktimeout=2\n"
      "negotiatetimeout=2\n"
      "checkinterval=1\n"
      "autoreload=no\n"
      "quiescent=" + std::string(quiescent ? "yes" : "no") + "\n"
      "logfile=\"" + lab_->tmp("ldirectord-own.log") + "\"\n"
      "virtual=" + kService + "\n"
      "\treal=" + nat_real(1) + " masq 1\n"
      "\treal=" + nat_real(2) + " masq 1\n"
      "\tservice=http\n"
      "\trequest=\"/\"\n"
      "\treceive=\"s\"\n"
      "\tscheduler=rr\n"
      "\tprotocol=tcp\n"
      "\tchecktype=negotiate\n"));

  {
    SCOPED_TRACE("ldirectord installs the service and both real servers");
    Table t;
    EXPECT_TRUE(wait_table(
        [&](const Table& tb) {
          return weight_of(tb, kService, nat_real(1)) == 1 &&
                 weight_of(tb, kService, nat_real(2)) == 1;
        },
        20s, &t))
        << director_->adm({"-Ln"}).out << ldirectord_log();
    ASSERT_FALSE(HasFailure());
    auto answers = curl_each(http_url(kVip), 10);
    EXPECT_EQ(tally(answers), (std::map<std::string, int>{{"s1", 5}, {"s2", 5}}));
  }

  {
    SCOPED_TRACE(quiescent ? "s2's nginx stops: ldirectord sets its weight to 0"
                           : "s2's nginx stops: ldirectord removes it");
    const auto t0 = Clock::now();
    ASSERT_NO_FATAL_FAILURE(stop_http_server(2));
    const long detect = time_until(
        [&](const Table& tb) {
          return (quiescent ? weight_of(tb, kService, nat_real(2)) == 0
                            : !has_dest(tb, kService, nat_real(2))) &&
                 weight_of(tb, kService, nat_real(1)) == 1;
        },
        15s, t0);
    ASSERT_GE(detect, 0) << director_->adm({"-Ln"}).out << ldirectord_log();
    std::cout << "[ detect   ] ldirectord negotiate (checkinterval 1 s, negotiatetimeout 2 s, "
              << "quiescent=" << (quiescent ? "yes" : "no") << "): nginx stopped -> "
              << (quiescent ? "weight 0" : "removed") << " in uvsadm -Ln in " << detect << " ms"
              << std::endl;
    auto answers = curl_each(http_url(kVip), 10);
    EXPECT_EQ(tally(answers), (std::map<std::string, int>{{"s1", 10}}));
  }

  {
    SCOPED_TRACE("s2's nginx starts again: ldirectord adds it back");
    ASSERT_NO_FATAL_FAILURE(start_http_server(2));
    EXPECT_TRUE(wait_table(
        [&](const Table& tb) { return weight_of(tb, kService, nat_real(2)) == 1; }, 15s))
        << director_->adm({"-Ln"}).out << ldirectord_log();
    auto answers = curl_each(http_url(kVip), 10);
    EXPECT_EQ(tally(answers), (std::map<std::string, int>{{"s1", 5}, {"s2", 5}}));
  }

  {
    SCOPED_TRACE("SIGTERM: ldirectord removes its service and exits");
    kill(ldirectord_->pid(), SIGTERM);
    auto status = ldirectord_->wait(20s);
    ASSERT_TRUE(status.has_value()) << "ldirectord still runs\n" << ldirectord_log();
    EXPECT_EQ(*status, 0) << ldirectord_log();
    EXPECT_TRUE(director_->table().services.empty())
        << director_->adm({"-Ln"}).out << ldirectord_log();
  }
}

INSTANTIATE_TEST_SUITE_P(Quiescent, LdirectordChecks, ::testing::Bool(),
                         [](const ::testing::TestParamInfo<bool>& info) {
                           return std::string(info.param ? "QuiescentYes" : "QuiescentNo");
                         });

}  // namespace
}  // namespace uvs::testing::netns
