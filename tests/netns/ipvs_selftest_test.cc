// The Linux kernel's own IPVS selftest scenario (tools/testing/selftests/net/ipvs.sh), with uvs
// in place of the kernel's IPVS: three namespaces -- a client, a director and one real server --
// and, for DR, NAT and TUN in turn, random bytes sent with socat to the VIP must arrive intact
// at the real server's socat.
//
// The scenario's facts, reproduced here:
//   client (ns0): a bridge br0 joining its links to the director (veth01) and to the real
//                 server (veth02), 10.0.0.2/24 on br0, a route to the VIP via the director.
//   director (ns1): veth10 10.0.0.1/24 (client side), veth12 172.16.0.1/24 (server side), the
//                 VIP 207.175.44.110 on lo, service VIP:8080 rr with the real server on 8080.
//   real server (ns2): veth21 172.16.0.2/24 (to the director), veth20 10.0.0.3/24 (to the
//                 client's bridge: the direct return path of DR).
//   DR:  director forwards (ip_forward=1); server has the VIP on lo, arp_ignore=1,
//        arp_announce=2, rp_filter=0.
//   NAT: director forwards; the server loses veth20 and routes by default via the director.
//   TUN: director does not forward (ip_forward=0, send_redirects=0); the server has the VIP on
//        lo, arp_ignore=1, arp_announce=2, rp_filter=0, and a tunnel end (the kernel's tunl0
//        there; uvs-decap here, this kernel has no ipip module).
//   The check: 32 random bytes, socat -u to VIP:8080 from the client, socat -u TCP-LISTEN:8080
//   on the server into a file, the files compared. Here a 1 MB payload follows the 32 bytes.
// Unlike scripts/lab, the links keep the veth default of checksum offload, as in the selftest:
// the director sees the partial checksums of locally sent packets.
#include <gtest/gtest.h>

#include "tests/netns/netns_lab.h"

namespace uvs::testing::netns {
namespace {

const std::string kVip = "207.175.44.110";
const std::string kService = "207.175.44.110:8080";
const std::string kRip = "172.16.0.2";

// The three namespaces, named ${P}c (client), ${P}d (director), ${P}s1 (real server).
constexpr const char* kTopology = R"SH(
p=$1; c=${p}c; d=${p}d; s=${p}s1
for ns in $c $d $s; do ip netns add $ns; ip -n $ns link set lo up; done
ip link add veth01 netns $c type veth peer name veth10 netns $d
ip link add veth02 netns $c type veth peer name veth20 netns $s
ip link add veth12 netns $d type veth peer name veth21 netns $s
ip -n $c link add br0 type bridge
ip -n $c link set veth01 master br0
ip -n $c link set veth02 master br0
for l in veth01 veth02 br0; do ip -n $c link set $l up; done
ip -n $c addr add 10.0.0.2/24 dev br0
ip -n $d addr add 10.0.0.1/24 dev veth10
ip -n $d addr add 172.16.0.1/24 dev veth12
ip -n $d link set veth10 up
ip -n $d link set veth12 up
ip -n $s addr add 172.16.0.2/24 dev veth21
ip -n $s addr add 10.0.0.3/24 dev veth20
ip -n $s link set veth21 up
ip -n $s link set veth20 up
)SH";

class IpvsSelftestTest : public LabTest, public ::testing::WithParamInterface<Mode> {
 protected:
  void sh(const std::string& ns, const std::string& script) {
    RunResult r = lab_->exec(ns, {"/bin/sh", "-ec", script});
    ASSERT_EQ(r.status, 0) << ns << ": " << script << "\n" << r.err;
  }

