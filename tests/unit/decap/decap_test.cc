// uvs-decap and scripts/realserver on a real veth pair, in two network namespaces named after
// this process ("uvsdc<pid>d" and "uvsdc<pid>r"):
//
//   director  d0 10.205.1.1 fd00:205:1::1 ---- r0 10.205.1.2 fd00:205:1::2  real server
//                                              lo: 10.205.100.1, 10.205.100.2, fd00:205:100::1
//                                                  (scripts/realserver tun)
//                                              uvs-decap --interface r0 --vip 10.205.100.1
//                                                  --vip fd00:205:100::1 --gue-port 6080
//
// The director namespace stands for uvsd in TUN mode. Tunnel packets are built by uvs's own
// encapsulation (xmit::tunnel_encap), so the test holds the decapsulation to what uvs really
// sends; packets uvs never sends (corrupt ones, GRE with a key, CE-marked outer headers) come
// from the FrameBuilder. They leave on a packet socket on d0. The clients 10.205.9.9 and
// fd00:205:9::9 sit behind the director: the real server routes its answers to them back
// through d0, directly, as in TUN mode. Listeners bound to the VIPs in the real-server
// namespace (sockets of this process, created there) must receive exactly what was sent, and
// what uvs-decap does not handle must reach the kernel untouched.
//
// Needs root; skipped otherwise. All traffic stays inside the namespaces, every wait is
// bounded, and the namespaces go away at the end of each test, on failure (fixture teardown),
// on a fatal signal, and, if a run was killed outright, at the start of the next one.
#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>

#include "tests/common/bpf_test_run.h"
#include "tests/common/netns_cleanup.h"
#include "tests/common/shell.h"
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "decap/decap_abi.h"
#include "io/memory_io.h"
#include "pkt/builder.h"
#include "pkt/parse.h"
#include "xmit/tunnel.h"

namespace uvs {
namespace {

using pkt::Bytes;
using pkt::FrameBuilder;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

constexpr char kNetnsPrefix[] = "uvsdc";
constexpr char kDirectorIf[] = "d0";
constexpr char kServerIf[] = "r0";
const pkt::MacAddr kDirectorMac{0x02, 0x75, 0x76, 0xdc, 0x00, 0x01};
const pkt::MacAddr kServerMac{0x02, 0x75, 0x76, 0xdc, 0x00, 0x02};

constexpr char kDirector4[] = "10.205.1.1";
constexpr char kServer4[] = "10.205.1.2";
constexpr char kDirector6[] = "fd00:205:1::1";
constexpr char kServer6[] = "fd00:205:1::2";
constexpr char kClient4[] = "10.205.9.9";
constexpr char kClient6[] = "fd00:205:9::9";
constexpr char kVip4[] = "10.205.100.1";
constexpr char kVip6[] = "fd00:205:100::1";
// On lo like the VIPs, but not given to uvs-decap.
constexpr char kOtherVip4[] = "10.205.100.2";

constexpr uint16_t kGuePort = 6080;
constexpr uint16_t kUdpPort = 5353;
constexpr uint16_t kTcpPort = 80;

// Generous: the machines that run this are small and often busy; packets that do arrive
// arrive in microseconds, so only failures wait this long.
constexpr milliseconds kArrivalTimeout{5000};
// How long a packet that must not arrive is given to arrive anyway.
constexpr milliseconds kSilence{300};

std::string netns_prefix() { return kNetnsPrefix + std::to_string(getpid()); }
std::string director_ns() { return netns_prefix() + "d"; }
std::string server_ns() { return netns_prefix() + "r"; }
std::string realserver_state(const std::string& ns) {
  return "/run/uvs-realserver/netns-" + ns + ".state";
}
std::string decap_binary() { return std::string(UVS_BUILD_DIR) + "/uvs-decap"; }
std::string realserver_script() { return std::string(UVS_SOURCE_DIR) + "/scripts/realserver"; }

bool is_v6(const char* address) { return std::strchr(address, ':') != nullptr; }

// ---------------------------------------------------------------------------------------------
// Commands

using ::uvs::testing::delete_namespaces_of_dead_runs;
using ::uvs::testing::delete_netns;
using ::uvs::testing::delete_netns_from_signal_handler;
using ::uvs::testing::find_ip_binary;
using ::uvs::testing::shell;
using ::uvs::testing::shell_output;

// The real server's TCP sockets and neighbours, for failure messages.
std::string server_state() {
  return shell_output("ip netns exec " + server_ns() + " ss -tan; ip -n " + server_ns() +
                      " neigh show");
}

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// ---------------------------------------------------------------------------------------------
// Cleanup that survives a crash

// Everything a dying test must not leave behind, prepared before any signal can arrive so that
// the handler only calls async-signal-safe functions (kill, fork, execv, waitpid, unlink).
struct EmergencyCleanup {
  std::string ip_path;
  std::vector<std::string> namespaces;
  std::vector<std::string> files;
};
EmergencyCleanup* g_emergency = nullptr;
constexpr int kMaxChildren = 4;
std::atomic<pid_t> g_children[kMaxChildren];

void track_child(pid_t pid) {
  for (auto& slot : g_children) {
    pid_t empty = 0;
    if (slot.compare_exchange_strong(empty, pid)) return;
  }
}

void untrack_child(pid_t pid) {
  for (auto& slot : g_children) {
    pid_t expected = pid;
    slot.compare_exchange_strong(expected, 0);
  }
}

void on_fatal_signal(int sig) {
  // uvs-decap first: a process inside a namespace keeps it alive after `ip netns del`.
  for (auto& slot : g_children)
    if (pid_t pid = slot.load(); pid > 0) kill(pid, SIGKILL);
  if (g_emergency) {
    for (const std::string& name : g_emergency->namespaces)
      delete_netns_from_signal_handler(g_emergency->ip_path, name);
    for (const std::string& file : g_emergency->files) unlink(file.c_str());
  }
  signal(sig, SIG_DFL);
  raise(sig);
}

void install_emergency_cleanup() {
  if (g_emergency) return;
  auto* cleanup = new EmergencyCleanup();
  cleanup->ip_path = find_ip_binary();
  for (const std::string& ns : {director_ns(), server_ns()}) {
    cleanup->namespaces.push_back(ns);
    cleanup->files.push_back(realserver_state(ns));
  }
  g_emergency = cleanup;
  for (int sig : {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGABRT, SIGSEGV, SIGBUS})
    signal(sig, on_fatal_signal);
}

// Namespaces (and realserver state) left by runs killed before they could clean up, and this
// process's own should an earlier test's teardown not have finished.
void delete_stale_namespaces() {
  std::vector<std::string> names = delete_namespaces_of_dead_runs(kNetnsPrefix, "dr");
  for (const std::string& ns : {director_ns(), server_ns()}) {
    if (access(("/var/run/netns/" + ns).c_str(), F_OK) != 0) continue;
    delete_netns(ns);
    names.push_back(ns);
  }
  for (const std::string& ns : names) unlink(realserver_state(ns).c_str());
}

// ---------------------------------------------------------------------------------------------
// Namespaces and sockets

class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  Fd(Fd&& other) noexcept : fd_(other.fd_) { other.fd_ = -1; }
  Fd& operator=(Fd&& other) noexcept {
    std::swap(fd_, other.fd_);
    return *this;
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() {
    if (fd_ >= 0) close(fd_);
  }
  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }

