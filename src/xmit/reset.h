// The reset the director's own TCP stack sends for a segment no socket wants (the kernel's
// tcp_v4_send_reset() / tcp_v6_send_reset()). IPVS hands a non-SYN segment that belongs to no
// connection to the local stack (ip_vs_in() accepts it), which has no socket for it and answers
// with a reset: uvs answers for it, since the segment reached user space instead.
#pragma once

#include "io/packet_io.h"
#include "pkt/parse.h"
#include "xmit/l3.h"

namespace uvs::xmit {

// Turns the TCP segment in `f` into the reset answering it, from the segment's destination back
// to its source, with the Ethernet header toward `back`. As tcp_v4_send_reset(): never for a
// reset; seq = the segment's ack when it has one, else ack = seq + SYN + FIN + payload length.
// False (frame untouched) for a reset or a segment without its whole TCP header.
bool make_tcp_reset(io::Frame& f, const pkt::ParsedPacket& p, const L2Next& back);

// The IP header of a TCP segment the director sends as its own stack would (a reset, the SYN
// proxy's SYN-ACK and SYN), written at `ip` before the `tcp_len` bytes of TCP already at its
// end, and the TCP checksum. IPv4 as ip_send_unicast_reply() and the kernel's SYN-ACKs: DF (it
// does path MTU discovery), so ip_select_ident() leaves the ID 0.
void write_local_tcp_ip(uint8_t* ip, bool v6, uint8_t tos, uint8_t ttl, const InetAddr& src,
                        const InetAddr& dst, uint32_t tcp_len);

}  // namespace uvs::xmit
