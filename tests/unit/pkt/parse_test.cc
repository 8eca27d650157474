#include "pkt/parse.h"

#include <gtest/gtest.h>

#include <string>

#include "pkt/builder.h"
#include "tests/unit/pkt/pkt_test_util.h"

namespace uvs::pkt {
namespace {

using testing::parse_exact;

constexpr const char* kV4Client = "192.0.2.10";
constexpr const char* kV4Vip = "198.51.100.1";
constexpr const char* kV6Client = "2001:db8::10";
constexpr const char* kV6Vip = "2001:db8:100::1";

// ---- Every protocol, both families, 0/1/2 VLAN tags ------------------------------------------

enum class Proto { kTcp, kUdp, kSctp, kIcmpEcho, kUnknown };

struct MatrixCase {
  bool v6;
  int vlans;
  Proto proto;
};

std::string case_name(const ::testing::TestParamInfo<MatrixCase>& info) {
  static const char* kProto[] = {"Tcp", "Udp", "Sctp", "IcmpEcho", "Unknown"};
  return std::string(info.param.v6 ? "V6" : "V4") + kProto[static_cast<int>(info.param.proto)] +
         "Vlan" + std::to_string(info.param.vlans);
}

class ParseMatrix : public ::testing::TestWithParam<MatrixCase> {};

TEST_P(ParseMatrix, ParsesEveryField) {
  const MatrixCase c = GetParam();
  FrameBuilder b;
  if (c.vlans >= 1) b.vlan(0x2064, c.vlans == 2 ? kEthP8021AD : kEthP8021Q);  // PCP 1, VID 100
  if (c.vlans >= 2) b.vlan(200);
  if (c.v6) b.ipv6(kV6Client, kV6Vip); else b.ipv4(kV4Client, kV4Vip);
  b.ttl(33).payload("hello, world");
  uint8_t proto = 0;
  switch (c.proto) {
    case Proto::kTcp: b.tcp(40000, 80, kTcpSyn | kTcpEce, 1000); proto = IPPROTO_TCP; break;
    case Proto::kUdp: b.udp(5353, 53); proto = IPPROTO_UDP; break;
    case Proto::kSctp: b.sctp(3868, 3868).sctp_chunk(kSctpInit, 0, Bytes(16, 0xab)); proto = IPPROTO_SCTP; break;
    case Proto::kIcmpEcho: b.icmp_echo(7, 1); proto = c.v6 ? uint8_t{IPPROTO_ICMPV6} : uint8_t{IPPROTO_ICMP}; break;
    case Proto::kUnknown: b.raw(253); proto = 253; break;
  }
  const Bytes frame = b.build();
  const ParsedPacket p = parse_exact(frame, kParseVerifyL4Checksum);

  ASSERT_EQ(p.verdict, Verdict::kOk) << reason_name(p.reason);
  EXPECT_EQ(p.reason, Reason::kNone);
  EXPECT_EQ(p.vlan_count, c.vlans);
  if (c.vlans >= 1) {
    EXPECT_EQ(p.vlan_tci[0], 0x2064);
  }
  if (c.vlans >= 2) {
    EXPECT_EQ(p.vlan_tci[1], 200);
  }
  const uint32_t l3 = kEthHdrLen + kVlanHdrLen * c.vlans;
  EXPECT_EQ(p.l3_off, l3);
  EXPECT_EQ(p.ethertype, c.v6 ? kEthPIpv6 : kEthPIpv4);
  EXPECT_EQ(p.af, c.v6 ? AF_INET6 : AF_INET);
  EXPECT_EQ(p.l3_end, frame.size());
  EXPECT_EQ(p.l4_off, l3 + (c.v6 ? kIpv6HdrLen : kIpv4HdrLen));
  EXPECT_EQ(p.proto, proto);
  EXPECT_EQ(p.ttl, 33);
  EXPECT_EQ(frame[p.ttl_off()], 33);
  EXPECT_EQ(p.saddr, addr(c.v6 ? kV6Client : kV4Client));
  EXPECT_EQ(p.daddr, addr(c.v6 ? kV6Vip : kV4Vip));
  EXPECT_FALSE(p.is_fragment);
  EXPECT_FALSE(p.is_icmp_error);
  EXPECT_FALSE(p.has_inner);
  switch (c.proto) {
    case Proto::kTcp:
      ASSERT_TRUE(p.has_l4);
      EXPECT_EQ(p.sport, 40000);
      EXPECT_EQ(p.dport, 80);
      EXPECT_EQ(p.tcp_flags, kTcpSyn | kTcpEce);
      EXPECT_EQ(p.l4_csum, CsumStatus::kValid);
      EXPECT_EQ(p.l4_len(), kTcpHdrLen + 12);
      break;
    case Proto::kUdp:
      ASSERT_TRUE(p.has_l4);
      EXPECT_EQ(p.sport, 5353);
      EXPECT_EQ(p.dport, 53);
      EXPECT_EQ(p.l4_csum, CsumStatus::kValid);
      break;
    case Proto::kSctp:
      ASSERT_TRUE(p.has_l4);
      EXPECT_EQ(p.sport, 3868);
      EXPECT_EQ(p.dport, 3868);
      EXPECT_EQ(p.sctp_chunk_type, kSctpInit);
      EXPECT_FALSE(p.has_sctp_chunk2);
      EXPECT_EQ(p.l4_csum, CsumStatus::kValid);
      break;
    case Proto::kIcmpEcho:
      ASSERT_TRUE(p.has_l4);
      EXPECT_EQ(p.icmp_type, c.v6 ? uint8_t{ICMP6_ECHO_REQUEST} : uint8_t{ICMP_ECHO});
      EXPECT_EQ(p.icmp_code, 0);
      EXPECT_EQ(p.icmp_info, (7u << 16) | 1u);
      EXPECT_EQ(p.sport, 0);
      EXPECT_EQ(p.l4_csum, CsumStatus::kValid);
      break;
    case Proto::kUnknown:
      EXPECT_FALSE(p.has_l4);
      EXPECT_EQ(p.l4_csum, CsumStatus::kUnchecked);
      break;
  }
}

std::vector<MatrixCase> matrix() {
  std::vector<MatrixCase> v;
  for (bool v6 : {false, true})
    for (int vlans = 0; vlans <= 2; ++vlans)
      for (Proto proto : {Proto::kTcp, Proto::kUdp, Proto::kSctp, Proto::kIcmpEcho, Proto::kUnknown})
        v.push_back({v6, vlans, proto});
  return v;
}
INSTANTIATE_TEST_SUITE_P(AllProtocols, ParseMatrix, ::testing::ValuesIn(matrix()), case_name);

// ---- IPv4 details ------------------------------------------------------------------------------

TEST(ParseIpv4, OptionsMoveTheL4Header) {
  // Record route (7), length 11, pointer 4, room for two addresses; padded to 12 bytes.
  const Bytes frame = FrameBuilder()
                          .ipv4(kV4Client, kV4Vip)
                          .ipv4_options({7, 11, 4, 0, 0, 0, 0, 0, 0, 0, 0})
                          .tcp(1234, 443)
                          .build();
  const ParsedPacket p = parse_exact(frame);
  ASSERT_TRUE(p.ok()) << reason_name(p.reason);
  EXPECT_TRUE(p.has_ipv4_options);
  EXPECT_EQ(p.l4_off, kEthHdrLen + 32);
  EXPECT_EQ(p.sport, 1234);
  EXPECT_EQ(p.dport, 443);
}

TEST(ParseIpv4, MaximumOptions) {
  const Bytes frame = FrameBuilder().ipv4(kV4Client, kV4Vip).ipv4_options(Bytes(40, 1)).udp(1, 2).build();
  const ParsedPacket p = parse_exact(frame);
  ASSERT_TRUE(p.ok()) << reason_name(p.reason);
  EXPECT_EQ(p.l4_off, kEthHdrLen + kIpv4MaxHdrLen);
}

TEST(ParseIpv4, EthernetPaddingIsNotPartOfTheDatagram) {
  Bytes frame = FrameBuilder().ipv4(kV4Client, kV4Vip).udp(1000, 53).payload("x").build();
  const size_t real = frame.size();
  frame.resize(60, 0);  // minimum Ethernet frame, zero padded
  const ParsedPacket p = parse_exact(frame, kParseVerifyL4Checksum);
  ASSERT_TRUE(p.ok()) << reason_name(p.reason);
  EXPECT_EQ(p.l3_end, real);
  EXPECT_EQ(p.l4_csum, CsumStatus::kValid);
}

TEST(ParseIpv4, UdpLengthShorterThanPayloadIsAccepted) {
  // RFC 768 lets the IP payload run past the UDP length; the kernel trims it.
  const Bytes frame = FrameBuilder().ipv4(kV4Client, kV4Vip).udp(1000, 53).payload("abcdef").udp_len(10).build();
  const ParsedPacket p = parse_exact(frame);
  EXPECT_TRUE(p.ok()) << reason_name(p.reason);
}

TEST(ParseIpv4, ZeroTtlIsFlaggedNotRefused) {
  const ParsedPacket p = parse_exact(FrameBuilder().ipv4(kV4Client, kV4Vip).ttl(0).tcp(1, 80).build());
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p.ttl, 0);
  const ParsedPacket p6 = parse_exact(FrameBuilder().ipv6(kV6Client, kV6Vip).ttl(0).tcp(1, 80).build());
  ASSERT_TRUE(p6.ok());
  EXPECT_EQ(p6.ttl, 0);
}

TEST(ParseIpv4, DontFragmentIsNotAFragment) {
  const ParsedPacket p = parse_exact(FrameBuilder().ipv4(kV4Client, kV4Vip).df().tcp(1, 80).build());
  ASSERT_TRUE(p.ok());
  EXPECT_FALSE(p.is_fragment);
  EXPECT_TRUE(p.dont_fragment);
  EXPECT_FALSE(parse_exact(FrameBuilder().ipv4(kV4Client, kV4Vip).tcp(1, 80).build()).dont_fragment);
}

TEST(ParseIpv4, BadHeaderChecksumCanBeTrusted) {
  const Bytes frame = FrameBuilder().ipv4(kV4Client, kV4Vip).ip_csum(CsumMode::kWrong).tcp(1, 80).build();
  EXPECT_EQ(parse_exact(frame).reason, Reason::kIpv4BadChecksum);
  EXPECT_TRUE(parse_exact(frame, kParseSkipIpv4Checksum).ok());
}

// ---- Fragments ---------------------------------------------------------------------------------

TEST(ParseFragments, Ipv4FirstAndLaterFragments) {
  const Bytes whole = FrameBuilder().ipv4(kV4Client, kV4Vip).ip_id(0xbeef).udp(7000, 53).payload_size(100).build();
  const std::vector<Bytes> frags = fragment_frame(whole, 48);
  ASSERT_EQ(frags.size(), 3u);  // 108 bytes of UDP: 48 + 48 + 12

  const ParsedPacket first = parse_exact(frags[0]);
  ASSERT_TRUE(first.ok()) << reason_name(first.reason);
  EXPECT_TRUE(first.is_fragment);
  EXPECT_TRUE(first.is_first_fragment());
  EXPECT_TRUE(first.more_fragments);
  EXPECT_EQ(first.frag_id, 0xbeef);
  EXPECT_TRUE(first.has_l4);  // ports from the first fragment
  EXPECT_EQ(first.sport, 7000);
  EXPECT_EQ(first.dport, 53);
  EXPECT_EQ(first.l4_csum, CsumStatus::kUnchecked);
  EXPECT_EQ(first.frag_data_off, kEthHdrLen + kIpv4HdrLen);

  const ParsedPacket mid = parse_exact(frags[1]);
  ASSERT_TRUE(mid.ok()) << reason_name(mid.reason);
  EXPECT_TRUE(mid.is_fragment);
  EXPECT_FALSE(mid.is_first_fragment());
  EXPECT_TRUE(mid.more_fragments);
  EXPECT_EQ(mid.frag_offset, 48);
  EXPECT_FALSE(mid.has_l4);
  EXPECT_EQ(mid.proto, IPPROTO_UDP);
  EXPECT_EQ(mid.l4_off, kEthHdrLen + kIpv4HdrLen);

  const ParsedPacket last = parse_exact(frags[2]);
  ASSERT_TRUE(last.ok());
  EXPECT_FALSE(last.more_fragments);
  EXPECT_EQ(last.frag_offset, 96);
}

TEST(ParseFragments, Ipv6FirstAndLaterFragments) {
  const Bytes whole = FrameBuilder().ipv6(kV6Client, kV6Vip).tcp(40000, 80).payload_size(200).build();
  const std::vector<Bytes> frags = fragment_frame(whole, 128, 0xabcdef01);
  ASSERT_EQ(frags.size(), 2u);
  const ParsedPacket first = parse_exact(frags[0]);
  ASSERT_TRUE(first.ok()) << reason_name(first.reason);
  EXPECT_TRUE(first.is_first_fragment());
  EXPECT_EQ(first.frag_id, 0xabcdef01u);
  EXPECT_EQ(first.ipv6_frag_hdr_off, kEthHdrLen + kIpv6HdrLen);
  EXPECT_EQ(first.ipv6_frag_nexthdr_off, kEthHdrLen + kIpv6NextHdrOffset);
  EXPECT_EQ(first.frag_data_off, kEthHdrLen + kIpv6HdrLen + 8);
  EXPECT_EQ(first.l4_off, first.frag_data_off);
  EXPECT_EQ(first.proto, IPPROTO_TCP);
  EXPECT_TRUE(first.has_l4);
  EXPECT_EQ(first.dport, 80);

  const ParsedPacket second = parse_exact(frags[1]);
  ASSERT_TRUE(second.ok()) << reason_name(second.reason);
  EXPECT_FALSE(second.more_fragments);
  EXPECT_EQ(second.frag_offset, 128);
  EXPECT_FALSE(second.has_l4);
  EXPECT_EQ(second.proto, IPPROTO_TCP);
}

TEST(ParseFragments, Ipv6AtomicFragmentIsAWholePacket) {
  // RFC 6946: offset 0 without M is processed as a whole packet.
  const Bytes frame = FrameBuilder().ipv6(kV6Client, kV6Vip).ipv6_frag(0, false, 9).udp(1, 2).build();
  const ParsedPacket p = parse_exact(frame);
  ASSERT_TRUE(p.ok()) << reason_name(p.reason);
  EXPECT_FALSE(p.is_fragment);
  EXPECT_NE(p.ipv6_frag_hdr_off, 0u);
  EXPECT_TRUE(p.has_l4);
  EXPECT_EQ(p.dport, 2);
}

TEST(ParseFragments, FirstFragmentTooShortForTheL4HeaderHasNoPorts) {
  // 8 bytes of a TCP header in the first fragment: legal (if silly); the ports wait for
  // reassembly rather than being refused.
  const Bytes frame =
      FrameBuilder().ipv4(kV4Client, kV4Vip).ipv4_frag(0, true).raw(IPPROTO_TCP).payload(Bytes(8, 1)).build();
  const ParsedPacket p = parse_exact(frame);
  ASSERT_TRUE(p.ok()) << reason_name(p.reason);
  EXPECT_TRUE(p.is_first_fragment());
  EXPECT_FALSE(p.has_l4);
}

// ---- IPv6 extension headers --------------------------------------------------------------------

TEST(ParseIpv6, ExtensionHeaderChain) {
  const Bytes frame = FrameBuilder()
                          .ipv6(kV6Client, kV6Vip)
                          .ipv6_ext(kIpv6NextHopByHop, 8)
                          .ipv6_ext(kIpv6NextDestOpts, 16)
                          .ipv6_ext(kIpv6NextRouting, 24)
                          .ipv6_ext(kIpv6NextAh, 24)
                          .ipv6_ext(kIpv6NextDestOpts, 8)
                          .udp(1000, 2000)
                          .build();
  const ParsedPacket p = parse_exact(frame, kParseVerifyL4Checksum);
  ASSERT_TRUE(p.ok()) << reason_name(p.reason);
  EXPECT_EQ(p.ipv6_ext_count, 5);
  EXPECT_EQ(p.l4_off, kEthHdrLen + kIpv6HdrLen + 8 + 16 + 24 + 24 + 8);
  EXPECT_EQ(p.proto, IPPROTO_UDP);
  EXPECT_EQ(p.dport, 2000);
  EXPECT_EQ(p.l4_csum, CsumStatus::kValid);
}

TEST(ParseIpv6, EspAndNoNextHeaderEndTheChain) {
  const ParsedPacket esp = parse_exact(FrameBuilder().ipv6(kV6Client, kV6Vip).raw(IPPROTO_ESP).payload_size(40).build());
  ASSERT_TRUE(esp.ok());
  EXPECT_EQ(esp.proto, IPPROTO_ESP);
  EXPECT_FALSE(esp.has_l4);
  const ParsedPacket none = parse_exact(FrameBuilder().ipv6(kV6Client, kV6Vip).raw(IPPROTO_NONE).build());
  ASSERT_TRUE(none.ok());
  EXPECT_EQ(none.proto, IPPROTO_NONE);
  EXPECT_EQ(none.l4_len(), 0u);
}

TEST(ParseIpv6, ChainOfExactlyTheLimitIsAccepted) {
  FrameBuilder b;
  b.ipv6(kV6Client, kV6Vip);
  for (uint32_t i = 0; i < kMaxIpv6ExtHeaders; ++i) b.ipv6_ext(kIpv6NextDestOpts, 8);
  const ParsedPacket p = parse_exact(b.tcp(1, 2).build());
  ASSERT_TRUE(p.ok()) << reason_name(p.reason);
  EXPECT_EQ(p.ipv6_ext_count, kMaxIpv6ExtHeaders);
}

// ---- Checksum status ----------------------------------------------------------------------------

TEST(ParseChecksum, PartialChecksumIsDetectedWithoutVerifying) {
  for (bool v6 : {false, true}) {
    for (bool tcp : {false, true}) {
      FrameBuilder b;
      if (v6) b.ipv6(kV6Client, kV6Vip); else b.ipv4(kV4Client, kV4Vip);
      if (tcp) b.tcp(40000, 80); else b.udp(40000, 53);
      b.payload("GET / HTTP/1.0\r\n\r\n").l4_csum(CsumMode::kPartial);
      const Bytes frame = b.build();
      SCOPED_TRACE(describe_frame(frame));
      EXPECT_EQ(parse_exact(frame).l4_csum, CsumStatus::kPartial);
      EXPECT_EQ(parse_exact(frame, kParseVerifyL4Checksum).l4_csum, CsumStatus::kPartial);
      b.l4_csum(CsumMode::kCorrect);
      EXPECT_EQ(parse_exact(b.build()).l4_csum, CsumStatus::kUnchecked);
      EXPECT_EQ(parse_exact(b.build(), kParseVerifyL4Checksum).l4_csum, CsumStatus::kValid);
      b.l4_csum(CsumMode::kWrong);
      EXPECT_EQ(parse_exact(b.build()).l4_csum, CsumStatus::kUnchecked);
      EXPECT_EQ(parse_exact(b.build(), kParseVerifyL4Checksum).l4_csum, CsumStatus::kBad);
    }
  }
}

TEST(ParseChecksum, UdpWithoutChecksum) {
  const Bytes v4 = FrameBuilder().ipv4(kV4Client, kV4Vip).udp(1, 2).l4_csum(CsumMode::kZero).build();
  EXPECT_EQ(parse_exact(v4).l4_csum, CsumStatus::kNone);
  EXPECT_EQ(parse_exact(v4, kParseVerifyL4Checksum).l4_csum, CsumStatus::kNone);
  // IPv6 forbids it (RFC 8200 section 8.1): bad once verified.
  const Bytes v6 = FrameBuilder().ipv6(kV6Client, kV6Vip).udp(1, 2).l4_csum(CsumMode::kZero).build();
  EXPECT_EQ(parse_exact(v6, kParseVerifyL4Checksum).l4_csum, CsumStatus::kBad);
}

TEST(ParseChecksum, SctpZeroCrcIsPartial) {
  const Bytes frame =
      FrameBuilder().ipv4(kV4Client, kV4Vip).sctp(1, 2).sctp_chunk(kSctpData, 3, Bytes(20, 1)).l4_csum(CsumMode::kZero).build();
  EXPECT_EQ(parse_exact(frame).l4_csum, CsumStatus::kPartial);
  EXPECT_EQ(parse_exact(frame, kParseVerifyL4Checksum).l4_csum, CsumStatus::kPartial);
  const Bytes bad =
      FrameBuilder().ipv4(kV4Client, kV4Vip).sctp(1, 2).sctp_chunk(kSctpData, 3, Bytes(20, 1)).l4_csum(CsumMode::kWrong).build();
  EXPECT_EQ(parse_exact(bad, kParseVerifyL4Checksum).l4_csum, CsumStatus::kBad);
}

// ---- SCTP chunks ---------------------------------------------------------------------------------

TEST(ParseSctp, CookieEchoFollowedByAbortReportsBothChunks) {
  const Bytes frame = FrameBuilder()
                          .ipv4(kV4Client, kV4Vip)
                          .sctp(5000, 5001)
                          .sctp_chunk(kSctpCookieEcho, 0, Bytes(13, 7))  // padded to 20
                          .sctp_chunk(kSctpAbort)
                          .build();
  const ParsedPacket p = parse_exact(frame);
  ASSERT_TRUE(p.ok()) << reason_name(p.reason);
  EXPECT_EQ(p.sctp_chunk_type, kSctpCookieEcho);
  ASSERT_TRUE(p.has_sctp_chunk2);
  EXPECT_EQ(p.sctp_chunk2_type, kSctpAbort);
}

TEST(ParseSctp, CookieAckAloneHasNoSecondChunk) {
  const ParsedPacket p = parse_exact(FrameBuilder().ipv6(kV6Client, kV6Vip).sctp(1, 2).sctp_chunk(kSctpCookieAck).build());
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p.sctp_chunk_type, kSctpCookieAck);
  EXPECT_FALSE(p.has_sctp_chunk2);
}

