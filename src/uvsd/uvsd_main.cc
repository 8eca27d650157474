// uvsd: the director daemon. Holds the IPVS model and answers uvsadm on a UNIX socket.
#include <fcntl.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <sstream>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include <fmt/core.h>
#include <nlohmann/json.hpp>
#include <systemd/sd-daemon.h>

#include "api/client.h"
#include "api/codec.h"
#include "api/dispatch.h"
#include "api/genl_relay.h"
#include "api/server.h"
#include "genl/control_adapter.h"
#include "genl/handler.h"
#include "http/server.h"
#include "cli/format.h"
#include "cli/parse.h"
#include "conn/table.h"
#include "conn/tracker.h"
#include "ctl/control.h"
#include "model/errors.h"
#include "nl/xdp_owner.h"
#include "util/log.h"
#include "uvsd/dataplane.h"

namespace {

void usage(FILE* out) {
  fmt::print(out,
             "Usage: uvsd [--socket PATH] [--config FILE] [--conn-max N]\n"
             "            [--interface IF]... [--workers N] [--xdp-generic] [--no-offload]\n"
             "  --socket PATH   control socket (default {}, or $UVS_SOCKET)\n"
             "  --config FILE   apply FILE (uvsadm -S format) at start; refuse to start if bad\n"
             "  --conn-max N    connection table size (default 1048576)\n"
             "  --interface IF  load balance traffic arriving on IF (repeat for each interface)\n"
             "  --workers N     data-plane workers (default: one per queue, up to the cores)\n"
             "  --xdp-generic   attach XDP in generic (skb) mode even where native works\n"
             "  --no-offload    keep every packet in user space (by default established\n"
             "                  connections are forwarded by XDP where the egress takes it)\n"
             "  --max-services N, --max-reals N\n"
             "                  steering map sizes with --interface (default 16384 services,\n"
             "                  131072 NAT real servers); a change beyond them fails (ENOMEM)\n"
             "  --fwmark-rule MARK:PROTO:ADDR/LEN[:PORT[-PORT]]\n"
             "                  mark matching packets for fwmark services (iptables MARK's job)\n"
             "  --peer-laddr ADDR[/LEN]\n"
             "                  FULLNAT local addresses of the cluster's other directors: take\n"
             "                  their replies too, for the connections learned by sync (repeat)\n"
             "  --takeover      take the table and connections of the uvsd running on the\n"
             "                  socket, stop it, and serve in its place (restart, upgrade)\n"
             "  --sysctl NAME=VALUE\n"
             "                  set an IPVS sysctl (/proc/sys/net/ipv4/vs/NAME), e.g.\n"
             "                  expire_nodest_conn=1 or sync_threshold=2 (repeat for each)\n"
             "  --http ADDR:PORT serve /metrics (Prometheus), a live page at / and /api/v1/\n"
             "                  (read-only; e.g. 127.0.0.1:9100 or [::1]:9100)\n"
             "  --log-level LEVEL\n"
             "                  error, warning, notice, info (default) or debug\n",
             uvs::api::kDefaultSocket);
}

// The whole of a --config file, or false with a message: a directory, an unreadable file or a
// read error half-way must stop uvsd, never apply part of the table.
bool read_config(const std::string& path, std::string* text) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  struct stat st;
  if (fd < 0 || ::fstat(fd, &st) < 0) {
    uvs::log::error("cannot read config {}: {}", path, std::strerror(errno));
    if (fd >= 0) ::close(fd);
    return false;
  }
  if (S_ISDIR(st.st_mode)) {
    uvs::log::error("cannot read config {}: {}", path, std::strerror(EISDIR));
    ::close(fd);
    return false;
  }
  text->clear();
  char buf[65536];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n > 0) {
      text->append(buf, static_cast<size_t>(n));
    } else if (n == 0) {
      break;
    } else if (errno != EINTR) {
      uvs::log::error("cannot read config {}: {}", path, std::strerror(errno));
      ::close(fd);
      return false;
    }
  }
  ::close(fd);
  return true;
}

