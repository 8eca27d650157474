// FULLNAT (ipvsadm -b), Alibaba LVS's ip_vs_fnat_xmit() and its reply side, as DPVS carries
// them: both addresses change. Toward the real server the packet comes from one of the
// service's local addresses (-P/-Q) and a local port; the real server answers that address, so
// its reply returns here and leaves as VIP -> client.
//
// TCP gets more than a tuple rewrite (tcp_opts.h has the primitives):
//  - the director picks its own initial sequence number toward the real server, unguessable
//    from the client's; sequence numbers are shifted in, acknowledgements and SACK edges
//    shifted back out;
//  - the client's SYN loses its timestamp option (fullnat_timestamp_remove), since the real
//    servers behind one local address would otherwise see clashing timestamps;
//  - the TOA option tells the real server who the client is (fullnat_toa), on the SYN and on
//    the handshake's last ACK until it got through;
//  - the real server's SYN-ACK announces an MSS lowered by the TOA's size (fullnat_mss_adjust),
//    so the client never sends a segment that no longer fits once TOA is added.
// The L4 checksum is then recomputed once over the edited segment.
#include "pkt/checksum.h"
#include "xmit/icmp.h"
#include "xmit/tcp_opts.h"
#include "xmit/transmitter.h"

namespace uvs::xmit {

namespace {

// Client -> real server TCP surgery, before the tuple changes.
void tcp_in(Context& ctx, io::Frame& f, pkt::ParsedPacket& p, conn::Conn& c, uint32_t mtu) {
  const Sysctls& s = *ctx.sysctls;
  const bool syn = (p.tcp_flags & pkt::kTcpSyn) && !(p.tcp_flags & pkt::kTcpAck);
  // A connection the SYN proxy opened keeps the client's ISN: its entry has room for one shift,
  // the proxy's.
  constexpr uint8_t kShiftOwned =
      conn::kXFnatSeqDelta | conn::kXSynproxyPending | conn::kXSynproxySeq;
  if (syn && !(c.xflags & kShiftOwned)) {
    c.seq_delta = static_cast<uint32_t>(ctx.isn.next()) - tcp_seq(f.data, p);
    c.xflags |= conn::kXFnatSeqDelta;
  }
  if (syn) tcp_syn_fixups(f.data, p, s.fullnat_timestamp_remove != 0, 0);
  tcp_shift_in(f.data, p, c);
  const bool handshake_ack = !(p.tcp_flags & (pkt::kTcpSyn | pkt::kTcpRst | pkt::kTcpFin)) &&
                             (p.tcp_flags & pkt::kTcpAck) && !(c.xflags & conn::kXFnatToaDone);
  if (s.fullnat_toa && (syn || handshake_ack)) {
    if (tcp_insert_toa(f, p, conn::to_inet(c.af, c.caddr), c.cport, mtu) && handshake_ack)
      c.xflags |= conn::kXFnatToaDone;
  }
}

// Real server -> client TCP surgery, before the tuple changes.
void tcp_out(Context& ctx, io::Frame& f, pkt::ParsedPacket& p, conn::Conn& c) {
  const Sysctls& s = *ctx.sysctls;
  tcp_shift_out(f.data, p, c);
  if ((p.tcp_flags & pkt::kTcpSyn) && s.fullnat_mss_adjust && s.fullnat_toa)
    tcp_syn_fixups(f.data, p, false, c.af == AF_INET6 ? kToaLenV6 + 4 : kToaLenV4);
}

// Both directions: the checks, the direction's TCP surgery on a segment with its TCP header
// (not a fragment), then the new tuple.
template <typename TcpSurgery>
Result translate(io::Frame& f, pkt::ParsedPacket& p, const Hop& hop, const InetAddr& saddr,
                 uint16_t sport, const InetAddr& daddr, uint16_t dport, TcpSurgery&& surgery) {
  if (Result r = prepare_forward(f.data, p, hop, 0, false); !r.sent()) return r;
  if (p.proto == IPPROTO_TCP && !p.is_fragment) {
    surgery();
    rewrite_tuple_full_csum(f.data, p, saddr, sport, daddr, dport);
  } else {
    rewrite_tuple(f.data, p, saddr, sport, daddr, dport);
  }
  return to_hop(f, p, hop);
}

}  // namespace

Result fullnat_in(Context& ctx, io::Frame& f, pkt::ParsedPacket& p, conn::Conn& c,
                  const Hop& hop) {
  return translate(f, p, hop, conn::to_inet(c.daf, c.laddr), c.lport,
                   conn::to_inet(c.daf, c.daddr), c.dport,
                   [&] { tcp_in(ctx, f, p, c, hop.mtu); });
}

Result fullnat_out(Context& ctx, io::Frame& f, pkt::ParsedPacket& p, conn::Conn& c,
                   const Hop& hop) {
  return translate(f, p, hop, conn::to_inet(c.af, c.vaddr), c.vport,
                   conn::to_inet(c.af, c.caddr), c.cport, [&] { tcp_out(ctx, f, p, c); });
}

// ICMP errors about a FULLNAT connection, translated both ways as DPVS's
// dp_vs_fnat_xmit_icmp() does: each side sees an error about the packet it sent itself.
Result fullnat_icmp_in(Context&, io::Frame& f, pkt::ParsedPacket& p, conn::Conn& c,
                       const Hop& hop) {
  if (c.af != c.daf) return {Verdict::kPass};  // the quote cannot change family
  if (Result r = prepare_forward(f.data, p, hop, 0, false); !r.sent()) return r;
  // Quoted: our reply (VIP -> client); it becomes the real server's (RIP -> local address).
  const InetAddr laddr = conn::to_inet(c.daf, c.laddr);
  const InetAddr daddr = conn::to_inet(c.daf, c.daddr);
  rewrite_icmp_error(f.data, p, laddr, daddr, daddr, c.dport, laddr, c.lport);
  return to_hop(f, p, hop);
}

Result fullnat_icmp_out(Context&, io::Frame& f, pkt::ParsedPacket& p, conn::Conn& c,
                        const Hop& hop) {
  if (c.af != c.daf) return {Verdict::kPass};
  if (Result r = prepare_forward(f.data, p, hop, 0, false); !r.sent()) return r;
  // Quoted: the request the real server got (local address -> RIP), with our sequence
  // numbers; it becomes the client's own (client -> VIP), which its stack checks the error
  // against (tcp_v4_err() ignores an error about a sequence number it never sent).
  constexpr uint32_t kSeqOff = 4, kCheckOff = 16;
  if (p.inner.proto == IPPROTO_TCP && p.inner.l4_len >= kSeqOff + 4 &&
      (c.xflags & conn::kXFnatSeqDelta)) {
    uint8_t* tcp = f.data + p.inner.l4_off;
    const uint32_t old_seq = pkt::load_u32(tcp + kSeqOff);
    pkt::store_be32(tcp + kSeqOff, pkt::load_be32(tcp + kSeqOff) - c.seq_delta);
    if (p.inner.l4_len >= kCheckOff + 2)  // the quoted checksum, when quoted, stays true
      pkt::store_u16(tcp + kCheckOff, pkt::csum_replace32(pkt::load_u16(tcp + kCheckOff), old_seq,
                                                          pkt::load_u32(tcp + kSeqOff)));
  }
  const InetAddr vaddr = conn::to_inet(c.af, c.vaddr);
  const InetAddr caddr = conn::to_inet(c.af, c.caddr);
  rewrite_icmp_error(f.data, p, vaddr, caddr, caddr, c.cport, vaddr, c.vport);
  return to_hop(f, p, hop);
}

// UDP: a plain two-sided rewrite. TCP once its handshake is through: what is left of the
// surgery is the sequence shift (seq in, ack out), which XDP repeats; the TOA must have got
// through first, and the real server's segments that carry options (SACK edges to shift) still
// come up to tcp_out().
namespace {

// The direction's flow when the connection is settled; `shift` is its TCP sequence flag.
bool offload(const Context& ctx, const conn::Conn& c, const uvs_flow_key& key,
             const uvs_nat_tuple& to, uint8_t shift, uvs_flow_key* key_out, uvs_flow* flow) {
  const bool tcp = c.protocol == IPPROTO_TCP;
  const bool toa_through =
      !ctx.sysctls || !ctx.sysctls->fullnat_toa || (c.xflags & conn::kXFnatToaDone);
  if (tcp && !(has_seq_shift(c) && toa_through)) return false;
  *key_out = key;
  flow->to = to;
  flow->flags = UVS_FLOW_F_NAT | (tcp ? shift : 0);
  flow->seq_delta = tcp ? c.seq_delta : 0;
  return true;
}

}  // namespace

bool fullnat_offload_in(const Context& ctx, const conn::Conn& c, uvs_flow_key* key,
                        uvs_flow* flow) {
  return offload(ctx, c, flow_key(c.af, c.protocol, c.caddr, c.cport, c.vaddr, c.vport),
                 nat_tuple(conn::to_inet(c.daf, c.laddr), c.lport, conn::to_inet(c.daf, c.daddr),
                           c.dport),
                 flow_shift_in(c), key, flow);
}

bool fullnat_offload_out(const Context& ctx, const conn::Conn& c, uvs_flow_key* key,
                         uvs_flow* flow) {
  return offload(ctx, c, flow_key(c.daf, c.protocol, c.daddr, c.dport, c.laddr, c.lport),
                 nat_tuple(conn::to_inet(c.af, c.vaddr), c.vport, conn::to_inet(c.af, c.caddr),
                           c.cport),
                 flow_shift_out(c), key, flow);
}

}  // namespace uvs::xmit
