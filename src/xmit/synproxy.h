// The segments the SYN proxy writes itself (Alibaba LVS's ip_vs_synproxy.c): the cookie
// SYN-ACK that answers a client's SYN from the virtual service, and the SYN the director sends
// the real server for the client once its ACK proved the cookie. The pipeline (dp/synproxy.cc)
// decides when; these only read options and write frames, as reset.h does for resets.
#pragma once

#include <cstdint>

#include "conn/syncookie.h"
#include "io/packet_io.h"
#include "pkt/parse.h"
#include "xmit/l3.h"

namespace uvs::xmit {

// What a client's SYN offers in its options.
struct SynOffer {
  uint16_t mss = 0;      // 0: no MSS option (RFC 9293's default 536 applies)
  uint8_t wscale = 0xf;  // 0xf: no window scale option
  bool sack = false;
  bool timestamps = false;
  uint32_t tsval = 0;
};
SynOffer read_syn_offer(const uint8_t* frame, const pkt::ParsedPacket& p);

// The timestamp option of a segment, if it has one.
bool read_timestamps(const uint8_t* frame, const pkt::ParsedPacket& p, uint32_t* tsval,
                     uint32_t* tsecr);

// The options a written SYN or SYN-ACK carries, in the order Linux writes them.
struct SynFields {
  uint32_t seq = 0;
  uint32_t ack = 0;        // SYN-ACK only
  uint16_t window = 0;
  uint16_t mss = 0;        // 0: none
  uint8_t wscale = 0xf;    // 0xf: none
  bool sack = false;
  bool timestamps = false;
  uint32_t tsval = 0, tsecr = 0;
};

// Turns the client's SYN in `f` into the SYN-ACK from the service it was sent to: addresses
// and ports swapped, a fresh IP header (TTL `ttl`, DF, ID 0), no payload, out of the port it
// came in on toward the MAC it came from. False (frame unusable) when there is no room.
bool make_synack(io::Frame& f, const pkt::ParsedPacket& p, const SynFields& s, uint8_t ttl,
                 const L2Next& back);

// Writes into `out` (freshly allocated) the SYN for the client of the stored ACK `ack`
// (parsed as `p`): the ACK's Ethernet, addresses, ports, TTL and TOS, as if the client had
// sent it, so the connection's transmitter can take it. False when `out` has no room.
bool make_proxy_syn(io::Frame& out, const io::Frame& ack, const pkt::ParsedPacket& p,
                    const SynFields& s);

// The SYN-ACK's or SYN's fields for the options a cookie carries.
SynFields syn_fields(const conn::SynOptions& o);

}  // namespace uvs::xmit
