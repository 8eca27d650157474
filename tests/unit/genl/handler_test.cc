// genl::Handler over a real ctl::Control: keepalived's captured session gets the kernel's
// answers (replies, ACKs, errnos, echoes), and what NEW_SERVICE adds a GET_SERVICE dump lists
// byte for byte.
#include "genl/handler.h"

#include <gtest/gtest.h>
#include <linux/genetlink.h>
#include <linux/ip_vs.h>

#include <cerrno>
#include <cstring>

#include "ctl/control.h"
#include "genl/control_adapter.h"
#include "tests/unit/genl/fixtures.h"

namespace uvs::genl {
namespace {

using testing::hex;
using testing::to_hex;

constexpr Peer kPeer{testing::kKeepalivedPortid, false};

class GenlHandlerTest : public ::testing::Test {
 protected:
  Datagrams send(std::string_view request_hex) { return handler_.handle(hex(request_hex), kPeer); }

  // The NLMSG_ERROR answer's errno (positive), checking the message is an ACK.
  static int ack_errno(const Bytes& d) {
    EXPECT_GE(d.size(), 20u);
    if (d.size() < 20) return -1;
    const NlHeader h = header_of(d);
    EXPECT_EQ(h.type, NLMSG_ERROR);
    int32_t e;
    std::memcpy(&e, d.data() + 16, 4);
    return -e;
  }

  // The errno of the only answer to a request expected to produce just an ACK.
  static int only_ack(const Datagrams& r) {
    EXPECT_EQ(r.size(), 1u);
    return r.empty() ? -1 : ack_errno(r[0]);
  }

