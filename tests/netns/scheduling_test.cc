// Scheduling seen from outside: which real server answers (nginx answers "sK") as the client
// opens connections to a NAT service, under rr, wrr, sh, persistence, weight 0, a deleted
// server and an upper connection threshold.
#include <gtest/gtest.h>

#include "tests/netns/netns_lab.h"

namespace uvs::testing::netns {
namespace {

// The seed's NAT service: VIP 192.168.56.102:80 -> 172.17.0.2:8000 (s1), 172.17.0.3:8000 (s2).
const std::string kVip = "192.168.56.102";
const std::string kService = "192.168.56.102:80";
std::string real(int k) { return Lab::server_v4(k) + ":8000"; }
std::string name(int k) { return "s" + std::to_string(k); }

class SchedulingTest : public LabTest {
 protected:
  // The NAT service with SCHED and the real servers (with their extra options) in order.
  void nat_service(const std::vector<std::string>& service_opts,
                   const std::vector<std::pair<int, std::vector<std::string>>>& servers) {
    ASSERT_NO_FATAL_FAILURE(start_lab(2));
    std::vector<std::string> a = {"-A", "-t", kService};
    a.insert(a.end(), service_opts.begin(), service_opts.end());
    ASSERT_TRUE(adm(a));
    for (const auto& [k, opts] : servers) {
      std::vector<std::string> d = {"-a", "-t", kService, "-r", real(k), "-m"};
      d.insert(d.end(), opts.begin(), opts.end());
      ASSERT_TRUE(adm(d));
    }
  }

  // Extra client addresses on the client's link (10.99.1.0/24, the director's d0 subnet).
  void add_client_addresses(const std::vector<std::string>& addrs) {
    for (const auto& a : addrs) {
      RunResult r = lab_->exec(lab_->client(), {kIp, "addr", "add", a + "/24", "dev", "c0"});
      ASSERT_EQ(r.status, 0) << r.err;
    }
  }

