// Zero-allocation parser: one frame in, one ParsedPacket out (offsets, addresses, ports, flags,
// fragment and ICMP-error details, and a verdict with the reason a frame is refused).
//
// The parser never writes to the frame and never reads outside [data, data + len). Every offset
// it reports has been bounds-checked: for a kOk packet the transform may read the IP header at
// l3_off, the whole L4 header at l4_off when has_l4 is set, and the quoted headers of an ICMP
// error when has_inner is set, without further checks. Bytes between l3_end and the end of the
// frame are link-layer padding and are not part of the datagram.
#pragma once

#include <cstdint>

#include "model/address.h"
#include "pkt/checksum.h"
#include "pkt/headers.h"

namespace uvs::pkt {

enum class Verdict : uint8_t {
  kOk = 0,     // an IP packet the data plane can work on (it may still decide to drop it)
  kNotIp,      // not IPv4/IPv6 over Ethernet (ARP, LLDP, ...): pass it to the kernel
  kMalformed,  // count under `reason` and drop
};

// Why a frame is kNotIp or kMalformed; one counter per value. Keep reason_name() in step.
enum class Reason : uint8_t {
  kNone = 0,
  // kNotIp
  kNotIpEthertype,  // neither IPv4 nor IPv6 after the VLAN tags
  kTooManyVlanTags,  // more than kMaxVlanTags tags
  // kMalformed: link layer
  kEthTruncated,
  kVlanTruncated,
  // IPv4
  kIpv4Truncated,        // fewer than 20 bytes
  kIpv4BadVersion,       // ethertype IPv4, version nibble not 4
  kIpv4BadIhl,           // IHL < 5
  kIpv4OptionsTruncated, // IHL * 4 beyond the frame
  kIpv4TotLenTooSmall,   // total length below the header length
  kIpv4TotLenTooLarge,   // total length beyond the frame
  kIpv4BadChecksum,
  kIpv4BadFragment,      // MF with a length not a multiple of 8, offset + length > 65535,
                         // or an empty fragment
  // IPv6
  kIpv6Truncated,
  kIpv6BadVersion,
  kIpv6PayloadTooLarge,  // payload length beyond the frame
  kIpv6ExtTruncated,     // an extension header runs past the payload
  kIpv6ExtChainTooLong,  // more than kMaxIpv6ExtHeaders extension headers
  kIpv6ExtMisplaced,     // hop-by-hop not first, or a second fragment header
  kIpv6BadFragment,      // as kIpv4BadFragment
  // L4
  kTcpTruncated,
  kTcpBadDataOffset,  // data offset < 5 or beyond the segment
  kUdpTruncated,
  kUdpBadLength,  // UDP length < 8 or beyond the IP payload
  kSctpTruncated,
  kSctpBadChunk,  // first chunk length < 4 or beyond the packet
  kIcmpTruncated,
  kIcmp6Truncated,
  // ICMP errors: the quoted packet
  kIcmpInnerTruncated,  // quoted IP header or first 8 bytes of its L4 missing
  kIcmpInnerBad,        // quoted header of the wrong version or with IHL < 5, ext chain too long
  kCount,
};
const char* reason_name(Reason reason);

inline constexpr uint32_t kMaxIpv6ExtHeaders = 8;
// Bytes of the quoted L4 header an ICMP error must carry for TCP/UDP/SCTP/ICMP (RFC 792).
inline constexpr uint32_t kIcmpQuotedL4Min = 8;

// The datagram quoted in the body of an ICMP/ICMPv6 error.
struct InnerPacket {
  uint32_t l3_off = 0;  // the quoted IP header, in frame offsets
  uint32_t l4_off = 0;  // the quoted L4 header (meaningful if has_l4)
  uint32_t l4_len = 0;  // quoted L4 bytes present (up to the outer l3_end)
  uint8_t proto = 0;    // quoted L4 protocol (after IPv6 extension headers)
  bool has_l4 = false;  // ports / ICMP type parsed
  bool is_fragment = false;  // the quoted packet was a fragment (non-first: no ports)
  uint8_t icmp_type = 0;     // when proto is ICMP/ICMPv6
  uint8_t icmp_code = 0;
  uint16_t sport = 0;  // host order; for TCP, UDP, SCTP
  uint16_t dport = 0;
  InetAddr saddr{};
  InetAddr daddr{};
};

struct ParsedPacket {
  Verdict verdict = Verdict::kOk;
  Reason reason = Reason::kNone;
  uint8_t af = 0;     // AF_INET or AF_INET6
  uint8_t proto = 0;  // IPv4 protocol / last IPv6 next header (for a non-first IPv6
                      // fragment: the next header of the fragment header)
  uint16_t ethertype = 0;  // host order, after the VLAN tags
  uint8_t vlan_count = 0;
  uint16_t vlan_tci[kMaxVlanTags] = {};  // host order, outermost first

