// When a master announces a connection (ip_vs_sync_conn_needed()) and what the record holds.
#include "sync/policy.h"

#include <gtest/gtest.h>
#include <netinet/in.h>

#include <vector>

#include "conn/state.h"

namespace uvs::sync {
namespace {

conn::Conn tcp_conn(uint8_t state) {
  conn::Conn c{};
  c.af = c.daf = AF_INET;
  c.protocol = IPPROTO_TCP;
  c.state = state;
  c.old_state = conn::tcp::kNone;
  c.control = conn::kNoConn;
  return c;
}

// The input packets at which a connection staying in its state is synced.
std::vector<uint32_t> synced_at(conn::Conn c, const SyncSettings& s, uint32_t upto) {
  std::vector<uint32_t> at;
  for (uint32_t pkts = 1; pkts <= upto; ++pkts)
    if (sync_needed(c, s, pkts, false)) at.push_back(pkts);
  return at;
}

TEST(SyncPolicy, AnEstablishedConnectionGoesAtTheThirdPacketThenEveryFiftieth) {
  EXPECT_EQ(synced_at(tcp_conn(conn::tcp::kEstablished), {}, 160),
            (std::vector<uint32_t>{3, 53, 103, 153}));
  conn::Conn udp = tcp_conn(conn::udp::kNormal);
  udp.protocol = IPPROTO_UDP;
  EXPECT_EQ(synced_at(udp, {}, 60), (std::vector<uint32_t>{3, 53}));
  EXPECT_EQ(synced_at(tcp_conn(conn::tcp::kEstablished), {.threshold = 2, .period = 0}, 100),
            (std::vector<uint32_t>{2}));
}

TEST(SyncPolicy, HalfOpenConnectionsAreNeverAnnounced) {
  for (uint8_t state : {conn::tcp::kSynRecv, conn::tcp::kSynSent, conn::tcp::kNone,
                        conn::tcp::kLastAck, conn::tcp::kListen})
    EXPECT_TRUE(synced_at(tcp_conn(state), {}, 120).empty()) << int(state);
  conn::Conn sctp = tcp_conn(conn::sctp::kCookieEchoed);
  sctp.protocol = IPPROTO_SCTP;
  EXPECT_TRUE(synced_at(sctp, {}, 120).empty());
}

TEST(SyncPolicy, LeavingEstablishedIsAnnouncedAtOnceAndOnce) {
  conn::Conn c = tcp_conn(conn::tcp::kEstablished);
  EXPECT_TRUE(sync_needed(c, {}, 3, false));
  c.state = conn::tcp::kFinWait;
  EXPECT_TRUE(sync_needed(c, {}, 10, false));   // the state changed: now, whatever the count
  EXPECT_FALSE(sync_needed(c, {}, 11, false));  // same state again: back to the period rule
  c.state = conn::tcp::kTimeWait;
  EXPECT_TRUE(sync_needed(c, {}, 12, false));
}

TEST(SyncPolicy, TemplatesGoWheneverTheirConnectionDoesAndPersistModeKeepsOnlyThem) {
  conn::Conn tpl = tcp_conn(conn::kTemplateNone);
  tpl.flags = conn::kConnTemplate;
  EXPECT_TRUE(sync_needed(tpl, {}, 7, false));
  EXPECT_TRUE(sync_needed(tpl, {}, 8, false));
  conn::Conn c = tcp_conn(conn::tcp::kEstablished);
  EXPECT_TRUE(sync_needed(c, {.persist_mode = false}, 3, true));
  EXPECT_FALSE(sync_needed(c, {.persist_mode = true}, 53, true));
  EXPECT_TRUE(sync_needed(c, {.persist_mode = true}, 103, false));
}

TEST(SyncPolicy, AFullNatRecordCarriesItsLocalSideAndShift) {
  conn::Conn c = tcp_conn(conn::tcp::kEstablished);
  c.flags = static_cast<uint16_t>(Fwd::kFullNat) | conn::kConnHashed;
  c.cport = 40000;
  c.vport = 80;
  c.dport = 8000;
  c.timeout_ms = 900'000;
  c.laddr = {172, 17, 0, 254};
  c.lport = 5001;
  c.xflags = conn::kXInUse | conn::kXFnatSeqDelta | conn::kXFnatToaDone;
  c.seq_delta = 12345;
  SyncConn r;
  ASSERT_TRUE(record_of(c, r));
  EXPECT_EQ(r.timeout_s, 900u);
  EXPECT_EQ(r.cport, 40000);
  ASSERT_TRUE(r.has_fnat);
  EXPECT_EQ(r.fnat.lport, 5001);
  EXPECT_EQ(r.fnat.xflags, conn::kXFnatSeqDelta | conn::kXFnatToaDone);  // not kXInUse
  EXPECT_EQ(r.fnat.seq_delta, 12345u);
  EXPECT_EQ(r.fnat.laddr, c.laddr);
  c.daf = AF_INET6;  // an IPv4 service on an IPv6 real server: the format has no room for it
  EXPECT_FALSE(record_of(c, r));
}

}  // namespace
}  // namespace uvs::sync