TEST(ParseSctp, SecondChunkOnlyReadForCookieChunks) {
  const ParsedPacket p =
      parse_exact(FrameBuilder().ipv4(kV4Client, kV4Vip).sctp(1, 2).sctp_chunk(kSctpData, 0, Bytes(8)).sctp_chunk(kSctpAbort).build());
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p.sctp_chunk_type, kSctpData);
  EXPECT_FALSE(p.has_sctp_chunk2);
}

// ---- ICMP errors ---------------------------------------------------------------------------------

TEST(ParseIcmp, FragNeededQuotesTheTcpSegment) {
  // The RS side sends frag-needed about a reply VIP:80 -> client.
  const Bytes inner = FrameBuilder().no_eth().ipv4(kV4Vip, kV4Client).tcp(80, 40000, kTcpAck, 5).payload_size(1400).build();
  const Bytes frame = FrameBuilder()
                          .vlan(7)
                          .ipv4("203.0.113.1", kV4Vip)
                          .icmp(ICMP_DEST_UNREACH, ICMP_FRAG_NEEDED, 1280)
                          .quote(inner, 28)
                          .build();
  const ParsedPacket p = parse_exact(frame, kParseVerifyL4Checksum);
  ASSERT_TRUE(p.ok()) << reason_name(p.reason);
  EXPECT_TRUE(p.is_icmp_error);
  EXPECT_EQ(p.icmp_type, ICMP_DEST_UNREACH);
  EXPECT_EQ(p.icmp_code, ICMP_FRAG_NEEDED);
  EXPECT_EQ(p.icmp_info & 0xffff, 1280u);
  EXPECT_EQ(p.l4_csum, CsumStatus::kValid);
  ASSERT_TRUE(p.has_inner);
  EXPECT_EQ(p.inner.l3_off, kEthHdrLen + kVlanHdrLen + kIpv4HdrLen + kIcmpHdrLen);
  EXPECT_EQ(p.inner.proto, IPPROTO_TCP);
  EXPECT_TRUE(p.inner.has_l4);
  EXPECT_EQ(p.inner.saddr, addr(kV4Vip));
  EXPECT_EQ(p.inner.daddr, addr(kV4Client));
  EXPECT_EQ(p.inner.sport, 80);
  EXPECT_EQ(p.inner.dport, 40000);
  EXPECT_EQ(p.inner.l4_len, 8u);
}

