// The primitives of FULLNAT's TCP surgery (Alibaba LVS's ip_vs_fnat_xmit(), as DPVS carries it;
// fullnat.cc decides when each applies): sequence-number shifting between the client's and the
// director's initial sequence numbers, SACK blocks with them, the TOA option that tells the real
// server who the client is, timestamp removal and MSS clamping on the SYN. Checksums are not
// touched here: the caller recomputes the segment's checksum once after all edits.
#pragma once

#include <cstdint>

#include "conn/conn.h"
#include "io/packet_io.h"
#include "model/address.h"
#include "pkt/parse.h"

namespace uvs::xmit {

inline constexpr uint8_t kTcpOptToa = 254;
inline constexpr uint8_t kToaLenV4 = 8;   // kind, len, port(2), IPv4(4)
inline constexpr uint8_t kToaLenV6 = 20;  // kind, len, port(2), IPv6(16) (DPVS layout)

uint32_t tcp_seq(const uint8_t* frame, const pkt::ParsedPacket& p);
uint32_t tcp_ack(const uint8_t* frame, const pkt::ParsedPacket& p);
// seq += delta (client -> real server).
void tcp_shift_seq(uint8_t* frame, const pkt::ParsedPacket& p, uint32_t delta);
// ack -= delta and every SACK block edge -= delta (real server -> client).
void tcp_unshift_ack(uint8_t* frame, const pkt::ParsedPacket& p, uint32_t delta);

// The connection's sequence shift (Conn::seq_delta), one mechanism for its two owners:
//  - FULLNAT (kXFnatSeqDelta): the director's ISN toward the real server replaced the
//    client's: client -> real server seq += delta; real server -> client ack and SACK -= delta.
//  - the SYN proxy (kXSynproxySeq): the client got the cookie ISN, the real server chose its
//    own: real server -> client seq += delta; client -> real server ack and SACK -= delta.
// The XDP fast path repeats both (UVS_FLOW_F_SEQ, UVS_FLOW_F_ACK: flow_shift_in/out()).
// True when the segment was edited (its checksum is then the caller's to recompute).
bool tcp_shift_in(uint8_t* frame, const pkt::ParsedPacket& p, const conn::Conn& c);
bool tcp_shift_out(uint8_t* frame, const pkt::ParsedPacket& p, const conn::Conn& c);
inline bool has_seq_shift(const conn::Conn& c) {
  return c.xflags & (conn::kXFnatSeqDelta | conn::kXSynproxySeq);
}
// The fast path's flags for the same shift, client -> real server and back.
uint8_t flow_shift_in(const conn::Conn& c);
uint8_t flow_shift_out(const conn::Conn& c);
// On a SYN: replaces a timestamp option by NOPs (when remove_ts) and lowers the MSS option by
// `mss_reduce` (when non-zero). Returns true if anything changed.
bool tcp_syn_fixups(uint8_t* frame, const pkt::ParsedPacket& p, bool remove_ts,
                    uint16_t mss_reduce);
// Inserts the TOA option carrying caddr:cport right after the fixed TCP header (existing options
// move back, data offset and IP length grow). False, with nothing changed, when it does not fit:
// header beyond 60 bytes, datagram beyond `mtu`, or no tailroom. On success `p` is updated for
// the new lengths (l3_end and the IP length fields).
bool tcp_insert_toa(io::Frame& f, pkt::ParsedPacket& p, const InetAddr& caddr, uint16_t cport,
                    uint32_t mtu);

}  // namespace uvs::xmit
