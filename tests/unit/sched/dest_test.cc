// Dest: the counters and the overload flag (as ip_vs_bind_dest()/ip_vs_unbind_dest()), last_weight,
// forwarding.
#include <gtest/gtest.h>

#include <thread>
#include <vector>

#include "sched/dest.h"

namespace uvs::sched {
namespace {

DestConfig config(int32_t weight, uint32_t upper = 0, uint32_t lower = 0) {
  DestConfig c;
  c.key.addr = InetAddr::v4(0x0A000001);
  c.key.port = 80;
  c.weight = weight;
  c.u_threshold = upper;
  c.l_threshold = lower;
  return c;
}

TEST(Dest, AddMakesItAvailableAndUnlinkClearsIt) {
  Dest d(config(1).key);
  EXPECT_FALSE(d.available());
  d.apply_config(config(3), true);
  EXPECT_TRUE(d.available());
  EXPECT_EQ(d.weight(), 3);
  d.mark_unlinked();
  EXPECT_FALSE(d.available());
}

TEST(Dest, CountersAndOverhead) {
  Dest d(config(1).key);
  d.apply_config(config(1), true);
  d.bind_conn(ConnKind::kInactive);  // new connections start inactive
  d.bind_conn(ConnKind::kTemplate);
  d.conn_became_active();
  d.bind_conn(ConnKind::kInactive);
  EXPECT_EQ(d.activeconns(), 1);
  EXPECT_EQ(d.inactconns(), 1);
  EXPECT_EQ(d.persistconns(), 1);
  EXPECT_EQ(d.overhead(), 257);
  EXPECT_EQ(d.total_conns(), 2);  // templates do not count
  d.conn_became_inactive();
  EXPECT_EQ(d.overhead(), 2);
  d.unbind_conn(ConnKind::kInactive);
  d.unbind_conn(ConnKind::kInactive);
  d.unbind_conn(ConnKind::kTemplate);
  EXPECT_EQ(d.overhead(), 0);
  EXPECT_EQ(d.persistconns(), 0);
}

TEST(Dest, UpperThresholdSetsOverloadAtBind) {
  Dest d(config(1).key);
  d.apply_config(config(1, /*upper=*/3), true);
  d.bind_conn(ConnKind::kActive);
  d.bind_conn(ConnKind::kInactive);
  EXPECT_FALSE(d.overloaded());
  d.bind_conn(ConnKind::kInactive);  // total 3 >= 3
  EXPECT_TRUE(d.overloaded());
}

TEST(Dest, LowerThresholdClearsOverloadBelowIt) {
  Dest d(config(1).key);
  d.apply_config(config(1, 4, /*lower=*/2), true);
  for (int i = 0; i < 4; ++i) d.bind_conn(ConnKind::kActive);
  EXPECT_TRUE(d.overloaded());
  d.unbind_conn(ConnKind::kActive);  // 3
  d.unbind_conn(ConnKind::kActive);  // 2: not below 2
  EXPECT_TRUE(d.overloaded());
  d.unbind_conn(ConnKind::kActive);  // 1 < 2
  EXPECT_FALSE(d.overloaded());
}

TEST(Dest, WithoutLowerThresholdClearsBelowThreeQuarters) {
  Dest d(config(1).key);
  d.apply_config(config(1, 8), true);
  for (int i = 0; i < 8; ++i) d.bind_conn(ConnKind::kInactive);
  EXPECT_TRUE(d.overloaded());
  d.unbind_conn(ConnKind::kInactive);  // 7*4 = 28 < 24? no
  d.unbind_conn(ConnKind::kInactive);  // 6*4 = 24 < 24? no
  EXPECT_TRUE(d.overloaded());
  d.unbind_conn(ConnKind::kInactive);  // 5*4 = 20 < 24
  EXPECT_FALSE(d.overloaded());
}

TEST(Dest, EditRaisingOrRemovingTheUpperThresholdClearsOverload) {
  Dest d(config(1).key);
  d.apply_config(config(1, 2), true);
  d.bind_conn(ConnKind::kActive);
  d.bind_conn(ConnKind::kActive);
  ASSERT_TRUE(d.overloaded());
  d.apply_config(config(1, 2), false);  // same threshold: stays
  EXPECT_TRUE(d.overloaded());
  d.apply_config(config(1, 1), false);  // lower: stays
  EXPECT_TRUE(d.overloaded());
  d.apply_config(config(1, 5), false);  // higher: cleared at once
  EXPECT_FALSE(d.overloaded());
  d.apply_config(config(1, 1), false);
  d.bind_conn(ConnKind::kTemplate);  // re-evaluated at any bind
  EXPECT_TRUE(d.overloaded());
  d.apply_config(config(1, 0), false);  // removed: cleared
  EXPECT_FALSE(d.overloaded());
}

// A dest can only become OVERLOAD with u_threshold set, and an edit to 0 clears the flag, so
// the kernel's "no thresholds: clear at any unbind" branch is only reachable by races.
TEST(Dest, SmallUpperThresholdSwitchesPerConnection) {
  Dest d(config(1).key);
  d.apply_config(config(1, 1), true);
  d.bind_conn(ConnKind::kActive);
  EXPECT_TRUE(d.overloaded());
  d.unbind_conn(ConnKind::kActive);  // 0 * 4 < 1 * 3
  EXPECT_FALSE(d.overloaded());
}

TEST(Dest, LastWeightKeepsTheLatestNonZeroWeight) {
  Dest d(config(1).key);
  d.apply_config(config(0), true);
  EXPECT_EQ(d.last_weight(), 0);  // set on add even if 0
  d.apply_config(config(5), false);
  EXPECT_EQ(d.last_weight(), 5);
  d.apply_config(config(0), false);
  EXPECT_EQ(d.weight(), 0);
  EXPECT_EQ(d.last_weight(), 5);
  d.apply_config(config(0), true);  // re-added from the trash with weight 0
  EXPECT_EQ(d.last_weight(), 0);
}

TEST(Dest, ForwardingIsPublishedWhole) {
  Dest d(config(1).key);
  DestConfig c = config(1);
  c.fwd = Fwd::kTunnel;
  c.tun_type = TunType::kGue;
  c.tun_port = 6080;
  c.tun_flags = TunCsum::kRemCsum;
  d.apply_config(c, true);
  const DestForwarding f = d.forwarding();
  EXPECT_EQ(f.fwd, Fwd::kTunnel);
  EXPECT_EQ(f.tun_type, TunType::kGue);
  EXPECT_EQ(f.tun_port, 6080);
  EXPECT_EQ(f.tun_flags, TunCsum::kRemCsum);
}

TEST(Dest, SerialsAreUnique) {
  Dest a(config(1).key), b(config(1).key);
  EXPECT_NE(a.serial(), b.serial());
  EXPECT_NE(a.serial(), 0u);
}

TEST(Dest, CountersAreExactUnderConcurrentWorkers) {
  Dest d(config(1).key);
  d.apply_config(config(1), true);
  std::vector<std::thread> workers;
  for (int w = 0; w < 4; ++w)
    workers.emplace_back([&d] {
      for (int i = 0; i < 100000; ++i) {
        d.bind_conn(ConnKind::kInactive);
        d.conn_became_active();
        d.unbind_conn(ConnKind::kActive);
      }
    });
  for (auto& t : workers) t.join();
  EXPECT_EQ(d.activeconns(), 0);
  EXPECT_EQ(d.inactconns(), 0);
}

}  // namespace
}  // namespace uvs::sched
