// The forwarding transforms, packet in / packet out, compared field by field.
#include <gtest/gtest.h>

#include <netinet/icmp6.h>
#include <netinet/ip_icmp.h>

#include "io/memory_io.h"
#include "pkt/builder.h"
#include "pkt/parse.h"
#include "xmit/icmp.h"
#include "xmit/l3.h"
#include "xmit/tcp_opts.h"
#include "xmit/tunnel.h"

namespace uvs::xmit {
namespace {

using pkt::addr;
using pkt::Bytes;
using pkt::FrameBuilder;
using pkt::mac;

const L2Next kToReal{1, mac("02:00:00:00:01:01"), mac("02:00:00:00:02:02")};

// Runs `fn` on a frame holding `in`, as the data path would, and returns the bytes out.
template <typename Fn>
Bytes transform(const Bytes& in, Fn fn) {
  io::MemoryIo mem({io::PortInfo{}, io::PortInfo{}}, 4, 4096, 256);
  EXPECT_TRUE(mem.inject(0, in));
  io::Frame f;
  EXPECT_EQ(mem.rx_burst({&f, 1}), 1u);
  pkt::ParsedPacket p;
  EXPECT_EQ(pkt::parse_frame(f.data, f.len, &p), pkt::Verdict::kOk);
  EXPECT_TRUE(fn(f, p));
  return Bytes(f.data, f.data + f.len);
}

TEST(Nat, InboundRewritesDestinationAndChecksums) {
  for (const char* mode : {"v4", "v6"}) {
    SCOPED_TRACE(mode);
    bool v6 = std::string(mode) == "v6";
    const char* cip = v6 ? "2001:db8:1::5" : "10.0.1.5";
    const char* vip = v6 ? "2001:db8:100::1" : "10.0.100.1";
    const char* rip = v6 ? "2001:db8:2::11" : "10.0.2.11";
    auto ip = [&](FrameBuilder b, const char* s, const char* d) {
      return v6 ? b.ipv6(s, d) : b.ipv4(s, d);
    };
    Bytes in = ip(FrameBuilder().vlan(7), cip, vip).ttl(64).tcp(40000, 80, pkt::kTcpSyn).payload("hi").build();
    Bytes want = ip(FrameBuilder().eth(kToReal.src, kToReal.dst), cip, rip)
                     .ttl(63).tcp(40000, 8080, pkt::kTcpSyn).payload("hi").build();
    Bytes out = transform(in, [&](io::Frame& f, const pkt::ParsedPacket& p) {
      EXPECT_TRUE(decrement_ttl(f.data, p));
      rewrite_tuple(f.data, p, p.saddr, p.sport, addr(rip), 8080);
      return set_ethernet(f, p, kToReal);
    });
    EXPECT_EQ(pkt::describe_diff(want, out), "");
  }
}

TEST(Nat, PartialChecksumIsRecomputedNotUpdated) {
  Bytes in = FrameBuilder().ipv4("10.0.1.5", "10.0.100.1").udp(5000, 53).payload("query")
                 .l4_csum(pkt::CsumMode::kPartial).build();
  Bytes want = FrameBuilder().eth(kToReal.src, kToReal.dst).ipv4("10.0.1.5", "10.0.2.11")
                   .udp(5000, 53).payload("query").build();
  Bytes out = transform(in, [&](io::Frame& f, const pkt::ParsedPacket& p) {
    rewrite_tuple(f.data, p, p.saddr, p.sport, addr("10.0.2.11"), 53);
    return set_ethernet(f, p, kToReal);
  });
  EXPECT_EQ(pkt::describe_diff(want, out), "");
}

TEST(Nat, OutboundRewritesSource) {
  Bytes in = FrameBuilder().ipv4("10.0.2.11", "10.0.1.5").tcp(8080, 40000, pkt::kTcpSyn | pkt::kTcpAck).build();
  Bytes want = FrameBuilder().eth(kToReal.src, kToReal.dst).ipv4("10.0.100.1", "10.0.1.5")
                   .tcp(80, 40000, pkt::kTcpSyn | pkt::kTcpAck).build();
  Bytes out = transform(in, [&](io::Frame& f, const pkt::ParsedPacket& p) {
    rewrite_tuple(f.data, p, addr("10.0.100.1"), 80, p.daddr, p.dport);
    return set_ethernet(f, p, kToReal);
  });
  EXPECT_EQ(pkt::describe_diff(want, out), "");
}

TEST(Nat, FragmentsKeepAConsistentChecksum) {
  Bytes whole = FrameBuilder().ipv4("10.0.1.5", "10.0.100.1").udp(5000, 53).payload_size(600).build();
  Bytes want_whole = FrameBuilder().eth(kToReal.src, kToReal.dst).ipv4("10.0.1.5", "10.0.2.11")
                         .udp(5000, 5353).payload_size(600).build();
  auto frags = pkt::fragment_frame(whole, 256);
  auto want = pkt::fragment_frame(want_whole, 256);
  ASSERT_EQ(frags.size(), want.size());
  for (size_t i = 0; i < frags.size(); ++i) {
    Bytes out = transform(frags[i], [&](io::Frame& f, const pkt::ParsedPacket& p) {
      rewrite_tuple(f.data, p, p.saddr, 5000, addr("10.0.2.11"), 5353);
      return set_ethernet(f, p, kToReal);
    });
    EXPECT_EQ(pkt::describe_diff(want[i], out), "") << "fragment " << i;
  }
}

TEST(Ttl, OneIsNotForwarded) {
  Bytes in = FrameBuilder().ipv4("10.0.1.5", "10.0.100.1").ttl(1).tcp(1, 2).build();
  transform(in, [&](io::Frame& f, const pkt::ParsedPacket& p) {
    EXPECT_FALSE(decrement_ttl(f.data, p));
    EXPECT_EQ(f.data[p.ttl_off()], 1);
    return true;
  });
}

TEST(Tunnel, IpipGueGreBothFamilies) {
  struct Case {
    TunType type;
    TunCsum csum;
    bool outer_v6;
    bool inner_v6;
  };
  for (auto c : {Case{TunType::kIpip, TunCsum::kNoCsum, false, false},
                 Case{TunType::kIpip, TunCsum::kNoCsum, false, true},
                 Case{TunType::kIpip, TunCsum::kNoCsum, true, true},
                 Case{TunType::kGue, TunCsum::kNoCsum, false, false},
                 Case{TunType::kGue, TunCsum::kCsum, false, false},
                 Case{TunType::kGre, TunCsum::kNoCsum, false, false},
                 Case{TunType::kGre, TunCsum::kCsum, false, true}}) {
    SCOPED_TRACE(testing::Message() << int(c.type) << "/" << int(c.csum) << "/" << c.outer_v6
                                    << "/" << c.inner_v6);
    auto inner = [&](FrameBuilder b) {
      return c.inner_v6 ? b.ipv6("2001:db8:1::5", "2001:db8:100::1")
                        : b.ipv4("10.0.1.5", "10.0.100.1").df();
    };
    Bytes in = inner(FrameBuilder()).ttl(9).tos(0x2b).tcp(40000, 80).payload("data").build();
    Bytes inner_after = inner(FrameBuilder().no_eth()).ttl(8).tos(0x2b).tcp(40000, 80).payload("data").build();
    TunnelParams t;
    t.type = c.type;
    t.csum = c.csum;
    t.port = 6080;
    t.src = addr(c.outer_v6 ? "2001:db8:2::1" : "10.0.2.1");
    t.dst = addr(c.outer_v6 ? "2001:db8:2::11" : "10.0.2.11");
    Bytes out = transform(in, [&](io::Frame& f, const pkt::ParsedPacket& p) {
      EXPECT_TRUE(decrement_ttl(f.data, p));
      return tunnel_encap(f, p, t, kToReal);
    });
    // The outer header as the kernel builds it: TTL from the inner, DSCP copied and ECN CE
    // turned into ECT(0) (0x2b is DSCP 10 with CE, so 0x2a), DF copied from an IPv4 inner.
    FrameBuilder outer = FrameBuilder().eth(kToReal.src, kToReal.dst);
    if (c.outer_v6)
      outer.ipv6("2001:db8:2::1", "2001:db8:2::11").tos(0x2a).ttl(8);
    else
      outer.ipv4("10.0.2.1", "10.0.2.11").tos(0x2a).ttl(8).ip_id(0).df(!c.inner_v6);
    uint8_t inner_proto = c.inner_v6 ? IPPROTO_IPV6 : IPPROTO_IPIP;
    if (c.type == TunType::kIpip) outer.raw(inner_proto);
    if (c.type == TunType::kGre) outer.gre(c.inner_v6 ? 0x86dd : 0x0800, c.csum == TunCsum::kCsum);
    if (c.type == TunType::kGue) {
      // the source port is a flow hash: take it from the output
      pkt::ParsedPacket po;
      ASSERT_EQ(pkt::parse_frame(out.data(), static_cast<uint32_t>(out.size()), &po), pkt::Verdict::kOk);
      outer.gue(po.sport, 6080, inner_proto, c.csum == TunCsum::kCsum);
      EXPECT_GE(po.sport, 32768);
    }
    Bytes want = outer.payload(inner_after).build();
    EXPECT_EQ(pkt::describe_diff(want, out), "");
    EXPECT_EQ(out.size(), 14 + tunnel_overhead(t) + inner_after.size());
  }
}

TEST(Icmp, FragNeededQuotesTheOffendingPacket) {
  Bytes in = FrameBuilder().ipv4("10.0.1.5", "10.0.100.1").df().tcp(40000, 80).payload_size(1400).build();
  Bytes orig_ip(in.begin() + 14, in.end());
  L2Next back{0, mac("02:00:00:00:00:02"), mac("02:00:00:00:00:01")};
  Bytes out = transform(in, [&](io::Frame& f, const pkt::ParsedPacket& p) {
    auto k = icmp_frag_needed(false);
    return make_icmp_error(f, p, k.type, k.code, 1480, addr("10.0.100.1"), back);
  });
  Bytes want = FrameBuilder().eth(back.src, back.dst).ipv4("10.0.100.1", "10.0.1.5").tos(0xc0).ip_id(0)
                   .icmp(ICMP_DEST_UNREACH, ICMP_FRAG_NEEDED, 1480).quote(orig_ip, 548).build();
  EXPECT_EQ(pkt::describe_diff(want, out), "");
  EXPECT_EQ(out.size(), 14u + 576u);
}

TEST(Icmp, PacketTooBigV6AndNoErrorAboutErrors) {
  Bytes in = FrameBuilder().ipv6("2001:db8:1::5", "2001:db8:100::1").udp(1, 2).payload_size(1500).build();
  Bytes orig_ip(in.begin() + 14, in.end());
  L2Next back{0, mac("02:00:00:00:00:02"), mac("02:00:00:00:00:01")};
  Bytes out = transform(in, [&](io::Frame& f, const pkt::ParsedPacket& p) {
    auto k = icmp_frag_needed(true);
    return make_icmp_error(f, p, k.type, k.code, 1280, addr("2001:db8:100::1"), back);
  });
  Bytes want = FrameBuilder().eth(back.src, back.dst).ipv6("2001:db8:100::1", "2001:db8:1::5")
                   .icmp6(ICMP6_PACKET_TOO_BIG, 0, 1280).quote(orig_ip, 1280 - 48).build();
  EXPECT_EQ(pkt::describe_diff(want, out), "");
  EXPECT_EQ(out.size(), 14u + 1280u);

  Bytes err = FrameBuilder().ipv4("10.0.2.11", "10.0.1.5").icmp(ICMP_DEST_UNREACH, ICMP_PORT_UNREACH)
                  .quote(FrameBuilder().no_eth().ipv4("10.0.1.5", "10.0.2.11").udp(1, 2).build()).build();
  transform(err, [&](io::Frame& f, const pkt::ParsedPacket& p) {
    EXPECT_FALSE(make_icmp_error(f, p, ICMP_DEST_UNREACH, ICMP_PORT_UNREACH, 0, addr("10.0.0.1"), back));
    return true;
  });
}

TEST(Icmp, ErrorFromRealServerTranslatedForTheClient) {
  // NAT out: a real server's port unreachable about a reply toward the client is made to come
  // from the VIP and to quote the VIP.
  Bytes quoted = FrameBuilder().no_eth().ipv4("10.0.2.11", "10.0.1.5").udp(5353, 5000).build();
  Bytes in = FrameBuilder().ipv4("10.0.2.11", "10.0.1.5").icmp(ICMP_DEST_UNREACH, ICMP_PORT_UNREACH)
                 .quote(quoted).build();
  Bytes quoted_want = FrameBuilder().no_eth().ipv4("10.0.100.1", "10.0.1.5").udp(53, 5000).build();
  Bytes want = FrameBuilder().eth(kToReal.src, kToReal.dst).ipv4("10.0.100.1", "10.0.1.5")
                   .icmp(ICMP_DEST_UNREACH, ICMP_PORT_UNREACH).quote(quoted_want).build();
  Bytes out = transform(in, [&](io::Frame& f, const pkt::ParsedPacket& p) {
    EXPECT_TRUE(p.has_inner);
    rewrite_icmp_error(f.data, p, addr("10.0.100.1"), p.daddr, addr("10.0.100.1"), 53,
                       p.inner.daddr, p.inner.dport);
    return set_ethernet(f, p, kToReal);
  });
  EXPECT_EQ(pkt::describe_diff(want, out), "");
}

// FULLNAT's reply direction: the real server acknowledges sequence numbers of the director's
// space; the client must see its own, in the ack field and in both edges of every SACK block.
TEST(TcpOpts, UnshiftAckMovesBothEdgesOfEverySackBlock) {
  constexpr uint32_t kDelta = 1000;
  auto sack = [](std::initializer_list<uint32_t> edges) {
    Bytes option{1, 1, 5, static_cast<uint8_t>(2 + 4 * edges.size())};  // NOP NOP SACK len
    for (uint32_t edge : edges)
      for (int shift = 24; shift >= 0; shift -= 8)
        option.push_back(static_cast<uint8_t>(edge >> shift));
    return option;
  };
  for (const auto& [blocks_in, blocks_want] :
       {std::pair{sack({12000, 13000}), sack({11000, 12000})},
        std::pair{sack({12000, 13000, 14000, 15000}), sack({11000, 12000, 13000, 14000})}}) {
    Bytes in = FrameBuilder().ipv4("10.0.2.11", "10.0.2.100")
                   .tcp(8080, 5000, pkt::kTcpAck, 1, 11000).tcp_options(blocks_in).build();
    Bytes want = FrameBuilder().ipv4("10.0.2.11", "10.0.2.100")
                     .tcp(8080, 5000, pkt::kTcpAck, 1, 10000).tcp_options(blocks_want).build();
    Bytes out = transform(in, [&](io::Frame& f, const pkt::ParsedPacket& p) {
      tcp_unshift_ack(f.data, p, kDelta);
      pkt::recompute_l4_checksum(f.data, p);
      return true;
    });
    EXPECT_EQ(pkt::describe_diff(want, out), "") << blocks_in.size() << " option bytes";
  }
}

}  // namespace
}  // namespace uvs::xmit
