// TUN encapsulation (the kernel's ip_vs_tunnel_xmit() with its GUE and GRE variants): the
// client's packet, untouched but for its TTL, inside an outer IPv4/IPv6 header toward the real
// server, as IPIP, GUE (UDP) or GRE. The transmitter that uses it is tun.cc.
#pragma once

#include <cstdint>
#include <span>

#include "io/packet_io.h"
#include "model/service.h"
#include "pkt/parse.h"
#include "pkt/tunnel_hdr.h"
#include "xmit/l3.h"

namespace uvs::xmit {

struct TunnelParams {
  TunType type = TunType::kIpip;
  TunCsum csum = TunCsum::kNoCsum;
  uint16_t port = 0;  // GUE destination port
  InetAddr src{};     // our address toward the real server (routing's preferred source)
  InetAddr dst{};     // the real server; its family picks the outer header
  bool pmtu_disc = true;  // copy DF from the inner packet (sysctl pmtu_disc)
  uint16_t ip_id = 0;     // outer IPv4 identification (0 when outer_df(): ip_select_ident_segs())
};

// Whether the outer IPv4 header of the inner datagram at `inner_ip` (family `inner_v6`) gets DF:
// the inner IPv4 packet's, under sysctl pmtu_disc, as ip_vs_tunnel_xmit(). Never for outer IPv6.
bool outer_df(const TunnelParams& t, const uint8_t* inner_ip, bool inner_v6);

// GUE's UDP source port for an inner flow (addresses, ports host order, protocol): from a
// hash of it, so ECMP and RSS on the way to the real server spread tunnels as the flows inside.
uint16_t tunnel_source_port(const InetAddr& saddr, const InetAddr& daddr, uint16_t sport,
                            uint16_t dport, uint8_t proto);

// The outer headers toward t.dst (src set) for inner datagrams of family `inner_v6`, with GUE
// source port `gue_sport`, per-packet fields left for uvs_tun_fill(): what tunnel_encap() writes
// and what the fast path's flows carry (UVS_FLOW_F_TUN). Checksum flags are set, the checksums
// themselves are tunnel_encap()'s.
uvs_tun_hdr tunnel_template(const TunnelParams& t, bool inner_v6, uint16_t gue_sport);

// Bytes the outer headers add for these parameters (IP + UDP/GUE or GRE).
uint32_t tunnel_overhead(const TunnelParams& t);

// Encapsulates the IP datagram of `f` (described by `p`, TTL already decremented) and writes the
// Ethernet header toward `next`. False if there is no headroom.
bool tunnel_encap(io::Frame& f, const pkt::ParsedPacket& p, const TunnelParams& t,
                  const L2Next& next);

// The kernel fragments a tunnel packet whose inner packet allowed it (no DF) when it no longer
// fits the path MTU. For a frame of Ethernet + outer IPv4 (no options) + payload: how many
// frames beyond `f` that takes at `mtu` (0 if it fits, -1 if `f` is not such a frame).
int outer_fragments_needed(const io::Frame& f, uint32_t mtu);
// Splits it: `f` keeps the first fragment, `rest` (exactly outer_fragments_needed() frames,
// allocated by the caller) receive the others, with the same Ethernet header.
void fragment_outer_ipv4(io::Frame& f, uint32_t mtu, std::span<io::Frame> rest);

}  // namespace uvs::xmit
