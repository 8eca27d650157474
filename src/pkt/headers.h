// Wire formats of the headers the data plane reads and writes, plus byte-order helpers.
//
// Frames arrive at any alignment (the IP header of an untagged Ethernet frame sits at offset
// 14), so dereferencing the 4-byte-aligned system structs (struct iphdr, ...) there is
// undefined behaviour and UBSan says so. Every struct here is therefore packed (alignment 1);
// the compiler emits unaligned-safe loads and stores for its members. Layouts are checked
// against the glibc/UAPI definitions below, and protocol constants come from those headers
// wherever they define them.
//
// Multi-byte fields hold network byte order, as on the wire (the kernel's __be16/__be32);
// read them with ntohs/ntohl or the load_be* helpers. Do not take the address of a member
// (-Waddress-of-packed-member): copy the value, or use the byte offset.
#pragma once

// netinet/in.h first so that glibc's in6_addr wins over the UAPI one (linux/libc-compat.h).
#include <netinet/in.h>
// Keep these after netinet/in.h.
#include <arpa/inet.h>
#include <linux/if_ether.h>
#include <netinet/icmp6.h>
#include <netinet/ip.h>
#include <netinet/ip6.h>
#include <netinet/ip_icmp.h>
#include <netinet/tcp.h>
#include <netinet/udp.h>

#include <cstddef>
#include <cstdint>
#include <cstring>

namespace uvs::pkt {

// ---- Byte-order helpers (unaligned-safe) ---------------------------------------------------

inline uint16_t load_u16(const uint8_t* p) {
  uint16_t v;
  std::memcpy(&v, p, 2);
  return v;
}
inline uint32_t load_u32(const uint8_t* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}
inline uint64_t load_u64(const uint8_t* p) {
  uint64_t v;
  std::memcpy(&v, p, 8);
  return v;
}
inline void store_u16(uint8_t* p, uint16_t v) { std::memcpy(p, &v, 2); }
inline void store_u32(uint8_t* p, uint32_t v) { std::memcpy(p, &v, 4); }
inline uint16_t load_be16(const uint8_t* p) { return ntohs(load_u16(p)); }
inline uint32_t load_be32(const uint8_t* p) { return ntohl(load_u32(p)); }
inline void store_be16(uint8_t* p, uint16_t v) { store_u16(p, htons(v)); }
inline void store_be32(uint8_t* p, uint32_t v) { store_u32(p, htonl(v)); }

// A header of type H at byte offset OFF of a frame. Bounds are the caller's business (the
// parser has checked them for every offset it reports).
template <class H>
inline H* header_at(uint8_t* frame, uint32_t off) {
  return reinterpret_cast<H*>(frame + off);
}
template <class H>
inline const H* header_at(const uint8_t* frame, uint32_t off) {
  return reinterpret_cast<const H*>(frame + off);
}

// ---- Ethernet and 802.1Q ---------------------------------------------------------------------

inline constexpr uint32_t kEthHdrLen = ETH_HLEN;  // 14
inline constexpr uint32_t kVlanHdrLen = 4;
inline constexpr uint32_t kMaxVlanTags = 2;  // 802.1ad outer + 802.1Q inner (QinQ)
inline constexpr uint16_t kEthPIpv4 = ETH_P_IP;
inline constexpr uint16_t kEthPIpv6 = ETH_P_IPV6;
inline constexpr uint16_t kEthP8021Q = ETH_P_8021Q;
inline constexpr uint16_t kEthP8021AD = ETH_P_8021AD;

struct __attribute__((packed)) EthHdr {
  uint8_t dst[ETH_ALEN];
  uint8_t src[ETH_ALEN];
  uint16_t type;  // ethertype, or a TPID when a VLAN tag follows
};

// The 4 bytes after a TPID: tag control (PCP 3 bits, DEI 1, VID 12) and the next ethertype.
struct __attribute__((packed)) VlanHdr {
  uint16_t tci;
  uint16_t type;
};
inline constexpr uint16_t kVlanVidMask = 0x0fff;

// ---- IPv4 ------------------------------------------------------------------------------------

inline constexpr uint32_t kIpv4HdrLen = 20;
inline constexpr uint32_t kIpv4MaxHdrLen = 60;
inline constexpr uint16_t kIpv4FlagDf = IP_DF;       // in frag_off, host order
inline constexpr uint16_t kIpv4FlagMf = IP_MF;       // in frag_off, host order
inline constexpr uint16_t kIpv4OffsetMask = IP_OFFMASK;  // 8-byte units
inline constexpr uint32_t kIpMaxDatagram = 65535;

struct __attribute__((packed)) Ipv4Hdr {
  uint8_t version_ihl;  // version in the high nibble, header length in 32-bit words low
  uint8_t tos;
  uint16_t tot_len;
  uint16_t id;
  uint16_t frag_off;  // flags (DF, MF) and offset in 8-byte units
  uint8_t ttl;
  uint8_t protocol;
  uint16_t check;
  uint32_t saddr;
  uint32_t daddr;

