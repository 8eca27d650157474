// ipvsadm's command line, parsed the way ipvsadm 1.31 parses it (popt; its parse_options(),
// process_options() and parse_service(), and config_stream.c's line splitting for -R), plus the
// Alibaba FULLNAT/SYNPROXY extensions (-b on -a/-e, -P/-Q/-G, -z, -j).
#pragma once

#include <optional>
#include <string>
#include <string_view>
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

}  // namespace uvs::cli
