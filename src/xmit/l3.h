// What every forwarding method does to the IP layer: rewrite addresses and ports with their
// checksums, decrement the TTL, and put a fresh Ethernet header in front for the next hop.
// All functions work in place on a frame and the ParsedPacket taken of it before the change.
#pragma once

#include <array>
#include <cstdint>

#include "io/packet_io.h"
#include "model/address.h"
#include "pkt/parse.h"

namespace uvs::xmit {

using MacAddr = std::array<uint8_t, 6>;

// The link-layer next hop of a transmission.
struct L2Next {
  uint16_t port = 0;  // io port to send on
  MacAddr src{};      // our MAC on that port
  MacAddr dst{};      // the neighbour's
};

// Rewrites source and destination address and port (host order) of the packet, fixing the IPv4
// header checksum and the L4 checksum: incrementally when the received one is final, by full
// recomputation when it was left partial by a local sender. A non-first fragment carries no L4
// header: only its addresses change (the first fragment's checksum already covers the change).
// Families of the new addresses must equal the packet's.
void rewrite_tuple(uint8_t* frame, const pkt::ParsedPacket& p, const InetAddr& saddr,
                   uint16_t sport, const InetAddr& daddr, uint16_t dport);

// TTL / hop limit minus one, IPv4 checksum updated. False (and nothing changed) when the
// packet must not be forwarded: TTL already 1 or 0 (spec E.0: ICMP time exceeded).
bool decrement_ttl(uint8_t* frame, const pkt::ParsedPacket& p);

// Replaces whatever precedes the IP header (Ethernet and VLAN tags) by one untagged Ethernet
// header toward `next`. The frame's data moves; offsets in `p` are stale afterwards. False if
// the frame has no headroom for it.
bool set_ethernet(io::Frame& f, const pkt::ParsedPacket& p, const L2Next& next);
// Same for a frame whose IP header now starts at `l3_off` with family `af`.
bool set_ethernet_at(io::Frame& f, uint32_t l3_off, uint16_t af, const L2Next& next);

// Where the L4 ports are in a packet with ports (TCP, UDP, SCTP share the first 4 bytes).
inline bool has_ports(uint8_t proto) {
  return proto == IPPROTO_TCP || proto == IPPROTO_UDP || proto == IPPROTO_SCTP;
}

}  // namespace uvs::xmit
