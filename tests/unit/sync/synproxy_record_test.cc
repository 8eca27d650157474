// A connection the SYN proxy opened keeps its sequence shift across a failover or a takeover:
// the master's record carries it (the FULLNAT option, NAT too) and the backup's entry gets it.
#include <gtest/gtest.h>

#include "sync/apply.h"
#include "sync/policy.h"
#include "tests/unit/conn/conn_test_util.h"

namespace uvs::sync {
namespace {

using namespace uvs::conn::test;

sched::Dest* g_dest = nullptr;
sched::Dest* find(void*, const SyncConn&) { return g_dest; }

TEST(SyncSynproxy, AProxiedNatConnectionsShiftTravelsAndIsApplied) {
  Dests dests;
  g_dest = dests.add(v4(kRip), 8000);
  conn::Tracker master(small_options(), 0);
  conn::ConnParams p = conn::ConnParams::from_packet(
      tuple(v4(kClient), 40000, v4(kVip), 80, kProtoTcp));
  conn::Conn* c = master.create(p, g_dest, 8000, nullptr, 0);
  ASSERT_NE(c, nullptr);
  c->state = conn::tcp::kEstablished;
  c->xflags |= conn::kXSynproxySeq;
  c->seq_delta = 0x80000001u;
  SyncConn r;
  ASSERT_TRUE(record_of(*c, r));
  ASSERT_TRUE(r.has_fnat);
  EXPECT_EQ(r.fnat.xflags, conn::kXSynproxySeq);
  EXPECT_EQ(r.fnat.seq_delta, 0x80000001u);

  conn::Tracker backup(small_options(), 0);
  EXPECT_EQ(apply_record(backup, r, &find, nullptr, 3, 0), Applied::kCreated);
  conn::Conn* b = backup.table().lookup_in(tuple(v4(kClient), 40000, v4(kVip), 80, kProtoTcp));
  ASSERT_NE(b, nullptr);
  EXPECT_EQ(b->fwd(), Fwd::kMasq);
  EXPECT_TRUE(b->xflags & conn::kXSynproxySeq);
  EXPECT_FALSE(b->xflags & conn::kXFnatSeqDelta);
  EXPECT_EQ(b->seq_delta, 0x80000001u);
  EXPECT_TRUE(conn::addr_equal(b->laddr, conn::AddrBytes{}));  // NAT: no local side
}

TEST(SyncSynproxy, APlainNatConnectionCarriesNoOption) {
  Dests dests;
  g_dest = dests.add(v4(kRip), 8000);
  conn::Tracker master(small_options(), 0);
  conn::Conn* c = master.create(conn::ConnParams::from_packet(
                                    tuple(v4(kClient), 40000, v4(kVip), 80, kProtoTcp)),
                                g_dest, 8000, nullptr, 0);
  ASSERT_NE(c, nullptr);
  c->state = conn::tcp::kEstablished;
  SyncConn r;
  ASSERT_TRUE(record_of(*c, r));
  EXPECT_FALSE(r.has_fnat);
}

}  // namespace
}  // namespace uvs::sync
