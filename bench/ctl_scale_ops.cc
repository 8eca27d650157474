// One table change at a time through uvsd's control socket, timed from the request leaving to
// the reply arriving (the socket round trip plus uvsd's apply): what one `uvsadm -a/-e/-d` costs
// in uvsd at the table's current size, without uvsadm's process start. Used by
// bench/ctl_scale.sh; prints one line per command kind.
//
//   ctl_scale_ops SOCKET SERVICES REALS_PER_SERVICE [ROUNDS]
//   ctl_scale_ops --in-process SERVICES REALS_PER_SERVICE [ROUNDS]
//
// --in-process applies the same table to a ctl::Control in this process (no socket, no data
// plane): the control plane's own cost, restore and single changes, and table() for -Ln.
//
// The table is the one bench/ctl_scale.sh restores: TCP services 10.A.B.C:80 (i-th service)
// and NAT real servers 172.(16+j/65536).(j/256%256).(j%256):8080 (j-th real server overall).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <vector>

#include "api/client.h"
#include "api/dispatch.h"
#include "ctl/control.h"
#include "cli/parse.h"

namespace {

std::string vip(unsigned i) {
  return "10." + std::to_string(i >> 16 & 255) + "." + std::to_string(i >> 8 & 255) + "." +
         std::to_string(i & 255) + ":80";
}

std::string rip(unsigned j) {
  return "172." + std::to_string(16 + (j >> 16)) + "." + std::to_string(j >> 8 & 255) + "." +
         std::to_string(j & 255) + ":8080";
}

uvs::Command command(const std::string& line) {
  auto parsed = uvs::cli::parse_command_line(uvs::cli::split_restore_line(line, "uvsadm"));
  if (!parsed.command) {
    std::fprintf(stderr, "ctl_scale_ops: bad command %s: %s", line.c_str(), parsed.error.c_str());
    std::exit(2);
  }
  return *parsed.command;
}

struct Timing {
  std::vector<double> us;
  void report(const char* what) {
    std::sort(us.begin(), us.end());
    auto at = [&](double q) { return us[static_cast<size_t>(q * static_cast<double>(us.size() - 1))]; };
    std::printf("%-28s n=%zu median=%.1f us p99=%.1f us max=%.1f us\n", what, us.size(), at(0.5),
                at(0.99), us.back());
  }
};

}  // namespace

int main(int argc, char** argv) {
  if (argc < 4) {
    std::fprintf(stderr, "usage: %s SOCKET SERVICES REALS_PER_SERVICE [ROUNDS]\n", argv[0]);
    return 2;
  }
  const unsigned services = static_cast<unsigned>(std::atoi(argv[2]));
  const unsigned reals = static_cast<unsigned>(std::atoi(argv[3]));
  const unsigned rounds = argc > 4 ? static_cast<unsigned>(std::atoi(argv[4])) : 200;
  const bool in_process = std::string(argv[1]) == "--in-process";
  uvs::ctl::Control control(uvs::ctl::ControlOptions{});
  if (in_process) {
    auto start = std::chrono::steady_clock::now();
    size_t lines = 0;
    for (unsigned i = 0; i < services; ++i) {
      const std::string svc = vip(i);
      if (control.apply(command("-A -t " + svc + " -s wlc"))) return 1;
      for (unsigned k = 0; k < reals; ++k)
        if (control.apply(command("-a -t " + svc + " -r " + rip(i * reals + k) + " -m -w 1"))) return 1;
      lines += 1 + reals;
    }
    auto end = std::chrono::steady_clock::now();
    std::printf("in-process restore of %zu commands (parsing included): %.1f ms\n", lines,
                std::chrono::duration<double, std::milli>(end - start).count());
    start = std::chrono::steady_clock::now();
    uvs::TableView table = control.table();
    end = std::chrono::steady_clock::now();
    std::printf("in-process table() for -Ln: %.1f ms (%zu services)\n",
                std::chrono::duration<double, std::milli>(end - start).count(), table.services.size());
  }
  uvs::api::Client client(in_process ? "" : argv[1]);
  if (!in_process && !client.connect()) {
    std::fprintf(stderr, "ctl_scale_ops: cannot reach %s\n", argv[1]);
    return 2;
  }
  auto timed = [&](const uvs::Command& cmd, Timing& t) {
    auto start = std::chrono::steady_clock::now();
    auto reply = in_process ? std::optional(uvs::api::handle_request(control, cmd)) : client.call(cmd);
    auto end = std::chrono::steady_clock::now();
    if (!reply) {
      std::fprintf(stderr, "ctl_scale_ops: uvsd hung up\n");
      std::exit(2);
    }
    if (reply->err) {
      std::fprintf(stderr, "ctl_scale_ops: a command failed with errno %d\n", reply->err);
      std::exit(1);
    }
    t.us.push_back(std::chrono::duration<double, std::micro>(end - start).count());
  };
  Timing add, edit, del, add_svc, del_svc;
  // Spread over the table: service k * stride, a real server that is not in the table yet.
  const unsigned stride = std::max(1u, services / rounds);
  const unsigned spare = services * reals;  // first unused real-server index
  for (unsigned k = 0; k < rounds; ++k) {
    const unsigned s = (k * stride) % services;
    const std::string svc = vip(s), rs = rip(spare + k);
    timed(command("-a -t " + svc + " -r " + rs + " -m -w 1"), add);
    timed(command("-e -t " + svc + " -r " + rs + " -m -w 2"), edit);
    timed(command("-d -t " + svc + " -r " + rs), del);
    const std::string extra = vip(services + k);
    timed(command("-A -t " + extra + " -s rr"), add_svc);
    timed(command("-D -t " + extra), del_svc);
  }
  add.report("-a (add a real server)");
  edit.report("-e (edit a real server)");
  del.report("-d (delete a real server)");
  add_svc.report("-A (add a service)");
  del_svc.report("-D (delete a service)");
  return 0;
}
