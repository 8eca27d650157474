// A backup's worker applying sync records (ip_vs_proc_conn()): connections and templates made
// as the master had them, bound to the local real server or left unbound until it appears,
// updated, replaced, and expired on the record's timeout.
#include "sync/apply.h"

#include <gtest/gtest.h>

#include "conn/state.h"
#include "sync/policy.h"
#include "tests/unit/conn/conn_test_util.h"

namespace uvs::sync {
namespace {

using namespace uvs::conn::test;
using conn::Conn;

class ApplyTest : public ::testing::Test {
 protected:
  ApplyTest() : tracker_(small_options(), 0) {}

  static sched::Dest* find(void* ctx, const SyncConn& r) {
    auto* self = static_cast<ApplyTest*>(ctx);
    for (sched::Dest* d : self->known_)
      if (d->key().port == r.dport && d->key().addr.bytes == r.daddr) return d;
    return nullptr;
  }

  SyncConn record(uint32_t rip, uint16_t dport, uint8_t state = conn::tcp::kEstablished) const {
    SyncConn r;
    r.protocol = kProtoTcp;
    r.flags = static_cast<uint32_t>(Fwd::kMasq);
    r.state = state;
    r.cport = 40000;
    r.vport = 80;
    r.dport = dport;
    r.timeout_s = 900;
    r.caddr = v4(kClient).bytes;
    r.vaddr = v4(kVip).bytes;
    r.daddr = v4(rip).bytes;
    return r;
  }
  Applied apply(const SyncConn& r) { return apply_record(tracker_, r, &find, this, 3, now_); }
  Conn* conn() {
    return tracker_.table().lookup_in(tuple(v4(kClient), 40000, v4(kVip), 80, kProtoTcp));
  }

  Dests dests_;
  std::vector<sched::Dest*> known_;
  conn::Tracker tracker_;
  uint64_t now_ = 0;
};

TEST_F(ApplyTest, AnEstablishedConnectionIsMadeAsTheMasterHadIt) {
  sched::Dest* d = dests_.add(v4(kRip), 8000);
  known_.push_back(d);
  EXPECT_EQ(apply(record(kRip, 8000)), Applied::kCreated);
  Conn* c = conn();
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->dest, d);
  EXPECT_EQ(c->state, conn::tcp::kEstablished);
  EXPECT_EQ(c->timeout_ms, 900 * kSec);
  EXPECT_EQ(c->in_pkts, 3u);
  EXPECT_TRUE(c->flags & conn::kConnSync);
  EXPECT_FALSE(c->inactive());
  EXPECT_EQ(c->dport, 8000);
  EXPECT_EQ(counts(d), (Counts{1, 0, 0}));
  // It lives out the record's timeout, not the 3 s of a new connection.
  now_ = 899 * kSec;
  tracker_.tick(now_, 1u << 30);
  EXPECT_EQ(conn(), c);
  now_ = 900 * kSec;
  tracker_.tick(now_, 1u << 30);
  EXPECT_EQ(conn(), nullptr);
  EXPECT_EQ(counts(d), (Counts{0, 0, 0}));
}

TEST_F(ApplyTest, WithoutItsRealServerTheConnectionWaitsUnboundAndBindsLater) {
  EXPECT_EQ(apply(record(kRip, 8000)), Applied::kCreated);
  Conn* c = conn();
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->dest, nullptr);
  EXPECT_TRUE(conn::addr_equal(c->daddr, v4(kRip).bytes));
  sched::Dest* d = dests_.add(v4(kRip), 8000, Fwd::kRoute);
  known_.push_back(d);
  EXPECT_EQ(apply(record(kRip, 8000)), Applied::kUpdated);
  EXPECT_EQ(c->dest, d);
  EXPECT_EQ(c->fwd(), Fwd::kRoute);  // the local real server's method, as ip_vs_bind_dest()
  EXPECT_TRUE(c->flags & conn::kConnNoOutput);
  EXPECT_EQ(counts(d), (Counts{1, 0, 0}));
}

