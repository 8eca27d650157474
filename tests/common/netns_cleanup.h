// Cleanup for tests that build their own network namespaces and name them
// "<prefix><pid><role>" after the test process: removing what an earlier run left when it was
// killed before its own cleanup ran (a ctest timeout, SIGKILL), and deleting namespaces from a
// fatal-signal handler.
#pragma once

#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "tests/common/shell.h"

namespace uvs::testing {

// Whether process `pid` is gone; a zombie counts as gone (it cannot clean up any more).
inline bool process_gone(pid_t pid) {
  FILE* stat_file = std::fopen(("/proc/" + std::to_string(pid) + "/stat").c_str(), "r");
  if (!stat_file) return true;
  char line[512] = {};
  size_t n = std::fread(line, 1, sizeof(line) - 1, stat_file);
  std::fclose(stat_file);
  const char* close_paren = std::strrchr(line, ')');
  return n == 0 || (close_paren && close_paren[1] == ' ' && close_paren[2] == 'Z');
}

// Deletes network namespace `name`, first killing whatever still runs in it: a process inside a
// namespace keeps it (and its links) alive after `ip netns del`.
inline void delete_netns(const std::string& name) {
  shell("ip netns pids " + name + " | xargs -r kill -9");
  shell("ip netns del " + name);
}

// Deletes the namespaces "<prefix><pid><role>", `role` one of the characters of `roles`, whose
// pid is gone: left by an earlier run of the test that was killed before it could clean up.
// This process's own are left alone. Returns the names deleted, for whatever the caller keeps
// beside them.
inline std::vector<std::string> delete_namespaces_of_dead_runs(std::string_view prefix,
                                                               std::string_view roles) {
  std::vector<std::string> stale;
  std::error_code ec;
  for (std::filesystem::directory_iterator it("/var/run/netns", ec), end; !ec && it != end;
       it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (name.size() < prefix.size() + 2 || name.compare(0, prefix.size(), prefix) != 0) continue;
    const std::string digits = name.substr(prefix.size(), name.size() - prefix.size() - 1);
    if (roles.find(name.back()) == std::string_view::npos || digits.size() > 9 ||
        digits.find_first_not_of("0123456789") != std::string::npos)
      continue;
    const auto pid = static_cast<pid_t>(std::stol(digits));
    if (pid != getpid() && process_gone(pid)) stale.push_back(name);
  }
  for (const std::string& name : stale) delete_netns(name);
  return stale;
}

// iproute2's ip, looked up ahead of time for delete_netns_from_signal_handler (a signal
// handler cannot search PATH); empty if there is none.
inline std::string find_ip_binary() {
  for (const char* path : {"/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip", "/bin/ip"})
    if (access(path, X_OK) == 0) return path;
  return "";
}

// `ip netns del name` with `ip` from find_ip_binary(), waited for. Async-signal-safe (fork,
// execv, waitpid) as long as both strings were built before the signal.
inline void delete_netns_from_signal_handler(const std::string& ip, const std::string& name) {
  if (ip.empty()) return;
  pid_t child = fork();
  if (child == 0) {
    const char* argv[] = {"ip", "netns", "del", name.c_str(), nullptr};
    execv(ip.c_str(), const_cast<char* const*>(argv));
    _exit(127);
  }
  if (child > 0) waitpid(child, nullptr, 0);
}

}  // namespace uvs::testing
