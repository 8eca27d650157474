// util/log.h: the levels, the filter, and what a line looks like on a terminal and in the
// journal.
#include "util/log.h"

#include <gtest/gtest.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <string>

namespace uvs::log {
namespace {

// Lines written while it lives, read back from a pipe.
class Capture {
 public:
  Capture() {
    EXPECT_EQ(::pipe(fds_), 0);
    set_fd(fds_[1]);
  }
  ~Capture() {
    set_fd(2);
    set_level(Level::kInfo);
    ::close(fds_[0]);
    ::close(fds_[1]);
  }
  std::string text() {
    ::close(fds_[1]);
    fds_[1] = ::open("/dev/null", O_WRONLY);
    std::string out;
    char buf[4096];
    for (ssize_t n; (n = ::read(fds_[0], buf, sizeof buf)) > 0;) out.append(buf, static_cast<size_t>(n));
    return out;
  }
  int write_end() const { return fds_[1]; }

 private:
  int fds_[2];
};

TEST(Log, LevelNamesRoundTrip) {
  for (Level l : {Level::kError, Level::kWarning, Level::kNotice, Level::kInfo, Level::kDebug})
    EXPECT_EQ(parse_level(level_name(l)), l);
  EXPECT_EQ(parse_level("INFO"), std::nullopt);
  EXPECT_EQ(parse_level("warn"), std::nullopt);
  EXPECT_EQ(parse_level(""), std::nullopt);
}

TEST(Log, LinesBelowTheLevelAreNotWritten) {
  Capture c;
  set_level(Level::kNotice);
  error("e {}", 1);
  warning("w {}", 2);
  notice("n {}", 3);
  info("i {}", 4);
  debug("d {}", 5);
  EXPECT_EQ(c.text(), "uvsd: error: e 1\nuvsd: warning: w 2\nuvsd: n 3\n");
}

TEST(Log, OneLinePerEventWhateverTheMessageHolds) {
  Capture c;
  info("two\nlines\n");
  EXPECT_EQ(c.text(), "uvsd: two lines\n");
}

TEST(Log, TheJournalGetsPrioritiesAndNoName) {
  Capture c;
  struct stat st;
  ASSERT_EQ(::fstat(c.write_end(), &st), 0);
  const std::string stream = std::to_string(st.st_dev) + ":" + std::to_string(st.st_ino);
  ::setenv("JOURNAL_STREAM", stream.c_str(), 1);
  set_fd(c.write_end());  // looks $JOURNAL_STREAM up again
  ::unsetenv("JOURNAL_STREAM");
  EXPECT_TRUE(to_journal());
  set_level(Level::kDebug);
  error("e");
  warning("w");
  notice("n");
  info("i");
  debug("d");
  EXPECT_EQ(c.text(), "<3>e\n<4>w\n<5>n\n<6>i\n<7>d\n");
}

TEST(Log, AnotherStreamThanTheJournalIsNotTheJournal) {
  Capture c;
  ::setenv("JOURNAL_STREAM", "1:1", 1);
  set_fd(c.write_end());
  ::unsetenv("JOURNAL_STREAM");
  EXPECT_FALSE(to_journal());
  notice("n");
  EXPECT_EQ(c.text(), "uvsd: n\n");
}

}  // namespace
}  // namespace uvs::log
