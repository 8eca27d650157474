// uvsd --http as an operator meets it: Prometheus scrapes /metrics after real traffic and reads
// exactly what `uvsadm -Ln --stats --exact` shows, a browser (headless Chromium) shows the live
// page with every service and real server and charts that move, and hostile HTTP clients
// (garbage, huge headers, slowloris) stall neither the workers nor the control socket.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "tests/netns/netns_lab.h"

namespace uvs::testing::netns {
namespace {

const std::string kVip = "192.168.56.102";
const std::string kHttp = "192.168.56.102:80";
const std::string kUdp = "192.168.56.102:7000";
const std::string kListen = "127.0.0.1:9180";  // inside the director's namespace
std::string real(int k, int port) { return Lab::server_v4(k) + ":" + std::to_string(port); }

// Scrapes URL and parses it with the Prometheus client library's text-format parser; prints
// one JSON array of [name, {labels}, value] per sample.
constexpr const char* kScrape = R"PY(
import json, sys, urllib.request
from prometheus_client.parser import text_string_to_metric_families
text = urllib.request.urlopen(sys.argv[1], timeout=10).read().decode()
out = []
for family in text_string_to_metric_families(text):
    for s in family.samples:
        out.append([s.name, s.labels, s.value])
print(json.dumps(out))
)PY";

// Loads the page in headless Chromium (selenium, Debian's chromedriver), waits for three
// updates, takes a screenshot, reads the DOM and the charts' pixels, waits, does it again;
// prints what it saw as JSON.
constexpr const char* kBrowse = R"PY(
import json, sys, time
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
url, shot1, shot2 = sys.argv[1:4]
opts = webdriver.ChromeOptions()
opts.binary_location = "/usr/bin/chromium"
for a in ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
          "--window-size=1400,1700", "--no-first-run"]:
    opts.add_argument(a)
opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=opts)
CHARTS = "return ['chart-services','chart-dests','chart-workers','chart-drops'].map(i => document.getElementById(i).toDataURL())"
try:
    driver.get(url)
    deadline = time.time() + 30
    while time.time() < deadline and driver.execute_script("return typeof charts === 'object' && charts.services ? charts.services.data.labels.length : 0") < 3:
        time.sleep(0.2)
    out = {}
    out["services"] = [e.get_attribute("data-name") for e in driver.find_elements(By.CSS_SELECTOR, "#services tr.service")]
    out["dests"] = [[e.get_attribute("data-service"), e.get_attribute("data-name"), e.text]
                    for e in driver.find_elements(By.CSS_SELECTOR, "#services tr.dest")]
    out["workers"] = len(driver.find_elements(By.CSS_SELECTOR, "#workers tr.worker"))
    out["fill"] = driver.find_element(By.ID, "table-fill").text
    out["status"] = driver.find_element(By.ID, "status").text
    before = driver.execute_script(CHARTS)
    driver.save_screenshot(shot1)
    time.sleep(3)
    after = driver.execute_script(CHARTS)
    driver.save_screenshot(shot2)
    out["moved"] = [a != b for a, b in zip(before, after)]
    out["service_series"] = driver.execute_script(
        "return charts.services.data.datasets.map(d => [d.label, d.data.slice(-3)])")
    out["dest_series"] = driver.execute_script(
        "return charts.dests.data.datasets.map(d => [d.label, d.data.slice(-3)])")
    out["console"] = [[l["level"], l["message"]] for l in driver.get_log("browser")]
    print(json.dumps(out))
finally:
    driver.quit()
)PY";

// Hostile clients of --http: SLOW connections that send a request head a line a second
// (slowloris), connections that send random bytes, and requests with a 1 MiB header, all at
// once for SECONDS. Prints JSON: how many slow connections the server closed on its own, and
// the first line each huge request got back.
constexpr const char* kAbuse = R"PY(
import json, os, socket, sys, time, threading
host, port, slow, seconds = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
result = {"slow_open": 0, "slow_closed_by_server": 0, "garbage": 0, "huge": []}
lock = threading.Lock()
def garbage():
    for _ in range(30):
        try:
            s = socket.create_connection((host, port), timeout=10)
            s.sendall(os.urandom(4096) + b"\r\n\r\n")
            s.settimeout(10)
            try: s.recv(100)
            except OSError: pass
            s.close()
            with lock: result["garbage"] += 1
        except OSError:
            pass
