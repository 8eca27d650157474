// uvsadm: ipvsadm's commands and output, against uvsd's control socket.
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <string>
#include <vector>

#include <fmt/core.h>

#include "api/client.h"
#include "cli/format.h"
#include "cli/help.h"
#include "cli/parse.h"
#include "model/errors.h"

namespace {

using uvs::Command;
using uvs::CommandKind;

// Exit statuses as ipvsadm's: 0 ok, 1 listing error, 2 usage/unreachable, 255 table error.
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

 private:
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
  return session.run(cmd);
}