struct ConfigLine {
  int lineno;
  uvs::Command command;
};

// The commands of a file of uvsadm -S lines; blank lines and lines starting with '#' are
// skipped. False, with `uvsd: FILE:LINE: <message>`, at the first line that is not a table
// command.
bool parse_config(const std::string& path, const std::string& text, std::vector<ConfigLine>* out) {
  std::istringstream in(text);
  std::string line;
  int lineno = 0;
  while (std::getline(in, line)) {
    ++lineno;
    auto first = line.find_first_not_of(" \t\r");
    if (first == std::string::npos || line[first] == '#') continue;
    auto argv = uvs::cli::split_restore_line(line, "uvsadm");
    if (argv.size() <= 1) continue;
    auto parsed = uvs::cli::parse_command_line(argv);
    if (!parsed.command) {
      // uvsadm's text without its "Try `uvsadm -h'" hint, which means nothing to uvsd's user.
      std::string message, part;
      std::istringstream parts(parsed.error);
      while (std::getline(parts, part))
        if (!part.empty() && part.rfind("Try `", 0) != 0)
          message += (message.empty() ? "" : "; ") + part;
      if (message.empty()) message = "not a uvsadm command: " + line.substr(first);
      uvs::log::error("{}:{}: {}", path, lineno, message);
      return false;
    }
    if (!uvs::api::is_table_change(parsed.command->kind)) {
      uvs::log::error("{}:{}: not a table command: {}", path, lineno, line);
      return false;
    }
    out->push_back(ConfigLine{lineno, std::move(*parsed.command)});
  }
  return true;
}

// Applies the commands in order; false, with `uvsd: FILE:LINE: <message>`, at the first the
// table refuses.
bool apply_lines(uvs::ctl::Control& control, const std::string& path,
                 const std::vector<ConfigLine>& lines) {
  for (const auto& l : lines) {
    if (int err = control.apply(l.command)) {
      uvs::log::error("{}:{}: {}", path, l.lineno, uvs::ipvs_strerror(l.command.kind, err));
      return false;
    }
  }
  return true;
}

// A --config file at start: read whole and every line parsed before anything is applied.
bool apply_config(uvs::ctl::Control& control, const std::string& path) {
  std::string text;
  std::vector<ConfigLine> lines;
  return read_config(path, &text) && parse_config(path, text, &lines) &&
         apply_lines(control, path, lines);
}

// The command line, once read.
struct DaemonArgs {
  std::string socket_flag;  // --socket; empty: $UVS_SOCKET or the default
  std::string config;       // --config; empty: start with an empty table
  uint32_t conn_max = 1u << 20;
  std::vector<std::string> interfaces;
  unsigned workers = 0;  // 0 until settle_workers(): as many as the queues and cores allow
  bool xdp_generic = false;
  bool offload = true;
  std::vector<uvs::FwmarkRule> fwmark_rules;
  uvs::Sysctls sysctls;
  bool takeover = false;
  uint32_t max_services = 0;  // 0: the steering's defaults
  uint32_t max_reals = 0;
  std::string http;  // --http, as civetweb takes it; empty: no HTTP server
  std::vector<uvs::InetAddr> peer_laddrs;
};

// The uvs_laddrs map's size (bpf/steer.bpf.c): what --peer-laddr may add at most.
constexpr size_t kMaxPeerLaddrs = 4096;

// *out = text as a decimal number in [1, max]; false if it is anything else.
bool parse_count(const char* text, unsigned long max, unsigned long* out) {
  char* end;
  unsigned long v = std::strtoul(text, &end, 10);
  if (*end || v < 1 || v > max) return false;
  *out = v;
  return true;
}

