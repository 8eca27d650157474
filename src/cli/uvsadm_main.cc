// uvsadm: ipvsadm's commands and output, against uvsd's control socket.
#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <fmt/core.h>

#include "api/client.h"
#include "cli/format.h"
#include "cli/help.h"
#include "cli/parse.h"
#include "model/errors.h"
#include "model/pick.h"

namespace {

using uvs::Command;
using uvs::CommandKind;

// Exit statuses as ipvsadm's: 0 ok, 1 listing error, 2 usage/unreachable, 255 table error.
// --pick is a listing: 1 when uvsd refuses it, 2 for bad input.
constexpr int kExitListError = 1;
constexpr int kExitUsage = 2;
constexpr int kExitTableError = 255;

void write_out(const std::string& s) { std::fwrite(s.data(), 1, s.size(), stdout); }
void write_err(const std::string& s) { std::fwrite(s.data(), 1, s.size(), stderr); }

// Removes --socket PATH / --socket=PATH, which is ours, not ipvsadm's.
std::string take_socket_flag(std::vector<std::string>& args) {
  std::string path;
  for (size_t i = 1; i < args.size();) {
    if (args[i] == "--socket" && i + 1 < args.size()) {
      path = args[i + 1];
      args.erase(args.begin() + i, args.begin() + i + 2);
    } else if (args[i].rfind("--socket=", 0) == 0) {
      path = args[i].substr(9);
      args.erase(args.begin() + i);
    } else {
      ++i;
    }
  }
  return path;
}

class Session {
 public:
  explicit Session(std::string path) : client_(std::move(path)) {}

  // Runs one parsed command; returns the exit status.
  int run(const Command& cmd) {
    auto reply = client_.call(cmd);
    if (!reply) {
      write_err(fmt::format("uvsadm: cannot reach uvsd on {}: {}\n", client_.path(),
                            std::strerror(client_.error())));
      return kExitUsage;
    }
    if (reply->err) {
      write_err(uvs::ipvs_strerror(cmd.kind, reply->err) + "\n");
      return cmd.kind == CommandKind::kList || cmd.kind == CommandKind::kGetLaddr
                 ? kExitListError
                 : kExitTableError;
    }
    const auto& names = uvs::cli::system_resolver();
    switch (cmd.kind) {
      case CommandKind::kList: {
        const auto& f = cmd.list;
        if (f.connections)
          write_out(uvs::cli::format_connections(reply->conns, f, names));
        else if (f.timeout)
          write_out(uvs::cli::format_timeout(reply->table->timeouts));
        else if (f.daemon)
          write_out(uvs::cli::format_daemons(reply->table->daemons));
        else if (cmd.has(uvs::kOptService))
          write_out(uvs::cli::format_list_service(reply->table->services.at(0), f, names));
        else
          write_out(uvs::cli::format_list(*reply->table, f, names));
        break;
      }
      case CommandKind::kSave:
        write_out(uvs::cli::format_save(*reply->table, cmd.list.numeric, names));
        break;
      case CommandKind::kGetLaddr:
        write_out(uvs::cli::format_laddrs(reply->table->services, cmd.list, names));
        break;
      default:
        break;
    }
    return 0;
  }

  // --pick: every line of `in` is a client "ADDR:PORT" ([ADDR]:PORT for IPv6); each gets a line
  // "ADDR:PORT -> RSADDR:RSPORT" (the client as read), or "ADDR:PORT -> -" when the scheduler
  // gives none, in input order. The whole input is read and checked first, so bad input prints
  // nothing but the error; then it goes to uvsd in batches of kPickBatch clients (one round
  // trip each, on one connection), each answered from the table as it is when it arrives.
  int pick(const Command& cmd, std::FILE* in) {
    std::string text;
    std::vector<std::string_view> clients;  // lines of `text`
    if (int status = read_clients(cmd, in, text, clients)) return status;
    const std::span<const std::string_view> all(clients);
    size_t done = 0;
    do {  // an empty input still asks once: the service and its scheduler are checked
      const auto batch = all.subspan(done, std::min(uvs::kPickBatch, all.size() - done));
      auto reply = client_.pick(cmd, batch);
      if (!reply) {
        write_err(fmt::format("uvsadm: cannot reach uvsd on {}: {}\n", client_.path(),
                              std::strerror(client_.error())));
        return kExitUsage;
      }
      if (reply->err) {
        write_err(pick_error(cmd, *reply) + "\n");
        return kExitListError;
      }
      if (!reply->pick || reply->pick->picks.size() != batch.size()) {
        write_err("uvsadm: --pick: uvsd answered with the wrong number of picks\n");
        return kExitListError;
      }
      std::vector<std::string> names;
      for (const uvs::DestKey& d : reply->pick->dests)
        names.push_back(uvs::format_endpoint(d.addr, d.port));
      std::string out;
      out.reserve(batch.size() * 48);
      for (size_t i = 0; i < batch.size(); ++i) {
        const int32_t picked = reply->pick->picks[i];
        out += batch[i];
        out += " -> ";
        out += picked >= 0 && size_t(picked) < names.size() ? names[size_t(picked)] : "-";
        out += '\n';
      }
      write_out(out);
      done += batch.size();
    } while (done < all.size());
    return std::fflush(stdout) == 0 ? 0 : kExitListError;
  }

