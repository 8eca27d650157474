// libFuzzer target over the `uvsadm -R` / `uvsd --config` line parser: arbitrary text through
// cli::RestoreReader (comment skipping, split_restore_line, the popt parse of the words) to a
// Command or an error. Nothing may crash, leak or read out of bounds, and every outcome is
// either a command or an ipvsadm error text with its exit status.
#include <netdb.h>

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <sstream>
#include <string>

#include "cli/parse.h"

// Host and service names would go to NSS (and DNS) on every input; the fuzzer replaces both
// lookups with a table of one name each, so a run is fast, hermetic and repeatable.
extern "C" int gethostbyname_r(const char* name, hostent* ret, char* buf, size_t buflen,
                               hostent** result, int* h_errnop) {
  *result = nullptr;
  if (std::strcmp(name, "localhost") != 0) {
    *h_errnop = HOST_NOT_FOUND;
    return 0;
  }
  struct Storage {
    in_addr addr;
    char* addrs[2];
    char* aliases[1];
    char name[16];
  };
  if (buflen < sizeof(Storage)) return ERANGE;
  auto* s = reinterpret_cast<Storage*>(buf);
  s->addr.s_addr = htonl(INADDR_LOOPBACK);
  s->addrs[0] = reinterpret_cast<char*>(&s->addr);
  s->addrs[1] = nullptr;
  s->aliases[0] = nullptr;
  std::strcpy(s->name, "localhost");
  ret->h_name = s->name;
  ret->h_aliases = s->aliases;
  ret->h_addrtype = AF_INET;
  ret->h_length = sizeof(in_addr);
  ret->h_addr_list = s->addrs;
  *result = ret;
  return 0;
}

extern "C" int getservbyname_r(const char* name, const char* proto, servent* ret, char* buf,
                               size_t buflen, servent** result) {
  (void)proto;
  *result = nullptr;
  if (std::strcmp(name, "http") != 0) return 0;
  struct Storage {
    char* aliases[1];
    char name[8];
    char proto[8];
  };
  if (buflen < sizeof(Storage)) return ERANGE;
  auto* s = reinterpret_cast<Storage*>(buf);
  s->aliases[0] = nullptr;
  std::strcpy(s->name, "http");
  std::strcpy(s->proto, "tcp");
  ret->s_name = s->name;
  ret->s_aliases = s->aliases;
  ret->s_port = htons(80);
  ret->s_proto = s->proto;
  *result = ret;
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::istringstream in(std::string(reinterpret_cast<const char*>(data), size));
  uvs::cli::RestoreReader reader(in, "uvsadm");
  uvs::cli::RestoreLine line;
  while (reader.next(line)) {
    const auto& parsed = line.parsed;
    if (parsed.command) {
      if (!parsed.error.empty()) std::abort();
      continue;
    }
    // An error is one or more whole lines, with ipvsadm's status 2 or 255.
    if (parsed.error.empty() || parsed.error.back() != '\n') std::abort();
    if (parsed.exit_code != 2 && parsed.exit_code != 255) std::abort();
  }
  return 0;
}
