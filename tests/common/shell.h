// Shell commands for tests that build their own network namespaces with `ip`.
#pragma once

#include <sys/wait.h>

#include <cstdio>
#include <cstdlib>
#include <string>

namespace uvs::testing {

// Runs COMMAND through /bin/sh with its output discarded; its exit status, -1 if it died.
inline int shell(const std::string& command) {
  std::string quiet = command + " >/dev/null 2>&1";
  int status = std::system(quiet.c_str());
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

// Runs COMMAND through /bin/sh; what it printed on stdout and stderr.
inline std::string shell_output(const std::string& command) {
  std::string out;
  FILE* pipe = popen((command + " 2>&1").c_str(), "r");
  if (!pipe) return out;
  char buffer[512];
  while (size_t n = std::fread(buffer, 1, sizeof(buffer), pipe)) out.append(buffer, n);
  pclose(pipe);
  return out;
}

}  // namespace uvs::testing