  ctl::Control control_{ctl::ControlOptions{4096}};
  ControlAdapter adapter_{control_};
  Handler handler_{adapter_, HandlerOptions{testing::kCapturedFamilyId}};
};

TEST_F(GenlHandlerTest, KeepalivedSession) {
  // GETFAMILY: NEWFAMILY, then the ACK in its own datagram.
  auto r = send(testing::kGetFamily);
  ASSERT_EQ(r.size(), 2u);
  EXPECT_EQ(r[0], encode_family(testing::kCapturedFamilyId, 1796202740, kPeer.portid, 0));
  EXPECT_EQ(to_hex(r[1]),
            "2400000002000001f4e00f6b725c40a2000000002000000010000500f4e00f6b725c40a2");

  // GET_INFO and GET_CONFIG: the reply, then the ACK (keepalived waits for it).
  r = send(testing::kGetInfo);
  ASSERT_EQ(r.size(), 2u);
  EXPECT_EQ(to_hex(r[0]),
            "24000000f0030000f5e00f6b725c40a20e01000008000100010201000800020000100000");
  EXPECT_EQ(ack_errno(r[1]), 0);
  r = send(testing::kGetConfig);
  ASSERT_EQ(r.size(), 2u);
  EXPECT_EQ(to_hex(r[0]), "2c000000f0030000f6e00f6b725c40a20c01000008000400840300000800050078000000"
                          "080006002c010000");
  EXPECT_EQ(ack_errno(r[1]), 0);

  r = send(testing::kSetConfigStart);
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(ack_errno(r[0]), 0);
  EXPECT_EQ(control_.summary().timeouts.tcp, 1000);
  EXPECT_EQ(control_.summary().timeouts.tcp_fin, 60);
  EXPECT_EQ(control_.summary().timeouts.udp, 200);

  r = send(testing::kNewService);
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(to_hex(r[0]),
            "2400000002000001f8e00f6b725c40a20000000068000000f0030500f8e00f6b725c40a2");
  ASSERT_EQ(send(testing::kNewDest1).size(), 1u);
  r = send(testing::kNewDest2);
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(ack_errno(r[0]), 0);

  TableView t = control_.table();
  ASSERT_EQ(t.services.size(), 1u);
  EXPECT_EQ(t.services[0].cfg.sched_name, "rr");
  ASSERT_EQ(t.services[0].dests.size(), 2u);
  EXPECT_EQ(t.services[0].dests[0].cfg.key.addr, InetAddr::v4(0x7f000003));
  EXPECT_EQ(t.services[0].dests[0].cfg.weight, 2);
  EXPECT_EQ(t.services[0].dests[1].cfg.fwd, Fwd::kMasq);

  // Adding again: EEXIST, the whole request echoed (keepalived treats it as success).
  r = send(testing::kNewService);
  ASSERT_EQ(r.size(), 1u);
  auto expected = hex("7c000000 0200 0000 f8e00f6b 725c40a2 efffffff");
  const auto req = hex(testing::kNewService);
  expected.insert(expected.end(), req.begin(), req.end());
  EXPECT_EQ(to_hex(r[0]), to_hex(expected));
  EXPECT_EQ(only_ack(send(testing::kNewDest1)), EEXIST);

  EXPECT_EQ(only_ack(send(testing::kDelDest1)), 0);
  EXPECT_EQ(only_ack(send(testing::kDelDest2)), 0);
  // Deleting a missing dest: ENOENT with the request echoed.
  r = send(testing::kDelDest1);
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(ack_errno(r[0]), ENOENT);
  EXPECT_EQ(r[0].size(), 20u + 176u);
  EXPECT_EQ(std::memcmp(r[0].data() + 20, hex(testing::kDelDest1).data(), 176), 0);

  EXPECT_EQ(only_ack(send(testing::kDelService)), 0);
  // Once the service is gone: ESRCH for dests and the service alike.
  EXPECT_EQ(only_ack(send(testing::kDelDest1)), ESRCH);
  EXPECT_EQ(only_ack(send(testing::kDelService)), ESRCH);
  EXPECT_EQ(only_ack(send(testing::kSetConfigStop)), 0);
  EXPECT_EQ(control_.summary().timeouts.tcp, 900);
}

TEST_F(GenlHandlerTest, RoundTripNewServiceThenGetServiceDump) {
  ASSERT_EQ(only_ack(send(testing::kNewService)), 0);
  // GET_SERVICE dump as ipvsadm sends it (flags REQUEST|ACK|ROOT|MATCH).
  const auto r = send("14000000 f003 0503 2a000000 725c40a2 | 04 01 0000");
  ASSERT_EQ(r.size(), 2u);  // the entries, then DONE alone; no ACK after DONE
  const std::string stats =
      "5c000a00 08000100 00000000 08000200 00000000 08000300 00000000"
      "0c000400 0000000000000000 0c000500 0000000000000000 08000600 00000000"
      "08000700 00000000 08000800 00000000 08000900 00000000 08000a00 00000000";
  std::string stats64 = "7c000c00";
  for (int t = 1; t <= 10; ++t) {
    char attr[32];
    std::snprintf(attr, sizeof(attr), "0c00%02x00 0000000000000000", t);
    stats64 += attr;
  }
  const auto expected = hex(
      "40010000 f003 0200 2a000000 725c40a2 | 01 01 0000 |"
      "2c01 0100 | 0600 0100 0200 0000 | 0600 0200 0600 0000 |"
      "1400 0300 0a010101 00000000 00000000 00000000 | 0600 0400 0050 0000 |"
      "0700 0600 72720000 | 0c00 0700 02000000 ffffffff | 0800 0800 00000000 |"
      "0800 0900 ffffffff |" +
      stats + stats64);
  EXPECT_EQ(to_hex(r[0]), to_hex(expected));
  EXPECT_EQ(to_hex(r[1]), "1400000003000200" "2a000000725c40a2" "00000000");
}

TEST_F(GenlHandlerTest, GetDestDumpOfMissingServiceIsJustDone) {
  // GET_DEST dump naming 10.1.1.1:80/tcp, which does not exist.
  const auto r = send(
      "44000000 f003 0503 05000000 725c40a2 | 08 01 0000 |"
      "3000 0100 | 0600 0100 0200 0000 | 0600 0200 0600 0000 |"
      "1400 0300 0a010101 00000000 00000000 00000000 | 0600 0400 0050 0000");
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(to_hex(r[0]), "140000000300020005000000725c40a200000000");
}

TEST_F(GenlHandlerTest, GetDestDumpListsNewestFirst) {
  send(testing::kNewService);
  send(testing::kNewDest1);
  send(testing::kNewDest2);
  const auto r = send(
      "44000000 f003 0503 06000000 725c40a2 | 08 01 0000 |"
      "3000 0100 | 0600 0100 0200 0000 | 0600 0200 0600 0000 |"
      "1400 0300 0a010101 00000000 00000000 00000000 | 0600 0400 0050 0000");
  ASSERT_EQ(r.size(), 2u);
  auto table = control_.table();
  const auto first = encode_dest(testing::kCapturedFamilyId, 6, kPeer.portid, NLM_F_MULTI,
                                 table.services[0].dests[0]);
  const auto second = encode_dest(testing::kCapturedFamilyId, 6, kPeer.portid, NLM_F_MULTI,
                                  table.services[0].dests[1]);
  Bytes both = first;
  both.insert(both.end(), second.begin(), second.end());
  EXPECT_EQ(r[0], both);
  // 127.0.0.3 was added last, so it comes first, as in the kernel's list.
  EXPECT_EQ(r[0][20 + 4 + 4], 0x7f);
  EXPECT_EQ(r[0][20 + 4 + 4 + 3], 0x03);
  EXPECT_EQ(to_hex(r[1]), "140000000300020006000000725c40a200000000");  // DONE, int 0
}

TEST_F(GenlHandlerTest, ProtocolErrors) {
  // An unknown family name: ENOENT.
  auto r = send("2000000010000500 01000000 725c40a2 03010000 0900 0200 4e4f5045 00000000");
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(ack_errno(r[0]), ENOENT);
  // An unknown nlmsg_type: ENOENT.
  EXPECT_EQ(only_ack(send("14000000 7700 0500 02000000 725c40a2 0f010000")), ENOENT);
  // GET_DEST without NLM_F_DUMP has no doit: EOPNOTSUPP.
  EXPECT_EQ(only_ack(send("14000000 f003 0500 03000000 725c40a2 08010000")), EOPNOTSUPP);
  // An unknown command: EOPNOTSUPP.
  EXPECT_EQ(only_ack(send("14000000 f003 0500 04000000 725c40a2 63010000")), EOPNOTSUPP);
  // A message too short for the generic header: EINVAL.
  EXPECT_EQ(only_ack(send("10000000 f003 0500 05000000 725c40a2")), EINVAL);
  // NEW_SERVICE without a service: EINVAL; no NLM_F_ACK and success: nothing at all.
  EXPECT_EQ(only_ack(send("14000000 f003 0500 06000000 725c40a2 01010000")), EINVAL);
  EXPECT_TRUE(send("14000000 f003 0100 07000000 725c40a2 11010000").empty());  // FLUSH
  // NEW_DEST to a missing service: ESRCH comes before the dest nest is looked at.
  EXPECT_EQ(only_ack(send("28000000 f003 0500 08000000 725c40a2 05010000"
                           "1400 0100 0600 0100 0200 0000 0800 0500 01000000")),
            ESRCH);
  // SET_DEST for a dest that is not there: ENOENT (keepalived then retries with NEW_DEST).
  ASSERT_EQ(only_ack(send(testing::kNewService)), 0);
  std::string set_dest(testing::kNewDest1);
  set_dest.replace(32, 2, "06");  // genlmsghdr.cmd = IPVS_CMD_SET_DEST
  EXPECT_EQ(only_ack(send(set_dest)), ENOENT);
  EXPECT_EQ(only_ack(send(testing::kNewDest1)), 0);
  EXPECT_EQ(only_ack(send(set_dest)), 0);
  ASSERT_EQ(only_ack(send(testing::kDelService)), 0);
  // Unknown scheduler: ENOENT from the shared validation.
  const std::string bad_sched(testing::kNewService);
  std::string req = bad_sched;
  req.replace(req.find("72720000"), 8, "78780000");  // "xx"
  EXPECT_EQ(only_ack(send(req)), ENOENT);
}

TEST_F(GenlHandlerTest, CapAckAndSetServicePartialMask) {
  send(testing::kNewService);
  // SET_SERVICE 10.1.1.1:80 wlc, flags {persistent, mask persistent}, timeout 60.
  const auto r = send(
      "68000000 f003 0500 09000000 725c40a2 | 02 01 0000 |"
      "5400 0100 | 0600 0100 0200 0000 | 0600 0200 0600 0000 |"
      "1400 0300 0a010101 00000000 00000000 00000000 | 0600 0400 0050 0000 |"
      "0800 0600 776c6300 | 0c00 0700 01000000 01000000 | 0800 0800 3c000000 |"
      "0800 0900 ffffffff");
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(ack_errno(r[0]), 0);
  auto svc = control_.table().services.at(0).cfg;
  EXPECT_EQ(svc.sched_name, "wlc");
  EXPECT_EQ(svc.flags, kSvcPersistent);
  EXPECT_EQ(svc.timeout, 60u);

  // With NETLINK_CAP_ACK an error echoes the header only.
  const auto capped =
      handler_.handle(hex(testing::kNewService), Peer{testing::kKeepalivedPortid, true});
  ASSERT_EQ(capped.size(), 1u);
  EXPECT_EQ(to_hex(capped[0]),
            "2400000002000001f8e00f6b725c40a2efffffff68000000f0030500f8e00f6b725c40a2");
}

TEST_F(GenlHandlerTest, DaemonsGetServiceZeroFlush) {
  // NEW_DAEMON master on eth0, syncid 9; GET_DAEMON dump lists it; DEL_DAEMON stops it.
  auto r = send("3c000000 f003 0500 10000000 725c40a2 | 09 01 0000 |"
                "2800 0300 | 0800 0100 01000000 | 0900 0200 65746830 00000000 |"
                "0800 0300 09000000 | 0600 0700 9022 0000");
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(ack_errno(r[0]), 0);
  r = send("14000000 f003 0503 11000000 725c40a2 | 0b 01 0000");
  ASSERT_EQ(r.size(), 2u);
  ASSERT_EQ(control_.summary().daemons.size(), 1u);
  EXPECT_EQ(control_.summary().daemons[0].mcast_ifn, "eth0");
  EXPECT_EQ(control_.summary().daemons[0].syncid, 9);
  EXPECT_EQ(r[0], encode_daemon(testing::kCapturedFamilyId, 0x11, kPeer.portid, NLM_F_MULTI,
                                control_.summary().daemons[0]));
  EXPECT_EQ(header_of(r[1]).type, NLMSG_DONE);
  EXPECT_EQ(only_ack(send("18000000 f003 0500 12000000 725c40a2 | 0a 01 0000 |"
                           "0400 0300")),
            EINVAL);  // DEL_DAEMON without a state
  EXPECT_EQ(only_ack(send("20000000 f003 0500 13000000 725c40a2 | 0a 01 0000 |"
                           "0c00 0300 0800 0100 01000000")),
            0);
  EXPECT_TRUE(control_.summary().daemons.empty());

  // GET_SERVICE (not a dump): ESRCH while absent; then the service, then the ACK.
  const std::string get =
      "44000000 f003 0500 14000000 725c40a2 | 04 01 0000 |"
      "3000 0100 | 0600 0100 0200 0000 | 0600 0200 0600 0000 |"
      "1400 0300 0a010101 00000000 00000000 00000000 | 0600 0400 0050 0000";
  EXPECT_EQ(only_ack(send(get)), ESRCH);
  send(testing::kNewService);
  r = send(get);
  ASSERT_EQ(r.size(), 2u);
  EXPECT_EQ(r[0], encode_service(testing::kCapturedFamilyId, 0x14, kPeer.portid, 0,
                                 control_.table().services.at(0)));
  EXPECT_EQ(ack_errno(r[1]), 0);

  // ZERO for everything and for the one service; FLUSH empties the table.
  EXPECT_EQ(only_ack(send("14000000 f003 0500 15000000 725c40a2 | 10 01 0000")), 0);
  std::string zero_one = get;
  zero_one.replace(zero_one.find("| 04 01"), 7, "| 10 01");
  EXPECT_EQ(only_ack(send(zero_one)), 0);
  EXPECT_EQ(only_ack(send("14000000 f003 0500 16000000 725c40a2 | 11 01 0000")), 0);
  EXPECT_TRUE(control_.table().services.empty());
  EXPECT_EQ(only_ack(send(zero_one)), ESRCH);
}

}  // namespace
}  // namespace uvs::genl