// Reads argv into *args. Returns the exit status when uvsd should stop here (--help, a bad
// command line), nullopt to go on.
std::optional<int> parse_args(int argc, char** argv, DaemonArgs* args) {
  static const option kLong[] = {{"socket", required_argument, nullptr, 's'},
                                 {"config", required_argument, nullptr, 'c'},
                                 {"conn-max", required_argument, nullptr, 'm'},
                                 {"interface", required_argument, nullptr, 'i'},
                                 {"workers", required_argument, nullptr, 'w'},
                                 {"xdp-generic", no_argument, nullptr, 'g'},
                                 {"offload", no_argument, nullptr, 'o'},
                                 {"no-offload", no_argument, nullptr, 'O'},
                                 {"fwmark-rule", required_argument, nullptr, 'f'},
                                 {"peer-laddr", required_argument, nullptr, 'P'},
                                 {"max-services", required_argument, nullptr, 'S'},
                                 {"max-reals", required_argument, nullptr, 'R'},
                                 {"sysctl", required_argument, nullptr, 'y'},
                                 {"takeover", no_argument, nullptr, 't'},
                                 {"http", required_argument, nullptr, 'H'},
                                 {"log-level", required_argument, nullptr, 'L'},
                                 {"help", no_argument, nullptr, 'h'},
                                 {nullptr, 0, nullptr, 0}};
  int c;
  while ((c = getopt_long(argc, argv, "h", kLong, nullptr)) != -1) {
    unsigned long count = 0;
    switch (c) {
      case 's':
        args->socket_flag = optarg;
        break;
      case 'c':
        args->config = optarg;
        break;
      case 'm':
        if (!parse_count(optarg, 1u << 30, &count)) {
          fmt::print(stderr, "uvsd: --conn-max wants 1..{}\n", 1u << 30);
          return 2;
        }
        args->conn_max = static_cast<uint32_t>(count);
        break;
      case 'i':
        args->interfaces.push_back(optarg);
        break;
      case 'w':
        if (!parse_count(optarg, 64, &count)) {
          fmt::print(stderr, "uvsd: --workers wants 1..64\n");
          return 2;
        }
        args->workers = static_cast<unsigned>(count);
        break;
      case 'g':
        args->xdp_generic = true;
        break;
      case 'o':
        args->offload = true;
        break;
      case 'O':
        args->offload = false;
        break;
      case 'f': {
        uvs::FwmarkRule rule;
        if (!uvs::parse_fwmark_rule(optarg, &rule)) {
          fmt::print(stderr, "uvsd: --fwmark-rule wants MARK:tcp|udp|sctp|any:ADDR/LEN[:PORT[-PORT]]\n");
          return 2;
        }
        args->fwmark_rules.push_back(rule);
        break;
      }
      case 'P': {
        auto addrs = uvs::InetAddr::expand(optarg, kMaxPeerLaddrs);
        if (!addrs || args->peer_laddrs.size() + addrs->size() > kMaxPeerLaddrs) {
          fmt::print(stderr, "uvsd: --peer-laddr wants ADDR or ADDR/LEN, {} addresses at most\n",
                     kMaxPeerLaddrs);
          return 2;
        }
        args->peer_laddrs.insert(args->peer_laddrs.end(), addrs->begin(), addrs->end());
        break;
      }
      case 't':
        args->takeover = true;
        break;
      case 'H':
        if (!uvs::http::parse_listen(optarg, &args->http)) {
          fmt::print(stderr, "uvsd: --http wants IPv4:PORT or [IPv6]:PORT\n");
          return 2;
        }
        break;
      case 'L':
        if (auto level = uvs::log::parse_level(optarg)) {
          uvs::log::set_level(*level);
        } else {
          fmt::print(stderr, "uvsd: --log-level wants error, warning, notice, info or debug\n");
          return 2;
        }
        break;
      case 'y': {
        std::string error;
        if (!uvs::set_sysctl(args->sysctls, optarg, error)) {
          fmt::print(stderr, "uvsd: --sysctl: {}\n", error);
          return 2;
        }
        break;
      }
      case 'S':
      case 'R':
        if (!parse_count(optarg, 1u << 24, &count)) {
          fmt::print(stderr, "uvsd: --max-services and --max-reals want 1..{}\n", 1u << 24);
          return 2;
        }
        (c == 'S' ? args->max_services : args->max_reals) = static_cast<uint32_t>(count);
        break;
      case 'h':
        usage(stdout);
        return 0;
      default:
        usage(stderr);
        return 2;
    }
  }
  if (optind < argc) {
    usage(stderr);
    return 2;
  }
  return std::nullopt;
}

