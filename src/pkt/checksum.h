// Internet checksum (RFC 1071), incremental updates (RFC 1624), pseudo headers, SCTP CRC32c,
// and classification of the L4 checksum a frame arrived with.
//
// Conventions (those of the kernel's __sum16/__wsum):
//  * A 16-bit checksum value is what sits in the packet, loaded as-is (network byte order in
//    memory). Sums are taken over native-order loads, which RFC 1071 section 2(B) makes
//    byte-order independent, so no swapping is ever needed.
//  * A "sum" (uint32_t) is an unfolded ones' complement accumulator; csum_fold() reduces it to
//    16 bits and csum_finish() also complements it, giving the value to store.
//  * Addresses and ports passed as raw integers are in network byte order (_be suffix).
//
// Everything here is allocation-free and exception-free; the small helpers are inline.
#pragma once

#include <endian.h>

#include <cstdint>

#include "model/address.h"
#include "pkt/headers.h"
#include "pkt/nat_rewrite.h"

namespace uvs::pkt {

// nat_rewrite.h is plain C and names its offsets itself; they must be the headers' own.
static_assert(UVS_IPV4_CHECK_OFF == kIpv4CheckOffset);
static_assert(UVS_IPV4_TTL_OFF == kIpv4TtlOffset);
static_assert(UVS_IPV4_SADDR_OFF == offsetof(Ipv4Hdr, saddr));
static_assert(UVS_IPV6_SADDR_OFF == offsetof(Ipv6Hdr, saddr));
static_assert(UVS_IPV6_HOP_LIMIT_OFF == kIpv6HopLimitOffset);

struct ParsedPacket;

// What the L4 checksum field of a received frame holds.
enum class CsumStatus : uint8_t {
  kUnchecked = 0,  // not verified; the field is assumed to be a final checksum
  kValid,          // verified over the whole segment
  kPartial,        // only the folded pseudo-header sum (a CHECKSUM_PARTIAL frame from a local
                   // socket, see notes/afxdp-on-veth.md section 5; SCTP: field 0 with CRC
                   // offload): recompute, never update incrementally
  kBad,            // verified and wrong
  kNone,           // no checksum: UDP over IPv4 with field 0
};
const char* csum_status_name(CsumStatus status);

// ---- Ones' complement arithmetic -------------------------------------------------------------

// Folds a 32-bit accumulator to 16 bits (end-around carry), not complemented.
inline uint16_t csum_fold(uint32_t sum) {
  sum = (sum & 0xffff) + (sum >> 16);
  sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<uint16_t>(sum);
}
inline uint32_t csum_fold64(uint64_t sum) {
  sum = (sum & 0xffffffffu) + (sum >> 32);
  sum = (sum & 0xffffffffu) + (sum >> 32);
  return static_cast<uint32_t>(sum);
}
// The value to store in a checksum field.
inline uint16_t csum_finish(uint32_t sum) { return static_cast<uint16_t>(~csum_fold(sum)); }
inline uint32_t csum_add(uint32_t a, uint32_t b) {
  uint32_t r = a + b;
  return r + (r < a);
}
inline uint32_t csum_sub(uint32_t a, uint32_t b) { return csum_add(a, ~b); }

// Ones' complement sum of LEN bytes at DATA added to INITIAL. 64-bit accumulation, any
// alignment, any length. The byte at an odd end counts as the high byte of a 16-bit word.
uint32_t csum_partial(const void* data, uint32_t len, uint32_t initial = 0);

// The RFC 1071 checksum of a buffer (what an ICMPv4 or IPv4 header checksum field holds when the
// buffer is summed with that field zeroed).
inline uint16_t internet_checksum(const void* data, uint32_t len) {
  return csum_finish(csum_partial(data, len));
}

// ---- Pseudo headers (RFC 793/768 for IPv4, RFC 8200 section 8.1 for IPv6) --------------------

inline uint32_t pseudo_sum_v4(uint32_t saddr_be, uint32_t daddr_be, uint8_t proto,
                              uint32_t l4_len) {
  uint64_t s = uint64_t{saddr_be} + daddr_be + htons(proto) + htons(static_cast<uint16_t>(l4_len));
  return csum_fold64(s);
}
inline uint32_t pseudo_sum_v6(const uint8_t* saddr, const uint8_t* daddr, uint8_t proto,
                              uint32_t l4_len) {
  uint64_t s = uint64_t{load_u32(saddr)} + load_u32(saddr + 4) + load_u32(saddr + 8) +
               load_u32(saddr + 12) + load_u32(daddr) + load_u32(daddr + 4) +
               load_u32(daddr + 8) + load_u32(daddr + 12) + htonl(l4_len) + htonl(proto);
  return csum_fold64(s);
}
inline uint32_t pseudo_sum(const InetAddr& saddr, const InetAddr& daddr, uint8_t proto,
                           uint32_t l4_len) {
  return saddr.is_v6() ? pseudo_sum_v6(saddr.bytes.data(), daddr.bytes.data(), proto, l4_len)
                       : pseudo_sum_v4(load_u32(saddr.bytes.data()),
                                       load_u32(daddr.bytes.data()), proto, l4_len);
}

// ---- RFC 1624 incremental updates: HC' = ~(~HC + ~m + m') -------------------------------------
// CHECK is the field as stored; the result is the new field. Exact: the result equals what a full
// recomputation gives (never the other zero), because the data is never all zero. The arithmetic
// is nat_rewrite.h's, which the XDP programs compile too.
inline uint16_t csum_replace16(uint16_t check, uint16_t old_be, uint16_t new_be) {
  return uvs_csum_apply(check, uvs_csum_delta16(old_be, new_be));
}
inline uint16_t csum_replace32(uint16_t check, uint32_t old_be, uint32_t new_be) {
  return uvs_csum_apply(check, uvs_csum_delta32(old_be, new_be));
}
inline uint16_t csum_replace128(uint16_t check, const uint8_t* old16, const uint8_t* new16) {
  return uvs_csum_apply(check, uvs_csum_delta_words(old16, new16, 4));
}
// The difference (new - old) of an address, as a sum to add to ~check. Same family assumed.
inline uint64_t csum_addr_delta(const InetAddr& old_addr, const InetAddr& new_addr) {
  return uvs_csum_delta_words(old_addr.bytes.data(), new_addr.bytes.data(),
                              old_addr.is_v6() ? 4 : 1);
}
// Applies a delta built from csum_addr_delta() and friends.
inline uint16_t csum_apply_delta(uint16_t check, uint64_t delta) {
  return uvs_csum_apply(check, delta);
}
inline uint16_t csum_replace_addr(uint16_t check, const InetAddr& old_addr,
                                  const InetAddr& new_addr) {
  return csum_apply_delta(check, csum_addr_delta(old_addr, new_addr));
}
// One address and one port in one go (the NAT case: DNAT in, SNAT out).
inline uint16_t csum_replace_addr_port(uint16_t check, const InetAddr& old_addr,
                                       const InetAddr& new_addr, uint16_t old_port_be,
                                       uint16_t new_port_be) {
  return csum_apply_delta(
      check, csum_addr_delta(old_addr, new_addr) + uvs_csum_delta16(old_port_be, new_port_be));
}
// UDP sends a computed 0 as 0xffff: 0 on the wire means "no checksum" (RFC 768).
inline uint16_t udp_checksum_nonzero(uint16_t check) { return check ? check : 0xffff; }

// ---- IPv4 header -----------------------------------------------------------------------------

// The ones' complement sum of an IPv4 header (HDR_LEN a multiple of 4, at most 60): at most 15
// 32-bit words, so a plain 64-bit sum cannot overflow; inline, since every packet pays it.
inline uint32_t ipv4_header_sum(const uint8_t* hdr, uint32_t hdr_len) {
  uint64_t s = uint64_t{load_u32(hdr)} + load_u32(hdr + 4) + load_u32(hdr + 8) +
               load_u32(hdr + 12) + load_u32(hdr + 16);
  for (uint32_t i = 20; i < hdr_len; i += 4) s += load_u32(hdr + i);
  return csum_fold64(s);
}
// True if the header checksum of the IPv4 header at HDR (HDR_LEN bytes, a multiple of 4 from 20)
// verifies.
inline bool ipv4_header_checksum_ok(const uint8_t* hdr, uint32_t hdr_len) {
  return csum_fold(ipv4_header_sum(hdr, hdr_len)) == 0xffff;
}
// Recomputes and stores the IPv4 header checksum (header length taken from IHL, which must be
// at least 5).
inline void set_ipv4_header_checksum(uint8_t* hdr) {
  // Sum the header as it is and take the old field back out, rather than zeroing the field
  // first: a 2-byte store followed by overlapping 4-byte loads stalls store forwarding.
  const uint32_t sum = ipv4_header_sum(hdr, uint32_t{hdr[0] & 0x0fu} * 4);
  store_u16(hdr + kIpv4CheckOffset, csum_finish(csum_sub(sum, load_u16(hdr + kIpv4CheckOffset))));
}
// The TTL decrement with its incremental checksum update is nat_rewrite.h's uvs_decrement_ttl().

// ---- L4 ----------------------------------------------------------------------------------------

// Offset of the checksum field inside the L4 header of PROTO, or -1 if there is none we know.
inline int l4_checksum_offset(uint8_t proto) {
  switch (proto) {
    case IPPROTO_TCP: return kTcpCheckOffset;
    case IPPROTO_UDP: return kUdpCheckOffset;
    case IPPROTO_ICMP:
    case IPPROTO_ICMPV6: return kIcmpCheckOffset;
    case IPPROTO_SCTP: return kSctpCheckOffset;
    default: return -1;
  }
}

// The Internet checksum of an L4 segment with the pseudo header (TCP, UDP, ICMPv6; ICMPv4 has
// none: pass proto IPPROTO_ICMP and it is left out), computed as if the checksum field were
// zero. L4_LEN is the segment length; for UDP the caller passes the UDP length field.
uint16_t compute_l4_checksum(const InetAddr& saddr, const InetAddr& daddr, uint8_t proto,
                             const uint8_t* l4, uint32_t l4_len);

// Classifies the checksum field of the segment (see CsumStatus). Protocols without a checksum
// we know give kUnchecked.
CsumStatus classify_l4_checksum(const InetAddr& saddr, const InetAddr& daddr, uint8_t proto,
                                const uint8_t* l4, uint32_t l4_len);

// Cheap test for a CHECKSUM_PARTIAL field: one pseudo-header sum and a compare (no pass over
// the payload). A final checksum that happens to equal the pseudo sum (1 in 65536) also says
// true; recomputing it is harmless.
inline bool l4_checksum_looks_partial(const InetAddr& saddr, const InetAddr& daddr,
                                      uint8_t proto, uint16_t field, uint32_t l4_len) {
  return field == csum_fold(pseudo_sum(saddr, daddr, proto, l4_len));
}

// ---- SCTP CRC32c (RFC 9260 appendix A, Castagnoli polynomial) -------------------------------

// CRC32c of LEN bytes, continuing from the CRC value PREV (0 to start). SSE4.2 when the CPU has
// it (checked once), slicing-by-8 tables otherwise.
uint32_t crc32c(const void* data, uint32_t len, uint32_t prev = 0);
uint32_t crc32c_portable(const void* data, uint32_t len, uint32_t prev = 0);  // tables only
bool crc32c_has_hw();
// The SCTP checksum of a packet (common header + chunks, LEN bytes), computed as if the checksum
// field were zero; store it with set_sctp_checksum (RFC 9260 puts it least significant byte
// first).
uint32_t sctp_checksum(const uint8_t* sctp, uint32_t len);
inline uint32_t load_sctp_checksum(const uint8_t* sctp) {
  uint32_t v;
  std::memcpy(&v, sctp + kSctpCheckOffset, 4);
  return le32toh(v);
}
inline void set_sctp_checksum(uint8_t* sctp, uint32_t crc) {
  uint32_t v = htole32(crc);
  std::memcpy(sctp + kSctpCheckOffset, &v, 4);
}

// ---- Packet-level helpers (frame + its ParsedPacket) -----------------------------------------

// Full classification of the frame's L4 checksum (a pass over the payload). Fragments and
// segments without L4 give kUnchecked.
CsumStatus classify_l4_checksum(const uint8_t* frame, const ParsedPacket& p);

// Recomputes and stores the L4 checksum of the frame (TCP, UDP, ICMP, ICMPv6, SCTP), using the
// addresses currently in its IP header (so call it after rewriting them). A UDP-over-IPv4
// datagram sent without checksum keeps 0. Does nothing for fragments or unknown protocols.
void recompute_l4_checksum(uint8_t* frame, const ParsedPacket& p);

// After a NAT rewrite: the transform has written NEW_SADDR/NEW_DADDR (IP header) and
// NEW_SPORT/NEW_DPORT (host order) into the frame; P still holds the values parsed before.
// Updates the L4 checksum incrementally when it is final, recomputes it when P says kPartial
// (or for SCTP, whose CRC cannot be updated). The IPv4 header checksum is not touched.
void update_l4_checksum_after_nat(uint8_t* frame, const ParsedPacket& p,
                                  const InetAddr& new_saddr, const InetAddr& new_daddr,
                                  uint16_t new_sport, uint16_t new_dport);

}  // namespace uvs::pkt