def huge():
    for _ in range(5):
        try:
            s = socket.create_connection((host, port), timeout=10)
            s.settimeout(15)
            try:
                s.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * (1 << 20) + b"\r\n\r\n")
            except OSError:
                pass
            try: first = s.recv(200).split(b"\r\n")[0].decode(errors="replace")
            except OSError as e: first = "error " + str(e)
            s.close()
            with lock: result["huge"].append(first)
        except OSError as e:
            with lock: result["huge"].append("connect " + str(e))
threads = [threading.Thread(target=garbage), threading.Thread(target=huge)]
for t in threads: t.start()
# Non-blocking: beyond the server's queue and backlog, connections wait for their SYN to be
# taken; each sends its request head's first line once connected, then a header a second.
socks = []
for i in range(slow):
    s = socket.socket()
    s.setblocking(False)
    s.connect_ex((host, port))
    socks.append([s, False])
result["slow_open"] = len(socks)
print("slow connections open", flush=True, file=sys.stderr)
end = time.time() + seconds
closed = set()
while time.time() < end:
    for i, (s, sent) in enumerate(socks):
        if i in closed: continue
        try:
            s.send(b"X-Drip: 1\r\n" if sent else b"GET /metrics HTTP/1.1\r\nHost: x\r\n")
            socks[i][1] = True
            if s.recv(4096) == b"": closed.add(i)
        except BlockingIOError:
            pass
        except OSError:
            if sent: closed.add(i)
    time.sleep(1)
result["slow_connected"] = sum(1 for s, sent in socks if sent)
result["slow_closed_by_server"] = len(closed)
for s, sent in socks: s.close()
for t in threads: t.join()
print(json.dumps(result))
)PY";

struct Sample {
  std::string name;
  std::map<std::string, std::string> labels;
  double value = 0;
};

class HttpTest : public LabTest {
 protected:
  // NAT rr services (TCP VIP:80 -> sK:8000, UDP VIP:7000 -> sK:7000) and uvsd --http.
  void nat_services() {
    ASSERT_NO_FATAL_FAILURE(start_lab(2, {"--http", kListen}));
    lab_->exec(lab_->director(), {kIp, "link", "set", "lo", "up"});
    ASSERT_TRUE(adm({"-A", "-t", kHttp, "-s", "rr"}));
    ASSERT_TRUE(adm({"-A", "-u", kUdp, "-s", "rr"}));
    for (int k = 1; k <= 2; ++k) {
      ASSERT_TRUE(adm({"-a", "-t", kHttp, "-r", real(k, 8000), "-m", "-w", std::to_string(k)}));
      ASSERT_TRUE(adm({"-a", "-u", kUdp, "-r", real(k, 7000), "-m"}));
      start_udp_echo(k, "0.0.0.0", 7000);
    }
  }

  // /metrics through prometheus_client's parser.
  std::vector<Sample> scrape() {
    RunResult r = lab_->exec(lab_->director(),
                             {"/usr/bin/python3", "-c", kScrape, "http://" + kListen + "/metrics"},
                             30s);
    EXPECT_EQ(r.status, 0) << describe({"python3 scrape", kListen}, r);
    std::vector<Sample> out;
    const auto j = nlohmann::json::parse(r.out, nullptr, false);
    if (!j.is_array()) {
      ADD_FAILURE() << "not JSON: " << r.out;
      return out;
    }
    for (const auto& s : j) {
      Sample x;
      x.name = s[0].get<std::string>();
      for (const auto& [k, v] : s[1].items()) x.labels[k] = v.get<std::string>();
      x.value = s[2].get<double>();
      out.push_back(std::move(x));
    }
    return out;
  }

  // The value of the one sample NAME whose labels include LABELS; NaN-free: -1 if none.
  static double value(const std::vector<Sample>& samples, const std::string& name,
                      const std::map<std::string, std::string>& labels = {}) {
    double found = -1;
    int matches = 0;
    for (const auto& s : samples) {
      if (s.name != name) continue;
      bool all = true;
      for (const auto& [k, v] : labels) {
        auto it = s.labels.find(k);
        all &= it != s.labels.end() && it->second == v;
      }
      if (all) found = s.value, ++matches;
    }
    return matches == 1 ? found : -1;
  }

  static double sum(const std::vector<Sample>& samples, const std::string& name) {
    double total = 0;
    for (const auto& s : samples)
      if (s.name == name) total += s.value;
    return total;
  }