// Fills in args->workers when not given: one worker per queue (every interface must offer each
// worker a queue), up to the cores. False, with a message, if more were asked for.
bool settle_workers(DaemonArgs* args) {
  unsigned max_workers = std::max(1u, std::thread::hardware_concurrency());
  for (const auto& ifname : args->interfaces)
    max_workers = std::min(max_workers, uvs::daemon::interface_queues(ifname));
  if (args->workers == 0) args->workers = max_workers;
  if (!args->interfaces.empty() && args->workers > max_workers) {
    uvs::log::error("--workers {}: the interfaces have only {} queue(s) each", args->workers,
                    max_workers);
    return false;
  }
  return true;
}

// /proc/meminfo's MemAvailable in bytes; nullopt if it cannot be read.
std::optional<uint64_t> mem_available() {
  std::ifstream in("/proc/meminfo");
  std::string key, unit;
  uint64_t kib;
  while (in >> key >> kib) {
    std::getline(in, unit);
    if (key == "MemAvailable:") return kib * 1024;
  }
  return std::nullopt;
}

// Bytes the data plane's connection state takes once every slot has been used: per worker the
// table's entries and index (conn/table.h: 128 + about 23 bytes a slot), the timer wheel's
// blocks (conn/timer_wheel.h: 64 bytes per 15 slots, plus a block and a head per wheel slot)
// and the fast path's slot map (dp/offload.h: 4 bytes a slot).
uint64_t conn_state_bytes(const DaemonArgs& args) {
  uvs::conn::TableOptions topts;
  topts.capacity = uvs::conn::per_worker_capacity(args.conn_max, args.workers);
  constexpr uint64_t kWheelSlots = 65536, kBlockBytes = 64, kSlotHeadBytes = 8;
  const uint64_t wheel =
      (topts.capacity / 15 + kWheelSlots + 2) * kBlockBytes + kWheelSlots * kSlotHeadBytes;
  const uint64_t offload = args.offload ? uint64_t{4} * topts.capacity : 0;
  return uint64_t{args.workers} * (uvs::conn::Table::memory_for(topts) + wheel + offload);
}

// --conn-max is checked against the memory there is before anything is attached: a table that
// cannot fit must stop uvsd with the reason, not with std::bad_alloc (or the OOM killer) later.
bool check_conn_memory(const DaemonArgs& args) {
  if (args.interfaces.empty()) return true;  // no data plane, no connection table
  const uint64_t need = conn_state_bytes(args);
  const std::optional<uint64_t> avail = mem_available();
  if (avail && need > *avail) {
    uvs::log::error(
               "--conn-max {} needs {} bytes ({} MiB, {} bytes per connection slot); "
               "only {} bytes ({} MiB) are available (MemAvailable)",
               args.conn_max, need, need >> 20, need / args.conn_max, *avail, *avail >> 20);
    return false;
  }
  uvs::log::info("connection table: {} slots, {} MiB once all are used", args.conn_max,
                 need >> 20);
  return true;
}

uvs::ctl::ControlOptions control_options(const DaemonArgs& args) {
  uvs::ctl::ControlOptions copts;
  copts.conn_tab_size = args.conn_max;
  copts.workers = args.workers;
  copts.fwmark_rules = args.fwmark_rules;
  copts.sysctls = args.sysctls;
  return copts;
}

// Signals are taken by one thread with sigwait() rather than by handlers, so that a reload can
// do real work: SIGTERM and SIGINT end server.serve(), SIGHUP reloads --config, SIGUSR1 (sent by
// main itself) ends the thread. Blocked before any thread starts, so every thread inherits it.
sigset_t daemon_signals() {
  sigset_t set;
  sigemptyset(&set);
  for (int sig : {SIGTERM, SIGINT, SIGHUP, SIGUSR1}) sigaddset(&set, sig);
  return set;
}

