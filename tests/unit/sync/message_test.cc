// The sync wire format against bytes laid out by hand from ip_vs_sync.c's structures
// (struct ip_vs_sync_mesg, ip_vs_sync_v4/v6, the options), and a backup's reading of good,
// damaged and hostile messages.
#include "sync/message.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>

#include <vector>

namespace uvs::sync {
namespace {

using Bytes = std::vector<uint8_t>;

std::array<uint8_t, 16> v4(const char* text) {
  std::array<uint8_t, 16> a{};
  inet_pton(AF_INET, text, a.data());
  return a;
}
std::array<uint8_t, 16> v6(const char* text) {
  std::array<uint8_t, 16> a{};
  inet_pton(AF_INET6, text, a.data());
  return a;
}

// 10.99.1.2:40000 -> 192.168.56.102:80 -> 172.17.0.2:8000, NAT, ESTABLISHED, 900 s.
SyncConn tcp_v4() {
  SyncConn c;
  c.protocol = IPPROTO_TCP;
  c.flags = 0x0000;  // IP_VS_CONN_F_MASQ
  c.state = 1;       // IP_VS_TCP_S_ESTABLISHED
  c.cport = 40000;
  c.vport = 80;
  c.dport = 8000;
  c.timeout_s = 900;
  c.caddr = v4("10.99.1.2");
  c.vaddr = v4("192.168.56.102");
  c.daddr = v4("172.17.0.2");
  return c;
}

Bytes bytes_of(const MessageBuilder& b) { return {b.bytes().begin(), b.bytes().end()}; }

std::vector<SyncConn> read(const Bytes& msg, ReadStats& stats, uint8_t syncid = 0) {
  std::vector<SyncConn> out(kMaxConnsPerMessage);
  out.resize(read_message(msg, syncid, out, stats));
  return out;
}

uint64_t rejected(const ReadStats& s, Reject r) { return s.rejects[static_cast<size_t>(r)]; }

TEST(SyncMessage, AnIpv4RecordIsLaidOutAsIpVsSyncV4) {
  MessageBuilder b(/*syncid=*/7, 1472);
  SyncConn c = tcp_v4();
  c.flags |= 0x0040 | 0x0100;  // HASHED never travels; INACTIVE does
  c.fwmark = 0x01020304;
  ASSERT_TRUE(b.add(c));
  const Bytes want = {
      0x00, 0x07, 0x00, 0x2c, 0x01, 0x01, 0x00, 0x00,  // reserved, syncid, size 44, 1 conn, v1
      0x00, 0x06, 0x00, 0x24,                          // type v4, TCP, ver_size 0|36
      0x00, 0x00, 0x01, 0x00,                          // flags: INACTIVE
      0x00, 0x01, 0x9c, 0x40, 0x00, 0x50, 0x1f, 0x40,  // state 1, cport, vport, dport
      0x01, 0x02, 0x03, 0x04, 0x00, 0x00, 0x03, 0x84,  // fwmark, timeout 900
      10, 99, 1, 2, 192, 168, 56, 102, 172, 17, 0, 2,  // caddr, vaddr, daddr
  };
  EXPECT_EQ(bytes_of(b), want);
}

TEST(SyncMessage, AnIpv6RecordIsSeventyTwoBytesWithTheTypeBit) {
  MessageBuilder b(0, 1452);
  SyncConn c = tcp_v4();
  c.inet6 = true;
  c.caddr = v6("2001:db8:1::2");
  c.vaddr = v6("2001:db8:56::102");
  c.daddr = v6("2001:db8:17::2");
  ASSERT_TRUE(b.add(c));
  const Bytes m = bytes_of(b);
  ASSERT_EQ(m.size(), kHeaderV1 + kRecordV6);
  EXPECT_EQ(m[8], kTypeInet6);
  EXPECT_EQ(m[10], 0x00);
  EXPECT_EQ(m[11], 72);
  EXPECT_EQ(Bytes(m.begin() + 32, m.begin() + 48), Bytes(c.caddr.begin(), c.caddr.end()));
  EXPECT_EQ(Bytes(m.begin() + 64, m.end()), Bytes(c.daddr.begin(), c.daddr.end()));
  ReadStats stats;
  const auto got = read(m, stats);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_TRUE(got[0].inet6);
  EXPECT_EQ(got[0].vaddr, c.vaddr);
}

// ip_vs_sync_conn(): a record starts 4-byte aligned, the padding before it is zero and is
// counted in the message size; the last record is not padded.
TEST(SyncMessage, OptionsAndPaddingBetweenRecords) {
  MessageBuilder b(0, 1472);
  SyncConn seq = tcp_v4();
  seq.flags |= 0x0600;
  seq.has_seq = true;
  seq.in_seq = {1000, 5, 3};
  seq.out_seq = {2000, 0xfffffffb, 0};
  ASSERT_TRUE(b.add(seq));  // 36 + 2 + 24 = 62 bytes
  ASSERT_TRUE(b.add(tcp_v4()));
  const Bytes m = bytes_of(b);
  ASSERT_EQ(m.size(), 8u + 62 + 2 + 36);
  EXPECT_EQ((m[2] << 8) | m[3], static_cast<int>(m.size()));
  EXPECT_EQ(m[11], 62);
  EXPECT_EQ(m[8 + 36], kOptSeqData);
  EXPECT_EQ(m[8 + 37], 24);
  EXPECT_EQ(Bytes(m.begin() + 8 + 38, m.begin() + 8 + 50),
            (Bytes{0, 0, 0x03, 0xe8, 0, 0, 0, 5, 0, 0, 0, 3}));
  EXPECT_EQ(m[70], 0);
  EXPECT_EQ(m[71], 0);
  EXPECT_EQ(m[72], 0x00);  // the next record's type, aligned
  EXPECT_EQ(m[75], 36);
  ReadStats stats;
  const auto got = read(m, stats);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_TRUE(got[0].has_seq);
  EXPECT_EQ(got[0].out_seq.delta, 0xfffffffbu);
  EXPECT_EQ(got[0].in_seq.previous_delta, 3u);
  EXPECT_FALSE(got[1].has_seq);
  EXPECT_EQ(stats.records, 2u);
}

TEST(SyncMessage, FullNatStateTravelsInAnOptionalParameter) {
  MessageBuilder b(0, 1472);
  SyncConn c = tcp_v4();
  c.flags = 0x0005;  // uvs's FULLNAT forwarding value
  c.has_fnat = true;
  c.fnat.laddr = v4("172.17.0.254");
  c.fnat.lport = 5001;
  c.fnat.xflags = 0x50;
  c.fnat.seq_delta = 0x80000001;
  ASSERT_TRUE(b.add(c));
  const Bytes m = bytes_of(b);
  ASSERT_EQ(m.size(), 8u + 36 + 2 + 12);
  EXPECT_EQ(m[44] & kOptParam, kOptParam);  // a kernel backup skips it as optional
  EXPECT_EQ(m[45], 12);
  ReadStats stats;
  const auto got = read(m, stats);
  ASSERT_EQ(got.size(), 1u);
  ASSERT_TRUE(got[0].has_fnat);
  EXPECT_EQ(got[0].fnat.laddr, c.fnat.laddr);
  EXPECT_EQ(got[0].fnat.lport, 5001);
  EXPECT_EQ(got[0].fnat.xflags, 0x50);
  EXPECT_EQ(got[0].fnat.seq_delta, 0x80000001u);
}

TEST(SyncMessage, AMessageHoldsWhatSyncMaxlenAndTheCountAllow) {
  MessageBuilder b(0, 1472);  // sync_maxlen's default for IPv4: 1500 - 28
  int n = 0;
  while (b.add(tcp_v4())) ++n;
  EXPECT_EQ(n, (1472 - 8) / 36);
  EXPECT_LE(b.bytes().size(), 1472u);
  b.reset();
  EXPECT_TRUE(b.empty());
  EXPECT_EQ(b.bytes().size(), kHeaderV1);
  MessageBuilder big(0, 65535);
  n = 0;
  while (big.add(tcp_v4())) ++n;
  EXPECT_EQ(n, 255);  // nr_conns is one byte
}

TEST(SyncMessage, FlagsAreMaskedAsABackupTakesThem) {
  MessageBuilder b(0, 1472);
  SyncConn c = tcp_v4();
  c.flags = 0x0002 | 0x0020 | 0x0080 | 0x0800 | 0x2000 | 0x10000;  // TUN|SYNC|NOOUTPUT|NO_CPORT|..
  ASSERT_TRUE(b.add(c));
  ReadStats stats;
  const auto got = read(bytes_of(b), stats);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].flags, 0x0002u | 0x0080 | 0x0800);
}

