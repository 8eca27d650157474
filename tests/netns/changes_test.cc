// Changes under load: the table edited while wrk and curl run against the VIP loses no
// established connection and no request; uvsd restarted with --config (a file written by
// uvsadm -S -n) serves the same table again.
#include <gtest/gtest.h>

#include "tests/netns/netns_lab.h"

namespace uvs::testing::netns {
namespace {

const std::string kVip = "192.168.56.102";
const std::string kService = "192.168.56.102:80";
std::string real(int k) { return Lab::server_v4(k) + ":8000"; }

class ChangesTest : public LabTest {
 protected:
  // Saves the table with -S -n into a file, stops uvsd, checks that DOWN_URL no longer
  // answers, starts uvsd with --config FILE and checks that the same table is back. Returns
  // the saved text.
  std::string restart_with_saved_config(const std::string& down_url) {
    RunResult saved = director_->adm({"-S", "-n"});
    EXPECT_EQ(saved.status, 0) << saved.err;
    const std::string config = lab_->tmp("uvs.conf");
    EXPECT_TRUE(write_file(config, saved.out));
    EXPECT_EQ(director_->stop(), 0) << director_->log();
    RunResult down =
        lab_->exec(lab_->client(), {"/usr/bin/curl", "-sS", "--max-time", "1", down_url});
    EXPECT_NE(down.status, 0) << "the VIP answered with uvsd stopped: " << down.out;
    EXPECT_TRUE(director_->start({"--config", config})) << director_->log();
    RunResult again = director_->adm({"-S", "-n"});
    EXPECT_EQ(again.out, saved.out) << "the restarted table differs from the saved one";
    return saved.out;
  }
};

// wrk keeps 16 keep-alive connections busy for 5 s while a curl opens a new connection every
// 12 ms; meanwhile s3 is added, the weights are edited, s3 is drained (weight 0) and deleted,
// and added back. wrk must see no socket error (connect, read, write, timeout) and no non-2xx
// answer, and every one of curl's requests must be answered.
TEST_F(ChangesTest, EditingTheTableUnderLoadLosesNoConnection) {
  ASSERT_NO_FATAL_FAILURE(start_lab(3));
  ASSERT_TRUE(adm({"-A", "-t", kService, "-s", "wrr"}));
  ASSERT_TRUE(adm({"-a", "-t", kService, "-r", real(1), "-m", "-w", "1"}));
  ASSERT_TRUE(adm({"-a", "-t", kService, "-r", real(2), "-m", "-w", "1"}));

  Process& wrk =
      spawn(lab_->client(),
            {"/usr/bin/wrk", "-t1", "-c16", "-d5s", "--timeout", "4s", http_url(kVip)}, "wrk");
  constexpr int kCurls = 350;
  std::vector<std::string> curl = {
      "/usr/bin/curl", "-sS", "--max-time",       "5", "--connect-timeout", "3", "--rate",
      "80/s",          "-H",  "Connection: close"};
  for (int i = 0; i < kCurls; ++i) curl.push_back(http_url(kVip));
  Process& curls = spawn(lab_->client(), curl, "curls");

  // wrk connects first: wait until its 16 connections are established on s1 and s2.
  Table t;
  ASSERT_TRUE(wait_table(
      [&](const Table& tb) {
        const ServiceRow* s = tb.service("TCP", kService);
        long active = 0;
        if (s)
          for (const auto& d : s->dests) active += d.active;
        return active >= 16;
      },
      5s, &t))
      << director_->context();
  const auto step = [&](std::chrono::milliseconds pause) { std::this_thread::sleep_for(pause); };

  step(500ms);
  ASSERT_TRUE(adm({"-a", "-t", kService, "-r", real(3), "-m", "-w", "2"}));
  step(700ms);
  ASSERT_TRUE(adm({"-e", "-t", kService, "-r", real(1), "-m", "-w", "3"}));
  ASSERT_TRUE(adm({"-e", "-t", kService, "-r", real(2), "-m", "-w", "2"}));
  step(700ms);
  // The operator's way to remove a server: weight 0, wait until it has no active connection,
  // then delete it.
  ASSERT_TRUE(adm({"-e", "-t", kService, "-r", real(3), "-m", "-w", "0"}));
  ASSERT_TRUE(wait_table(
      [&](const Table& tb) {
        const ServiceRow* s = tb.service("TCP", kService);
        return s && s->dest(real(3)) && s->dest(real(3))->active == 0;
      },
      5s, &t))
      << director_->context();
  ASSERT_TRUE(adm({"-d", "-t", kService, "-r", real(3)}));
  step(500ms);
  ASSERT_TRUE(adm({"-a", "-t", kService, "-r", real(3), "-m", "-w", "1"}));
  ASSERT_TRUE(adm({"-e", "-t", kService, "-r", real(1), "-m", "-w", "1"}));

  auto wrk_status = wrk.wait(15s);
  ASSERT_TRUE(wrk_status.has_value()) << "wrk did not finish";
  EXPECT_EQ(*wrk_status, 0) << wrk.log();
  WrkResult w = parse_wrk(wrk.log());
  EXPECT_GT(w.requests, 100) << wrk.log();
  EXPECT_FALSE(w.has_socket_errors) << wrk.log();
  EXPECT_EQ(w.non_2xx, 0) << wrk.log();

  auto curl_status = curls.wait(20s);
  ASSERT_TRUE(curl_status.has_value()) << "curl did not finish";
  EXPECT_EQ(*curl_status, 0) << curls.log().substr(0, 2000);
  std::vector<std::string> answers;
  for (const auto& line : split_lines(curls.log())) answers.push_back(line);
  auto counts = tally(answers);
  EXPECT_EQ(counts["s1"] + counts["s2"] + counts["s3"], kCurls) << to_string(counts);
  EXPECT_EQ(answers.size(), static_cast<size_t>(kCurls))
      << "curl said: " << curls.log().substr(0, 2000);
  EXPECT_GT(counts["s3"], 0) << "s3, added under load, got no new connection";

  // The table is what the edits made it.
  t = director_->table();
  const ServiceRow* s = t.service("TCP", kService);
  ASSERT_TRUE(s) << director_->context();
  ASSERT_EQ(s->dests.size(), 3u);
  for (int k = 1; k <= 3; ++k) {
    ASSERT_TRUE(s->dest(real(k)));
    EXPECT_EQ(s->dest(real(k))->weight, k == 2 ? 2 : 1) << real(k);
  }
}

// NAT (TCP) and UDP services saved with -S -n, uvsd stopped and started with --config: the
// same table, and the VIPs answer again, with counters from zero.
TEST_F(ChangesTest, RestartWithSavedConfigServesAgain) {
  ASSERT_NO_FATAL_FAILURE(start_lab(2));
  // A VIP that is no address in the lab, so that nothing answers for it while uvsd is down.
  const std::string vip = "10.100.0.1";
  ASSERT_TRUE(adm({"-A", "-t", vip + ":80", "-s", "wrr"}));
  ASSERT_TRUE(adm({"-A", "-u", vip + ":7000", "-s", "rr"}));
  for (int k = 1; k <= 2; ++k) {
    ASSERT_TRUE(adm({"-a", "-t", vip + ":80", "-r", real(k), "-m", "-w", std::to_string(k)}));
    ASSERT_TRUE(adm({"-a", "-u", vip + ":7000", "-r", Lab::server_v4(k) + ":7000", "-m"}));
    start_udp_echo(k, "0.0.0.0", 7000);
  }
  EXPECT_EQ(curl_each(http_url(vip), 3).size(), 3u);

  restart_with_saved_config(http_url(vip));
  auto answers = curl_each(http_url(vip), 9);
  EXPECT_EQ(tally(answers), (std::map<std::string, int>{{"s1", 3}, {"s2", 6}})) << join(answers);
  UdpResult udp = udp_exchange(vip, 7000, 2, 5, 100);
  EXPECT_EQ(udp.ok, 10) << udp.output;
  Table t = director_->stats();
  ASSERT_TRUE(t.service("TCP", vip + ":80")) << director_->context();
  EXPECT_EQ(t.service("TCP", vip + ":80")->conns, 9) << "counters start again at zero";
  EXPECT_EQ(t.service("UDP", vip + ":7000")->in_pkts, 10);
}

// The same for the seed's FULLNAT service: its local address (-P -z) must survive -S / --config,
// or the restarted service has no source address to use.
TEST_F(ChangesTest, RestartWithSavedConfigKeepsFullNatLocalAddresses) {
  ASSERT_NO_FATAL_FAILURE(start_lab(2));
  const std::string fnat = "192.168.58.200:80";
  ASSERT_TRUE(adm({"-A", "-t", fnat, "-s", "wrr"}));
  for (int k = 1; k <= 2; ++k)
    ASSERT_TRUE(
        adm({"-a", "-t", fnat, "-r", Lab::server_v4_b(k) + ":80", "-b", "-w", std::to_string(k)}));
  ASSERT_TRUE(adm({"-P", "-t", fnat, "-z", "192.168.58.100"}));
  EXPECT_EQ(curl_each(http_url("192.168.58.200"), 3).size(), 3u);

  std::string saved = restart_with_saved_config(http_url("192.168.58.200"));
  EXPECT_NE(saved.find("-P -t 192.168.58.200:80 -z 192.168.58.100"), std::string::npos)
      << "the FULLNAT local address is not saved:\n"
      << saved;
  RunResult laddrs = director_->adm({"-G", "-n"});
  EXPECT_NE(laddrs.out.find("192.168.58.100"), std::string::npos) << laddrs.out;
  auto answers = curl_each(http_url("192.168.58.200"), 9);
  // wrr 1:2 over both servers. Rebuilt one -a at a time, the kernel's wrr makes one short
  // pass before its cycle (ip_vs_wrr_dest_changed() keeps cw at the level the first add set),
  // and the restart's own probes used some picks: the exact split of these 9 depends on that
  // phase.
  auto counts = tally(answers);
  EXPECT_EQ(counts["s1"] + counts["s2"], 9) << join(answers);
  EXPECT_GE(counts["s1"], 2) << join(answers);
  EXPECT_GT(counts["s2"], counts["s1"]) << join(answers);
}

}  // namespace
}  // namespace uvs::testing::netns
