// Every request captured from keepalived decodes to the Command uvsadm would build, and
// malformed requests get the kernel's errnos (ip_vs_genl_parse_service()/_dest()).
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <linux/genetlink.h>
#include <linux/ip_vs.h>

#include "genl/codec.h"
#include "tests/unit/genl/fixtures.h"

namespace uvs::genl {
namespace {

using testing::hex;

void expect_keepalived_service(const IpvsRequest& r) {
  EXPECT_TRUE(r.has_service);
  EXPECT_EQ(r.command.svc.key.af, AF_INET);
  EXPECT_EQ(r.command.svc.key.protocol, IPPROTO_TCP);
  EXPECT_EQ(r.command.svc.key.addr, InetAddr::v4(0x0a010101));
  EXPECT_EQ(r.command.svc.key.port, 80);
  EXPECT_EQ(r.command.svc.key.fwmark, 0u);
  EXPECT_TRUE(r.command.has(kOptService));
}

TEST(GenlDecode, GetFamily) {
  const auto msg = hex(testing::kGetFamily);
  const CtrlRequest r = decode_ctrl(msg);
  EXPECT_EQ(r.err, 0);
  EXPECT_EQ(r.nlh.type, GENL_ID_CTRL);
  EXPECT_EQ(r.nlh.flags, 0x5);
  EXPECT_EQ(r.nlh.seq, 1796202740u);
  EXPECT_EQ(r.nlh.pid, testing::kKeepalivedPortid);
  EXPECT_EQ(r.cmd, CTRL_CMD_GETFAMILY);
  EXPECT_FALSE(r.dump);
  EXPECT_TRUE(r.has_name);
  EXPECT_EQ(r.name, "IPVS");
  EXPECT_FALSE(r.has_id);
}

TEST(GenlDecode, GetInfoAndGetConfig) {
  const IpvsRequest info = decode_ipvs(hex(testing::kGetInfo));
  EXPECT_EQ(info.err, 0);
  EXPECT_EQ(info.cmd, IPVS_CMD_GET_INFO);
  EXPECT_EQ(info.nlh.type, testing::kCapturedFamilyId);
  EXPECT_EQ(info.nlh.seq, 1796202741u);
  EXPECT_EQ(info.command.kind, CommandKind::kList);
  EXPECT_FALSE(info.dump);

  const IpvsRequest config = decode_ipvs(hex(testing::kGetConfig));
  EXPECT_EQ(config.err, 0);
  EXPECT_EQ(config.cmd, IPVS_CMD_GET_CONFIG);
  EXPECT_EQ(config.nlh.seq, 1796202742u);
  EXPECT_EQ(config.command.kind, CommandKind::kList);
  EXPECT_TRUE(config.command.list.timeout);
}

TEST(GenlDecode, SetConfig) {
  const IpvsRequest start = decode_ipvs(hex(testing::kSetConfigStart));
  EXPECT_EQ(start.err, 0);
  EXPECT_EQ(start.cmd, IPVS_CMD_SET_CONFIG);
  EXPECT_EQ(start.command.kind, CommandKind::kSetTimeout);
  EXPECT_EQ(start.command.timeouts.tcp, 1000);
  EXPECT_EQ(start.command.timeouts.tcp_fin, 60);
  EXPECT_EQ(start.command.timeouts.udp, 200);

  const IpvsRequest stop = decode_ipvs(hex(testing::kSetConfigStop));
  EXPECT_EQ(stop.err, 0);
  EXPECT_EQ(stop.nlh.seq, 1796202750u);
  EXPECT_EQ(stop.command.timeouts.tcp, 900);
  EXPECT_EQ(stop.command.timeouts.tcp_fin, 120);
  EXPECT_EQ(stop.command.timeouts.udp, 300);
}

TEST(GenlDecode, NewService) {
  const IpvsRequest r = decode_ipvs(hex(testing::kNewService));
  EXPECT_EQ(r.err, 0);
  EXPECT_EQ(r.cmd, IPVS_CMD_NEW_SERVICE);
  EXPECT_EQ(r.nlh.seq, 1796202744u);
  EXPECT_EQ(r.command.kind, CommandKind::kAddService);
  expect_keepalived_service(r);
  EXPECT_EQ(r.command.svc.sched_name, "rr");
  EXPECT_EQ(r.command.svc.pe_name, "");
  EXPECT_EQ(r.command.svc.flags, 0u);
  EXPECT_EQ(r.svc_flags_mask, 0xffffffffu);
  EXPECT_EQ(r.command.svc.timeout, 0u);
  EXPECT_EQ(r.command.svc.netmask, 0xffffffffu);
}

TEST(GenlDecode, NewDests) {
  const IpvsRequest a = decode_ipvs(hex(testing::kNewDest1));
  EXPECT_EQ(a.err, 0);
  EXPECT_EQ(a.dest_err, 0);
  EXPECT_EQ(a.cmd, IPVS_CMD_NEW_DEST);
  EXPECT_EQ(a.nlh.seq, 1796202745u);
  EXPECT_EQ(a.command.kind, CommandKind::kAddDest);
  expect_keepalived_service(a);
  EXPECT_EQ(a.command.dest.key.addr, InetAddr::v4(0x7f000002));
  EXPECT_EQ(a.command.dest.key.port, 8081);
  EXPECT_EQ(a.command.dest.fwd, Fwd::kMasq);
  EXPECT_EQ(a.command.dest.weight, 3);
  EXPECT_EQ(a.command.dest.u_threshold, 0u);
  EXPECT_EQ(a.command.dest.l_threshold, 0u);
  EXPECT_EQ(a.command.dest.tun_type, TunType::kIpip);
  EXPECT_EQ(a.command.dest.tun_port, 0);
  EXPECT_TRUE(a.command.has(kOptServer));

  const IpvsRequest b = decode_ipvs(hex(testing::kNewDest2));
  EXPECT_EQ(b.err, 0);
  EXPECT_EQ(b.command.dest.key.addr, InetAddr::v4(0x7f000003));
  EXPECT_EQ(b.command.dest.key.port, 8082);
  EXPECT_EQ(b.command.dest.weight, 2);
}

TEST(GenlDecode, DelDestsAndService) {
  const IpvsRequest a = decode_ipvs(hex(testing::kDelDest1));
  EXPECT_EQ(a.err, 0);
  EXPECT_EQ(a.dest_err, 0);
  EXPECT_EQ(a.cmd, IPVS_CMD_DEL_DEST);
  EXPECT_EQ(a.command.kind, CommandKind::kDelDest);
  expect_keepalived_service(a);
  EXPECT_EQ(a.command.dest.key.addr, InetAddr::v4(0x7f000002));
  EXPECT_EQ(a.command.dest.key.port, 8081);

  const IpvsRequest b = decode_ipvs(hex(testing::kDelDest2));
  EXPECT_EQ(b.nlh.seq, 1796202748u);
  EXPECT_EQ(b.command.dest.key.addr, InetAddr::v4(0x7f000003));
  EXPECT_EQ(b.command.dest.key.port, 8082);

  const IpvsRequest s = decode_ipvs(hex(testing::kDelService));
  EXPECT_EQ(s.err, 0);
  EXPECT_EQ(s.cmd, IPVS_CMD_DEL_SERVICE);
  EXPECT_EQ(s.command.kind, CommandKind::kDelService);
  expect_keepalived_service(s);
}

// Hand-built requests for what keepalived did not send in the capture.
TEST(GenlDecode, FwmarkIpv6ServiceWithPartialFlagsMask) {
  // SET_SERVICE: af 10, fwmark 7, sched "wlc", flags {persistent|hashed, mask persistent},
  // timeout 300, netmask 64 (an IPv6 prefix length travels as a native u32).
  const auto msg = hex(
      "4c000000 1f00 0500 01000000 00000000 | 02 01 0000 |"
      "3800 0100 | 0600 0100 0a00 0000 | 0800 0500 07000000 | 0800 0600 776c6300 |"
      "0c00 0700 03000000 01000000 | 0800 0800 2c010000 | 0800 0900 40000000");
  const IpvsRequest r = decode_ipvs(msg);
  EXPECT_EQ(r.err, 0);
  EXPECT_EQ(r.command.kind, CommandKind::kEditService);
  EXPECT_EQ(r.command.svc.key.af, AF_INET6);
  EXPECT_EQ(r.command.svc.key.fwmark, 7u);
  EXPECT_EQ(r.command.svc.sched_name, "wlc");
  EXPECT_EQ(r.command.svc.flags, 1u);
  EXPECT_EQ(r.svc_flags_mask, 1u);
  EXPECT_EQ(r.command.svc.timeout, 300u);
  EXPECT_EQ(r.command.svc.netmask, 64u);
}

TEST(GenlDecode, KernelErrnos) {
  // NEW_SERVICE without a service nest: EINVAL.
  EXPECT_EQ(decode_ipvs(hex("14000000 1f00 0500 01000000 00000000 | 01 01 0000")).err, EINVAL);
  // A service nest without the scheduler on NEW_SERVICE: EINVAL.
  EXPECT_EQ(decode_ipvs(hex("2c000000 1f00 0500 01000000 00000000 | 01 01 0000 |"
                            "1800 0100 | 0600 0100 0200 0000 | 0800 0500 01000000 |"
                            "0800 0800 00000000"))
                .err,
            EINVAL);
  // An unknown address family: EAFNOSUPPORT.
  EXPECT_EQ(decode_ipvs(hex("28000000 1f00 0500 01000000 00000000 | 03 01 0000 |"
                            "1400 0100 | 0600 0100 0700 0000 | 0800 0500 01000000"))
                .err,
            EAFNOSUPPORT);
  // A too-short u32 at the top level fails genetlink's policy check: ERANGE.
  EXPECT_EQ(decode_ipvs(hex("1c000000 1f00 0500 01000000 00000000 | 0c 01 0000 |"
                            "0600 0400 0100 0000"))
                .err,
            ERANGE);
  // NEW_DEST without the dest nest: the service parses, the dest is EINVAL (reported later).
  const IpvsRequest d = decode_ipvs(hex("28000000 1f00 0500 01000000 00000000 | 05 01 0000 |"
                                        "1400 0100 | 0600 0100 0200 0000 | 0800 0500 01000000"));
  EXPECT_EQ(d.err, 0);
  EXPECT_EQ(d.dest_err, EINVAL);
}

TEST(GenlDecode, SplitsDatagrams) {
  auto two = hex(testing::kGetInfo);
  const auto second = hex(testing::kGetConfig);
  two.insert(two.end(), second.begin(), second.end());
  two.push_back(0xff);  // trailing garbage shorter than a header is ignored
  const auto msgs = split_messages(two);
  ASSERT_EQ(msgs.size(), 2u);
  EXPECT_EQ(header_of(msgs[1]).seq, 1796202742u);
}

}  // namespace
}  // namespace uvs::genl
