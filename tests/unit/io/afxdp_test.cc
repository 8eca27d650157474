// AF_XDP packet I/O and XDP steering on real veth pairs, inside network namespaces this test
// creates (names "uvsx<pid>c|d|s"): a client, a director (where uvs runs) and a server.
//
//   client c0 10.201.1.2 ---- d0 10.201.1.1  director  d1 10.201.2.1 ---- s0 10.201.2.2 server
//                                           VIP 10.201.100.1 (on d0)
//
// The test thread enters the director namespace (setns) to load the steering program and
// create the AF_XDP sockets; sockets for the client and the server are created inside their
// namespaces the same way. Frames sent from the client are built byte by byte and sent on a
// raw packet socket, so that what reaches rx_burst can be compared exactly. All traffic stays
// inside the namespaces, every wait is bounded, and the namespaces are deleted at the end, on
// failure (fixture teardown), on a fatal signal, and by the next run if this one was killed.
// Needs root; skipped otherwise.
#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>

#include "tests/common/netns_cleanup.h"
#include "tests/common/shell.h"
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "io/afxdp.h"
#include "io/xdp_steering.h"
#include "io/xdp_steering_abi.h"

namespace uvs::io {
namespace {

using Bytes = std::vector<uint8_t>;
using Clock = std::chrono::steady_clock;

// ---------------------------------------------------------------------------------------------
// Shell and namespaces

using ::uvs::testing::delete_namespaces_of_dead_runs;
using ::uvs::testing::delete_netns_from_signal_handler;
using ::uvs::testing::find_ip_binary;
using ::uvs::testing::shell;
using ::uvs::testing::shell_output;

constexpr char kNetnsPrefix[] = "uvsx";
std::string prefix() { return kNetnsPrefix + std::to_string(getpid()); }
std::string client_ns() { return prefix() + "c"; }
std::string director_ns() { return prefix() + "d"; }
std::string server_ns() { return prefix() + "s"; }

void delete_namespaces() {
  for (const std::string& ns : {client_ns(), director_ns(), server_ns()})
    shell("ip netns del " + ns);
}

// Prepared before any signal can arrive: the handler only forks and execs (async-signal-safe).
struct SignalCleanup {
  std::string ip_path;
  std::vector<std::string> names;
};
SignalCleanup* g_signal_cleanup = nullptr;

void on_fatal_signal(int sig) {
  // Best effort: a dying test must not leave namespaces (and their veths) behind. A run killed
  // without a chance to get here is swept by the next run (delete_namespaces_of_dead_runs).
  if (g_signal_cleanup)
    for (const std::string& name : g_signal_cleanup->names)
      delete_netns_from_signal_handler(g_signal_cleanup->ip_path, name);
  signal(sig, SIG_DFL);
  raise(sig);
}

void install_signal_cleanup() {
  auto* cleanup = new SignalCleanup();
  cleanup->ip_path = find_ip_binary();
  cleanup->names = {client_ns(), director_ns(), server_ns()};
  g_signal_cleanup = cleanup;
  for (int sig : {SIGINT, SIGTERM, SIGHUP, SIGABRT, SIGSEGV, SIGBUS}) signal(sig, on_fatal_signal);
}

// Enters a named network namespace for the calling thread; leaves on destruction.
class NetnsGuard {
 public:
  explicit NetnsGuard(const std::string& name) {
    original_ = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
    int target = open(("/run/netns/" + name).c_str(), O_RDONLY | O_CLOEXEC);
    entered_ = original_ >= 0 && target >= 0 && setns(target, CLONE_NEWNET) == 0;
    if (target >= 0) close(target);
  }
  ~NetnsGuard() {
    if (entered_) setns(original_, CLONE_NEWNET);
    if (original_ >= 0) close(original_);
  }
  bool entered() const { return entered_; }
  NetnsGuard(const NetnsGuard&) = delete;
  NetnsGuard& operator=(const NetnsGuard&) = delete;

 private:
  int original_ = -1;
  bool entered_ = false;
};

class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  Fd(Fd&& other) noexcept : fd_(other.fd_) { other.fd_ = -1; }
  Fd& operator=(Fd&& other) noexcept {
    std::swap(fd_, other.fd_);
    return *this;
  }
  ~Fd() {
    if (fd_ >= 0) close(fd_);
  }
  int get() const { return fd_; }

