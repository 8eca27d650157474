// TUN (ipvsadm -i, "Tunnel"), the kernel's ip_vs_tunnel_xmit(): the client's packet, untouched
// but for its TTL, inside an outer IPv4/IPv6 header toward the real server (IPIP, GUE or GRE as
// the real server's --tun-type says); the real server answers the client directly. Like the
// kernel, an IPv4 tunnel fragments its outer packet when the inner one allows it (no DF).
#include "pkt/checksum.h"
#include "sched/dest.h"
#include "xmit/transmitter.h"
#include "xmit/tunnel.h"

namespace uvs::xmit {

namespace {

// The outer header of connection c's tunnel (its source is the route's, set once routed).
TunnelParams tunnel_params(Context& ctx, const conn::Conn& c) {
  const sched::DestForwarding fw = c.dest->forwarding();
  TunnelParams t;
  t.type = fw.tun_type;
  t.csum = fw.tun_flags;
  t.port = fw.tun_port;
  t.dst = conn::to_inet(c.daf, c.daddr);
  t.pmtu_disc = ctx.sysctls->pmtu_disc != 0;
  t.ip_id = ctx.ip_id++;
  return t;
}

// Encapsulates toward c's real server; with `may_fragment`, an outer IPv4 packet may exceed
// the hop's MTU and is fragmented on the way out.
Result encapsulate(Context& ctx, io::Frame& f, pkt::ParsedPacket& p, const conn::Conn& c,
                   const Hop& hop, bool may_fragment) {
  TunnelParams t = tunnel_params(ctx, c);
  if (Result r = prepare_forward(f.data, p, hop, tunnel_overhead(t), may_fragment); !r.sent())
    return r;
  t.src = hop.src;
  // A local sender's partial checksum means nothing once the frame leaves this host.
  if (p.l4_csum == pkt::CsumStatus::kPartial) pkt::recompute_l4_checksum(f.data, p);
  if (!tunnel_encap(f, p, t, hop.l2)) return {Verdict::kNoRoom};
  return {may_fragment ? Verdict::kSendFragmented : Verdict::kSend};
}

}  // namespace

Result tun_in(Context& ctx, io::Frame& f, pkt::ParsedPacket& p, conn::Conn& c, const Hop& hop) {
  // Like the kernel, an IPv4 tunnel fragments the outer packet of an inner one without DF.
  return encapsulate(ctx, f, p, c, hop, /*may_fragment=*/c.daf != AF_INET6);
}

Result tun_icmp_in(Context& ctx, io::Frame& f, pkt::ParsedPacket& p, conn::Conn& c,
                   const Hop& hop) {
  return encapsulate(ctx, f, p, c, hop, /*may_fragment=*/false);
}

}  // namespace uvs::xmit
