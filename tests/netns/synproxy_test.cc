// The SYN proxy (-j enable) end to end, NAT and FULLNAT, with the XDP fast path off and on:
// real curl, wrk and a 10 MB download through the proxied service; -Lnc shows SYN_SENT while
// the real server has not answered and ESTABLISHED after; tcpdump on the client and on the
// real server shows the client answered by the director alone (one SYN-ACK, the cookie) and
// the real server getting the client's own initial sequence number.
#include <gtest/gtest.h>

#include <regex>
#include <set>
#include <thread>

#include "tests/netns/netns_lab.h"

namespace uvs::testing::netns {
namespace {

struct ProxyCase {
  Mode mode;
  bool offload;
};

std::string case_name(const ::testing::TestParamInfo<ProxyCase>& info) {
  return mode_name(info.param.mode) + (info.param.offload ? "Offload" : "");
}

void PrintTo(const ProxyCase& c, std::ostream* os) {
  *os << mode_name(c.mode) << (c.offload ? " offload" : "");
}

constexpr size_t kTenMegabytes = 10 << 20;
constexpr int kSilentPort = 9999;  // a service whose real servers drop the SYN

class SynproxyTest : public LabTest, public ::testing::WithParamInterface<ProxyCase> {
 protected:
  void SetUp() override {
    LabTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    for (const char* tool : {"/usr/bin/tcpdump", "/usr/sbin/nft"}) {
      ASSERT_TRUE(std::filesystem::exists(tool)) << tool << " is missing: run scripts/setup";
    }
    const ProxyCase c = GetParam();
    nat_ = c.mode == Mode::kNat;
    vip_ = nat_ ? "192.168.56.102" : "192.168.58.200";
    rs_port_ = nat_ ? 8000 : 80;
    ASSERT_NO_FATAL_FAILURE(start_lab(2, {c.offload ? "--offload" : "--no-offload"}));
    if (c.offload) {
      ASSERT_NO_FATAL_FAILURE(attach_peer_xdp());
    }
    for (int port : {80, kSilentPort}) {
      const std::string svc = host_port(vip_, port);
      ASSERT_TRUE(adm({"-A", "-t", svc, "-s", "rr", "-j", "enable"}));
      for (int k = 1; k <= 2; ++k) {
        const std::string rs = nat_ ? Lab::server_v4(k) : Lab::server_v4_b(k);
        ASSERT_TRUE(adm({"-a", "-t", svc, "-r", host_port(rs, port == 80 ? rs_port_ : port),
                         nat_ ? "-m" : "-b"}));
      }
      if (!nat_) {
        ASSERT_TRUE(adm({"-P", "-t", svc, "-z", "192.168.58.100"}));
      }
    }
  }

  // tcpdump in NS printing the first FILTER match with absolute sequence numbers.
  Process& capture(const std::string& ns, const std::string& filter, const std::string& name) {
    Process& p = spawn(ns, {"/usr/bin/tcpdump", "-i", "any", "-n", "-S", "-l", "-c", "1", filter},
                       name);
    EXPECT_TRUE(wait_until(
        [&] { return p.log().find("listening on") != std::string::npos || !p.running(); }, 10s))
        << p.log();
    return p;
  }
  static long seq_of(const std::string& tcpdump_log) {
    std::smatch m;
    static const std::regex kSeq("seq ([0-9]+)");
    return std::regex_search(tcpdump_log, m, kSeq) ? std::stol(m[1]) : -1;
  }