 private:
  int fd_ = -1;
};

// Runs fn with the calling thread inside network namespace `name`: sockets created there stay
// bound to that namespace after the thread leaves it.
template <typename Fn>
auto in_netns(const std::string& name, Fn fn) -> decltype(fn()) {
  Fd original(open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC));
  Fd target(open(("/run/netns/" + name).c_str(), O_RDONLY | O_CLOEXEC));
  if (!original.valid() || !target.valid() || setns(target.get(), CLONE_NEWNET) != 0) {
    ADD_FAILURE() << "cannot enter network namespace " << name << ": " << std::strerror(errno);
    return decltype(fn())();
  }
  auto result = fn();
  if (setns(original.get(), CLONE_NEWNET) != 0) std::abort();  // the test would run astray
  return result;
}

sockaddr_storage socket_address(const char* address, uint16_t port, socklen_t* len) {
  sockaddr_storage storage{};
  if (is_v6(address)) {
    auto* sin6 = reinterpret_cast<sockaddr_in6*>(&storage);
    sin6->sin6_family = AF_INET6;
    sin6->sin6_port = htons(port);
    inet_pton(AF_INET6, address, &sin6->sin6_addr);
    *len = sizeof(*sin6);
  } else {
    auto* sin = reinterpret_cast<sockaddr_in*>(&storage);
    sin->sin_family = AF_INET;
    sin->sin_port = htons(port);
    inet_pton(AF_INET, address, &sin->sin_addr);
    *len = sizeof(*sin);
  }
  return storage;
}

std::string address_text(const sockaddr_storage& storage, uint16_t* port) {
  char text[INET6_ADDRSTRLEN] = {};
  if (storage.ss_family == AF_INET6) {
    const auto* sin6 = reinterpret_cast<const sockaddr_in6*>(&storage);
    inet_ntop(AF_INET6, &sin6->sin6_addr, text, sizeof(text));
    *port = ntohs(sin6->sin6_port);
  } else {
    const auto* sin = reinterpret_cast<const sockaddr_in*>(&storage);
    inet_ntop(AF_INET, &sin->sin_addr, text, sizeof(text));
    *port = ntohs(sin->sin_port);
  }
  return text;
}

bool wait_readable(int fd, milliseconds timeout) {
  pollfd pfd{fd, POLLIN, 0};
  return poll(&pfd, 1, static_cast<int>(timeout.count())) == 1;
}

// A UDP socket bound to address:port in the real-server namespace, reporting each datagram's
// TOS / traffic class.
Fd udp_listener(const char* address, uint16_t port) {
  return in_netns(server_ns(), [&] {
    int family = is_v6(address) ? AF_INET6 : AF_INET;
    Fd fd(socket(family, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    int on = 1;
    if (family == AF_INET)
      setsockopt(fd.get(), IPPROTO_IP, IP_RECVTOS, &on, sizeof(on));
    else
      setsockopt(fd.get(), IPPROTO_IPV6, IPV6_RECVTCLASS, &on, sizeof(on));
    socklen_t len;
    sockaddr_storage local = socket_address(address, port, &len);
    if (bind(fd.get(), reinterpret_cast<sockaddr*>(&local), len) != 0) {
      ADD_FAILURE() << "bind " << address << ":" << port << ": " << std::strerror(errno);
      return Fd();
    }
    return fd;
  });
}

struct Datagram {
  std::string payload;
  std::string from;
  uint16_t from_port = 0;
  int tos = -1;  // TOS / traffic class as received
};

std::optional<Datagram> receive_datagram(int fd, milliseconds timeout) {
  if (fd < 0 || !wait_readable(fd, timeout)) return std::nullopt;
  char data[2048];
  alignas(cmsghdr) char control[128];
  sockaddr_storage from{};
  iovec iov{data, sizeof(data)};
  msghdr msg{};
  msg.msg_name = &from;
  msg.msg_namelen = sizeof(from);
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof(control);
  ssize_t n = recvmsg(fd, &msg, MSG_DONTWAIT);
  if (n < 0) return std::nullopt;
  Datagram datagram;
  datagram.payload.assign(data, static_cast<size_t>(n));
  datagram.from = address_text(from, &datagram.from_port);
  for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_TOS)
      datagram.tos = *reinterpret_cast<const uint8_t*>(CMSG_DATA(c));
    if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_TCLASS) {
      int tclass;
      std::memcpy(&tclass, CMSG_DATA(c), sizeof(tclass));
      datagram.tos = tclass;
    }
  }
  return datagram;
}

// The director's end of the wire: a packet socket on d0 that sends frames as they are and sees
// every frame arriving on d0.
class Wire {
 public:
  bool open() {
    fd_ = in_netns(director_ns(), [&] {
      Fd fd(socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(ETH_P_ALL)));
      ifindex_ = static_cast<int>(if_nametoindex(kDirectorIf));
      sockaddr_ll bound{};
      bound.sll_family = AF_PACKET;
      bound.sll_protocol = htons(ETH_P_ALL);
      bound.sll_ifindex = ifindex_;
      if (!fd.valid() || ifindex_ == 0 ||
          bind(fd.get(), reinterpret_cast<sockaddr*>(&bound), sizeof(bound)) != 0)
        return Fd();
      // Our own frames are not news.
      int on = 1;
      setsockopt(fd.get(), SOL_PACKET, PACKET_IGNORE_OUTGOING, &on, sizeof(on));
      return fd;
    });
    return fd_.valid();
  }

  bool send(const Bytes& frame) {
    sockaddr_ll to{};
    to.sll_family = AF_PACKET;
    to.sll_ifindex = ifindex_;
    to.sll_halen = ETH_ALEN;
    std::memcpy(to.sll_addr, kServerMac.data(), ETH_ALEN);
    ssize_t n = sendto(fd_.get(), frame.data(), frame.size(), 0,
                       reinterpret_cast<sockaddr*>(&to), sizeof(to));
    return n == static_cast<ssize_t>(frame.size());
  }

  // The first frame arriving within `timeout` that `match` accepts; others are dropped.
  std::optional<Bytes> receive(const std::function<bool(const Bytes&)>& match,
                               milliseconds timeout) {
    const auto deadline = Clock::now() + timeout;
    for (;;) {
      auto left = std::chrono::duration_cast<milliseconds>(deadline - Clock::now());
      if (left.count() <= 0 || !wait_readable(fd_.get(), left)) return std::nullopt;
      Bytes frame(4096);
      ssize_t n = recv(fd_.get(), frame.data(), frame.size(), MSG_DONTWAIT);
      if (n <= 0) continue;
      frame.resize(static_cast<size_t>(n));
      if (match(frame)) return frame;
    }
  }

 private:
  Fd fd_;
  int ifindex_ = 0;
};