TEST(SyncMessage, ABadHeaderDropsTheMessage) {
  MessageBuilder b(9, 1472);
  ASSERT_TRUE(b.add(tcp_v4()));
  Bytes m = bytes_of(b);
  ReadStats stats;
  EXPECT_TRUE(read(Bytes{0, 9, 0}, stats).empty());
  EXPECT_EQ(rejected(stats, Reject::kHeaderShort), 1u);
  Bytes longer = m;
  longer.push_back(0);
  EXPECT_TRUE(read(longer, stats).empty());
  EXPECT_EQ(rejected(stats, Reject::kBadSize), 1u);
  EXPECT_TRUE(read(m, stats, /*syncid=*/8).empty());
  EXPECT_EQ(rejected(stats, Reject::kSyncid), 1u);
  EXPECT_EQ(read(m, stats, /*syncid=*/9).size(), 1u);
  EXPECT_EQ(read(m, stats, /*syncid=*/0).size(), 1u);
  EXPECT_EQ(stats.messages, 2u);
}

// Build a message of two records and damage the first: what the kernel drops with it.
class Damaged : public ::testing::Test {
 protected:
  void SetUp() override {
    MessageBuilder b(0, 1472);
    ASSERT_TRUE(b.add(tcp_v4()));
    ASSERT_TRUE(b.add(tcp_v4()));
    msg_ = bytes_of(b);
  }
  // Appends an option to the first record (and moves the second), fixing up the sizes.
  void add_option(Bytes option) {
    const size_t first_len = 36 + option.size();
    msg_.insert(msg_.begin() + 8 + 36, option.begin(), option.end());
    const size_t pad = (4 - (8 + first_len)) & 3;
    msg_.insert(msg_.begin() + 8 + static_cast<long>(first_len), pad, 0);
    msg_[11] = static_cast<uint8_t>(first_len);
    msg_[2] = static_cast<uint8_t>(msg_.size() >> 8);
    msg_[3] = static_cast<uint8_t>(msg_.size());
  }
  Bytes msg_;
  ReadStats stats_;
};