  // curl in the director's namespace (the HTTP server listens on its loopback).
  RunResult local_get(const std::string& path, std::vector<std::string> extra = {}) {
    std::vector<std::string> argv = {"/usr/bin/curl", "-sS", "--max-time", "20"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    argv.push_back("http://" + kListen + path);
    return lab_->exec(lab_->director(), argv, 30s);
  }
};

TEST_F(HttpTest, MetricsEqualTheListingsAfterRealTraffic) {
  ASSERT_NO_FATAL_FAILURE(nat_services());
  ASSERT_EQ(curl_each(http_url(kVip), 9).size(), 9u);
  UdpResult udp = udp_exchange(kVip, 7000, 3, 7, 300);
  ASSERT_EQ(udp.ok, 21) << udp.output;

  // The traffic is over; the listing is read before and after the scrape and must not move.
  Table stats, listing;
  std::vector<Sample> m;
  for (int attempt = 0; attempt < 3; ++attempt) {
    std::this_thread::sleep_for(300ms);  // the workers publish their counters every 100 ms
    const std::string first = director_->adm({"-Ln", "--stats", "--exact"}).out;
    m = scrape();
    const std::string second = director_->adm({"-Ln", "--stats", "--exact"}).out;
    stats = parse_table(second, true);
    listing = director_->table();
    if (first == second) break;
  }
  ASSERT_FALSE(m.empty());
  const ServiceRow* http = stats.service("TCP", kHttp);
  const ServiceRow* echo = stats.service("UDP", kUdp);
  ASSERT_TRUE(http && echo) << director_->context();
  ASSERT_EQ(http->conns, 9);

  // node_exporter's totals: /proc/net/ip_vs_stats, every service.
  EXPECT_EQ(value(m, "node_ipvs_connections_total"), http->conns + echo->conns);
  EXPECT_EQ(value(m, "node_ipvs_incoming_packets_total"), http->in_pkts + echo->in_pkts);
  EXPECT_EQ(value(m, "node_ipvs_outgoing_packets_total"), http->out_pkts + echo->out_pkts);
  EXPECT_EQ(value(m, "node_ipvs_incoming_bytes_total"), http->in_bytes + echo->in_bytes);
  EXPECT_EQ(value(m, "node_ipvs_outgoing_bytes_total"), http->out_bytes + echo->out_bytes);

  // Per real server, with node_exporter's six labels: -Ln's weight and connections, and the
  // traffic of -Ln --stats --exact.
  for (const auto* proto : {"TCP", "UDP"}) {
    const std::string vs = proto == std::string("TCP") ? kHttp : kUdp;
    const ServiceRow* counted = stats.service(proto, vs);
    const ServiceRow* listed = listing.service(proto, vs);
    ASSERT_TRUE(counted && listed);
    const std::map<std::string, std::string> svc = {
        {"local_address", kVip}, {"local_port", vs.substr(vs.find(':') + 1)},
        {"local_mark", ""}, {"proto", proto}};
    EXPECT_EQ(value(m, "uvs_service_connections_total", svc), counted->conns) << proto;
    EXPECT_EQ(value(m, "uvs_service_incoming_packets_total", svc), counted->in_pkts) << proto;
    EXPECT_EQ(value(m, "uvs_service_outgoing_bytes_total", svc), counted->out_bytes) << proto;
    for (const auto& d : counted->dests) {
      auto labels = svc;
      labels["remote_address"] = d.addr.substr(0, d.addr.find(':'));
      labels["remote_port"] = d.addr.substr(d.addr.find(':') + 1);
      const DestRow* l = listed->dest(d.addr);
      ASSERT_TRUE(l) << d.addr;
      EXPECT_EQ(value(m, "node_ipvs_backend_weight", labels), l->weight) << d.addr;
      EXPECT_EQ(value(m, "node_ipvs_backend_connections_active", labels), l->active) << d.addr;
      EXPECT_EQ(value(m, "node_ipvs_backend_connections_inactive", labels), l->inactive) << d.addr;
      EXPECT_EQ(value(m, "uvs_backend_connections_total", labels), d.conns) << d.addr;
      EXPECT_EQ(value(m, "uvs_backend_incoming_packets_total", labels), d.in_pkts) << d.addr;
      EXPECT_EQ(value(m, "uvs_backend_outgoing_packets_total", labels), d.out_pkts) << d.addr;
      EXPECT_EQ(value(m, "uvs_backend_incoming_bytes_total", labels), d.in_bytes) << d.addr;
      EXPECT_EQ(value(m, "uvs_backend_outgoing_bytes_total", labels), d.out_bytes) << d.addr;
    }
  }
  // The weights given: 1 and 2, and UDP sockets are inactive connections.
  EXPECT_EQ(sum(m, "node_ipvs_backend_weight"), 1 + 2 + 1 + 1);
  EXPECT_EQ(sum(m, "node_ipvs_backend_connections_inactive") -
                value(m, "node_ipvs_backend_connections_inactive",
                      {{"proto", "TCP"}, {"remote_address", Lab::server_v4(1)}}) -
                value(m, "node_ipvs_backend_connections_inactive",
                      {{"proto", "TCP"}, {"remote_address", Lab::server_v4(2)}}),
            3);

  // The workers: with the fast path unused (no XDP on the veth peers), every counted packet
  // went through them; the connection table holds what -Lnc lists.
  EXPECT_GE(sum(m, "uvs_worker_received_packets_total"),
            http->in_pkts + http->out_pkts + echo->in_pkts + echo->out_pkts);
  EXPECT_EQ(value(m, "uvs_packets_total", {{"path", "user_space"}}),
            sum(m, "uvs_worker_received_packets_total"));
  EXPECT_EQ(value(m, "uvs_packets_total", {{"path", "fast_path"}}), 0);
  EXPECT_EQ(sum(m, "uvs_connections"), static_cast<double>(director_->conns().size()));
  // --conn-max 65536 split evenly over the workers.
  EXPECT_LE(sum(m, "uvs_connection_slots"), 65536);
  EXPECT_GT(sum(m, "uvs_connection_slots"), 65536 - 64);
  EXPECT_GT(value(m, "uvs_connection_table_fill_ratio"), 0);
  EXPECT_EQ(sum(m, "uvs_malformed_total"), 0);
  EXPECT_EQ(value(m, "uvs_sync_daemon_running", {{"role", "master"}}), 0);
}

// uvsadm -G (the FULLNAT local addresses) counts what the workers do: one connection per port
// taken, for as long as the connection holds it; /metrics shows the same.
TEST_F(HttpTest, FullNatLocalAddressCountersFollowTheConnections) {
  ASSERT_NO_FATAL_FAILURE(start_lab(2, {"--http", kListen}));
  lab_->exec(lab_->director(), {kIp, "link", "set", "lo", "up"});
  const std::string fnat = "192.168.58.200:80", laddr = "192.168.58.100";
  ASSERT_TRUE(adm({"-A", "-t", fnat, "-s", "rr"}));
  for (int k = 1; k <= 2; ++k)
    ASSERT_TRUE(adm({"-a", "-t", fnat, "-r", Lab::server_v4_b(k) + ":80", "-b"}));
  ASSERT_TRUE(adm({"-P", "-t", fnat, "-z", laddr}));
  ASSERT_EQ(curl_each(http_url("192.168.58.200"), 5).size(), 5u);

  // Every connection (closed ones linger in TIME_WAIT) holds a local port of the address.
  long listed = 0;
  for (const auto& r : director_->conns())
    if (r.virt == fnat) ++listed;
  EXPECT_EQ(listed, 5) << director_->adm({"-Lnc"}).out;
  const std::string g = director_->adm({"-G", "-n"}).out;
  long conflicts = -1, conns = -1;
  for (const auto& line : split_lines(g)) {
    auto w = split_words(line);
    if (w.size() == 3 && w[0] == laddr) conflicts = std::stol(w[1]), conns = std::stol(w[2]);
  }
  EXPECT_EQ(conns, listed) << g;
  EXPECT_EQ(conflicts, 0) << g;
  const auto m = scrape();
  const std::map<std::string, std::string> labels = {{"address", laddr}, {"local_port", "80"}};
  EXPECT_EQ(value(m, "uvs_local_address_connections", labels), listed);
  EXPECT_EQ(value(m, "uvs_local_address_port_conflicts_total", labels), 0);
}

// What only uvs can show: packets forwarded by the XDP fast path beside those the workers
// handled, drops by reason, the sync daemon; and the node_exporter totals still equal the
// listing once XDP's counters are folded in.
TEST_F(HttpTest, FastPathDropsAndSyncAreCounted) {
  ASSERT_NO_FATAL_FAILURE(start_lab(2, {"--http", kListen, "--offload"}));
  lab_->exec(lab_->director(), {kIp, "link", "set", "lo", "up"});
  ASSERT_NO_FATAL_FAILURE(attach_peer_xdp());
  ASSERT_TRUE(wait_until(
      [&] {
        const std::string log = director_->log();
        return log.find("d0: XDP sends here") != std::string::npos &&
               log.find("d1: XDP sends here") != std::string::npos;
      },
      10s, 100ms))
      << director_->log();
  ASSERT_TRUE(adm({"-A", "-t", kHttp, "-s", "rr"}));
  for (int k = 1; k <= 2; ++k) ASSERT_TRUE(adm({"-a", "-t", kHttp, "-r", real(k, 8000), "-m"}));
  ASSERT_TRUE(adm({"-A", "-t", kVip + ":81", "-s", "rr"}));  // no real server
  ASSERT_TRUE(adm({"--start-daemon", "master", "--mcast-interface", "d1"}));

  const std::string file = lab_->tmp("download");
  ASSERT_TRUE(curl_to_file(http_url(kVip, 80, "/10m.bin"), file)) << director_->context();
  // A SYN for the service without real servers: dropped (no-destination), ICMP unreachable.
  RunResult refused = lab_->exec(lab_->client(), {"/usr/bin/curl", "-sS", "--max-time", "3",
                                                  http_url(kVip, 81)});
  EXPECT_NE(refused.status, 0);

  // Once XDP's counters are folded in (every second), the totals equal the listing.
  std::vector<Sample> m;
  bool settled = wait_until(
      [&] {
        const std::string first = director_->adm({"-Ln", "--stats", "--exact"}).out;
        m = scrape();
        const Table t = parse_table(first, true);
        const ServiceRow* http = t.service("TCP", kHttp);
        return http && http->out_bytes >= 10 << 20 &&
               first == director_->adm({"-Ln", "--stats", "--exact"}).out &&
               value(m, "uvs_sync_messages_total", {{"role", "master"}}) > 0;
      },
      15s, 500ms);
  ASSERT_TRUE(settled) << director_->context();
  const Table t = director_->stats();
  const ServiceRow* http = t.service("TCP", kHttp);
  ASSERT_TRUE(http);
  EXPECT_EQ(value(m, "node_ipvs_outgoing_bytes_total"), http->out_bytes);
  EXPECT_EQ(value(m, "node_ipvs_incoming_packets_total"), http->in_pkts);

  // 10 MB is over 7,000 full-size segments: most went by XDP.
  const double fast = value(m, "uvs_packets_total", {{"path", "fast_path"}});
  const double user = value(m, "uvs_packets_total", {{"path", "user_space"}});
  std::cerr << "packets: fast path " << fast << ", user space " << user << "\n";
  EXPECT_GT(fast, 5000);
  EXPECT_GT(user, 0);
  EXPECT_GT(fast, user);
  EXPECT_EQ(fast, value(m, "uvs_xdp_packets_total", {{"verdict", "flow_forwarded"}}));
  EXPECT_EQ(value(m, "uvs_fast_path_enabled"), 1);

  double no_destination = 0;
  for (const auto& x : m)
    if (x.name == "uvs_drops_total" && x.labels.at("reason") == "no-destination")
      no_destination += x.value;
  EXPECT_GE(no_destination, 1);
  EXPECT_EQ(value(m, "uvs_sync_daemon_running", {{"role", "master"}}), 1);
  EXPECT_EQ(value(m, "uvs_sync_daemon_running", {{"role", "backup"}}), 0);
}

TEST_F(HttpTest, LivePageShowsEveryServiceAndMovingCharts) {
  ASSERT_NO_FATAL_FAILURE(nat_services());
  // Live traffic for the whole test: a request every 50 ms, and a UDP exchange.
  spawn(lab_->client(),
        {"/bin/sh", "-c",
         "while :; do /usr/bin/curl -s -o /dev/null --max-time 2 " + http_url(kVip) +
             "; sleep 0.05; done"},
        "http-load");
  ASSERT_EQ(udp_exchange(kVip, 7000, 2, 3, 100).ok, 6);
  const std::string dir = std::string(UVS_BUILD_DIR) + "/artifacts";
  std::filesystem::create_directories(dir);
  const std::string shot1 = dir + "/http-page-1.png", shot2 = dir + "/http-page-2.png";
  std::filesystem::remove(shot1);
  std::filesystem::remove(shot2);
  RunResult r = lab_->exec(lab_->director(),
                           {"/usr/bin/env", "HOME=" + lab_->tmp(""), "/usr/bin/python3", "-c",
                            kBrowse, "http://" + kListen + "/", shot1, shot2},
                           120s);
  ASSERT_EQ(r.status, 0) << describe({"python3 browse"}, r);
  const auto page = nlohmann::json::parse(r.out, nullptr, false);
  ASSERT_TRUE(page.is_object()) << r.out;
  std::cerr << "screenshots: " << shot1 << " " << shot2 << "\n";

  // Every service and every real server, under its service, with its weight.
  EXPECT_EQ(page["services"],
            nlohmann::json({"TCP " + kHttp, "UDP " + kUdp}));
  std::set<std::pair<std::string, std::string>> dests;
  for (const auto& d : page["dests"]) dests.emplace(d[0], d[1]);
  for (int k = 1; k <= 2; ++k) {
    EXPECT_TRUE(dests.count({"TCP " + kHttp, real(k, 8000)})) << page["dests"].dump();
    EXPECT_TRUE(dests.count({"UDP " + kUdp, real(k, 7000)})) << page["dests"].dump();
  }
  for (const auto& d : page["dests"]) {
    const std::string text = d[2].get<std::string>();
    if (d[1] == real(2, 8000)) {
      EXPECT_NE(text.find("masq 2"), std::string::npos) << text;  // forward and weight columns
    }
  }
  EXPECT_GE(page["workers"].get<int>(), 1);
  EXPECT_NE(page["fill"].get<std::string>().find("/"), std::string::npos) << page["fill"];
  EXPECT_EQ(page["status"].get<std::string>().rfind("updated", 0), 0u) << page["status"];

  // The traffic charts moved between the two screenshots, and the HTTP service's series shows
  // the load.
  ASSERT_EQ(page["moved"].size(), 4u);
  EXPECT_TRUE(page["moved"][0].get<bool>()) << "per-service chart did not move";
  EXPECT_TRUE(page["moved"][1].get<bool>()) << "per-server chart did not move";
  EXPECT_TRUE(page["moved"][2].get<bool>()) << "per-worker chart did not move";
  double http_rate = 0;
  for (const auto& s : page["service_series"])
    if (s[0] == "TCP " + kHttp)
      for (const auto& v : s[1])
        if (v.is_number()) http_rate = std::max(http_rate, v.get<double>());
  EXPECT_GT(http_rate, 0) << page["service_series"].dump();
  EXPECT_EQ(page["dest_series"].size(), 4u) << page["dest_series"].dump();

  // No console error, no failed request.
  for (const auto& c : page["console"])
    EXPECT_NE(c[0], "SEVERE") << c[1].get<std::string>();
  for (const auto& shot : {shot1, shot2}) {
    ASSERT_TRUE(std::filesystem::exists(shot)) << shot;
    EXPECT_EQ(read_file(shot).substr(1, 3), "PNG") << shot;
    EXPECT_GT(std::filesystem::file_size(shot), 20000u) << shot;
  }
}

TEST_F(HttpTest, HostileClientsStallNeitherWorkersNorTheControlSocket) {
  ASSERT_NO_FATAL_FAILURE(nat_services());
  constexpr int kSlow = 300;
  auto descriptors = [&] {
    size_t n = 0;
    for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator(
             "/proc/" + std::to_string(director_->pid()) + "/fd"))
      ++n;
    return n;
  };
  const size_t idle_fds = descriptors();
  Process& abuse = spawn(lab_->director(),
                         {"/usr/bin/python3", "-c", kAbuse, "127.0.0.1", "9180",
                          std::to_string(kSlow), "15"},
                         "http-abuse");
  ASSERT_TRUE(wait_until([&] { return abuse.log().find("slow connections open") != std::string::npos; },
                         20s))
      << abuse.log();

