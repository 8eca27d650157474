// ICMP the director originates (time exceeded, fragmentation needed / packet too big, port
// unreachable) and the translation of ICMP errors about tracked connections (the kernel's
// ip_vs_in_icmp() / ip_vs_out_icmp() and ip_vs_nat_icmp()).
#pragma once

#include <cstdint>

#include "io/packet_io.h"
#include "pkt/parse.h"
#include "xmit/l3.h"

namespace uvs::xmit {

// Turns the received packet in `f` into an ICMP (or ICMPv6) error from `src` back to the
// packet's sender, quoting as much of it as the RFCs allow (576 bytes in all for IPv4, 1280 for
// IPv6), and writes the Ethernet header toward `back`. `type`/`code` are ICMP values for IPv4 and
// ICMPv6 values for IPv6; `info` is the 32-bit field after the checksum (the MTU for
// fragmentation needed / packet too big). Never answers an ICMP error (RFC 1122); returns false
// then, or when the frame has no headroom.
bool make_icmp_error(io::Frame& f, const pkt::ParsedPacket& p, uint8_t type, uint8_t code,
                     uint32_t info, const InetAddr& src, const L2Next& back);

// The ICMP error message for each reason, per family.
struct IcmpKind {
  uint8_t type;
  uint8_t code;
};
IcmpKind icmp_port_unreachable(bool v6);
IcmpKind icmp_ttl_exceeded(bool v6);
IcmpKind icmp_frag_needed(bool v6);  // IPv6: packet too big

// Rewrites an ICMP error in place: the outer addresses, and the quoted packet's addresses and
// ports (quoted packet = the original datagram, so its source and destination are the reverse of
// the flow the error travels against). Checksums of the outer IP header, the quoted IP header
// and the ICMP message are recomputed. `p` must have has_inner set.
void rewrite_icmp_error(uint8_t* frame, const pkt::ParsedPacket& p, const InetAddr& outer_saddr,
                        const InetAddr& outer_daddr, const InetAddr& inner_saddr,
                        uint16_t inner_sport, const InetAddr& inner_daddr, uint16_t inner_dport);

}  // namespace uvs::xmit
