// sh: as ip_vs_sh.c -- table fill by weight, sh-fallback, sh-port, spread.
#include <map>
#include <random>

#include "sched/hash.h"
#include "sched/lookup_tables.h"
#include "sched_test_util.h"

namespace uvs::sched::test {
namespace {

constexpr uint32_t kFallback = kSvcSched1;
constexpr uint32_t kPort = kSvcSched2;

uint32_t bucket_of(uint32_t saddr, uint32_t port = 0) { return hash_32(port + saddr, 8); }

TEST(SourceHashing, TableHonoursWeights) {
  TestService s("sh");
  s.add("A", 1);
  s.add("B", 2);
  s.add("C", 3);  // C B A: C C C B B A, repeated; 256 = 42 * 6 + 4
  const auto table = build_sh_table(s.svc().dests());
  const std::string pattern = "CCCBBA";
  for (size_t i = 0; i < table.size(); ++i)
    EXPECT_EQ(s.name(table[i]), std::string(1, pattern[i % 6])) << i;
}

TEST(SourceHashing, WeightZeroStillGetsOneBucket) {
  TestService s("sh");
  s.add("A", 0);
  s.add("B", 2);  // B B A
  const auto table = build_sh_table(s.svc().dests());
  const std::string pattern = "BBA";
  for (size_t i = 0; i < table.size(); ++i)
    EXPECT_EQ(s.name(table[i]), std::string(1, pattern[i % 3])) << i;
}

TEST(SourceHashing, EditRefillsTheTable) {
  TestService s("sh");
  s.add("A", 1);
  s.add("B", 1);
  s.set_weight("B", 3);  // B B B A
  const auto table = build_sh_table(s.svc().dests());
  for (uint32_t c = 1; c < 3000; c += 3) EXPECT_EQ(s.pick(client(c)), table[bucket_of(c)]);
  EXPECT_EQ(s.name(table[0]), "B");
  EXPECT_EQ(s.name(table[3]), "A");
}

TEST(SourceHashing, ClientStaysOnItsServer) {
  TestService s("sh");
  for (const char* n : {"A", "B", "C", "D"}) s.add(n, 1);
  for (uint32_t c = 100; c < 200; ++c) {
    Dest* d = s.pick(client(c, 1000));
    EXPECT_EQ(s.pick(client(c, 2000)), d);  // the port is ignored without sh-port
    EXPECT_EQ(s.pick(client(c, 1000)), d);
  }
}

TEST(SourceHashing, DownServerWithoutFallbackHasNoDestination) {
  TestService s("sh");
  for (const char* n : {"A", "B", "C", "D"}) s.add(n, 1);
  std::map<uint32_t, Dest*> before;
  for (uint32_t c = 0; c < 2000; ++c) before[c] = s.pick(client(c));
  s.set_weight("B", 0);
  int lost = 0;
  for (auto [c, d] : before) {
    if (d == &s.dest("B")) {
      EXPECT_EQ(s.pick(client(c)), nullptr);
      ++lost;
    } else {
      EXPECT_EQ(s.pick(client(c)), d);  // an edit refills, but B's buckets stay B's
    }
  }
  EXPECT_GT(lost, 300);
}

TEST(SourceHashing, FallbackMovesOnlyTheDownServersClients) {
  TestService s("sh", kFallback);
  for (const char* n : {"A", "B", "C", "D"}) s.add(n, 1);
  std::map<uint32_t, Dest*> before;
  for (uint32_t c = 0; c < 2000; ++c) before[c] = s.pick(client(c));
  s.set_thresholds("B", 1, 0);
  s.dest("B").bind_conn(ConnKind::kActive);  // OVERLOAD: down for sh
  const auto table = build_sh_table(s.svc().dests());
  for (auto [c, d] : before) {
    Dest* now = s.pick(client(c));
    if (d != &s.dest("B")) {
      EXPECT_EQ(now, d);
      continue;
    }
    ASSERT_NE(now, nullptr);
    EXPECT_NE(now, &s.dest("B"));
    // The kernel's probe: buckets (offset + ihash) + hash for offset 0, 1, ...
    const uint32_t ihash = bucket_of(c);
    Dest* expected = nullptr;
    for (uint32_t off = 0; off < 256 && !expected; ++off) {
      Dest* cand = table[(((off + ihash) % 256) + bucket_of(c)) & 255];
      if (cand->weight() > 0 && !cand->overloaded()) expected = cand;
    }
    EXPECT_EQ(now, expected);
  }
}

TEST(SourceHashing, FallbackWithEverythingDown) {
  TestService s("sh", kFallback);
  s.add("A", 1, 1);
  s.dest("A").bind_conn(ConnKind::kActive);
  EXPECT_EQ(s.pick(client(5)), nullptr);
}

TEST(SourceHashing, PortFlagHashesTheSourcePortForTcpUdpSctp) {
  TestService s("sh", kPort);
  for (const char* n : {"A", "B", "C", "D"}) s.add(n, 1);
  const auto table = build_sh_table(s.svc().dests());
  for (uint16_t port = 1000; port < 1100; ++port) {
    EXPECT_EQ(s.pick(client(77, port, kProtoTcp)), table[bucket_of(77, port)]);
    EXPECT_EQ(s.pick(client(77, port, kProtoUdp)), table[bucket_of(77, port)]);
    EXPECT_EQ(s.pick(client(77, port, kProtoSctp)), table[bucket_of(77, port)]);
    EXPECT_EQ(s.pick(client(77, port, IPPROTO_ICMP)), table[bucket_of(77)]);
  }
}

// Spread: client shares follow bucket shares, which follow weights (ip_vs_sh_reassign()).
TEST(SourceHashing, SharesFollowWeights) {
  expect_shares_follow_weights("sh", 3);
}

}  // namespace
}  // namespace uvs::sched::test
