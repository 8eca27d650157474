// dh: the kernel's ip_vs_dh.c.
#include "sched/hash.h"
#include "sched/lookup_tables.h"
#include "sched_test_util.h"

namespace uvs::sched::test {
namespace {

TEST(DestinationHashing, TableIsTheListRoundRobin) {
  TestService s("dh");
  s.add("A", 1);
  s.add("B", 5);
  s.add("C", 0);  // weights ignored, quiesced dests keep their buckets
  const auto table = build_dh_table(s.svc().dests());
  const char* order[] = {"C", "B", "A"};
  for (size_t i = 0; i < table.size(); ++i) EXPECT_EQ(s.name(table[i]), order[i % 3]) << i;
  EXPECT_EQ(build_dh_table({})[0], nullptr);
}

TEST(DestinationHashing, PicksTheBucketOfTheDestinationAddress) {
  TestService s("dh");
  s.add("A", 1);
  s.add("B", 1);
  s.add("C", 1);
  const auto table = build_dh_table(s.svc().dests());
  for (uint32_t daddr = 0x0A000000; daddr < 0x0A000000 + 2000; daddr += 7) {
    Dest* expected = table[hash_32(daddr, 8)];
    EXPECT_EQ(s.pick(to_daddr(daddr)), expected);
  }
  // The client does not matter.
  PacketKey k = to_daddr(0x0A000005);
  Dest* d = s.pick(k);
  k.saddr = InetAddr::v4(0x01020304);
  k.sport = 999;
  EXPECT_EQ(s.pick(k), d);
}

TEST(DestinationHashing, Ipv6DestinationsHashTheirFold) {
  TestService s("dh");
  s.add("A", 1);
  s.add("B", 1);
  const auto table = build_dh_table(s.svc().dests());
  PacketKey k = to_daddr(0);
  k.daddr = *InetAddr::parse("2001:db8::42");
  EXPECT_EQ(s.pick(k), table[hash_32(addr_fold(k.daddr), 8)]);
}

TEST(DestinationHashing, UnavailableBucketMeansNoDestination) {
  TestService s("dh");
  s.add("A", 1);
  s.add("B", 1, /*u_threshold=*/1);
  const auto table = build_dh_table(s.svc().dests());
  uint32_t to_b = 0;
  while (table[hash_32(to_b, 8)] != &s.dest("B")) ++to_b;
  EXPECT_EQ(s.pick_name(to_daddr(to_b)), "B");
  s.dest("B").bind_conn(ConnKind::kActive);  // OVERLOAD
  EXPECT_EQ(s.pick(to_daddr(to_b)), nullptr);
  s.dest("B").unbind_conn(ConnKind::kActive);
  s.set_weight("B", 0);
  EXPECT_EQ(s.pick(to_daddr(to_b)), nullptr);
}

TEST(DestinationHashing, EditKeepsTheTableAddAndDeleteRefill) {
  TestService s("dh");
  s.add("A", 1);
  s.add("B", 1);
  constexpr uint32_t n = 256;
  std::vector<Dest*> before;
  for (uint32_t i = 0; i < n; ++i) before.push_back(s.pick(to_daddr(i)));
  s.set_weight("A", 7);
  for (uint32_t i = 0; i < n; ++i) EXPECT_EQ(s.pick(to_daddr(i)), before[i]);
  s.add("C", 1);
  const auto three = build_dh_table(s.svc().dests());
  for (uint32_t i = 0; i < n; ++i) EXPECT_EQ(s.pick(to_daddr(i)), three[hash_32(i, 8)]);
  s.del("B");
  const auto two = build_dh_table(s.svc().dests());
  for (uint32_t i = 0; i < n; ++i) EXPECT_EQ(s.pick(to_daddr(i)), two[hash_32(i, 8)]);
}

}  // namespace
}  // namespace uvs::sched::test
