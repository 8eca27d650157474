// uvsd: the director daemon. Holds the IPVS model and answers uvsadm on a UNIX socket.
#include <getopt.h>
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
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
             "            [--interface IF]... [--workers N] [--xdp-generic]\n"
             "  --socket PATH   control socket (default {}, or $UVS_SOCKET)\n"
             "  --config FILE   apply FILE (uvsadm -S format) at start; refuse to start if bad\n"
             "  --conn-max N    connection table size (default 1048576)\n"
             "  --interface IF  load balance traffic arriving on IF (repeat for each interface)\n"
             "  --workers N     data-plane workers (default: one per queue, up to the cores)\n"
             "  --xdp-generic   attach XDP in generic (skb) mode even where native works\n"
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

}  // namespace

int main(int argc, char** argv) {
  std::string socket_flag, config;
  uint32_t conn_max = 1u << 20;
  std::vector<std::string> interfaces;
  unsigned workers = 0;
  bool xdp_generic = false;
  std::vector<uvs::FwmarkRule> fwmark_rules;
  static const option kLong[] = {{"socket", required_argument, nullptr, 's'},
                                 {"config", required_argument, nullptr, 'c'},
                                 {"conn-max", required_argument, nullptr, 'm'},
                                 {"interface", required_argument, nullptr, 'i'},
                                 {"workers", required_argument, nullptr, 'w'},
                                 {"xdp-generic", no_argument, nullptr, 'g'},
                                 {"fwmark-rule", required_argument, nullptr, 'f'},
                                 {"help", no_argument, nullptr, 'h'},
                                 {nullptr, 0, nullptr, 0}};
  int c;
  while ((c = getopt_long(argc, argv, "h", kLong, nullptr)) != -1) {
    switch (c) {
      case 's':
        socket_flag = optarg;
        break;
      case 'c':
        config = optarg;
        break;
      case 'm': {
        char* end;
        unsigned long v = std::strtoul(optarg, &end, 10);
        if (*end || v < 1 || v > (1u << 30)) {
          fmt::print(stderr, "uvsd: --conn-max wants 1..{}\n", 1u << 30);
          return 2;
        }
        conn_max = static_cast<uint32_t>(v);
        break;
      }
      case 'i':
        interfaces.push_back(optarg);
        break;
      case 'w': {
        char* end;
        unsigned long v = std::strtoul(optarg, &end, 10);
        if (*end || v < 1 || v > 64) {
          fmt::print(stderr, "uvsd: --workers wants 1..64\n");
          return 2;
        }
        workers = static_cast<unsigned>(v);
        break;
      }
      case 'g':
        xdp_generic = true;
        break;
      case 'f': {
        uvs::FwmarkRule rule;
        if (!uvs::parse_fwmark_rule(optarg, &rule)) {
          fmt::print(stderr, "uvsd: --fwmark-rule wants MARK:tcp|udp|sctp|any:ADDR/LEN[:PORT[-PORT]]\n");
          return 2;
        }
        fwmark_rules.push_back(rule);
        break;
      }
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

  // One worker per queue (every interface must offer each worker a queue), up to the cores.
  unsigned max_workers = std::max(1u, std::thread::hardware_concurrency());
  for (const auto& ifname : interfaces)
    max_workers = std::min(max_workers, uvs::daemon::interface_queues(ifname));
  if (workers == 0) workers = max_workers;
  if (!interfaces.empty() && workers > max_workers) {
    fmt::print(stderr, "uvsd: --workers {}: the interfaces have only {} queue(s) each\n", workers,
               max_workers);
    return 2;
  }
  uvs::ctl::ControlOptions copts;
  copts.conn_tab_size = conn_max;
  copts.workers = workers;
  copts.fwmark_rules = fwmark_rules;
  uvs::ctl::Control control(copts);
  if (!config.empty() && !apply_config(control, config)) return 1;

  std::string path = uvs::api::resolve_socket_path(socket_flag);
  uvs::api::Server server(path, [&control](const uvs::Command& cmd) {
    return uvs::api::handle_request(control, cmd);
  });
  std::string error;
  if (!server.listen(error)) {
    fmt::print(stderr, "uvsd: {}\n", error);
    return 1;
  }
  g_server = &server;
  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigaction(SIGTERM, &sa, nullptr);
  sigaction(SIGINT, &sa, nullptr);
  signal(SIGPIPE, SIG_IGN);

  std::unique_ptr<uvs::daemon::DataPlane> dataplane;
  if (!interfaces.empty()) {
    uvs::daemon::DataPlaneOptions dopts;
    dopts.interfaces = interfaces;
    dopts.workers = workers;
    dopts.conn_max = conn_max;
    dopts.force_generic = xdp_generic;
    dataplane = uvs::daemon::DataPlane::start(dopts, control, &error);
    if (!dataplane) {
      fmt::print(stderr, "uvsd: data plane: {}\n", error);
      return 1;
    }
    fmt::print(stderr, "uvsd: {} worker(s) on {} interface(s)\n", workers, interfaces.size());
  }
  control.start_estimator();
  fmt::print(stderr, "uvsd: listening on {}\n", path);
  server.serve();
  fmt::print(stderr, "uvsd: stopping\n");
  dataplane.reset();
  g_server = nullptr;
  return 0;
}
