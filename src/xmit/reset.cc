#include "xmit/reset.h"

#include <cstring>

#include "pkt/checksum.h"
#include "pkt/headers.h"

namespace uvs::xmit {

namespace {

constexpr uint32_t kSeqOff = 4;
constexpr uint32_t kAckOff = 8;
constexpr uint32_t kDoffOff = 12;
constexpr uint32_t kFlagsOff = 13;
constexpr uint8_t kDefaultTtl = 64;  // net.ipv4.ip_default_ttl, IPv6's default hop limit
constexpr uint8_t kEcnMask = 0x03;

}  // namespace

bool make_tcp_reset(io::Frame& f, const pkt::ParsedPacket& p, const L2Next& back) {
  if (p.proto != IPPROTO_TCP || !p.has_l4 || p.is_fragment || (p.tcp_flags & pkt::kTcpRst))
    return false;
  const uint8_t* seg = f.data + p.l4_off;
  const uint32_t hlen = (seg[kDoffOff] >> 4) * 4u;
  if (hlen < pkt::kTcpHdrLen || p.l4_off + hlen > p.l3_end) return false;
  const uint32_t payload = p.l3_end - p.l4_off - hlen;
  const uint8_t flags = p.tcp_flags;
  const uint32_t seq = pkt::load_be32(seg + kSeqOff);
  const uint32_t ack = pkt::load_be32(seg + kAckOff);
  const bool v6 = p.is_v6();
  const uint8_t* ip_in = f.data + p.l3_off;
  const uint8_t tos = static_cast<uint8_t>(
      (v6 ? (pkt::load_be16(ip_in) >> 4) & 0xff : ip_in[1]) & ~kEcnMask);
  const InetAddr src = p.daddr;
  const InetAddr dst = p.saddr;
  const uint16_t sport = p.dport;
  const uint16_t dport = p.sport;

  // Ethernet + a plain IP header + 20 bytes of TCP, written over the segment.
  const uint32_t ip_len = v6 ? pkt::kIpv6HdrLen : pkt::kIpv4HdrLen;
  const uint32_t len = pkt::kEthHdrLen + ip_len + pkt::kTcpHdrLen;
  const int32_t shift = static_cast<int32_t>(pkt::kEthHdrLen) - static_cast<int32_t>(p.l3_off);
  if (shift > 0 && !f.push_front(static_cast<uint16_t>(shift))) return false;
  if (shift < 0) f.pull_front(static_cast<uint16_t>(-shift));
  f.adjust_tail(static_cast<int32_t>(len) - static_cast<int32_t>(f.len));

  uint8_t* ip = f.data + pkt::kEthHdrLen;
  uint8_t* th = ip + ip_len;
  std::memset(th, 0, pkt::kTcpHdrLen);
  pkt::store_be16(th, sport);
  pkt::store_be16(th + 2, dport);
  if (flags & pkt::kTcpAck) {
    pkt::store_be32(th + kSeqOff, ack);
    th[kFlagsOff] = pkt::kTcpRst;
  } else {
    const uint32_t consumed = payload + ((flags & pkt::kTcpSyn) ? 1 : 0) +
                              ((flags & pkt::kTcpFin) ? 1 : 0);
    pkt::store_be32(th + kAckOff, seq + consumed);
    th[kFlagsOff] = pkt::kTcpRst | pkt::kTcpAck;
  }
  th[kDoffOff] = (pkt::kTcpHdrLen / 4) << 4;
  write_local_tcp_ip(ip, v6, tos, kDefaultTtl, src, dst, pkt::kTcpHdrLen);
  return set_ethernet_at(f, pkt::kEthHdrLen, v6 ? AF_INET6 : AF_INET, back);
}

void write_local_tcp_ip(uint8_t* ip, bool v6, uint8_t tos, uint8_t ttl, const InetAddr& src,
                        const InetAddr& dst, uint32_t tcp_len) {
  uint8_t* th = ip + (v6 ? pkt::kIpv6HdrLen : pkt::kIpv4HdrLen);
  if (v6) {
    auto* h = reinterpret_cast<pkt::Ipv6Hdr*>(ip);
    pkt::store_be32(ip, 6u << 28 | uint32_t{tos} << 20);
    h->payload_len = htons(static_cast<uint16_t>(tcp_len));
    h->nexthdr = IPPROTO_TCP;
    h->hop_limit = ttl;
    std::memcpy(&h->saddr, src.bytes.data(), 16);
    std::memcpy(&h->daddr, dst.bytes.data(), 16);
  } else {
    auto* h = reinterpret_cast<pkt::Ipv4Hdr*>(ip);
    h->version_ihl = 0x45;
    h->tos = tos;
    h->tot_len = htons(static_cast<uint16_t>(pkt::kIpv4HdrLen + tcp_len));
    h->id = 0;
    h->frag_off = htons(pkt::kIpv4FlagDf);
    h->ttl = ttl;
    h->protocol = IPPROTO_TCP;
    h->check = 0;
    std::memcpy(&h->saddr, src.bytes.data(), 4);
    std::memcpy(&h->daddr, dst.bytes.data(), 4);
    pkt::set_ipv4_header_checksum(ip);
  }
  pkt::store_u16(th + 16, pkt::compute_l4_checksum(src, dst, IPPROTO_TCP, th, tcp_len));
}

}  // namespace uvs::xmit
