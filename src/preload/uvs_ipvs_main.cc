// uvs-ipvs [--socket PATH] COMMAND [ARG...]: runs COMMAND with libuvs-ipvs.so preloaded, so
// that its IPVS generic-netlink requests (keepalived, ipvsadm) are answered by uvsd.
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <string>

namespace {

constexpr const char* kLibrary = "libuvs-ipvs.so";

void usage(FILE* out) {
  std::fprintf(out,
               "Usage: uvs-ipvs [--socket PATH] COMMAND [ARG...]\n"
               "Runs COMMAND with %s preloaded: its IPVS generic-netlink requests\n"
               "(ipvsadm, keepalived) go to uvsd's control socket (--socket, else $UVS_SOCKET,\n"
               "else /run/uvs/uvsd.sock).\n",
               kLibrary);
}

bool readable(const std::string& path) { return access(path.c_str(), R_OK) == 0; }

// Beside the binary in the build tree; ../lib/uvs/ beside its directory once installed (as uvsd
// finds its XDP objects); the default prefix last.
std::string library_path() {
  char exe[PATH_MAX];
  const ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
  if (n > 0) {
    exe[n] = '\0';
    std::string dir(exe);
    dir.erase(dir.rfind('/') + 1);
    for (const std::string& candidate : {dir + kLibrary, dir + "../lib/uvs/" + kLibrary})
      if (readable(candidate)) {
        char resolved[PATH_MAX];
        return realpath(candidate.c_str(), resolved) ? resolved : candidate;
      }
  }
  return std::string("/usr/local/lib/uvs/") + kLibrary;
}

// LD_PRELOAD with the library first (once), keeping what was there.
std::string preload_list(const std::string& lib) {
  const char* old = getenv("LD_PRELOAD");
  std::string out = lib;
  if (old == nullptr) return out;
  std::string rest(old);
  for (size_t pos = 0; pos <= rest.size();) {
    size_t end = rest.find_first_of(": ", pos);
    if (end == std::string::npos) end = rest.size();
    const std::string entry = rest.substr(pos, end - pos);
    if (!entry.empty() && entry != lib) out += ":" + entry;
    pos = end + 1;
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  int i = 1;
  const char* socket = nullptr;
  while (i < argc && argv[i][0] == '-') {
    const std::string a = argv[i];
    if (a == "--") {
      ++i;
      break;
    }
    if (a == "-h" || a == "--help") {
      usage(stdout);
      return 0;
    }
    if (a == "--socket" && i + 1 < argc) {
      socket = argv[i + 1];
      i += 2;
    } else if (a.rfind("--socket=", 0) == 0 && a.size() > 9) {
      socket = argv[i] + 9;
      ++i;
    } else {
      std::fprintf(stderr, "uvs-ipvs: unknown option %s\n", argv[i]);
      usage(stderr);
      return 2;
    }
  }
  if (i >= argc) {
    usage(stderr);
    return 2;
  }
  if (socket != nullptr) setenv("UVS_SOCKET", socket, 1);
  setenv("LD_PRELOAD", preload_list(library_path()).c_str(), 1);
  execvp(argv[i], argv + i);
  const int err = errno;
  std::fprintf(stderr, "uvs-ipvs: %s: %s\n", argv[i], strerror(err));
  return err == ENOENT ? 127 : 126;
}