  size_t max_fds = 0;
  // While 300 slow requests, garbage and 1 MiB headers hit --http: the workers forward and the
  // control socket answers, again and again.
  for (int round = 0; round < 4; ++round) {
    EXPECT_EQ(curl_each(http_url(kVip), 5).size(), 5u) << "round " << round;
    RunResult ln = director_->adm({"-Ln"});
    EXPECT_EQ(ln.status, 0) << ln.err;
    EXPECT_NE(ln.out.find(kHttp), std::string::npos) << ln.out;
    EXPECT_EQ(udp_exchange(kVip, 7000, 1, 3, 50).ok, 3) << "round " << round;
    // uvsd holds a bounded number of descriptors whatever the number of clients: a few
    // threads' worth and a short queue; the rest wait in the listen backlog.
    const size_t fds = descriptors();
    EXPECT_LT(fds, idle_fds + 100) << "round " << round;
    max_fds = std::max(max_fds, fds);
  }
  std::cerr << "uvsd descriptors: " << idle_fds << " idle, at most " << max_fds
            << " under abuse\n";

  ASSERT_TRUE(abuse.wait(60s).has_value()) << abuse.log();
  EXPECT_EQ(abuse.status(), 0) << abuse.log();
  const std::string log = abuse.log();
  const auto result = nlohmann::json::parse(log.substr(log.rfind('{')), nullptr, false);
  ASSERT_TRUE(result.is_object()) << log;
  std::cerr << "hostile clients: " << result.dump() << "\n";
  EXPECT_EQ(result["slow_open"], kSlow) << log;
  EXPECT_GT(result["slow_connected"].get<int>(), 0) << log;
  // A request head must arrive whole within the deadline: slow ones are cut off.
  EXPECT_GT(result["slow_closed_by_server"].get<int>(), 0) << log;
  EXPECT_GT(result["garbage"].get<int>(), 0) << log;
  ASSERT_EQ(result["huge"].size(), 5u) << log;
  for (const auto& first : result["huge"])
    EXPECT_EQ(first.get<std::string>().find(" 200 "), std::string::npos) << log;

