// Observability is true: what uvsadm lists (-Ln --stats --exact, -Ln, -Lnc) matches what the
// client did, counted from outside.
#include <gtest/gtest.h>

#include "tests/netns/netns_lab.h"

namespace uvs::testing::netns {
namespace {

const std::string kVip = "192.168.56.102";
const std::string kHttp = "192.168.56.102:80";
const std::string kUdp = "192.168.56.102:7000";
std::string real(int k, int port) { return Lab::server_v4(k) + ":" + std::to_string(port); }

class ObservabilityTest : public LabTest {
 protected:
  // NAT rr services: TCP VIP:80 -> sK:8000 and UDP VIP:7000 -> sK:7000 (with echo servers).
  void nat_services() {
    ASSERT_NO_FATAL_FAILURE(start_lab(2));
    ASSERT_TRUE(adm({"-A", "-t", kHttp, "-s", "rr"}));
    ASSERT_TRUE(adm({"-A", "-u", kUdp, "-s", "rr"}));
    for (int k = 1; k <= 2; ++k) {
      ASSERT_TRUE(adm({"-a", "-t", kHttp, "-r", real(k, 8000), "-m"}));
      ASSERT_TRUE(adm({"-a", "-u", kUdp, "-r", real(k, 7000), "-m"}));
      start_udp_echo(k, "0.0.0.0", 7000);
    }
  }