namespace uvs::genl {
namespace {

// Many services: a dump fills datagrams up to the budget, whole messages only, then DONE.
TEST(GenlHandlerDump, EntriesShareDatagramsUpToTheBudget) {
  ctl::Control control{ctl::ControlOptions{4096}};
  ControlAdapter adapter{control};
  Handler handler{adapter, HandlerOptions{0x1f, 1000}};
  for (uint16_t port = 1; port <= 7; ++port) {
    Command c;
    c.kind = CommandKind::kAddService;
    c.options = opt(kOptService);
    c.svc.key.addr = InetAddr::v4(0x0a000001);
    c.svc.key.port = port;
    c.svc.sched_name = "rr";
    ASSERT_EQ(control.apply(c), 0);
  }
  const auto r = handler.handle(hex("14000000 1f00 0503 01000000 01000000 | 04 01 0000"),
                                Peer{1, false});
  // Each service message is 320 bytes: three fit in 1000, so 3 + 3 + 1, then DONE.
  ASSERT_EQ(r.size(), 4u);
  EXPECT_EQ(r[0].size(), 960u);
  EXPECT_EQ(r[1].size(), 960u);
  EXPECT_EQ(r[2].size(), 320u);
  EXPECT_EQ(header_of(r[3]).type, NLMSG_DONE);
  size_t total = 0;
  for (size_t i = 0; i < 3; ++i)
    for (auto m : split_messages(r[i])) {
      EXPECT_EQ(header_of(m).flags, NLM_F_MULTI);
      ++total;
    }
  EXPECT_EQ(total, 7u);
}

// An IPv6 service and real server travel through the handler and back.
TEST(GenlHandlerDump, Ipv6ServiceAndDest) {
  ctl::Control control{ctl::ControlOptions{4096}};
  ControlAdapter adapter{control};
  Handler handler{adapter, HandlerOptions{0x1f}};
  const Peer peer{7, false};
  // NEW_SERVICE [2001:db8::1]:443/tcp wlc, netmask 128 (prefix length).
  const std::string svc_nest =
      "0600 0100 0a00 0000 | 0600 0200 0600 0000 |"
      "1400 0300 20010db8 00000000 00000000 00000001 | 0600 0400 01bb 0000 |";
  auto r = handler.handle(hex("68000000 1f00 0500 01000000 07000000 | 01 01 0000 | 5400 0100 |" +
                              svc_nest +
                              "0800 0600 776c6300 | 0c00 0700 00000000 ffffffff |"
                              "0800 0800 00000000 | 0800 0900 80000000"),
                          peer);
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(to_hex(r[0]).substr(32, 8), "00000000");  // error 0
  // NEW_DEST [2001:db8::2]:8443 masq weight 5, no ADDR_FAMILY (the service's is used).
  r = handler.handle(hex("84000000 1f00 0500 02000000 07000000 | 05 01 0000 | 3000 0100 |" +
                         svc_nest +
                         "4000 0200 | 1400 0100 20010db8 00000000 00000000 00000002 |"
                         "0600 0200 20fb 0000 | 0800 0300 00000000 | 0800 0400 05000000 |"
                         "0800 0500 00000000 | 0800 0600 00000000"),
                     peer);
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(to_hex(r[0]).substr(32, 8), "00000000");
  const TableView t = control.table();
  ASSERT_EQ(t.services.size(), 1u);
  EXPECT_EQ(t.services[0].cfg.key.af, AF_INET6);
  EXPECT_EQ(t.services[0].cfg.netmask, 128u);
  ASSERT_EQ(t.services[0].dests.size(), 1u);
  EXPECT_EQ(t.services[0].dests[0].cfg.key.addr.to_string(), "2001:db8::2");
  EXPECT_EQ(t.services[0].dests[0].cfg.key.port, 8443);
  EXPECT_EQ(t.services[0].dests[0].cfg.weight, 5);

  // The GET_SERVICE dump carries netmask 128 as a native u32 and the address in 16 bytes.
  r = handler.handle(hex("14000000 1f00 0503 03000000 07000000 | 04 01 0000"), peer);
  ASSERT_EQ(r.size(), 2u);
  const std::string h = to_hex(r[0]);
  EXPECT_NE(h.find("1400030020010db8000000000000000000000001"), std::string::npos);
  EXPECT_NE(h.find("0800090080000000"), std::string::npos);
}

}  // namespace
}  // namespace uvs::genl