// SIGHUP, as `systemctl reload`: the file's table replaces the running one. The file is read
// whole and every line parsed, then applied to a scratch table: if anything is wrong the
// running table is left as it was. Then the table is flushed and the file applied.
void reload_config(uvs::ctl::Control& control, const std::string& path) {
  if (path.empty()) {
    uvs::log::warning("SIGHUP: no --config to reload; table unchanged");
    return;
  }
  std::string text;
  std::vector<ConfigLine> lines;
  if (!read_config(path, &text) || !parse_config(path, text, &lines)) {
    uvs::log::warning("SIGHUP: {} refused; table unchanged", path);
    return;
  }
  {
    uvs::ctl::Control scratch(control.options());
    if (!apply_lines(scratch, path, lines)) {
      uvs::log::warning("SIGHUP: {} refused; table unchanged", path);
      return;
    }
  }
  // One line for the whole file (below), not one per command.
  control.set_log_changes(false);
  struct LogAgain {
    uvs::ctl::Control& control;
    ~LogAgain() { control.set_log_changes(true); }
  } log_again{control};
  uvs::Command flush;
  flush.kind = uvs::CommandKind::kFlush;
  if (int err = control.apply(flush)) {
    uvs::log::warning("SIGHUP: flush: {}; table unchanged", uvs::ipvs_strerror(flush.kind, err));
    return;
  }
  if (!apply_lines(control, path, lines)) {
    // Only the data plane can refuse what the scratch table took (a full BPF map).
    uvs::log::error("SIGHUP: {} applied only up to the line above", path);
    return;
  }
  uvs::log::notice("SIGHUP: reloaded {} ({} command(s))", path, lines.size());
}

void handle_signals(uvs::api::Server& server, uvs::ctl::Control& control,
                    const std::string& config) {
  const sigset_t set = daemon_signals();
  for (;;) {
    int sig = 0;
    if (sigwait(&set, &sig) != 0) continue;
    if (sig == SIGHUP) {
      // systemd shows the unit "reloading" until READY=1 (sd_notify(3); no-ops without it).
      sd_notify(0, "RELOADING=1");
      reload_config(control, config);
      sd_notify(0, "READY=1");
      continue;
    }
    if (sig != SIGUSR1) server.stop();
    return;
  }
}

// The XDP steering and the workers on args.interfaces. Null, with a message, on failure.
std::unique_ptr<uvs::daemon::DataPlane> start_data_plane(
    const DaemonArgs& args, uvs::ctl::Control& control,
    std::vector<std::vector<uint8_t>> adopt = {},
    std::vector<std::pair<std::string, int>> handover_links = {},
    std::function<bool()> before_attach = nullptr) {
  uvs::daemon::DataPlaneOptions dopts;
  dopts.before_attach = std::move(before_attach);
  dopts.adopt = std::move(adopt);
  dopts.handover_links = std::move(handover_links);
  dopts.interfaces = args.interfaces;
  dopts.workers = args.workers;
  dopts.conn_max = args.conn_max;
  dopts.force_generic = args.xdp_generic;
  dopts.offload = args.offload;
  dopts.max_services = args.max_services;
  dopts.max_reals = args.max_reals;
  dopts.peer_laddrs = args.peer_laddrs;
  std::string error;
  auto dataplane = uvs::daemon::DataPlane::start(dopts, control, &error);
  if (!dataplane) {
    uvs::log::error("data plane: {}", error);
    // The kernel's EBUSY/EEXIST does not say who holds the hook: name the program.
    for (const auto& ifname : args.interfaces)
      if (auto owner = uvs::nl::xdp_owner(ifname))
        uvs::log::error("{}: is another uvsd running?", *owner);
    return nullptr;
  }
  uvs::log::notice("{} worker(s) on {} interface(s)", args.workers, args.interfaces.size());
  return dataplane;
}