TEST(ParseIcmp, TimeExceededQuotingIpv4WithOptions) {
  const Bytes inner =
      FrameBuilder().no_eth().ipv4(kV4Client, kV4Vip).ipv4_options({1, 1, 1, 1}).udp(999, 53).payload_size(30).build();
  const ParsedPacket p =
      parse_exact(FrameBuilder().ipv4("203.0.113.1", kV4Client).icmp(ICMP_TIME_EXCEEDED, 0).quote(inner).build());
  ASSERT_TRUE(p.ok()) << reason_name(p.reason);
  ASSERT_TRUE(p.has_inner);
  EXPECT_EQ(p.inner.l4_off, p.inner.l3_off + 24);
  EXPECT_EQ(p.inner.sport, 999);
  EXPECT_EQ(p.inner.dport, 53);
}

TEST(ParseIcmp, PacketTooBigQuotesUdpOverIpv6WithExtensions) {
  const Bytes inner = FrameBuilder()
                          .no_eth()
                          .ipv6(kV6Vip, kV6Client)
                          .ipv6_ext(kIpv6NextDestOpts, 8)
                          .udp(53, 33333)
                          .payload_size(1400)
                          .build();
  const Bytes frame = FrameBuilder()
                          .ipv6("2001:db8:ffff::1", kV6Vip)
                          .icmp6(ICMP6_PACKET_TOO_BIG, 0, 1280)
                          .quote(inner, 1232)
                          .build();
  const ParsedPacket p = parse_exact(frame, kParseVerifyL4Checksum);
  ASSERT_TRUE(p.ok()) << reason_name(p.reason);
  EXPECT_TRUE(p.is_icmp_error);
  EXPECT_EQ(p.icmp_info, 1280u);
  EXPECT_EQ(p.l4_csum, CsumStatus::kValid);
  ASSERT_TRUE(p.has_inner);
  EXPECT_EQ(p.inner.proto, IPPROTO_UDP);
  EXPECT_EQ(p.inner.l4_off, p.inner.l3_off + kIpv6HdrLen + 8);
  EXPECT_EQ(p.inner.saddr, addr(kV6Vip));
  EXPECT_EQ(p.inner.sport, 53);
  EXPECT_EQ(p.inner.dport, 33333);
}

