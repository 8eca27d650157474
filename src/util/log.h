// The daemons' operator log: one line per event (never per packet), with a level, to stderr.
//
// On a terminal or a file a line reads "uvsd: message" ("uvsd: warning: message" and
// "uvsd: error: message" above notice). When stderr is the journal (systemd sets
// $JOURNAL_STREAM to its device:inode, see systemd.exec(5)), a line starts instead with its
// syslog priority, "<4>message" as sd-daemon(3)'s SD_WARNING, and without the program name,
// which journald adds itself; `journalctl -p warning` then filters on it.
//
// Thread-safe: each line is one write(2). Control plane only: formatting allocates.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include <fmt/core.h>

namespace uvs::log {

// syslog(3)'s priorities, so that the journal's prefix is the value itself.
enum class Level { kError = 3, kWarning = 4, kNotice = 5, kInfo = 6, kDebug = 7 };

// "error", "warning", "notice", "info" or "debug"; nullopt for anything else.
std::optional<Level> parse_level(std::string_view name);
std::string_view level_name(Level level);

// The least important level written (default kInfo), the program's name ("uvsd"), and the fd
// lines go to (default 2). Set before threads start.
void set_level(Level level);
Level level();
void set_program(std::string_view name);
void set_fd(int fd);
// Whether the fd is the journal's stream ($JOURNAL_STREAM names it); looked up at set_fd()
// and at the first line.
bool to_journal();

inline bool enabled(Level l) { return static_cast<int>(l) <= static_cast<int>(level()); }

// One line (a trailing newline is added; embedded ones are replaced by spaces).
void write(Level level, std::string_view message);

template <typename... Args>
void error(fmt::format_string<Args...> f, Args&&... args) {
  if (enabled(Level::kError)) write(Level::kError, fmt::format(f, std::forward<Args>(args)...));
}
template <typename... Args>
void warning(fmt::format_string<Args...> f, Args&&... args) {
  if (enabled(Level::kWarning)) write(Level::kWarning, fmt::format(f, std::forward<Args>(args)...));
}
template <typename... Args>
void notice(fmt::format_string<Args...> f, Args&&... args) {
  if (enabled(Level::kNotice)) write(Level::kNotice, fmt::format(f, std::forward<Args>(args)...));
}
template <typename... Args>
void info(fmt::format_string<Args...> f, Args&&... args) {
  if (enabled(Level::kInfo)) write(Level::kInfo, fmt::format(f, std::forward<Args>(args)...));
}
template <typename... Args>
void debug(fmt::format_string<Args...> f, Args&&... args) {
  if (enabled(Level::kDebug)) write(Level::kDebug, fmt::format(f, std::forward<Args>(args)...));
}

}  // namespace uvs::log