  uint8_t version() const { return version_ihl >> 4; }
  uint8_t ihl() const { return version_ihl & 0x0f; }
  uint32_t header_len() const { return uint32_t{ihl()} * 4; }
};
inline constexpr uint32_t kIpv4TtlOffset = offsetof(Ipv4Hdr, ttl);
inline constexpr uint32_t kIpv4CheckOffset = offsetof(Ipv4Hdr, check);
inline constexpr uint32_t kIpv4FragOffOffset = offsetof(Ipv4Hdr, frag_off);

// The flags-and-offset word of the IPv4 header at `ip`, host order.
inline uint16_t ipv4_frag_off(const uint8_t* ip) { return load_be16(ip + kIpv4FragOffOffset); }
// Don't Fragment set on the IPv4 header at `ip`.
inline bool ipv4_df(const uint8_t* ip) { return ipv4_frag_off(ip) & kIpv4FlagDf; }

// ---- IPv6 and its extension headers ----------------------------------------------------------

inline constexpr uint32_t kIpv6HdrLen = 40;
inline constexpr uint32_t kIpv6MinMtu = 1280;  // RFC 8200 section 5: every link carries this
inline constexpr uint8_t kIpv6NextHopByHop = IPPROTO_HOPOPTS;    // 0
inline constexpr uint8_t kIpv6NextRouting = IPPROTO_ROUTING;     // 43
inline constexpr uint8_t kIpv6NextFragment = IPPROTO_FRAGMENT;   // 44
inline constexpr uint8_t kIpv6NextEsp = IPPROTO_ESP;             // 50
inline constexpr uint8_t kIpv6NextAh = IPPROTO_AH;               // 51
inline constexpr uint8_t kIpv6NextNone = IPPROTO_NONE;           // 59
inline constexpr uint8_t kIpv6NextDestOpts = IPPROTO_DSTOPTS;    // 60
inline constexpr uint8_t kIpv6NextMobility = IPPROTO_MH;         // 135
inline constexpr uint8_t kIpv6NextHip = 139;                     // RFC 7401
inline constexpr uint8_t kIpv6NextShim6 = 140;                   // RFC 5533

struct __attribute__((packed)) Ipv6Hdr {
  uint32_t vtc_flow;  // version 4 bits, traffic class 8, flow label 20
  uint16_t payload_len;
  uint8_t nexthdr;
  uint8_t hop_limit;
  uint8_t saddr[16];
  uint8_t daddr[16];