// uvsd --http: the HTTP server reading the table and the running data plane.
std::unique_ptr<uvs::http::Server> start_http(
    const std::string& listen, uvs::ctl::Control& control,
    const std::atomic<uvs::daemon::DataPlane*>& dataplane) {
  uvs::http::Sources sources;
  sources.table = [&control] { return control.table(); };
  sources.dataplane = [&dataplane]() -> std::optional<uvs::dp::DataPlaneReport> {
    uvs::daemon::DataPlane* d = dataplane.load();
    if (!d) return std::nullopt;
    return d->report();
  };
  sources.connections = [&control] { return control.connections(); };
  uvs::http::ServerOptions options;
  options.listen = listen;
  std::string error;
  auto server = uvs::http::Server::start(options, std::move(sources), &error);
  if (!server) {
    fmt::print(stderr, "uvsd: {}\n", error);
    return nullptr;
  }
  fmt::print(stderr, "uvsd: HTTP on {} (/metrics, /, /api/v1/)\n", listen);
  return server;
}

}  // namespace

// What a uvsd gives the one taking its place: the table as -S lines, every connection as sync
// messages, and its process id (the new one then stops it with SIGTERM).
std::string takeover_reply(uvs::ctl::Control& control, uvs::daemon::DataPlane* dataplane) {
  nlohmann::json reply;
  reply["errno"] = 0;
  reply["pid"] = static_cast<int64_t>(getpid());
  const uvs::TableView table = control.table();
  reply["table"] = uvs::cli::format_save(table, true, uvs::cli::system_resolver());
  reply["daemons"] = table.daemons;  // -S does not carry them
  nlohmann::json messages = nlohmann::json::array();
  if (dataplane) {
    auto dump = dataplane->dump_connections(std::chrono::seconds(5));
    if (!dump) return nlohmann::json{{"errno", EIO}}.dump();  // a worker did not answer
    for (const auto& m : *dump) messages.push_back(uvs::api::to_hex(m));
  }
  reply["messages"] = std::move(messages);
  if (dataplane) {
    // The new uvsd copies these links before stopping this one: they outlive it, with a
    // program that drops what it can no longer deliver, until the new one swaps its own in.
    std::string error;
    if (auto links = dataplane->prepare_handover(&error)) {
      for (const auto& [ifname, fd] : *links) reply["links"][ifname] = fd;
    } else {
      uvs::log::warning("handover without the links (a gap follows): {}", error);
    }
  }
  uvs::log::notice("handing over to a new uvsd: {} connection messages",
                   reply["messages"].size());
  return reply.dump();
}

// True once `pid` has exited (gone, or a zombie its parent has not reaped yet).
bool process_gone(pid_t pid) {
  if (::kill(pid, 0) != 0 && errno == ESRCH) return true;
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(stat, line)) return true;
  const size_t paren = line.rfind(')');
  return paren != std::string::npos && paren + 2 < line.size() && line[paren + 2] == 'Z';
}

// Stops the uvsd being taken over (SIGTERM) and waits until it is gone: its queues are free.
bool stop_predecessor(pid_t old) {
  return old;
}

