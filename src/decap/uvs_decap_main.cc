// uvs-decap: the real-server side of uvs TUN forwarding on kernels without the ipip, gre and
// fou modules. Loads bpf/decap.bpf.o, tells it the VIPs (and the GUE ports) this real server
// answers for, attaches it to one interface through a bpf_link and stays in the foreground:
//
//   uvs-decap --interface eth0 --vip 10.0.100.1 --vip 2001:db8:100::1 --gue-port 6080
//
// The program strips IPIP, GUE and GRE outer headers from packets whose inner destination is
// one of the VIPs and passes the inner packet to the kernel, which delivers it to the VIP on lo
// (scripts/realserver tun puts it there). SIGUSR1 prints the counters; SIGTERM, SIGINT and
// SIGHUP detach and exit 0. The link belongs to this process, so even a SIGKILL leaves nothing
// attached. An interface that already has an XDP program is refused: uvs-decap never replaces
// another program.
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <getopt.h>
#include <linux/if_link.h>
#include <net/if.h>
#include <signal.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <fmt/core.h>

#include "decap/decap_abi.h"

namespace {

constexpr int kExitFailure = 1;
constexpr int kExitUsage = 2;

struct Options {
  std::string interface;
  std::vector<uvs_decap_vip_key> vips;
  std::vector<std::string> vip_texts;  // as given, for the start-up line
  std::vector<uint16_t> gue_ports;
  bool generic = false;
};

void usage(FILE* out) {
  fmt::print(out,
             "Usage: uvs-decap --interface IF [--vip ADDR]... [--gue-port PORT]... [--generic]\n"
             "  --interface IF   attach to IF (the real server's interface toward the director)\n"
             "  --vip ADDR       decapsulate tunnelled packets to ADDR (IPv4 or IPv6; repeat)\n"
             "  --gue-port PORT  also decapsulate GUE on UDP port PORT (repeat; none by default)\n"
             "  --generic        attach in generic (skb) mode even where native XDP works\n"
             "Handles IPIP (IPv4/IPv6 in IPv4/IPv6), GUE and GRE (with or without checksum) as\n"
             "uvs's TUN forwarding sends them. SIGUSR1 prints the counters; SIGTERM/SIGINT detach\n"
             "and exit. decap.bpf.o is looked for in $UVS_BPF_DIR, <dir of uvs-decap>/bpf/ and\n"
             "<dir of uvs-decap>/../lib/uvs/.\n");
}

std::string errno_text(int err) { return std::strerror(err < 0 ? -err : err); }

std::optional<uvs_decap_vip_key> parse_vip(const std::string& text) {
  uvs_decap_vip_key key{};
  if (inet_pton(AF_INET, text.c_str(), key.addr) == 1) {
    key.family = UVS_DECAP_AF_INET;
    return key;
  }
  if (inet_pton(AF_INET6, text.c_str(), key.addr) == 1) {
    key.family = UVS_DECAP_AF_INET6;
    return key;
  }
  return std::nullopt;
}

std::optional<uint16_t> parse_port(const std::string& text) {
  char* end = nullptr;
  errno = 0;
  unsigned long value = std::strtoul(text.c_str(), &end, 10);
  if (text.empty() || errno || *end || value == 0 || value > 65535) return std::nullopt;
  return static_cast<uint16_t>(value);
}

// Fills `options` from argv; false (after a message) on a usage error. Sets *help for --help.
bool parse_options(int argc, char** argv, Options* options, bool* help) {
  enum : int { kHelp = 'h', kInterface = 256, kVip, kGuePort, kGeneric };
  static const option kLongOptions[] = {
      {"interface", required_argument, nullptr, kInterface},
      {"vip", required_argument, nullptr, kVip},
      {"gue-port", required_argument, nullptr, kGuePort},
      {"generic", no_argument, nullptr, kGeneric},
      {"help", no_argument, nullptr, kHelp},
      {nullptr, 0, nullptr, 0},
  };
  int opt;
  while ((opt = getopt_long(argc, argv, "h", kLongOptions, nullptr)) != -1) {
    switch (opt) {
      case kInterface:
        options->interface = optarg;
        break;
      case kVip: {
        auto key = parse_vip(optarg);
        if (!key) {
          fmt::print(stderr, "uvs-decap: --vip {}: not an IPv4 or IPv6 address\n", optarg);
          return false;
        }
        options->vips.push_back(*key);
        options->vip_texts.emplace_back(optarg);
        break;
      }
      case kGuePort: {
        auto port = parse_port(optarg);
        if (!port) {
          fmt::print(stderr, "uvs-decap: --gue-port {}: not a port (1-65535)\n", optarg);
          return false;
        }
        options->gue_ports.push_back(*port);
        break;
      }
      case kGeneric:
        options->generic = true;
        break;
      case kHelp:
        *help = true;
        return true;
      default:
        return false;
    }
  }
  if (optind < argc) {
    fmt::print(stderr, "uvs-decap: unexpected argument {}\n", argv[optind]);
    return false;
  }
  if (options->interface.empty()) {
    fmt::print(stderr, "uvs-decap: --interface is required\n");
    return false;
  }
  if (options->vips.size() > UVS_DECAP_MAX_VIPS) {
    fmt::print(stderr, "uvs-decap: at most {} VIPs\n", UVS_DECAP_MAX_VIPS);
    return false;
  }
  if (options->gue_ports.size() > UVS_DECAP_MAX_GUE_PORTS) {
    fmt::print(stderr, "uvs-decap: at most {} GUE ports\n", UVS_DECAP_MAX_GUE_PORTS);
    return false;
  }
  return true;
}

// decap.bpf.o, searched for as XdpSteering::default_object_path() (io/xdp_steering.h) searches
// for steer.bpf.o: $UVS_BPF_DIR, then bpf/ beside the executable (the build tree: build/uvs-decap,
// build/bpf/), then ../lib/uvs/ from it (the install tree: sbin/, lib/uvs/). That function is
// not reused because it names steer.bpf.o, and linking the io layer for it would pull libxdp
// and the model into this small tool.
std::string object_path() {
  namespace fs = std::filesystem;
  std::vector<fs::path> candidates;
  if (const char* dir = std::getenv("UVS_BPF_DIR"); dir && *dir)
    candidates.push_back(fs::path(dir) / UVS_DECAP_OBJECT_FILE);
  std::error_code ec;
  fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    candidates.push_back(exe.parent_path() / "bpf" / UVS_DECAP_OBJECT_FILE);
    candidates.push_back(exe.parent_path().parent_path() / "lib" / "uvs" / UVS_DECAP_OBJECT_FILE);
  }
  for (const auto& candidate : candidates)
    if (fs::exists(candidate, ec)) return candidate.string();
  return candidates.empty() ? std::string("bpf/" UVS_DECAP_OBJECT_FILE)
                            : candidates.front().string();
}

