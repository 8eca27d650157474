#include "xmit/l3.h"

#include <cstring>

#include "pkt/checksum.h"
#include "pkt/headers.h"

namespace uvs::xmit {

using pkt::load_u16;
using pkt::store_u16;

namespace {

void write_addr(uint8_t* at, const InetAddr& a) {
  std::memcpy(at, a.bytes.data(), a.is_v6() ? 16 : 4);
}

}  // namespace

void rewrite_tuple(uint8_t* frame, const pkt::ParsedPacket& p, const InetAddr& saddr,
                   uint16_t sport, const InetAddr& daddr, uint16_t dport) {
  uint8_t* ip = frame + p.l3_off;
  if (p.is_v6()) {
    auto* h = reinterpret_cast<pkt::Ipv6Hdr*>(ip);
    write_addr(reinterpret_cast<uint8_t*>(&h->saddr), saddr);
    write_addr(reinterpret_cast<uint8_t*>(&h->daddr), daddr);
  } else {
    auto* h = reinterpret_cast<pkt::Ipv4Hdr*>(ip);
    uint16_t check = h->check;
    check = pkt::csum_replace_addr(check, p.saddr, saddr);
    check = pkt::csum_replace_addr(check, p.daddr, daddr);
    write_addr(reinterpret_cast<uint8_t*>(&h->saddr), saddr);
    write_addr(reinterpret_cast<uint8_t*>(&h->daddr), daddr);
    h->check = check;
  }
  if (!p.has_l4) return;  // non-first fragment or unknown protocol: addresses only
  uint8_t* l4 = frame + p.l4_off;
  if (util::has_ports(p.proto)) {
    store_u16(l4, htons(sport));
    store_u16(l4 + 2, htons(dport));
  }
  pkt::update_l4_checksum_after_nat(frame, p, saddr, daddr, sport, dport);
}

void rewrite_tuple_full_csum(uint8_t* frame, const pkt::ParsedPacket& p, const InetAddr& saddr,
                             uint16_t sport, const InetAddr& daddr, uint16_t dport) {
  rewrite_tuple(frame, p, saddr, sport, daddr, dport);
  pkt::ParsedPacket after = p;
  after.saddr = saddr;
  after.daddr = daddr;
  pkt::recompute_l4_checksum(frame, after);
}

Result prepare_forward(uint8_t* frame, const pkt::ParsedPacket& p, const Hop& hop,
                       uint32_t overhead, bool may_fragment) {
  if (p.ip_total_len() + overhead > hop.mtu) {
    if (p.is_v6() || pkt::ipv4_df(frame + p.l3_off)) {
      uint32_t mtu = hop.mtu > overhead ? hop.mtu - overhead : 0;
      if (p.is_v6() && mtu < pkt::kIpv6MinMtu) mtu = pkt::kIpv6MinMtu;
      return {Verdict::kTooBig, mtu};
    }
    if (!may_fragment) return {Verdict::kNeedsFragmenting};
  }
  if (!decrement_ttl(frame, p)) return {Verdict::kTtlExceeded};
  return {Verdict::kSend};
}

bool decrement_ttl(uint8_t* frame, const pkt::ParsedPacket& p) {
  uint8_t* ttl = frame + p.ttl_off();
  if (*ttl <= 1) return false;
  if (p.is_v6()) {
    --*ttl;
  } else {
    pkt::ipv4_decrement_ttl(frame + p.l3_off);
  }
  return true;
}

bool set_ethernet_at(io::Frame& f, uint32_t l3_off, uint16_t af, const L2Next& next) {
  const uint32_t want = pkt::kEthHdrLen;
  if (l3_off < want) {
    if (!f.push_front(static_cast<uint16_t>(want - l3_off))) return false;
  } else if (l3_off > want) {
    f.pull_front(static_cast<uint16_t>(l3_off - want));
  }
  auto* eth = reinterpret_cast<pkt::EthHdr*>(f.data);
  std::memcpy(eth->dst, next.dst.data(), 6);
  std::memcpy(eth->src, next.src.data(), 6);
  eth->type = htons(af == AF_INET6 ? pkt::kEthPIpv6 : pkt::kEthPIpv4);
  return true;
}

bool set_ethernet(io::Frame& f, const pkt::ParsedPacket& p, const L2Next& next) {
  // Link padding after the datagram is dropped too: the frame ends where the datagram ends.
  f.adjust_tail(-static_cast<int32_t>(f.len - p.l3_end));
  return set_ethernet_at(f, p.l3_off, p.af, next);
}

}  // namespace uvs::xmit