TEST_F(ApplyTest, AnUpdateMovesActivityAndTheTimer) {
  sched::Dest* d = dests_.add(v4(kRip), 8000);
  known_.push_back(d);
  apply(record(kRip, 8000));
  SyncConn fin = record(kRip, 8000, conn::tcp::kTimeWait);
  fin.flags |= conn::kConnInactive;
  fin.timeout_s = 120;
  now_ = 10 * kSec;
  EXPECT_EQ(apply(fin), Applied::kUpdated);
  Conn* c = conn();
  EXPECT_EQ(c->state, conn::tcp::kTimeWait);
  EXPECT_TRUE(c->inactive());
  EXPECT_EQ(counts(d), (Counts{0, 1, 0}));
  now_ = 130 * kSec;
  tracker_.tick(now_, 1u << 30);
  EXPECT_EQ(conn(), nullptr);  // the shorter timeout took effect
}

TEST_F(ApplyTest, AnotherRealServerReplacesAnActiveOneAndIsIgnoredWhenInactive) {
  sched::Dest* a = dests_.add(v4(kRip), 8000);
  sched::Dest* b = dests_.add(v4(kRip + 1), 8000);
  known_ = {a, b};
  apply(record(kRip, 8000));
  SyncConn stale = record(kRip + 1, 8000);
  stale.flags |= conn::kConnInactive;
  EXPECT_EQ(apply(stale), Applied::kIgnored);
  EXPECT_EQ(conn()->dest, a);
  EXPECT_EQ(apply(record(kRip + 1, 8000)), Applied::kReplaced);
  EXPECT_EQ(conn()->dest, b);
  EXPECT_EQ(counts(a), (Counts{0, 0, 0}));
  EXPECT_EQ(counts(b), (Counts{1, 0, 0}));
}

TEST_F(ApplyTest, TemplatesAndFullNatStateComeWhole) {
  sched::Dest* d = dests_.add(v4(kRip), 8000, Fwd::kFullNat);
  known_.push_back(d);
  SyncConn tpl = record(kRip, 8000, conn::kTemplateAssured);
  tpl.flags = kFlagTemplate;
  tpl.cport = 0;
  tpl.timeout_s = 300;
  EXPECT_EQ(apply(tpl), Applied::kCreated);
  conn::TemplateKey key;
  key.snet = v4(kClient).bytes;
  key.vaddr = v4(kVip).bytes;
  key.vport = 80;
  key.protocol = kProtoTcp;
  Conn* t = tracker_.table().lookup_template(key);
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(t->timeout_ms, 300 * kSec);
  EXPECT_EQ(t->state, conn::kTemplateAssured);
  EXPECT_EQ(counts(d).persist, 1);

  SyncConn f = record(kRip, 8000);
  f.flags = static_cast<uint32_t>(Fwd::kFullNat);
  f.has_fnat = true;
  f.fnat.laddr = v4(kLaddr).bytes;
  f.fnat.lport = 5001;
  f.fnat.xflags = conn::kXFnatSeqDelta | conn::kXFnatToaDone;
  f.fnat.seq_delta = 0xdeadbeef;
  EXPECT_EQ(apply(f), Applied::kCreated);
  Conn* c = conn();
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->fwd(), Fwd::kFullNat);
  EXPECT_EQ(c->lport, 5001);
  EXPECT_TRUE(conn::addr_equal(c->laddr, v4(kLaddr).bytes));
  EXPECT_EQ(c->seq_delta, 0xdeadbeefu);
  EXPECT_EQ(c->xflags & (conn::kXFnatSeqDelta | conn::kXFnatToaDone),
            conn::kXFnatSeqDelta | conn::kXFnatToaDone);
  // What this backup would send on, as master, is what it was given.
  SyncConn again;
  ASSERT_TRUE(record_of(*c, again));
  EXPECT_EQ(again.fnat.seq_delta, 0xdeadbeefu);
  EXPECT_EQ(again.fnat.lport, 5001);
}

