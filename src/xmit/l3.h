// What every forwarding method does to the IP layer: rewrite addresses and ports with their
// checksums, decrement the TTL, and put a fresh Ethernet header in front for the next hop.
// All functions work in place on a frame and the ParsedPacket taken of it before the change.
#pragma once

#include <array>
#include <cstdint>

#include "io/packet_io.h"
#include "model/address.h"
#include "pkt/headers.h"
#include "pkt/nat_rewrite.h"
#include "pkt/parse.h"

namespace uvs::xmit {

using MacAddr = std::array<uint8_t, 6>;

// The link-layer next hop of a transmission.
struct L2Next {
  uint16_t port = 0;  // io port to send on
  MacAddr src{};      // our MAC on that port
  MacAddr dst{};      // the neighbour's
};

// Where a packet leaves for: what a route lookup answers (dp::Router, nl/).
struct Hop {
  L2Next l2;
  InetAddr src{};     // our address toward the destination (routing's preferred source)
  uint32_t mtu = 1500;
};

// What a transmitter did with a frame, for the caller to act on. Everything but kSend and
// kSendFragmented leaves the frame as it was received, so the caller can still answer the
// sender with an ICMP error quoting it.
enum class Verdict : uint8_t {
  kSend,            // transformed, Ethernet header set: queue it on the hop's port
  kSendFragmented,  // as kSend, but its outer IPv4 packet may exceed the hop's MTU (tunnels)
  kPass,            // not for forwarding (the kernel's ip_vs_null_xmit(): local delivery)
  kNoRoom,          // no headroom or tailroom for the transform
  kTooBig,          // larger than the path allows, DF set: ICMP fragmentation needed, `mtu`
  kNeedsFragmenting,  // larger than the path allows, DF clear, and only tunnels fragment
  kTtlExceeded,     // TTL / hop limit ran out: ICMP time exceeded
};

struct Result {
  Verdict verdict = Verdict::kSend;
  uint32_t mtu = 0;  // kTooBig: the MTU to report to the sender

  bool sent() const { return verdict == Verdict::kSend || verdict == Verdict::kSendFragmented; }
};

// The shared rewrite's tuple (pkt/nat_rewrite.h) for these addresses and ports (host order).
uvs_nat_tuple nat_tuple(const InetAddr& saddr, uint16_t sport, const InetAddr& daddr,
                        uint16_t dport);

// Rewrites source and destination address and port (host order) of the packet, fixing the IPv4
// header checksum and the L4 checksum: incrementally when the received one is final, by full
// recomputation when it was left partial by a local sender. A non-first fragment carries no L4
// header: only its addresses change (the first fragment's checksum already covers the change).
// Families of the new addresses must equal the packet's.
void rewrite_tuple(uint8_t* frame, const pkt::ParsedPacket& p, const InetAddr& saddr,
                   uint16_t sport, const InetAddr& daddr, uint16_t dport);

// TTL / hop limit minus one, IPv4 checksum updated. False (and nothing changed) when the
// packet must not be forwarded: TTL already 1 or 0 (the kernel answers ICMP time exceeded).
bool decrement_ttl(uint8_t* frame, const pkt::ParsedPacket& p);

// Replaces whatever precedes the IP header (Ethernet and VLAN tags) by one untagged Ethernet
// header toward `next`. The frame's data moves; offsets in `p` are stale afterwards. False if
// the frame has no headroom for it.
bool set_ethernet(io::Frame& f, const pkt::ParsedPacket& p, const L2Next& next);
// Same for a frame whose IP header now starts at `l3_off` with family `af`.
bool set_ethernet_at(io::Frame& f, uint32_t l3_off, uint16_t af, const L2Next& next);

// Rewrites the tuple as rewrite_tuple() does, then recomputes the L4 checksum in full: for a
// segment whose payload or options were edited first (FULLNAT's TCP surgery), where an
// incremental update would carry the old error along.
void rewrite_tuple_full_csum(uint8_t* frame, const pkt::ParsedPacket& p, const InetAddr& saddr,
                             uint16_t sport, const InetAddr& daddr, uint16_t dport);

// The checks of every forwarded packet before it is transformed, as the kernel's
// ensure_mtu_is_adequate() and the TTL decrement of its xmit functions: the datagram plus
// `overhead` (what encapsulation adds) must fit the hop's MTU, unless IPv4 without DF and
// `may_fragment` (a tunnel fragments its outer packet); then the TTL goes down by one. A result
// other than kSend leaves the frame untouched.
inline Result prepare_forward(uint8_t* frame, const pkt::ParsedPacket& p, const Hop& hop,
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

// The common last step: the Ethernet header toward the hop. kSend, or kNoRoom.
inline Result to_hop(io::Frame& f, const pkt::ParsedPacket& p, const Hop& hop) {
  return {set_ethernet(f, p, hop.l2) ? Verdict::kSend : Verdict::kNoRoom};
}

// The packet on to `hop` as it came but for its TTL, as the kernel's ip_forward(): DR's
// transform, and what a packet no connection claims gets (ip_vs_out() accepts it untouched).
// A local sender's partial checksum is completed: it means nothing once the frame leaves.
Result forward_unchanged(io::Frame& f, const pkt::ParsedPacket& p, const Hop& hop);

}  // namespace uvs::xmit