// uvsd --takeover: asks the uvsd on `path` for its table and connections, applies the table and
// takes copies of its XDP links; returns its pid (0 on failure), which stop_predecessor() stops
// once this uvsd's program is ready. The connections are handed to the data plane.
pid_t take_over(const std::string& path, uvs::ctl::Control& control,
                std::vector<std::vector<uint8_t>>* messages,
                std::vector<std::pair<std::string, int>>* links) {
  sockaddr_un sa{};
  sa.sun_family = AF_UNIX;
  std::snprintf(sa.sun_path, sizeof sa.sun_path, "%s", path.c_str());
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0 || ::connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) {
    uvs::log::error("--takeover: no uvsd answers on {}: {}", path, std::strerror(errno));
    if (fd >= 0) ::close(fd);
    return 0;
  }
  timeval tv{30, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  std::string payload;
  const bool talked = uvs::api::write_frame(fd, R"({"takeover":{}})") &&
                      uvs::api::read_frame(fd, size_t{1} << 30, payload) == uvs::api::ReadStatus::kOk;
  ::close(fd);
  const nlohmann::json reply = nlohmann::json::parse(payload, nullptr, false);
  if (!talked || !reply.is_object() || reply.value("errno", -1) != 0 || !reply.contains("pid") ||
      !reply["table"].is_string() || !reply["messages"].is_array()) {
    uvs::log::error("--takeover: the uvsd on {} did not hand over (an older uvsd?)", path);
    return 0;
  }
  std::vector<ConfigLine> lines;
  if (!parse_config("takeover", reply["table"].get<std::string>(), &lines) ||
      !apply_lines(control, "takeover", lines))
    return 0;
  // The sync daemons, configured now and started with the data plane (once this one's
  // predecessor, and so its sockets, are gone).
  if (reply.contains("daemons") && reply["daemons"].is_array()) {
    for (const auto& d : reply["daemons"]) {
      uvs::Command start;
      start.kind = uvs::CommandKind::kStartDaemon;
      try {
        start.daemon = d.get<uvs::DaemonConfig>();
      } catch (const nlohmann::json::exception&) {
        fmt::print(stderr, "uvsd: --takeover: a sync daemon the old uvsd described badly\n");
        continue;
      }
      const uvs::api::Reply r = uvs::api::handle_request(control, start);
      if (r.err)
        fmt::print(stderr, "uvsd: --takeover: the {} sync daemon: {}\n",
                   start.daemon.state == uvs::kDaemonMaster ? "master" : "backup",
                   std::strerror(r.err));
    }
  }
  for (const auto& m : reply["messages"]) {
    auto bytes = m.is_string() ? uvs::api::from_hex(m.get<std::string>()) : std::nullopt;
    if (bytes) messages->push_back(std::move(*bytes));
  }
  const pid_t old = static_cast<pid_t>(reply["pid"].get<int64_t>());
  // Copies of its XDP links, taken while it lives (pidfd_getfd(): root, same user).
  if (reply.contains("links") && reply["links"].is_object()) {
    const int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, old, 0));
    for (const auto& [ifname, fd] : reply["links"].items()) {
      const int copy = pidfd >= 0 && fd.is_number_integer()
                           ? static_cast<int>(::syscall(SYS_pidfd_getfd, pidfd, fd.get<int>(), 0))
                           : -1;
      if (copy >= 0) links->emplace_back(ifname, copy);
      else uvs::log::warning("--takeover: {}: no copy of the link ({}): a gap follows", ifname,
                             std::strerror(errno));
    }
    if (pidfd >= 0) ::close(pidfd);
  }
  const auto asked = std::chrono::steady_clock::now();
  ::kill(old, SIGTERM);
  for (int i = 0; i < 1500 && !process_gone(old); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  if (!process_gone(old)) {
    uvs::log::error("--takeover: uvsd {} did not stop", old);
    return false;
  }
  uvs::log::notice("--takeover: uvsd {} stopped in {} ms", old,
             std::chrono::duration_cast<std::chrono::milliseconds>(
                 std::chrono::steady_clock::now() - asked).count());
  return true;
}