  // A slow download of /10m.bin (4 MB/s, so about 2.5 s) in the background; returns once the
  // director lists its connection as ESTABLISHED, with the real server it went to.
  struct SlowDownload {
    Process* curl = nullptr;
    std::string file;
    int server = 0;
  };
  SlowDownload start_slow_download() {
    SlowDownload dl;
    dl.file = lab_->tmp("slow.bin");
    dl.curl = &spawn(lab_->client(),
                     {"/usr/bin/curl", "-sS", "--max-time", "30", "--limit-rate", "4M", "-o",
                      dl.file, http_url(kVip, 80, "/10m.bin")},
                     "slow-download");
    std::vector<ConnRow> rows;
    bool seen = wait_until(
        [&] {
          for (const auto& r : director_->conns()) {
            if (r.state != "ESTABLISHED" || r.virt != kService) continue;
            for (int k = 1; k <= 2; ++k)
              if (r.dest == real(k)) dl.server = k;
          }
          return dl.server != 0;
        },
        5s, 20ms);
    EXPECT_TRUE(seen) << "no ESTABLISHED entry for the download\n" << director_->context();
    return dl;
  }
  // Waits for the download and checks it is the whole of its server's file.
  void finish_slow_download(const SlowDownload& dl) {
    auto status = dl.curl->wait(20s);
    ASSERT_TRUE(status.has_value()) << "the download did not finish";
    EXPECT_EQ(*status, 0) << "the download broke off: " << dl.curl->log();
    EXPECT_EQ(which_server_file(dl.file), dl.server)
        << "the download is not s" << dl.server << "'s 10m.bin byte for byte (size "
        << std::filesystem::file_size(dl.file) << ")";
  }
};

TEST_F(SchedulingTest, RoundRobinSplitsHundredConnectionsEvenly) {
  ASSERT_NO_FATAL_FAILURE(nat_service({"-s", "rr"}, {{1, {}}, {2, {}}}));
  auto answers = curl_each(http_url(kVip), 100);
  EXPECT_EQ(tally(answers), (std::map<std::string, int>{{"s1", 50}, {"s2", 50}}));
  for (size_t i = 1; i < answers.size(); ++i)
    ASSERT_NE(answers[i], answers[i - 1]) << "connection " << i << ": " << join(answers);
  Table t = director_->stats();
  const ServiceRow* s = t.service("TCP", kService);
  ASSERT_TRUE(s) << director_->context();
  EXPECT_EQ(s->conns, 100);
  for (int k = 1; k <= 2; ++k) {
    ASSERT_TRUE(s->dest(real(k)));
    EXPECT_EQ(s->dest(real(k))->conns, 50) << real(k);
  }
}

TEST_F(SchedulingTest, WeightedRoundRobinSplitsHundredConnectionsByWeight) {
  ASSERT_NO_FATAL_FAILURE(nat_service({"-s", "wrr"}, {{1, {"-w", "1"}}, {2, {"-w", "3"}}}));
  auto answers = curl_each(http_url(kVip), 100);
  EXPECT_EQ(tally(answers), (std::map<std::string, int>{{"s1", 25}, {"s2", 75}}));
  // Change the weights: the next 100 follow the new ones, 2:3.
  ASSERT_TRUE(adm({"-e", "-t", kService, "-r", real(1), "-m", "-w", "2"}));
  answers = curl_each(http_url(kVip), 100);
  EXPECT_EQ(tally(answers), (std::map<std::string, int>{{"s1", 40}, {"s2", 60}}));
  Table t = director_->stats();
  const ServiceRow* s = t.service("TCP", kService);
  ASSERT_TRUE(s && s->dest(real(1)) && s->dest(real(2))) << director_->context();
  EXPECT_EQ(s->dest(real(1))->conns, 65);
  EXPECT_EQ(s->dest(real(2))->conns, 135);
}

TEST_F(SchedulingTest, SourceHashingKeepsEachClientOnOneServer) {
  ASSERT_NO_FATAL_FAILURE(nat_service({"-s", "sh"}, {{1, {}}, {2, {}}}));
  std::vector<std::string> clients;
  for (int i = 10; i < 18; ++i) clients.push_back("10.99.1." + std::to_string(i));
  ASSERT_NO_FATAL_FAILURE(add_client_addresses(clients));
  std::map<std::string, int> servers_used;
  for (const auto& client : clients) {
    auto answers = curl_each(http_url(kVip), 5, {"--interface", client});
    auto t = tally(answers);
    EXPECT_EQ(t.size(), 1u) << "client " << client << " moved between servers: " << join(answers);
    if (!answers.empty()) ++servers_used[answers[0]];
  }
  // sh hashes the source address over both servers: eight clients do not all land on one.
  EXPECT_EQ(servers_used.size(), 2u) << to_string(servers_used);
  // The same clients again, in reverse order: each on the server it had.
  for (auto it = clients.rbegin(); it != clients.rend(); ++it) {
    auto first = curl_each(http_url(kVip), 1, {"--interface", *it});
    auto again = curl_each(http_url(kVip), 1, {"--interface", *it});
    EXPECT_EQ(first, again) << *it;
  }
}

TEST_F(SchedulingTest, PersistenceKeepsClientOnItsServer) {
  ASSERT_NO_FATAL_FAILURE(nat_service({"-s", "rr", "-p", "60"}, {{1, {}}, {2, {}}}));
  ASSERT_NO_FATAL_FAILURE(add_client_addresses({"10.99.1.20"}));
  auto first = curl_each(http_url(kVip), 10);
  ASSERT_EQ(first.size(), 10u);
  EXPECT_EQ(tally(first).size(), 1u) << "rr -p moved the client: " << join(first);
  // A second client gets a template of its own, on the next server of the rr.
  auto second = curl_each(http_url(kVip), 10, {"--interface", "10.99.1.20"});
  ASSERT_EQ(second.size(), 10u);
  EXPECT_EQ(tally(second).size(), 1u) << join(second);
  EXPECT_NE(first[0], second[0]) << "rr gave both clients' templates the same server";
  // The first client again, after the other one: still its server.
  auto again = curl_each(http_url(kVip), 5);
  EXPECT_EQ(tally(again), (std::map<std::string, int>{{first[0], 5}}));
}

TEST_F(SchedulingTest, WeightZeroLetsOpenConnectionFinishAndSendsNewOnesElsewhere) {
  ASSERT_NO_FATAL_FAILURE(nat_service({"-s", "rr"}, {{1, {}}, {2, {}}}));
  SlowDownload dl = start_slow_download();
  ASSERT_NE(dl.server, 0);
  const int other = 3 - dl.server;
  ASSERT_TRUE(adm({"-e", "-t", kService, "-r", real(dl.server), "-m", "-w", "0"}));
  Table t = director_->table();
  ASSERT_TRUE(t.service("TCP", kService) && t.service("TCP", kService)->dest(real(dl.server)));
  EXPECT_EQ(t.service("TCP", kService)->dest(real(dl.server))->weight, 0);
  EXPECT_EQ(t.service("TCP", kService)->dest(real(dl.server))->active, 1)
      << "the download is still open";
  EXPECT_TRUE(dl.curl->running()) << "the download should still be running (4 MB/s for 10 MB)";
  auto answers = curl_each(http_url(kVip), 10);
  EXPECT_EQ(tally(answers), (std::map<std::string, int>{{name(other), 10}}));
  ASSERT_NO_FATAL_FAILURE(finish_slow_download(dl));
}

// Deleting a real server: it leaves the listing and new connections go to the others at once;
// the entry of its open connection stays (as in the kernel).
TEST_F(SchedulingTest, DeletedServerGetsNoNewConnections) {
  ASSERT_NO_FATAL_FAILURE(nat_service({"-s", "rr"}, {{1, {}}, {2, {}}}));
  SlowDownload dl = start_slow_download();
  ASSERT_NE(dl.server, 0);
  const int other = 3 - dl.server;
  ASSERT_TRUE(adm({"-d", "-t", kService, "-r", real(dl.server)}));
  Table t = director_->table();
  ASSERT_TRUE(t.service("TCP", kService));
  EXPECT_EQ(t.service("TCP", kService)->dests.size(), 1u);
  EXPECT_FALSE(t.service("TCP", kService)->dest(real(dl.server))) << "-d left it listed";
  auto answers = curl_each(http_url(kVip), 20);
  EXPECT_EQ(tally(answers), (std::map<std::string, int>{{name(other), 20}}));
  bool listed = false;
  for (const auto& r : director_->conns())
    if (r.state == "ESTABLISHED" && r.dest == real(dl.server)) listed = true;
  EXPECT_TRUE(listed) << "the connection entry went with its server\n" << director_->context();
  t = director_->stats();
  ASSERT_TRUE(t.service("TCP", kService) && t.service("TCP", kService)->dest(real(other)));
  EXPECT_EQ(t.service("TCP", kService)->dest(real(other))->conns, 20);
}

// The open connection of a deleted NAT real server, as in the kernel with expire_nodest_conn=0
// (the default): its packets are dropped while the server is gone (the transfer stalls), and it
// continues when the server is added back (ipvs-sysctl.rst: "...add back the server later, and
// the connections to the server can continue").
TEST_F(SchedulingTest, DeletedServersOpenConnectionResumesWhenReadded) {
  ASSERT_NO_FATAL_FAILURE(nat_service({"-s", "rr"}, {{1, {}}, {2, {}}}));
  SlowDownload dl = start_slow_download();
  ASSERT_NE(dl.server, 0);
  ASSERT_TRUE(adm({"-d", "-t", kService, "-r", real(dl.server)}));

  // The download stalls: its size stops growing (once curl has drained what was buffered).
  auto size = [&] {
    std::error_code ec;
    auto n = std::filesystem::file_size(dl.file, ec);
    return ec ? 0 : static_cast<long>(n);
  };
  long last = -1;
  auto since = Clock::now();
  bool stalled = wait_until(
      [&] {
        long now = size();
        if (now != last) last = now, since = Clock::now();
        return Clock::now() - since >= 700ms;
      },
      8s, 50ms);
  EXPECT_TRUE(stalled) << "the download kept going to a deleted server (size " << size() << ")";
  EXPECT_TRUE(dl.curl->running()) << dl.curl->log();
  // No packet of it may leave the director untranslated: the client would answer with a reset.
  EXPECT_EQ(kernel_counter(lab_->client(), "TcpOutRsts"), 0) << "the client sent resets";

  ASSERT_TRUE(adm({"-a", "-t", kService, "-r", real(dl.server), "-m"}));
  ASSERT_NO_FATAL_FAILURE(finish_slow_download(dl));
}

TEST_F(SchedulingTest, UpperThresholdPushesNewConnectionsToTheOtherServer) {
  // Only s1, with -x 1: one open connection fills it.
  ASSERT_NO_FATAL_FAILURE(nat_service({"-s", "rr"}, {{1, {"-x", "1"}}}));
  Process& hold =
      spawn(lab_->client(),
            {"/usr/bin/socat", "-u", "SYSTEM:sleep 30", "TCP:" + kService + ",connect-timeout=3"},
            "hold");
  Table t;
  ASSERT_TRUE(wait_table(
      [&](const Table& tb) {
        auto* s = tb.service("TCP", kService);
        return s && s->dest(real(1)) && s->dest(real(1))->active == 1;
      },
      5s, &t))
      << "the held connection is not counted active\n"
      << director_->context();
  ASSERT_TRUE(adm({"-a", "-t", kService, "-r", real(2), "-m"}));
  // rr alone would alternate; s1 is over its threshold, so every new one goes to s2.
  auto answers = curl_each(http_url(kVip), 10);
  EXPECT_EQ(tally(answers), (std::map<std::string, int>{{"s2", 10}}));
  EXPECT_TRUE(hold.running()) << hold.log();
  t = director_->table();
  ASSERT_TRUE(t.service("TCP", kService) && t.service("TCP", kService)->dest(real(1)));
  EXPECT_EQ(t.service("TCP", kService)->dest(real(1))->active, 1);
  // Without the threshold s1 takes its share again.
  ASSERT_TRUE(adm({"-e", "-t", kService, "-r", real(1), "-m", "-x", "0"}));
  answers = curl_each(http_url(kVip), 10);
  EXPECT_EQ(tally(answers), (std::map<std::string, int>{{"s1", 5}, {"s2", 5}}));
}

}  // namespace
}  // namespace uvs::testing::netns