// Two directors of a cluster translated the same client (its SYN retransmitted after the
// router moved it): the record's local address and port win, and the entry is re-filed under
// its new reply key (edited in place, its expiry would search the old key's path forever).
TEST_F(ApplyTest, AnotherDirectorsFullNatTranslationReFilesTheEntry) {
  sched::Dest* d = dests_.add(v4(kRip), 8000, Fwd::kFullNat);
  known_.push_back(d);
  SyncConn mine = record(kRip, 8000);
  mine.flags = static_cast<uint32_t>(Fwd::kFullNat);
  mine.has_fnat = true;
  mine.fnat.laddr = v4(kLaddr).bytes;
  mine.fnat.lport = 5001;
  ASSERT_EQ(apply(mine), Applied::kCreated);
  SyncConn theirs = mine;
  theirs.fnat.laddr = v4(kLaddr + 1).bytes;
  theirs.fnat.lport = 6002;
  EXPECT_EQ(apply(theirs), Applied::kUpdated);
  Conn* c = conn();
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(tracker_.table().lookup_out_fullnat(
                tuple(v4(kRip), 8000, v4(kLaddr + 1), 6002, kProtoTcp)), c);
  EXPECT_EQ(tracker_.table().lookup_out_fullnat(
                tuple(v4(kRip), 8000, v4(kLaddr), 5001, kProtoTcp)), nullptr);
  now_ = 900 * kSec;
  tracker_.tick(now_, 1u << 30);  // expires (and returns) instead of looping
  EXPECT_EQ(conn(), nullptr);
  EXPECT_EQ(tracker_.table().size(), 0u);
}

// A FULLNAT entry that arrived before its real server was configured: binding gives it its
// reply key, filed as any other (the ordering a cluster director that joins sees).
TEST_F(ApplyTest, AFullNatEntryBoundLaterIsFoundByItsRepliesAndExpires) {
  SyncConn f = record(kRip, 8000);
  f.flags = static_cast<uint32_t>(Fwd::kMasq);  // what a kernel-format record names
  f.has_fnat = true;
  f.fnat.laddr = v4(kLaddr).bytes;
  f.fnat.lport = 5001;
  ASSERT_EQ(apply(f), Applied::kCreated);
  sched::Dest* d = dests_.add(v4(kRip), 8000, Fwd::kFullNat);
  known_.push_back(d);
  EXPECT_EQ(apply(f), Applied::kUpdated);
  Conn* c = conn();
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->fwd(), Fwd::kFullNat);
  EXPECT_TRUE(c->flags & conn::kConnHashed);
  EXPECT_EQ(tracker_.table().lookup_out_fullnat(
                tuple(v4(kRip), 8000, v4(kLaddr), 5001, kProtoTcp)), c);
  now_ = 900 * kSec;
  tracker_.tick(now_, 1u << 30);
  EXPECT_EQ(conn(), nullptr);
  EXPECT_EQ(tracker_.table().size(), 0u);
}

TEST_F(ApplyTest, AVersionZeroRecordTakesTheStatesTimeout) {
  SyncConn r = record(kRip, 8000);
  r.timeout_s = 0;
  apply(r);
  EXPECT_EQ(conn()->timeout_ms, 15 * 60 * kSec);  // TCP ESTABLISHED's default
}

TEST_F(ApplyTest, AFullTableIsSaid) {
  conn::Tracker tiny(small_options(1), 0);
  EXPECT_EQ(apply_record(tiny, record(kRip, 8000), &find, this, 3, 0), Applied::kCreated);
  SyncConn other = record(kRip, 8000);
  other.cport = 40001;
  EXPECT_EQ(apply_record(tiny, other, &find, this, 3, 0), Applied::kTableFull);
}

}  // namespace
}  // namespace uvs::sync