TEST(ParseIcmp, QuotedNonFirstFragmentHasNoPorts) {
  const Bytes inner =
      FrameBuilder().no_eth().ipv4(kV4Client, kV4Vip).ipv4_frag(64, true).raw(IPPROTO_TCP).payload_size(64).build();
  const ParsedPacket p =
      parse_exact(FrameBuilder().ipv4("203.0.113.1", kV4Client).icmp(ICMP_TIME_EXCEEDED, 1).quote(inner, 28).build());
  ASSERT_TRUE(p.ok()) << reason_name(p.reason);
  ASSERT_TRUE(p.has_inner);
  EXPECT_TRUE(p.inner.is_fragment);
  EXPECT_FALSE(p.inner.has_l4);
}

TEST(ParseIcmp, QuotedIcmpEchoGivesItsType) {
  const Bytes inner = FrameBuilder().no_eth().ipv6(kV6Client, kV6Vip).icmp_echo(1, 2).build();
  const ParsedPacket p =
      parse_exact(FrameBuilder().ipv6("2001:db8::fe", kV6Client).icmp6(ICMP6_DST_UNREACH, 4).quote(inner).build());
  ASSERT_TRUE(p.ok()) << reason_name(p.reason);
  ASSERT_TRUE(p.has_inner);
  EXPECT_EQ(p.inner.proto, IPPROTO_ICMPV6);
  EXPECT_EQ(p.inner.icmp_type, ICMP6_ECHO_REQUEST);
}