  bool nat_ = true;
  std::string vip_;
  int rs_port_ = 80;
};

TEST_P(SynproxyTest, CurlWrkAndADownloadThroughTheProxy) {
  {
    SCOPED_TRACE("HTTP: ten curls alternate between the servers");
    auto answers = curl_each(http_url(vip_), 10);
    EXPECT_EQ(tally(answers), (std::map<std::string, int>{{"s1", 5}, {"s2", 5}}))
        << director_->context();
  }
  {
    SCOPED_TRACE("10 MB download, byte for byte, one from each server");
    std::set<int> from;
    for (int i = 1; i <= 2; ++i) {
      std::string file = lab_->tmp("download" + std::to_string(i));
      ASSERT_TRUE(curl_to_file(http_url(vip_, 80, "/10m.bin"), file)) << director_->context();
      EXPECT_EQ(std::filesystem::file_size(file), kTenMegabytes);
      const int k = which_server_file(file);
      EXPECT_NE(k, 0) << "download " << i << " matches neither server's 10m.bin";
      from.insert(k);
    }
    EXPECT_EQ(from, (std::set<int>{1, 2}));
  }
  {
    SCOPED_TRACE("wrk: 16 connections for 3 s, every request answered");
    RunResult r = lab_->exec(lab_->client(), {"/usr/bin/wrk", "-t1", "-c16", "-d3s", "--timeout",
                                              "2s", http_url(vip_)},
                             30s);
    ASSERT_EQ(r.status, 0) << r.out << r.err;
    const WrkResult w = parse_wrk(r.out);
    EXPECT_GT(w.requests, 100) << r.out;
    EXPECT_FALSE(w.has_socket_errors) << r.out << director_->context();
    EXPECT_EQ(w.non_2xx, 0) << r.out;
  }
  Table t = director_->stats();
  const ServiceRow* http = t.service("TCP", host_port(vip_, 80));
  ASSERT_TRUE(http) << director_->context();
  EXPECT_GE(http->conns, 12 + 16) << "10 curls, 2 downloads and wrk's 16";
  ASSERT_EQ(director_->stop(), 0) << director_->log();
  const std::string log = director_->log();
  EXPECT_NE(log.find("synproxy: synacks="), std::string::npos) << log;
  if (GetParam().offload) {
    // The download's data and the client's acknowledgements, shifted by XDP.
    const std::string mark = "uvsd: fast path: ";
    const size_t at = log.rfind(mark);
    ASSERT_NE(at, std::string::npos) << log;
    EXPECT_GT(std::stol(log.substr(at + mark.size())), 5000) << log;
  }
}

TEST_P(SynproxyTest, TheRealServerSeesTheClientsIsnAndTheClientOneSynAck) {
  const std::string client_syn = "tcp[tcpflags] & (tcp-syn|tcp-ack) == tcp-syn and dst port 80";
  const std::string client_synack =
      "tcp[tcpflags] & (tcp-syn|tcp-ack) == (tcp-syn|tcp-ack) and src port 80";
  const std::string server_syn = "tcp[tcpflags] & (tcp-syn|tcp-ack) == tcp-syn and dst port " +
                                 std::to_string(rs_port_);
  Process& at_client = capture(lab_->client(), client_syn, "syn-at-client");
  Process& synack_at_client = spawn(lab_->client(),
                                    {"/usr/bin/tcpdump", "-i", "any", "-n", "-S", "-l", "-c", "5",
                                     client_synack},
                                    "synack-at-client");
  Process* at_server[3];
  for (int k = 1; k <= 2; ++k)
    at_server[k] = &capture(lab_->server(k), server_syn, "syn-at-s" + std::to_string(k));
  ASSERT_TRUE(wait_until(
      [&] { return synack_at_client.log().find("listening on") != std::string::npos; }, 10s));
  auto answers = curl_each(http_url(vip_), 1);
  ASSERT_EQ(answers.size(), 1u);
  const int k = answers[0] == "s1" ? 1 : 2;
  ASSERT_TRUE(at_client.wait(5s).has_value()) << at_client.log();
  ASSERT_TRUE(at_server[k]->wait(5s).has_value()) << at_server[k]->log();
  const long client_isn = seq_of(at_client.log());
  ASSERT_GE(client_isn, 0) << at_client.log();
  EXPECT_EQ(seq_of(at_server[k]->log()), client_isn)
      << "client:\n" << at_client.log() << "\nserver:\n" << at_server[k]->log();
  // The client saw exactly one SYN-ACK: the director's, no second handshake.
  std::this_thread::sleep_for(500ms);
  synack_at_client.stop(SIGINT);
  const std::string synacks = synack_at_client.log();
  size_t n = 0;
  for (size_t at = synacks.find("Flags [S.]"); at != std::string::npos;
       at = synacks.find("Flags [S.]", at + 1))
    ++n;
  EXPECT_EQ(n, 1u) << synacks;
}

TEST_P(SynproxyTest, ListingShowsSynSentUntilTheServerAnswersThenTheClientIsReset) {
  // Both real servers drop the SYNs of the silent service.
  for (int k = 1; k <= 2; ++k) {
    RunResult r = lab_->exec(
        lab_->server(k),
        {"/usr/sbin/nft", "add table inet uvs_test; add chain inet uvs_test in { type filter hook "
                          "input priority 0; }; add rule inet uvs_test in tcp dport " +
                              std::to_string(kSilentPort) + " drop"});
    ASSERT_EQ(r.status, 0) << r.err;
  }
  // The client's connect succeeds at once (the director answered); its request waits.
  Process& curl = spawn(lab_->client(),
                        {"/usr/bin/curl", "-sS", "--max-time", "40", "--connect-timeout", "3",
                         http_url(vip_, kSilentPort)},
                        "curl-silent");
  std::vector<ConnRow> rows;
  EXPECT_TRUE(wait_until(
      [&] {
        rows = director_->conns();
        for (const auto& r : rows)
          if (r.virt == host_port(vip_, kSilentPort) && r.state == "SYN_SENT") return true;
        return false;
      },
      5s, 100ms))
      << director_->context();
  // An answered connection, held open by a slow download, is ESTABLISHED.
  Process& slow = spawn(lab_->client(),
                        {"/usr/bin/curl", "-sS", "--limit-rate", "200k", "-o", "/dev/null",
                         http_url(vip_, 80, "/10m.bin")},
                        "curl-slow");
  EXPECT_TRUE(wait_until(
      [&] {
        rows = director_->conns();
        for (const auto& r : rows)
          if (r.virt == host_port(vip_, 80) && r.state == "ESTABLISHED") return true;
        return false;
      },
      5s, 100ms))
      << director_->context();
  slow.stop();
  // SYN at 0, again at 1, 3 and 7 s; at 15 s the director gives up and resets the client.
  auto status = curl.wait(25s);
  ASSERT_TRUE(status.has_value()) << "curl still waits\n" << director_->context();
  EXPECT_NE(*status, 0);
  EXPECT_NE(curl.log().find("reset"), std::string::npos) << curl.log();
  rows = director_->conns();
  for (const auto& r : rows) EXPECT_NE(r.virt, host_port(vip_, kSilentPort)) << r.state;
}

INSTANTIATE_TEST_SUITE_P(Modes, SynproxyTest,
                         ::testing::Values(ProxyCase{Mode::kNat, false},
                                           ProxyCase{Mode::kFullNat, false},
                                           ProxyCase{Mode::kNat, true},
                                           ProxyCase{Mode::kFullNat, true}),
                         case_name);

}  // namespace
}  // namespace uvs::testing::netns
