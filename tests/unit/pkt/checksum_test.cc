#include "pkt/checksum.h"

#include <gtest/gtest.h>

#include <random>
#include <string>

#include "pkt/builder.h"
#include "pkt/parse.h"
#include "tests/unit/pkt/pkt_test_util.h"

namespace uvs::pkt {
namespace {

// RFC 1071 section 4.1, the obvious way: 16-bit big-endian words, 32-bit accumulator. The result
// is in host order.
uint16_t naive_sum(const uint8_t* p, size_t n, uint32_t sum = 0) {
  for (size_t i = 0; i + 1 < n; i += 2) sum += uint32_t{p[i]} << 8 | p[i + 1];
  if (n % 2) sum += uint32_t{p[n - 1]} << 8;
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<uint16_t>(sum);
}
uint16_t folded_host(uint32_t sum) { return ntohs(csum_fold(sum)); }

// ---- Known vectors ------------------------------------------------------------------------------

TEST(InternetChecksum, Rfc1071Example) {
  // RFC 1071 section 3: the bytes 00 01 f2 03 f4 f5 f6 f7 sum to ddf2.
  const uint8_t data[] = {0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7};
  EXPECT_EQ(folded_host(csum_partial(data, sizeof data)), 0xddf2);
  EXPECT_EQ(ntohs(internet_checksum(data, sizeof data)), 0x220d);
}

TEST(InternetChecksum, Ipv4HeaderVector) {
  uint8_t hdr[] = {0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11,
                   0x00, 0x00, 0xc0, 0xa8, 0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7};
  set_ipv4_header_checksum(hdr);
  EXPECT_EQ(hdr[10], 0xb8);
  EXPECT_EQ(hdr[11], 0x61);
  EXPECT_TRUE(ipv4_header_checksum_ok(hdr, 20));
  hdr[15] ^= 1;
  EXPECT_FALSE(ipv4_header_checksum_ok(hdr, 20));
}

TEST(InternetChecksum, EmptyAndOddLengths) {
  EXPECT_EQ(csum_partial(nullptr, 0), 0u);
  const uint8_t one = 0xab;
  EXPECT_EQ(folded_host(csum_partial(&one, 1)), 0xab00);  // padded as the high byte
  const uint8_t three[] = {0x12, 0x34, 0x56};
  EXPECT_EQ(folded_host(csum_partial(three, 3)), 0x1234 + 0x5600);
}

TEST(InternetChecksum, MatchesTheObviousImplementation) {
  std::mt19937 rng(1);
  std::vector<uint8_t> buf(2048 + 8);
  for (auto& b : buf) b = static_cast<uint8_t>(rng());
  for (int i = 0; i < 64; ++i) buf[i] = 0xff;  // carries galore
  for (size_t len = 0; len <= 1600; len += (len < 200 ? 1 : 37)) {
    for (size_t align = 0; align < 8; ++align) {
      const uint32_t initial = rng() & 0xffff;
      const uint16_t want = naive_sum(buf.data() + align, len, initial);
      // Our sums are native-order over network bytes; the initial value must be too.
      EXPECT_EQ(folded_host(csum_partial(buf.data() + align, static_cast<uint32_t>(len), htons(initial))), want)
          << "len " << len << " align " << align;
    }
  }
}

TEST(InternetChecksum, LargestDatagramDoesNotOverflow) {
  std::vector<uint8_t> buf(65535, 0xff);
  EXPECT_EQ(folded_host(csum_partial(buf.data(), 65535)), naive_sum(buf.data(), 65535));
}

// ---- Pseudo headers ------------------------------------------------------------------------------

TEST(PseudoHeader, MatchesTheRfcLayout) {
  const InetAddr s4 = addr("192.0.2.1"), d4 = addr("198.51.100.200");
  uint8_t p4[12] = {};
  std::memcpy(p4, s4.bytes.data(), 4);
  std::memcpy(p4 + 4, d4.bytes.data(), 4);
  p4[9] = IPPROTO_TCP;
  p4[10] = 0x05;
  p4[11] = 0xdc;  // 1500
  EXPECT_EQ(folded_host(pseudo_sum(s4, d4, IPPROTO_TCP, 1500)), naive_sum(p4, 12));

  const InetAddr s6 = addr("2001:db8::1"), d6 = addr("fe80::ffff:1234:5678:9abc");
  uint8_t p6[40] = {};
  std::memcpy(p6, s6.bytes.data(), 16);
  std::memcpy(p6 + 16, d6.bytes.data(), 16);
  p6[34] = 0x01;  // 32-bit length 0x0102
  p6[35] = 0x02;
  p6[39] = IPPROTO_UDP;
  EXPECT_EQ(folded_host(pseudo_sum(s6, d6, IPPROTO_UDP, 0x0102)), naive_sum(p6, 40));
}

// ---- RFC 1624 incremental updates ----------------------------------------------------------------

TEST(Incremental, ReplacingAFieldEqualsRecomputing) {
  std::mt19937 rng(2);
  for (int iter = 0; iter < 5000; ++iter) {
    std::vector<uint8_t> buf(64 + rng() % 200);
    for (auto& b : buf) b = static_cast<uint8_t>(rng());
    if (iter % 10 == 0) std::fill(buf.begin(), buf.end(), 0xff);  // edge of the other zero
    const uint16_t check = internet_checksum(buf.data(), static_cast<uint32_t>(buf.size()));
    const size_t at = 2 * (rng() % 20);  // fields sit at even offsets
    const int width = std::array<int, 3>{2, 4, 16}[iter % 3];
    std::vector<uint8_t> old(buf.begin() + at, buf.begin() + at + width);
    for (int i = 0; i < width; ++i) buf[at + i] = static_cast<uint8_t>(rng());
    if (iter % 7 == 0) std::memcpy(buf.data() + at, old.data(), width);  // no-op update
    const uint16_t full = internet_checksum(buf.data(), static_cast<uint32_t>(buf.size()));
    uint16_t inc;
    if (width == 2) {
      inc = csum_replace16(check, load_u16(old.data()), load_u16(buf.data() + at));
    } else if (width == 4) {
      inc = csum_replace32(check, load_u32(old.data()), load_u32(buf.data() + at));
    } else {
      inc = csum_replace128(check, old.data(), buf.data() + at);
    }
    ASSERT_EQ(inc, full) << "iter " << iter << " width " << width;
  }
}

TEST(Incremental, DecrementTtl) {
  std::mt19937 rng(3);
  for (int i = 0; i < 1000; ++i) {
    const auto ttl = static_cast<uint8_t>(1 + rng() % 255);
    Bytes ip = FrameBuilder()
                   .no_eth()
                   .ip(InetAddr::v4(rng()), InetAddr::v4(rng()))
                   .ttl(ttl)
                   .ip_id(static_cast<uint16_t>(rng()))
                   .udp(1, 2)
                   .build();
    EXPECT_EQ(uvs_decrement_ttl(ip.data(), 0), ttl > 1 ? 1 : 0);
    EXPECT_EQ(ip[8], ttl > 1 ? ttl - 1 : ttl);
    EXPECT_TRUE(ipv4_header_checksum_ok(ip.data(), 20));
    Bytes again = ip;
    set_ipv4_header_checksum(again.data());
    EXPECT_EQ(again, ip);
  }
}

// Property test: thousands of random TCP/UDP packets, random NAT rewrites (DNAT, SNAT, FULLNAT),
// incremental update versus full recomputation, bit for bit.
TEST(Incremental, NatRewriteOfRandomPacketsMatchesFullRecompute) {
  std::mt19937 rng(4);
  const auto random_addr = [&](bool v6) {
    if (!v6) return InetAddr::v4(rng());
    in6_addr a;
    for (int i = 0; i < 16; ++i) a.s6_addr[i] = static_cast<uint8_t>(rng());
    return InetAddr::v6(a);
  };
  int udp_zero_kept = 0;
  for (int iter = 0; iter < 8000; ++iter) {
    const bool v6 = iter % 2;
    const bool tcp = (iter / 2) % 2;
    const bool udp_no_csum = !tcp && !v6 && iter % 11 == 1;
    const bool partial = iter % 5 == 0 && !udp_no_csum;
    FrameBuilder b;
    if (iter % 3 == 0) b.vlan(static_cast<uint16_t>(rng() & 0xfff));
    b.ip(random_addr(v6), random_addr(v6)).payload_size(rng() % 1500);
    const uint16_t sport = static_cast<uint16_t>(rng()), dport = static_cast<uint16_t>(rng());
    if (tcp) b.tcp(sport, dport, static_cast<uint8_t>(rng()), rng(), rng()); else b.udp(sport, dport);
    if (partial) b.l4_csum(CsumMode::kPartial);
    if (udp_no_csum) b.l4_csum(CsumMode::kZero);
    Bytes frame = b.build();
    ParsedPacket p;
    ASSERT_EQ(parse_frame(frame.data(), static_cast<uint32_t>(frame.size()), &p), Verdict::kOk);
    if (partial) {
      ASSERT_EQ(p.l4_csum, CsumStatus::kPartial);
    }

    InetAddr new_s = p.saddr, new_d = p.daddr;
    uint16_t new_sport = p.sport, new_dport = p.dport;
    const int kind = rng() % 3;  // 0 DNAT, 1 SNAT, 2 FULLNAT
    if (kind != 1) { new_d = random_addr(v6); new_dport = static_cast<uint16_t>(rng()); }
    if (kind != 0) { new_s = random_addr(v6); new_sport = static_cast<uint16_t>(rng()); }
    // The transform writes the new header fields...
    uint8_t* l3 = frame.data() + p.l3_off;
    uint8_t* l4 = frame.data() + p.l4_off;
    const size_t a = v6 ? 8 : 12, alen = v6 ? 16 : 4;
    std::memcpy(l3 + a, new_s.bytes.data(), alen);
    std::memcpy(l3 + a + alen, new_d.bytes.data(), alen);
    if (!v6) {
      uint16_t ipc = load_u16(l3 + kIpv4CheckOffset);
      ipc = csum_replace_addr(ipc, p.saddr, new_s);
      ipc = csum_replace_addr(ipc, p.daddr, new_d);
      store_u16(l3 + kIpv4CheckOffset, ipc);
      ASSERT_TRUE(ipv4_header_checksum_ok(l3, 20));
    }
    store_be16(l4, new_sport);
    store_be16(l4 + 2, new_dport);
    // ...then fixes the L4 checksum.
    update_l4_checksum_after_nat(frame.data(), p, new_s, new_d, new_sport, new_dport);

    Bytes reference = frame;
    recompute_l4_checksum(reference.data(), p);
    ASSERT_EQ(describe_diff(reference, frame), "") << "iter " << iter;
    ParsedPacket after;
    ASSERT_EQ(parse_frame(frame.data(), static_cast<uint32_t>(frame.size()), &after, kParseVerifyL4Checksum), Verdict::kOk);
    if (udp_no_csum) {
      EXPECT_EQ(after.l4_csum, CsumStatus::kNone);
      ++udp_zero_kept;
    } else {
      ASSERT_EQ(after.l4_csum, CsumStatus::kValid) << "iter " << iter;
    }
  }
  EXPECT_GT(udp_zero_kept, 100);
}

TEST(Incremental, UdpResultOfZeroIsSentAsFfff) {
  for (bool v6 : {false, true}) {
    FrameBuilder b;
    if (v6) b.ipv6("2001:db8::1", "2001:db8::2"); else b.ipv4("10.0.0.1", "10.0.0.2");
    Bytes frame = b.udp(1000, 2000).payload("some payload").build();
    ParsedPacket p;
    ASSERT_EQ(parse_frame(frame.data(), static_cast<uint32_t>(frame.size()), &p), Verdict::kOk);
    // Choose the new destination port that makes the data sum to 0xffff, i.e. a checksum of 0.
    uint8_t* l4 = frame.data() + p.l4_off;
    store_u16(l4 + kUdpCheckOffset, 0);
    store_u16(l4 + 2, 0);
    const uint32_t rest = csum_partial(l4, p.l4_len(), pseudo_sum(p.saddr, p.daddr, IPPROTO_UDP, p.l4_len()));
    const uint16_t port_be = static_cast<uint16_t>(~csum_fold(rest));
    const uint16_t new_dport = ntohs(port_be);
    // Restore the original packet and rewrite it through the incremental path.
    frame = b.build();
    l4 = frame.data() + p.l4_off;
    store_be16(l4 + 2, new_dport);
    update_l4_checksum_after_nat(frame.data(), p, p.saddr, p.daddr, p.sport, new_dport);
    EXPECT_EQ(load_u16(l4 + kUdpCheckOffset), 0xffff);
    Bytes reference = frame;
    recompute_l4_checksum(reference.data(), p);
    EXPECT_EQ(load_u16(reference.data() + p.l4_off + kUdpCheckOffset), 0xffff);
    ParsedPacket after;
    parse_frame(frame.data(), static_cast<uint32_t>(frame.size()), &after, kParseVerifyL4Checksum);
    EXPECT_EQ(after.l4_csum, CsumStatus::kValid);
  }
}

TEST(Incremental, SctpIsRecomputed) {
  Bytes frame = FrameBuilder().ipv4("10.0.0.1", "10.0.0.2").sctp(5000, 80).sctp_chunk(kSctpData, 3, Bytes(40, 9)).build();
  ParsedPacket p;
  ASSERT_EQ(parse_frame(frame.data(), static_cast<uint32_t>(frame.size()), &p), Verdict::kOk);
  store_be16(frame.data() + p.l4_off + 2, 8080);
  update_l4_checksum_after_nat(frame.data(), p, p.saddr, addr("10.0.0.3"), 5000, 8080);
  ParsedPacket after;
  parse_frame(frame.data(), static_cast<uint32_t>(frame.size()), &after, kParseVerifyL4Checksum);
  EXPECT_EQ(after.l4_csum, CsumStatus::kValid);
}

// ---- Classification --------------------------------------------------------------------------------

TEST(Classify, EveryStatusForEveryProtocol) {
  struct Case {
    FrameBuilder b;
    CsumMode mode;
    CsumStatus want;
  };
  const auto v4 = [] { FrameBuilder b; b.ipv4("10.0.0.1", "10.0.0.2").payload_size(33); return b; };
  const auto v6 = [] { FrameBuilder b; b.ipv6("2001:db8::1", "2001:db8::2").payload_size(33); return b; };
  std::vector<Case> cases = {
      {v4().tcp(1, 2), CsumMode::kCorrect, CsumStatus::kValid},
      {v4().tcp(1, 2), CsumMode::kPartial, CsumStatus::kPartial},
      {v4().tcp(1, 2), CsumMode::kWrong, CsumStatus::kBad},
      {v4().tcp(1, 2), CsumMode::kZero, CsumStatus::kBad},
      {v4().udp(1, 2), CsumMode::kCorrect, CsumStatus::kValid},
      {v4().udp(1, 2), CsumMode::kPartial, CsumStatus::kPartial},
      {v4().udp(1, 2), CsumMode::kZero, CsumStatus::kNone},
      {v6().udp(1, 2), CsumMode::kZero, CsumStatus::kBad},
      {v6().tcp(1, 2), CsumMode::kPartial, CsumStatus::kPartial},
      {v6().tcp(1, 2), CsumMode::kWrong, CsumStatus::kBad},
      {v4().icmp_echo(1, 2), CsumMode::kCorrect, CsumStatus::kValid},
      {v4().icmp_echo(1, 2), CsumMode::kWrong, CsumStatus::kBad},
      {v6().icmp_echo(1, 2), CsumMode::kCorrect, CsumStatus::kValid},
      {v6().icmp_echo(1, 2), CsumMode::kPartial, CsumStatus::kPartial},
      {v4().sctp(1, 2).sctp_chunk(kSctpInit, 0, Bytes(16)), CsumMode::kCorrect, CsumStatus::kValid},
      {v4().sctp(1, 2).sctp_chunk(kSctpInit, 0, Bytes(16)), CsumMode::kZero, CsumStatus::kPartial},
      {v6().sctp(1, 2).sctp_chunk(kSctpInit, 0, Bytes(16)), CsumMode::kWrong, CsumStatus::kBad},
  };
  for (auto& c : cases) {
    const Bytes frame = c.b.l4_csum(c.mode).build();
    ParsedPacket p;
    ASSERT_EQ(parse_frame(frame.data(), static_cast<uint32_t>(frame.size()), &p), Verdict::kOk);
    EXPECT_EQ(csum_status_name(classify_l4_checksum(frame.data(), p)), std::string(csum_status_name(c.want)))
        << describe_frame(frame);
  }
}

TEST(Classify, RecomputeTurnsPartialIntoValid) {
  Bytes frame = FrameBuilder().ipv6("2001:db8::1", "2001:db8::2").tcp(1, 2).payload_size(999).l4_csum(CsumMode::kPartial).build();
  ParsedPacket p;
  ASSERT_EQ(parse_frame(frame.data(), static_cast<uint32_t>(frame.size()), &p), Verdict::kOk);
  ASSERT_EQ(p.l4_csum, CsumStatus::kPartial);
  recompute_l4_checksum(frame.data(), p);
  EXPECT_EQ(classify_l4_checksum(frame.data(), p), CsumStatus::kValid);
  const Bytes reference = FrameBuilder().ipv6("2001:db8::1", "2001:db8::2").tcp(1, 2).payload_size(999).build();
  EXPECT_EQ(describe_diff(reference, frame), "");
}

TEST(Classify, FragmentsAreNotChecked) {
  const Bytes whole = FrameBuilder().ipv4("10.0.0.1", "10.0.0.2").udp(1, 2).payload_size(100).build();
  const Bytes first = fragment_frame(whole, 64)[0];
  ParsedPacket p;
  ASSERT_EQ(parse_frame(first.data(), static_cast<uint32_t>(first.size()), &p, kParseVerifyL4Checksum), Verdict::kOk);
  EXPECT_EQ(p.l4_csum, CsumStatus::kUnchecked);
  EXPECT_EQ(classify_l4_checksum(first.data(), p), CsumStatus::kUnchecked);
}

// ---- CRC32c -------------------------------------------------------------------------------------------

TEST(Crc32c, Rfc3720Vectors) {
  uint8_t buf[32];
  std::memset(buf, 0, sizeof buf);
  EXPECT_EQ(crc32c(buf, 32), 0x8a9136aau);
  std::memset(buf, 0xff, sizeof buf);
  EXPECT_EQ(crc32c(buf, 32), 0x62a8ab43u);
  for (int i = 0; i < 32; ++i) buf[i] = static_cast<uint8_t>(i);
  EXPECT_EQ(crc32c(buf, 32), 0x46dd794eu);
  for (int i = 0; i < 32; ++i) buf[i] = static_cast<uint8_t>(31 - i);
  EXPECT_EQ(crc32c(buf, 32), 0x113fdb5cu);
  // An iSCSI SCSI Read (10) command PDU.
  const uint8_t pdu[48] = {0x01, 0xc0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
                           0x00, 0x00, 0x00, 0x00, 0x14, 0x00, 0x00, 0x00, 0x00, 0x00, 0x04, 0x00,
                           0x00, 0x00, 0x00, 0x14, 0x00, 0x00, 0x00, 0x18, 0x28, 0x00, 0x00, 0x00,
                           0x00, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00};
  EXPECT_EQ(crc32c(pdu, 48), 0xd9963a56u);
  EXPECT_EQ(crc32c_portable(pdu, 48), 0xd9963a56u);
  EXPECT_EQ(crc32c("123456789", 9), 0xe3069283u);  // the catalogue check value
  EXPECT_EQ(crc32c(nullptr, 0), 0u);
}

TEST(Crc32c, HardwareAndTablesAgreeAndChain) {
  std::mt19937 rng(5);
  std::vector<uint8_t> buf(3000);
  for (auto& b : buf) b = static_cast<uint8_t>(rng());
  for (uint32_t len = 0; len < 300; ++len) {
    const uint32_t align = rng() % 8;
    const uint32_t whole = crc32c_portable(buf.data() + align, len);
    EXPECT_EQ(crc32c(buf.data() + align, len), whole) << len;
    const uint32_t cut = len ? rng() % len : 0;
    EXPECT_EQ(crc32c(buf.data() + align + cut, len - cut, crc32c(buf.data() + align, cut)), whole) << len;
  }
  RecordProperty("crc32c_hw", crc32c_has_hw() ? "sse4.2" : "tables");
}

TEST(Crc32c, SctpChecksumIsStoredLeastSignificantByteFirst) {
  Bytes frame = FrameBuilder().ipv4("10.0.0.1", "10.0.0.2").sctp(1, 2).sctp_chunk(kSctpInit, 0, Bytes(16, 3)).build();
  const uint32_t l4 = kEthHdrLen + kIpv4HdrLen;
  const uint32_t crc = sctp_checksum(frame.data() + l4, static_cast<uint32_t>(frame.size() - l4));
  EXPECT_EQ(frame[l4 + 8], crc & 0xff);
  EXPECT_EQ(frame[l4 + 11], crc >> 24);
  // The CRC over the packet with the field zeroed is the same computation.
  Bytes zeroed = frame;
  std::memset(zeroed.data() + l4 + 8, 0, 4);
  EXPECT_EQ(crc32c(zeroed.data() + l4, static_cast<uint32_t>(zeroed.size() - l4)), crc);
}

}  // namespace
}  // namespace uvs::pkt