 private:
  static int read_clients(const Command& cmd, std::FILE* in, std::string& text,
                          std::vector<std::string_view>& clients) {
    char buf[1 << 16];
    size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, in)) > 0) text.append(buf, n);
    if (std::ferror(in)) {
      write_err(fmt::format("uvsadm: --pick: cannot read stdin: {}\n", std::strerror(errno)));
      return kExitUsage;
    }
    const uint16_t af = cmd.svc.key.af;
    size_t lineno = 0;
    for (size_t pos = 0; pos < text.size();) {
      size_t end = text.find('\n', pos);
      if (end == std::string::npos) end = text.size();
      std::string_view line(text.data() + pos, end - pos);
      pos = end + 1;
      ++lineno;
      if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
      auto client = uvs::parse_client_tuple(line);
      if (!client) {
        write_err(fmt::format("uvsadm: --pick: line {}: `{}' is not ADDR:PORT ([ADDR]:PORT for "
                              "IPv6)\n",
                              lineno, line));
        return kExitUsage;
      }
      if (client->addr.family != af) {
        write_err(fmt::format("uvsadm: --pick: line {}: an {} client for an {} service\n", lineno,
                              client->addr.is_v6() ? "IPv6" : "IPv4",
                              af == AF_INET6 ? "IPv6" : "IPv4"));
        return kExitUsage;
      }
      clients.push_back(line);
    }
    return 0;
  }

  static std::string pick_error(const Command& cmd, const uvs::api::Reply& reply) {
    if (reply.err != EOPNOTSUPP || !reply.pick) return uvs::ipvs_strerror(cmd.kind, reply.err);
    const std::string& sched = reply.pick->sched_name;
    if (sched == "dh")
      return "uvsadm: --pick: dh hashes the packet's destination address, which a fwmark service "
             "does not name";
    return fmt::format("uvsadm: --pick: the {} scheduler picks by more than the client tuple; "
                       "only mh, sh and dh can be asked",
                       sched);
  }

  uvs::api::Client client_;
};

// -R: every line is a command line (blank and '#' lines skipped, as ipvsadm-restore does).
// Parse errors end the restore; table errors are reported and the restore goes on; the status
// is the last line's.
int restore(Session& session, const std::string& progname) {
  uvs::cli::RestoreReader reader(std::cin, progname);
  uvs::cli::RestoreLine line;
  int status = 0;
  while (reader.next(line)) {
    const auto& parsed = line.parsed;
    if (!parsed.command) {
      write_err(parsed.error);
      return parsed.exit_code;
    }
    if (parsed.command->kind == CommandKind::kRestore) {
      write_err(fmt::format("Try `{0} -h' or '{0} --help' for more information.\n", progname));
      return kExitTableError;
    }
    status = session.run(*parsed.command);
    if (status == kExitUsage) return status;  // daemon gone
  }
  return status;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv, argv + argc);
  std::string socket_path = uvs::api::resolve_socket_path(take_socket_flag(args));

  auto parsed = uvs::cli::parse_command_line(args);
  if (!parsed.command) {
    write_err(parsed.error);
    return parsed.exit_code;
  }
  const Command& cmd = *parsed.command;
  if (cmd.kind == CommandKind::kHelp) {
    write_out(uvs::cli::help_text(args[0]));
    return 0;
  }
  if (cmd.kind == CommandKind::kVersion) {
    write_out(uvs::cli::version_line(args[0]));
    return 0;
  }
  Session session(socket_path);
  if (cmd.kind == CommandKind::kRestore) return restore(session, args[0]);
  if (cmd.kind == CommandKind::kPick) return session.pick(cmd, stdin);
  return session.run(cmd);
}