// The XDP program already on the interface, in any mode: its id, or 0 if there is none.
std::optional<uint32_t> attached_program(int ifindex, std::string* error) {
  bpf_xdp_query_opts query{};
  query.sz = sizeof(query);
  if (int err = bpf_xdp_query(ifindex, 0, &query); err) {
    *error = "querying XDP state: " + errno_text(err);
    return std::nullopt;
  }
  // prog_id is set when a single mode is in use; the per-mode ids cover the rest.
  for (uint32_t id : {query.prog_id, query.drv_prog_id, query.skb_prog_id, query.hw_prog_id})
    if (id) return id;
  return 0u;
}

// The loaded object and its attachment. Closing the link (destructor) detaches the program.
class Decap {
 public:
  Decap() = default;
  ~Decap() {
    detach();
    if (object_) bpf_object__close(object_);
  }
  Decap(const Decap&) = delete;
  Decap& operator=(const Decap&) = delete;

  bool load(const std::string& path, std::string* error) {
    object_ = bpf_object__open_file(path.c_str(), nullptr);
    if (!object_) {
      *error = "opening " + path + ": " + errno_text(errno);
      return false;
    }
    if (int err = bpf_object__load(object_); err) {
      *error = "loading " + path + ": " + errno_text(err);
      return false;
    }
    bpf_program* prog = bpf_object__find_program_by_name(object_, UVS_DECAP_PROG_NAME);
    if (!prog) {
      *error = path + " has no program " UVS_DECAP_PROG_NAME;
      return false;
    }
    prog_fd_ = bpf_program__fd(prog);
    struct Named {
      const char* name;
      int* fd;
    };
    for (Named named : {Named{UVS_DECAP_MAP_VIPS, &vips_fd_},
                        Named{UVS_DECAP_MAP_GUE_PORTS, &gue_ports_fd_},
                        Named{UVS_DECAP_MAP_COUNTERS, &counters_fd_}}) {
      *named.fd = bpf_object__find_map_fd_by_name(object_, named.name);
      if (*named.fd < 0) {
        *error = path + " has no map " + named.name;
        return false;
      }
    }
    return true;
  }

