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

}  // namespace

uint32_t tunnel_overhead(const TunnelParams& t) {
  return (t.dst.is_v6() ? pkt::kIpv6HdrLen : pkt::kIpv4HdrLen) + encap_len(t);
}

bool outer_df(const TunnelParams& t, const uint8_t* inner_ip, bool inner_v6) {
  return !t.dst.is_v6() && !inner_v6 && pkt::ipv4_df(inner_ip) && t.pmtu_disc;
}

uint16_t tunnel_source_port(const InetAddr& saddr, const InetAddr& daddr, uint16_t sport,
                            uint16_t dport, uint8_t proto) {
  uint32_t h = saddr.fold() * util::kGolden32 ^ daddr.fold() ^ (uint32_t{sport} << 16 | dport) ^
               proto;
  h ^= h >> 15;
  h *= 0x85EBCA6Bu;
  h ^= h >> 13;
  return static_cast<uint16_t>(32768 + (h % 28232));  // 32768..60999, the Linux default range
}

uvs_tun_hdr tunnel_template(const TunnelParams& t, bool inner_v6, uint16_t gue_sport) {
  uvs_tun_hdr h{};
  const bool v6 = t.dst.is_v6();
  const uint32_t outer_ip = v6 ? pkt::kIpv6HdrLen : pkt::kIpv4HdrLen;
  h.len = static_cast<uint8_t>(outer_ip + encap_len(t));
  h.flags = static_cast<uint8_t>((v6 ? UVS_TUN_F_V6 : 0) |
                                 (t.type == TunType::kGue ? UVS_TUN_F_UDP : 0));
  uint8_t* ip = h.hdr;
  const uint8_t proto = outer_protocol(t, inner_v6);
  if (v6) {
    auto* o = reinterpret_cast<pkt::Ipv6Hdr*>(ip);
    o->nexthdr = proto;
    std::memcpy(&o->saddr, t.src.bytes.data(), 16);
    std::memcpy(&o->daddr, t.dst.bytes.data(), 16);
  } else {
    auto* o = reinterpret_cast<pkt::Ipv4Hdr*>(ip);
    o->version_ihl = 0x45;
    o->protocol = proto;
    std::memcpy(&o->saddr, t.src.bytes.data(), 4);
    std::memcpy(&o->daddr, t.dst.bytes.data(), 4);
  }
  uint8_t* l4 = ip + outer_ip;
  if (t.type == TunType::kGue) {
    store_be16(l4, gue_sport);
    store_be16(l4 + 2, t.port);
    uint8_t* gue = l4 + pkt::kUdpHdrLen;
    gue[0] = 0;  // version 0, data message, no options
    gue[1] = inner_v6 ? IPPROTO_IPV6 : IPPROTO_IPIP;
  } else if (t.type == TunType::kGre) {
    store_be16(l4, t.csum == TunCsum::kCsum ? pkt::kGreFlagCsum : 0);
    store_be16(l4 + 2, inner_v6 ? pkt::kEthPIpv6 : pkt::kEthPIpv4);
  }
  return h;
}

bool tunnel_encap(io::Frame& f, const pkt::ParsedPacket& p, const TunnelParams& t,
                  const L2Next& next) {
  // The inner datagram is kept as is; drop link padding after it.
  f.adjust_tail(-static_cast<int32_t>(f.len - p.l3_end));
  const uvs_tun_hdr h = tunnel_template(
      t, p.is_v6(),
      t.type == TunType::kGue ? tunnel_source_port(p.saddr, p.daddr, p.sport, p.dport, p.proto)
                              : 0);
  const uint32_t need = pkt::kEthHdrLen + h.len;
  // Move the data pointer so that the outer headers end right before the inner IP header.
  const int32_t shift = static_cast<int32_t>(need) - static_cast<int32_t>(p.l3_off);
  if (shift > 0) {
    if (!f.push_front(static_cast<uint16_t>(shift))) return false;
  } else if (shift < 0) {
    f.pull_front(static_cast<uint16_t>(-shift));
  }
  const uint8_t* inner = f.data + need;
  uint8_t* ip = f.data + pkt::kEthHdrLen;
  // The fast path (bpf/fast_path.h) writes the same headers with the same two calls.
  uvs_tun_copy(ip, &h);
  uvs_tun_fill(ip, &h, static_cast<uint16_t>(p.ip_total_len()), uvs_inner_tos(inner, p.is_v6()),
               uvs_inner_ttl(inner, p.is_v6()), outer_df(t, inner, p.is_v6()), htons(t.ip_id));

  const uint32_t outer_ip = t.dst.is_v6() ? pkt::kIpv6HdrLen : pkt::kIpv4HdrLen;
  const uint32_t payload_len = h.len - outer_ip + p.ip_total_len();  // after the outer IP header
  uint8_t* l4 = ip + outer_ip;
  // The kernel computes GUE's UDP checksum for --tun-csum and --tun-remcsum (the remote
  // checksum offload option itself needs a partial inner checksum, which we never send), and
  // always over IPv6; GRE's with --tun-csum. Over the whole payload: user space only.
  if (t.type == TunType::kGue && (t.csum != TunCsum::kNoCsum || t.dst.is_v6())) {
    uint16_t c = pkt::compute_l4_checksum(t.src, t.dst, IPPROTO_UDP, l4, payload_len);
    store_u16(l4 + 6, pkt::udp_checksum_nonzero(c));
  } else if (t.type == TunType::kGre && t.csum == TunCsum::kCsum) {
    store_u16(l4 + 4, pkt::internet_checksum(l4, payload_len));
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