TEST(ParseIcmp, QuotedUnknownProtocolIsFine) {
  const Bytes inner = FrameBuilder().no_eth().ipv4(kV4Client, kV4Vip).raw(IPPROTO_IPIP).payload_size(40).build();
  const ParsedPacket p =
      parse_exact(FrameBuilder().ipv4("203.0.113.1", kV4Client).icmp(ICMP_DEST_UNREACH, 4, 1400).quote(inner, 28).build());
  ASSERT_TRUE(p.ok()) << reason_name(p.reason);
  EXPECT_EQ(p.inner.proto, IPPROTO_IPIP);
  EXPECT_FALSE(p.inner.has_l4);
}

TEST(ParseIcmp, InformationalMessagesAreNotErrors) {
  const ParsedPacket p = parse_exact(FrameBuilder().ipv6(kV6Client, kV6Vip).icmp6(ND_NEIGHBOR_SOLICIT, 0).payload_size(16).build());
  ASSERT_TRUE(p.ok());
  EXPECT_FALSE(p.is_icmp_error);
  EXPECT_FALSE(p.has_inner);
}

TEST(ParseIcmp, IcmpOfTheOtherFamilyIsAnUnknownProtocol) {
  const ParsedPacket p = parse_exact(FrameBuilder().ipv6(kV6Client, kV6Vip).raw(IPPROTO_ICMP).payload_size(3).build());
  ASSERT_TRUE(p.ok()) << reason_name(p.reason);
  EXPECT_FALSE(p.has_l4);
}