namespace uvs::genl {
namespace {

class NoTable : public ControlPlane {
 public:
  int apply(const Command&) override { return 0; }
  TableView table() override { return {}; }
  TableView summary() override { return {}; }
  std::optional<ServiceView> service(const ServiceKey&) override { return std::nullopt; }
};

TEST(GenlHandlerCtrl, FamilyByIdWithoutAckAndDump) {
  NoTable plane;
  Handler handler{plane, HandlerOptions{0x22}};
  const Peer peer{0x99, false};
  // GETFAMILY by id 0x22, REQUEST only: the answer and no ACK.
  auto r = handler.handle(
      hex("1c000000 1000 0100 05000000 99000000 | 03 01 0000 | 0600 0100 2200 0000"), peer);
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0], encode_family(0x22, 5, 0x99, 0));
  // Another id: ENOENT. No attribute at all: EINVAL.
  r = handler.handle(hex("1c000000 1000 0500 06000000 99000000 | 03 01 0000 | 0600 0100 2300 0000"),
                     peer);
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(to_hex(r[0]).substr(32, 8), "feffffff");
  r = handler.handle(hex("14000000 1000 0500 07000000 99000000 | 03 01 0000"), peer);
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(to_hex(r[0]).substr(32, 8), "eaffffff");
  // A dump of all families lists IPVS with NLM_F_MULTI, then DONE, no ACK.
  r = handler.handle(hex("14000000 1000 0503 08000000 99000000 | 03 01 0000"), peer);
  ASSERT_EQ(r.size(), 2u);
  EXPECT_EQ(r[0], encode_family(0x22, 8, 0x99, NLM_F_MULTI));
  EXPECT_EQ(to_hex(r[1]), "14000000030002000800000099000000" "00000000");
  // Control messages (type < 0x10) and non-requests are acknowledged only if asked.
  EXPECT_TRUE(handler.handle(hex("10000000 0300 0100 09000000 99000000"), peer).empty());
  r = handler.handle(hex("10000000 0300 0500 0a000000 99000000"), peer);
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(to_hex(r[0]).substr(32, 8), "00000000");
}

}  // namespace
}  // namespace uvs::genl
