// uvsd with full steering maps (issue 11, defect 1): with --interface and small
// --max-services/--max-reals, a command the maps cannot take fails as ipvsadm fails on the
// kernel's ENOMEM ("Memory allocation problem", status 255) and leaves the table unchanged;
// deleting makes room again, and deletions are applied with the maps full. uvsd runs in a
// namespace of this test's own ("uvmc<pid>d", removed on exit and by the next run if killed).
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sched.h>
#include <unistd.h>

#include <fstream>
#include <string>

#include "tests/common/netns_cleanup.h"
#include "tests/common/shell.h"
#include "tests/integration/harness.h"

namespace uvs::testing {
namespace {

class MapCapacityTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "needs root (network namespaces, XDP)";
    delete_namespaces_of_dead_runs("uvmc", "d");
    ns_ = "uvmc" + std::to_string(getpid()) + "d";
    ASSERT_EQ(shell("ip netns add " + ns_), 0);
    ASSERT_EQ(shell("ip -n " + ns_ + " link add mc0 type veth peer name mc1"), 0);
    ASSERT_EQ(shell("ip -n " + ns_ + " link set mc0 up && ip -n " + ns_ + " link set mc1 up"), 0);
    // uvsd inherits the namespace it is started from.
    home_ = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
    int fd = open(("/var/run/netns/" + ns_).c_str(), O_RDONLY | O_CLOEXEC);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(setns(fd, CLONE_NEWNET), 0);
    close(fd);
  }
  void TearDown() override {
    daemon_.reset();
    if (home_ >= 0) {
      setns(home_, CLONE_NEWNET);
      close(home_);
    }
    if (!ns_.empty()) delete_netns(ns_);
  }
  void start(std::vector<std::string> args) {
    daemon_ = std::make_unique<Daemon>(std::move(args));
    ASSERT_TRUE(daemon_->running()) << daemon_->log();
  }
  int services() const {
    RunResult r = daemon_->adm({"-Ln"});
    int n = 0;
    for (size_t at = 0; (at = r.out.find("\nTCP  ", at)) != std::string::npos; ++at) ++n;
    return n;
  }

  std::string ns_;
  int home_ = -1;
  std::unique_ptr<Daemon> daemon_;
};

TEST_F(MapCapacityTest, ACommandTheMapsCannotTakeFailsWithENOMEMAndChangesNothing) {
  start({"--interface", "mc0", "--workers", "1", "--max-services", "3", "--max-reals", "2"});
  for (const char* vip : {"10.7.0.1:80", "10.7.0.2:80", "10.7.0.3:80"})
    ASSERT_EQ(daemon_->adm({"-A", "-t", vip, "-s", "rr"}).status, 0);
  RunResult full = daemon_->adm({"-A", "-t", "10.7.0.4:80", "-s", "rr"});
  EXPECT_EQ(full.status, 255);
  EXPECT_NE(full.err.find("Memory allocation problem"), std::string::npos) << full.err;
  EXPECT_EQ(services(), 3);
  // NAT real servers take a key each; DR ones take none.
  ASSERT_EQ(daemon_->adm({"-a", "-t", "10.7.0.1:80", "-r", "172.16.0.1:80", "-m"}).status, 0);
  ASSERT_EQ(daemon_->adm({"-a", "-t", "10.7.0.1:80", "-r", "172.16.0.2:80", "-m"}).status, 0);
  const std::string before = daemon_->adm({"-Ln"}).out;
  EXPECT_EQ(daemon_->adm({"-a", "-t", "10.7.0.2:80", "-r", "172.16.0.3:80", "-m"}).status, 255);
  EXPECT_EQ(daemon_->adm({"-e", "-t", "10.7.0.1:80", "-r", "172.16.0.1:80", "-m", "-w", "3"}).status, 0);
  EXPECT_EQ(daemon_->adm({"-a", "-t", "10.7.0.2:80", "-r", "172.16.0.3:80", "-g"}).status, 0);
  // -R goes on past the refused line, as ipvsadm -R does, and says so.
  RunResult restore = daemon_->adm({"-R"}, "-A -t 10.7.0.5:80\n-A -t 10.7.0.6:80\n");
  EXPECT_EQ(restore.status, 255);
  EXPECT_EQ(services(), 3);
  // The table shrinks: deletions go through with every map full, and make room.
  ASSERT_EQ(daemon_->adm({"-D", "-t", "10.7.0.3:80"}).status, 0);
  EXPECT_EQ(services(), 2);
  ASSERT_EQ(daemon_->adm({"-A", "-t", "10.7.0.4:80", "-s", "rr"}).status, 0);
  EXPECT_EQ(services(), 3);
  EXPECT_EQ(daemon_->adm({"-A", "-t", "10.7.0.3:80", "-s", "rr"}).status, 255);
  // A NAT real server deleted is kept steered while in the trash (its connections may still
  // reply), so its key stays taken until it leaves the trash; putting it back costs nothing.
  ASSERT_EQ(daemon_->adm({"-d", "-t", "10.7.0.1:80", "-r", "172.16.0.2:80"}).status, 0);
  EXPECT_EQ(daemon_->adm({"-a", "-t", "10.7.0.2:80", "-r", "172.16.0.4:80", "-m"}).status, 255);
  EXPECT_EQ(daemon_->adm({"-a", "-t", "10.7.0.1:80", "-r", "172.16.0.2:80", "-m"}).status, 0);
  // Flushing empties every map: the table can be rebuilt.
  ASSERT_EQ(daemon_->adm({"-C"}).status, 0);
  for (const char* vip : {"10.7.1.1:80", "10.7.1.2:80", "10.7.1.3:80"})
    EXPECT_EQ(daemon_->adm({"-A", "-t", vip}).status, 0);
  EXPECT_TRUE(daemon_->running());
  EXPECT_NE(before, "");
}

TEST_F(MapCapacityTest, AConfigThatDoesNotFitStopsUvsdBeforeItServes) {
  const std::string config = "/tmp/uvs-mc-" + std::to_string(getpid()) + ".rules";
  std::ofstream(config) << "-A -t 10.7.0.1:80\n-A -t 10.7.0.2:80\n";
  daemon_ = std::make_unique<Daemon>(std::vector<std::string>{
      "--interface", "mc0", "--workers", "1", "--max-services", "1", "--config", config});
  for (int i = 0; i < 500 && daemon_->log().find("does not fit") == std::string::npos; ++i)
    usleep(10000);
  EXPECT_NE(daemon_->log().find("does not fit"), std::string::npos) << daemon_->log();
  EXPECT_EQ(daemon_->stop(), 1);
  unlink(config.c_str());
}

}  // namespace
}  // namespace uvs::testing