  bool add_vip(const uvs_decap_vip_key& key, std::string* error) {
    const uint8_t present = 1;
    if (int err = bpf_map_update_elem(vips_fd_, &key, &present, BPF_ANY); err) {
      *error = "adding a VIP: " + errno_text(err);
      return false;
    }
    return true;
  }

  bool add_gue_port(uint16_t port, std::string* error) {
    const uint16_t key = htons(port);
    const uint8_t present = 1;
    if (int err = bpf_map_update_elem(gue_ports_fd_, &key, &present, BPF_ANY); err) {
      *error = "adding GUE port " + std::to_string(port) + ": " + errno_text(err);
      return false;
    }
    return true;
  }

  // Native first, then skb mode (veth refuses native when its peer's MTU is too large or it
  // has fewer rx queues than the peer has tx queues). Returns the mode's name.
  std::optional<const char*> attach(int ifindex, bool generic_only, std::string* error) {
    std::string native_error;
    if (!generic_only) {
      if (link(ifindex, XDP_FLAGS_DRV_MODE, &native_error)) return "native";
    }
    std::string generic_error;
    if (link(ifindex, XDP_FLAGS_SKB_MODE, &generic_error)) return "generic";
    *error = "attaching XDP: ";
    if (!native_error.empty()) *error += "native: " + native_error + "; ";
    *error += "generic: " + generic_error;
    return std::nullopt;
  }

  void detach() {
    if (link_fd_ >= 0) close(link_fd_);
    link_fd_ = -1;
  }

  // Per-CPU counters folded, indexed by uvs_decap_counter.
  std::array<uint64_t, UVS_DECAP_CNT_MAX> counters() const {
    std::array<uint64_t, UVS_DECAP_CNT_MAX> totals{};
    int cpus = libbpf_num_possible_cpus();
    if (cpus <= 0) return totals;
    // Per-CPU array values come back as one 8-byte slot per possible CPU.
    std::vector<uint64_t> per_cpu(static_cast<size_t>(cpus));
    for (uint32_t index = 0; index < UVS_DECAP_CNT_MAX; ++index) {
      if (bpf_map_lookup_elem(counters_fd_, &index, per_cpu.data()) != 0) continue;
      for (uint64_t value : per_cpu) totals[index] += value;
    }
    return totals;
  }

 private:
  bool link(int ifindex, uint32_t flags, std::string* error) {
    bpf_link_create_opts opts{};
    opts.sz = sizeof(opts);
    opts.flags = flags;
    int fd = bpf_link_create(prog_fd_, ifindex, BPF_XDP, &opts);
    if (fd < 0) {
      *error = errno_text(fd);
      return false;
    }
    link_fd_ = fd;
    return true;
  }

  bpf_object* object_ = nullptr;
  int prog_fd_ = -1;
  int vips_fd_ = -1;
  int gue_ports_fd_ = -1;
  int counters_fd_ = -1;
  int link_fd_ = -1;
};

