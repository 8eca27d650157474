// What uvsd's log tells an operator about its data plane, read as they would read it: each
// interface and the XDP and AF_XDP modes it got, the fast path on or off and why, and a kind of
// drop starting and stopping, once each, never a line per packet.
#include <gtest/gtest.h>

#include <regex>

#include "tests/netns/netns_lab.h"

namespace uvs::testing::netns {
namespace {

const std::string kVip = "192.168.56.102";

size_t count(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

class OperatorLogTest : public LabTest {};

TEST_F(OperatorLogTest, NamesTheModesAndTheFastPathAtStart) {
  ASSERT_NO_FATAL_FAILURE(start_lab(1, {"--no-offload", "--workers", "1"}));
  // The socket answers before the data plane is up; "listening on" follows it.
  ASSERT_TRUE(wait_until([&] { return count(director_->log(), "uvsd: listening on ") == 1; }, 15s))
      << director_->log();
  const std::string log = director_->log();
  // veth has native XDP (kernel >= 4.19) and copy-mode AF_XDP only.
  for (const char* line : {"uvsd: d0: XDP attached in native mode\n",
                           "uvsd: d1: XDP attached in native mode\n",
                           "uvsd: worker 0: AF_XDP copy mode on queues d0:0 d1:0\n",
                           "uvsd: fast path off (--no-offload): every packet goes through user "
                           "space\n",
                           "uvsd: 1 worker(s) on 2 interface(s)\n"})
    EXPECT_NE(log.find(line), std::string::npos) << "no line: " << line << log;
  EXPECT_EQ(log.find("fast path on"), std::string::npos) << log;
}

TEST_F(OperatorLogTest, FastPathOnAndEachEgressWhenItCanSend) {
  ASSERT_NO_FATAL_FAILURE(start_lab(1, {"--offload", "--workers", "1"}));
  // Without an XDP program on the far ends, the veths drop XDP's frames: uvsd says so.
  EXPECT_TRUE(wait_until(
      [&] { return count(director_->log(), "uvsd: fast path: d1: ") >= 1; }, 10s))
      << director_->log();
  ASSERT_NO_FATAL_FAILURE(attach_peer_xdp());
  // Checked every two seconds: the change is logged once it is seen, and only then.
  EXPECT_TRUE(wait_until(
      [&] { return count(director_->log(), "uvsd: fast path: d1: ") >= 2; }, 10s))
      << director_->log();
  const std::string log = director_->log();
  EXPECT_NE(log.find("uvsd: fast path on: "), std::string::npos) << log;
  std::this_thread::sleep_for(5s);
  EXPECT_EQ(count(director_->log(), "uvsd: fast path: d1: "), 2u) << director_->log();
}

TEST_F(OperatorLogTest, DropsAreLoggedWhenTheyStartAndStopNotPerPacket) {
  ASSERT_NO_FATAL_FAILURE(start_lab(1, {"--workers", "1"}));
  // A service without real servers: every SYN is dropped (no destination, ICMP unreachable).
  ASSERT_TRUE(adm({"-A", "-t", kVip + ":80", "-s", "rr"}));
  for (int i = 0; i < 20; ++i)
    lab_->exec(lab_->client(), {"/usr/bin/curl", "-sS", "--max-time", "1", "http://" + kVip + "/"},
               5s);
  EXPECT_TRUE(wait_until(
      [&] { return director_->log().find("drops started: no-destination") != std::string::npos; },
      5s))
      << director_->log();
  // Five quiet seconds end the episode.
  EXPECT_TRUE(wait_until(
      [&] { return director_->log().find("drops stopped: no-destination") != std::string::npos; },
      15s))
      << director_->log();
  const std::string log = director_->log();
  EXPECT_EQ(count(log, "drops started: no-destination"), 1u) << log;
  EXPECT_EQ(count(log, "drops stopped: no-destination"), 1u) << log;
  EXPECT_NE(log.find("uvsd: warning: drops started: no-destination ("), std::string::npos) << log;
  // The episode's total is what the workers counted (their exit log says the same).
  std::smatch m;
  ASSERT_TRUE(std::regex_search(log, m, std::regex(R"(drops stopped: no-destination \((\d+) in all)")))
      << log;
  EXPECT_GE(std::stoul(m[1]), 20u) << log;
  EXPECT_EQ(director_->stop(), 0);
  const std::string total = m[1];
  const std::string exit_log = director_->log();
  EXPECT_TRUE(std::regex_search(exit_log, std::regex(" no-destination=" + total + "( |\n)")))
      << exit_log;
}

}  // namespace
}  // namespace uvs::testing::netns
