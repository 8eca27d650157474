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

// With no refresh period the kernel's rule ignores the end time.
bool needed(conn::Conn& c, const SyncSettings& s, uint32_t pkts, bool in_persistence) {
  uint32_t sync_endtime = 0;
  return sync_needed(c, s, pkts, in_persistence, sync_endtime, 0);
}

// The input packets at which a connection staying in its state is synced.
std::vector<uint32_t> synced_at(conn::Conn c, const SyncSettings& s, uint32_t upto) {
  std::vector<uint32_t> at;
  for (uint32_t pkts = 1; pkts <= upto; ++pkts)
    if (needed(c, s, pkts, false)) at.push_back(pkts);
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

// sync_refresh_period: a connection that stays busy is announced again only when the backup's
// copy would expire a refresh period apart from the master's, plus sync_retries resends an
// eighth of the period apart. One packet every 500 ms, sync_period 0.
TEST(SyncPolicy, ARefreshPeriodSpacesTheAnnouncementsAndRetriesResend) {
  auto announced_at = [](int retries) {
    conn::Conn c = tcp_conn(conn::tcp::kEstablished);
    c.old_state = c.state;
    c.timeout_ms = 900'000;
    const SyncSettings s{.threshold = 3, .period = 0, .refresh_period_ms = 60'000, .retries = retries};
    uint32_t endtime = 0;  // as a new connection's: created at 0
    std::vector<uint32_t> at;
    uint32_t pkts = 0;
    for (uint32_t now = 0; now <= 130'000; now += 500)
      if (sync_needed(c, s, ++pkts, false, endtime, now)) at.push_back(now);
    return at;
  };
  EXPECT_EQ(announced_at(0), (std::vector<uint32_t>{0, 60'000, 120'000}));
  EXPECT_EQ(announced_at(2), (std::vector<uint32_t>{0, 7'500, 15'500, 76'000, 83'500, 91'500}));
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
  EXPECT_TRUE(needed(c, {}, 3, false));
  c.state = conn::tcp::kFinWait;
  EXPECT_TRUE(needed(c, {}, 10, false));   // the state changed: now, whatever the count
  EXPECT_FALSE(needed(c, {}, 11, false));  // same state again: back to the period rule
  c.state = conn::tcp::kTimeWait;
  EXPECT_TRUE(needed(c, {}, 12, false));
}

TEST(SyncPolicy, TemplatesGoWheneverTheirConnectionDoesAndPersistModeKeepsOnlyThem) {
  conn::Conn tpl = tcp_conn(conn::kTemplateNone);
  tpl.flags = conn::kConnTemplate;
  EXPECT_TRUE(needed(tpl, {}, 7, false));
  EXPECT_TRUE(needed(tpl, {}, 8, false));
  conn::Conn c = tcp_conn(conn::tcp::kEstablished);
  EXPECT_TRUE(needed(c, {.persist_mode = false}, 3, true));
  EXPECT_FALSE(needed(c, {.persist_mode = true}, 53, true));
  EXPECT_TRUE(needed(c, {.persist_mode = true}, 103, false));
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