// ---------------------------------------------------------------------------------------------
// uvs-decap as a process

class DecapProcess {
 public:
  explicit DecapProcess(std::string log_path) : log_path_(std::move(log_path)) {}
  ~DecapProcess() { stop(); }
  DecapProcess(const DecapProcess&) = delete;
  DecapProcess& operator=(const DecapProcess&) = delete;

  // Starts `ip netns exec NS uvs-decap ARGS...`; true once it reports being attached. The log
  // is appended to across restarts, so only a new report counts.
  bool start(const std::string& ns, const std::vector<std::string>& args) {
    const size_t attached_before = count_lines("uvs-decap: attached to");
    std::vector<std::string> argv = {"ip", "netns", "exec", ns, decap_binary()};
    argv.insert(argv.end(), args.begin(), args.end());
    std::vector<char*> raw;
    for (auto& arg : argv) raw.push_back(arg.data());
    raw.push_back(nullptr);
    const std::string& ip = g_emergency->ip_path;
    // fork + exec rather than posix_spawn, for PR_SET_PDEATHSIG: should this test be killed
    // outright, uvs-decap goes with it (and detaches) instead of running on in a namespace
    // nobody owns. Only async-signal-safe calls between fork and exec.
    const pid_t parent = getpid();
    pid_ = fork();
    if (pid_ < 0) return false;
    if (pid_ == 0) {
      prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (getppid() != parent) _exit(127);
      int in = open("/dev/null", O_RDONLY);
      int out = open(log_path_.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
      if (in < 0 || out < 0 || dup2(in, 0) < 0 || dup2(out, 1) < 0 || dup2(out, 2) < 0)
        _exit(127);
      // ip netns exec execs the command in place: this pid becomes uvs-decap's.
      execv(ip.c_str(), raw.data());
      _exit(127);
    }
    track_child(pid_);
    // Loading takes about 0.1 s; a busy machine may take many times that.
    const auto deadline = Clock::now() + std::chrono::seconds(15);
    while (Clock::now() < deadline) {
      if (count_lines("uvs-decap: attached to") > attached_before) return true;
      if (reap(WNOHANG)) return false;
      std::this_thread::sleep_for(milliseconds(10));
    }
    return false;
  }

  // Signals the process and waits for it (SIGKILL after 5 s); its exit status, 128 + signal
  // if a signal ended it.
  int stop(int sig = SIGTERM) {
    if (pid_ <= 0) return exit_status_;
    kill(pid_, sig);
    const auto deadline = Clock::now() + std::chrono::seconds(5);
    while (Clock::now() < deadline) {
      if (reap(WNOHANG)) return exit_status_;
      std::this_thread::sleep_for(milliseconds(10));
    }
    kill(pid_, SIGKILL);
    reap(0);
    return exit_status_;
  }

  // Waits up to `timeout` for the process to end by itself; its exit status, or -1.
  int wait_exit(milliseconds timeout) {
    const auto deadline = Clock::now() + timeout;
    while (pid_ > 0 && Clock::now() < deadline) {
      if (reap(WNOHANG)) break;
      std::this_thread::sleep_for(milliseconds(10));
    }
    return pid_ > 0 ? -1 : exit_status_;
  }

  // SIGUSR1, then the counters it prints.
  std::map<std::string, uint64_t> counters() {
    std::map<std::string, uint64_t> values;
    const size_t before = count_lines("uvs-decap: counters");
    if (pid_ <= 0 || kill(pid_, SIGUSR1) != 0) return values;
    const auto deadline = Clock::now() + std::chrono::seconds(5);
    while (count_lines("uvs-decap: counters") == before && Clock::now() < deadline)
      std::this_thread::sleep_for(milliseconds(10));
    std::string text = log();
    size_t at = text.rfind("uvs-decap: counters");
    if (at == std::string::npos) return values;
    std::istringstream line(text.substr(at, text.find('\n', at) - at));
    std::string word;
    while (line >> word) {
      size_t eq = word.find('=');
      if (eq != std::string::npos) values[word.substr(0, eq)] = std::stoull(word.substr(eq + 1));
    }
    return values;
  }

  std::string log() const { return read_file(log_path_); }
  pid_t pid() const { return pid_; }

 private:
  bool reap(int flags) {
    int status = 0;
    if (pid_ <= 0 || waitpid(pid_, &status, flags) != pid_) return false;
    exit_status_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    untrack_child(pid_);
    pid_ = -1;
    return true;
  }

  size_t count_lines(const std::string& prefix) const {
    std::string text = log();
    size_t count = 0;
    for (size_t at = text.find(prefix); at != std::string::npos; at = text.find(prefix, at + 1))
      ++count;
    return count;
  }

  std::string log_path_;
  pid_t pid_ = -1;
  int exit_status_ = -1;
};

// ---------------------------------------------------------------------------------------------
// Frames

// The client's datagram to address:port as the director receives it, Ethernet included.
Bytes client_udp(const char* vip, uint16_t sport, uint16_t dport, const std::string& payload,
                 uint8_t tos = 0) {
  FrameBuilder builder;
  if (is_v6(vip))
    builder.ipv6(kClient6, vip);
  else
    builder.ipv4(kClient4, vip);
  return builder.tos(tos).udp(sport, dport).payload(payload).build();
}

Bytes client_tcp(const char* vip, uint16_t sport, uint8_t flags, uint32_t seq, uint32_t ack,
                 const std::string& payload) {
  FrameBuilder builder;
  if (is_v6(vip))
    builder.ipv6(kClient6, vip);
  else
    builder.ipv4(kClient4, vip);
  return builder.tcp(sport, kTcpPort, flags, seq, ack).payload(payload).build();
}

// The IP packet inside an Ethernet frame from the FrameBuilder (which adds no VLAN tag).
Bytes ip_packet(const Bytes& frame) { return Bytes(frame.begin() + ETH_HLEN, frame.end()); }

// What uvsd puts on the wire toward the real server in TUN mode for `client_frame`.
Bytes uvs_tunnel(const Bytes& client_frame, TunType type, TunCsum csum, bool outer_v6) {
  io::MemoryIo memory({io::PortInfo{}}, 4, 4096, 256);
  io::Frame frame;
  pkt::ParsedPacket parsed;
  if (!memory.inject(0, client_frame) || memory.rx_burst({&frame, 1}) != 1 ||
      pkt::parse_frame(frame.data, frame.len, &parsed) != pkt::Verdict::kOk) {
    ADD_FAILURE() << "cannot parse the client frame";
    return {};
  }
  xmit::TunnelParams tunnel;
  tunnel.type = type;
  tunnel.csum = csum;
  tunnel.port = kGuePort;
  tunnel.src = pkt::addr(outer_v6 ? kDirector6 : kDirector4);
  tunnel.dst = pkt::addr(outer_v6 ? kServer6 : kServer4);
  const xmit::L2Next next{0, kDirectorMac, kServerMac};
  if (!xmit::tunnel_encap(frame, parsed, tunnel, next)) {
    ADD_FAILURE() << "tunnel_encap failed";
    return {};
  }
  return Bytes(frame.data, frame.data + frame.len);
}

// An outer IPv4/IPv6 header from the director to the real server, to be completed.
FrameBuilder outer_header(bool v6) {
  FrameBuilder builder;
  builder.eth(kDirectorMac, kServerMac);
  if (v6)
    builder.ipv6(kDirector6, kServer6);
  else
    builder.ipv4(kDirector4, kServer4);
  return builder;
}

const char* tun_name(TunType type) {
  switch (type) {
    case TunType::kIpip:
      return "ipip";
    case TunType::kGue:
      return "gue";
    default:
      return "gre";
  }
}

// ---------------------------------------------------------------------------------------------
// The fixture: both namespaces, the real server prepared by scripts/realserver tun, uvs-decap
// attached to r0, the director's packet socket and UDP listeners on the VIPs.

class DecapTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "needs root (network namespaces, XDP)";
    ASSERT_EQ(access(decap_binary().c_str(), X_OK), 0)
        << decap_binary() << " is missing: build the uvs-decap target";
    install_emergency_cleanup();
    ASSERT_FALSE(g_emergency->ip_path.empty()) << "iproute2's ip is missing";
    delete_stale_namespaces();
    char dir_template[] = "/tmp/uvs-decap-test-XXXXXX";
    ASSERT_NE(mkdtemp(dir_template), nullptr);
    dir_ = dir_template;