 private:
  int fd_ = -1;
};

// ---------------------------------------------------------------------------------------------
// Packet building

struct Mac {
  uint8_t b[6];
};
constexpr Mac kClientMac{{0x02, 0x75, 0x76, 0x00, 0x01, 0x02}};
constexpr Mac kDirectorMac0{{0x02, 0x75, 0x76, 0x00, 0x01, 0x01}};
constexpr Mac kDirectorMac1{{0x02, 0x75, 0x76, 0x00, 0x02, 0x01}};
constexpr Mac kServerMac{{0x02, 0x75, 0x76, 0x00, 0x02, 0x02}};
constexpr Mac kDirectorMac2{{0x02, 0x75, 0x76, 0x00, 0x03, 0x01}};
constexpr Mac kClientMac2{{0x02, 0x75, 0x76, 0x00, 0x03, 0x02}};

constexpr const char* kClient = "10.201.1.2";
constexpr const char* kDirector = "10.201.1.1";
constexpr const char* kVip = "10.201.100.1";
constexpr const char* kVipAnyPort = "10.201.100.2";
constexpr const char* kOtherAddr = "10.201.100.9";
constexpr const char* kLocalAddr = "10.201.1.50";
constexpr const char* kServer = "10.201.2.2";
constexpr const char* kClient6 = "fd00:201:1::2";
constexpr const char* kDirector6 = "fd00:201:1::1";
constexpr const char* kVip6 = "fd00:201:100::1";

InetAddr addr(const char* text) { return *InetAddr::parse(text); }

void put16(Bytes& b, size_t at, uint16_t v) {
  b[at] = static_cast<uint8_t>(v >> 8);
  b[at + 1] = static_cast<uint8_t>(v);
}

uint32_t sum16(const uint8_t* p, size_t n, uint32_t sum = 0) {
  for (size_t i = 0; i + 1 < n; i += 2) sum += static_cast<uint32_t>(p[i] << 8 | p[i + 1]);
  if (n & 1) sum += static_cast<uint32_t>(p[n - 1] << 8);
  return sum;
}

uint16_t fold(uint32_t sum) {
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<uint16_t>(~sum);
}

// The L4 checksum over the pseudo header of (src, dst, protocol) and `segment`.
uint16_t l4_checksum(const InetAddr& src, const InetAddr& dst, uint8_t protocol,
                     const Bytes& segment) {
  size_t alen = src.is_v6() ? 16 : 4;
  uint32_t sum = sum16(src.bytes.data(), alen);
  sum = sum16(dst.bytes.data(), alen, sum);
  sum += protocol;
  sum += static_cast<uint32_t>(segment.size());
  sum = sum16(segment.data(), segment.size(), sum);
  uint16_t c = fold(sum);
  return protocol == IPPROTO_UDP && c == 0 ? 0xffff : c;
}

Bytes udp(const InetAddr& src, const InetAddr& dst, uint16_t sport, uint16_t dport,
          const std::string& payload) {
  Bytes b(8 + payload.size());
  put16(b, 0, sport);
  put16(b, 2, dport);
  put16(b, 4, static_cast<uint16_t>(b.size()));
  std::memcpy(b.data() + 8, payload.data(), payload.size());
  put16(b, 6, l4_checksum(src, dst, IPPROTO_UDP, b));
  return b;
}

Bytes tcp_syn(const InetAddr& src, const InetAddr& dst, uint16_t sport, uint16_t dport) {
  Bytes b(20);
  put16(b, 0, sport);
  put16(b, 2, dport);
  b[4] = 0x12, b[5] = 0x34, b[6] = 0x56, b[7] = 0x78;  // sequence
  b[12] = 5 << 4;
  b[13] = 0x02;  // SYN
  put16(b, 14, 64240);
  put16(b, 16, l4_checksum(src, dst, IPPROTO_TCP, b));
  return b;
}

// An IPv4 header (with `options`, a multiple of 4 bytes) and its payload.
Bytes ipv4(const InetAddr& src, const InetAddr& dst, uint8_t protocol, const Bytes& payload,
           uint16_t frag_field = 0, const Bytes& options = {}) {
  size_t header = 20 + options.size();
  Bytes b(header);
  b[0] = static_cast<uint8_t>(0x40 | (header / 4));
  put16(b, 2, static_cast<uint16_t>(header + payload.size()));
  put16(b, 4, 0x4242);
  put16(b, 6, frag_field);
  b[8] = 64;
  b[9] = protocol;
  std::memcpy(&b[12], src.bytes.data(), 4);
  std::memcpy(&b[16], dst.bytes.data(), 4);
  std::copy(options.begin(), options.end(), b.begin() + 20);
  put16(b, 10, fold(sum16(b.data(), header)));
  b.insert(b.end(), payload.begin(), payload.end());
  return b;
}

// An IPv6 header; `payload` starts with whatever `next_header` names.
Bytes ipv6(const InetAddr& src, const InetAddr& dst, uint8_t next_header, const Bytes& payload) {
  Bytes b(40);
  b[0] = 0x60;
  put16(b, 4, static_cast<uint16_t>(payload.size()));
  b[6] = next_header;
  b[7] = 64;
  std::memcpy(&b[8], src.bytes.data(), 16);
  std::memcpy(&b[24], dst.bytes.data(), 16);
  b.insert(b.end(), payload.begin(), payload.end());
  return b;
}

Bytes ethernet(const Mac& dst, const Mac& src, uint16_t ether_type, const Bytes& payload,
               int vlan = -1) {
  Bytes b(dst.b, dst.b + 6);
  b.insert(b.end(), src.b, src.b + 6);
  if (vlan >= 0) {
    b.push_back(0x81), b.push_back(0x00);
    b.push_back(static_cast<uint8_t>(vlan >> 8)), b.push_back(static_cast<uint8_t>(vlan));
  }
  b.push_back(static_cast<uint8_t>(ether_type >> 8));
  b.push_back(static_cast<uint8_t>(ether_type));
  b.insert(b.end(), payload.begin(), payload.end());
  return b;
}

Bytes to_director(const Bytes& ip_packet, bool v6 = false, int vlan = -1) {
  return ethernet(kDirectorMac0, kClientMac, v6 ? ETH_P_IPV6 : ETH_P_IP, ip_packet, vlan);
}

// ---------------------------------------------------------------------------------------------
// The lab

struct Lab {
  bool ready = false;
  std::string failure;
  Fd client_raw;  // AF_PACKET on c0, in the client namespace
  int client_ifindex = 0;
  // AF_PACKET bypassing the qdisc, which picks the tx queue of c2 from the sending CPU.
  Fd client_raw2;
  int client_ifindex2 = 0;
};

Lab* g_lab = nullptr;

bool setup_lab(Lab& lab) {
  delete_namespaces_of_dead_runs(kNetnsPrefix, "cds");
  delete_namespaces();
  const std::string c = client_ns(), d = director_ns(), s = server_ns();
  auto mac = [](const Mac& m) {
    char text[18];
    std::snprintf(text, sizeof(text), "%02x:%02x:%02x:%02x:%02x:%02x", m.b[0], m.b[1], m.b[2],
                  m.b[3], m.b[4], m.b[5]);
    return std::string(text);
  };
  const std::vector<std::string> commands = {
      "ip netns add " + c,
      "ip netns add " + d,
      "ip netns add " + s,
      "ip -n " + d + " link add d0 address " + mac(kDirectorMac0) + " type veth peer name c0 address " +
          mac(kClientMac) + " netns " + c,
      "ip -n " + d + " link add d1 address " + mac(kDirectorMac1) + " type veth peer name s0 address " +
          mac(kServerMac) + " netns " + s,
      // Two queues each way: the client's tx queue becomes the director's rx queue.
      "ip -n " + d + " link add d2 numtxqueues 2 numrxqueues 2 address " + mac(kDirectorMac2) +
          " type veth peer name c2 numtxqueues 2 numrxqueues 2 address " + mac(kClientMac2) +
          " netns " + c,
      "ip -n " + c + " link set lo up",
      "ip -n " + d + " link set lo up",
      "ip -n " + s + " link set lo up",
      "ip -n " + c + " addr add " + kClient + "/24 dev c0",
      "ip -n " + c + " addr add " + kClient6 + "/64 dev c0 nodad",
      "ip -n " + d + " addr add " + kDirector + "/24 dev d0",
      "ip -n " + d + " addr add " + kVip + "/32 dev d0",
      "ip -n " + d + " addr add " + kDirector6 + "/64 dev d0 nodad",
      "ip -n " + d + " addr add 10.201.2.1/24 dev d1",
      "ip -n " + s + " addr add " + kServer + "/24 dev s0",
      "ip -n " + c + " link set c0 up",
      "ip -n " + c + " link set c2 up",
      "ip -n " + d + " link set d2 up",
      "ip -n " + d + " link set d0 up",
      "ip -n " + d + " link set d1 up",
      "ip -n " + s + " link set s0 up",
      "ip -n " + c + " route add 10.201.100.0/24 via " + kDirector,
      "ip -n " + s + " route add default via 10.201.2.1",
      // Full checksums from the client's own sockets (veth would leave them partial).
      "ip netns exec " + c + " ethtool -K c0 tx off",
  };
  for (const auto& command : commands) {
    if (shell(command) != 0) {
      lab.failure = "lab setup failed: " + command;
      return false;
    }
  }
  NetnsGuard in_client(c);
  if (!in_client.entered()) {
    lab.failure = "cannot enter " + c;
    return false;
  }
  lab.client_raw = Fd(socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0));
  lab.client_ifindex = static_cast<int>(if_nametoindex("c0"));
  lab.client_raw2 = Fd(socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0));
  lab.client_ifindex2 = static_cast<int>(if_nametoindex("c2"));
  int one = 1;
  if (lab.client_raw.get() < 0 || lab.client_ifindex == 0 || lab.client_raw2.get() < 0 ||
      lab.client_ifindex2 == 0 ||
      setsockopt(lab.client_raw2.get(), SOL_PACKET, PACKET_QDISC_BYPASS, &one, sizeof(one)) != 0) {
    lab.failure = "raw sockets in the client namespace";
    return false;
  }
  return true;
}

class AfXdpTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (geteuid() != 0) return;
    install_signal_cleanup();
    std::atexit(delete_namespaces);
    g_lab = new Lab();
    g_lab->ready = setup_lab(*g_lab);
  }
  static void TearDownTestSuite() {
    delete g_lab;
    g_lab = nullptr;
    delete_namespaces();
  }

  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "needs root (network namespaces, XDP, AF_XDP)";
    ASSERT_NE(g_lab, nullptr);
    ASSERT_TRUE(g_lab->ready) << g_lab->failure;
    director_ = std::make_unique<NetnsGuard>(director_ns());
    ASSERT_TRUE(director_->entered());
  }
  void TearDown() override {
    io_.reset();
    io2_.reset();
    steering_.reset();
    director_.reset();
  }

  // Loads the steering program and attaches it to the named director interfaces.
  void load_steering(bool generic, const std::vector<std::string>& interfaces) {
    XdpSteeringConfig config;
    config.object_path = std::string(UVS_BUILD_DIR) + "/bpf/steer.bpf.o";
    config.force_generic = generic;
    std::string error;
    steering_ = XdpSteering::create(config, &error);
    ASSERT_NE(steering_, nullptr) << error;
    for (const auto& name : interfaces) {
      auto mode = steering_->attach(name, &error);
      ASSERT_TRUE(mode.has_value()) << error;
      EXPECT_EQ(*mode, generic ? XdpAttachMode::kGeneric : XdpAttachMode::kNative) << name;
    }
  }

  std::unique_ptr<AfXdpIo> make_io(const std::vector<std::string>& interfaces) {
    AfXdpConfig config;
    for (const auto& name : interfaces) config.queues.push_back({name, 0});
    config.ring_size = 256;
    std::string error;
    auto io = AfXdpIo::create(config, steering_.get(), &error);
    EXPECT_NE(io, nullptr) << error;
    return io;
  }

  static void send_from_client(const Bytes& frame, bool second_link = false) {
    sockaddr_ll to{};
    to.sll_family = AF_PACKET;
    to.sll_ifindex = second_link ? g_lab->client_ifindex2 : g_lab->client_ifindex;
    to.sll_halen = 6;
    std::memcpy(to.sll_addr, frame.data(), 6);
    int fd = second_link ? g_lab->client_raw2.get() : g_lab->client_raw.get();
    ssize_t sent = sendto(fd, frame.data(), frame.size(), 0, reinterpret_cast<sockaddr*>(&to),
                          sizeof(to));
    ASSERT_EQ(sent, static_cast<ssize_t>(frame.size())) << std::strerror(errno);
  }

  struct Received {
    Bytes bytes;
    uint16_t port;
  };
  // Receives until `want` frames arrived or `timeout_ms` passed; frees every frame.
  static std::vector<Received> receive(AfXdpIo& io, size_t want, int timeout_ms) {
    std::vector<Received> got;
    auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
    Frame frames[32];
    while (got.size() < want && Clock::now() < deadline) {
      uint32_t n = io.rx_burst(frames);
      for (uint32_t i = 0; i < n; ++i)
        got.push_back({Bytes(frames[i].data, frames[i].data + frames[i].len), frames[i].port});
      io.free(std::span<Frame>(frames, n));
      if (n == 0) io.wait_rx(10);
    }
    return got;
  }

  static bool contains(const std::vector<Received>& got, const Bytes& frame) {
    return std::any_of(got.begin(), got.end(), [&](const Received& r) { return r.bytes == frame; });
  }

  // A socket created inside namespace `ns`.
  static Fd socket_in(const std::string& ns, int family, int type) {
    NetnsGuard guard(ns);
    if (!guard.entered()) return Fd();
    Fd fd(socket(family, type | SOCK_CLOEXEC, 0));
    timeval timeout{2, 0};
    setsockopt(fd.get(), SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
    setsockopt(fd.get(), SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof(timeout));
    return fd;
  }

  static bool bind_v4(const Fd& fd, const char* address, uint16_t port) {
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(port);
    inet_pton(AF_INET, address, &sa.sin_addr);
    int one = 1;
    setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    return bind(fd.get(), reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) == 0;
  }

  static sockaddr_in v4(const char* address, uint16_t port) {
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(port);
    inet_pton(AF_INET, address, &sa.sin_addr);
    return sa;
  }

  // Whether no uvs frame arrives for a while: the packet went to the kernel.
  static void expect_nothing(AfXdpIo& io, const Bytes& frame, const char* what) {
    auto got = receive(io, 64, 250);
    EXPECT_FALSE(contains(got, frame)) << what << " was steered";
  }

  std::unique_ptr<NetnsGuard> director_;
  std::unique_ptr<XdpSteering> steering_;
  std::unique_ptr<AfXdpIo> io_;
  std::unique_ptr<AfXdpIo> io2_;
};

