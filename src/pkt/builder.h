// Frame builder and field-by-field frame comparator for tests and packet-in/packet-out fixture
// tables. Not for the data path: it allocates freely.
//
//   Bytes syn = FrameBuilder()
//                   .vlan(100)
//                   .ipv4("10.0.0.1", "10.0.0.100").ttl(64)
//                   .tcp(40000, 80, kTcpSyn).tcp_options({2, 4, 0x05, 0xb4})
//                   .build();
//   Bytes err = FrameBuilder().ipv4("10.0.0.254", "10.0.0.1")
//                   .icmp(ICMP_DEST_UNREACH, ICMP_FRAG_NEEDED, 1400)
//                   .quote(FrameBuilder().no_eth().ipv4(...).tcp(...).build(), 28)
//                   .build();
//   EXPECT_EQ(describe_diff(expected, actual), "");
//
// Everything a test may want wrong can be made wrong: checksums (wrong, partial, zero, a given
// value), IHL, total/payload length, version, TCP data offset, UDP length, fragment fields, and
// raw payloads under any protocol number. Defaults: MACs 02:00:00:00:00:01 -> :02, TTL 64, IPv4
// ID 1, no DF, TCP window 65535 with ACK, correct checksums everywhere.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "model/address.h"
#include "pkt/headers.h"

namespace uvs::pkt {

using Bytes = std::vector<uint8_t>;
using MacAddr = std::array<uint8_t, 6>;

// Parsing helpers for literals in tests; they abort on bad text.
MacAddr mac(std::string_view text);   // "02:00:00:00:00:01"
InetAddr addr(std::string_view text);  // "10.0.0.1", "2001:db8::1"

enum class CsumMode : uint8_t {
  kCorrect,
  kWrong,    // the correct value with one bit flipped (never the other ones' complement zero)
  kPartial,  // the folded pseudo-header sum, as CHECKSUM_PARTIAL leaves it (SCTP: 0)
  kZero,
  kValue,    // a given value, stored as is (network order in memory)
};

class FrameBuilder {
 public:
  FrameBuilder() = default;

  // ---- Link layer
  FrameBuilder& eth(const MacAddr& src, const MacAddr& dst);
  FrameBuilder& no_eth();  // build() returns the bare IP packet
  FrameBuilder& vlan(uint16_t tci, uint16_t tpid = kEthP8021Q);  // up to any depth, outer first
  FrameBuilder& ethertype(uint16_t type);                         // override (e.g. ETH_P_ARP)

  // ---- IP
  FrameBuilder& ipv4(std::string_view src, std::string_view dst);
  FrameBuilder& ipv6(std::string_view src, std::string_view dst);
  FrameBuilder& ip(const InetAddr& src, const InetAddr& dst);  // family from the addresses
  FrameBuilder& ttl(uint8_t ttl);  // hop limit for IPv6
  FrameBuilder& tos(uint8_t tos);  // traffic class for IPv6
  FrameBuilder& flow_label(uint32_t label);
  FrameBuilder& ip_id(uint16_t id);
  FrameBuilder& df(bool on = true);
  // IPv4 fragment fields (offset in bytes, a multiple of 8 unless testing odd input). The builder
  // still emits whatever L4 was asked for; use raw() for the data of non-first fragments.
  FrameBuilder& ipv4_frag(uint16_t offset_bytes, bool more);
  FrameBuilder& ipv4_options(Bytes options);  // padded with zeros (EOL) to 4 bytes
  FrameBuilder& ip_csum(CsumMode mode, uint16_t value = 0);
  FrameBuilder& ip_version(uint8_t version);      // override the version nibble
  FrameBuilder& ihl(uint8_t ihl);                 // override IHL (words)
  FrameBuilder& tot_len(uint16_t tot_len);        // override IPv4 total length
  FrameBuilder& payload_len(uint16_t len);        // override IPv6 payload length
  FrameBuilder& protocol(uint8_t proto);          // override the IPv4 protocol / last next header
  // IPv6 extension headers, in order. LEN is the whole header in bytes (hop-by-hop, routing,
  // destination options: a multiple of 8 from 8; AH: a multiple of 4 from 12), zero-filled
  // (Pad1 options, routing type 0 with no segments left).
  FrameBuilder& ipv6_ext(uint8_t type, uint32_t len = 8);
  FrameBuilder& ipv6_frag(uint16_t offset_bytes, bool more, uint32_t id);
  // A raw extension header: BYTES as given, its first byte overwritten with the next header.
  FrameBuilder& ipv6_ext_raw(uint8_t type, Bytes bytes);

