// TUN (ipvsadm -i, "Tunnel"), the kernel's ip_vs_tunnel_xmit(): the client's packet, untouched
// but for its TTL, inside an outer IPv4/IPv6 header toward the real server (IPIP, GUE or GRE as
// the real server's --tun-type says); the real server answers the client directly. Like the
// kernel, an IPv4 tunnel fragments its outer packet when the inner one allows it (no DF).
//
// The fast path repeats it for the packets whose outer header is the same every time but for
// what pkt/tunnel_hdr.h fills in (lengths, TOS, TTL): outer IPv6, or outer IPv4 with DF (id 0).
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
  return t;
}

// Encapsulates toward c's real server; with `may_fragment`, an outer IPv4 packet may exceed
// the hop's MTU and is fragmented on the way out.
Result encapsulate(Context& ctx, io::Frame& f, pkt::ParsedPacket& p, conn::Conn& c,
                   const Hop& hop, bool may_fragment) {
  TunnelParams t = tunnel_params(ctx, c);
  if (Result r = prepare_forward(f.data, p, hop, tunnel_overhead(t), may_fragment); !r.sent())
    return r;
  t.src = hop.src;
  // Remembered for the fast path (tun_offload_in()), which has no route at hand: TUN has no
  // local address of its own, so FULLNAT's field holds the tunnel's source.
  c.laddr = hop.src.bytes;
  // As ip_vs_tunnel_xmit()'s ip_select_ident(): a DF packet from no socket gets id 0
  // (ip_select_ident_segs()); the others a running counter, as they may be fragmented.
  t.ip_id = outer_df(t, f.data + p.l3_off, p.is_v6()) ? 0 : ctx.ip_id++;
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

// The client's packets, encapsulated from XDP when the outer header needs nothing per packet
// that only user space has: an outer IPv4 header needs DF (the inner packet's, sysctl
// pmtu_disc), so that its id is 0 and it is never fragmented; an IPv6 inner packet never gets
// DF from an IPv4 outer one, so that pair stays here. Checksums over the payload (GUE with
// --tun-csum or --tun-remcsum, GUE over IPv6, GRE with --tun-csum) stay here too. XDP misses
// inner IPv4 packets without DF on an IPv4 tunnel (bpf/fast_path.h).
bool tun_offload_in(const Context& ctx, const conn::Conn& c, uvs_flow_key* key, uvs_flow* flow) {
  if (!c.dest) return false;
  const sched::DestForwarding fw = c.dest->forwarding();
  TunnelParams t;
  t.type = fw.tun_type;
  t.csum = fw.tun_flags;
  t.port = fw.tun_port;
  t.dst = conn::to_inet(c.daf, c.daddr);
  t.src = conn::to_inet(c.daf, c.laddr);
  const bool outer_v6 = c.daf == AF_INET6;
  const bool inner_v6 = c.af == AF_INET6;
  if (t.src.is_zero()) return false;  // no packet sent yet: offloaded with a later one
  if (!outer_v6 && (inner_v6 || !ctx.sysctls || !ctx.sysctls->pmtu_disc)) return false;
  if (t.type == TunType::kGue && (t.csum != TunCsum::kNoCsum || outer_v6)) return false;
  if (t.type == TunType::kGre && t.csum == TunCsum::kCsum) return false;
  *key = flow_key(c.af, c.protocol, c.caddr, c.cport, c.vaddr, c.vport);
  flow->flags = UVS_FLOW_F_TUN;
  flow->tun = tunnel_template(
      t, inner_v6,
      t.type == TunType::kGue ? tunnel_source_port(conn::to_inet(c.af, c.caddr),
                                                   conn::to_inet(c.af, c.vaddr), c.cport,
                                                   c.vport, c.protocol)
                              : 0);
  return true;
}

}  // namespace uvs::xmit