// ---------------------------------------------------------------------------------------------

class AfXdpSteerTest : public AfXdpTest, public ::testing::WithParamInterface<bool> {};

TEST_P(AfXdpSteerTest, ServiceTrafficArrivesWithExactBytes) {
  const bool generic = GetParam();
  load_steering(generic, {"d0"});
  io_ = make_io({"d0"});
  ASSERT_NE(io_, nullptr);
  EXPECT_FALSE(io_->zero_copy()) << "veth has no AF_XDP zero-copy; copy mode expected";
  std::string error;
  SteerSet set;
  set.services = {{addr(kVip), IPPROTO_UDP, 5353}, {addr(kVip), IPPROTO_TCP, 80},
                  {addr(kVipAnyPort), IPPROTO_TCP, 0}, {addr(kVip6), IPPROTO_UDP, 53}};
  ASSERT_TRUE(steering_->sync(set, &error)) << error;

  const InetAddr client = addr(kClient), vip = addr(kVip), client6 = addr(kClient6),
                 vip6 = addr(kVip6), other = addr(kOtherAddr);
  Bytes udp4 = to_director(ipv4(client, vip, IPPROTO_UDP, udp(client, vip, 40000, 5353, "hello uvs")));
  Bytes syn4 = to_director(ipv4(client, vip, IPPROTO_TCP, tcp_syn(client, vip, 40001, 80)));
  Bytes any_port = to_director(ipv4(client, addr(kVipAnyPort), IPPROTO_TCP,
                                    tcp_syn(client, addr(kVipAnyPort), 40002, 12345)));
  // IPv4 options (a record-route-sized NOP run): the transport header is further in.
  Bytes options4 = to_director(ipv4(client, vip, IPPROTO_UDP, udp(client, vip, 40003, 5353, "opts"),
                                    0, Bytes(8, 0x01)));
  Bytes tagged = to_director(ipv4(client, vip, IPPROTO_UDP, udp(client, vip, 40004, 5353, "vlan")),
                             false, 7);
  // IPv6 behind a hop-by-hop and a destination-options header.
  Bytes inner6 = udp(client6, vip6, 40005, 53, "over six");
  Bytes ext(16, 0);
  ext[0] = IPPROTO_DSTOPTS;  // hop-by-hop: next = dest opts, length 0 (8 bytes), PadN
  ext[2] = 1, ext[3] = 4;
  ext[8] = IPPROTO_UDP;  // dest opts: next = UDP
  ext[10] = 1, ext[11] = 4;
  ext.insert(ext.end(), inner6.begin(), inner6.end());
  Bytes udp6 = to_director(ipv6(client6, vip6, IPPROTO_HOPOPTS, ext), true);
  // Fragments: a later IPv4 fragment to the VIP (no ports), an IPv6 fragment to the VIP6.
  Bytes frag4 = to_director(ipv4(client, vip, IPPROTO_UDP, Bytes(16, 0xab), 0x0010));
  Bytes frag6_body = {IPPROTO_UDP, 0, 0x00, 0x18, 0, 0, 0, 42};  // offset 3 (24 bytes)
  frag6_body.insert(frag6_body.end(), 16, 0xcd);
  Bytes frag6 = to_director(ipv6(client6, vip6, IPPROTO_FRAGMENT, frag6_body), true);

  const std::vector<Bytes> steered = {udp4, syn4, any_port, options4, tagged, udp6, frag4, frag6};
  SteerCounters before = steering_->counters();
  for (const auto& frame : steered) send_from_client(frame);
  auto got = receive(*io_, steered.size(), 3000);
  ASSERT_EQ(got.size(), steered.size());
  for (size_t i = 0; i < steered.size(); ++i) {
    EXPECT_TRUE(contains(got, steered[i])) << "frame " << i << " not received byte for byte";
  }
  for (const auto& r : got) EXPECT_EQ(r.port, 0);

  // Not services: another port on the VIP, another address, a fragment to a non-VIP.
  Bytes other_port = to_director(ipv4(client, vip, IPPROTO_UDP, udp(client, vip, 40010, 5354, "no")));
  Bytes other_udp = to_director(ipv4(client, other, IPPROTO_UDP, udp(client, other, 40011, 5353, "no")));
  Bytes other_tcp = to_director(ipv4(client, vip, IPPROTO_TCP, tcp_syn(client, vip, 40012, 81)));
  Bytes other_frag = to_director(ipv4(client, other, IPPROTO_UDP, Bytes(16, 0xab), 0x0010));
  for (const auto& frame : {other_port, other_udp, other_tcp, other_frag}) send_from_client(frame);
  auto stray = receive(*io_, 64, 300);
  EXPECT_TRUE(stray.empty()) << stray.size() << " non-service frames were steered";

  SteerCounters after = steering_->counters();
  EXPECT_EQ(after.vip - before.vip, 6u);
  EXPECT_EQ(after.fragment - before.fragment, 2u);
  EXPECT_GE(after.passed - before.passed, 4u);
  EXPECT_EQ(after.no_socket, 0u);
}

