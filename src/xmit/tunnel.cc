#include "xmit/tunnel.h"

#include <algorithm>
#include <cstring>

#include "pkt/checksum.h"
#include "pkt/headers.h"
#include "util/hash.h"

namespace uvs::xmit {

using pkt::store_be16;
using pkt::store_u16;

namespace {

uint32_t encap_len(const TunnelParams& t) {
  switch (t.type) {
    case TunType::kGue:
      return pkt::kUdpHdrLen + pkt::kGueHdrLen;
    case TunType::kGre:
      return pkt::kGreHdrLen + (t.csum == TunCsum::kCsum ? 4 : 0);
    default:
      return 0;
  }
}

uint8_t outer_protocol(const TunnelParams& t, bool inner_v6) {
  switch (t.type) {
    case TunType::kGue:
      return IPPROTO_UDP;
    case TunType::kGre:
      return IPPROTO_GRE;
    default:
      return inner_v6 ? IPPROTO_IPV6 : IPPROTO_IPIP;
  }
}

// ECN on encapsulation (RFC 6040 normal mode as INET_ECN_encapsulate): DSCP copied, CE becomes
// ECT(0) so the outer header never claims congestion the tunnel did not see.
uint8_t outer_tos(uint8_t inner_tos) {
  return (inner_tos & 0x03) == 0x03 ? static_cast<uint8_t>((inner_tos & ~0x03) | 0x02)
                                    : inner_tos;
}

// A UDP source port from the inner flow, in the ephemeral range, so that ECMP and RSS on the
// way to the real server spread tunnels the way they spread the flows inside.
uint16_t flow_source_port(const pkt::ParsedPacket& p) {
  uint32_t h = p.saddr.fold() * util::kGolden32 ^ p.daddr.fold() ^
               (uint32_t{p.sport} << 16 | p.dport) ^ p.proto;
  h ^= h >> 15;
  h *= 0x85EBCA6Bu;
  h ^= h >> 13;
  return static_cast<uint16_t>(32768 + (h % 28232));  // 32768..60999, the Linux default range
}

}  // namespace

uint32_t tunnel_overhead(const TunnelParams& t) {
  return (t.dst.is_v6() ? pkt::kIpv6HdrLen : pkt::kIpv4HdrLen) + encap_len(t);
}

bool tunnel_encap(io::Frame& f, const pkt::ParsedPacket& p, const TunnelParams& t,
                  const L2Next& next) {
  // The inner datagram is kept as is; drop link padding after it.
  f.adjust_tail(-static_cast<int32_t>(f.len - p.l3_end));
  const uint32_t inner_len = p.ip_total_len();
  const uint32_t outer_ip = t.dst.is_v6() ? pkt::kIpv6HdrLen : pkt::kIpv4HdrLen;
  const uint32_t extra = encap_len(t);
  const uint32_t need = pkt::kEthHdrLen + outer_ip + extra;
  // Move the data pointer so that the outer headers end right before the inner IP header.
  const int32_t shift = static_cast<int32_t>(need) - static_cast<int32_t>(p.l3_off);
  if (shift > 0) {
    if (!f.push_front(static_cast<uint16_t>(shift))) return false;
  } else if (shift < 0) {
    f.pull_front(static_cast<uint16_t>(-shift));
  }
  uint8_t* inner = f.data + need;
  const uint8_t* inner_hdr = inner;
  const uint8_t inner_tos =
      p.is_v6() ? static_cast<uint8_t>((pkt::load_be16(inner_hdr) >> 4) & 0xff) : inner_hdr[1];
  const uint8_t inner_ttl = inner_hdr[p.is_v6() ? pkt::kIpv6HopLimitOffset : pkt::kIpv4TtlOffset];
  const bool inner_df = !p.is_v6() && pkt::ipv4_df(inner_hdr) && t.pmtu_disc;
  const uint32_t payload_len = extra + inner_len;  // what follows the outer IP header
  uint8_t* ip = f.data + pkt::kEthHdrLen;
  const uint8_t proto = outer_protocol(t, p.is_v6());

  if (t.dst.is_v6()) {
    auto* h = reinterpret_cast<pkt::Ipv6Hdr*>(ip);
    uint32_t vtc = (6u << 28) | (uint32_t{outer_tos(inner_tos)} << 20);
    pkt::store_be32(ip, vtc);
    h->payload_len = htons(static_cast<uint16_t>(payload_len));
    h->nexthdr = proto;
    h->hop_limit = inner_ttl;
    std::memcpy(&h->saddr, t.src.bytes.data(), 16);
    std::memcpy(&h->daddr, t.dst.bytes.data(), 16);
  } else {
    auto* h = reinterpret_cast<pkt::Ipv4Hdr*>(ip);
    h->version_ihl = 0x45;
    h->tos = outer_tos(inner_tos);
    h->tot_len = htons(static_cast<uint16_t>(outer_ip + payload_len));
    h->id = htons(t.ip_id);
    h->frag_off = htons(inner_df ? pkt::kIpv4FlagDf : 0);
    h->ttl = inner_ttl;
    h->protocol = proto;
    h->check = 0;
    std::memcpy(&h->saddr, t.src.bytes.data(), 4);
    std::memcpy(&h->daddr, t.dst.bytes.data(), 4);
    pkt::set_ipv4_header_checksum(ip);
  }

  uint8_t* l4 = ip + outer_ip;
  const uint16_t inner_ethertype = p.is_v6() ? pkt::kEthPIpv6 : pkt::kEthPIpv4;
  if (t.type == TunType::kGue) {
    const uint32_t udp_len = payload_len;
    store_be16(l4, flow_source_port(p));
    store_be16(l4 + 2, t.port);
    store_be16(l4 + 4, static_cast<uint16_t>(udp_len));
    store_u16(l4 + 6, 0);
    uint8_t* gue = l4 + pkt::kUdpHdrLen;
    gue[0] = 0;  // version 0, data message, no options
    gue[1] = p.is_v6() ? IPPROTO_IPV6 : IPPROTO_IPIP;
    store_u16(gue + 2, 0);
    // The kernel computes the UDP checksum for --tun-csum and --tun-remcsum (the remote
    // checksum offload option itself needs a partial inner checksum, which we never send).
    if (t.csum != TunCsum::kNoCsum || t.dst.is_v6()) {
      uint16_t c = pkt::compute_l4_checksum(t.src, t.dst, IPPROTO_UDP, l4, udp_len);
      store_u16(l4 + 6, pkt::udp_checksum_nonzero(c));
    }
  } else if (t.type == TunType::kGre) {
    const bool csum = t.csum == TunCsum::kCsum;
    store_be16(l4, csum ? pkt::kGreFlagCsum : 0);
    store_be16(l4 + 2, inner_ethertype);
    if (csum) {
      store_u16(l4 + 4, 0);
      store_u16(l4 + 6, 0);
      store_u16(l4 + 4, pkt::internet_checksum(l4, payload_len));
    }
  }
  return set_ethernet_at(f, pkt::kEthHdrLen, t.dst.is_v6() ? AF_INET6 : AF_INET, next);
}

namespace {

constexpr uint32_t kEthIp = pkt::kEthHdrLen + pkt::kIpv4HdrLen;

// Fragment data per frame: what fits after the IP header, a multiple of 8 bytes.
uint32_t fragment_data(uint32_t mtu) { return (mtu - pkt::kIpv4HdrLen) & ~7u; }

}  // namespace

int outer_fragments_needed(const io::Frame& f, uint32_t mtu) {
  if (f.len <= kEthIp || mtu < pkt::kIpv4HdrLen + 8) return -1;
  const auto* ip = reinterpret_cast<const pkt::Ipv4Hdr*>(f.data + pkt::kEthHdrLen);
  if (ip->version() != 4 || ip->ihl() != 5 ||
      (ntohs(ip->frag_off) & (pkt::kIpv4FlagDf | pkt::kIpv4FlagMf | pkt::kIpv4OffsetMask)))
    return -1;
  const uint32_t payload = f.len - kEthIp;
  if (payload + pkt::kIpv4HdrLen <= mtu) return 0;
  const uint32_t per = fragment_data(mtu);
  return static_cast<int>((payload + per - 1) / per) - 1;
}

void fragment_outer_ipv4(io::Frame& f, uint32_t mtu, std::span<io::Frame> rest) {
  const uint32_t payload = f.len - kEthIp;
  const uint32_t per = fragment_data(mtu);
  for (size_t i = 0; i < rest.size(); ++i) {
    const uint32_t off = per * static_cast<uint32_t>(i + 1);
    const uint32_t len = std::min(per, payload - off);
    io::Frame& r = rest[i];
    std::memcpy(r.data, f.data, kEthIp);
    std::memcpy(r.data + kEthIp, f.data + kEthIp + off, len);
    r.len = kEthIp + len;
    r.tailroom = static_cast<uint16_t>(r.tailroom - r.len);
    r.port = f.port;
    auto* h = reinterpret_cast<pkt::Ipv4Hdr*>(r.data + pkt::kEthHdrLen);
    const bool more = off + len < payload;
    h->tot_len = htons(static_cast<uint16_t>(pkt::kIpv4HdrLen + len));
    h->frag_off = htons(static_cast<uint16_t>((more ? pkt::kIpv4FlagMf : 0) | (off / 8)));
    pkt::set_ipv4_header_checksum(r.data + pkt::kEthHdrLen);
  }
  auto* ip = reinterpret_cast<pkt::Ipv4Hdr*>(f.data + pkt::kEthHdrLen);
  ip->tot_len = htons(static_cast<uint16_t>(pkt::kIpv4HdrLen + per));
  ip->frag_off = htons(pkt::kIpv4FlagMf);
  pkt::set_ipv4_header_checksum(f.data + pkt::kEthHdrLen);
  f.adjust_tail(-static_cast<int32_t>(payload - per));
}

}  // namespace uvs::xmit
