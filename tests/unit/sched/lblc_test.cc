// lblc: as ip_vs_lblc.c -- locality, remapping, and garbage collection with an injected clock.
#include <set>

#include "sched/hash.h"
#include "sched_test_util.h"

namespace uvs::sched::test {
namespace {

using std::chrono::minutes;
using std::chrono::seconds;

constexpr uint32_t kX = 0x0A640001;  // 10.100.0.1: the object everyone asks for

SchedOptions options(uint32_t capacity = 1024, Nanos expiration = std::chrono::hours(24)) {
  SchedOptions o = TestService::with_seed();
  o.locality_capacity = capacity;
  o.lblc_expiration = expiration;
  o.lblcr_expiration = expiration;
  return o;
}

TEST(Lblc, DestinationStaysOnItsServerWhileNotOverloaded) {
  TestService s("lblc", 0, 1, options());
  s.add("A", 1);
  s.add("B", 1);  // B A
  EXPECT_EQ(s.pick_name(to_daddr(kX)), "B");
  set_conns(s.dest("B"), 1, 50);  // busier than A, but active <= weight
  EXPECT_EQ(s.pick_name(to_daddr(kX)), "B");
  EXPECT_EQ(s.pick_name(to_daddr(kX + 1)), "A");  // a new object goes by wlc
}

TEST(Lblc, OverloadedMeansAboveWeightWhileAnotherIsBelowHalf) {
  TestService s("lblc", 0, 1, options());
  s.add("A", 2);
  s.add("B", 1);
  EXPECT_EQ(s.pick_name(to_daddr(kX)), "B");
  set_conns(s.dest("B"), 2, 0);  // 2 > 1, and A: 0 * 2 < 2
  EXPECT_EQ(s.pick_name(to_daddr(kX)), "A");
  EXPECT_EQ(s.pick_name(to_daddr(kX)), "A");  // remapped
  set_conns(s.dest("A"), 3, 0);  // A: 3 > 2, but nobody is below half now (B: 4 >= 1)
  EXPECT_EQ(s.pick_name(to_daddr(kX)), "A");
  EXPECT_EQ(s.svc().view()->worker_state(0)->cached_entries(), 1u);
}

TEST(Lblc, OverloadFlagAloneDoesNotMoveACachedDestination) {
  TestService s("lblc", 0, 1, options());
  s.add("A", 1);
  s.add("B", 5, /*u_threshold=*/1);
  EXPECT_EQ(s.pick_name(to_daddr(kX)), "B");
  s.dest("B").bind_conn(ConnKind::kInactive);
  EXPECT_TRUE(s.dest("B").overloaded());
  EXPECT_EQ(s.pick_name(to_daddr(kX)), "B");       // the kernel checks only weight/availability
  EXPECT_EQ(s.pick_name(to_daddr(kX + 1)), "A");   // but wlc skips it for new objects
}

TEST(Lblc, QuiescedOrDeletedDestinationIsRemapped) {
  TestService s("lblc", 0, 1, options());
  s.add("A", 1);
  s.add("B", 1);
  s.add("C", 1);  // C B A
  EXPECT_EQ(s.pick_name(to_daddr(kX)), "C");
  s.set_weight("C", 0);
  EXPECT_EQ(s.pick_name(to_daddr(kX)), "B");
  s.del("B");
  EXPECT_EQ(s.pick_name(to_daddr(kX)), "A");
  s.revive("B", 1);  // B C A: idle B is wlc's first choice, but the entry says A
  EXPECT_EQ(s.pick_name(to_daddr(kX)), "A");
}

TEST(Lblc, NoEligibleDestination) {
  TestService s("lblc", 0, 1, options());
  EXPECT_EQ(s.pick(to_daddr(kX)), nullptr);
  s.add("A", 0);
  EXPECT_EQ(s.pick(to_daddr(kX)), nullptr);
}

TEST(Lblc, WorkersKeepTheirOwnTables) {
  TestService s("lblc", 0, 2, options());
  s.add("A", 1);
  s.add("B", 1);
  EXPECT_EQ(s.pick_name(to_daddr(kX), 0), "B");
  set_conns(s.dest("B"), 1, 0);
  EXPECT_EQ(s.pick_name(to_daddr(kX), 1), "A");  // worker 1 had no entry: wlc
  EXPECT_EQ(s.pick_name(to_daddr(kX), 0), "B");
}

TEST(Lblc, FullTableSchedulesWithoutCaching) {
  TestService s("lblc", 0, 1, options(/*capacity=*/4));
  s.add("A", 1);
  for (uint32_t i = 0; i < 6; ++i) EXPECT_EQ(s.pick_name(to_daddr(kX + i)), "A");
  EXPECT_EQ(s.svc().view()->worker_state(0)->cached_entries(), 4u);
}

// Every 30th collector run (one a minute) drops entries unused for lblc_expiration.
TEST(Lblc, FullExpirationEveryThirtiethRun) {
  TestService s("lblc", 0, 1, options(1024, minutes(10)));
  s.add("A", 1);
  s.add("B", 1);
  const uint32_t kTicker = kX + 100;
  EXPECT_EQ(s.pick_name(to_daddr(kX), 0, Nanos{0}), "B");  // arms the timer: runs at 1, 2.. min
  auto* state = s.svc().view()->worker_state(0);
  set_conns(s.dest("B"), 1, 0);  // wlc would now choose A
  for (int minute = 1; minute < 30; ++minute) s.pick(to_daddr(kTicker), 0, minutes(minute));
  EXPECT_EQ(state->cached_entries(), 2u);  // X unused for 29 minutes: still there
  s.pick(to_daddr(kTicker), 0, minutes(30));  // 30th run: full expiration
  EXPECT_EQ(state->cached_entries(), 1u);
  EXPECT_EQ(s.pick_name(to_daddr(kX), 0, minutes(31)), "A");  // scheduled afresh
}

TEST(Lblc, UsedEntriesSurviveTheFullExpiration) {
  TestService s("lblc", 0, 1, options(1024, minutes(10)));
  s.add("A", 1);
  s.add("B", 1);
  EXPECT_EQ(s.pick_name(to_daddr(kX), 0, Nanos{0}), "B");
  set_conns(s.dest("B"), 1, 0);
  for (int minute = 1; minute <= 30; ++minute)
    EXPECT_EQ(s.pick_name(to_daddr(kX), 0, minutes(minute) - seconds(1)), "B");
  EXPECT_EQ(s.pick_name(to_daddr(kX), 0, minutes(31)), "B");
}

// Above max_size (capacity/2 here) idle entries (>= 6 min) are trimmed by (size-max)*4/3,
// at most max/2, whole buckets at a time.
TEST(Lblc, TrimsIdleEntriesAboveMaxSize) {
  TestService s("lblc", 0, 1, options(/*capacity=*/40));  // max_size 20
  s.add("A", 1);
  // 31 destination addresses in 31 different buckets: one of them keeps the timer going.
  std::vector<uint32_t> daddrs;
  std::set<uint32_t> buckets;
  for (uint32_t a = kX; daddrs.size() < 31; ++a)
    if (buckets.insert(hash_32(a, 10)).second) daddrs.push_back(a);
  for (uint32_t a : daddrs) s.pick(to_daddr(a), 0, Nanos{0});
  auto* state = s.svc().view()->worker_state(0);
  ASSERT_EQ(state->cached_entries(), 31u);
  const uint32_t ticker = daddrs.back();
  for (int minute = 1; minute <= 5; ++minute) s.pick(to_daddr(ticker), 0, minutes(minute));
  EXPECT_EQ(state->cached_entries(), 31u);  // over max, but nothing idle for 6 minutes yet
  s.pick(to_daddr(ticker), 0, minutes(6));  // goal min(11*4/3, 10) = 10
  EXPECT_EQ(state->cached_entries(), 21u);
  s.pick(to_daddr(ticker), 0, minutes(7));  // goal 1*4/3 = 1
  EXPECT_EQ(state->cached_entries(), 20u);
  s.pick(to_daddr(ticker), 0, minutes(8));  // at max: nothing to do
  EXPECT_EQ(state->cached_entries(), 20u);
}

TEST(Lblc, Ipv6DestinationAddresses) {
  TestService s("lblc", 0, 1, options());
  s.add("A", 1);
  s.add("B", 1);
  PacketKey k = to_daddr(0);
  k.daddr = *InetAddr::parse("2001:db8::10");
  EXPECT_EQ(s.pick_name(k), "B");
  set_conns(s.dest("B"), 1, 0);
  EXPECT_EQ(s.pick_name(k), "B");
  k.daddr = *InetAddr::parse("2001:db8::11");
  EXPECT_EQ(s.pick_name(k), "A");
}

}  // namespace
}  // namespace uvs::sched::test