    const std::string d = director_ns();
    const std::string r = server_ns();
    const auto mac_text = [](const pkt::MacAddr& mac) {
      char text[18];
      std::snprintf(text, sizeof(text), "%02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1], mac[2],
                    mac[3], mac[4], mac[5]);
      return std::string(text);
    };
    const std::vector<std::string> commands = {
        "ip netns add " + d,
        "ip netns add " + r,
        "ip -n " + d + " link add " + kDirectorIf + " address " + mac_text(kDirectorMac) +
            " type veth peer name " + kServerIf + " address " + mac_text(kServerMac) +
            " netns " + r,
        "ip -n " + d + " addr add " + kDirector4 + "/24 dev " + kDirectorIf,
        "ip -n " + d + " addr add " + kDirector6 + "/64 dev " + kDirectorIf + " nodad",
        "ip -n " + r + " addr add " + kServer4 + "/24 dev " + kServerIf,
        "ip -n " + r + " addr add " + kServer6 + "/64 dev " + kServerIf + " nodad",
        // No duplicate address detection: the real server solicits the director's address
        // for answers from the VIP (on lo) with its link-local address as the source, which
        // would otherwise stay tentative for the first second or two.
        "ip netns exec " + d + " sysctl -qw net.ipv6.conf." + kDirectorIf + ".accept_dad=0",
        "ip netns exec " + r + " sysctl -qw net.ipv6.conf." + kServerIf + ".accept_dad=0",
        "ip -n " + d + " link set lo up",
        "ip -n " + d + " link set " + kDirectorIf + " up",
        "ip -n " + r + " link set " + kServerIf + " up",
        // The clients are behind the director; the real server answers them through it.
        "ip -n " + r + " route add 10.205.9.0/24 via " + kDirector4,
        "ip -n " + r + " -6 route add fd00:205:9::/64 via " + kDirector6,
        realserver_script() + " tun " + kVip4 + " " + kOtherVip4 + " " + kVip6 + " --netns " + r,
    };
    for (const auto& command : commands) ASSERT_EQ(shell(command), 0) << command;

    decap_ = std::make_unique<DecapProcess>(dir_ + "/uvs-decap.log");
    ASSERT_TRUE(start_decap({})) << decap_->log();
    ASSERT_TRUE(wire_.open());
    udp4_ = udp_listener(kVip4, kUdpPort);
    udp6_ = udp_listener(kVip6, kUdpPort);
    other4_ = udp_listener(kOtherVip4, kUdpPort);
    ASSERT_TRUE(udp4_.valid() && udp6_.valid() && other4_.valid());
  }

  void TearDown() override {
    if (geteuid() != 0) return;
    if (decap_) {
      decap_->stop();
      decap_.reset();
    }
    for (const std::string& ns : {server_ns(), director_ns()}) {
      shell(realserver_script() + " clean --netns " + ns);
      shell("ip netns del " + ns);
      unlink(realserver_state(ns).c_str());
    }
    std::error_code ec;
    if (!dir_.empty()) std::filesystem::remove_all(dir_, ec);
  }

  bool start_decap(std::vector<std::string> extra) {
    std::vector<std::string> args = {"--interface", kServerIf,  "--vip",      kVip4, "--vip",
                                     kVip6,         "--gue-port", std::to_string(kGuePort)};
    args.insert(args.end(), extra.begin(), extra.end());
    return decap_->start(server_ns(), args);
  }

  int listener_for(const char* vip) const { return is_v6(vip) ? udp6_.get() : udp4_.get(); }

  // Sends `frame` and expects `payload` at the VIP's UDP listener, from the client.
  void expect_delivered(const Bytes& frame, const char* vip, uint16_t sport,
                        const std::string& payload, int tos = -1) {
    ASSERT_TRUE(wire_.send(frame));
    auto datagram = receive_datagram(listener_for(vip), kArrivalTimeout);
    ASSERT_TRUE(datagram) << "nothing arrived for " << payload;
    EXPECT_EQ(datagram->payload, payload);
    EXPECT_EQ(datagram->from, is_v6(vip) ? kClient6 : kClient4);
    EXPECT_EQ(datagram->from_port, sport);
    if (tos >= 0) {
      EXPECT_EQ(datagram->tos, tos) << payload;
    }
  }

  // A plain IPIP datagram to the IPv4 VIP that must arrive: everything sent before it has
  // been through the XDP program when it does (one veth queue, in order).
  void send_marker(const std::string& payload) {
    Bytes marker = uvs_tunnel(client_udp(kVip4, 39999, kUdpPort, payload), TunType::kIpip,
                              TunCsum::kNoCsum, false);
    expect_delivered(marker, kVip4, 39999, payload);
  }

  std::string dir_;
  std::unique_ptr<DecapProcess> decap_;
  Wire wire_;
  Fd udp4_, udp6_, other4_;
};

// ---------------------------------------------------------------------------------------------