  uint8_t version() const { return reinterpret_cast<const uint8_t*>(this)[0] >> 4; }
};
inline constexpr uint32_t kIpv6HopLimitOffset = offsetof(Ipv6Hdr, hop_limit);
inline constexpr uint32_t kIpv6NextHdrOffset = offsetof(Ipv6Hdr, nexthdr);

// Generic extension header (hop-by-hop, routing, destination options, mobility, HIP, shim6):
// length in 8-byte units, not counting the first 8 bytes.
struct __attribute__((packed)) Ipv6ExtHdr {
  uint8_t nexthdr;
  uint8_t hdrlen;
  uint32_t byte_len() const { return (uint32_t{hdrlen} + 1) * 8; }
};

// Authentication header (RFC 4302): length in 4-byte units, minus 2.
struct __attribute__((packed)) AhHdr {
  uint8_t nexthdr;
  uint8_t hdrlen;
  uint16_t reserved;
  uint32_t spi;
  uint32_t seq;
  uint32_t byte_len() const { return (uint32_t{hdrlen} + 2) * 4; }
};

struct __attribute__((packed)) Ipv6FragHdr {
  uint8_t nexthdr;
  uint8_t reserved;
  uint16_t frag_off;  // offset in 8-byte units << 3, 2 reserved bits, M flag in bit 0
  uint32_t identification;
};
inline constexpr uint32_t kIpv6FragHdrLen = 8;
inline constexpr uint16_t kIpv6FragOffsetMask = 0xfff8;  // host order; already bytes
inline constexpr uint16_t kIpv6FragMore = 0x0001;        // host order

// ---- TCP, UDP --------------------------------------------------------------------------------

inline constexpr uint32_t kTcpHdrLen = 20;
inline constexpr uint32_t kTcpMaxHdrLen = 60;
inline constexpr uint8_t kTcpFin = TH_FIN;
inline constexpr uint8_t kTcpSyn = TH_SYN;
inline constexpr uint8_t kTcpRst = TH_RST;
inline constexpr uint8_t kTcpPsh = TH_PUSH;
inline constexpr uint8_t kTcpAck = TH_ACK;
inline constexpr uint8_t kTcpUrg = TH_URG;
inline constexpr uint8_t kTcpEce = 0x40;
inline constexpr uint8_t kTcpCwr = 0x80;

struct __attribute__((packed)) TcpHdr {
  uint16_t source;
  uint16_t dest;
  uint32_t seq;
  uint32_t ack_seq;
  uint8_t doff_res;  // data offset in 32-bit words in the high nibble
  uint8_t flags;     // kTcp* bits
  uint16_t window;
  uint16_t check;
  uint16_t urg_ptr;

  uint8_t doff() const { return doff_res >> 4; }
  uint32_t header_len() const { return uint32_t{doff()} * 4; }
};
inline constexpr uint32_t kTcpCheckOffset = offsetof(TcpHdr, check);

inline constexpr uint32_t kUdpHdrLen = 8;
struct __attribute__((packed)) UdpHdr {
  uint16_t source;
  uint16_t dest;
  uint16_t len;
  uint16_t check;
};
inline constexpr uint32_t kUdpCheckOffset = offsetof(UdpHdr, check);

// ---- SCTP (RFC 9260) -------------------------------------------------------------------------

struct __attribute__((packed)) SctpHdr {
  uint16_t source;
  uint16_t dest;
  uint32_t vtag;
  uint32_t checksum;  // CRC32c, stored least significant byte first (RFC 9260 appendix A)
};
inline constexpr uint32_t kSctpHdrLen = 12;
inline constexpr uint32_t kSctpCheckOffset = offsetof(SctpHdr, checksum);

struct __attribute__((packed)) SctpChunkHdr {
  uint8_t type;
  uint8_t flags;
  uint16_t length;  // including this header, excluding padding to 4 bytes
};
inline constexpr uint32_t kSctpChunkHdrLen = 4;

// Chunk types (RFC 9260 section 3.2); the kernel has no UAPI for them.
enum SctpChunkType : uint8_t {
  kSctpData = 0,
  kSctpInit = 1,
  kSctpInitAck = 2,
  kSctpSack = 3,
  kSctpHeartbeat = 4,
  kSctpHeartbeatAck = 5,
  kSctpAbort = 6,
  kSctpShutdown = 7,
  kSctpShutdownAck = 8,
  kSctpError = 9,
  kSctpCookieEcho = 10,
  kSctpCookieAck = 11,
  kSctpEcne = 12,
  kSctpCwr = 13,
  kSctpShutdownComplete = 14,
};

// ---- ICMP, ICMPv6 ----------------------------------------------------------------------------

inline constexpr uint32_t kIcmpHdrLen = 8;
struct __attribute__((packed)) IcmpHdr {
  uint8_t type;
  uint8_t code;
  uint16_t check;
  uint32_t rest;  // id/seq for echo; unused/MTU for errors (next-hop MTU in the low 16 bits)
};
inline constexpr uint32_t kIcmpCheckOffset = offsetof(IcmpHdr, check);

// ICMP error types whose body quotes the offending datagram (RFC 792, RFC 1812).
inline constexpr bool is_icmp_error(uint8_t type) {
  return type == ICMP_DEST_UNREACH || type == ICMP_SOURCE_QUENCH || type == ICMP_REDIRECT ||
         type == ICMP_TIME_EXCEEDED || type == ICMP_PARAMETERPROB;
}

using Icmp6Hdr = IcmpHdr;  // same 8-byte layout: type, code, checksum, 4 bytes of body
// ICMPv6 types below 128 are errors (RFC 4443 section 2.1), all quoting the packet.
inline constexpr bool is_icmp6_error(uint8_t type) { return type < 128; }

// ---- Tunnels: GUE (draft-ietf-intarea-gue), GRE (RFC 2784) -----------------------------------

// GUE variant 0 header: ver(2) C(1) hlen(5) | proto/ctype | flags (16).
struct __attribute__((packed)) GueHdr {
  uint8_t ver_c_hlen;
  uint8_t proto_ctype;
  uint16_t flags;

