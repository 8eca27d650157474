// A NAT real server's packets that belong to no uvs connection, in the namespace lab: the
// kernel's IPVS lets them through untranslated (ip_vs_out() accepts what ip_vs_conn_out_get()
// does not find) and the director routes them on or delivers them to itself; so does uvsd.
//
// Runbook, with the fast path on (peers with an XDP program) and with --no-offload:
//   - a NAT service 192.168.56.102:80 (TCP) and :7000 (UDP) to server 1, so that every packet
//     from 172.17.0.2:8000 and 172.17.0.2:7000 is steered to uvsd;
//   - the client reaches server 1 straight at its own address (monitoring, an administrator):
//     nginx answers over TCP, the echo server over UDP, both untranslated, while the VIP still
//     answers translated;
//   - the director itself fetches a page from server 1's port 8000 (what keepalived's
//     TCP_CHECK and HTTP_GET checkers do): the answer is the director's kernel's;
//   - behind an all-ports service (VIP:0 -> server 1, port 0), server 1 fetches a page from
//     an HTTP server on the client's side, through the director (its default gateway);
//   - none of that made a connection; uvsd's exit log counts what it forwarded untranslated.
#include "tests/netns/netns_lab.h"

namespace uvs::testing::netns {
namespace {

constexpr const char* kVip = "192.168.56.102";

class StrayTest : public LabTest, public ::testing::WithParamInterface<bool> {
 protected:
  void SetUp() override {
    LabTest::SetUp();
    if (IsSkipped()) return;
    const bool offload = GetParam();
    ASSERT_NO_FATAL_FAILURE(start_lab(2, {offload ? "--offload" : "--no-offload"}));
    if (offload) {
      ASSERT_NO_FATAL_FAILURE(attach_peer_xdp());
    }
  }

  // curl URL once in namespace NS: the body, or "curl failed: ..." with its error.
  std::string fetch(const std::string& ns, const std::string& url) {
    RunResult r = lab_->exec(ns, {"/usr/bin/curl", "-sS", "--max-time", "5", url}, 20s);
    return r.status == 0 ? r.out : "curl failed: " + r.err;
  }

  // The connections uvsd lists, one per line.
  std::string conns() { return director_->adm({"-Lnc"}).out; }

  // Stops uvsd; the packets its workers forwarded untranslated (its exit log's "forwarded=").
  long forwarded_at_exit() {
    EXPECT_EQ(director_->stop(), 0) << director_->log();
    const std::string log = director_->log();
    long total = 0;
    const std::regex field(R"(uvsd: worker \d+: .* forwarded=(\d+) )");
    for (std::sregex_iterator it(log.begin(), log.end(), field), end; it != end; ++it)
      total += std::stol((*it)[1]);
    return total;
  }
};

TEST_P(StrayTest, AClientSideHostReachesARealServerStraightAtItsAddress) {
  ASSERT_TRUE(adm({"-A", "-t", std::string(kVip) + ":80", "-s", "rr"}));
  ASSERT_TRUE(adm({"-a", "-t", std::string(kVip) + ":80", "-r", Lab::server_v4(1) + ":8000", "-m"}));
  ASSERT_TRUE(adm({"-A", "-u", std::string(kVip) + ":7000", "-s", "rr"}));
  ASSERT_TRUE(adm({"-a", "-u", std::string(kVip) + ":7000", "-r", Lab::server_v4(1) + ":7000", "-m"}));
  start_udp_echo(1, "0.0.0.0", 7000);

  // Untranslated both ways: the client's packets go through the kernel (nothing steers them),
  // the server's through uvsd.
  EXPECT_EQ(fetch(lab_->client(), http_url(Lab::server_v4(1), 8000)), "s1\n") << director_->context();
  const UdpResult udp = udp_exchange(Lab::server_v4(1), 7000, 2, 5, 100);
  EXPECT_EQ(udp.ok, udp.sent) << udp.output << director_->context();
  EXPECT_EQ(conns().find("172.17.0.2"), std::string::npos)
      << "a stray packet made a connection:\n" << conns();

  // The service itself is still translated (its replies come from the VIP).
  EXPECT_EQ(fetch(lab_->client(), http_url(kVip, 80)), "s1\n") << director_->context();
  const UdpResult via_vip = udp_exchange(kVip, 7000, 1, 5, 100);
  EXPECT_EQ(via_vip.ok, via_vip.sent) << via_vip.output;
  // The operator sees them: at least the TCP answer and the ten datagrams.
  EXPECT_GE(forwarded_at_exit(), 11) << director_->log();
}

// keepalived's checkers connect from the director to the real server's port: the server's
// answer is for the director's own stack, which the XDP program hands it.
TEST_P(StrayTest, TheDirectorReachesARealServersPortItself) {
  ASSERT_TRUE(adm({"-A", "-t", std::string(kVip) + ":80", "-s", "rr"}));
  for (int k = 1; k <= 2; ++k)
    ASSERT_TRUE(adm({"-a", "-t", std::string(kVip) + ":80", "-r", Lab::server_v4(k) + ":8000", "-m"}));
  for (int k = 1; k <= 2; ++k)
    EXPECT_EQ(fetch(lab_->director(), http_url(Lab::server_v4(k), 8000)), "s" + std::to_string(k) + "\n")
        << director_->context();
  EXPECT_EQ(fetch(lab_->client(), http_url(kVip, 80)).substr(0, 1), "s") << director_->context();
}

TEST_P(StrayTest, ARealServerBehindAnAllPortsServiceReachesAHostOnTheClientSide) {
  // Port 0 on both sides: every TCP packet server 1 sends is steered to uvsd.
  ASSERT_TRUE(adm({"-A", "-t", std::string(kVip) + ":0", "-s", "rr", "-p", "60"}));
  ASSERT_TRUE(adm({"-a", "-t", std::string(kVip) + ":0", "-r", Lab::server_v4(1), "-m"}));
  const std::string www = lab_->tmp("client-www");
  std::filesystem::create_directories(www);
  write_file(www + "/hello", "from the client side\n");
  spawn(lab_->client(),
        {"/usr/bin/python3", "-m", "http.server", "8080", "--bind", Lab::kClientV4, "--directory", www},
        "client-http");
  ASSERT_TRUE(wait_for_listener(lab_->client(), 8080));

  for (int i = 0; i < 3; ++i)
    EXPECT_EQ(fetch(lab_->server(1), http_url(Lab::kClientV4, 8080, "/hello")), "from the client side\n")
        << director_->context();
  EXPECT_EQ(conns().find("172.17.0.2"), std::string::npos)
      << "a stray packet made a connection:\n" << conns();
  // Clients of the service still reach server 1, translated.
  EXPECT_EQ(fetch(lab_->client(), http_url(kVip, 8000)), "s1\n") << director_->context();
  EXPECT_GE(forwarded_at_exit(), 3) << director_->log();
}

INSTANTIATE_TEST_SUITE_P(Offload, StrayTest, ::testing::Values(true, false),
                         [](const ::testing::TestParamInfo<bool>& info) {
                           return info.param ? std::string("Offload") : std::string("NoOffload");
                         });

}  // namespace
}  // namespace uvs::testing::netns
