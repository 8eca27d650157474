// The sync daemon's sockets and threads on a real veth pair, in a network namespace of the
// test's own (unshared, so it vanishes with the process): a master on one end, a backup on the
// other, IPv4 and IPv6 groups, the syncid filter and the 2 s flush.
#include <gtest/gtest.h>
#include <sched.h>

#include <chrono>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include "sync/daemon.h"
#include "tests/integration/harness.h"

namespace uvs::sync {
namespace {

using namespace std::chrono_literals;
using uvs::testing::run;

class SyncTransport : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    ASSERT_EQ(::unshare(CLONE_NEWNET), 0) << "needs root";
    for (const std::vector<std::string>& cmd : std::vector<std::vector<std::string>>{
             {"ip", "link", "set", "lo", "up"},
             {"ip", "link", "add", "sa", "type", "veth", "peer", "name", "sb"},
             {"ip", "addr", "add", "10.77.0.1/24", "dev", "sa"},
             {"ip", "addr", "add", "10.77.0.2/24", "dev", "sb"},
             {"ip", "-6", "addr", "add", "fd77::1/64", "dev", "sa", "nodad"},
             {"ip", "-6", "addr", "add", "fd77::2/64", "dev", "sb", "nodad"},
             {"ip", "link", "set", "sa", "up"},
             {"ip", "link", "set", "sb", "up"}}) {
      std::vector<std::string> argv = cmd;
      argv[0] = "/usr/sbin/ip";
      ASSERT_EQ(run(argv).status, 0) << cmd[1] << " " << cmd[2];
    }
    // Both ends live in this one namespace, so the master's source address is local here too:
    // without accept_local the backup's side drops it as a martian (fib_validate_source()).
    for (const char* knob : {"net.ipv4.conf.all.accept_local=1", "net.ipv4.conf.sb.accept_local=1",
                             "net.ipv4.conf.all.rp_filter=0", "net.ipv4.conf.sb.rp_filter=0"})
      ASSERT_EQ(run({"/usr/sbin/sysctl", "-qw", knob}).status, 0) << knob;
  }

  static DaemonConfig config(const char* ifname, int state, int syncid, bool v6 = false) {
    DaemonConfig d;
    d.state = state;
    d.mcast_ifn = ifname;
    d.syncid = syncid;
    d.mcast_group = v6 ? InetAddr::parse("ff02::81").value() : InetAddr::v4(0xE0000051);
    d.has_group = true;
    d.mcast_port = 8848;
    d.mcast_ttl = 1;
    d.sync_maxlen = v6 ? 1452 : 1472;
    return d;
  }

  static SyncConn record(uint16_t cport) {
    SyncConn c;
    c.protocol = IPPROTO_TCP;
    c.state = 1;
    c.cport = cport;
    c.vport = 80;
    c.dport = 8000;
    c.timeout_s = 900;
    c.caddr = {10, 99, 1, 2};
    c.vaddr = {192, 168, 56, 102};
    c.daddr = {172, 17, 0, 2};
    return c;
  }

  // What a backup's sink saw.
  struct Seen {
    std::mutex mutex;
    std::vector<SyncConn> records;
    size_t size() {
      std::lock_guard lock(mutex);
      return records.size();
    }
  };

  static bool wait_for(const std::function<bool()>& done, std::chrono::milliseconds limit) {
    const auto end = std::chrono::steady_clock::now() + limit;
    while (!done()) {
      if (std::chrono::steady_clock::now() > end) return false;
      std::this_thread::sleep_for(10ms);
    }
    return true;
  }
};

TEST_F(SyncTransport, AMasterReachesABackupAcrossTheLinkRecordForRecord) {
  for (bool v6 : {false, true}) {
    SCOPED_TRACE(v6 ? "IPv6 group" : "IPv4 group");
    Seen seen;
    Backup backup(config("sb", kDaemonBackup, 0, v6), 0, [&seen](std::span<const SyncConn> got) {
      std::lock_guard lock(seen.mutex);
      seen.records.insert(seen.records.end(), got.begin(), got.end());
    });
    std::string error;
    ASSERT_TRUE(backup.start(error)) << error;
    const DaemonConfig mc = config("sa", kDaemonMaster, 7, v6);
    Outbox box(7, mc.sync_maxlen);
    Master master(mc, 0, {&box});
    ASSERT_TRUE(master.start(error)) << error;
    constexpr int kRecords = 1010;  // 25 full messages of 40 and a partial one
    for (int i = 0; i < kRecords; ++i) box.add(record(static_cast<uint16_t>(10000 + i)), 0);
    box.flush_if_older(1);  // younger than 2 s: stays
    std::this_thread::sleep_for(100ms);
    const size_t full = seen.size();
    EXPECT_EQ(full, size_t{kRecords / 40 * 40});
    box.flush_if_older(kFlushMs);  // 2 s old: sent
    ASSERT_TRUE(wait_for([&] { return seen.size() == kRecords; }, 3s)) << seen.size();
    for (int i = 0; i < kRecords; ++i) ASSERT_EQ(seen.records[i].cport, 10000 + i);
    EXPECT_EQ(seen.records[0].daddr, record(0).daddr);
    EXPECT_EQ(master.stats().messages, 26u);
    EXPECT_EQ(backup.stats().read.records, static_cast<uint64_t>(kRecords));
    EXPECT_EQ(box.dropped(), 0u);
  }
}

