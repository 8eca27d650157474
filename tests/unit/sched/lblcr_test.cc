// lblcr: as ip_vs_lblcr.c -- replicated sets, their expiry, and garbage collection.
#include "sched_test_util.h"

namespace uvs::sched::test {
namespace {

using std::chrono::minutes;
using std::chrono::seconds;

constexpr uint32_t kX = 0x0A640001;

SchedOptions options(uint32_t capacity = 1024, Nanos expiration = std::chrono::hours(24)) {
  SchedOptions o = TestService::with_seed();
  o.locality_capacity = capacity;
  o.lblcr_expiration = expiration;
  return o;
}

// Builds the set {A, B, C} for kX at t = 0..2 s, C and B left overloaded; list is C B A.
void grow_set(TestService& s) {
  s.add("A", 1);
  s.add("B", 1);
  s.add("C", 1);
  EXPECT_EQ(s.pick_name(to_daddr(kX), 0, seconds(0)), "C");  // {C}
  set_conns(s.dest("C"), 2, 0);  // above its weight while A, B are idle
  EXPECT_EQ(s.pick_name(to_daddr(kX), 0, seconds(1)), "B");  // {B, C}
  EXPECT_EQ(s.pick_name(to_daddr(kX), 0, seconds(1)), "B");  // least loaded member
  set_conns(s.dest("B"), 2, 0);
  EXPECT_EQ(s.pick_name(to_daddr(kX), 0, seconds(2)), "A");  // {A, B, C}, lastmod 2 s
}

TEST(Lblcr, SetGrowsWhenItsBestMemberIsOverloaded) {
  TestService s("lblcr", 0, 1, options());
  grow_set(s);
  EXPECT_EQ(s.pick_name(to_daddr(kX), 0, seconds(3)), "A");
  set_conns(s.dest("A"), 1, 0);  // A: 256 vs B, C: 512; not above its weight
  EXPECT_EQ(s.pick_name(to_daddr(kX), 0, seconds(4)), "A");
  set_conns(s.dest("C"), 0, 0);  // now C is the least loaded member
  EXPECT_EQ(s.pick_name(to_daddr(kX), 0, seconds(5)), "C");
  EXPECT_EQ(s.svc().view()->worker_state(0)->cached_entries(), 1u);
}

TEST(Lblcr, NotOverloadedWhenNobodyIsBelowHalf) {
  TestService s("lblcr", 0, 1, options());
  s.add("A", 1);
  EXPECT_EQ(s.pick_name(to_daddr(kX)), "A");
  set_conns(s.dest("A"), 5, 0);
  EXPECT_EQ(s.pick_name(to_daddr(kX)), "A");
}

// After lblcr_expiration without a change the most loaded member leaves the set.
TEST(Lblcr, StaleSetDropsItsMostLoadedMember) {
  TestService s("lblcr", 0, 1, options(1024, minutes(10)));
  grow_set(s);
  EXPECT_EQ(s.pick_name(to_daddr(kX), 0, seconds(2) + minutes(10)), "A");  // not yet: > needed
  EXPECT_EQ(s.pick_name(to_daddr(kX), 0, seconds(3) + minutes(10)), "A");  // B (first of the
                                                                           // most loaded) dropped
  // Show that B left: make A and C overloaded, B idle. With B in the set, B would serve; without
  // it, wlc runs over all dests and picks the new idle D (newest, listed first).
  s.add("D", 10);
  set_conns(s.dest("A"), 2, 0);
  set_conns(s.dest("C"), 2, 0);
  set_conns(s.dest("B"), 0, 0);
  EXPECT_EQ(s.pick_name(to_daddr(kX), 0, seconds(4) + minutes(10)), "D");
}

TEST(Lblcr, SingleMemberSetNeverShrinks) {
  TestService s("lblcr", 0, 1, options(1024, minutes(10)));
  s.add("A", 1);
  s.add("B", 1);
  EXPECT_EQ(s.pick_name(to_daddr(kX), 0, seconds(0)), "B");
  set_conns(s.dest("B"), 1, 0);
  EXPECT_EQ(s.pick_name(to_daddr(kX), 0, minutes(20)), "B");
}

TEST(Lblcr, DeletedMemberIsSkippedAndDroppedFirst) {
  TestService s("lblcr", 0, 1, options(1024, minutes(10)));
  s.add("A", 1);
  s.add("B", 1);  // B A
  EXPECT_EQ(s.pick_name(to_daddr(kX), 0, seconds(0)), "B");  // {B}
  s.del("B");
  EXPECT_EQ(s.pick_name(to_daddr(kX), 0, seconds(1)), "A");  // {A, B(deleted)}
  s.revive("B", 1);  // B is back (same dest): a member again
  set_conns(s.dest("A"), 1, 0);
  EXPECT_EQ(s.pick_name(to_daddr(kX), 0, seconds(2)), "B");  // least loaded member
  s.del("B");
  set_conns(s.dest("A"), 5, 0);
  // Stale set: the deleted member goes, A stays and serves (nobody is below half).
  EXPECT_EQ(s.pick_name(to_daddr(kX), 0, seconds(2) + minutes(11)), "A");
}

TEST(Lblcr, GarbageCollectionReturnsEntriesAndMembers) {
  TestService s("lblcr", 0, 1, options(/*capacity=*/16, minutes(10)));  // max_size 8
  s.add("A", 1);
  for (uint32_t i = 0; i < 8; ++i) s.pick(to_daddr(kX + i), 0, Nanos{0});
  auto* state = s.svc().view()->worker_state(0);
  EXPECT_EQ(state->cached_entries(), 8u);
  for (int minute = 1; minute <= 30; ++minute) s.pick(to_daddr(kX), 0, minutes(minute));
  EXPECT_EQ(state->cached_entries(), 1u);  // only the one in use survived the 30th run
  for (uint32_t i = 1; i <= 16; ++i) s.pick(to_daddr(kX + 100 + i), 0, minutes(31));
  EXPECT_EQ(state->cached_entries(), 16u);  // every pool slot came back; the 17th is not cached
}

// Over max_size the collector only trims idle entries down to max_size; the full expiration
// waits until the table is back under it (the kernel counts runs only then).
TEST(Lblcr, OverMaxSizeTrimsToMaxSize) {
  TestService s("lblcr", 0, 1, options(/*capacity=*/8, minutes(10)));  // max_size 4
  s.add("A", 1);
  for (uint32_t i = 0; i < 8; ++i) s.pick(to_daddr(kX + i), 0, Nanos{0});
  auto* state = s.svc().view()->worker_state(0);
  for (int minute = 1; minute <= 30; ++minute) s.pick(to_daddr(kX), 0, minutes(minute));
  EXPECT_EQ(state->cached_entries(), 4u);
}

}  // namespace
}  // namespace uvs::sched::test