INSTANTIATE_TEST_SUITE_P(Modes, AfXdpSteerTest, ::testing::Values(false, true),
                         [](const ::testing::TestParamInfo<bool>& info) {
                           return info.param ? "Generic" : "Native";
                         });

TEST_F(AfXdpTest, HostTrafficStillReachesTheKernel) {
  load_steering(false, {"d0"});
  io_ = make_io({"d0"});
  ASSERT_NE(io_, nullptr);
  std::string error;
  ASSERT_TRUE(steering_->add_service({addr(kVip), IPPROTO_TCP, 80}, &error)) << error;
  ASSERT_TRUE(steering_->add_service({addr(kVip), IPPROTO_UDP, 5353}, &error)) << error;

  // ARP + ICMP echo to the director's address and to the VIP itself; ND + ICMPv6 echo. The
  // flush makes the client resolve again, through the steering program.
  const std::string c = client_ns();
  ASSERT_EQ(shell("ip -n " + c + " neigh flush dev c0"), 0);
  ASSERT_EQ(shell("ip -n " + c + " -6 neigh flush dev c0"), 0);
  EXPECT_EQ(shell("ip netns exec " + c + " ping -c 1 -W 2 " + kDirector), 0);
  EXPECT_EQ(shell("ip netns exec " + c + " ping -c 1 -W 2 " + kVip), 0);
  EXPECT_EQ(shell("ip netns exec " + c + " ping -6 -c 1 -W 2 " + kDirector6), 0);

  // TCP to a port of the director that is no service: the kernel accepts it.
  Fd listener = socket_in(director_ns(), AF_INET, SOCK_STREAM);
  ASSERT_TRUE(bind_v4(listener, kDirector, 2222));
  ASSERT_EQ(listen(listener.get(), 4), 0);
  Fd connector = socket_in(c, AF_INET, SOCK_STREAM);
  sockaddr_in to = v4(kDirector, 2222);
  EXPECT_EQ(connect(connector.get(), reinterpret_cast<sockaddr*>(&to), sizeof(to)), 0)
      << std::strerror(errno);
  Fd accepted(accept(listener.get(), nullptr, nullptr));
  EXPECT_GE(accepted.get(), 0);

  // UDP to the VIP on a port that is no service reaches a kernel socket; on the service port
  // it reaches uvs instead.
  Fd udp_listener = socket_in(director_ns(), AF_INET, SOCK_DGRAM);
  ASSERT_TRUE(bind_v4(udp_listener, kVip, 5354));
  Fd sender = socket_in(c, AF_INET, SOCK_DGRAM);
  sockaddr_in kernel_port = v4(kVip, 5354);
  sockaddr_in uvs_port = v4(kVip, 5353);
  ASSERT_EQ(sendto(sender.get(), "kernel", 6, 0, reinterpret_cast<sockaddr*>(&kernel_port),
                   sizeof(kernel_port)),
            6);
  ASSERT_EQ(sendto(sender.get(), "uvs!", 4, 0, reinterpret_cast<sockaddr*>(&uvs_port),
                   sizeof(uvs_port)),
            4);
  char buffer[64];
  ssize_t n = recv(udp_listener.get(), buffer, sizeof(buffer), 0);
  ASSERT_EQ(n, 6);
  EXPECT_EQ(std::string(buffer, 6), "kernel");
  auto got = receive(*io_, 1, 2000);
  ASSERT_EQ(got.size(), 1u);
  const Bytes& frame = got[0].bytes;
  ASSERT_EQ(frame.size(), 14u + 20 + 8 + 4);
  EXPECT_EQ(std::string(frame.end() - 4, frame.end()), "uvs!");
  EXPECT_EQ(frame[14 + 9], IPPROTO_UDP);
  EXPECT_EQ(frame[14 + 20 + 2] << 8 | frame[14 + 20 + 3], 5353);

  SteerCounters counters = steering_->counters();
  EXPECT_GT(counters.passed, 0u);
  EXPECT_EQ(counters.vip, 1u);
}

TEST_F(AfXdpTest, TransmitReachesASocketInThePeerNamespace) {
  load_steering(false, {"d0"});
  io_ = make_io({"d0"});
  ASSERT_NE(io_, nullptr);
  ASSERT_EQ(io_->ports().size(), 1u);
  const PortInfo& port = io_->ports()[0];
  EXPECT_EQ(std::memcmp(port.mac, kDirectorMac0.b, 6), 0);
  EXPECT_EQ(port.mtu, 1500u);
  const uint32_t idle_free = io_->free_frames();

  Fd listener = socket_in(client_ns(), AF_INET, SOCK_DGRAM);
  ASSERT_TRUE(bind_v4(listener, kClient, 6000));

  const InetAddr director = addr(kDirector), client = addr(kClient);
  constexpr int kCount = 40;  // more than one sendto() budget of 32
  std::vector<Frame> frames(kCount);
  for (int i = 0; i < kCount; ++i) {
    Bytes packet = ethernet(kClientMac, kDirectorMac0, ETH_P_IP,
                            ipv4(director, client, IPPROTO_UDP,
                                 udp(director, client, 4000, 6000, "from uvs " + std::to_string(i))));
    ASSERT_TRUE(io_->alloc(frames[i], 128));
    EXPECT_EQ(frames[i].headroom, 128);
    std::memcpy(frames[i].data, packet.data(), packet.size());
    frames[i].len = static_cast<uint32_t>(packet.size());
  }
  ASSERT_EQ(io_->tx_burst(0, frames), static_cast<uint32_t>(kCount));
  io_->flush();

  std::vector<std::string> payloads;
  for (int i = 0; i < kCount; ++i) {
    char buffer[64];
    ssize_t n = recv(listener.get(), buffer, sizeof(buffer), 0);
    if (n <= 0) break;
    payloads.emplace_back(buffer, static_cast<size_t>(n));
  }
  ASSERT_EQ(payloads.size(), static_cast<size_t>(kCount));
  EXPECT_EQ(payloads.front(), "from uvs 0");
  EXPECT_EQ(payloads.back(), "from uvs " + std::to_string(kCount - 1));

  // Completions bring every frame back to the pool.
  auto deadline = Clock::now() + std::chrono::seconds(2);
  while (io_->free_frames() != idle_free && Clock::now() < deadline) {
    Frame none[1];
    io_->rx_burst(none);
    usleep(1000);
  }
  EXPECT_EQ(io_->free_frames(), idle_free);
  EXPECT_EQ(io_->stats().tx_packets, static_cast<uint64_t>(kCount));
  EXPECT_GE(io_->stats().tx_kicks, 2u);
}