  // And the server itself serves again once they are gone.
  std::string metrics;
  EXPECT_TRUE(wait_until(
      [&] {
        metrics = local_get("/metrics").out;
        return metrics.find("node_ipvs_connections_total") != std::string::npos;
      },
      30s, 500ms))
      << metrics;
}

TEST_F(HttpTest, ApiServesTheTableAndPagesTheConnections) {
  ASSERT_NO_FATAL_FAILURE(nat_services());
  ASSERT_EQ(curl_each(http_url(kVip), 6).size(), 6u);
  const auto services = nlohmann::json::parse(local_get("/api/v1/services").out, nullptr, false);
  ASSERT_TRUE(services.is_array());
  ASSERT_EQ(services.size(), 2u);
  EXPECT_EQ(services[0]["name"], "TCP " + kHttp);
  EXPECT_EQ(services[0]["stats"]["conns"], 6);
  EXPECT_EQ(services[0]["dests"].size(), 2u);

  const auto rows = director_->conns();
  const auto page1 = nlohmann::json::parse(local_get("/api/v1/connections?offset=0&limit=4").out,
                                           nullptr, false);
  ASSERT_TRUE(page1.is_object());
  EXPECT_EQ(page1["total"].get<size_t>(), rows.size());
  EXPECT_EQ(page1["connections"].size(), 4u);
  const auto page2 = nlohmann::json::parse(local_get("/api/v1/connections?offset=4&limit=100").out,
                                           nullptr, false);
  EXPECT_EQ(page2["connections"].size(), rows.size() - 4);
  std::set<std::string> clients;
  for (const auto* p : {&page1, &page2})
    for (const auto& c : (*p)["connections"]) {
      EXPECT_EQ(c["virtual"].get<std::string>().rfind(kVip, 0), 0u) << c.dump();
      clients.insert(c["client"].get<std::string>());
    }
  EXPECT_EQ(clients.size(), rows.size());

  const auto stats = nlohmann::json::parse(local_get("/api/v1/stats").out, nullptr, false);
  ASSERT_TRUE(stats.is_object());
  EXPECT_EQ(stats["totals"]["conns"], 6);
  EXPECT_GE(stats["workers"].size(), 1u);

  // Read-only: anything but GET and HEAD is refused and changes nothing.
  RunResult post = local_get("/api/v1/services", {"-X", "POST", "-o", "/dev/null", "-w", "%{http_code}"});
  EXPECT_EQ(post.out, "405");
  RunResult missing = local_get("/nothing", {"-o", "/dev/null", "-w", "%{http_code}"});
  EXPECT_EQ(missing.out, "404");
  EXPECT_EQ(director_->table().services.size(), 2u);
}

}  // namespace
}  // namespace uvs::testing::netns
