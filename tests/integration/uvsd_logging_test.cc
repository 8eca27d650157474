// uvsd's operator log and its conversation with systemd, without systemd: the notify socket
// is a datagram socket this test reads (as systemd's would be), the journal a file named by
// $JOURNAL_STREAM.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

#include "tests/integration/harness.h"

namespace uvs::testing {
namespace {

using namespace std::chrono_literals;

// $NOTIFY_SOCKET for the uvsd started while it lives: a datagram socket in a private directory.
class NotifySocket {
 public:
  NotifySocket() {
    char tmpl[] = "/tmp/uvs-notify-XXXXXX";
    dir_ = mkdtemp(tmpl);
    path_ = dir_ + "/notify";
    fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_un sa{};
    sa.sun_family = AF_UNIX;
    std::snprintf(sa.sun_path, sizeof sa.sun_path, "%s", path_.c_str());
    bound_ = fd_ >= 0 && ::bind(fd_, reinterpret_cast<sockaddr*>(&sa), sizeof sa) == 0;
    setenv("NOTIFY_SOCKET", path_.c_str(), 1);
  }
  ~NotifySocket() {
    unsetenv("NOTIFY_SOCKET");
    if (fd_ >= 0) ::close(fd_);
    std::filesystem::remove_all(dir_);
  }
  bool bound() const { return bound_; }

  // The next datagram, or "" after `timeout`.
  std::string next(std::chrono::milliseconds timeout = 10s) {
    timeval tv{static_cast<time_t>(timeout.count() / 1000),
               static_cast<suseconds_t>(timeout.count() % 1000 * 1000)};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    char buf[4096];
    const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
    return n > 0 ? std::string(buf, static_cast<size_t>(n)) : "";
  }

