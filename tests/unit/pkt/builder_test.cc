#include "pkt/builder.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "pkt/checksum.h"
#include "pkt/parse.h"
#include "tests/unit/pkt/pkt_test_util.h"

namespace uvs::pkt {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

FrameBuilder syn4() {
  FrameBuilder b;
  b.eth(mac("02:00:00:00:00:0a"), mac("02:00:00:00:00:0b")).ipv4("10.0.0.1", "10.0.0.2").tcp(40000, 80, kTcpSyn, 100);
  return b;
}

// ---- The builder writes what it is asked -------------------------------------------------------

TEST(Builder, Ipv4FieldsLandWhereTheyShould) {
  const Bytes f = syn4().ttl(17).tos(0xb8).ip_id(0x1234).df().payload("abc").build();
  ASSERT_EQ(f.size(), 14u + 20 + 20 + 3);
  EXPECT_EQ(load_be16(f.data() + 12), kEthPIpv4);
  EXPECT_EQ(f[0], 0x02);
  EXPECT_EQ(f[5], 0x0b);  // destination first
  EXPECT_EQ(f[11], 0x0a);
  const uint8_t* ip = f.data() + 14;
  EXPECT_EQ(ip[0], 0x45);
  EXPECT_EQ(ip[1], 0xb8);
  EXPECT_EQ(load_be16(ip + 2), 43);
  EXPECT_EQ(load_be16(ip + 4), 0x1234);
  EXPECT_EQ(load_be16(ip + 6), kIpv4FlagDf);
  EXPECT_EQ(ip[8], 17);
  EXPECT_EQ(ip[9], IPPROTO_TCP);
  EXPECT_TRUE(ipv4_header_checksum_ok(ip, 20));
  const uint8_t* tcp = ip + 20;
  EXPECT_EQ(load_be16(tcp), 40000);
  EXPECT_EQ(load_be32(tcp + 4), 100u);
  EXPECT_EQ(tcp[12], 0x50);
  EXPECT_EQ(tcp[13], kTcpSyn);
  EXPECT_EQ(std::string(f.end() - 3, f.end()), "abc");
}

TEST(Builder, Ipv6FieldsAndExtensionChain) {
  const Bytes f = FrameBuilder()
                      .ipv6("2001:db8::1", "2001:db8::2")
                      .tos(0x28)
                      .flow_label(0xabcde)
                      .ttl(9)
                      .ipv6_ext(kIpv6NextHopByHop)
                      .ipv6_ext(kIpv6NextAh, 16)
                      .udp(1, 2)
                      .build();
  const uint8_t* ip = f.data() + 14;
  EXPECT_EQ(load_be32(ip), 6u << 28 | 0x28u << 20 | 0xabcde);
  EXPECT_EQ(load_be16(ip + 4), 8 + 16 + 8);
  EXPECT_EQ(ip[6], kIpv6NextHopByHop);
  EXPECT_EQ(ip[7], 9);
  EXPECT_EQ(ip[40], kIpv6NextAh);      // hop-by-hop names AH
  EXPECT_EQ(ip[48], IPPROTO_UDP);      // AH names UDP
  EXPECT_EQ(ip[49], 16 / 4 - 2);       // AH length in 4-byte units minus 2
}

TEST(Builder, ChecksumModes) {
  const auto parse_status = [](const Bytes& f) {
    ParsedPacket p;
    parse_frame(f.data(), static_cast<uint32_t>(f.size()), &p, kParseVerifyL4Checksum);
    return p.l4_csum;
  };
  EXPECT_EQ(parse_status(syn4().build()), CsumStatus::kValid);
  EXPECT_EQ(parse_status(syn4().l4_csum(CsumMode::kWrong).build()), CsumStatus::kBad);
  EXPECT_EQ(parse_status(syn4().l4_csum(CsumMode::kPartial).build()), CsumStatus::kPartial);
  const Bytes v = syn4().l4_csum(CsumMode::kValue, htons(0xbeef)).build();
  EXPECT_EQ(load_be16(v.data() + 14 + 20 + 16), 0xbeef);
  ParsedPacket p;
  const Bytes bad_ip = syn4().ip_csum(CsumMode::kWrong).build();
  EXPECT_EQ(parse_frame(bad_ip.data(), static_cast<uint32_t>(bad_ip.size()), &p), Verdict::kMalformed);
}

TEST(Builder, FragmentFrameProducesParsableFragments) {
  for (bool v6 : {false, true}) {
    FrameBuilder b;
    b.vlan(12);
    if (v6) b.ipv6("2001:db8::1", "2001:db8::2").ipv6_ext(kIpv6NextHopByHop); else b.ipv4("10.0.0.1", "10.0.0.2");
    const Bytes whole = b.tcp(1, 2).payload_size(1000).build();
    const std::vector<Bytes> frags = fragment_frame(whole, 300, 99);
    ASSERT_EQ(frags.size(), 4u);  // 1020 bytes of TCP: 296 + 296 + 296 + 132
    uint32_t expect_offset = 0;
    for (size_t i = 0; i < frags.size(); ++i) {
      const ParsedPacket p = testing::parse_exact(frags[i]);
      ASSERT_TRUE(p.ok()) << reason_name(p.reason);
      EXPECT_TRUE(p.is_fragment);
      EXPECT_EQ(p.frag_offset, expect_offset);
      EXPECT_EQ(p.more_fragments, i + 1 < frags.size());
      EXPECT_EQ(p.frag_id, v6 ? 99u : 1u);
      EXPECT_EQ(p.vlan_count, 1);
      expect_offset += p.l3_end - p.frag_data_off;
    }
    EXPECT_EQ(expect_offset, 1020u);
  }
}

// ---- describe_diff -------------------------------------------------------------------------------

TEST(DescribeDiff, IdenticalFramesHaveNoDiff) {
  const Bytes f = syn4().payload_size(100).build();
  EXPECT_EQ(describe_diff(f, f), "");
}

TEST(DescribeDiff, NamesTheFieldAndBothValues) {
  const Bytes expected = syn4().build();
  Bytes actual = expected;
  actual[14 + 19] = 3;  // 10.0.0.2 -> 10.0.0.3, checksums left stale
  const std::string d = describe_diff(expected, actual);
  EXPECT_THAT(d, HasSubstr("ipv4.daddr: expected 10.0.0.2 got 10.0.0.3"));
  EXPECT_THAT(d, HasSubstr("(valid) got"));
  EXPECT_THAT(d, HasSubstr("ipv4.csum: expected"));
  EXPECT_THAT(d, HasSubstr("tcp.csum: expected"));
  EXPECT_THAT(d, HasSubstr("(bad)"));
  EXPECT_THAT(d, Not(HasSubstr("tcp.sport")));
}

TEST(DescribeDiff, RebuiltFrameShowsValidChecksumsOnBothSides) {
  const std::string d = describe_diff(syn4().build(), syn4().tcp(40000, 8080, kTcpSyn, 100).build());
  EXPECT_THAT(d, HasSubstr("tcp.dport: expected 80 got 8080"));
  EXPECT_THAT(d, HasSubstr("tcp.csum: expected"));
  EXPECT_THAT(d, Not(HasSubstr("(bad)")));
  EXPECT_THAT(d, Not(HasSubstr("ipv4")));
}

TEST(DescribeDiff, TcpFlagsAndTtl) {
  const std::string d = describe_diff(syn4().ttl(64).build(), syn4().ttl(63).tcp(40000, 80, kTcpSyn | kTcpAck, 100).build());
  EXPECT_THAT(d, HasSubstr("ipv4.ttl: expected 64 got 63"));
  EXPECT_THAT(d, HasSubstr("tcp.flags: expected SYN got SYN|ACK"));
}

TEST(DescribeDiff, PayloadDifferencePointsAtTheByte) {
  Bytes a = syn4().payload("hello world").build();
  Bytes b = a;
  b[b.size() - 3] = 'X';
  EXPECT_THAT(describe_diff(a, b), HasSubstr("payload: 11 vs 11 bytes, first difference at byte 8"));
  Bytes longer = syn4().payload("hello world!").build();
  const std::string d = describe_diff(a, longer);
  EXPECT_THAT(d, HasSubstr("frame.len: expected 65 got 66"));
  EXPECT_THAT(d, HasSubstr("ipv4.tot_len: expected 51 got 52"));
  EXPECT_THAT(d, HasSubstr("payload: expected 11 bytes got 12"));
}

TEST(DescribeDiff, MissingAndExtraLayers) {
  const std::string d = describe_diff(FrameBuilder().vlan(100).ipv4("10.0.0.1", "10.0.0.2").udp(1, 2).build(),
                                      FrameBuilder().ipv4("10.0.0.1", "10.0.0.2").udp(1, 2).build());
  EXPECT_THAT(d, HasSubstr("vlan0.tci: expected 100 got nothing"));
  const std::string d6 = describe_diff(FrameBuilder().ipv6("2001:db8::1", "2001:db8::2").udp(1, 2).build(),
                                       FrameBuilder().ipv6("2001:db8::1", "2001:db8::2").ipv6_ext(kIpv6NextDestOpts).udp(1, 2).build());
  EXPECT_THAT(d6, HasSubstr("ipv6.ext0.type: expected nothing got 60"));
  EXPECT_THAT(d6, HasSubstr("ipv6.nexthdr: expected 17 got 60"));
}

TEST(DescribeDiff, Ipv4VersusIpv6) {
  const std::string d = describe_diff(FrameBuilder().ipv4("10.0.0.1", "10.0.0.2").udp(1, 2).build(),
                                      FrameBuilder().ipv6("2001:db8::1", "2001:db8::2").udp(1, 2).build());
  EXPECT_THAT(d, HasSubstr("eth.type: expected 0x0800 got 0x86dd"));
  EXPECT_THAT(d, HasSubstr("ipv4.saddr: expected 10.0.0.1 got nothing"));
  EXPECT_THAT(d, HasSubstr("ipv6.saddr: expected nothing got 2001:db8::1"));
}

TEST(DescribeDiff, IcmpErrorsCompareTheQuotedPacket) {
  const auto err = [](const char* quoted_daddr, uint16_t quoted_dport) {
    const Bytes inner = FrameBuilder().no_eth().ipv4("10.0.0.100", quoted_daddr).tcp(80, quoted_dport).build();
    return FrameBuilder().ipv4("10.9.9.9", "10.0.0.100").icmp(ICMP_DEST_UNREACH, ICMP_FRAG_NEEDED, 1400).quote(inner, 28).build();
  };
  const std::string d = describe_diff(err("192.0.2.7", 40000), err("192.0.2.8", 40001));
  EXPECT_THAT(d, HasSubstr("inner.ipv4.daddr: expected 192.0.2.7 got 192.0.2.8"));
  EXPECT_THAT(d, HasSubstr("inner.tcp.dport: expected 40000 got 40001"));
  EXPECT_THAT(d, HasSubstr("icmp.csum"));
}

TEST(DescribeDiff, TunnelsCompareTheInnerPacket) {
  const auto inner = [](uint16_t dport) { return FrameBuilder().no_eth().ipv4("192.0.2.1", "10.0.0.100").tcp(40000, dport).build(); };
  // IPIP
  const std::string ipip = describe_diff(FrameBuilder().ipv4("10.1.0.1", "10.1.0.2").raw(IPPROTO_IPIP).payload(inner(80)).build(),
                                         FrameBuilder().ipv4("10.1.0.1", "10.1.0.3").raw(IPPROTO_IPIP).payload(inner(81)).build());
  EXPECT_THAT(ipip, HasSubstr("ipv4.daddr: expected 10.1.0.2 got 10.1.0.3"));
  EXPECT_THAT(ipip, HasSubstr("inner.tcp.dport: expected 80 got 81"));
  // GUE
  const std::string gue =
      describe_diff(FrameBuilder().ipv4("10.1.0.1", "10.1.0.2").gue(50000, 6080, IPPROTO_IPIP).payload(inner(80)).build(),
                    FrameBuilder().ipv4("10.1.0.1", "10.1.0.2").gue(50000, 6080, IPPROTO_IPIP, true).payload(inner(80)).build());
  EXPECT_THAT(gue, HasSubstr("udp.csum: expected 0x0000 (none) got"));
  EXPECT_THAT(gue, HasSubstr("(valid)"));
  // GRE with checksum against GRE without
  const std::string gre =
      describe_diff(FrameBuilder().ipv4("10.1.0.1", "10.1.0.2").gre(kEthPIpv4, true).payload(inner(80)).build(),
                    FrameBuilder().ipv4("10.1.0.1", "10.1.0.2").gre(kEthPIpv4).payload(inner(80)).build());
  EXPECT_THAT(gre, HasSubstr("gre.flags: expected 0x8000 got 0x0000"));
  EXPECT_THAT(gre, HasSubstr("gre.csum: expected"));
  EXPECT_THAT(gre, HasSubstr("(valid) got nothing"));
}

TEST(DescribeFrame, ListsTheFields) {
  const std::string s = describe_frame(FrameBuilder().vlan(7).ipv6("2001:db8::1", "2001:db8::2").sctp(1, 2).sctp_chunk(kSctpInit).build());
  EXPECT_THAT(s, HasSubstr("vlan0.tci=7"));
  EXPECT_THAT(s, HasSubstr("ipv6.saddr=2001:db8::1"));
  EXPECT_THAT(s, HasSubstr("sctp.csum="));
  EXPECT_THAT(s, HasSubstr("(valid)"));
  EXPECT_THAT(s, HasSubstr("sctp.chunk0.type=1"));
}

TEST(DescribeFrame, TruncatedFramesAreDescribedNotOverread) {
  const Bytes whole = syn4().payload_size(10).build();
  for (size_t n = 0; n < whole.size(); ++n) {
    testing::ExactBuffer buf(whole.data(), static_cast<uint32_t>(n));
    const std::string s = describe_frame(std::span<const uint8_t>(buf.data(), n));
    if (n < 14) {
      EXPECT_THAT(s, HasSubstr("eth.truncated"));
    }
  }
}

}  // namespace
}  // namespace uvs::pkt
