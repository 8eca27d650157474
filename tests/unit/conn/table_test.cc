// Table: pool and index, the kernel's lookups (input, NAT and FULLNAT output, NO_CPORT,
// templates) in IPv4 and IPv6, a full table, and the index under heavy collision.
#include "conn/table.h"

#include <algorithm>
#include <random>
#include <set>

#include "conn_test_util.h"

namespace uvs::conn::test {
namespace {

TableOptions options(uint32_t capacity, uint32_t tuples = 2) {
  TableOptions o;
  o.capacity = capacity;
  o.tuples_per_conn = tuples;
  o.hash_seed = 42;
  return o;
}

// A linked connection client:cport -> vip:vport via real server rip:dport.
Conn* add(Table& t, const InetAddr& c, uint16_t cport, const InetAddr& v, uint16_t vport,
          const InetAddr& d, uint16_t dport, Fwd fwd = Fwd::kMasq, uint8_t proto = kProtoTcp) {
  Conn* e = t.alloc();
  if (e == nullptr) return nullptr;
  e->af = static_cast<uint8_t>(c.family);
  e->daf = static_cast<uint8_t>(d.family);
  e->protocol = proto;
  e->caddr = c.bytes;
  e->cport = cport;
  e->vaddr = v.bytes;
  e->vport = vport;
  e->daddr = d.bytes;
  e->dport = dport;
  e->flags = static_cast<uint16_t>(fwd);
  EXPECT_TRUE(t.link(*e));
  return e;
}

TEST(Table, EntryIsTwoCacheLines) {
  EXPECT_EQ(sizeof(Conn), 128u);
  EXPECT_EQ(alignof(Conn), 64u);
}

TEST(Table, InputAndNatOutputV4) {
  Table t(options(64));
  Conn* e = add(t, v4(kClient), 40000, v4(kVip), 80, v4(kRip), 8080);
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(t.index_entries(), 1u);  // one key serves both directions

  EXPECT_EQ(t.lookup_in(tuple(v4(kClient), 40000, v4(kVip), 80)), e);
  // Reply from the real server to the client.
  EXPECT_EQ(t.lookup_out(tuple(v4(kRip), 8080, v4(kClient), 40000)), e);
  EXPECT_EQ(t.lookup_out_nat(tuple(v4(kRip), 8080, v4(kClient), 40000)), e);
  EXPECT_EQ(t.lookup_out_fullnat(tuple(v4(kRip), 8080, v4(kClient), 40000)), nullptr);

  // Every field of the key matters.
  EXPECT_EQ(t.lookup_in(tuple(v4(kClient), 40001, v4(kVip), 80)), nullptr);
  EXPECT_EQ(t.lookup_in(tuple(v4(kClient), 40000, v4(kVip), 81)), nullptr);
  EXPECT_EQ(t.lookup_in(tuple(v4(kClient), 40000, v4(kVip + 1), 80)), nullptr);
  EXPECT_EQ(t.lookup_in(tuple(v4(kClient + 1), 40000, v4(kVip), 80)), nullptr);
  EXPECT_EQ(t.lookup_in(tuple(v4(kClient), 40000, v4(kVip), 80, kProtoUdp)), nullptr);
  EXPECT_EQ(t.lookup_out(tuple(v4(kRip), 8081, v4(kClient), 40000)), nullptr);
  EXPECT_EQ(t.lookup_out(tuple(v4(kRip + 1), 8080, v4(kClient), 40000)), nullptr);
  // A packet from the client is not a reply.
  EXPECT_EQ(t.lookup_out(tuple(v4(kClient), 40000, v4(kVip), 80)), nullptr);

  t.unlink(*e);
  EXPECT_EQ(t.lookup_in(tuple(v4(kClient), 40000, v4(kVip), 80)), nullptr);
  EXPECT_EQ(t.index_entries(), 0u);
}

TEST(Table, InputAndNatOutputV6) {
  Table t(options(64));
  const InetAddr c = v6("2001:db8::1"), v = v6("2001:db8:1::80"), d = v6("2001:db8:2::10");
  Conn* e = add(t, c, 5555, v, 443, d, 443, Fwd::kMasq, kProtoUdp);
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(t.lookup_in(tuple(c, 5555, v, 443, kProtoUdp)), e);
  EXPECT_EQ(t.lookup_out(tuple(d, 443, c, 5555, kProtoUdp)), e);
  EXPECT_EQ(t.lookup_in(tuple(c, 5555, v, 443, kProtoTcp)), nullptr);
  // Same 16 bytes in the other family are another address.
  Tuple wrong_af = tuple(c, 5555, v, 443, kProtoUdp);
  wrong_af.af = AF_INET;
  EXPECT_EQ(t.lookup_in(wrong_af), nullptr);
  EXPECT_EQ(t.lookup_in(tuple(v6("2001:db8::2"), 5555, v, 443, kProtoUdp)), nullptr);
}

TEST(Table, FullNatIsIndexedUnderBothTuples) {
  Table t(options(64));
  Conn* e = t.alloc();
  e->af = AF_INET;
  e->daf = AF_INET;
  e->protocol = kProtoTcp;
  e->caddr = v4(kClient).bytes;
  e->cport = 40000;
  e->vaddr = v4(kVip).bytes;
  e->vport = 80;
  e->daddr = v4(kRip).bytes;
  e->dport = 8080;
  e->laddr = v4(kLaddr).bytes;
  e->lport = 7001;
  e->flags = static_cast<uint16_t>(Fwd::kFullNat);
  ASSERT_TRUE(t.link(*e));
  EXPECT_EQ(t.index_entries(), 2u);

  EXPECT_EQ(t.lookup_in(tuple(v4(kClient), 40000, v4(kVip), 80)), e);
  // The real server answers the local address.
  EXPECT_EQ(t.lookup_out(tuple(v4(kRip), 8080, v4(kLaddr), 7001)), e);
  EXPECT_EQ(t.lookup_out_fullnat(tuple(v4(kRip), 8080, v4(kLaddr), 7001)), e);
  EXPECT_EQ(t.lookup_out_nat(tuple(v4(kRip), 8080, v4(kLaddr), 7001)), nullptr);
  // It never sees the client address.
  EXPECT_EQ(t.lookup_out(tuple(v4(kRip), 8080, v4(kClient), 40000)), nullptr);
  EXPECT_EQ(t.lookup_out(tuple(v4(kRip), 8080, v4(kLaddr), 7002)), nullptr);

  t.unlink(*e);
  EXPECT_EQ(t.index_entries(), 0u);
  EXPECT_EQ(t.lookup_out(tuple(v4(kRip), 8080, v4(kLaddr), 7001)), nullptr);
}

TEST(Table, FullNat64RepliesInTheDestFamily) {
  Table t(options(64));
  Conn* e = t.alloc();
  e->af = AF_INET6;
  e->daf = AF_INET;
  e->protocol = kProtoTcp;
  e->caddr = v6("2001:db8::1").bytes;
  e->cport = 1234;
  e->vaddr = v6("2001:db8::80").bytes;
  e->vport = 80;
  e->daddr = v4(kRip).bytes;
  e->dport = 80;
  e->laddr = v4(kLaddr).bytes;
  e->lport = 9000;
  e->flags = static_cast<uint16_t>(Fwd::kFullNat);
  ASSERT_TRUE(t.link(*e));
  EXPECT_EQ(t.lookup_out(tuple(v4(kRip), 80, v4(kLaddr), 9000)), e);
  EXPECT_EQ(t.lookup_in(tuple(v6("2001:db8::1"), 1234, v6("2001:db8::80"), 80)), e);
}

TEST(Table, NoCportEntriesMatchAnyClientPort) {
  Table t(options(64));
  Conn* e = add(t, v4(kClient), 0, v4(kVip), 21, v4(kRip), 21);
  // Not NO_CPORT: client port 0 is a port like any other, and no lookup finds it (kernel).
  EXPECT_EQ(t.no_cport_count(), 0u);
  EXPECT_EQ(t.lookup_in(tuple(v4(kClient), 1234, v4(kVip), 21)), nullptr);
  EXPECT_EQ(t.lookup_in(tuple(v4(kClient), 0, v4(kVip), 21)), nullptr);
  t.unlink(*e);
  e->flags |= kConnNoCport;
  ASSERT_TRUE(t.link(*e));
  EXPECT_EQ(t.no_cport_count(), 1u);
  EXPECT_EQ(t.lookup_in(tuple(v4(kClient), 1234, v4(kVip), 21)), e);
  EXPECT_EQ(t.lookup_in(tuple(v4(kClient), 0, v4(kVip), 21)), e);
  EXPECT_EQ(t.lookup_in(tuple(v4(kClient), 1234, v4(kVip), 22)), nullptr);

  // An exact entry wins over the NO_CPORT one.
  Conn* exact = add(t, v4(kClient), 1234, v4(kVip), 21, v4(kRip), 21);
  EXPECT_EQ(t.lookup_in(tuple(v4(kClient), 1234, v4(kVip), 21)), exact);
  EXPECT_EQ(t.lookup_in(tuple(v4(kClient), 1235, v4(kVip), 21)), e);

  t.unlink(*e);
  EXPECT_EQ(t.no_cport_count(), 0u);
  EXPECT_EQ(t.lookup_in(tuple(v4(kClient), 1235, v4(kVip), 21)), nullptr);
}

TEST(Table, TemplatesAreFoundOnlyByTemplateKey) {
  Table t(options(64));
  Conn* tpl = add(t, v4(0x0B000000), 0, v4(kVip), 80, v4(kRip), 80);
  t.unlink(*tpl);
  tpl->flags |= kConnTemplate;
  ASSERT_TRUE(t.link(*tpl));

  TemplateKey k;
  k.af = AF_INET;
  k.protocol = kProtoTcp;
  k.snet = v4(0x0B000000).bytes;
  k.vaddr = v4(kVip).bytes;
  k.vport = 80;
  EXPECT_EQ(t.lookup_template(k), tpl);
  EXPECT_EQ(t.lookup_in(tuple(v4(0x0B000000), 0, v4(kVip), 80)), nullptr);
  EXPECT_EQ(t.lookup_out(tuple(v4(kRip), 80, v4(0x0B000000), 0)), nullptr);
  k.vport = 0;
  EXPECT_EQ(t.lookup_template(k), nullptr);
  k.vport = 80;
  k.protocol = kProtoUdp;
  EXPECT_EQ(t.lookup_template(k), nullptr);

  // A connection with the template's key fields is not a template.
  Conn* conn = add(t, v4(0x0B000001), 0, v4(kVip), 80, v4(kRip), 80);
  (void)conn;
  k.protocol = kProtoTcp;
  k.snet = v4(0x0B000001).bytes;
  EXPECT_EQ(t.lookup_template(k), nullptr);
}

TEST(Table, FullTableRefusesAndNeverGrows) {
  Table t(options(8));
  const size_t bytes = t.memory_bytes();
  std::vector<Conn*> entries;
  for (int i = 0; i < 8; ++i) {
    Conn* e = add(t, v4(kClient + i), 1000, v4(kVip), 80, v4(kRip), 80);
    ASSERT_NE(e, nullptr);
    entries.push_back(e);
  }
  EXPECT_EQ(t.size(), 8u);
  EXPECT_EQ(t.available(), 0u);
  EXPECT_EQ(t.alloc(), nullptr);
  EXPECT_EQ(t.alloc(), nullptr);
  EXPECT_EQ(t.memory_bytes(), bytes);

  t.unlink(*entries[3]);
  t.free(*entries[3]);
  EXPECT_EQ(t.available(), 1u);
  Conn* again = t.alloc();
  EXPECT_EQ(again, entries[3]);  // the slot just freed, still warm
  EXPECT_TRUE(again->in_use());
  EXPECT_EQ(again->control, kNoConn);
  EXPECT_EQ(again->flags, 0);
  EXPECT_EQ(t.alloc(), nullptr);
  for (int i = 0; i < 8; ++i) {
    if (i == 3) continue;
    EXPECT_EQ(t.lookup_in(tuple(v4(kClient + i), 1000, v4(kVip), 80)), entries[i]);
  }
}

TEST(Table, IndexSizedForOneTupleRefusesWhenItIsFull) {
  // FULLNAT connections in an index sized for one key per connection: the index, not the
  // pool, runs out, and link() says so instead of degrading.
  Table t(options(100, /*tuples=*/1));
  int linked = 0;
  for (uint32_t i = 0; i < 100; ++i) {
    Conn* e = t.alloc();
    ASSERT_NE(e, nullptr);
    e->af = e->daf = AF_INET;
    e->protocol = kProtoTcp;
    e->caddr = v4(kClient + i).bytes;
    e->cport = 1000;
    e->laddr = v4(kLaddr).bytes;
    e->lport = static_cast<uint16_t>(5000 + i);
    e->flags = static_cast<uint16_t>(Fwd::kFullNat);
    if (!t.link(*e)) break;
    ++linked;
  }
  EXPECT_LT(linked, 100);
  EXPECT_GT(linked, 40);
  EXPECT_LE(t.index_entries(), t.index_buckets() * Table::kSlotsPerBucket);
}

// Many entries in few buckets: every bucket overflows into the next; erasing in random order
// must keep every survivor reachable and forget every erased entry.
TEST(Table, OverflowChainsSurviveRandomErase) {
  constexpr uint32_t kN = 5000;
  Table t(options(kN, /*tuples=*/1));
  std::vector<Conn*> entries;
  for (uint32_t i = 0; i < kN; ++i) {
    Conn* e = add(t, v4(kClient + i / 50), static_cast<uint16_t>(1024 + i % 50), v4(kVip), 80,
                  v4(kRip), 80);
    ASSERT_NE(e, nullptr);
    entries.push_back(e);
  }
  EXPECT_EQ(t.size(), kN);
  std::mt19937 rng(1);
  std::vector<uint32_t> order(kN);
  for (uint32_t i = 0; i < kN; ++i) order[i] = i;
  std::shuffle(order.begin(), order.end(), rng);
  std::set<uint32_t> erased;
  for (uint32_t k = 0; k < kN; ++k) {
    const uint32_t i = order[k];
    t.unlink(*entries[i]);
    t.free(*entries[i]);
    erased.insert(i);
    if (k % 500 == 0 || k > kN - 20) {
      for (uint32_t j = 0; j < kN; ++j) {
        Conn* got = t.lookup_in(
            tuple(v4(kClient + j / 50), static_cast<uint16_t>(1024 + j % 50), v4(kVip), 80));
        if (erased.count(j)) {
          ASSERT_EQ(got, nullptr) << j;
        } else {
          ASSERT_EQ(got, entries[j]) << j;
        }
      }
    }
  }
  EXPECT_EQ(t.size(), 0u);
  EXPECT_EQ(t.index_entries(), 0u);
}

TEST(Table, ReusesFreedSlotsAtFullLoadForever) {
  // Churn at 100% of the pool for many generations: nothing leaks, lookups stay exact.
  constexpr uint32_t kN = 256;
  Table t(options(kN));
  std::vector<Conn*> live(kN, nullptr);
  std::vector<uint16_t> port(kN, 0);
  std::mt19937 rng(3);
  for (uint32_t round = 0; round < 20000; ++round) {
    const uint32_t i = rng() % kN;
    if (live[i] != nullptr) {
      t.unlink(*live[i]);
      t.free(*live[i]);
      live[i] = nullptr;
    }
    port[i] = static_cast<uint16_t>(1024 + rng() % 60000);
    live[i] = add(t, v4(kClient + i), port[i], v4(kVip), 80, v4(kRip), 80);
    ASSERT_NE(live[i], nullptr);
  }
  for (uint32_t i = 0; i < kN; ++i)
    EXPECT_EQ(t.lookup_in(tuple(v4(kClient + i), port[i], v4(kVip), 80)), live[i]);
}

TEST(Table, HashWithPrefetchMatchesPlainLookup) {
  Table t(options(64));
  Conn* e = add(t, v4(kClient), 40000, v4(kVip), 80, v4(kRip), 8080);
  const Tuple in = tuple(v4(kClient), 40000, v4(kVip), 80);
  const uint64_t h = t.hash_in(in);
  t.prefetch(h);
  t.prefetch_candidates(h);
  EXPECT_EQ(t.lookup_in_with_hash(h, in), e);
  const Tuple out = tuple(v4(kRip), 8080, v4(kClient), 40000);
  EXPECT_EQ(t.hash_out(out), h);  // one key for both directions
  EXPECT_EQ(t.lookup_out_with_hash(t.hash_out(out), out), e);
}

TEST(Table, SeedChangesTheHash) {
  TableOptions a = options(64), b = options(64);
  b.hash_seed = 43;
  Table ta(a), tb(b);
  const Tuple in = tuple(v4(kClient), 40000, v4(kVip), 80);
  EXPECT_NE(ta.hash_in(in), tb.hash_in(in));
}

}  // namespace
}  // namespace uvs::conn::test