TEST_F(DecapTest, UdpInEveryTunnelUvsSendsArrivesExactly) {
  struct Case {
    TunType type;
    TunCsum csum;
    bool outer_v6;
    const char* vip;
  };
  const Case cases[] = {
      {TunType::kIpip, TunCsum::kNoCsum, false, kVip4},  // IPv4 protocol 4
      {TunType::kIpip, TunCsum::kNoCsum, false, kVip6},  // IPv4 protocol 41
      {TunType::kIpip, TunCsum::kNoCsum, true, kVip6},   // IPv6 next header 41
      {TunType::kIpip, TunCsum::kNoCsum, true, kVip4},   // IPv6 next header 4
      {TunType::kGue, TunCsum::kNoCsum, false, kVip4},
      {TunType::kGue, TunCsum::kCsum, false, kVip4},
      {TunType::kGue, TunCsum::kNoCsum, false, kVip6},
      {TunType::kGue, TunCsum::kNoCsum, true, kVip6},  // uvs always sums UDP over IPv6
      {TunType::kGue, TunCsum::kNoCsum, true, kVip4},
      {TunType::kGre, TunCsum::kNoCsum, false, kVip4},
      {TunType::kGre, TunCsum::kCsum, false, kVip4},
      {TunType::kGre, TunCsum::kCsum, false, kVip6},
      {TunType::kGre, TunCsum::kNoCsum, true, kVip6},
      {TunType::kGre, TunCsum::kCsum, true, kVip4},
  };
  std::map<std::string, uint64_t> expected = {
      {"decap_ipip", 0}, {"decap_gue", 0}, {"decap_gre", 0}};
  uint16_t sport = 40000;
  for (const Case& c : cases) {
    const std::string name = std::string(tun_name(c.type)) +
                             (c.csum == TunCsum::kCsum ? "+csum" : "") +
                             (c.outer_v6 ? " over IPv6 " : " over IPv4 ") + "to " + c.vip;
    SCOPED_TRACE(name);
    // Odd and even lengths: the checksums over the tunnel payload pad the tail.
    const std::string payload = "payload of " + name + std::string(sport % 2, '!');
    Bytes frame = uvs_tunnel(client_udp(c.vip, sport, kUdpPort, payload), c.type, c.csum,
                             c.outer_v6);
    ASSERT_FALSE(frame.empty());
    expect_delivered(frame, c.vip, sport, payload);
    ++expected[std::string("decap_") + tun_name(c.type)];
    ++sport;
  }
  // A datagram bigger than one checksum chunk of the program (512 bytes), through GRE and GUE
  // with checksums.
  const std::string big(1400, 'x');
  expect_delivered(uvs_tunnel(client_udp(kVip4, sport, kUdpPort, big), TunType::kGre,
                              TunCsum::kCsum, false),
                   kVip4, sport, big);
  ++expected["decap_gre"];
  expect_delivered(uvs_tunnel(client_udp(kVip6, sport, kUdpPort, big), TunType::kGue,
                              TunCsum::kCsum, true),
                   kVip6, sport, big);
  ++expected["decap_gue"];

  // GUE version 1 (the inner IP header right after UDP), which uvs does not send but the
  // kernel's fou does, for both inner families.
  for (const char* vip : {kVip4, kVip6}) {
    const std::string payload = std::string("gue v1 to ") + vip;
    Bytes frame = outer_header(false)
                      .udp(50001, kGuePort)
                      .payload(ip_packet(client_udp(vip, sport, kUdpPort, payload)))
                      .build();
    expect_delivered(frame, vip, sport, payload);
    ++expected["decap_gue"];
    ++sport;
  }

  auto counters = decap_->counters();
  for (const auto& [name, value] : expected) EXPECT_EQ(counters[name], value) << name;
  EXPECT_EQ(counters["foreign"], 0u);
  EXPECT_EQ(counters["malformed"], 0u);
  EXPECT_EQ(counters["unsupported"], 0u);
}

