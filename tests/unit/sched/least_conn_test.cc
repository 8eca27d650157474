// lc, wlc, sed, nq, fo, ovf: the kernel's *_schedule() choices on crafted counter states, ties
// included.
// TestService lists dests newest first: after adding A, B, C the list is C, B, A.
#include "sched/least_conn.h"
#include "sched_test_util.h"

namespace uvs::sched::test {
namespace {

TEST(LeastConnection, SmallestOverheadWeightsIgnored) {
  TestService s("lc");
  set_conns(s.add("A", 1), 0, 300);  // overhead 300
  set_conns(s.add("B", 100), 1, 0);  // 256
  set_conns(s.add("C", 1), 0, 257);  // 257
  EXPECT_EQ(s.pick_name(), "B");
}

TEST(LeastConnection, TiesGoToTheEarlierDestInListOrder) {
  TestService s("lc");
  set_conns(s.add("A", 1), 0, 10);
  set_conns(s.add("B", 1), 0, 10);
  set_conns(s.add("C", 1), 0, 11);
  EXPECT_EQ(s.pick_name(), "B");  // B precedes A in the list
}

TEST(LeastConnection, QuiescedAndOverloadedNeverChosen) {
  TestService s("lc");
  set_conns(s.add("A", 1), 5, 0);
  s.add("B", 0);                    // idle but quiesced
  s.add("C", 1, /*u_threshold=*/1);
  s.dest("C").bind_conn(ConnKind::kInactive);  // overhead 1 but OVERLOAD
  EXPECT_EQ(s.pick_name(), "A");
  s.set_weight("A", 0);
  EXPECT_EQ(s.pick(), nullptr);
}

TEST(WeightedLeastConnection, OverheadPerWeight) {
  TestService s("wlc");
  set_conns(s.add("A", 1), 1, 0);  // 256 / 1
  set_conns(s.add("B", 3), 2, 0);  // 512 / 3 = 170.7
  set_conns(s.add("C", 1), 0, 200);  // 200 / 1
  EXPECT_EQ(s.pick_name(), "B");
}

TEST(WeightedLeastConnection, TiesKeepTheEarlierDest) {
  TestService s("wlc");
  set_conns(s.add("A", 1), 1, 0);  // 256 / 1
  set_conns(s.add("B", 2), 2, 0);  // 512 / 2: same ratio, B is earlier
  EXPECT_EQ(s.pick_name(), "B");
  set_conns(s.dest("B"), 2, 1);  // 513 / 2 > 256
  EXPECT_EQ(s.pick_name(), "A");
}

TEST(WeightedLeastConnection, InactiveConnectionsCountOneIn256) {
  TestService s("wlc");
  set_conns(s.add("A", 1), 0, 255);
  set_conns(s.add("B", 1), 1, 0);
  EXPECT_EQ(s.pick_name(), "A");
  set_conns(s.dest("A"), 0, 256);  // tie: B first in the list
  EXPECT_EQ(s.pick_name(), "B");
}

TEST(WeightedLeastConnection, QuiescedNeverWinsEvenIdle) {
  TestService s("wlc");
  set_conns(s.add("A", 1), 100, 0);
  s.add("B", 0);  // listed first, idle, weight 0
  EXPECT_EQ(s.pick_name(), "A");
  s.add("C", 0);
  set_conns(s.add("D", 2), 1, 0);  // D C B A: seed D, later weight-0 dests lose
  EXPECT_EQ(s.pick_name(), "D");
}

TEST(WeightedLeastConnection, LargestWeights) {
  TestService s("wlc");
  set_conns(s.add("A", 2147483647), 3, 0);
  set_conns(s.add("B", 2147483646), 3, 0);  // slightly higher load per weight
  EXPECT_EQ(s.pick_name(), "A");
}

// Loads from 2^32 up (2^24 active connections) take the 128-bit path; both must agree with
// exact arithmetic.
TEST(WeightedLeastConnection, CrossProductsAreExactBeyond64Bits) {
  const int64_t big = int64_t{1} << 39;  // the largest overhead: 2^31 active connections
  const int64_t w = 2147483647;
  EXPECT_TRUE(products_greater(big, w, big - 1, w));
  EXPECT_FALSE(products_greater(big - 1, w, big, w));
  EXPECT_FALSE(products_greater(big, w - 1, big, w - 1));  // equal
  EXPECT_TRUE(products_greater(big, w, big, w - 1));
  EXPECT_TRUE(products_greater(3, 5, 7, 2));  // 15 > 14
  EXPECT_FALSE(products_greater(7, 2, 3, 5));
}

TEST(ShortestExpectedDelay, ActivePlusOnePerWeightInactiveIgnored) {
  TestService s("sed");
  set_conns(s.add("A", 1), 1, 0);     // (1+1)/1 = 2
  set_conns(s.add("B", 3), 2, 1000);  // (2+1)/3 = 1
  EXPECT_EQ(s.pick_name(), "B");
  set_conns(s.dest("A"), 0, 0);  // 1/1 = 1: tie, B is earlier
  EXPECT_EQ(s.pick_name(), "B");
  set_conns(s.dest("B"), 3, 0);  // 4/3 > 1
  EXPECT_EQ(s.pick_name(), "A");
}

TEST(NeverQueue, IdleDestFirstEvenIfAnotherLooksFaster) {
  TestService s("nq");
  s.add("A", 1);                      // idle
  set_conns(s.add("B", 100), 1, 0);   // (1+1)/100: much lower expected delay
  EXPECT_EQ(s.pick_name(), "A");
  s.add("C", 1);  // C B A: the first idle dest in list order wins
  EXPECT_EQ(s.pick_name(), "C");
}

TEST(NeverQueue, IdleMeansNoActiveConnections) {
  TestService s("nq");
  set_conns(s.add("A", 1), 0, 50);  // inactive only: still idle
  set_conns(s.add("B", 1), 1, 0);
  EXPECT_EQ(s.pick_name(), "A");
}

TEST(NeverQueue, AllBusyFallsBackToExpectedDelay) {
  TestService s("nq");
  set_conns(s.add("A", 1), 1, 0);  // 2/1
  set_conns(s.add("B", 3), 5, 0);  // 6/3 = 2: tie, B earlier
  set_conns(s.add("C", 1), 2, 0);  // 3/1
  EXPECT_EQ(s.pick_name(), "B");
  set_conns(s.dest("B"), 6, 0);  // 7/3 > 2
  EXPECT_EQ(s.pick_name(), "A");
}

TEST(NeverQueue, QuiescedIdleDestIsSkipped) {
  TestService s("nq");
  set_conns(s.add("A", 1), 3, 0);
  s.add("B", 0);
  EXPECT_EQ(s.pick_name(), "A");
}

TEST(WeightedFailover, HighestWeightTiesToTheEarlier) {
  TestService s("fo");
  set_conns(s.add("A", 5), 1000, 0);  // load does not matter
  s.add("B", 3);
  s.add("C", 5);
  EXPECT_EQ(s.pick_name(), "C");
  s.set_thresholds("C", 1, 0);
  s.dest("C").bind_conn(ConnKind::kActive);
  EXPECT_EQ(s.pick_name(), "A");
}

TEST(WeightedFailover, WeightZeroNeverChosen) {
  TestService s("fo");
  s.add("A", 0);
  EXPECT_EQ(s.pick(), nullptr);
}

TEST(WeightedOverflow, OverflowsWhenActiveExceedsWeight) {
  TestService s("ovf");
  s.add("A", 1);
  s.add("B", 3);
  s.add("C", 3);  // C B A
  set_conns(s.dest("C"), 3, 100);  // active == weight: still takes connections
  EXPECT_EQ(s.pick_name(), "C");
  set_conns(s.dest("C"), 4, 0);
  EXPECT_EQ(s.pick_name(), "B");
  set_conns(s.dest("B"), 4, 0);
  EXPECT_EQ(s.pick_name(), "A");
  set_conns(s.dest("A"), 2, 0);
  EXPECT_EQ(s.pick(), nullptr);
}

TEST(WeightedOverflow, QuiescedAndOverloadedSkipped) {
  TestService s("ovf");
  s.add("A", 1);
  s.add("B", 0);
  s.add("C", 5, /*u_threshold=*/2);
  set_conns(s.dest("C"), 1, 1);  // total 2 >= 2: OVERLOAD
  EXPECT_TRUE(s.dest("C").overloaded());
  EXPECT_EQ(s.pick_name(), "A");
}

}  // namespace
}  // namespace uvs::sched::test
