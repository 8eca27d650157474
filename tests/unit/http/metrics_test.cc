// /metrics and /api/v1 bodies from a table and a data-plane report made by hand: node_exporter's
// IPVS names and labels exactly, every uvs_* family, label escaping, paging.
#include <gtest/gtest.h>

#include <sstream>

#include "http/json.h"
#include "http/metrics.h"
#include "http/server.h"

namespace uvs::http {
namespace {

InetAddr addr(const char* text) { return *InetAddr::parse(text); }

DestView dest(const char* a, uint16_t port, int32_t weight, uint32_t active, uint32_t inactive) {
  DestView d;
  d.cfg.key = {addr(a), port};
  d.cfg.fwd = Fwd::kMasq;
  d.cfg.weight = weight;
  d.activeconns = active;
  d.inactconns = inactive;
  return d;
}

// TCP 10.0.0.1:80 with two real servers, and fwmark 7 (IPv6) with one.
TableView two_services() {
  TableView t;
  t.conn_tab_size = 65536;
  ServiceView http;
  http.cfg.key.protocol = kProtoTcp;
  http.cfg.key.addr = addr("10.0.0.1");
  http.cfg.key.port = 80;
  http.stats = {5, 40, 30, 4000, 90000};
  http.rate = {1, 8, 6, 800, 18000};
  http.dests.push_back(dest("172.17.0.3", 8000, 2, 1, 2));
  http.dests.back().stats = {2, 15, 10, 1500, 30000};
  http.dests.push_back(dest("172.17.0.2", 8000, 1, 0, 3));
  http.dests.back().stats = {3, 25, 20, 2500, 60000};
  t.services.push_back(http);
  ServiceView mark;
  mark.cfg.key.af = AF_INET6;
  mark.cfg.key.fwmark = 7;
  mark.stats = {1, 2, 3, 4, 5};
  mark.dests.push_back(dest("fd00:2::11", 0, 5, 4, 0));
  t.services.push_back(mark);
  return t;
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string l; std::getline(in, l);) out.push_back(l);
  return out;
}

bool has_line(const std::string& text, const std::string& line) {
  for (const auto& l : lines_of(text))
    if (l == line) return true;
  return false;
}

TEST(Metrics, NodeExporterTotalsAreTheSumOfTheServices) {
  const std::string m = format_metrics(two_services(), nullptr);
  EXPECT_TRUE(has_line(m, "# HELP node_ipvs_connections_total The total number of connections made."));
  EXPECT_TRUE(has_line(m, "# TYPE node_ipvs_connections_total counter"));
  EXPECT_TRUE(has_line(m, "node_ipvs_connections_total 6"));
  EXPECT_TRUE(has_line(m, "node_ipvs_incoming_packets_total 42"));
  EXPECT_TRUE(has_line(m, "node_ipvs_outgoing_packets_total 33"));
  EXPECT_TRUE(has_line(m, "node_ipvs_incoming_bytes_total 4004"));
  EXPECT_TRUE(has_line(m, "node_ipvs_outgoing_bytes_total 90005"));
}

TEST(Metrics, BackendsCarryNodeExporterLabels) {
  const std::string m = format_metrics(two_services(), nullptr);
  EXPECT_TRUE(has_line(m, "# TYPE node_ipvs_backend_connections_active gauge"));
  const std::string tcp =
      "local_address=\"10.0.0.1\",local_mark=\"\",local_port=\"80\",proto=\"TCP\","
      "remote_address=\"172.17.0.3\",remote_port=\"8000\"";
  EXPECT_TRUE(has_line(m, "node_ipvs_backend_connections_active{" + tcp + "} 1")) << m;
  EXPECT_TRUE(has_line(m, "node_ipvs_backend_connections_inactive{" + tcp + "} 2"));
  EXPECT_TRUE(has_line(m, "node_ipvs_backend_weight{" + tcp + "} 2"));
  // A fwmark service as procfs reads /proc/net/ip_vs's "FWM  00000007": no address, port 0.
  const std::string fwm =
      "local_address=\"\",local_mark=\"00000007\",local_port=\"0\",proto=\"FWM\","
      "remote_address=\"fd00:2::11\",remote_port=\"0\"";
  EXPECT_TRUE(has_line(m, "node_ipvs_backend_connections_active{" + fwm + "} 4")) << m;
  EXPECT_TRUE(has_line(m, "node_ipvs_backend_weight{" + fwm + "} 5"));
  // Per real server traffic, which node_exporter has not.
  EXPECT_TRUE(has_line(m, "uvs_backend_incoming_packets_total{" + tcp + "} 15"));
  EXPECT_TRUE(has_line(m, "uvs_service_outgoing_bytes_total{local_address=\"10.0.0.1\","
                          "local_mark=\"\",local_port=\"80\",proto=\"TCP\"} 90000"));
  EXPECT_TRUE(has_line(m, "uvs_service_incoming_packet_rate{local_address=\"10.0.0.1\","
                          "local_mark=\"\",local_port=\"80\",proto=\"TCP\"} 8"));
}

TEST(Metrics, EveryFamilyIsDeclaredOnceBeforeItsSamples) {
  dp::DataPlaneReport report;
  report.workers.resize(2);
  report.workers[1].worker = 1;
  const std::string m = format_metrics(two_services(), &report);
  std::set<std::string> declared;
  for (const auto& l : lines_of(m)) {
    if (l.rfind("# TYPE ", 0) == 0) {
      const std::string name = l.substr(7, l.find(' ', 7) - 7);
      EXPECT_TRUE(declared.insert(name).second) << "declared twice: " << name;
      continue;
    }
    if (l.empty() || l[0] == '#') continue;
    const std::string name = l.substr(0, l.find_first_of("{ "));
    EXPECT_TRUE(declared.count(name)) << "sample before its TYPE: " << l;
  }
}

TEST(Metrics, WorkersDropsAndTheFastPath) {
  dp::DataPlaneReport report;
  report.offload = true;
  report.steer.flow_forwarded = 1000;
  report.workers.resize(2);
  report.workers[0].stats.rx = 70;
  report.workers[0].stats.drops[static_cast<size_t>(dp::Drop::kNoRoute)] = 3;
  report.workers[0].stats.malformed[static_cast<size_t>(pkt::Reason::kIpv4BadChecksum)] = 2;
  report.workers[0].conns = 25;
  report.workers[0].conn_capacity = 100;
  report.workers[1].worker = 1;
  report.workers[1].stats.rx = 30;
  report.workers[1].conns = 25;
  report.workers[1].conn_capacity = 100;
  const std::string m = format_metrics(two_services(), &report);
  EXPECT_TRUE(has_line(m, "uvs_worker_received_packets_total{worker=\"0\"} 70"));
  EXPECT_TRUE(has_line(m, "uvs_worker_received_packets_total{worker=\"1\"} 30"));
  EXPECT_TRUE(has_line(m, "uvs_drops_total{reason=\"no-route\",worker=\"0\"} 3"));
  EXPECT_TRUE(has_line(m, "uvs_drops_total{reason=\"no-route\",worker=\"1\"} 0"));
  EXPECT_TRUE(has_line(m, "uvs_nexthop_failures_total{reason=\"no-route\",worker=\"0\"} 3"));
  EXPECT_TRUE(has_line(m, std::string("uvs_malformed_total{reason=\"") +
                              pkt::reason_name(pkt::Reason::kIpv4BadChecksum) +
                              "\",worker=\"0\"} 2"));
  EXPECT_TRUE(has_line(m, "uvs_packets_total{path=\"fast_path\"} 1000"));
  EXPECT_TRUE(has_line(m, "uvs_packets_total{path=\"user_space\"} 100"));
  EXPECT_TRUE(has_line(m, "uvs_connections{worker=\"0\"} 25"));
  EXPECT_TRUE(has_line(m, "uvs_connection_table_fill_ratio 0.25"));
  EXPECT_TRUE(has_line(m, "uvs_fast_path_enabled 1"));
}

TEST(Metrics, WithoutADataPlaneOnlyTheTable) {
  const std::string m = format_metrics(two_services(), nullptr);
  EXPECT_EQ(m.find("uvs_worker_"), std::string::npos);
  EXPECT_NE(m.find("uvs_connection_table_size 65536"), std::string::npos);
}

TEST(Metrics, LabelValuesAreEscaped) {
  EXPECT_EQ(escape_label("a\\b\"c\nd"), "a\\\\b\\\"c\\nd");
}

TEST(Listen, TakesIpv4AndBracketedIpv6) {
  std::string l;
  EXPECT_TRUE(parse_listen("127.0.0.1:9100", &l));
  EXPECT_EQ(l, "127.0.0.1:9100");
  EXPECT_TRUE(parse_listen("[::1]:9100", &l));
  EXPECT_EQ(l, "[::1]:9100");
  for (const char* bad : {"9100", "localhost:9100", "127.0.0.1:", "127.0.0.1:0", "127.0.0.1:65536",
                          "127.0.0.1:-1", "::1:9100", "[::1]", "127.0.0.1:80x"})
    EXPECT_FALSE(parse_listen(bad, &l)) << bad;
}

TEST(Api, ServicesListEveryRealServer) {
  const nlohmann::json j = services_json(two_services());
  ASSERT_EQ(j.size(), 2u);
  EXPECT_EQ(j[0]["name"], "TCP 10.0.0.1:80");
  EXPECT_EQ(j[0]["dests"].size(), 2u);
  EXPECT_EQ(j[0]["dests"][0]["name"], "172.17.0.3:8000");
  EXPECT_EQ(j[0]["dests"][0]["weight"], 2);
  EXPECT_EQ(j[0]["dests"][0]["forward"], "masq");
  EXPECT_EQ(j[0]["stats"]["inpkts"], 40);
  EXPECT_EQ(j[1]["name"], "FWM 7");
  EXPECT_EQ(j[1]["fwmark"], 7);
  EXPECT_EQ(j[1]["dests"][0]["name"], "[fd00:2::11]:0");
}

TEST(Api, ConnectionsArePaged) {
  std::vector<ConnView> conns(5);
  for (size_t i = 0; i < conns.size(); ++i) {
    conns[i].protocol = kProtoTcp;
    conns[i].caddr = addr("10.9.0.1");
    conns[i].cport = static_cast<uint16_t>(1000 + i);
    conns[i].state = "ESTABLISHED";
  }
  nlohmann::json j = connections_json(conns, 1, 2);
  EXPECT_EQ(j["total"], 5);
  ASSERT_EQ(j["connections"].size(), 2u);
  EXPECT_EQ(j["connections"][0]["client"], "10.9.0.1:1001");
  EXPECT_EQ(j["connections"][1]["client"], "10.9.0.1:1002");
  EXPECT_EQ(connections_json(conns, 4, 100)["connections"].size(), 1u);
  EXPECT_EQ(connections_json(conns, 9, 100)["connections"].size(), 0u);
  EXPECT_EQ(connections_json(conns, 0, 0)["connections"].size(), 0u);
}

}  // namespace
}  // namespace uvs::http