  // A TCP connection from the client to the HTTP service that stays open (sends nothing) until
  // stopped.
  Process& hold_connection(const std::string& name) {
    return spawn(lab_->client(),
                 {"/usr/bin/socat", "-u", "SYSTEM:sleep 30", "TCP:" + kHttp + ",connect-timeout=3"},
                 name);
  }
};

TEST_F(ObservabilityTest, StatsEqualWhatTheClientSent) {
  ASSERT_NO_FATAL_FAILURE(nat_services());
  constexpr int kCurls = 7;
  auto answers = curl_each(http_url(kVip), kCurls);
  ASSERT_EQ(answers.size(), static_cast<size_t>(kCurls));
  constexpr int kSockets = 3, kPerSocket = 11, kSize = 200;
  UdpResult udp = udp_exchange(kVip, 7000, kSockets, kPerSocket, kSize);
  ASSERT_EQ(udp.ok, kSockets * kPerSocket) << udp.output;

  Table t = director_->stats();
  const ServiceRow* http = t.service("TCP", kHttp);
  const ServiceRow* echo = t.service("UDP", kUdp);
  ASSERT_TRUE(http && echo) << director_->context();
  // Connections: one per curl, split as the answers say.
  EXPECT_EQ(http->conns, kCurls);
  auto by_server = tally(answers);
  for (int k = 1; k <= 2; ++k) {
    const DestRow* d = http->dest(real(k, 8000));
    ASSERT_TRUE(d);
    EXPECT_EQ(d->conns, by_server["s" + std::to_string(k)]) << "s" << k;
  }
  // Every TCP packet in a direction was counted once: the service is the sum of its servers.
  long in = 0, out = 0;
  for (const auto& d : http->dests) in += d.in_pkts, out += d.out_pkts;
  EXPECT_EQ(http->in_pkts, in);
  EXPECT_EQ(http->out_pkts, out);
  // Each curl sends at least SYN, ACK, request, FIN (and the server answers at least as many).
  EXPECT_GE(http->in_pkts, 4 * kCurls);
  EXPECT_GE(http->out_pkts, 3 * kCurls);

  // UDP: every datagram and every reply, with its IP length (20 + 8 + payload; replies carry
  // the "sK " prefix).
  const long n = kSockets * kPerSocket;
  EXPECT_EQ(echo->conns, kSockets);
  EXPECT_EQ(echo->in_pkts, n);
  EXPECT_EQ(echo->out_pkts, n);
  EXPECT_EQ(echo->in_bytes, n * (28 + kSize));
  EXPECT_EQ(echo->out_bytes, n * (28 + 3 + kSize));
  auto sockets = tally(udp.socket_servers);
  for (int k = 1; k <= 2; ++k) {
    const DestRow* d = echo->dest(real(k, 7000));
    ASSERT_TRUE(d);
    const int conns = sockets["s" + std::to_string(k)];
    EXPECT_EQ(d->conns, conns) << "s" << k;
    EXPECT_EQ(d->in_pkts, conns * kPerSocket) << "s" << k;
    EXPECT_EQ(d->out_pkts, conns * kPerSocket) << "s" << k;
  }

  // -Z restarts them; what follows is counted from zero.
  ASSERT_TRUE(adm({"-Z"}));
  t = director_->stats();
  ASSERT_TRUE(t.service("TCP", kHttp));
  EXPECT_EQ(t.service("TCP", kHttp)->conns, 0);
  EXPECT_EQ(t.service("UDP", kUdp)->in_pkts, 0);
  curl_each(http_url(kVip), 2);
  udp = udp_exchange(kVip, 7000, 1, 5, kSize);
  t = director_->stats();
  EXPECT_EQ(t.service("TCP", kHttp)->conns, 2);
  EXPECT_EQ(t.service("UDP", kUdp)->conns, 1);
  EXPECT_EQ(t.service("UDP", kUdp)->in_pkts, 5);
  EXPECT_EQ(t.service("UDP", kUdp)->out_pkts, 5);
}

TEST_F(ObservabilityTest, ActiveAndInactiveConnectionsFollowOpenAndClose) {
  ASSERT_NO_FATAL_FAILURE(nat_services());
  auto counts = [](const Table& t, int k) {
    const ServiceRow* s = t.service("TCP", kHttp);
    const DestRow* d = s ? s->dest(real(k, 8000)) : nullptr;
    return d ? std::pair<long, long>{d->active, d->inactive} : std::pair<long, long>{-1, -1};
  };
  Table t = director_->table();
  EXPECT_EQ(counts(t, 1), (std::pair<long, long>{0, 0}));
  EXPECT_EQ(counts(t, 2), (std::pair<long, long>{0, 0}));

  // Two open connections: rr puts one on each server, both active.
  Process& first = hold_connection("hold1");
  ASSERT_TRUE(wait_table(
      [&](const Table& tb) { return counts(tb, 1).first + counts(tb, 2).first == 1; }, 5s, &t))
      << director_->context();
  const int first_on = counts(t, 1).first == 1 ? 1 : 2, second_on = 3 - first_on;
  Process& second = hold_connection("hold2");
  ASSERT_TRUE(wait_table(
      [&](const Table& tb) {
        return counts(tb, 1) == std::pair<long, long>{1, 0} &&
               counts(tb, 2) == std::pair<long, long>{1, 0};
      },
      5s, &t))
      << director_->context();

  // -Lnc: both ESTABLISHED, from the client to the VIP, one per server, with the established
  // timeout (15 minutes) running.
  // SYN_RECV already counts as active; the handshake's last ACK may still be on its way.
  std::vector<ConnRow> rows;
  const auto established_deadline = Clock::now() + 5s;
  do {
    rows = director_->conns();
    int established = 0;
    for (const auto& r : rows)
      if (r.proto == "TCP" && r.virt == kHttp && r.state == "ESTABLISHED") ++established;
    if (established == 2) break;
    std::this_thread::sleep_for(50ms);
  } while (Clock::now() < established_deadline);
  std::set<std::string> dests;
  for (const auto& r : rows) {
    if (r.proto != "TCP" || r.virt != kHttp) continue;
    EXPECT_EQ(r.state, "ESTABLISHED") << r.source;
    EXPECT_EQ(r.source.rfind(std::string(Lab::kClientV4) + ":", 0), 0u) << r.source;
    EXPECT_GT(r.expire_secs, 14 * 60) << r.source;
    EXPECT_LE(r.expire_secs, 15 * 60) << r.source;
    dests.insert(r.dest);
  }
  EXPECT_EQ(dests, (std::set<std::string>{real(1, 8000), real(2, 8000)})) << director_->context();

  // The first one closes: its server has it inactive, the other keeps its active one.
  first.stop();
  ASSERT_TRUE(wait_table(
      [&](const Table& tb) {
        return counts(tb, first_on) == std::pair<long, long>{0, 1} &&
               counts(tb, second_on) == std::pair<long, long>{1, 0};
      },
      5s, &t))
      << "after closing one connection\n"
      << director_->context();
  bool closing_listed = false;
  for (const auto& r : director_->conns()) {
    if (r.virt != kHttp || r.dest != real(first_on, 8000)) continue;
    closing_listed = true;
    EXPECT_NE(r.state, "ESTABLISHED");
    EXPECT_LE(r.expire_secs, 2 * 60) << r.state;
  }
  EXPECT_TRUE(closing_listed) << "the closed connection should linger (TIME_WAIT)";

  second.stop();
  ASSERT_TRUE(wait_table(
      [&](const Table& tb) {
        return counts(tb, 1) == std::pair<long, long>{0, 1} &&
               counts(tb, 2) == std::pair<long, long>{0, 1};
      },
      5s, &t))
      << director_->context();

  // UDP: one socket is one inactive connection listed in state UDP with the UDP timeout (5 min).
  UdpResult udp = udp_exchange(kVip, 7000, 1, 3, 100);
  ASSERT_EQ(udp.ok, 3) << udp.output;
  ASSERT_EQ(udp.socket_servers.size(), 1u);
  const int k = udp.socket_servers[0] == "s1" ? 1 : 2;
  t = director_->table();
  const ServiceRow* s = t.service("UDP", kUdp);
  ASSERT_TRUE(s && s->dest(real(k, 7000)));
  EXPECT_EQ(s->dest(real(k, 7000))->active, 0);
  EXPECT_EQ(s->dest(real(k, 7000))->inactive, 1);
  int udp_rows = 0;
  for (const auto& r : director_->conns()) {
    if (r.proto != "UDP") continue;
    ++udp_rows;
    EXPECT_EQ(r.state, "UDP");
    EXPECT_EQ(r.virt, kUdp);
    EXPECT_EQ(r.dest, real(k, 7000));
    EXPECT_GT(r.expire_secs, 4 * 60);
    EXPECT_LE(r.expire_secs, 5 * 60);
  }
  EXPECT_EQ(udp_rows, 1);
}

TEST_F(ObservabilityTest, ConnectionListingShowsPersistenceTemplates) {
  ASSERT_NO_FATAL_FAILURE(start_lab(2));
  ASSERT_TRUE(adm({"-A", "-t", kHttp, "-s", "rr", "-p", "120"}));
  for (int k = 1; k <= 2; ++k) ASSERT_TRUE(adm({"-a", "-t", kHttp, "-r", real(k, 8000), "-m"}));
  auto answers = curl_each(http_url(kVip), 3);
  ASSERT_EQ(tally(answers).size(), 1u) << join(answers);
  const int k = answers[0] == "s1" ? 1 : 2;
  int templates = 0, conns = 0;
  for (const auto& r : director_->conns()) {
    if (r.source == std::string(Lab::kClientV4) + ":0") {
      // The kernel's template: client address with port 0, to the server the client sticks to,
      // NONE, or ASSURED once a connection it controls got established (kernel >= 5.4).
      ++templates;
      EXPECT_TRUE(r.state == "NONE" || r.state == "ASSURED") << r.state;
      EXPECT_EQ(r.dest, real(k, 8000));
      EXPECT_LE(r.expire_secs, 120);
      EXPECT_GT(r.expire_secs, 100);
    } else {
      ++conns;
      EXPECT_EQ(r.dest, real(k, 8000));
    }
  }
  EXPECT_EQ(templates, 1) << director_->adm({"-Lnc"}).out;
  EXPECT_EQ(conns, 3);
}

}  // namespace
}  // namespace uvs::testing::netns
