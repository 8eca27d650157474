// The one line reader of `uvsadm -R` and `uvsd --config` (cli::parse_restore_line and
// cli::RestoreReader): comment and blank lines skipped as ipvsadm-restore skips them.
#include <gtest/gtest.h>

#include <sstream>

#include "cli/parse.h"

namespace uvs::cli {
namespace {

TEST(RestoreLine, CommentsAndBlankLinesAreSkipped) {
  for (const char* line : {"", "   ", "\t\r", "# saved by uvsadm -S", "  # indented", "\t#",
                           "ipvsadm", "ipvsadm ipvsadm"}) {
    SCOPED_TRACE(line);
    EXPECT_FALSE(parse_restore_line(line, "uvsadm").has_value());
  }
}

TEST(RestoreLine, CommandLinesAreParsed) {
  auto r = parse_restore_line("ipvsadm -A -t 10.0.0.1:80 -s rr -p 60\r", "uvsadm");
  ASSERT_TRUE(r.has_value());
  ASSERT_TRUE(r->command.has_value());
  EXPECT_EQ(r->command->kind, CommandKind::kAddService);
  EXPECT_EQ(r->command->svc.timeout, 60u);
  // '#' counts only at the start: elsewhere it is a word, as in ipvsadm.
  r = parse_restore_line("-A -t 10.0.0.1:80 # web", "uvsadm");
  ASSERT_TRUE(r.has_value());
  EXPECT_FALSE(r->command.has_value());
  EXPECT_EQ(r->error, "unexpected argument #\n");
}

TEST(RestoreReader, YieldsNumberedCommandLines) {
  std::istringstream in(
      "# rules\n"
      "\n"
      "-A -t 10.0.0.1:80 -s rr\n"
      "   # the servers\n"
      "-a -t 10.0.0.1:80 -r 192.168.0.1 -m\n"
      "-A -t 10.0.0.2\n");
  RestoreReader reader(in, "uvsadm");
  RestoreLine line;
  ASSERT_TRUE(reader.next(line));
  EXPECT_EQ(line.lineno, 3);
  EXPECT_EQ(line.text, "-A -t 10.0.0.1:80 -s rr");
  EXPECT_TRUE(line.parsed.command.has_value());
  ASSERT_TRUE(reader.next(line));
  EXPECT_EQ(line.lineno, 5);
  EXPECT_EQ(line.parsed.command->kind, CommandKind::kAddDest);
  ASSERT_TRUE(reader.next(line));
  EXPECT_EQ(line.lineno, 6);
  EXPECT_FALSE(line.parsed.command.has_value());
  EXPECT_EQ(line.parsed.error, "Zero port specified for non-persistent service\n");
  EXPECT_EQ(line.parsed.exit_code, 2);
  EXPECT_FALSE(reader.next(line));
  EXPECT_FALSE(in.bad());
}

}  // namespace
}  // namespace uvs::cli