TEST_F(DecapTest, TcpThroughTheTunnelIsAnsweredDirectlyAndCarriesData) {
  struct Case {
    const char* vip;
    TunType type;
    bool outer_v6;
    uint16_t sport;
  };
  for (const Case& c : {Case{kVip4, TunType::kGre, false, 41000},
                        Case{kVip6, TunType::kIpip, true, 41001},
                        Case{kVip4, TunType::kGue, false, 41002}}) {
    SCOPED_TRACE(std::string(c.vip) + " " + tun_name(c.type));
    Fd server = in_netns(server_ns(), [&] {
      Fd fd(socket(is_v6(c.vip) ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
      int on = 1;
      setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
      socklen_t len;
      sockaddr_storage local = socket_address(c.vip, kTcpPort, &len);
      if (bind(fd.get(), reinterpret_cast<sockaddr*>(&local), len) != 0 || listen(fd.get(), 4))
        return Fd();
      return fd;
    });
    ASSERT_TRUE(server.valid());
    const uint16_t sport = c.sport;
    const uint32_t isn = 1000;
    const InetAddr vip = pkt::addr(c.vip);
    const InetAddr client = pkt::addr(is_v6(c.vip) ? kClient6 : kClient4);

    ASSERT_TRUE(wire_.send(uvs_tunnel(client_tcp(c.vip, sport, pkt::kTcpSyn, isn, 0, ""), c.type,
                                      TunCsum::kNoCsum, c.outer_v6)));
    // The SYN-ACK leaves the real server as a plain packet from the VIP to the client: no
    // tunnel on the way back.
    pkt::ParsedPacket reply;
    auto syn_ack = wire_.receive(
        [&](const Bytes& frame) {
          return pkt::parse_frame(frame.data(), static_cast<uint32_t>(frame.size()), &reply) ==
                     pkt::Verdict::kOk &&
                 reply.proto == IPPROTO_TCP && reply.saddr == vip && reply.sport == kTcpPort &&
                 reply.daddr == client && reply.dport == sport;
        },
        kArrivalTimeout);
    ASSERT_TRUE(syn_ack) << "no SYN-ACK from the VIP\n" << server_state();
    EXPECT_EQ(reply.tcp_flags & (pkt::kTcpSyn | pkt::kTcpAck), pkt::kTcpSyn | pkt::kTcpAck);
    const uint8_t* tcp = syn_ack->data() + reply.l4_off;
    EXPECT_EQ(pkt::load_be32(tcp + 8), isn + 1);
    const uint32_t server_isn = pkt::load_be32(tcp + 4);

    const std::string data = "GET / through the tunnel\r\n";
    ASSERT_TRUE(wire_.send(uvs_tunnel(client_tcp(c.vip, sport, pkt::kTcpAck | pkt::kTcpPsh,
                                                 isn + 1, server_isn + 1, data),
                                      c.type, TunCsum::kNoCsum, c.outer_v6)));
    ASSERT_TRUE(wait_readable(server.get(), kArrivalTimeout))
        << "connection not established\n" << server_state();
    Fd connection(accept4(server.get(), nullptr, nullptr, SOCK_CLOEXEC));
    ASSERT_TRUE(connection.valid());
    ASSERT_TRUE(wait_readable(connection.get(), kArrivalTimeout)) << "no data\n" << server_state();
    char received[256] = {};
    ssize_t n = recv(connection.get(), received, sizeof(received), MSG_DONTWAIT);
    EXPECT_EQ(std::string(received, n > 0 ? static_cast<size_t>(n) : 0), data);
  }
}

TEST_F(DecapTest, WhatIsNotForItReachesTheKernelUntouched) {
  const auto before = decap_->counters();

  // Tunnelled to an address on lo that uvs-decap was not given: not decapsulated (this kernel
  // has no ipip module, so the packet dies there), the listener on that address hears nothing.
  ASSERT_TRUE(wire_.send(uvs_tunnel(client_udp(kOtherVip4, 42000, kUdpPort, "not mine"),
                                    TunType::kIpip, TunCsum::kNoCsum, false)));
  // GUE to a port that was not configured.
  Bytes other_port = outer_header(false)
                         .gue(50000, kGuePort + 1, IPPROTO_IPIP)
                         .payload(ip_packet(client_udp(kVip4, 42001, kUdpPort, "other port")))
                         .build();
  ASSERT_TRUE(wire_.send(other_port));
  // GRE with a key (K flag and a key word): uvs never sends one.
  Bytes keyed_header = {0x20, 0x00, 0x08, 0x00, 0x00, 0x00, 0x00, 0x2a};
  Bytes keyed_inner = ip_packet(client_udp(kVip4, 42002, kUdpPort, "keyed"));
  keyed_header.insert(keyed_header.end(), keyed_inner.begin(), keyed_inner.end());
  ASSERT_TRUE(wire_.send(outer_header(false).raw(IPPROTO_GRE).payload(keyed_header).build()));
  // GUE with an option length (remote checksum offload would need it): not decapsulated.
  Bytes gue_options = uvs_tunnel(client_udp(kVip4, 42003, kUdpPort, "gue options"),
                                 TunType::kGue, TunCsum::kNoCsum, false);
  gue_options[ETH_HLEN + 20 + 8] = 0x01;  // hlen 1 (no room made for it: never parsed)
  ASSERT_TRUE(wire_.send(gue_options));

  // Broken ones, counted malformed: a GRE checksum that does not match...
  Bytes bad_gre = uvs_tunnel(client_udp(kVip4, 42004, kUdpPort, "bad gre csum"), TunType::kGre,
                             TunCsum::kCsum, false);
  bad_gre[ETH_HLEN + 20 + 4] ^= 0x40;
  ASSERT_TRUE(wire_.send(bad_gre));
  // ...a GUE UDP checksum that does not match...
  Bytes bad_gue = uvs_tunnel(client_udp(kVip6, 42005, kUdpPort, "bad gue csum"), TunType::kGue,
                             TunCsum::kCsum, true);
  bad_gue[ETH_HLEN + 40 + 6] ^= 0x40;
  ASSERT_TRUE(wire_.send(bad_gue));
  // ...an outer IPv4 header checksum that does not match...
  Bytes bad_outer = uvs_tunnel(client_udp(kVip4, 42006, kUdpPort, "bad outer csum"),
                               TunType::kIpip, TunCsum::kNoCsum, false);
  bad_outer[ETH_HLEN + 10] ^= 0x40;
  ASSERT_TRUE(wire_.send(bad_outer));
  // ...and an outer length beyond the frame.
  Bytes inner = ip_packet(client_udp(kVip4, 42007, kUdpPort, "truncated"));
  ASSERT_TRUE(wire_.send(outer_header(false)
                             .tot_len(static_cast<uint16_t>(20 + inner.size() + 100))
                             .raw(IPPROTO_IPIP)
                             .payload(inner)
                             .build()));

  // Not tunnelled at all (DR style, straight to the VIP): passed and delivered as before.
  Bytes direct = client_udp(kVip4, 42008, kUdpPort, "direct");
  std::copy(kDirectorMac.begin(), kDirectorMac.end(), direct.begin() + ETH_ALEN);
  std::copy(kServerMac.begin(), kServerMac.end(), direct.begin());
  expect_delivered(direct, kVip4, 42008, "direct");
  send_marker("marker");

  // Nothing else arrived anywhere.
  EXPECT_FALSE(receive_datagram(udp4_.get(), kSilence));
  EXPECT_FALSE(receive_datagram(udp6_.get(), milliseconds(0)));
  EXPECT_FALSE(receive_datagram(other4_.get(), milliseconds(0)));
  // The kernel still gets the rest: ARP and ICMP echo between the two namespaces.
  EXPECT_EQ(shell("ip netns exec " + director_ns() + " ping -c1 -W2 " + kServer4), 0);
  EXPECT_EQ(shell("ip netns exec " + director_ns() + " ping -c1 -W2 " + kServer6), 0);

  auto after = decap_->counters();
  EXPECT_EQ(after["foreign"] - before.at("foreign"), 1u);
  EXPECT_EQ(after["unsupported"] - before.at("unsupported"), 2u);
  EXPECT_EQ(after["malformed"] - before.at("malformed"), 4u);
  EXPECT_EQ(after["decap_ipip"] - before.at("decap_ipip"), 1u);  // the marker
  EXPECT_EQ(after["decap_gue"] - before.at("decap_gue"), 0u);
  EXPECT_EQ(after["decap_gre"] - before.at("decap_gre"), 0u);
  // GUE to another port, the direct datagram, pings and neighbour discovery.
  EXPECT_GE(after["passed"] - before.at("passed"), 4u);
}

TEST_F(DecapTest, CongestionMarkOfTheOuterHeaderReachesTheInnerPacket) {
  // RFC 6040: outer CE over an ECN-capable inner packet marks it CE (for IPv4 the inner header
  // checksum is updated, or the kernel would drop the datagram); outer ECT leaves it as is.
  const Bytes ect4 = ip_packet(client_udp(kVip4, 43000, kUdpPort, "ce v4", 0x02));
  expect_delivered(outer_header(false).tos(0x03).raw(IPPROTO_IPIP).payload(ect4).build(), kVip4,
                   43000, "ce v4", 0x03);
  const Bytes ect6 = ip_packet(client_udp(kVip6, 43001, kUdpPort, "ce v6", 0x02));
  expect_delivered(outer_header(true).tos(0x03).raw(IPPROTO_IPV6).payload(ect6).build(), kVip6,
                   43001, "ce v6", 0x03);
  const Bytes ect_kept = ip_packet(client_udp(kVip4, 43002, kUdpPort, "ect kept", 0xb8 | 0x02));
  expect_delivered(outer_header(false).tos(0xb8 | 0x02).raw(IPPROTO_IPIP).payload(ect_kept).build(),
                   kVip4, 43002, "ect kept", 0xb8 | 0x02);

  // CE over a packet that cannot carry it: the kernel's tunnels drop it; left alone here.
  const auto before = decap_->counters();
  const Bytes not_ect = ip_packet(client_udp(kVip4, 43003, kUdpPort, "not ect", 0x00));
  ASSERT_TRUE(wire_.send(outer_header(false).tos(0x03).raw(IPPROTO_IPIP).payload(not_ect).build()));
  send_marker("after not-ect");
  EXPECT_FALSE(receive_datagram(udp4_.get(), kSilence));
  auto after = decap_->counters();
  EXPECT_EQ(after["malformed"] - before.at("malformed"), 1u);
}

TEST_F(DecapTest, GenericModeDecapsulatesToo) {
  ASSERT_EQ(decap_->stop(), 0);
  ASSERT_TRUE(start_decap({"--generic"})) << decap_->log();
  EXPECT_NE(decap_->log().find("(generic mode)"), std::string::npos);
  EXPECT_NE(shell_output("ip -n " + server_ns() + " link show dev " + kServerIf).find("xdpgeneric"),
            std::string::npos);
  expect_delivered(uvs_tunnel(client_udp(kVip4, 44000, kUdpPort, "generic ipip"), TunType::kIpip,
                              TunCsum::kNoCsum, false),
                   kVip4, 44000, "generic ipip");
  expect_delivered(uvs_tunnel(client_udp(kVip6, 44001, kUdpPort, "generic gre"), TunType::kGre,
                              TunCsum::kCsum, true),
                   kVip6, 44001, "generic gre");
  expect_delivered(uvs_tunnel(client_udp(kVip6, 44002, kUdpPort, "generic gue"), TunType::kGue,
                              TunCsum::kCsum, false),
                   kVip6, 44002, "generic gue");
}

TEST_F(DecapTest, RefusesAnOccupiedInterfaceAndDetachesOnSigterm) {
  const std::string show = "ip -n " + server_ns() + " link show dev " + kServerIf;
  EXPECT_NE(shell_output(show).find("uvs_decap"), std::string::npos) << shell_output(show);

  // A second instance must not take over (nor replace) the attached program.
  DecapProcess second(dir_ + "/second.log");
  EXPECT_FALSE(second.start(server_ns(), {"--interface", kServerIf, "--vip", kVip4}));
  EXPECT_EQ(second.wait_exit(std::chrono::seconds(5)), 1);
  EXPECT_NE(second.log().find("already has an XDP program"), std::string::npos) << second.log();
  expect_delivered(uvs_tunnel(client_udp(kVip4, 45000, kUdpPort, "still served"),
                              TunType::kIpip, TunCsum::kNoCsum, false),
                   kVip4, 45000, "still served");

  EXPECT_EQ(decap_->stop(SIGTERM), 0);
  EXPECT_NE(decap_->log().find("uvs-decap: detached from r0"), std::string::npos);
  EXPECT_EQ(shell_output(show).find("xdp"), std::string::npos) << shell_output(show);
  // Without it the kernel cannot open the tunnel: nothing arrives.
  ASSERT_TRUE(wire_.send(uvs_tunnel(client_udp(kVip4, 45001, kUdpPort, "no decap"),
                                    TunType::kIpip, TunCsum::kNoCsum, false)));
  EXPECT_FALSE(receive_datagram(udp4_.get(), kSilence));

  // SIGINT detaches as well.
  ASSERT_TRUE(start_decap({})) << decap_->log();
  EXPECT_EQ(decap_->stop(SIGINT), 0);
  EXPECT_EQ(shell_output(show).find("xdp"), std::string::npos) << shell_output(show);
}

TEST_F(DecapTest, RealserverScriptPreparesIdempotentlyAndRestores) {
  // The director namespace has not been prepared: use it, with values that differ from both
  // the defaults and what the script sets, so that restoring is visible.
  const std::string ns = director_ns();
  const std::string exec = "ip netns exec " + ns + " ";
  const auto conf = [&](const std::string& key) {
    std::string value = shell_output(exec + "cat /proc/sys/net/ipv4/conf/" + key);
    return value.substr(0, value.find('\n'));
  };
  ASSERT_EQ(shell(exec + "sh -c 'echo 2 > /proc/sys/net/ipv4/conf/" + kDirectorIf +
                  "/rp_filter; echo 1 > /proc/sys/net/ipv4/conf/all/rp_filter'"),
            0);
  const std::vector<std::string> keys = {"all/arp_ignore", "all/arp_announce", "lo/arp_ignore",
                                         "lo/arp_announce", "all/rp_filter", "default/rp_filter",
                                         std::string(kDirectorIf) + "/rp_filter"};
  std::map<std::string, std::string> original;
  for (const auto& key : keys) original[key] = conf(key);

  const std::string lo = "ip -n " + ns + " -o addr show dev lo";
  for (int run = 0; run < 2; ++run) {
    SCOPED_TRACE("run " + std::to_string(run));
    ASSERT_EQ(shell(realserver_script() + " dr 10.205.200.1 fd00:205:200::1 --netns " + ns), 0);
    std::string addresses = shell_output(lo);
    EXPECT_NE(addresses.find("inet 10.205.200.1/32"), std::string::npos) << addresses;
    EXPECT_NE(addresses.find("inet6 fd00:205:200::1/128"), std::string::npos) << addresses;
    // Exactly once, however often it runs.
    EXPECT_EQ(addresses.find("10.205.200.1/32"), addresses.rfind("10.205.200.1/32"));
    EXPECT_EQ(conf("all/arp_ignore"), "1");
    EXPECT_EQ(conf("lo/arp_ignore"), "1");
    EXPECT_EQ(conf("all/arp_announce"), "2");
    EXPECT_EQ(conf("lo/arp_announce"), "2");
    EXPECT_EQ(conf("all/rp_filter"), "0");
    EXPECT_EQ(conf("default/rp_filter"), "0");
    EXPECT_EQ(conf(std::string(kDirectorIf) + "/rp_filter"), "0");
  }

  // Removing one VIP keeps the other and the sysctls; removing the last restores them.
  ASSERT_EQ(shell(realserver_script() + " clean 10.205.200.1 --netns " + ns), 0);
  std::string addresses = shell_output(lo);
  EXPECT_EQ(addresses.find("10.205.200.1/32"), std::string::npos) << addresses;
  EXPECT_NE(addresses.find("fd00:205:200::1/128"), std::string::npos) << addresses;
  EXPECT_EQ(conf("all/arp_ignore"), "1");
  ASSERT_EQ(shell(realserver_script() + " clean fd00:205:200::1 --netns " + ns), 0);
  addresses = shell_output(lo);
  EXPECT_EQ(addresses.find("fd00:205:200::1"), std::string::npos) << addresses;
  for (const auto& key : keys) EXPECT_EQ(conf(key), original[key]) << key;
  EXPECT_NE(access(realserver_state(ns).c_str(), F_OK), 0);
  // Cleaning again is a no-op, and bad input is refused.
  EXPECT_EQ(shell(realserver_script() + " clean fd00:205:200::1 --netns " + ns), 0);
  EXPECT_NE(shell(realserver_script() + " dr 10.205.200.1/32 --netns " + ns), 0);
  EXPECT_NE(shell(realserver_script() + " nat 10.205.200.1 --netns " + ns), 0);
}

// ---------------------------------------------------------------------------------------------
// The program alone: the kernel runs it on a given frame (BPF_PROG_TEST_RUN) and hands back the
// exact bytes it lets through. This covers what the veth lab cannot show (VLAN tags: this
// kernel has no 802.1Q devices to deliver tagged frames to) and holds every decapsulation to a
// byte-exact round trip of what uvs encapsulated.

class DecapProgramTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "needs root (BPF)";
    const std::string path = std::string(UVS_BUILD_DIR) + "/bpf/" UVS_DECAP_OBJECT_FILE;
    object_ = bpf_object__open_file(path.c_str(), nullptr);
    ASSERT_NE(object_, nullptr) << path;
    ASSERT_EQ(bpf_object__load(object_), 0) << path;
    bpf_program* prog = bpf_object__find_program_by_name(object_, UVS_DECAP_PROG_NAME);
    ASSERT_NE(prog, nullptr);
    prog_fd_ = bpf_program__fd(prog);
    counters_fd_ = bpf_object__find_map_fd_by_name(object_, UVS_DECAP_MAP_COUNTERS);
    int vips = bpf_object__find_map_fd_by_name(object_, UVS_DECAP_MAP_VIPS);
    int ports = bpf_object__find_map_fd_by_name(object_, UVS_DECAP_MAP_GUE_PORTS);
    ASSERT_GE(counters_fd_, 0);
    ASSERT_GE(vips, 0);
    ASSERT_GE(ports, 0);
    const uint8_t present = 1;
    for (const char* vip : {kVip4, kVip6}) {
      uvs_decap_vip_key key{};
      InetAddr address = pkt::addr(vip);
      key.family = address.is_v6() ? UVS_DECAP_AF_INET6 : UVS_DECAP_AF_INET;
      std::memcpy(key.addr, address.bytes.data(), 16);
      ASSERT_EQ(bpf_map_update_elem(vips, &key, &present, BPF_ANY), 0);
    }
    const uint16_t port = htons(kGuePort);
    ASSERT_EQ(bpf_map_update_elem(ports, &port, &present, BPF_ANY), 0);
  }

  void TearDown() override {
    if (object_) bpf_object__close(object_);
  }

  // The program's verdict and the frame as it leaves.
  std::pair<uint32_t, Bytes> run(const Bytes& in) { return test::xdp_test_run(prog_fd_, in); }

  uint64_t counter(uint32_t index) const { return test::percpu_sum(counters_fd_, index); }

  bpf_object* object_ = nullptr;
  int prog_fd_ = -1;
  int counters_fd_ = -1;
};

