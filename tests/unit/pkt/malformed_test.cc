// Malformed and hostile input: every case must give its verdict and reason and never read out
// of bounds (frames are parsed from exactly-sized heap copies; run under ASan/UBSan).
#include <gtest/gtest.h>

#include <random>
#include <string>

#include "pkt/builder.h"
#include "pkt/checksum.h"
#include "pkt/parse.h"
#include "tests/unit/pkt/pkt_test_util.h"

namespace uvs::pkt {
namespace {

using testing::parse_exact;
using testing::parse_prefix;

constexpr const char* kC4 = "192.0.2.10";
constexpr const char* kV4 = "198.51.100.1";
constexpr const char* kC6 = "2001:db8::10";
constexpr const char* kV6 = "2001:db8:100::1";

FrameBuilder v4() {
  FrameBuilder b;
  b.ipv4(kC4, kV4);
  return b;
}
FrameBuilder v6() {
  FrameBuilder b;
  b.ipv6(kC6, kV6);
  return b;
}
Bytes bare4(FrameBuilder b) { return b.no_eth().build(); }

// Cuts the IP datagram of FRAME to IP_LEN bytes and fixes its length field (and the IPv4 header
// checksum), so that the frame is consistent up to the cut.
Bytes cut_datagram(Bytes frame, uint32_t l3_off, uint32_t ip_len) {
  frame.resize(l3_off + ip_len);
  if ((frame[l3_off] >> 4) == 4) {
    store_be16(frame.data() + l3_off + 2, static_cast<uint16_t>(ip_len));
    set_ipv4_header_checksum(frame.data() + l3_off);
  } else {
    store_be16(frame.data() + l3_off + 4, static_cast<uint16_t>(ip_len - kIpv6HdrLen));
  }
  return frame;
}

// Byte surgery on a built frame.
Bytes with_be16(Bytes frame, size_t at, uint16_t value) {
  store_be16(frame.data() + at, value);
  return frame;
}
Bytes truncated(Bytes frame, size_t len) {
  frame.resize(len);
  return frame;
}
// Re-seals the IPv4 header checksum after surgery (so the case tests what it means to).
Bytes resealed(Bytes frame, size_t l3 = kEthHdrLen) {
  set_ipv4_header_checksum(frame.data() + l3);
  return frame;
}

struct BadCase {
  std::string name;
  Bytes frame;
  Verdict verdict;
  Reason reason;
};

constexpr size_t kL3 = kEthHdrLen;
constexpr size_t kL4v4 = kEthHdrLen + kIpv4HdrLen;
constexpr size_t kL4v6 = kEthHdrLen + kIpv6HdrLen;

std::vector<BadCase> bad_cases() {
  const Bytes tcp4 = v4().tcp(40000, 80).payload_size(20).build();
  const Bytes udp4 = v4().udp(40000, 53).payload_size(20).build();
  const Bytes tcp6 = v6().tcp(40000, 80).payload_size(20).build();
  const Bytes inner_tcp4 = bare4(v4().tcp(80, 40000));
  const Bytes inner_tcp6 = v6().no_eth().tcp(80, 40000).build();
  const auto icmp4_err = [](const Bytes& quoted) {
    return FrameBuilder().ipv4("203.0.113.1", kC4).icmp(ICMP_DEST_UNREACH, ICMP_PORT_UNREACH).quote(quoted).build();
  };
  const auto icmp6_err = [](const Bytes& quoted) {
    return FrameBuilder().ipv6("2001:db8::fe", kC6).icmp6(ICMP6_DST_UNREACH, 4).quote(quoted).build();
  };
  Bytes inner_bad_ver = inner_tcp4;
  inner_bad_ver[0] = 0x65;
  Bytes inner_bad_ihl = inner_tcp4;
  inner_bad_ihl[0] = 0x43;
  Bytes inner_big_ihl = inner_tcp4;
  inner_big_ihl[0] = 0x4f;

  FrameBuilder long_chain = v6();
  for (int i = 0; i < 9; ++i) long_chain.ipv6_ext(kIpv6NextDestOpts, 8);
  FrameBuilder routing_loop = v6();  // the same routing header over and over
  for (int i = 0; i < 40; ++i) routing_loop.ipv6_ext(kIpv6NextRouting, 8);
  FrameBuilder inner_long_chain = v6().no_eth();
  for (int i = 0; i < 9; ++i) inner_long_chain.ipv6_ext(kIpv6NextDestOpts, 8);

  return {
      // ---- link layer
      {"EmptyFrame", {}, Verdict::kMalformed, Reason::kEthTruncated},
      {"ThirteenBytes", truncated(tcp4, 13), Verdict::kMalformed, Reason::kEthTruncated},
      {"VlanTagCut", truncated(FrameBuilder().vlan(5).ipv4(kC4, kV4).tcp(1, 2).build(), 16),
       Verdict::kMalformed, Reason::kVlanTruncated},
      {"SecondVlanTagCut", truncated(FrameBuilder().vlan(5, kEthP8021AD).vlan(6).ipv4(kC4, kV4).tcp(1, 2).build(), 20),
       Verdict::kMalformed, Reason::kVlanTruncated},
      {"ArpIsNotIp", FrameBuilder().ethertype(ETH_P_ARP).build(), Verdict::kNotIp, Reason::kNotIpEthertype},
      {"ThreeVlanTags", FrameBuilder().vlan(1).vlan(2).vlan(3).ipv4(kC4, kV4).build(), Verdict::kNotIp,
       Reason::kTooManyVlanTags},
      // ---- IPv4 header
      {"Ipv4NoHeader", truncated(tcp4, kL3), Verdict::kMalformed, Reason::kIpv4Truncated},
      {"Ipv4NineteenBytes", truncated(tcp4, kL3 + 19), Verdict::kMalformed, Reason::kIpv4Truncated},
      {"Ipv4Version6", v4().ip_version(6).tcp(1, 2).build(), Verdict::kMalformed, Reason::kIpv4BadVersion},
      {"Ipv4Version0", v4().ip_version(0).tcp(1, 2).build(), Verdict::kMalformed, Reason::kIpv4BadVersion},
      {"Ipv4Ihl0", v4().ihl(0).tcp(1, 2).build(), Verdict::kMalformed, Reason::kIpv4BadIhl},
      {"Ipv4Ihl4", v4().ihl(4).tcp(1, 2).build(), Verdict::kMalformed, Reason::kIpv4BadIhl},
      {"Ipv4Ihl15PastFrame", v4().ihl(15).raw(99).payload_size(8).build(), Verdict::kMalformed,
       Reason::kIpv4OptionsTruncated},
      {"Ipv4Ihl6NoOptions", truncated(v4().ihl(6).raw(99).build(), kL3 + 20), Verdict::kMalformed,
       Reason::kIpv4OptionsTruncated},
      {"Ipv4TotLenZero", v4().tot_len(0).tcp(1, 2).build(), Verdict::kMalformed, Reason::kIpv4TotLenTooSmall},
      {"Ipv4TotLen19", v4().tot_len(19).tcp(1, 2).build(), Verdict::kMalformed, Reason::kIpv4TotLenTooSmall},
      {"Ipv4TotLenInsideOptions", v4().ipv4_options(Bytes(12, 1)).tot_len(28).tcp(1, 2).build(),
       Verdict::kMalformed, Reason::kIpv4TotLenTooSmall},
      {"Ipv4TotLenOneTooMany", v4().tot_len(static_cast<uint16_t>(tcp4.size() - kL3 + 1)).tcp(40000, 80).payload_size(20).build(),
       Verdict::kMalformed, Reason::kIpv4TotLenTooLarge},
      {"Ipv4TotLen65535", v4().tot_len(65535).tcp(1, 2).build(), Verdict::kMalformed, Reason::kIpv4TotLenTooLarge},
      {"Ipv4BadHeaderChecksum", v4().ip_csum(CsumMode::kWrong).tcp(1, 2).build(), Verdict::kMalformed,
       Reason::kIpv4BadChecksum},
      {"Ipv4ZeroHeaderChecksum", v4().ip_csum(CsumMode::kZero).tcp(1, 2).build(), Verdict::kMalformed,
       Reason::kIpv4BadChecksum},
      // ---- IPv4 fragments
      {"Ipv4FragOddLength", v4().ipv4_frag(0, true).raw(IPPROTO_UDP).payload_size(13).build(), Verdict::kMalformed,
       Reason::kIpv4BadFragment},
      {"Ipv4FragPast65535", v4().ipv4_frag(65512, false).raw(IPPROTO_UDP).payload_size(16).build(),
       Verdict::kMalformed, Reason::kIpv4BadFragment},
      {"Ipv4FragEmptyMore", v4().ipv4_frag(0, true).raw(IPPROTO_UDP).build(), Verdict::kMalformed,
       Reason::kIpv4BadFragment},
      {"Ipv4FragEmptyLast", v4().ipv4_frag(800, false).raw(IPPROTO_UDP).build(), Verdict::kMalformed,
       Reason::kIpv4BadFragment},
      // ---- L4 over IPv4
      {"TcpNineteenBytes", v4().raw(IPPROTO_TCP).payload_size(19).build(), Verdict::kMalformed, Reason::kTcpTruncated},
      {"TcpEmpty", v4().raw(IPPROTO_TCP).build(), Verdict::kMalformed, Reason::kTcpTruncated},
      {"TcpDoff0", v4().tcp(1, 2).tcp_doff(0).build(), Verdict::kMalformed, Reason::kTcpBadDataOffset},
      {"TcpDoff4", v4().tcp(1, 2).tcp_doff(4).build(), Verdict::kMalformed, Reason::kTcpBadDataOffset},
      {"TcpDoff15PastSegment", v4().tcp(1, 2).tcp_doff(15).payload_size(20).build(), Verdict::kMalformed,
       Reason::kTcpBadDataOffset},
      {"UdpSevenBytes", v4().raw(IPPROTO_UDP).payload_size(7).build(), Verdict::kMalformed, Reason::kUdpTruncated},
      {"UdpLength7", v4().udp(1, 2).udp_len(7).build(), Verdict::kMalformed, Reason::kUdpBadLength},
      {"UdpLengthPastPayload", with_be16(udp4, kL4v4 + 4, 29), Verdict::kMalformed, Reason::kUdpBadLength},
      {"UdpLength0OverIpv6", v6().udp(1, 2).udp_len(0).payload_size(8).build(), Verdict::kMalformed,
       Reason::kUdpBadLength},
      {"SctpElevenBytes", v4().raw(IPPROTO_SCTP).payload_size(11).build(), Verdict::kMalformed, Reason::kSctpTruncated},
      {"SctpNoChunk", v4().sctp(1, 2).build(), Verdict::kMalformed, Reason::kSctpTruncated},
      {"SctpChunkLength3", v4().sctp(1, 2).sctp_chunk_raw({kSctpInit, 0, 0, 3}).build(), Verdict::kMalformed,
       Reason::kSctpBadChunk},
      {"SctpChunkPastPacket", v4().sctp(1, 2).sctp_chunk_raw({kSctpInit, 0, 0, 40, 1, 2, 3, 4}).build(),
       Verdict::kMalformed, Reason::kSctpBadChunk},
      {"IcmpSevenBytes", v4().raw(IPPROTO_ICMP).payload_size(7).build(), Verdict::kMalformed, Reason::kIcmpTruncated},
      {"Icmp6FourBytes", v6().raw(IPPROTO_ICMPV6).payload_size(4).build(), Verdict::kMalformed,
       Reason::kIcmp6Truncated},
      // ---- IPv6 header and extension headers
      {"Ipv6ThirtyNineBytes", truncated(tcp6, kL3 + 39), Verdict::kMalformed, Reason::kIpv6Truncated},
      {"Ipv6Version4", v6().ip_version(4).tcp(1, 2).build(), Verdict::kMalformed, Reason::kIpv6BadVersion},
      {"Ipv6PayloadLenPastFrame", v6().payload_len(1000).tcp(1, 2).build(), Verdict::kMalformed,
       Reason::kIpv6PayloadTooLarge},
      {"Ipv6TcpTruncated", v6().raw(IPPROTO_TCP).payload_size(10).build(), Verdict::kMalformed, Reason::kTcpTruncated},
      {"Ipv6HopByHopLengthPastPayload", v6().ipv6_ext_raw(kIpv6NextHopByHop, {0, 1, 0, 0, 0, 0, 0, 0}).raw(59).build(),
       Verdict::kMalformed, Reason::kIpv6ExtTruncated},
      {"Ipv6ExtOneByte", v6().raw(kIpv6NextDestOpts).payload_size(1).build(), Verdict::kMalformed,
       Reason::kIpv6ExtTruncated},
      {"Ipv6FragHeaderCut", v6().raw(kIpv6NextFragment).payload_size(4).build(), Verdict::kMalformed,
       Reason::kIpv6ExtTruncated},
      {"Ipv6AhLengthPastPayload", v6().ipv6_ext_raw(kIpv6NextAh, {0, 20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}).tcp(1, 2).build(),
       Verdict::kMalformed, Reason::kIpv6ExtTruncated},
      {"Ipv6NineExtHeaders", long_chain.tcp(1, 2).build(), Verdict::kMalformed, Reason::kIpv6ExtChainTooLong},
      {"Ipv6RoutingHeaderLoop", routing_loop.tcp(1, 2).build(), Verdict::kMalformed, Reason::kIpv6ExtChainTooLong},
      {"Ipv6HopByHopNotFirst", v6().ipv6_ext(kIpv6NextDestOpts).ipv6_ext(kIpv6NextHopByHop).tcp(1, 2).build(),
       Verdict::kMalformed, Reason::kIpv6ExtMisplaced},
      {"Ipv6TwoFragmentHeaders", v6().ipv6_frag(0, true, 1).ipv6_frag(0, true, 1).raw(IPPROTO_UDP).payload_size(16).build(),
       Verdict::kMalformed, Reason::kIpv6ExtMisplaced},
      {"Ipv6FragOddLength", v6().ipv6_frag(0, true, 7).raw(IPPROTO_UDP).payload_size(21).build(), Verdict::kMalformed,
       Reason::kIpv6BadFragment},
      {"Ipv6FragPast65535", v6().ipv6_frag(65528, false, 7).raw(IPPROTO_UDP).payload_size(16).build(),
       Verdict::kMalformed, Reason::kIpv6BadFragment},
      {"Ipv6FragEmpty", v6().ipv6_frag(64, true, 7).raw(IPPROTO_UDP).build(), Verdict::kMalformed,
       Reason::kIpv6BadFragment},
      // ---- ICMP errors with bad quoted packets
      {"IcmpErrorNothingQuoted", icmp4_err({}), Verdict::kMalformed, Reason::kIcmpInnerTruncated},
      {"IcmpErrorInnerIpCut", icmp4_err(truncated(inner_tcp4, 19)), Verdict::kMalformed, Reason::kIcmpInnerTruncated},
      {"IcmpErrorInnerVersion6", icmp4_err(inner_bad_ver), Verdict::kMalformed, Reason::kIcmpInnerBad},
      {"IcmpErrorInnerIhl3", icmp4_err(inner_bad_ihl), Verdict::kMalformed, Reason::kIcmpInnerBad},
      {"IcmpErrorInnerIhl15", icmp4_err(truncated(inner_big_ihl, 28)), Verdict::kMalformed,
       Reason::kIcmpInnerTruncated},
      {"IcmpErrorInnerPortsOnly", icmp4_err(truncated(inner_tcp4, 24)), Verdict::kMalformed,
       Reason::kIcmpInnerTruncated},
      {"IcmpErrorInnerL4Missing", icmp4_err(truncated(inner_tcp4, 20)), Verdict::kMalformed,
       Reason::kIcmpInnerTruncated},
      {"Icmp6ErrorInnerIpCut", icmp6_err(truncated(inner_tcp6, 39)), Verdict::kMalformed, Reason::kIcmpInnerTruncated},
      {"Icmp6ErrorInnerVersion4", icmp6_err(inner_tcp4), Verdict::kMalformed, Reason::kIcmpInnerBad},
      {"Icmp6ErrorInnerExtCut",
       icmp6_err(truncated(v6().no_eth().ipv6_ext(kIpv6NextDestOpts, 16).tcp(1, 2).build(), 48)), Verdict::kMalformed,
       Reason::kIcmpInnerTruncated},
      {"Icmp6ErrorInnerLongChain", icmp6_err(inner_long_chain.tcp(1, 2).build()), Verdict::kMalformed,
       Reason::kIcmpInnerBad},
      {"Icmp6ErrorInnerL4Cut", icmp6_err(truncated(inner_tcp6, 44)), Verdict::kMalformed, Reason::kIcmpInnerTruncated},
  };
}

class Malformed : public ::testing::TestWithParam<BadCase> {};

TEST_P(Malformed, GivesItsVerdictAndReason) {
  const BadCase& c = GetParam();
  const ParsedPacket p = parse_exact(c.frame);
  EXPECT_EQ(p.verdict, c.verdict) << describe_frame(c.frame);
  EXPECT_STREQ(reason_name(p.reason), reason_name(c.reason)) << describe_frame(c.frame);
  // Verification must not change the outcome of a refused frame.
  const ParsedPacket pv = parse_exact(c.frame, kParseVerifyL4Checksum);
  EXPECT_EQ(pv.reason, c.reason);
}

INSTANTIATE_TEST_SUITE_P(Cases, Malformed, ::testing::ValuesIn(bad_cases()),
                         [](const ::testing::TestParamInfo<BadCase>& info) { return info.param.name; });

TEST(MalformedTable, HasAtLeastFortyMalformedCases) {
  int n = 0;
  for (const BadCase& c : bad_cases()) n += c.verdict == Verdict::kMalformed;
  EXPECT_GE(n, 40);
}

// ---- Odd but acceptable: the transform decides -------------------------------------------------

TEST(OddButOk, ZeroTtlUnknownProtocolsAndBadL4Checksums) {
  const ParsedPacket ttl0 = parse_exact(v4().ttl(0).udp(1, 2).build());
  EXPECT_TRUE(ttl0.ok());
  EXPECT_EQ(ttl0.ttl, 0);
  const ParsedPacket unknown4 = parse_exact(v4().raw(255).payload_size(3).build());
  EXPECT_TRUE(unknown4.ok());
  EXPECT_FALSE(unknown4.has_l4);
  const ParsedPacket unknown6 = parse_exact(v6().raw(253).payload_size(1).build());
  EXPECT_TRUE(unknown6.ok());
  EXPECT_EQ(unknown6.proto, 253);
  for (const Bytes& f : {v4().tcp(1, 2).l4_csum(CsumMode::kWrong).build(), v6().udp(1, 2).l4_csum(CsumMode::kWrong).build(),
                         v4().icmp_echo(1, 1).l4_csum(CsumMode::kWrong).build(),
                         v6().icmp_echo(1, 1).l4_csum(CsumMode::kWrong).build(),
                         v6().sctp(1, 2).sctp_chunk(kSctpInit).l4_csum(CsumMode::kWrong).build()}) {
    const ParsedPacket p = parse_exact(f, kParseVerifyL4Checksum);
    EXPECT_TRUE(p.ok()) << describe_frame(f);
    EXPECT_EQ(p.l4_csum, CsumStatus::kBad) << describe_frame(f);
  }
}

// ---- Sweeps --------------------------------------------------------------------------------------

std::vector<Bytes> valid_frames() {
  const Bytes inner4 = bare4(v4().tcp(80, 40000).payload_size(40));
  const Bytes inner6 = v6().no_eth().ipv6_ext(kIpv6NextDestOpts).udp(53, 4000).payload_size(40).build();
  return {
      v4().tcp(40000, 80, kTcpSyn).tcp_options({2, 4, 5, 0xb4, 1, 3, 3, 7}).payload_size(10).build(),
      v4().udp(1, 2).payload_size(9).build(),
      v4().sctp(1, 2).sctp_chunk(kSctpCookieEcho, 0, Bytes(9, 1)).sctp_chunk(kSctpAbort).build(),
      v4().icmp_echo(1, 2).payload_size(5).build(),
      v4().ipv4_options(Bytes(8, 1)).tcp(1, 2).build(),
      FrameBuilder().vlan(9).vlan(10).ipv4(kC4, kV4).udp(3, 4).build(),
      FrameBuilder().ipv4("203.0.113.1", kC4).icmp(ICMP_DEST_UNREACH, 4, 1400).quote(inner4, 28).build(),
      v6().tcp(40000, 80).payload_size(7).build(),
      v6().ipv6_ext(kIpv6NextHopByHop).ipv6_ext(kIpv6NextRouting, 24).ipv6_ext(kIpv6NextAh, 16).udp(1, 2).build(),
      v6().sctp(1, 2).sctp_chunk(kSctpInit, 0, Bytes(16)).build(),
      v6().ipv6_frag(0, true, 5).udp(1, 2).payload_size(16).build(),
      FrameBuilder().ipv6("2001:db8::fe", kC6).icmp6(ICMP6_PACKET_TOO_BIG, 0, 1280).quote(inner6).build(),
  };
}

TEST(Sweep, EveryPrefixOfAValidFrameIsRefused) {
  for (const Bytes& frame : valid_frames()) {
    ASSERT_TRUE(parse_exact(frame).ok()) << describe_frame(frame);
    for (uint32_t len = 0; len < frame.size(); ++len) {
      const ParsedPacket p = parse_prefix(frame, len);
      EXPECT_EQ(p.verdict, Verdict::kMalformed) << "prefix " << len << " of " << describe_frame(frame);
      EXPECT_NE(p.reason, Reason::kNone);
    }
  }
}

// Cut the datagram inside the L4 header and keep the IP length honest: the L4 reason must say so.
TEST(Sweep, CutAtEveryL4ByteGivesTheL4Reason) {
  struct L4Case {
    Bytes frame;
    uint32_t l3_off;
    uint32_t l4_at;    // IP header length
    uint32_t min_l4;   // bytes the parser needs after the IP header
    Reason reason;
  };
  const Bytes inner4 = bare4(v4().tcp(80, 40000));
  const std::vector<L4Case> cases = {
      {v4().tcp(1, 2).payload_size(4).build(), kL3, 20, kTcpHdrLen, Reason::kTcpTruncated},
      {v4().udp(1, 2).payload_size(4).build(), kL3, 20, kUdpHdrLen, Reason::kUdpTruncated},
      {v4().sctp(1, 2).sctp_chunk(kSctpInit).build(), kL3, 20, kSctpHdrLen + kSctpChunkHdrLen, Reason::kSctpTruncated},
      {v4().icmp_echo(1, 2).build(), kL3, 20, kIcmpHdrLen, Reason::kIcmpTruncated},
      {v6().tcp(1, 2).build(), kL3, 40, kTcpHdrLen, Reason::kTcpTruncated},
      {v6().udp(1, 2).build(), kL3, 40, kUdpHdrLen, Reason::kUdpTruncated},
      {v6().sctp(1, 2).sctp_chunk(kSctpInit).build(), kL3, 40, kSctpHdrLen + kSctpChunkHdrLen, Reason::kSctpTruncated},
      {v6().icmp_echo(1, 2).build(), kL3, 40, kIcmpHdrLen, Reason::kIcmp6Truncated},
      {FrameBuilder().vlan(3).ipv4(kC4, kV4).tcp(1, 2).build(), kL3 + 4, 20, kTcpHdrLen, Reason::kTcpTruncated},
      {v6().ipv6_ext(kIpv6NextDestOpts, 16).tcp(1, 2).build(), kL3, 40, 16, Reason::kIpv6ExtTruncated},
      {FrameBuilder().ipv4("203.0.113.1", kC4).icmp(ICMP_TIME_EXCEEDED, 0).quote(inner4, 28).build(), kL3, 28,
       kIpv4HdrLen + 8, Reason::kIcmpInnerTruncated},
  };
  for (const L4Case& c : cases) {
    for (uint32_t ip_len = c.l4_at; ip_len < c.l4_at + c.min_l4; ++ip_len) {
      const Bytes cut = cut_datagram(c.frame, c.l3_off, ip_len);
      const ParsedPacket p = parse_exact(cut);
      EXPECT_EQ(p.verdict, Verdict::kMalformed) << ip_len << ": " << describe_frame(cut);
      EXPECT_STREQ(reason_name(p.reason), reason_name(c.reason)) << ip_len << ": " << describe_frame(cut);
    }
  }
}

// Random corruption of valid frames: whatever the verdict, an ok packet's offsets must lie inside
// the frame, and nothing may read outside it (ASan).
TEST(Sweep, RandomCorruptionNeverEscapesTheFrame) {
  std::mt19937 rng(12345);
  const std::vector<Bytes> seeds = valid_frames();
  int ok = 0;
  for (int iter = 0; iter < 20000; ++iter) {
    Bytes f = seeds[rng() % seeds.size()];
    const int edits = 1 + rng() % 4;
    for (int e = 0; e < edits; ++e) {
      switch (rng() % 4) {
        case 0: f[rng() % f.size()] = static_cast<uint8_t>(rng()); break;
        case 1: f[rng() % f.size()] ^= static_cast<uint8_t>(1u << (rng() % 8)); break;
        case 2: f.resize(rng() % (f.size() + 1)); break;
        case 3: {  // a length field set to a random value, then the IPv4 checksum re-sealed
          if (f.size() > kL3 + 20) {
            store_be16(f.data() + kL3 + ((f[kL3] >> 4) == 6 ? 4 : 2), static_cast<uint16_t>(rng()));
            if ((f[kL3] >> 4) == 4 && (f[kL3] & 0xf) >= 5 && f.size() >= kL3 + (f[kL3] & 0xfu) * 4)
              f = resealed(f);
          }
          break;
        }
      }
      if (f.empty()) break;
    }
    testing::ExactBuffer buf(f);
    ParsedPacket p;
    parse_frame(buf.data(), buf.size(), &p, kParseVerifyL4Checksum);
    if (!p.ok()) {
      EXPECT_NE(p.reason, Reason::kNone);
      continue;
    }
    ++ok;
    ASSERT_LE(p.l3_off, p.l4_off);
    ASSERT_LE(p.l4_off, p.l3_end);
    ASSERT_LE(p.l3_end, buf.size());
    if (p.has_l4) {
      ASSERT_LE(p.l4_off + 4, p.l3_end);
      // Touch every byte the transform may touch.
      volatile uint8_t sink = 0;
      for (uint32_t i = p.l3_off; i < p.l3_end; ++i) sink = sink + buf.data()[i];
    }
    if (p.has_inner) {
      ASSERT_LE(p.inner.l3_off, p.inner.l4_off);
      ASSERT_LE(p.inner.l4_off, p.l3_end);
      if (p.inner.has_l4) {
        ASSERT_LE(p.inner.l4_off + kIcmpQuotedL4Min, p.l3_end);
      }
    }
  }
  EXPECT_GT(ok, 1000);  // the corpus still exercises the accepting paths
}

}  // namespace
}  // namespace uvs::pkt