TEST_F(AfXdpTest, RedirectsBetweenInterfacesThroughTheSharedUmem) {
  load_steering(false, {"d0", "d1"});
  io_ = make_io({"d0", "d1"});
  ASSERT_NE(io_, nullptr);
  ASSERT_EQ(io_->ports().size(), 2u);
  EXPECT_EQ(io_->ports()[1].ifindex, static_cast<int>(if_nametoindex("d1")));
  std::string error;
  ASSERT_TRUE(steering_->add_service({addr(kVip), IPPROTO_UDP, 7000}, &error)) << error;

  Fd server = socket_in(server_ns(), AF_INET, SOCK_DGRAM);
  ASSERT_TRUE(bind_v4(server, kServer, 7000));
  Fd client = socket_in(client_ns(), AF_INET, SOCK_DGRAM);
  ASSERT_TRUE(bind_v4(client, kClient, 41000));
  sockaddr_in to = v4(kVip, 7000);
  ASSERT_EQ(sendto(client.get(), "through uvs", 11, 0, reinterpret_cast<sockaddr*>(&to), sizeof(to)),
            11);

  Frame frame;
  auto deadline = Clock::now() + std::chrono::seconds(3);
  uint32_t n = 0;
  while (n == 0 && Clock::now() < deadline) {
    n = io_->rx_burst(std::span<Frame>(&frame, 1));
    if (n == 0) io_->wait_rx(10);
  }
  ASSERT_EQ(n, 1u);
  ASSERT_EQ(frame.port, 0);
  EXPECT_EQ(frame.headroom, 256) << "XDP_PACKET_HEADROOM in front of every received frame";
  ASSERT_EQ(frame.len, 14u + 20 + 8 + 11);

  // A NAT-style rewrite towards the server, out of the other interface, same UMEM frame.
  uint8_t* p = frame.data;
  std::memcpy(p, kServerMac.b, 6);
  std::memcpy(p + 6, kDirectorMac1.b, 6);
  const InetAddr server_addr = addr(kServer), client_addr = addr(kClient);
  std::memcpy(p + 14 + 16, server_addr.bytes.data(), 4);
  p[14 + 10] = p[14 + 11] = 0;
  uint16_t ip_sum = fold(sum16(p + 14, 20));
  p[14 + 10] = static_cast<uint8_t>(ip_sum >> 8), p[14 + 11] = static_cast<uint8_t>(ip_sum);
  Bytes segment(p + 34, p + frame.len);
  segment[6] = segment[7] = 0;
  uint16_t udp_sum = l4_checksum(client_addr, server_addr, IPPROTO_UDP, segment);
  p[34 + 6] = static_cast<uint8_t>(udp_sum >> 8), p[34 + 7] = static_cast<uint8_t>(udp_sum);

  ASSERT_EQ(io_->tx_burst(1, std::span<Frame>(&frame, 1)), 1u);
  io_->flush();
  char buffer[64];
  sockaddr_in from{};
  socklen_t from_len = sizeof(from);
  ssize_t got = recvfrom(server.get(), buffer, sizeof(buffer), 0,
                         reinterpret_cast<sockaddr*>(&from), &from_len);
  ASSERT_EQ(got, 11);
  EXPECT_EQ(std::string(buffer, 11), "through uvs");
  char source[INET_ADDRSTRLEN];
  inet_ntop(AF_INET, &from.sin_addr, source, sizeof(source));
  EXPECT_STREQ(source, kClient);
  EXPECT_EQ(ntohs(from.sin_port), 41000);
}

