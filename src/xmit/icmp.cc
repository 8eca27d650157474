#include "xmit/icmp.h"

#include <netinet/icmp6.h>
#include <netinet/ip_icmp.h>

#include <algorithm>
#include <cstring>

#include "pkt/checksum.h"
#include "pkt/headers.h"
#include "util/proto.h"

namespace uvs::xmit {

namespace {

constexpr uint32_t kIpv4ErrorMax = 576;   // RFC 1812 4.3.2.3
constexpr uint32_t kIpv6ErrorMax = pkt::kIpv6MinMtu;  // RFC 4443 2.4 (c)

void write_addr(uint8_t* at, const InetAddr& a) {
  std::memcpy(at, a.bytes.data(), a.is_v6() ? 16 : 4);
}

}  // namespace

IcmpKind icmp_port_unreachable(bool v6) {
  return v6 ? IcmpKind{ICMP6_DST_UNREACH, ICMP6_DST_UNREACH_NOPORT}
            : IcmpKind{ICMP_DEST_UNREACH, ICMP_PORT_UNREACH};
}
IcmpKind icmp_ttl_exceeded(bool v6) {
  return v6 ? IcmpKind{ICMP6_TIME_EXCEEDED, ICMP6_TIME_EXCEED_TRANSIT}
            : IcmpKind{ICMP_TIME_EXCEEDED, ICMP_EXC_TTL};
}
IcmpKind icmp_frag_needed(bool v6) {
  return v6 ? IcmpKind{ICMP6_PACKET_TOO_BIG, 0} : IcmpKind{ICMP_DEST_UNREACH, ICMP_FRAG_NEEDED};
}

bool make_icmp_error(io::Frame& f, const pkt::ParsedPacket& p, uint8_t type, uint8_t code,
                     uint32_t info, const InetAddr& src, const L2Next& back) {
  if (p.is_icmp_error) return false;
  const bool v6 = p.is_v6();
  const uint32_t ip_len = v6 ? pkt::kIpv6HdrLen : pkt::kIpv4HdrLen;
  const uint32_t head = pkt::kEthHdrLen + ip_len + pkt::kIcmpHdrLen;
  const uint32_t quote = std::min(p.ip_total_len(), (v6 ? kIpv6ErrorMax : kIpv4ErrorMax) - ip_len -
                                                        pkt::kIcmpHdrLen);
  const InetAddr dst = p.saddr;  // back to the sender
  f.adjust_tail(-static_cast<int32_t>(f.len - p.l3_off - quote));
  const int32_t shift = static_cast<int32_t>(head) - static_cast<int32_t>(p.l3_off);
  if (shift > 0) {
    if (!f.push_front(static_cast<uint16_t>(shift))) return false;
  } else if (shift < 0) {
    f.pull_front(static_cast<uint16_t>(-shift));
  }
  uint8_t* ip = f.data + pkt::kEthHdrLen;
  uint8_t* icmp = ip + ip_len;
  const uint32_t icmp_len = pkt::kIcmpHdrLen + quote;
  icmp[0] = type;
  icmp[1] = code;
  pkt::store_u16(icmp + 2, 0);
  pkt::store_be32(icmp + 4, info);
  if (v6) {
    auto* h = reinterpret_cast<pkt::Ipv6Hdr*>(ip);
    pkt::store_be32(ip, 6u << 28);
    h->payload_len = htons(static_cast<uint16_t>(icmp_len));
    h->nexthdr = IPPROTO_ICMPV6;
    h->hop_limit = 64;
    write_addr(reinterpret_cast<uint8_t*>(&h->saddr), src);
    write_addr(reinterpret_cast<uint8_t*>(&h->daddr), dst);
    pkt::store_u16(icmp + 2, pkt::compute_l4_checksum(src, dst, IPPROTO_ICMPV6, icmp, icmp_len));
  } else {
    auto* h = reinterpret_cast<pkt::Ipv4Hdr*>(ip);
    h->version_ihl = 0x45;
    h->tos = 0xc0;  // internetwork control, as Linux sends its ICMP errors
    h->tot_len = htons(static_cast<uint16_t>(ip_len + icmp_len));
    h->id = 0;
    h->frag_off = 0;
    h->ttl = 64;
    h->protocol = IPPROTO_ICMP;
    h->check = 0;
    write_addr(reinterpret_cast<uint8_t*>(&h->saddr), src);
    write_addr(reinterpret_cast<uint8_t*>(&h->daddr), dst);
    pkt::set_ipv4_header_checksum(ip);
    pkt::store_u16(icmp + 2, pkt::internet_checksum(icmp, icmp_len));
  }
  return set_ethernet_at(f, pkt::kEthHdrLen, v6 ? AF_INET6 : AF_INET, back);
}

void rewrite_icmp_error(uint8_t* frame, const pkt::ParsedPacket& p, const InetAddr& outer_saddr,
                        const InetAddr& outer_daddr, const InetAddr& inner_saddr,
                        uint16_t inner_sport, const InetAddr& inner_daddr,
                        uint16_t inner_dport) {
  const bool v6 = p.is_v6();
  uint8_t* ip = frame + p.l3_off;
  uint8_t* inner = frame + p.inner.l3_off;
  if (v6) {
    auto* h = reinterpret_cast<pkt::Ipv6Hdr*>(ip);
    write_addr(reinterpret_cast<uint8_t*>(&h->saddr), outer_saddr);
    write_addr(reinterpret_cast<uint8_t*>(&h->daddr), outer_daddr);
    auto* ih = reinterpret_cast<pkt::Ipv6Hdr*>(inner);
    write_addr(reinterpret_cast<uint8_t*>(&ih->saddr), inner_saddr);
    write_addr(reinterpret_cast<uint8_t*>(&ih->daddr), inner_daddr);
  } else {
    auto* h = reinterpret_cast<pkt::Ipv4Hdr*>(ip);
    write_addr(reinterpret_cast<uint8_t*>(&h->saddr), outer_saddr);
    write_addr(reinterpret_cast<uint8_t*>(&h->daddr), outer_daddr);
    h->check = 0;
    pkt::set_ipv4_header_checksum(ip);
    auto* ih = reinterpret_cast<pkt::Ipv4Hdr*>(inner);
    write_addr(reinterpret_cast<uint8_t*>(&ih->saddr), inner_saddr);
    write_addr(reinterpret_cast<uint8_t*>(&ih->daddr), inner_daddr);
    ih->check = 0;
    pkt::set_ipv4_header_checksum(inner);
  }
  if (p.inner.has_l4 && util::has_ports(p.inner.proto)) {
    uint8_t* l4 = frame + p.inner.l4_off;
    pkt::store_be16(l4, inner_sport);
    pkt::store_be16(l4 + 2, inner_dport);
    // Keep the quoted transport checksum true to the quoted header when it was quoted at all,
    // so a client that checks it matches its own socket.
    const int off = pkt::l4_checksum_offset(p.inner.proto);
    if (p.inner.proto != IPPROTO_SCTP && off >= 0 &&
        p.inner.l4_len >= static_cast<uint32_t>(off) + 2) {
      uint16_t check = pkt::load_u16(l4 + off);
      if (!(p.inner.proto == IPPROTO_UDP && check == 0 && !v6)) {
        uint64_t d = pkt::csum_addr_delta(p.inner.saddr, inner_saddr) +
                     pkt::csum_addr_delta(p.inner.daddr, inner_daddr) +
                     static_cast<uint16_t>(~htons(p.inner.sport)) + htons(inner_sport) +
                     static_cast<uint16_t>(~htons(p.inner.dport)) + htons(inner_dport);
        check = pkt::csum_apply_delta(check, d);
        if (p.inner.proto == IPPROTO_UDP) check = pkt::udp_checksum_nonzero(check);
        pkt::store_u16(l4 + off, check);
      }
    }
  }
  uint8_t* icmp = frame + p.l4_off;
  const uint32_t icmp_len = p.l3_end - p.l4_off;
  pkt::store_u16(icmp + 2, 0);
  pkt::store_u16(icmp + 2, v6 ? pkt::compute_l4_checksum(outer_saddr, outer_daddr,
                                                         IPPROTO_ICMPV6, icmp, icmp_len)
                              : pkt::internet_checksum(icmp, icmp_len));
}

}  // namespace uvs::xmit
