// TUN forwarding (spec E.3): the client's packet, untouched but for its TTL, inside an outer
// IPv4/IPv6 header toward the real server, as IPIP, GUE (UDP) or GRE.
#pragma once

#include <cstdint>

#include "io/packet_io.h"
#include "model/service.h"
#include "pkt/parse.h"
#include "xmit/l3.h"

namespace uvs::xmit {

struct TunnelParams {
  TunType type = TunType::kIpip;
  TunCsum csum = TunCsum::kNoCsum;
  uint16_t port = 0;  // GUE destination port
  InetAddr src{};     // our address toward the real server (routing's preferred source)
  InetAddr dst{};     // the real server; its family picks the outer header
  bool pmtu_disc = true;  // copy DF from the inner packet (sysctl pmtu_disc)
  uint16_t ip_id = 0;     // outer IPv4 identification
};

// Bytes the outer headers add for these parameters (IP + UDP/GUE or GRE).
uint32_t tunnel_overhead(const TunnelParams& t);

// Encapsulates the IP datagram of `f` (described by `p`, TTL already decremented) and writes the
// Ethernet header toward `next`. False if there is no headroom.
bool tunnel_encap(io::Frame& f, const pkt::ParsedPacket& p, const TunnelParams& t,
                  const L2Next& next);

}  // namespace uvs::xmit