// Inserts VLAN tags (outermost first, each a TPID and a VID) after the MAC addresses.
Bytes with_tags(Bytes frame, const std::vector<std::pair<uint16_t, uint16_t>>& tags) {
  Bytes tag_bytes;
  for (const auto& [tpid, vid] : tags) {
    tag_bytes.push_back(static_cast<uint8_t>(tpid >> 8));
    tag_bytes.push_back(static_cast<uint8_t>(tpid));
    tag_bytes.push_back(static_cast<uint8_t>(vid >> 8));
    tag_bytes.push_back(static_cast<uint8_t>(vid));
  }
  frame.insert(frame.begin() + 2 * ETH_ALEN, tag_bytes.begin(), tag_bytes.end());
  return frame;
}

TEST_F(DecapProgramTest, UndoesWhatUvsEncapsulatedByteForByteWithAndWithoutVlanTags) {
  const std::vector<std::vector<std::pair<uint16_t, uint16_t>>> tag_sets = {
      {}, {{ETH_P_8021Q, 7}}, {{ETH_P_8021AD, 100}, {ETH_P_8021Q, 7}}};
  const std::vector<std::pair<TunType, TunCsum>> tunnels = {
      {TunType::kIpip, TunCsum::kNoCsum}, {TunType::kGue, TunCsum::kNoCsum},
      {TunType::kGue, TunCsum::kCsum},    {TunType::kGre, TunCsum::kNoCsum},
      {TunType::kGre, TunCsum::kCsum}};
  uint64_t decapsulated = 0;
  for (const auto& tags : tag_sets) {
    for (const auto& [type, csum] : tunnels) {
      for (bool outer_v6 : {false, true}) {
        for (const char* vip : {kVip4, kVip6}) {
          SCOPED_TRACE(std::string(tun_name(type)) + (csum == TunCsum::kCsum ? "+csum" : "") +
                       (outer_v6 ? " over IPv6 to " : " over IPv4 to ") + vip + ", " +
                       std::to_string(tags.size()) + " VLAN tags");
          // A TCP segment this time, with an odd length.
          Bytes client = client_tcp(vip, 46000, pkt::kTcpAck | pkt::kTcpPsh, 7, 9, "odd!!");
          Bytes tunnel = with_tags(uvs_tunnel(client, type, csum, outer_v6), tags);
          // Out comes the client's frame, tags kept, with the MACs the outer frame had.
          Bytes expected = client;
          std::copy(kServerMac.begin(), kServerMac.end(), expected.begin());
          std::copy(kDirectorMac.begin(), kDirectorMac.end(), expected.begin() + ETH_ALEN);
          expected = with_tags(expected, tags);
          auto [verdict, out] = run(tunnel);
          EXPECT_EQ(verdict, static_cast<uint32_t>(XDP_PASS));
          EXPECT_EQ(pkt::describe_diff(expected, out), "");
          ++decapsulated;
        }
      }
    }
  }
  EXPECT_EQ(counter(UVS_DECAP_CNT_IPIP) + counter(UVS_DECAP_CNT_GUE) + counter(UVS_DECAP_CNT_GRE),
            decapsulated);
  EXPECT_EQ(counter(UVS_DECAP_CNT_MALFORMED) + counter(UVS_DECAP_CNT_UNSUPPORTED), 0u);
}