void print_counters(const Decap& decap) {
  static constexpr std::array<const char*, UVS_DECAP_CNT_MAX> kNames = {
      "decap_ipip", "decap_gue", "decap_gre", "passed", "foreign", "malformed", "unsupported"};
  static_assert(UVS_DECAP_CNT_UNSUPPORTED + 1 == UVS_DECAP_CNT_MAX);
  const auto totals = decap.counters();
  std::string line = "uvs-decap: counters";
  for (size_t i = 0; i < totals.size(); ++i) line += fmt::format(" {}={}", kNames[i], totals[i]);
  fmt::print("{}\n", line);
  std::fflush(stdout);
}

std::string join(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& item : items) out += (out.empty() ? "" : " ") + item;
  return out.empty() ? "none" : out;
}

int run(const Options& options) {
  int ifindex = static_cast<int>(if_nametoindex(options.interface.c_str()));
  if (ifindex == 0) {
    fmt::print(stderr, "uvs-decap: interface {}: {}\n", options.interface, errno_text(errno));
    return kExitFailure;
  }
  std::string error;
  auto existing = attached_program(ifindex, &error);
  if (!existing) {
    fmt::print(stderr, "uvs-decap: {}: {}\n", options.interface, error);
    return kExitFailure;
  }
  if (*existing != 0) {
    fmt::print(stderr,
               "uvs-decap: {} already has an XDP program (id {}); uvs-decap does not replace "
               "it. Detach it first (ip link set dev {} xdp off).\n",
               options.interface, *existing, options.interface);
    return kExitFailure;
  }
  if (options.vips.empty())
    fmt::print(stderr, "uvs-decap: warning: no --vip given, nothing will be decapsulated\n");

  // The signals that end or query us are taken synchronously by sigwaitinfo below; blocked
  // before anything is attached so that none can interrupt the set-up half done.
  sigset_t signals;
  sigemptyset(&signals);
  for (int sig : {SIGTERM, SIGINT, SIGHUP, SIGUSR1}) sigaddset(&signals, sig);
  if (sigprocmask(SIG_BLOCK, &signals, nullptr) != 0) {
    fmt::print(stderr, "uvs-decap: blocking signals: {}\n", errno_text(errno));
    return kExitFailure;
  }

  Decap decap;
  const std::string path = object_path();
  if (!decap.load(path, &error)) {
    fmt::print(stderr, "uvs-decap: {}\n", error);
    return kExitFailure;
  }
  for (const auto& vip : options.vips) {
    if (!decap.add_vip(vip, &error)) {
      fmt::print(stderr, "uvs-decap: {}\n", error);
      return kExitFailure;
    }
  }
  std::vector<std::string> port_texts;
  for (uint16_t port : options.gue_ports) {
    if (!decap.add_gue_port(port, &error)) {
      fmt::print(stderr, "uvs-decap: {}\n", error);
      return kExitFailure;
    }
    port_texts.push_back(std::to_string(port));
  }
  auto mode = decap.attach(ifindex, options.generic, &error);
  if (!mode) {
    fmt::print(stderr, "uvs-decap: {}: {}\n", options.interface, error);
    return kExitFailure;
  }
  fmt::print("uvs-decap: attached to {} ({} mode); VIPs: {}; GUE ports: {}\n", options.interface,
             *mode, join(options.vip_texts), join(port_texts));
  std::fflush(stdout);

  for (;;) {
    siginfo_t info;
    int sig = sigwaitinfo(&signals, &info);
    if (sig < 0) {
      if (errno == EINTR) continue;
      fmt::print(stderr, "uvs-decap: waiting for signals: {}\n", errno_text(errno));
      break;
    }
    if (sig == SIGUSR1) {
      print_counters(decap);
      continue;
    }
    break;
  }
  print_counters(decap);
  decap.detach();
  fmt::print("uvs-decap: detached from {}\n", options.interface);
  std::fflush(stdout);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  Options options;
  bool help = false;
  if (!parse_options(argc, argv, &options, &help)) {
    usage(stderr);
    return kExitUsage;
  }
  if (help) {
    usage(stdout);
    return 0;
  }
  return run(options);
}