  uint8_t version() const { return ver_c_hlen >> 6; }
  bool control() const { return ver_c_hlen & 0x20; }
  uint8_t hlen() const { return ver_c_hlen & 0x1f; }  // option words after this header
  uint32_t header_len() const { return 4 + uint32_t{hlen()} * 4; }
};
inline constexpr uint32_t kGueHdrLen = 4;
inline constexpr uint16_t kGueFlagPrivate = 0x0001;       // host order: a private-flags word follows
inline constexpr uint32_t kGuePrivRemcsum = 0x80000000u;  // host order, in the private word

struct __attribute__((packed)) GreHdr {
  uint16_t flags_version;  // C bit 0x8000 (checksum present), version in the low 3 bits
  uint16_t protocol;       // ethertype of the payload
};
inline constexpr uint32_t kGreHdrLen = 4;
inline constexpr uint16_t kGreFlagCsum = 0x8000;  // host order
inline constexpr uint16_t kGreFlagKey = 0x2000;
inline constexpr uint16_t kGreFlagSeq = 0x1000;

// ---- Layout checks against the system definitions --------------------------------------------

static_assert(sizeof(EthHdr) == sizeof(ethhdr));
static_assert(sizeof(Ipv4Hdr) == sizeof(iphdr));
static_assert(offsetof(Ipv4Hdr, ttl) == offsetof(iphdr, ttl));
static_assert(offsetof(Ipv4Hdr, saddr) == offsetof(iphdr, saddr));
static_assert(sizeof(Ipv6Hdr) == sizeof(ip6_hdr));
static_assert(offsetof(Ipv6Hdr, hop_limit) == offsetof(ip6_hdr, ip6_hlim));
static_assert(offsetof(Ipv6Hdr, saddr) == offsetof(ip6_hdr, ip6_src));
static_assert(sizeof(Ipv6FragHdr) == sizeof(ip6_frag));
static_assert(sizeof(TcpHdr) == sizeof(tcphdr));
static_assert(offsetof(TcpHdr, check) == offsetof(tcphdr, th_sum));
static_assert(sizeof(UdpHdr) == sizeof(udphdr));
static_assert(offsetof(UdpHdr, check) == offsetof(udphdr, uh_sum));
static_assert(sizeof(IcmpHdr) == sizeof(icmphdr));
static_assert(sizeof(Icmp6Hdr) == sizeof(icmp6_hdr));
static_assert(sizeof(SctpHdr) == kSctpHdrLen && sizeof(AhHdr) == 12 && sizeof(GueHdr) == 4);
static_assert(alignof(Ipv4Hdr) == 1 && alignof(Ipv6Hdr) == 1 && alignof(TcpHdr) == 1);

}  // namespace uvs::pkt