  uint32_t l3_off = 0;  // IP header
  uint32_t l4_off = 0;  // L4 header (or first byte of the fragment data of a non-first fragment)
  uint32_t l3_end = 0;  // end of the IP datagram: l3_off + IP total length

  uint8_t ttl = 0;      // TTL / hop limit (0 means "flag it": the transform decides)
  uint8_t ipv6_ext_count = 0;
  bool has_ipv4_options = false;
  bool dont_fragment = false;  // IPv4 DF (too big: frag-needed, as ensure_mtu_is_adequate())
  bool has_l4 = false;  // the whole fixed L4 header is present and the fields below are set

  // L4 (host order)
  uint16_t sport = 0;
  uint16_t dport = 0;
  uint8_t tcp_flags = 0;  // kTcp* bits
  uint8_t icmp_type = 0;
  uint8_t icmp_code = 0;
  bool is_icmp_error = false;
  uint32_t icmp_info = 0;  // ICMP bytes 4..7, host order: MTU of frag-needed (low 16 bits) and
                           // packet-too-big, pointer of parameter-problem
  uint8_t sctp_chunk_type = 0;
  uint8_t sctp_chunk2_type = 0;  // set if has_sctp_chunk2 (first chunk COOKIE_ECHO/COOKIE_ACK)
  bool has_sctp_chunk2 = false;
  CsumStatus l4_csum = CsumStatus::kUnchecked;

  // Fragments. is_fragment is false for IPv6 atomic fragments (offset 0, M clear; RFC 6946).
  bool is_fragment = false;
  bool more_fragments = false;
  uint16_t frag_offset = 0;      // bytes
  uint32_t frag_id = 0;          // host order (IPv4: 16 bits)
  uint32_t frag_data_off = 0;    // first byte of the fragmentable part
  uint32_t ipv6_frag_hdr_off = 0;      // 0 if there is no fragment header
  uint32_t ipv6_frag_nexthdr_off = 0;  // the next-header byte that names the fragment header

  InetAddr saddr{};  // family 0 when the frame was refused before the IP addresses
  InetAddr daddr{};

  bool has_inner = false;  // is_icmp_error and the quoted packet parsed
  InnerPacket inner{};

  bool ok() const { return verdict == Verdict::kOk; }
  bool is_v6() const { return af == AF_INET6; }
  uint32_t ip_total_len() const { return l3_end - l3_off; }
  uint32_t l4_len() const { return l3_end - l4_off; }  // L4 header + payload
  // Where the TTL / hop limit byte lives, for the transform that decrements it.
  uint32_t ttl_off() const { return l3_off + (is_v6() ? kIpv6HopLimitOffset : kIpv4TtlOffset); }
  bool is_first_fragment() const { return is_fragment && frag_offset == 0; }
};

// Parse options (bit flags).
inline constexpr uint32_t kParseVerifyL4Checksum = 1u << 0;  // full pass over the payload: sets
                                                            // l4_csum to kValid/kBad/...
inline constexpr uint32_t kParseSkipIpv4Checksum = 1u << 1;  // trust the IPv4 header checksum

// Parses an Ethernet frame (optionally 802.1Q / 802.1ad tagged). Returns out->verdict.
// Without kParseVerifyL4Checksum, l4_csum is kPartial when the field holds the pseudo-header sum
// (cheap test, see l4_checksum_looks_partial), kNone for UDP/IPv4 without checksum, and
// kUnchecked otherwise.
Verdict parse_frame(const uint8_t* data, uint32_t len, ParsedPacket* out, uint32_t flags = 0);

// Parses a bare IP packet (no link layer; the version nibble picks the family), e.g. the inner
// packet of a tunnel. Offsets are relative to DATA.
Verdict parse_ip(const uint8_t* data, uint32_t len, ParsedPacket* out, uint32_t flags = 0);

}  // namespace uvs::pkt