  // ---- L4 (the last call wins)
  FrameBuilder& tcp(uint16_t sport, uint16_t dport, uint8_t flags = kTcpAck, uint32_t seq = 1,
                    uint32_t ack = 0);
  FrameBuilder& tcp_options(Bytes options);  // padded with zeros (EOL) to 4 bytes
  FrameBuilder& tcp_window(uint16_t window);
  FrameBuilder& tcp_doff(uint8_t doff);  // override the data offset (words)
  FrameBuilder& udp(uint16_t sport, uint16_t dport);
  FrameBuilder& udp_len(uint16_t len);  // override the UDP length field
  FrameBuilder& sctp(uint16_t sport, uint16_t dport, uint32_t vtag = 0x01020304);
  // Appends a chunk: header with length 4 + value size, value, zero padding to 4 bytes.
  FrameBuilder& sctp_chunk(uint8_t type, uint8_t flags = 0, Bytes value = {});
  FrameBuilder& sctp_chunk_raw(Bytes bytes);  // appended as given
  FrameBuilder& icmp(uint8_t type, uint8_t code, uint32_t rest = 0);   // ICMPv4
  FrameBuilder& icmp6(uint8_t type, uint8_t code, uint32_t rest = 0);  // ICMPv6
  FrameBuilder& icmp_echo(uint16_t id, uint16_t seq);                  // request, v4 or v6
  // The quoted packet of an ICMP error: INNER (a bare IP packet, e.g. from no_eth().build()),
  // cut to MAX_LEN bytes if non-zero. Goes before any payload().
  FrameBuilder& quote(const Bytes& inner, uint32_t max_len = 0);
  // GRE (RFC 2784) carrying PROTO (an ethertype), with the optional checksum word.
  FrameBuilder& gre(uint16_t proto, bool with_csum = false);
  // UDP + GUE variant 0 carrying INNER_PROTO (4 or 41); with_csum computes the UDP checksum
  // (GUE sends 0 otherwise, as the kernel does without --tun-csum).
  FrameBuilder& gue(uint16_t sport, uint16_t dport, uint8_t inner_proto, bool with_csum = false);
  // No L4 header: the payload goes right after the IP header under protocol PROTO.
  FrameBuilder& raw(uint8_t proto);
  FrameBuilder& l4_csum(CsumMode mode, uint32_t value = 0);

  // ---- Payload
  FrameBuilder& payload(Bytes bytes);
  FrameBuilder& payload(std::string_view text);
  FrameBuilder& payload_size(uint32_t n);  // n bytes of a counting pattern

  Bytes build() const;

 private:
  enum class L4 : uint8_t { kRaw, kTcp, kUdp, kSctp, kIcmp, kIcmp6, kGre, kGue };
  struct Ext {
    uint8_t type;
    Bytes bytes;
  };
  Bytes build_l4(const InetAddr& src, const InetAddr& dst, uint8_t proto) const;
  uint8_t l4_proto() const;

  bool eth_ = true;
  MacAddr src_mac_{0x02, 0, 0, 0, 0, 0x01};
  MacAddr dst_mac_{0x02, 0, 0, 0, 0, 0x02};
  std::vector<std::pair<uint16_t, uint16_t>> vlans_;  // (tpid, tci)
  std::optional<uint16_t> ethertype_;

  InetAddr src_ = InetAddr::v4(0x0a000001);
  InetAddr dst_ = InetAddr::v4(0x0a000002);
  uint8_t ttl_ = 64;
  uint8_t tos_ = 0;
  uint32_t flow_label_ = 0;
  uint16_t ip_id_ = 1;
  bool df_ = false;
  uint16_t frag_offset_ = 0;
  bool more_frags_ = false;
  Bytes ipv4_options_;
  CsumMode ip_csum_mode_ = CsumMode::kCorrect;
  uint16_t ip_csum_value_ = 0;
  std::optional<uint8_t> version_;
  std::optional<uint8_t> ihl_;
  std::optional<uint16_t> tot_len_;
  std::optional<uint16_t> payload_len_;
  std::optional<uint8_t> protocol_;
  std::vector<Ext> exts_;

  L4 l4_ = L4::kRaw;
  uint8_t raw_proto_ = 253;  // RFC 3692 experimental
  uint16_t sport_ = 0;
  uint16_t dport_ = 0;
  uint8_t tcp_flags_ = kTcpAck;
  uint32_t seq_ = 0;
  uint32_t ack_ = 0;
  uint16_t window_ = 65535;
  Bytes tcp_options_;
  std::optional<uint8_t> tcp_doff_;
  std::optional<uint16_t> udp_len_;
  uint32_t vtag_ = 0;
  Bytes sctp_chunks_;
  uint8_t icmp_type_ = 0;
  uint8_t icmp_code_ = 0;
  uint32_t icmp_rest_ = 0;
  uint16_t tunnel_proto_ = 0;
  bool tunnel_csum_ = false;
  CsumMode l4_csum_mode_ = CsumMode::kCorrect;
  uint32_t l4_csum_value_ = 0;
  Bytes quote_;
  Bytes payload_;
};

// Splits a frame built above (Ethernet or bare IP, IPv4 or IPv6, not already fragmented) into
// fragments carrying at most DATA_PER_FRAG bytes of fragmentable data each (rounded down to a
// multiple of 8). IPv6 gets a fragment header with ID after the hop-by-hop/routing headers.
std::vector<Bytes> fragment_frame(const Bytes& frame, uint32_t data_per_frag, uint32_t id = 0x1234,
                                  bool has_eth = true);

// Field-by-field comparison of two frames, decoded independently of pkt/parse (Ethernet, VLAN,
// IPv4 + options, IPv6 + extension headers, TCP, UDP, SCTP, ICMP, ICMPv6, GRE, GUE, and the
// packet inside a tunnel or quoted by an ICMP error, prefixed "inner."). Returns "" when the
// frames are byte-identical, else one "field: expected X got Y" per difference, joined by "; ".
// Checksum fields say whether each side verifies, e.g. "tcp.csum: expected 0x1c46 (valid) got
// 0x1c47 (bad)".
std::string describe_diff(std::span<const uint8_t> expected, std::span<const uint8_t> actual,
                          bool has_eth = true);
// The decoded fields of one frame, "name=value" separated by spaces (for failure messages).
std::string describe_frame(std::span<const uint8_t> frame, bool has_eth = true);

}  // namespace uvs::pkt