TEST_F(Damaged, AnUnknownMandatoryOptionSkipsTheRecordAlone) {
  add_option({0x05, 2, 0xaa, 0xbb});
  EXPECT_EQ(read(msg_, stats_).size(), 1u);
  EXPECT_EQ(rejected(stats_, Reject::kUnknownOption), 1u);
}

TEST_F(Damaged, ATypeWithUnknownBitsDropsTheRest) {
  msg_[8] = 0x02;
  EXPECT_TRUE(read(msg_, stats_).empty());
  EXPECT_EQ(rejected(stats_, Reject::kRecordMalformed), 1u);
}

TEST_F(Damaged, AnUnknownOptionalOptionIsIgnored) {
  add_option({0x45, 2, 0xaa, 0xbb});
  EXPECT_EQ(read(msg_, stats_).size(), 2u);
}

TEST_F(Damaged, ASequenceOptionOfTheWrongSizeDropsTheRest) {
  add_option({kOptSeqData, 4, 0, 0, 0, 0});
  EXPECT_TRUE(read(msg_, stats_).empty());
  EXPECT_EQ(rejected(stats_, Reject::kRecordMalformed), 1u);
}

TEST_F(Damaged, AnOptionRunningPastItsRecordDropsTheRest) {
  add_option({0x45, 200, 0, 0});
  EXPECT_TRUE(read(msg_, stats_).empty());
  EXPECT_EQ(rejected(stats_, Reject::kRecordMalformed), 1u);
}

TEST_F(Damaged, AZeroLengthOptionDropsTheRest) {
  add_option({0x45, 0, 0, 0});
  EXPECT_TRUE(read(msg_, stats_).empty());
}

TEST_F(Damaged, PersistenceEngineDataSkipsTheRecordAlone) {
  add_option({kOptPeData, 4, 'c', 'a', 'l', 'l', kOptPeName, 3, 's', 'i', 'p'});
  const auto got = read(msg_, stats_);
  EXPECT_EQ(got.size(), 1u);
  EXPECT_EQ(rejected(stats_, Reject::kPe), 1u);
}

TEST_F(Damaged, APersistenceEngineNameAloneIsNoObstacle) {
  add_option({kOptPeName, 3, 's', 'i', 'p'});
  EXPECT_EQ(read(msg_, stats_).size(), 2u);
}