TEST_F(AfXdpTest, NatRepliesFwmarkFullnatAndIcmpErrorsAreSteered) {
  load_steering(false, {"d0"});
  io_ = make_io({"d0"});
  ASSERT_NE(io_, nullptr);
  std::string error;
  SteerSet set;
  set.services = {{addr(kVip), IPPROTO_TCP, 80}};
  set.nat_replies = {{addr(kClient), IPPROTO_TCP, 8080}};  // the client plays a real server
  set.fullnat_local_addrs = {addr(kLocalAddr)};
  FwmarkRule rule;
  rule.prefix = addr("10.201.50.0");
  rule.prefix_len = 24;
  rule.protocol = IPPROTO_TCP;
  rule.port_min = 1000;
  rule.port_max = 2000;
  rule.mark = 7;
  set.fwmark_rules = {rule};
  ASSERT_TRUE(steering_->sync(set, &error)) << error;

  const InetAddr client = addr(kClient), director = addr(kDirector), vip = addr(kVip),
                 laddr = addr(kLocalAddr), marked = addr("10.201.50.7"),
                 unmarked = addr("10.201.51.7");
  Bytes nat_reply = to_director(ipv4(client, director, IPPROTO_TCP, tcp_syn(client, director, 8080, 50000)));
  Bytes fwmark = to_director(ipv4(client, marked, IPPROTO_TCP, tcp_syn(client, marked, 40000, 1500)));
  Bytes fullnat = to_director(ipv4(client, laddr, IPPROTO_UDP, udp(client, laddr, 40001, 30000, "ln")));
  // Destination unreachable quoting a packet uvs sent from VIP:80 to the client.
  Bytes quoted = ipv4(vip, client, IPPROTO_TCP, tcp_syn(vip, client, 80, 40002));
  quoted.resize(28);
  Bytes icmp(8, 0);
  icmp[0] = 3, icmp[1] = 4;
  icmp.insert(icmp.end(), quoted.begin(), quoted.end());
  put16(icmp, 2, fold(sum16(icmp.data(), icmp.size())));
  Bytes icmp_error = to_director(ipv4(client, vip, IPPROTO_ICMP, icmp));
  const std::vector<Bytes> steered = {nat_reply, fwmark, fullnat, icmp_error};
  SteerCounters before = steering_->counters();
  for (const auto& frame : steered) send_from_client(frame);
  auto got = receive(*io_, steered.size(), 3000);
  ASSERT_EQ(got.size(), steered.size());
  for (size_t i = 0; i < steered.size(); ++i) EXPECT_TRUE(contains(got, steered[i])) << i;
  SteerCounters after = steering_->counters();
  EXPECT_EQ(after.nat_reply - before.nat_reply, 1u);
  EXPECT_EQ(after.fwmark - before.fwmark, 1u);
  EXPECT_EQ(after.fullnat - before.fullnat, 1u);
  EXPECT_EQ(after.icmp_error - before.icmp_error, 1u);

  // Near misses stay with the kernel.
  Bytes other_rport = to_director(ipv4(client, director, IPPROTO_TCP, tcp_syn(client, director, 8081, 50000)));
  Bytes fwmark_port = to_director(ipv4(client, marked, IPPROTO_TCP, tcp_syn(client, marked, 40000, 2500)));
  Bytes fwmark_addr = to_director(ipv4(client, unmarked, IPPROTO_TCP, tcp_syn(client, unmarked, 40000, 1500)));
  Bytes echo(8, 0);
  echo[0] = 8;
  put16(echo, 2, fold(sum16(echo.data(), echo.size())));
  Bytes laddr_echo = to_director(ipv4(client, laddr, IPPROTO_ICMP, echo));
  Bytes quoted_other = ipv4(vip, client, IPPROTO_TCP, tcp_syn(vip, client, 9999, 40002));
  quoted_other.resize(28);
  Bytes icmp_other(8, 0);
  icmp_other[0] = 3, icmp_other[1] = 4;
  icmp_other.insert(icmp_other.end(), quoted_other.begin(), quoted_other.end());
  put16(icmp_other, 2, fold(sum16(icmp_other.data(), icmp_other.size())));
  Bytes icmp_unrelated = to_director(ipv4(client, vip, IPPROTO_ICMP, icmp_other));
  for (const auto& frame : {other_rport, fwmark_port, fwmark_addr, laddr_echo, icmp_unrelated})
    send_from_client(frame);
  auto stray = receive(*io_, 64, 300);
  EXPECT_TRUE(stray.empty()) << stray.size() << " near misses were steered";
}

TEST_F(AfXdpTest, TwoWorkersOnTwoQueuesShareOneSteering) {
  // Which CPUs may this thread use? With the qdisc bypassed, c2 transmits on queue
  // (cpu % 2), and veth delivers on the same queue index of d2.
  cpu_set_t allowed;
  ASSERT_EQ(sched_getaffinity(0, sizeof(allowed), &allowed), 0);
  std::vector<int> cpus;
  for (int cpu = 0; cpu < CPU_SETSIZE && cpus.size() < 2; ++cpu)
    if (CPU_ISSET(cpu, &allowed) && (cpus.empty() || cpu % 2 != cpus[0] % 2)) cpus.push_back(cpu);
  if (cpus.size() < 2) GTEST_SKIP() << "needs an even and an odd CPU to pick the veth queue";

  load_steering(false, {"d2"});
  std::string error;
  ASSERT_TRUE(steering_->add_service({addr(kVip), IPPROTO_UDP, 9000}, &error)) << error;
  std::unique_ptr<AfXdpIo> workers[2];
  for (uint32_t queue = 0; queue < 2; ++queue) {
    AfXdpConfig config;
    config.queues = {{"d2", queue}};
    config.ring_size = 64;
    workers[queue] = AfXdpIo::create(config, steering_.get(), &error);
    ASSERT_NE(workers[queue], nullptr) << error;
  }
  // A second socket on a queue that is taken fails: one UMEM per (interface, queue).
  AfXdpConfig taken;
  taken.queues = {{"d2", 1}};
  taken.ring_size = 64;
  EXPECT_EQ(AfXdpIo::create(taken, steering_.get(), &error), nullptr);

  const InetAddr client = addr("10.201.3.2"), vip = addr(kVip);
  Bytes frames[2];
  for (int i = 0; i < 2; ++i) {
    std::string payload = "via cpu " + std::to_string(cpus[i]);
    frames[i] = ethernet(kDirectorMac2, kClientMac2, ETH_P_IP,
                         ipv4(client, vip, IPPROTO_UDP,
                              udp(client, vip, static_cast<uint16_t>(42000 + i), 9000, payload)));
    cpu_set_t one_cpu;
    CPU_ZERO(&one_cpu);
    CPU_SET(cpus[i], &one_cpu);
    ASSERT_EQ(sched_setaffinity(0, sizeof(one_cpu), &one_cpu), 0);
    send_from_client(frames[i], true);
  }
  ASSERT_EQ(sched_setaffinity(0, sizeof(allowed), &allowed), 0);
  for (int i = 0; i < 2; ++i) {
    AfXdpIo& owner = *workers[cpus[i] % 2];
    auto got = receive(owner, 1, 2000);
    ASSERT_EQ(got.size(), 1u) << "queue " << cpus[i] % 2;
    EXPECT_EQ(got[0].bytes, frames[i]);
  }
  EXPECT_EQ(steering_->counters().no_socket, 0u);
}

