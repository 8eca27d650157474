// Replies byte for byte as the kernel builds them. Expected bytes are assembled by hand from
// ctrl_fill_info(), ip_vs_genl_get_cmd(), ip_vs_genl_fill_service()/_dest()/_stats()/_stats64(),
// netlink_dump_done() and netlink_ack(): attribute order, lengths, padding, no NLA_F_NESTED.
#include <gtest/gtest.h>

#include <cerrno>
#include <string>

#include "genl/codec.h"
#include "tests/unit/genl/fixtures.h"

namespace uvs::genl {
namespace {

using testing::hex;
using testing::to_hex;

constexpr uint32_t kSeq = 1796202740;  // f4e00f6b
constexpr uint32_t kPid = testing::kKeepalivedPortid;  // 725c40a2

TEST(GenlEncode, GetFamilyAnswer) {
  std::string ops;
  // One nest per op, index from 1: OP_ID then OP_FLAGS: ADMIN_PERM, DO|HASPOL for a doit,
  // DUMP (without a policy: GENL_DONT_VALIDATE_DUMP) for a dumpit.
  const struct {
    const char* cmd;
    const char* flags;
  } expected_ops[] = {
      {"01", "0b"}, {"02", "0b"}, {"03", "0b"}, {"04", "0f"}, {"05", "0b"}, {"06", "0b"},
      {"07", "0b"}, {"08", "05"}, {"09", "0b"}, {"0a", "0b"}, {"0b", "05"}, {"0c", "0b"},
      {"0d", "0b"}, {"0f", "0b"}, {"10", "0b"}, {"11", "0b"},
  };
  int index = 1;
  for (const auto& op : expected_ops) {
    char idx[8];
    std::snprintf(idx, sizeof(idx), "%02x00", index++);
    ops += std::string("1400") + idx + "08000100" + op.cmd + "000000" + "08000200" + op.flags +
           "000000";
  }
  const auto expected = hex(
      "84010000 1000 0000 f4e00f6b 725c40a2 | 01 02 0000 |"
      "0900 0200 49505653 00000000 |"  // CTRL_ATTR_FAMILY_NAME "IPVS", padded
      "0600 0100 1f00 0000 |"           // FAMILY_ID
      "0800 0300 01000000 |"            // VERSION
      "0800 0400 00000000 |"            // HDRSIZE
      "0800 0500 06000000 |"            // MAXATTR
      "4401 0600" +                     // OPS, 16 nests of 20 bytes
      ops);
  EXPECT_EQ(to_hex(encode_family(0x1f, kSeq, kPid, 0)), to_hex(expected));
}

TEST(GenlEncode, GetInfoReply) {
  const auto expected = hex(
      "24000000 1f00 0000 f5e00f6b 725c40a2 | 0e 01 0000 |"
      "0800 0100 01020100 |"  // IPVS_INFO_ATTR_VERSION 1.2.1
      "0800 0200 00100000");  // CONN_TAB_SIZE 4096
  EXPECT_EQ(to_hex(encode_info(0x1f, kSeq + 1, kPid, 4096)), to_hex(expected));
}

TEST(GenlEncode, GetConfigReply) {
  const auto expected = hex(
      "2c000000 1f00 0000 f6e00f6b 725c40a2 | 0c 01 0000 |"
      "0800 0400 84030000 | 0800 0500 78000000 | 0800 0600 2c010000");
  EXPECT_EQ(to_hex(encode_config(0x1f, kSeq + 2, kPid, Timeouts{900, 120, 300})),
            to_hex(expected));
}

TEST(GenlEncode, ServiceWithStats) {
  ServiceView svc;
  svc.cfg.key.af = AF_INET;
  svc.cfg.key.protocol = IPPROTO_TCP;
  svc.cfg.key.addr = InetAddr::v4(0x0a010101);
  svc.cfg.key.port = 80;
  svc.cfg.sched_name = "rr";
  svc.stats = {3, 10, 9, 0x1122334455, 2000};
  svc.rate = {1, 2, 3, 400, 500};
  const auto expected = hex(
      "40010000 1f00 0200 07000000 34120000 | 01 01 0000 |"
      "2c01 0100 |"                                       // IPVS_CMD_ATTR_SERVICE, no NESTED
      "0600 0100 0200 0000 |"                             // AF
      "0600 0200 0600 0000 |"                             // PROTOCOL
      "1400 0300 0a010101 00000000 00000000 00000000 |"  // ADDR, 16 bytes
      "0600 0400 0050 0000 |"                             // PORT, network order
      "0700 0600 727200 00 |"                             // SCHED_NAME "rr"
      "0c00 0700 02000000 ffffffff |"                     // FLAGS {HASHED, ~0}
      "0800 0800 00000000 |"                              // TIMEOUT
      "0800 0900 ffffffff |"                              // NETMASK
      "5c00 0a00 |"                                       // STATS: u32 but bytes
      "0800 0100 03000000 | 0800 0200 0a000000 | 0800 0300 09000000 |"
      "0c00 0400 5544332211000000 | 0c00 0500 d007000000000000 |"
      "0800 0600 01000000 | 0800 0700 02000000 | 0800 0800 03000000 |"
      "0800 0900 90010000 | 0800 0a00 f4010000 |"
      "7c00 0c00 |"  // STATS64: all u64
      "0c00 0100 0300000000000000 | 0c00 0200 0a00000000000000 | 0c00 0300 0900000000000000 |"
      "0c00 0400 5544332211000000 | 0c00 0500 d007000000000000 | 0c00 0600 0100000000000000 |"
      "0c00 0700 0200000000000000 | 0c00 0800 0300000000000000 | 0c00 0900 9001000000000000 |"
      "0c00 0a00 f401000000000000");
  EXPECT_EQ(to_hex(encode_service(0x1f, 7, 0x1234, 0x2 /* NLM_F_MULTI */, svc)),
            to_hex(expected));
}

TEST(GenlEncode, FwmarkIpv6Service) {
  ServiceView svc;
  svc.cfg.key.af = AF_INET6;
  svc.cfg.key.fwmark = 5;
  svc.cfg.sched_name = "wlc";
  svc.cfg.pe_name = "sip";
  svc.cfg.flags = 0x1;
  svc.cfg.timeout = 300;
  svc.cfg.netmask = 64;
  const std::string zero_stats =
      "5c00 0a00 0800 0100 00000000 0800 0200 00000000 0800 0300 00000000"
      "0c00 0400 0000000000000000 0c00 0500 0000000000000000"
      "0800 0600 00000000 0800 0700 00000000 0800 0800 00000000 0800 0900 00000000"
      "0800 0a00 00000000";
  std::string zero_stats64 = "7c00 0c00";
  for (int t = 1; t <= 10; ++t) {
    char attr[40];
    std::snprintf(attr, sizeof(attr), "0c00 %02x00 0000000000000000", t);
    zero_stats64 += attr;
  }
  const auto expected = hex(
      "2c010000 1f00 0000 01000000 34120000 | 01 01 0000 |"
      "1801 0100 |"  // 4 + 8+8+8+8+12+8+8 + 92 + 124 = 280
      "0600 0100 0a00 0000 |"            // AF_INET6
      "0800 0500 05000000 |"             // FWMARK, no protocol/addr/port
      "0800 0600 776c6300 |"             // SCHED_NAME "wlc"
      "0800 0b00 73697000 |"             // PE_NAME "sip"
      "0c00 0700 03000000 ffffffff |"    // FLAGS persistent|hashed
      "0800 0800 2c010000 |"             // TIMEOUT 300
      "0800 0900 40000000 |" +           // NETMASK: prefix length, native order
      zero_stats + zero_stats64);
  EXPECT_EQ(to_hex(encode_service(0x1f, 1, 0x1234, 0, svc)), to_hex(expected));
}

TEST(GenlEncode, Dest) {
  DestView d;
  d.cfg.key.addr = InetAddr::v4(0x7f000002);
  d.cfg.key.port = 8081;
  d.cfg.fwd = Fwd::kRoute;
  d.cfg.weight = 1;
  d.activeconns = 5;
  d.inactconns = 6;
  d.persistconns = 7;
  d.stats.conns = 1;
  const auto expected = hex(
      "64010000 1f00 0200 08000000 34120000 | 05 01 0000 |"
      "5001 0200 |"                                       // IPVS_CMD_ATTR_DEST
      "1400 0100 7f000002 00000000 00000000 00000000 |"  // ADDR
      "0600 0200 1f91 0000 |"                             // PORT 8081
      "0800 0300 03000000 |"                              // FWD_METHOD DR
      "0800 0400 01000000 |"                              // WEIGHT
      "0500 0d00 00 000000 |"                             // TUN_TYPE u8, padded
      "0600 0e00 0000 0000 |"                             // TUN_PORT
      "0600 0f00 0000 0000 |"                             // TUN_FLAGS
      "0800 0500 00000000 | 0800 0600 00000000 |"         // U_THRESH, L_THRESH
      "0800 0700 05000000 | 0800 0800 06000000 | 0800 0900 07000000 |"  // conns
      "0600 0b00 0200 0000 |"                             // ADDR_FAMILY
      "5c00 0a00 0800 0100 01000000 0800 0200 00000000 0800 0300 00000000"
      "0c00 0400 0000000000000000 0c00 0500 0000000000000000"
      "0800 0600 00000000 0800 0700 00000000 0800 0800 00000000 0800 0900 00000000"
      "0800 0a00 00000000 |"
      "7c00 0c00 0c00 0100 0100000000000000 0c00 0200 0000000000000000"
      "0c00 0300 0000000000000000 0c00 0400 0000000000000000 0c00 0500 0000000000000000"
      "0c00 0600 0000000000000000 0c00 0700 0000000000000000 0c00 0800 0000000000000000"
      "0c00 0900 0000000000000000 0c00 0a00 0000000000000000");
  EXPECT_EQ(to_hex(encode_dest(0x1f, 8, 0x1234, 0x2, d)), to_hex(expected));
}

TEST(GenlEncode, Daemon) {
  DaemonConfig d;
  d.state = 1;
  d.mcast_ifn = "eth0";
  d.syncid = 9;
  const auto expected = hex(
      "54000000 1f00 0200 03000000 34120000 | 09 01 0000 |"
      "4000 0300 |"
      "0800 0100 01000000 |"             // STATE master
      "0900 0200 65746830 00 000000 |"   // MCAST_IFN "eth0"
      "0800 0300 09000000 |"             // SYNC_ID
      "0600 0400 0000 0000 |"            // SYNC_MAXLEN
      "0600 0700 9022 0000 |"            // MCAST_PORT 8848 (host order)
      "0500 0800 01 000000 |"            // MCAST_TTL 1
      "0800 0500 e0000051");             // MCAST_GROUP 224.0.0.81
  EXPECT_EQ(to_hex(encode_daemon(0x1f, 3, 0x1234, 0x2, d)), to_hex(expected));
}

TEST(GenlEncode, DoneIsIntZero) {
  EXPECT_EQ(to_hex(encode_done(kSeq, kPid)),
            to_hex(hex("14000000 0300 0200 f4e00f6b 725c40a2 00000000")));
}

TEST(GenlEncode, SuccessAckIsCappedHeader) {
  const auto req = hex(testing::kNewService);
  EXPECT_EQ(to_hex(encode_ack(req, 0, kPid, false)),
            to_hex(hex("24000000 0200 0001 f8e00f6b 725c40a2 | 00000000 |"
                       "68000000 f003 0500 f8e00f6b 725c40a2")));
}

TEST(GenlEncode, ErrorEchoesWholeRequest) {
  const auto req = hex(testing::kNewService);
  auto expected = hex("7c000000 0200 0000 f8e00f6b 725c40a2 | efffffff");  // -EEXIST
  expected.insert(expected.end(), req.begin(), req.end());
  EXPECT_EQ(to_hex(encode_ack(req, EEXIST, kPid, false)), to_hex(expected));

  const auto del = hex(testing::kDelDest1);
  auto expected_del = hex("c4000000 0200 0000 fbe00f6b 725c40a2 | feffffff");  // -ENOENT
  expected_del.insert(expected_del.end(), del.begin(), del.end());
  EXPECT_EQ(to_hex(encode_ack(del, ENOENT, kPid, false)), to_hex(expected_del));
}

TEST(GenlEncode, CapAckErrorEchoesHeaderOnly) {
  const auto req = hex(testing::kDelDest1);
  EXPECT_EQ(to_hex(encode_ack(req, ESRCH, kPid, true)),
            to_hex(hex("24000000 0200 0001 fbe00f6b 725c40a2 | fdffffff |"
                       "b0000000 f003 0500 fbe00f6b 725c40a2")));
}

}  // namespace
}  // namespace uvs::genl
