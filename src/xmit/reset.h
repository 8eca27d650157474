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

}  // namespace uvs::xmit