TEST_F(SyncTransport, ABackupWithASyncidTakesOnlyItsOwn) {
  Seen seen;
  Backup backup(config("sb", kDaemonBackup, 5), 0, [&seen](std::span<const SyncConn> got) {
    std::lock_guard lock(seen.mutex);
    seen.records.insert(seen.records.end(), got.begin(), got.end());
  });
  std::string error;
  ASSERT_TRUE(backup.start(error)) << error;
  Outbox other(6, 1472), own(5, 1472);
  Master m1(config("sa", kDaemonMaster, 6), 0, {&other, &own});
  ASSERT_TRUE(m1.start(error)) << error;
  other.add(record(1), 0);
  other.flush_if_older(kFlushMs);
  own.add(record(2), 0);
  own.flush_if_older(kFlushMs);
  ASSERT_TRUE(wait_for([&] { return backup.stats().messages == 2; }, 3s));
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen.records[0].cport, 2);
  EXPECT_EQ(backup.stats().read.rejects[static_cast<size_t>(Reject::kSyncid)], 1u);
}

TEST_F(SyncTransport, AFullRingDropsWholeMessagesAndCountsThem) {
  Outbox box(0, 1472);
  for (int i = 0; i < 40 * static_cast<int>(Outbox::kSlots + 3); ++i) box.add(record(1), 0);
  EXPECT_EQ(box.dropped(), 2u);  // kSlots messages queued, the next two full ones dropped
}

// sync_qlen_max's share: past it, whole messages are dropped and counted.
TEST_F(SyncTransport, AQueueLimitDropsBeyondIt) {
  Outbox box(0, 1472);
  box.set_queue_limit(4);
  for (int i = 0; i < 40 * 7; ++i) box.add(record(1), 0);
  EXPECT_EQ(box.dropped(), 2u);  // four full messages queued, the fifth and sixth dropped
  int queued = 0;
  while (box.peek()) {
    box.release();
    ++queued;
  }
  EXPECT_EQ(queued, 4);
}

// sync_ports 2: thread 1 of a master sends on port 8849, and only thread 1 of the backup
// hears it; each thread has its socket.
TEST_F(SyncTransport, EachSyncPortIsAPortOfItsOwn) {
  Seen seen0, seen1;
  auto sink = [](Seen& seen) {
    return [&seen](std::span<const SyncConn> got) {
      std::lock_guard lock(seen.mutex);
      seen.records.insert(seen.records.end(), got.begin(), got.end());
    };
  };
  Backup b0(config("sb", kDaemonBackup, 0), 0, sink(seen0));
  Backup b1(config("sb", kDaemonBackup, 0), 1, sink(seen1), /*sock_size=*/1 << 20);
  std::string error;
  ASSERT_TRUE(b0.start(error)) << error;
  ASSERT_TRUE(b1.start(error)) << error;
  Outbox box(0, 1472);
  Master m1(config("sa", kDaemonMaster, 0), 1, {&box}, /*sock_size=*/1 << 20);
  ASSERT_TRUE(m1.start(error)) << error;
  box.add(record(7), 0);
  box.flush_if_older(kFlushMs);
  ASSERT_TRUE(wait_for([&] { return b1.stats().messages == 1; }, 3s));
  std::this_thread::sleep_for(100ms);
  EXPECT_EQ(seen1.size(), 1u);
  EXPECT_EQ(seen0.size(), 0u);
  EXPECT_EQ(b0.stats().messages, 0u);
}

TEST_F(SyncTransport, AnInterfaceThatIsNotThereIsAClearError) {
  std::string error;
  Outbox box(0, 1472);
  Master master(config("nosuch0", kDaemonMaster, 0), 0, {&box});
  EXPECT_FALSE(master.start(error));
  EXPECT_NE(error.find("no such interface"), std::string::npos) << error;
}

}  // namespace
}  // namespace uvs::sync
