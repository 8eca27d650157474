#include "util/log.h"

#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>

namespace uvs::log {

namespace {

std::atomic<Level> g_level{Level::kInfo};
std::atomic<int> g_fd{2};
std::string g_program = "uvsd";
// -1: not looked up yet; 0: a terminal, file or pipe; 1: the journal.
std::atomic<int> g_journal{-1};

// As sd_journal_stream_fd()'s users do: $JOURNAL_STREAM is "DEVICE:INODE" of the stream
// systemd connected; the fd is the journal only while it is still that file (a redirect in a
// script run by the service is not).
bool is_journal_stream(int fd) {
  const char* env = std::getenv("JOURNAL_STREAM");
  if (!env) return false;
  unsigned long long dev = 0, ino = 0;
  if (std::sscanf(env, "%llu:%llu", &dev, &ino) != 2) return false;
  struct stat st;
  return ::fstat(fd, &st) == 0 && st.st_dev == dev && st.st_ino == ino;
}

}  // namespace

std::optional<Level> parse_level(std::string_view name) {
  for (Level l : {Level::kError, Level::kWarning, Level::kNotice, Level::kInfo, Level::kDebug})
    if (name == level_name(l)) return l;
  return std::nullopt;
}

std::string_view level_name(Level level) {
  switch (level) {
    case Level::kError:
      return "error";
    case Level::kWarning:
      return "warning";
    case Level::kNotice:
      return "notice";
    case Level::kInfo:
      return "info";
    case Level::kDebug:
      return "debug";
  }
  return "info";
}

void set_level(Level level) { g_level.store(level); }
Level level() { return g_level.load(std::memory_order_relaxed); }
void set_program(std::string_view name) { g_program = name; }

void set_fd(int fd) {
  g_fd.store(fd);
  g_journal.store(is_journal_stream(fd) ? 1 : 0);
}

bool to_journal() {
  int j = g_journal.load(std::memory_order_relaxed);
  if (j < 0) {
    j = is_journal_stream(g_fd.load()) ? 1 : 0;
    g_journal.store(j);
  }
  return j == 1;
}

void write(Level level, std::string_view message) {
  std::string line;
  line.reserve(message.size() + g_program.size() + 16);
  if (to_journal()) {
    line += '<';
    line += static_cast<char>('0' + static_cast<int>(level));
    line += '>';
  } else {
    line += g_program;
    line += ": ";
    if (level == Level::kError || level == Level::kWarning) {
      line += level_name(level);
      line += ": ";
    }
  }
  for (char c : message) line += c == '\n' ? ' ' : c;
  while (!line.empty() && line.back() == ' ') line.pop_back();
  line += '\n';
  const int fd = g_fd.load(std::memory_order_relaxed);
  for (size_t off = 0; off < line.size();) {
    const ssize_t n = ::write(fd, line.data() + off, line.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;  // nowhere to log to: the daemon goes on
    off += static_cast<size_t>(n);
  }
}

}  // namespace uvs::log
