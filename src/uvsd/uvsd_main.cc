// uvsd: the director daemon. Holds the IPVS model and answers uvsadm on a UNIX socket.
#include <getopt.h>
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <fmt/core.h>

#include "api/client.h"
#include "api/dispatch.h"
#include "api/server.h"
#include "cli/parse.h"
#include "ctl/control.h"
#include "model/errors.h"
#include "uvsd/dataplane.h"

namespace {

uvs::api::Server* g_server = nullptr;

void on_signal(int) {
  if (g_server) g_server->stop();
}

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
             "                  mark matching packets for fwmark services (iptables MARK's job)\n",
             uvs::api::kDefaultSocket);
}

// Applies a file of uvsadm -S lines. Blank lines and lines starting with '#' are skipped.
bool apply_config(uvs::ctl::Control& control, const std::string& path) {
  std::ifstream in(path);
  if (!in) {
    fmt::print(stderr, "uvsd: cannot read config {}\n", path);
    return false;
  }
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
      std::string text = parsed.error;
      while (!text.empty() && text.back() == '\n') text.pop_back();
      fmt::print(stderr, "uvsd: {}:{}: {}\n", path, lineno, text);
      return false;
    }
    if (!uvs::api::is_table_change(parsed.command->kind)) {
      fmt::print(stderr, "uvsd: {}:{}: not a table command: {}\n", path, lineno, line);
      return false;
    }
    if (int err = control.apply(*parsed.command)) {
      fmt::print(stderr, "uvsd: {}:{}: {}\n", path, lineno,
                 uvs::ipvs_strerror(parsed.command->kind, err));
      return false;
    }
  }
  return true;
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
  uint32_t max_services = 0;  // 0: the steering's defaults
  uint32_t max_reals = 0;
};

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
                                 {"max-services", required_argument, nullptr, 'S'},
                                 {"max-reals", required_argument, nullptr, 'R'},
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
    fmt::print(stderr, "uvsd: --workers {}: the interfaces have only {} queue(s) each\n",
               args->workers, max_workers);
    return false;
  }
  return true;
}

uvs::ctl::ControlOptions control_options(const DaemonArgs& args) {
  uvs::ctl::ControlOptions copts;
  copts.conn_tab_size = args.conn_max;
  copts.workers = args.workers;
  copts.fwmark_rules = args.fwmark_rules;
  return copts;
}

// SIGTERM and SIGINT end server.serve(); a client that hangs up must not kill uvsd.
void stop_on_signals(uvs::api::Server* server) {
  g_server = server;
  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigaction(SIGTERM, &sa, nullptr);
  sigaction(SIGINT, &sa, nullptr);
  signal(SIGPIPE, SIG_IGN);
}

// The XDP steering and the workers on args.interfaces. Null, with a message, on failure.
std::unique_ptr<uvs::daemon::DataPlane> start_data_plane(const DaemonArgs& args,
                                                         uvs::ctl::Control& control) {
  uvs::daemon::DataPlaneOptions dopts;
  dopts.interfaces = args.interfaces;
  dopts.workers = args.workers;
  dopts.conn_max = args.conn_max;
  dopts.force_generic = args.xdp_generic;
  dopts.offload = args.offload;
  dopts.max_services = args.max_services;
  dopts.max_reals = args.max_reals;
  std::string error;
  auto dataplane = uvs::daemon::DataPlane::start(dopts, control, &error);
  if (!dataplane) {
    fmt::print(stderr, "uvsd: data plane: {}\n", error);
    return nullptr;
  }
  fmt::print(stderr, "uvsd: {} worker(s) on {} interface(s)\n", args.workers,
             args.interfaces.size());
  return dataplane;
}

}  // namespace

int main(int argc, char** argv) {
  DaemonArgs args;
  if (std::optional<int> exit_status = parse_args(argc, argv, &args)) return *exit_status;
  if (!settle_workers(&args)) return 2;

  uvs::ctl::Control control(control_options(args));
  if (!args.config.empty() && !apply_config(control, args.config)) return 1;
  const std::string path = uvs::api::resolve_socket_path(args.socket_flag);
  uvs::api::Server server(path, [&control](const uvs::Command& cmd) {
    return uvs::api::handle_request(control, cmd);
  });
  std::string error;
  if (!server.listen(error)) {
    fmt::print(stderr, "uvsd: {}\n", error);
    return 1;
  }
  stop_on_signals(&server);

  std::unique_ptr<uvs::daemon::DataPlane> dataplane;
  if (!args.interfaces.empty()) {
    dataplane = start_data_plane(args, control);
    if (!dataplane) return 1;
  }
  control.start_estimator();
  fmt::print(stderr, "uvsd: listening on {}\n", path);
  server.serve();
  fmt::print(stderr, "uvsd: stopping\n");
  dataplane.reset();
  g_server = nullptr;
  return 0;
}
