// uvsd --offload in the namespace lab: established NAT connections forwarded by XDP itself.
//
// Runbook:
//   - the lab's client (c0) and the real servers' bridge port (wd) get an XDP program, as a veth
//     needs on the far end to take XDP_TX and redirected frames (the lab's normal runs have
//     none: AF_XDP transmits through the stack);
//   - uvsd starts with --offload; a NAT (then a FULLNAT) service on port 80 to the lab's two
//     nginx;
//   - two 10 MB downloads arrive byte for byte, one from each server;
//   - most of their packets went through XDP (uvsd's exit log counts them), and --stats still
//     counts every byte the servers sent (XDP's counters folded in);
//   - a UDP stream through the same director gets every datagram back.
#include "tests/netns/netns_lab.h"

namespace uvs::testing::netns {
namespace {

constexpr size_t kTenMegabytes = 10 << 20;

class FastPathTest : public LabTest {
 protected:
  // Entries of this uvsd's uvs_flows map, read with bpftool (-1 if it cannot be found). Maps
  // are global: ours is the one among the maps uvsd holds open (/proc/PID/fdinfo: map_id).
  long flows_in_map() {
    const std::string fdinfo = "/proc/" + std::to_string(director_->pid()) + "/fdinfo";
    std::error_code ec;
    for (const auto& fd : std::filesystem::directory_iterator(fdinfo, ec)) {
      const std::string info = read_file(fd.path().string(), 4096);
      const size_t at = info.find("map_id:");
      if (at == std::string::npos) continue;
      const std::string id = std::to_string(std::stol(info.substr(at + 7)));
      RunResult show = run({"/usr/sbin/bpftool", "-j", "map", "show", "id", id});
      if (show.out.find("\"name\":\"uvs_flows\"") == std::string::npos) continue;
      RunResult dump = run({"/usr/sbin/bpftool", "-j", "map", "dump", "id", id});
      last_dump_ = dump.out;
      long n = 0;
      // Each entry's raw key is an array; its BTF-formatted copy is an object.
      for (size_t k = dump.out.find("\"key\":["); k != std::string::npos;
           k = dump.out.find("\"key\":[", k + 1))
        ++n;
      return n;
    }
    return -1;
  }

  std::string last_dump_;

  // A NAT service on VIP:7000 (UDP) to both real servers, each running an echo server.
  void udp_echo_service(const std::string& vip) {
    ASSERT_TRUE(adm({"-A", "-u", vip + ":7000", "-s", "rr"}));
    for (int k = 1; k <= 2; ++k) {
      ASSERT_TRUE(adm({"-a", "-u", vip + ":7000", "-r", Lab::server_v4(k) + ":7000", "-m"}));
      start_udp_echo(k, "0.0.0.0", 7000);
    }
  }