  // The mode's set-up on the three namespaces, as the selftest's test_dr/test_nat/test_tun.
  void set_up_mode(Mode mode) {
    const std::string c = lab_->client(), d = lab_->director(), s = lab_->server(1);
    ASSERT_NO_FATAL_FAILURE(sh(c, "ip route add " + kVip + " via 10.0.0.1 dev br0"));
    ASSERT_NO_FATAL_FAILURE(sh(d, "ip addr add " + kVip + "/32 dev lo"));
    const std::string real_server_sysctls =
        "sysctl -qw net.ipv4.conf.all.arp_ignore=1 net.ipv4.conf.all.arp_announce=2 "
        "net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.veth21.rp_filter=0; ip addr add " +
        kVip + "/32 dev lo";
    ASSERT_TRUE(adm({"-A", "-t", kService, "-s", "rr"}));
    switch (mode) {
      case Mode::kDr:
        ASSERT_NO_FATAL_FAILURE(sh(d, "sysctl -qw net.ipv4.ip_forward=1"));
        ASSERT_TRUE(adm({"-a", "-t", kService, "-r", kRip + ":8080"}));  // -g, the default
        ASSERT_NO_FATAL_FAILURE(sh(s, real_server_sysctls));
        break;
      case Mode::kNat:
        ASSERT_NO_FATAL_FAILURE(sh(d, "sysctl -qw net.ipv4.ip_forward=1"));
        ASSERT_TRUE(adm({"-a", "-m", "-t", kService, "-r", kRip + ":8080"}));
        ASSERT_NO_FATAL_FAILURE(
            sh(s, "ip link del veth20; ip route add default via 172.16.0.1 dev veth21"));
        break;
      case Mode::kTunIpip: {
        ASSERT_NO_FATAL_FAILURE(sh(d,
                                   "sysctl -qw net.ipv4.ip_forward=0 "
                                   "net.ipv4.conf.all.send_redirects=0 "
                                   "net.ipv4.conf.default.send_redirects=0"));
        ASSERT_TRUE(adm({"-a", "-i", "-t", kService, "-r", kRip + ":8080"}));
        ASSERT_NO_FATAL_FAILURE(sh(s, real_server_sysctls));
        ASSERT_TRUE(std::filesystem::exists(build_path("uvs-decap")))
            << "build/uvs-decap is not built (ninja -C build uvs-decap)";
        Process& decap =
            spawn(s, {build_path("uvs-decap"), "--interface", "veth21", "--vip", kVip}, "decap");
        ASSERT_TRUE(wait_until(
                        [&] {
                          return decap.log().find("attached") != std::string::npos ||
                                 !decap.running();
                        },
                        10s) &&
                    decap.running())
            << decap.log();
        break;
      }
      case Mode::kTunGue:
      case Mode::kTunGre:
      case Mode::kFullNat:
        FAIL() << mode_name(mode) << " is not one of the selftest's modes";
    }
  }

  // socat from the client to VIP:8080 with FILE's bytes; true when the server wrote the same.
  void send_and_compare(const std::string& in_file) {
    const std::string out_file = in_file + ".received";
    Process& server = spawn(
        lab_->server(1),
        {"/usr/bin/socat", "-u", "TCP-LISTEN:8080,reuseaddr", "OPEN:" + out_file + ",creat,trunc"},
        "socat-server");
    ASSERT_TRUE(wait_for_listener(lab_->server(1), 8080)) << server.log();
    std::vector<std::string> client = {"/usr/bin/socat", "-u", "OPEN:" + in_file,
                                       "TCP:" + kService + ",connect-timeout=2"};
    RunResult r = lab_->exec(lab_->client(), client, 20s);
    EXPECT_EQ(r.status, 0) << describe(client, r);
    auto status = server.wait(10s);
    ASSERT_TRUE(status.has_value()) << "the real server's socat got no (complete) connection";
    EXPECT_EQ(*status, 0) << server.log();
    std::string sent = read_file(in_file, 64 << 20), got = read_file(out_file, 64 << 20);
    EXPECT_EQ(got.size(), sent.size());
    EXPECT_TRUE(got == sent) << "the bytes arrived changed";
  }
};

TEST_P(IpvsSelftestTest, RandomBytesToTheVipArriveIntactAtTheRealServer) {
  ASSERT_NO_FATAL_FAILURE(start_shaped_lab(1, kTopology, {"veth10", "veth12"}));
  ASSERT_NO_FATAL_FAILURE(set_up_mode(GetParam()));
  {
    SCOPED_TRACE("the selftest's 32 bytes");
    ASSERT_NO_FATAL_FAILURE(send_and_compare(random_file("in32", 32)));
  }
  {
    SCOPED_TRACE("1 MB");
    ASSERT_NO_FATAL_FAILURE(send_and_compare(random_file("in1m", 1 << 20)));
  }
  Table t = director_->stats();
  const ServiceRow* s = t.service("TCP", kService);
  ASSERT_TRUE(s) << director_->context();
  EXPECT_EQ(s->conns, 2);
  if (GetParam() != Mode::kNat) {
    EXPECT_EQ(s->out_pkts, 0) << "DR and TUN replies take the direct path";
  } else {
    EXPECT_GT(s->out_pkts, 0);
  }
}

INSTANTIATE_TEST_SUITE_P(Modes, IpvsSelftestTest,
                         ::testing::Values(Mode::kDr, Mode::kNat, Mode::kTunIpip),
                         [](const ::testing::TestParamInfo<Mode>& info) {
                           return mode_name(info.param);
                         });

}  // namespace
}  // namespace uvs::testing::netns