// ---- Tunnels, link layer, bare IP ------------------------------------------------------------

TEST(ParseTunnels, GreAndGueAreParsedAsTheirOuterProtocol) {
  const Bytes inner = FrameBuilder().no_eth().ipv4(kV4Client, kV4Vip).tcp(1, 80).build();
  const ParsedPacket gre =
      parse_exact(FrameBuilder().ipv4("10.1.0.1", "10.1.0.2").gre(kEthPIpv4, true).payload(inner).build());
  ASSERT_TRUE(gre.ok());
  EXPECT_EQ(gre.proto, IPPROTO_GRE);
  EXPECT_FALSE(gre.has_l4);
  const ParsedPacket gue =
      parse_exact(FrameBuilder().ipv4("10.1.0.1", "10.1.0.2").gue(49152, 6080, IPPROTO_IPIP).payload(inner).build());
  ASSERT_TRUE(gue.ok());
  EXPECT_EQ(gue.proto, IPPROTO_UDP);
  EXPECT_EQ(gue.dport, 6080);
  EXPECT_EQ(gue.l4_csum, CsumStatus::kNone);
}

TEST(ParseLinkLayer, NonIpGoesToTheKernel) {
  const ParsedPacket arp = parse_exact(FrameBuilder().ethertype(ETH_P_ARP).raw(0).payload_size(28).build());
  EXPECT_EQ(arp.verdict, Verdict::kNotIp);
  EXPECT_EQ(arp.reason, Reason::kNotIpEthertype);
  EXPECT_EQ(arp.ethertype, ETH_P_ARP);
  const ParsedPacket lldp = parse_exact(FrameBuilder().vlan(5).ethertype(ETH_P_LLDP).build());
  EXPECT_EQ(lldp.verdict, Verdict::kNotIp);
  EXPECT_EQ(lldp.vlan_count, 1);
}

