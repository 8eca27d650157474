// tun_offload_in(): which TUN connections the fast path takes, and the outer-header template
// their flows carry (the bytes themselves are compared with XDP's in
// tests/fixtures/fast_path_test.cc).
#include <gtest/gtest.h>

#include <cstring>

#include "pkt/builder.h"
#include "sched/dest.h"
#include "xmit/transmitter.h"
#include "xmit/tunnel.h"

namespace uvs::xmit {
namespace {

using pkt::addr;

struct Fixture {
  explicit Fixture(const char* rs, TunType type = TunType::kIpip,
                   TunCsum csum = TunCsum::kNoCsum, const char* vip = "10.0.100.1")
      : dest(DestKey{addr(rs), 80}) {
    DestConfig cfg;
    cfg.key = DestKey{addr(rs), 80};
    cfg.fwd = Fwd::kTunnel;
    cfg.tun_type = type;
    cfg.tun_flags = csum;
    cfg.tun_port = 6080;
    dest.apply_config(cfg, true);
    std::memset(&c, 0, sizeof(c));
    const InetAddr v = addr(vip);
    const InetAddr r = addr(rs);
    c.af = static_cast<uint8_t>(v.family);
    c.daf = static_cast<uint8_t>(r.family);
    c.caddr = addr(v.is_v6() ? "2001:db8:1::5" : "10.0.1.5").bytes;
    c.vaddr = v.bytes;
    c.daddr = r.bytes;
    c.cport = 40000;
    c.vport = 80;
    c.dport = 80;
    c.protocol = IPPROTO_TCP;
    c.flags = static_cast<uint16_t>(Fwd::kTunnel);
    c.dest = &dest;
    // What tun_in() leaves there once it has routed a packet: the tunnel's source.
    c.laddr = addr(r.is_v6() ? "2001:db8:2::1" : "10.0.2.1").bytes;
    ctx.sysctls = &sysctls;
  }
  bool offload() { return tun_offload_in(ctx, c, &key, &flow); }

  sched::Dest dest;
  conn::Conn c;
  Sysctls sysctls;
  Context ctx{1};
  uvs_flow_key key{};
  uvs_flow flow{};
};

TEST(TunOffload, IpipV4CarriesTheOuterHeaderTemplate) {
  Fixture f("10.0.2.11");
  ASSERT_TRUE(f.offload());
  EXPECT_EQ(f.flow.flags, UVS_FLOW_F_TUN);
  EXPECT_EQ(f.flow.tun.len, 20);
  EXPECT_EQ(f.flow.tun.flags, 0);
  EXPECT_EQ(f.flow.tun.hdr[0], 0x45);
  EXPECT_EQ(f.flow.tun.hdr[9], IPPROTO_IPIP);
  EXPECT_EQ(std::memcmp(f.flow.tun.hdr + 12, addr("10.0.2.1").bytes.data(), 4), 0);
  EXPECT_EQ(std::memcmp(f.flow.tun.hdr + 16, addr("10.0.2.11").bytes.data(), 4), 0);
  // Keyed as the client's packets arrive.
  EXPECT_EQ(f.key.family, AF_INET);
  EXPECT_EQ(f.key.sport, htons(40000));
  EXPECT_EQ(f.key.dport, htons(80));
  EXPECT_EQ(std::memcmp(f.key.daddr, addr("10.0.100.1").bytes.data(), 4), 0);
}

TEST(TunOffload, GueCarriesTheFlowsSourcePort) {
  Fixture f("10.0.2.11", TunType::kGue);
  ASSERT_TRUE(f.offload());
  EXPECT_EQ(f.flow.tun.len, 20 + 8 + 4);
  EXPECT_EQ(f.flow.tun.flags, UVS_TUN_F_UDP);
  const uint16_t sport = tunnel_source_port(addr("10.0.1.5"), addr("10.0.100.1"), 40000, 80,
                                            IPPROTO_TCP);
  EXPECT_EQ(f.flow.tun.hdr[20], sport >> 8);
  EXPECT_EQ(f.flow.tun.hdr[21], sport & 0xff);
  EXPECT_EQ(f.flow.tun.hdr[22], 6080 >> 8);
  EXPECT_EQ(f.flow.tun.hdr[23], 6080 & 0xff);
}

TEST(TunOffload, GreV6InV6) {
  Fixture f("2001:db8:2::11", TunType::kGre, TunCsum::kNoCsum, "2001:db8:100::1");
  ASSERT_TRUE(f.offload());
  EXPECT_EQ(f.flow.tun.len, 40 + 4);
  EXPECT_EQ(f.flow.tun.flags, UVS_TUN_F_V6);
  EXPECT_EQ(f.flow.tun.hdr[6], IPPROTO_GRE);
  EXPECT_EQ(f.flow.tun.hdr[42], 0x86);
  EXPECT_EQ(f.flow.tun.hdr[43], 0xdd);
}

TEST(TunOffload, NotBeforeAPacketWasRouted) {
  Fixture f("10.0.2.11");
  f.c.laddr = {};  // the tunnel's source is the route's, known once a packet went through
  EXPECT_FALSE(f.offload());
}

TEST(TunOffload, NotWhatNeedsAChecksumOrAnIdPerPacket) {
  EXPECT_FALSE(Fixture("10.0.2.11", TunType::kGue, TunCsum::kCsum).offload());
  EXPECT_FALSE(Fixture("10.0.2.11", TunType::kGue, TunCsum::kRemCsum).offload());
  EXPECT_FALSE(Fixture("2001:db8:2::11", TunType::kGue, TunCsum::kNoCsum, "2001:db8:100::1")
                   .offload());
  EXPECT_FALSE(Fixture("10.0.2.11", TunType::kGre, TunCsum::kCsum).offload());
  // IPv6 in IPv4: the outer header never has DF.
  EXPECT_FALSE(Fixture("10.0.2.11", TunType::kIpip, TunCsum::kNoCsum, "2001:db8:100::1")
                   .offload());
  // pmtu_disc 0: no outer IPv4 header has DF either.
  Fixture f("10.0.2.11");
  f.sysctls.pmtu_disc = 0;
  EXPECT_FALSE(f.offload());
  // Outer IPv6 needs no DF.
  Fixture g("2001:db8:2::11");
  g.sysctls.pmtu_disc = 0;
  EXPECT_TRUE(g.offload());
}

}  // namespace
}  // namespace uvs::xmit