  long forwarded_by_xdp() {
    const std::string log = director_->log();
    const std::string mark = "uvsd: fast path: ";
    const size_t at = log.rfind(mark);
    if (at == std::string::npos) return -1;
    return std::stol(log.substr(at + mark.size()));
  }
};

class FastPathDownloads : public FastPathTest, public ::testing::WithParamInterface<Mode> {};

TEST_P(FastPathDownloads, GoThroughXdpAndStillCount) {
  const bool fullnat = GetParam() == Mode::kFullNat;
  ASSERT_NO_FATAL_FAILURE(start_lab(2, {"--offload"}));
  ASSERT_NO_FATAL_FAILURE(attach_peer_xdp());
  const std::string vip = fullnat ? "192.168.58.200" : "192.168.56.102";
  const std::string svc = vip + ":80";
  ASSERT_TRUE(adm({"-A", "-t", svc, "-s", "rr"}));
  for (int k = 1; k <= 2; ++k)
    ASSERT_TRUE(adm({"-a", "-t", svc, "-r", Lab::server_v4(k) + ":8000", fullnat ? "-b" : "-m"}));
  // FULLNAT: the real servers answer the local address, which the lab routes to the director.
  if (fullnat) {
    ASSERT_TRUE(adm({"-P", "-t", svc, "-z", "192.168.58.100"}));
  }

  std::set<int> from;
  for (int i = 1; i <= 2; ++i) {
    const std::string file = lab_->tmp("download" + std::to_string(i));
    ASSERT_TRUE(curl_to_file(http_url(vip, 80, "/10m.bin"), file)) << director_->context();
    EXPECT_EQ(std::filesystem::file_size(file), kTenMegabytes);
    const int k = which_server_file(file);
    EXPECT_NE(k, 0) << "download " << i << " matches neither server's 10m.bin";
    from.insert(k);
  }
  EXPECT_EQ(from, (std::set<int>{1, 2}));

  // The statistics fold XDP's counters in within a second or two.
  Table t;
  EXPECT_TRUE(wait_until(
      [&] {
        t = director_->stats();
        const ServiceRow* s = t.service("TCP", svc);
        return s && s->out_bytes >= static_cast<long>(2 * kTenMegabytes);
      },
      10s, 100ms))
      << director_->adm({"-Ln", "--stats", "--exact"}).out;

  ASSERT_EQ(director_->stop(), 0) << director_->log();
  const long via_xdp = forwarded_by_xdp();
  // 2 x 10 MB is over 14,000 full-size segments plus the client's ACKs.
  EXPECT_GT(via_xdp, 10000) << director_->log();
  std::cout << "packets forwarded by XDP: " << via_xdp << "\n";
}

// Without an XDP program on the veths' peers, what XDP sent would be dropped: uvsd sees it,
// says so, and keeps the flows in user space until the peers get one.
TEST_F(FastPathTest, EgressesThatWouldDropAreNotUsedUntilTheyCanTakeIt) {
  ASSERT_NO_FATAL_FAILURE(start_lab(2, {"--offload"}));
  const std::string vip = "192.168.56.102";
  ASSERT_TRUE(adm({"-A", "-t", vip + ":80", "-s", "rr"}));
  for (int k = 1; k <= 2; ++k)
    ASSERT_TRUE(adm({"-a", "-t", vip + ":80", "-r", Lab::server_v4(k) + ":8000", "-m"}));
  ASSERT_TRUE(wait_until(
      [&] { return director_->log().find("d0: a veth whose peer has no XDP program") != std::string::npos; },
      5s, 50ms))
      << director_->log();
  const std::string file = lab_->tmp("before");
  ASSERT_TRUE(curl_to_file(http_url(vip, 80, "/10m.bin"), file)) << director_->context();
  EXPECT_NE(which_server_file(file), 0);

  ASSERT_NO_FATAL_FAILURE(attach_peer_xdp());
  ASSERT_TRUE(wait_until(
      [&] { return director_->log().find("d1: XDP sends here") != std::string::npos; }, 5s, 50ms))
      << director_->log();
  const std::string after = lab_->tmp("after");
  ASSERT_TRUE(curl_to_file(http_url(vip, 80, "/10m.bin"), after)) << director_->context();
  EXPECT_NE(which_server_file(after), 0);

  ASSERT_EQ(director_->stop(), 0) << director_->log();
  // Only the second download could go through XDP: 10 MB is over 7,000 segments.
  const long via_xdp = forwarded_by_xdp();
  EXPECT_GT(via_xdp, 5000) << director_->log();
  EXPECT_LT(via_xdp, 12000) << "the first download went through XDP into the peerless veths?\n"
                            << director_->log();
}

// An offloaded connection that goes idle times out on schedule, and its flows leave the map.
TEST_F(FastPathTest, IdleConnectionsExpireAndLeaveTheMap) {
  ASSERT_NO_FATAL_FAILURE(start_lab(2, {"--offload"}));
  ASSERT_NO_FATAL_FAILURE(attach_peer_xdp());
  const std::string vip = "192.168.56.102";
  ASSERT_NO_FATAL_FAILURE(udp_echo_service(vip));
  ASSERT_TRUE(adm({"--set", "0", "0", "6"}));  // UDP connections idle out after 6 s
  ASSERT_TRUE(wait_until(
      [&] { return director_->log().find("d1: XDP sends here") != std::string::npos; }, 5s, 50ms))
      << director_->log();
  const UdpResult udp = udp_exchange(vip, 7000, 2, 20, 100);
  EXPECT_EQ(udp.ok, udp.sent) << udp.output;
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_TRUE(wait_until([&] { return flows_in_map() == 4; }, 3s, 100ms))
      << "two connections, two directions each: " << flows_in_map() << "\n" << last_dump_.substr(0, 3000) << "\n"
      << director_->adm({"-Lnc"}).out << director_->log();
  // 6 s of silence, a timer tick, and the offload thread's next round.
  EXPECT_TRUE(wait_until([&] { return director_->table().services.size() == 1 &&
                                      director_->adm({"-Lnc"}).out.find("UDP") == std::string::npos; },
                         12s, 200ms))
      << director_->adm({"-Lnc"}).out;
  EXPECT_GE(std::chrono::steady_clock::now() - t0, 4s) << "expired before its timeout";
  EXPECT_TRUE(wait_until([&] { return flows_in_map() == 0; }, 2s, 100ms)) << flows_in_map();
}

// A connection the director no longer has (here: timed out while idle, after XDP forwarded
// its handshake's ACKs) gets a reset for its next segment, as the local stack answers what
// IPVS hands it; without it, the client would retransmit into silence.
TEST_F(FastPathTest, ASegmentOfAForgottenConnectionIsReset) {
  ASSERT_NO_FATAL_FAILURE(start_lab(2, {"--offload"}));
  ASSERT_NO_FATAL_FAILURE(attach_peer_xdp());
  const std::string vip = "192.168.56.102";
  ASSERT_TRUE(adm({"-A", "-t", vip + ":80", "-s", "rr"}));
  for (int k = 1; k <= 2; ++k)
    ASSERT_TRUE(adm({"-a", "-t", vip + ":80", "-r", Lab::server_v4(k) + ":8000", "-m"}));
  ASSERT_TRUE(adm({"--set", "2", "0", "0"}));  // established TCP idles out after 2 s
  static constexpr const char* kIdleClient = R"(
import socket, sys, time
s = socket.create_connection((sys.argv[1], 80), timeout=3)
time.sleep(4)
t0 = time.monotonic()
s.sendall(b"GET / HTTP/1.0\r\n\r\n")
try:
    print("data", len(s.recv(100)))
except ConnectionResetError:
    print("reset after %.1f s" % (time.monotonic() - t0))
except socket.timeout:
    print("silence")
)";
  RunResult r = lab_->exec(lab_->client(), {"/usr/bin/python3", "-c", kIdleClient, vip}, 20s);
  EXPECT_EQ(r.out.rfind("reset after", 0), 0u) << r.out << r.err << director_->adm({"-Lnc"}).out;
}

// Deleting the real server mid-stream stops the download at once, XDP included (IPVS drops
// the packets of a connection whose real server is gone), and the flows leave the map;
// setting its weight to 0 instead lets the connection finish (quiescent), byte for byte.
TEST_F(FastPathTest, DeletingOrQuiescingTheRealServerMidStream) {
  ASSERT_NO_FATAL_FAILURE(start_lab(1, {"--offload"}));
  ASSERT_NO_FATAL_FAILURE(attach_peer_xdp());
  const std::string vip = "192.168.56.102";
  const std::string rs = Lab::server_v4(1) + ":8000";
  ASSERT_TRUE(adm({"-A", "-t", vip + ":80", "-s", "rr"}));
  ASSERT_TRUE(adm({"-a", "-t", vip + ":80", "-r", rs, "-m"}));
  // curl's --limit-rate paces reads, not the wire: with the default receive buffer (up to
  // 6 MiB) most of the file crosses the director before -d. A small one keeps it mid-stream.
  ASSERT_EQ(lab_->exec(lab_->client(),
                       {"/usr/sbin/sysctl", "-qw", "net.ipv4.tcp_rmem=4096 65536 131072"}, 5s)
                .status,
            0);
  auto download = [&](const std::string& name) -> Process& {
    return spawn(lab_->client(),
                 {"/usr/bin/curl", "-sS", "--max-time", "30", "--limit-rate", "2M", "-o",
                  lab_->tmp(name), http_url(vip, 80, "/10m.bin")},
                 name);
  };
  auto size_of = [&](const std::string& name) {
    std::error_code ec;
    const auto n = std::filesystem::file_size(lab_->tmp(name), ec);
    return ec ? 0 : static_cast<long>(n);
  };

  Process& quiesced = download("quiesced");
  ASSERT_TRUE(wait_until([&] { return flows_in_map() == 2; }, 5s, 100ms)) << director_->log();
  ASSERT_TRUE(adm({"-e", "-t", vip + ":80", "-r", rs, "-m", "-w", "0"}));
  ASSERT_EQ(quiesced.wait(30s), std::optional<int>(0)) << quiesced.log();
  EXPECT_EQ(which_server_file(lab_->tmp("quiesced")), 1);

  ASSERT_TRUE(adm({"-e", "-t", vip + ":80", "-r", rs, "-m", "-w", "1"}));
  Process& deleted = download("deleted");
  ASSERT_TRUE(wait_until([&] { return flows_in_map() == 2; }, 5s, 100ms)) << director_->log();
  ASSERT_TRUE(wait_until([&] { return size_of("deleted") > (1 << 20); }, 5s, 50ms));
  const auto deleted_at = std::chrono::steady_clock::now();
  ASSERT_TRUE(adm({"-d", "-t", vip + ":80", "-r", rs}));
  EXPECT_TRUE(wait_until([&] { return flows_in_map() == 0; }, 3s, 20ms))
      << flows_in_map() << "\n" << director_->adm({"-Lnc"}).out << director_->adm({"-Ln"}).out
      << director_->log();
  // What XDP forwards between -d and its flows leaving the map depends on how fast the worker
  // and the map writer run (a loaded 2-core CI machine: a few hundred ms); the bound below
  // counts from the flows' removal.
  const long at_delete = size_of("deleted");
  std::cout << "[ figure ] the deleted server's flows left the map "
            << std::chrono::duration_cast<std::chrono::milliseconds>(
                   std::chrono::steady_clock::now() - deleted_at).count()
            << " ms after -d was sent\n";
  // The client's ACKs stop at the director while the server's segments still pass (as IPVS
  // passes a deleted real server's replies), so the server may still send what the client's
  // last window allowed, retransmitting as curl's reads free the buffer: at most what the
  // socket held unread, one window and what was in flight (each at most its 128 KiB buffer),
  // and curl's own buffer -- 512 KiB, where the download would otherwise go on at 2 MB/s.
  std::this_thread::sleep_for(3s);
  const long after = size_of("deleted");
  EXPECT_LE(after - at_delete, 4 * 131072) << at_delete << " -> " << after;
  EXPECT_LT(after, static_cast<long>(kTenMegabytes));
  EXPECT_TRUE(deleted.running());
}

// --stats counts exactly what went through, XDP's share folded in; and uvsd killed with
// SIGKILL leaves no XDP program and no map behind (bpf_link detaches with the process), so a
// new uvsd starts on the same interfaces and serves.
TEST_F(FastPathTest, ExactStatisticsAndNothingLeftAfterSigkill) {
  ASSERT_NO_FATAL_FAILURE(start_lab(2, {"--offload"}));
  ASSERT_NO_FATAL_FAILURE(attach_peer_xdp());
  const std::string vip = "192.168.56.102";
  ASSERT_NO_FATAL_FAILURE(udp_echo_service(vip));
  ASSERT_TRUE(wait_until(
      [&] { return director_->log().find("d1: XDP sends here") != std::string::npos; }, 5s, 50ms))
      << director_->log();
  constexpr int kSockets = 2, kEach = 50, kSize = 100;
  const UdpResult udp = udp_exchange(vip, 7000, kSockets, kEach, kSize);
  ASSERT_EQ(udp.ok, kSockets * kEach) << udp.output;
  // A request is 20 + 8 + 100 bytes of IP, its echo 3 more (the server's "sN " tag); all
  // but the first of each socket went through XDP.
  const long want_pkts = kSockets * kEach, want_in = want_pkts * (20 + 8 + kSize),
             want_out = want_pkts * (20 + 8 + 3 + kSize);
  Table t;
  EXPECT_TRUE(wait_until(
      [&] {
        t = director_->stats();
        const ServiceRow* s = t.service("UDP", vip + ":7000");
        return s && s->in_pkts == want_pkts && s->out_pkts == want_pkts &&
               s->in_bytes == want_in && s->out_bytes == want_out;
      },
      5s, 200ms))
      << director_->adm({"-Ln", "--stats", "--exact"}).out;

  // What uvsd holds: its maps and programs (fdinfo names their ids).
  std::vector<std::string> maps, progs;
  const std::string fdinfo = "/proc/" + std::to_string(director_->pid()) + "/fdinfo";
  std::error_code ec;
  for (const auto& fd : std::filesystem::directory_iterator(fdinfo, ec)) {
    const std::string info = read_file(fd.path().string(), 4096);
    for (auto [field, ids] : {std::pair{"map_id:", &maps}, std::pair{"prog_id:", &progs}})
      if (size_t at = info.find(field); at != std::string::npos)
        ids->push_back(std::to_string(std::stol(info.substr(at + std::strlen(field)))));
  }
  ASSERT_FALSE(maps.empty());
  ASSERT_EQ(kill(director_->pid(), SIGKILL), 0);
  director_->stop();
  auto gone = [&](const char* kind, const std::vector<std::string>& ids) {
    for (const auto& id : ids)
      if (run({"/usr/sbin/bpftool", kind, "show", "id", id}).status == 0) return false;
    return true;
  };
  EXPECT_TRUE(wait_until([&] { return gone("map", maps) && gone("prog", progs); }, 10s, 200ms))
      << "maps " << join(maps) << " progs " << join(progs);
  for (const char* dev : {"d0", "d1"}) {
    RunResult link = lab_->exec(lab_->director(), {kIp, "link", "show", "dev", dev});
    EXPECT_EQ(link.out.find("xdp"), std::string::npos) << link.out;
  }
  ASSERT_TRUE(director_->start({"--offload"})) << director_->log();
  ASSERT_TRUE(adm({"-A", "-u", vip + ":7000", "-s", "rr"}));
  for (int k = 1; k <= 2; ++k)
    ASSERT_TRUE(adm({"-a", "-u", vip + ":7000", "-r", Lab::server_v4(k) + ":7000", "-m"}));
  const UdpResult again = udp_exchange(vip, 7000, kSockets, 5, kSize);
  EXPECT_EQ(again.ok, kSockets * 5) << again.output << director_->log();
}

INSTANTIATE_TEST_SUITE_P(Modes, FastPathDownloads, ::testing::Values(Mode::kNat, Mode::kFullNat),
                         [](const auto& info) { return mode_name(info.param); });

}  // namespace
}  // namespace uvs::testing::netns