TEST(ParseLinkLayer, ThreeVlanTagsGoToTheKernel) {
  const ParsedPacket p = parse_exact(FrameBuilder().vlan(1, kEthP8021AD).vlan(2).vlan(3).ipv4(kV4Client, kV4Vip).tcp(1, 2).build());
  EXPECT_EQ(p.verdict, Verdict::kNotIp);
  EXPECT_EQ(p.reason, Reason::kTooManyVlanTags);
}

TEST(ParseBareIp, ParsesFromTheIpHeader) {
  const Bytes v4 = FrameBuilder().no_eth().ipv4(kV4Client, kV4Vip).udp(1, 2).build();
  ParsedPacket p;
  ASSERT_EQ(parse_ip(v4.data(), static_cast<uint32_t>(v4.size()), &p), Verdict::kOk);
  EXPECT_EQ(p.l3_off, 0u);
  EXPECT_EQ(p.l4_off, kIpv4HdrLen);
  EXPECT_EQ(p.dport, 2);
  const Bytes v6 = FrameBuilder().no_eth().ipv6(kV6Client, kV6Vip).udp(1, 2).build();
  ASSERT_EQ(parse_ip(v6.data(), static_cast<uint32_t>(v6.size()), &p), Verdict::kOk);
  EXPECT_EQ(p.af, AF_INET6);
  EXPECT_EQ(p.l4_off, kIpv6HdrLen);
  EXPECT_EQ(parse_ip(v6.data(), 0, &p), Verdict::kMalformed);
}

TEST(ParseReasons, EveryReasonHasAName) {
  for (int r = 0; r < static_cast<int>(Reason::kCount); ++r)
    EXPECT_STRNE(reason_name(static_cast<Reason>(r)), "unknown") << r;
}

}  // namespace
}  // namespace uvs::pkt