TEST_F(Damaged, AnUnknownProtocolOrStateSkipsTheRecordAlone) {
  msg_[9] = 51;  // AH: not a protocol uvs balances
  EXPECT_EQ(read(msg_, stats_).size(), 1u);
  EXPECT_EQ(rejected(stats_, Reject::kProtocol), 1u);
  msg_[9] = IPPROTO_UDP;
  msg_[17] = 1;  // UDP has one state
  EXPECT_EQ(read(msg_, stats_).size(), 1u);
  EXPECT_EQ(rejected(stats_, Reject::kState), 1u);
  msg_[14] |= 0x10;  // TEMPLATE (0x1000): a template's state is not checked
  EXPECT_EQ(read(msg_, stats_).size(), 2u);
}

TEST_F(Damaged, ARecordSizeBeyondTheMessageOrAnotherVersionDropsTheRest) {
  msg_[11] = 200;
  EXPECT_TRUE(read(msg_, stats_).empty());
  EXPECT_EQ(rejected(stats_, Reject::kRecordOverrun), 1u);
  msg_[11] = 36;
  msg_[10] = 0x10;  // record version 1
  EXPECT_TRUE(read(msg_, stats_).empty());
  EXPECT_EQ(rejected(stats_, Reject::kRecordVersion), 1u);
  msg_[10] = 0;
  msg_[11] = 20;  // smaller than the fixed part
  EXPECT_TRUE(read(msg_, stats_).empty());
  EXPECT_EQ(rejected(stats_, Reject::kRecordMalformed), 1u);
}

TEST_F(Damaged, ACountBeyondTheRecordsKeepsWhatWasThere) {
  msg_[4] = 3;
  EXPECT_EQ(read(msg_, stats_).size(), 2u);
  EXPECT_EQ(rejected(stats_, Reject::kRecordShort), 1u);
}

TEST_F(Damaged, AnIpv6TypeOnAnIpv4SizedRecordDropsTheRest) {
  msg_[8] = kTypeInet6;
  EXPECT_TRUE(read(msg_, stats_).empty());
  EXPECT_EQ(rejected(stats_, Reject::kRecordMalformed), 1u);
}

// struct ip_vs_sync_mesg_v0 and ip_vs_sync_conn_v0, as a kernel with sync_version=0 sends them.
TEST(SyncMessageV0, RecordsWithAndWithoutSequenceData) {
  Bytes m = {
      2, 3, 0, 0,                                      // 2 conns, syncid 3, size (below)
      0, IPPROTO_TCP, 0x9c, 0x40, 0x00, 0x50, 0x1f, 0x40,  // reserved, proto, ports
      10, 99, 1, 2, 192, 168, 56, 102, 172, 17, 0, 2,  // caddr, vaddr, daddr
      0x06, 0x40, 0x00, 0x01,                          // flags SEQ|HASHED, state ESTABLISHED
  };
  for (uint32_t v : {1000u, 5u, 3u, 2000u, 0u, 0u})  // raw struct ip_vs_seq, little-endian
    for (int i = 0; i < 4; ++i) m.push_back(static_cast<uint8_t>(v >> (8 * i)));
  const Bytes plain = {0, IPPROTO_UDP, 0x13, 0x88, 0x00, 0x35, 0x00, 0x35,
                       10, 99, 1, 3, 192, 168, 56, 102, 172, 17, 0, 3, 0x00, 0x03, 0x00, 0x00};
  m.insert(m.end(), plain.begin(), plain.end());
  m[3] = static_cast<uint8_t>(m.size());
  ReadStats stats;
  const auto got = read(m, stats);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].protocol, IPPROTO_TCP);
  EXPECT_EQ(got[0].cport, 40000);
  EXPECT_EQ(got[0].flags, 0x0600u);
  EXPECT_TRUE(got[0].has_seq);
  EXPECT_EQ(got[0].in_seq.init_seq, 1000u);
  EXPECT_EQ(got[0].out_seq.init_seq, 2000u);
  EXPECT_EQ(got[0].timeout_s, 0u);  // v0 carries none: the backup uses the state's
  EXPECT_EQ(got[1].protocol, IPPROTO_UDP);
  EXPECT_EQ(got[1].flags, 0x0003u);
  EXPECT_EQ(got[1].daddr, v4("172.17.0.3"));
  m[3] -= 1;
  m.pop_back();
  EXPECT_EQ(read(m, stats).size(), 1u);  // the second record is cut
  EXPECT_EQ(rejected(stats, Reject::kRecordShort), 1u);
}

}  // namespace
}  // namespace uvs::sync