 private:
  std::string dir_, path_;
  int fd_ = -1;
  bool bound_ = false;
};

pid_t pid_of(const Daemon& d) {
  RunResult r = run({"/usr/bin/pgrep", "-f", "uvsd --socket " + d.socket()});
  return r.out.empty() ? -1 : static_cast<pid_t>(std::stol(r.out));
}

bool wait_for(const std::function<bool()>& done, std::chrono::milliseconds timeout = 10s) {
  for (auto end = std::chrono::steady_clock::now() + timeout; std::chrono::steady_clock::now() < end;
       std::this_thread::sleep_for(20ms))
    if (done()) return true;
  return done();
}

TEST(UvsdNotify, TellsSystemdReadyReloadingAndStopping) {
  NotifySocket notify;
  ASSERT_TRUE(notify.bound());
  char tmpl[] = "/tmp/uvs-rules-XXXXXX";
  const std::string dir = mkdtemp(tmpl);
  const std::string rules = dir + "/rules";
  std::ofstream(rules) << "-A -t 10.1.1.1:80 -s rr\n";
  Daemon uvsd({"--config", rules});
  ASSERT_TRUE(uvsd.running()) << uvsd.log();

  // READY=1 once it serves: uvsadm gets an answer from then on.
  const std::string ready = notify.next();
  EXPECT_EQ(ready.rfind("READY=1\n", 0), 0u) << ready;
  EXPECT_NE(ready.find("STATUS=serving on " + uvsd.socket()), std::string::npos) << ready;
  EXPECT_NE(uvsd.adm({"-Ln"}).out.find("TCP  10.1.1.1:80 rr"), std::string::npos);

  // systemctl reload: RELOADING=1, the file applied, READY=1.
  std::ofstream(rules) << "-A -t 10.1.1.2:80 -s wlc\n";
  const pid_t pid = pid_of(uvsd);
  ASSERT_GT(pid, 0);
  ASSERT_EQ(::kill(pid, SIGHUP), 0);
  EXPECT_EQ(notify.next(), "RELOADING=1");
  EXPECT_EQ(notify.next(), "READY=1");
  const std::string table = uvsd.adm({"-Ln"}).out;
  EXPECT_NE(table.find("TCP  10.1.1.2:80 wlc"), std::string::npos) << table;
  EXPECT_EQ(table.find("10.1.1.1"), std::string::npos) << table;

  // systemctl stop: STOPPING=1, then a clean exit.
  EXPECT_EQ(uvsd.stop(), 0) << uvsd.log();
  EXPECT_EQ(notify.next(), "STOPPING=1");
  std::filesystem::remove_all(dir);
}

TEST(UvsdLog, InfoLogsEachTableChangeAndTheStart) {
  Daemon uvsd({"--log-level", "info"});
  ASSERT_TRUE(uvsd.running()) << uvsd.log();
  ASSERT_EQ(uvsd.adm({"-A", "-t", "10.1.1.1:80", "-s", "rr"}).status, 0);
  ASSERT_EQ(uvsd.adm({"-a", "-t", "10.1.1.1:80", "-r", "10.2.2.2:8080", "-m", "-w", "3"}).status, 0);
  ASSERT_EQ(uvsd.adm({"-e", "-t", "10.1.1.1:80", "-r", "10.2.2.2:8080", "-m", "-w", "0"}).status, 0);
  ASSERT_EQ(uvsd.adm({"-d", "-t", "10.1.1.1:80", "-r", "10.2.2.2:8080"}).status, 0);
  // A refused change is uvsadm's to report, not a change: no line.
  ASSERT_NE(uvsd.adm({"-d", "-t", "10.1.1.1:80", "-r", "10.2.2.9:8080"}).status, 0);
  ASSERT_EQ(uvsd.adm({"-D", "-t", "10.1.1.1:80"}).status, 0);
  EXPECT_EQ(uvsd.stop(), 0);
  const std::string log = uvsd.log();
  for (const std::string& line :
       {"uvsd: listening on " + uvsd.socket() + "\n",
        std::string("uvsd: service added: TCP 10.1.1.1:80 scheduler rr\n"),
        std::string("uvsd: real server added: TCP 10.1.1.1:80 -> 10.2.2.2:8080 Masq weight 3\n"),
        std::string("uvsd: real server edited: TCP 10.1.1.1:80 -> 10.2.2.2:8080 Masq weight 0\n"),
        std::string("uvsd: real server deleted: TCP 10.1.1.1:80 -> 10.2.2.2:8080\n"),
        std::string("uvsd: service deleted: TCP 10.1.1.1:80\n"), std::string("uvsd: stopping\n")})
    EXPECT_NE(log.find(line), std::string::npos) << "no line: " << line << "in:\n" << log;
  EXPECT_EQ(log.find("10.2.2.9"), std::string::npos) << log;
}

TEST(UvsdLog, WarningLevelKeepsOnlyWarningsAndErrors) {
  char tmpl[] = "/tmp/uvs-rules-XXXXXX";
  const std::string dir = mkdtemp(tmpl);
  const std::string rules = dir + "/rules";
  std::ofstream(rules) << "-A -t 10.1.1.1:80 -s rr\n";
  Daemon uvsd({"--log-level", "warning", "--config", rules});
  ASSERT_TRUE(uvsd.running()) << uvsd.log();
  ASSERT_EQ(uvsd.adm({"-A", "-t", "10.1.1.3:80"}).status, 0);
  // A reload that cannot be applied is a warning: it stays visible.
  std::ofstream(rules) << "-A -t 10.1.1.1:80 -s nosuchsched\n";
  ASSERT_EQ(::kill(pid_of(uvsd), SIGHUP), 0);
  EXPECT_TRUE(wait_for([&] { return uvsd.log().find("refused") != std::string::npos; }))
      << uvsd.log();
  EXPECT_EQ(uvsd.stop(), 0);
  const std::string log = uvsd.log();
  EXPECT_NE(log.find("uvsd: warning: SIGHUP: " + rules + " refused; table unchanged\n"),
            std::string::npos)
      << log;
  EXPECT_NE(log.find("uvsd: error: " + rules + ":1: "), std::string::npos) << log;
  for (const char* absent : {"listening on", "service added", "stopping"})
    EXPECT_EQ(log.find(absent), std::string::npos) << absent << " at --log-level warning:\n"
                                                   << log;
  std::filesystem::remove_all(dir);
}

TEST(UvsdLog, UnknownLevelIsAUsageError) {
  RunResult r = run({build_path("uvsd"), "--log-level", "loud"});
  EXPECT_EQ(r.status, 2);
  EXPECT_EQ(r.err, "uvsd: --log-level wants error, warning, notice, info or debug\n");
}

// Under systemd, stderr is the journal's stream ($JOURNAL_STREAM names its device and inode):
// each line then carries its syslog priority, as sd-daemon(3)'s SD_ERR..SD_DEBUG prefixes, and
// no "uvsd: " (the journal adds the program's name itself).
TEST(UvsdLog, JournalLinesCarryTheirPriority) {
  char tmpl[] = "/tmp/uvs-journal-XXXXXX";
  const std::string dir = mkdtemp(tmpl);
  const std::string journal = dir + "/stream";
  std::ofstream(journal).flush();
  struct stat st;
  ASSERT_EQ(::stat(journal.c_str(), &st), 0);
  const std::string stream = std::to_string(st.st_dev) + ":" + std::to_string(st.st_ino);
  // uvsd with stderr on that file: a config it cannot read (an error), then exit 1.
  RunResult r = run({"/usr/bin/env", "JOURNAL_STREAM=" + stream, "/bin/sh", "-c",
                     "exec \"$0\" --socket \"$1\"/s.sock --config \"$1\"/missing 2>>\"$1\"/stream",
                     build_path("uvsd"), dir});
  EXPECT_EQ(r.status, 1);
  std::ifstream in(journal);
  std::string line;
  std::getline(in, line);
  EXPECT_EQ(line, "<3>cannot read config " + dir + "/missing: No such file or directory");
  // The same on a stream that is not the journal: the program's name and the level in words.
  r = run({"/usr/bin/env", "JOURNAL_STREAM=" + stream, build_path("uvsd"), "--socket",
           dir + "/s.sock", "--config", dir + "/missing"});
  EXPECT_EQ(r.err, "uvsd: error: cannot read config " + dir + "/missing: No such file or directory\n");
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace uvs::testing