int main(int argc, char** argv) {
  DaemonArgs args;
  if (std::optional<int> exit_status = parse_args(argc, argv, &args)) return *exit_status;
  if (!settle_workers(&args)) return 2;
  if (!check_conn_memory(args)) return 1;
  const sigset_t signals = daemon_signals();
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  signal(SIGPIPE, SIG_IGN);  // a client that hangs up must not kill uvsd

  uvs::ctl::Control control(control_options(args));
  const std::string path = uvs::api::resolve_socket_path(args.socket_flag);
  // With --takeover the table comes from the running uvsd (--config is for SIGHUP then).
  std::vector<std::vector<uint8_t>> taken;
  std::vector<std::pair<std::string, int>> handover_links;
  pid_t predecessor = 0;
  if (args.takeover) {
    predecessor = take_over(path, control, &taken, &handover_links);
    if (predecessor == 0) return 1;
  } else if (!args.config.empty() && !apply_config(control, args.config)) {
    return 1;
  }
  uvs::api::Server server(path, [&control](const uvs::Command& cmd) {
    return uvs::api::handle_request(control, cmd);
  });
  // keepalived, ipvsadm and ldirectord under libuvs-ipvs: their IPVS requests take the same
  // path as uvsadm's, through Control's public API.
  server.set_genl_handler([&control](const uvs::api::GenlRelayRequest& request) {
    uvs::genl::ControlAdapter adapter(control);
    uvs::genl::Handler handler(adapter, {.family_id = request.family_id});
    return uvs::api::GenlRelayReply{
        0, handler.handle(request.datagram, {.portid = request.portid, .cap_ack = request.cap_ack})};
  });
  // uvsadm --pick: the scheduler the workers run, on the view they are given.
  server.set_pick_handler(
      [&control](const uvs::Command& cmd, std::span<const uvs::ClientTuple> clients) {
        return uvs::api::handle_pick(control, cmd, clients);
      });
  std::atomic<uvs::daemon::DataPlane*> running_dataplane{nullptr};
  server.set_takeover_handler(
      [&control, &running_dataplane] { return takeover_reply(control, running_dataplane.load()); });
  std::string error;
  // Taking over, this uvsd listens once its predecessor is gone, which it stops when its own
  // program is loaded and ready, just before it attaches: the packets' gap is only the attach
  // and the sockets.
  if (!args.takeover && !server.listen(error)) {
    uvs::log::error("{}", error);
    return 1;
  }
  std::thread signal_thread(
      [&server, &control, &args] { handle_signals(server, control, args.config); });
  auto end_signal_thread = [&signal_thread] {
    pthread_kill(signal_thread.native_handle(), SIGUSR1);  // a no-op once it has ended
    signal_thread.join();
  };

  // Before the data plane: a port that cannot be had stops uvsd before anything is attached.
  std::unique_ptr<uvs::http::Server> http;
  if (!args.http.empty()) {
    http = start_http(args.http, control, running_dataplane);
    if (!http) {
      end_signal_thread();
      return 1;
    }
  }
  std::unique_ptr<uvs::daemon::DataPlane> dataplane;
  auto old_stopped = std::chrono::steady_clock::now();
  auto stop_old = [&] {
    if (!stop_predecessor(predecessor)) return false;
    old_stopped = std::chrono::steady_clock::now();
    return true;
  };
  if (!args.interfaces.empty()) {
    dataplane = start_data_plane(args, control, std::move(taken), std::move(handover_links),
                                 args.takeover ? std::function<bool()>(stop_old) : nullptr);
    if (!dataplane) {
      end_signal_thread();
      return 1;
    }
    if (args.takeover)
      uvs::log::notice("took over {} connections; forwarding {} ms after the old uvsd stopped",
                 dataplane->adopted(),
                 std::chrono::duration_cast<std::chrono::milliseconds>(
                     std::chrono::steady_clock::now() - old_stopped).count());
    running_dataplane = dataplane.get();
  } else if (args.takeover && !stop_old()) {
    end_signal_thread();
    return 1;
  }
  if (args.takeover && !server.listen(error)) {
    uvs::log::error("{}", error);
    end_signal_thread();
    return 1;
  }
  control.start_estimator();
  control.set_log_changes(true);
  uvs::log::notice("listening on {}", path);
  // Type=notify: systemd starts what comes after uvsd.service (keepalived) only now.
  sd_notifyf(0, "READY=1\nSTATUS=serving on %s, %zu interface(s)", path.c_str(),
             args.interfaces.size());
  server.serve();
  sd_notify(0, "STOPPING=1");
  uvs::log::notice("stopping");
  end_signal_thread();
  http.reset();  // before the data plane it reads
  running_dataplane = nullptr;
  dataplane.reset();
  return 0;
}
