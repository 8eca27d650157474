#include "xmit/l3.h"

#include <cstring>

#include "pkt/checksum.h"
#include "pkt/headers.h"
#include "pkt/nat_rewrite.h"
#include "util/proto.h"

namespace uvs::xmit {

using pkt::load_u16;
using pkt::store_u16;

uvs_nat_tuple nat_tuple(const InetAddr& saddr, uint16_t sport, const InetAddr& daddr,
                        uint16_t dport) {
  uvs_nat_tuple to;
  std::memcpy(to.saddr, saddr.bytes.data(), 16);
  std::memcpy(to.daddr, daddr.bytes.data(), 16);
  to.sport = htons(sport);
  to.dport = htons(dport);
  return to;
}

namespace {

// The new ports, where the packet has a transport header with ports.
void store_ports(uint8_t* frame, const pkt::ParsedPacket& p, const uvs_nat_tuple& to) {
  if (!p.has_l4 || !util::has_ports(p.proto)) return;
  store_u16(frame + p.l4_off, to.sport);
  store_u16(frame + p.l4_off + 2, to.dport);
}

}  // namespace

void rewrite_tuple(uint8_t* frame, const pkt::ParsedPacket& p, const InetAddr& saddr,
                   uint16_t sport, const InetAddr& daddr, uint16_t dport) {
  const uvs_nat_tuple to = nat_tuple(saddr, sport, daddr, dport);
  const uint64_t l3_delta = uvs_nat_l3(frame + p.l3_off, p.is_v6(), &to);
  if (!p.has_l4) return;  // non-first fragment or unknown protocol: addresses only
  if ((p.proto == IPPROTO_TCP || p.proto == IPPROTO_UDP) &&
      p.l4_csum != pkt::CsumStatus::kPartial) {
    // The common case, in the code the XDP fast path runs too.
    const bool udp = p.proto == IPPROTO_UDP;
    uint8_t* l4 = frame + p.l4_off;
    uvs_nat_l4(l4, l4 + (udp ? UVS_UDP_CHECK_OFF : UVS_TCP_CHECK_OFF), udp, p.is_v6(), l3_delta,
               &to);
    return;
  }
  // SCTP (CRC32c), ICMPv6 and partial sums: pkt's general update.
  store_ports(frame, p, to);
  pkt::update_l4_checksum_after_nat(frame, p, saddr, daddr, sport, dport);
}

void rewrite_tuple_full_csum(uint8_t* frame, const pkt::ParsedPacket& p, const InetAddr& saddr,
                             uint16_t sport, const InetAddr& daddr, uint16_t dport) {
  // No incremental L4 update first: the full sum below replaces it anyway.
  const uvs_nat_tuple to = nat_tuple(saddr, sport, daddr, dport);
  uvs_nat_l3(frame + p.l3_off, p.is_v6(), &to);
  store_ports(frame, p, to);
  pkt::recompute_l4_checksum(frame, p);  // the pseudo header is read from the frame: new addresses
}

Result forward_unchanged(io::Frame& f, const pkt::ParsedPacket& p, const Hop& hop) {
  if (Result r = prepare_forward(f.data, p, hop, 0, false); !r.sent()) return r;
  if (p.l4_csum == pkt::CsumStatus::kPartial) pkt::recompute_l4_checksum(f.data, p);
  return to_hop(f, p, hop);
}

bool decrement_ttl(uint8_t* frame, const pkt::ParsedPacket& p) {
  return uvs_decrement_ttl(frame + p.l3_off, p.is_v6()) != 0;
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
