// ipvsadm's command line, parsed the way ipvsadm 1.31 parses it (popt; its parse_options(),
// process_options() and parse_service(), and config_stream.c's line splitting for -R), plus the
// Alibaba FULLNAT/SYNPROXY extensions (-b on -a/-e, -P/-Q/-G, -z, -j) and uvs's --pick.
#pragma once

#include <istream>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "model/command.h"

namespace uvs::cli {

struct ParseResult {
  std::optional<Command> command;  // set on success
  std::string error;               // exact bytes for stderr on failure (newlines included)
  int exit_code = 0;               // ipvsadm's exit status on failure (2 or 255)
};

// argv[0] is the program name as invoked; it appears in the "Try `%s -h'" message.
ParseResult parse_command_line(const std::vector<std::string>& argv);

// Splits one `-R` input line into words as ipvsadm's config_stream does: spaces, tabs and CR
// separate words, every word equal to "ipvsadm" is dropped, `progname` is prepended as argv[0].
// An empty result (no words left) means "skip this line".
std::vector<std::string> split_restore_line(std::string_view line, std::string_view progname);

// One line of `-R` input or of `uvsd --config`, read as ipvsadm-restore feeds ipvsadm -R (it
// drops comment lines with `grep -v '^#'`): a blank line, or one whose first non-blank
// character is '#', is skipped (nullopt); any other line is split by split_restore_line() and
// parsed by parse_command_line().
std::optional<ParseResult> parse_restore_line(std::string_view line, std::string_view progname);

// A line of a restore stream that was not skipped.
struct RestoreLine {
  int lineno = 0;     // 1-based, counting skipped lines
  std::string text;   // as read, without its newline
  ParseResult parsed;
};

// The one reader of `-R` input and `--config` files: yields each line parse_restore_line()
// does not skip. What a parsed command may be, and what an error does, is the caller's.
class RestoreReader {
 public:
  RestoreReader(std::istream& in, std::string progname)
      : in_(in), progname_(std::move(progname)) {}
  // The next line that is not skipped; false at the end of input, or on a read error (then
  // the stream's bad() is set).
  bool next(RestoreLine& line);

 private:
  std::istream& in_;
  std::string progname_;
  int lineno_ = 0;
};

}  // namespace uvs::cli