TEST_F(AfXdpTest, SyncMakesTheMapsEqualToTheDesiredSet) {
  load_steering(false, {"d0"});
  std::string error;
  SteerSet a;
  a.services = {{addr(kVip), IPPROTO_TCP, 80}, {addr(kVip), IPPROTO_UDP, 53},
                {addr(kVip6), IPPROTO_TCP, 443}};
  a.nat_replies = {{addr("10.201.2.2"), IPPROTO_TCP, 8080}};
  a.fullnat_local_addrs = {addr(kLocalAddr)};
  FwmarkRule r1;
  r1.prefix = addr("10.201.50.0");
  r1.prefix_len = 24;
  r1.mark = 1;
  FwmarkRule r2;
  r2.prefix = addr("fd00:201:50::");
  r2.prefix_len = 48;
  r2.protocol = IPPROTO_UDP;
  r2.port_min = r2.port_max = 53;
  r2.mark = 2;
  a.fwmark_rules = {r1, r2};
  ASSERT_TRUE(steering_->sync(a, &error)) << error;
  SteerSet read = steering_->read_maps();
  EXPECT_EQ(read.services, steering_->desired().services);
  EXPECT_EQ(read.services.size(), 3u);
  EXPECT_EQ(read.nat_replies, a.nat_replies);
  EXPECT_EQ(read.fullnat_local_addrs, a.fullnat_local_addrs);
  EXPECT_EQ(read.fwmark_rules, a.fwmark_rules);
  // Fragments follow the addresses: two VIP addresses (dst), one real server (src).
  auto frags = steering_->read_fragment_addrs();
  EXPECT_EQ(frags.size(), 3u);

  SteerSet b;
  b.services = {{addr(kVip), IPPROTO_TCP, 80}, {addr(kVipAnyPort), IPPROTO_TCP, 0}};
  b.fwmark_rules = {r2};
  ASSERT_TRUE(steering_->sync(b, &error)) << error;
  read = steering_->read_maps();
  EXPECT_EQ(read.services, steering_->desired().services);
  EXPECT_EQ(read.services.size(), 2u);
  EXPECT_TRUE(read.nat_replies.empty());
  EXPECT_TRUE(read.fullnat_local_addrs.empty());
  EXPECT_EQ(read.fwmark_rules, b.fwmark_rules);
  EXPECT_EQ(steering_->read_fragment_addrs().size(), 2u);

  // Single edits: a second service on a known address adds no fragment entry; removing the
  // last service of an address removes it.
  ASSERT_TRUE(steering_->add_service({addr(kVip), IPPROTO_UDP, 53}, &error)) << error;
  EXPECT_EQ(steering_->read_maps().services.size(), 3u);
  EXPECT_EQ(steering_->read_fragment_addrs().size(), 2u);
  ASSERT_TRUE(steering_->remove_service({addr(kVipAnyPort), IPPROTO_TCP, 0}, &error)) << error;
  EXPECT_EQ(steering_->read_fragment_addrs().size(), 1u);
  ASSERT_TRUE(steering_->add_nat_reply({addr(kServer), IPPROTO_UDP, 0}, &error)) << error;
  ASSERT_TRUE(steering_->add_local_addr(addr(kLocalAddr), &error)) << error;
  read = steering_->read_maps();
  EXPECT_EQ(read.nat_replies.size(), 1u);
  EXPECT_EQ(read.fullnat_local_addrs.size(), 1u);
  ASSERT_TRUE(steering_->set_fwmark_rules({}, &error)) << error;
  EXPECT_TRUE(steering_->read_maps().fwmark_rules.empty());

  // A full sync also repairs a map changed behind its back.
  ASSERT_TRUE(steering_->sync(SteerSet{}, &error)) << error;
  read = steering_->read_maps();
  EXPECT_TRUE(read.services.empty() && read.nat_replies.empty() &&
              read.fullnat_local_addrs.empty() && read.fwmark_rules.empty());
  EXPECT_TRUE(steering_->read_fragment_addrs().empty());
}

TEST_F(AfXdpTest, ZeroCopyIsUnavailableOnVethAndCopyModeIsTheFallback) {
  load_steering(false, {"d0"});
  AfXdpConfig config;
  config.queues = {{"d0", 0}};
  config.ring_size = 64;
  config.zero_copy = ZeroCopy::kRequire;
  std::string error;
  EXPECT_EQ(AfXdpIo::create(config, steering_.get(), &error), nullptr);
  EXPECT_NE(error.find("zero-copy"), std::string::npos) << error;
  config.zero_copy = ZeroCopy::kAuto;
  auto io = AfXdpIo::create(config, steering_.get(), &error);
  ASSERT_NE(io, nullptr) << error;
  EXPECT_FALSE(io->zero_copy());
  EXPECT_EQ(io->frame_count(), 128u);
}

TEST_F(AfXdpTest, DestructionDetachesTheProgram) {
  const std::string show = "ip -n " + director_ns() + " link show ";
  for (bool generic : {false, true}) {
    load_steering(generic, {"d0", "d1"});
    EXPECT_NE(shell_output(show + "d0").find(generic ? "xdpgeneric" : "xdp"), std::string::npos);
    EXPECT_NE(shell_output(show + "d1").find("xdp"), std::string::npos);
    io_ = make_io({"d0", "d1"});
    ASSERT_NE(io_, nullptr);
    io_.reset();
    steering_.reset();
    EXPECT_EQ(shell_output(show + "d0").find("xdp"), std::string::npos) << shell_output(show + "d0");
    EXPECT_EQ(shell_output(show + "d1").find("xdp"), std::string::npos) << shell_output(show + "d1");
  }
  // Detaching one interface leaves the other attached.
  load_steering(false, {"d0", "d1"});
  steering_->detach(static_cast<int>(if_nametoindex("d0")));
  EXPECT_EQ(shell_output(show + "d0").find("xdp"), std::string::npos);
  EXPECT_NE(shell_output(show + "d1").find("xdp"), std::string::npos);
  EXPECT_FALSE(steering_->mode(static_cast<int>(if_nametoindex("d0"))).has_value());
}

TEST_F(AfXdpTest, AttachRefusesAnInterfaceThatIsAlreadyTaken) {
  load_steering(false, {"d0"});
  XdpSteeringConfig config;
  config.object_path = std::string(UVS_BUILD_DIR) + "/bpf/steer.bpf.o";
  std::string error;
  auto second = XdpSteering::create(config, &error);
  ASSERT_NE(second, nullptr) << error;
  EXPECT_FALSE(second->attach("d0", &error).has_value());
  EXPECT_FALSE(error.empty());
  EXPECT_FALSE(second->attach("nosuchif0", &error).has_value());
}

}  // namespace
}  // namespace uvs::io