TEST_F(DecapProgramTest, LeavesEverythingElseByteForByte) {
  const Bytes not_for_us[] = {
      client_udp(kVip4, 47000, kUdpPort, "plain"),
      uvs_tunnel(client_udp(kOtherVip4, 47001, kUdpPort, "foreign"), TunType::kIpip,
                 TunCsum::kNoCsum, false),
      with_tags(uvs_tunnel(client_udp(kVip4, 47002, kUdpPort, "three tags"), TunType::kIpip,
                           TunCsum::kNoCsum, false),
                {{ETH_P_8021AD, 1}, {ETH_P_8021Q, 2}, {ETH_P_8021Q, 3}}),
      outer_header(false).ipv4_frag(0, true).raw(IPPROTO_IPIP)
          .payload(ip_packet(client_udp(kVip4, 47003, kUdpPort, "outer fragment"))).build(),
      outer_header(false).raw(IPPROTO_GRE)
          .payload(Bytes{0x00, 0x00, 0x65, 0x58, 0x01, 0x02}).build(),  // Ethernet over GRE
  };
  for (const Bytes& frame : not_for_us) {
    auto [verdict, out] = run(frame);
    EXPECT_EQ(verdict, static_cast<uint32_t>(XDP_PASS));
    EXPECT_EQ(out, frame);
  }
  EXPECT_EQ(counter(UVS_DECAP_CNT_FOREIGN), 1u);
  EXPECT_EQ(counter(UVS_DECAP_CNT_UNSUPPORTED), 2u);
  // The plain datagram and the frame with a third VLAN tag, which is not looked into.
  EXPECT_EQ(counter(UVS_DECAP_CNT_PASSED), 2u);
}

}  // namespace
}  // namespace uvs
