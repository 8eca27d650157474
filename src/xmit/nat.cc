// NAT (ipvsadm -m, "Masq"): the kernel's ip_vs_nat_xmit() and the reply side of
// handle_response(). Toward the real server the destination becomes the real server's address
// and port; its reply leaves with the virtual address and port as source. ICMP errors about a
// connection are translated both ways (ip_vs_icmp_xmit(), ip_vs_out_icmp()): the outer
// addresses and the quoted packet's tuple. A connection the SYN proxy opened also has its
// sequence shift applied (tcp_opts.h), with the checksum then recomputed over the segment.
#include "xmit/icmp.h"
#include "xmit/tcp_opts.h"
#include "xmit/transmitter.h"

namespace uvs::xmit {

namespace {

bool shifted_segment(const pkt::ParsedPacket& p, const conn::Conn& c) {
  return p.proto == IPPROTO_TCP && !p.is_fragment && has_seq_shift(c);
}

}  // namespace

Result nat_in(Context&, io::Frame& f, pkt::ParsedPacket& p, conn::Conn& c, const Hop& hop) {
  if (Result r = prepare_forward(f.data, p, hop, 0, false); !r.sent()) return r;
  const InetAddr daddr = conn::to_inet(c.daf, c.daddr);
  if (shifted_segment(p, c) && tcp_shift_in(f.data, p, c))
    rewrite_tuple_full_csum(f.data, p, p.saddr, p.sport, daddr, c.dport);
  else
    rewrite_tuple(f.data, p, p.saddr, p.sport, daddr, c.dport);
  return to_hop(f, p, hop);
}

Result nat_out(Context&, io::Frame& f, pkt::ParsedPacket& p, conn::Conn& c, const Hop& hop) {
  if (Result r = prepare_forward(f.data, p, hop, 0, false); !r.sent()) return r;
  const InetAddr vaddr = conn::to_inet(c.af, c.vaddr);
  if (shifted_segment(p, c) && tcp_shift_out(f.data, p, c))
    rewrite_tuple_full_csum(f.data, p, vaddr, c.vport, p.daddr, p.dport);
  else
    rewrite_tuple(f.data, p, vaddr, c.vport, p.daddr, p.dport);
  return to_hop(f, p, hop);
}

Result nat_icmp_in(Context&, io::Frame& f, pkt::ParsedPacket& p, conn::Conn& c,
                   const Hop& hop) {
  if (Result r = prepare_forward(f.data, p, hop, 0, false); !r.sent()) return r;
  // Quoted: our reply (VIP -> client); it becomes the real server's (RIP -> client).
  const InetAddr daddr = conn::to_inet(c.daf, c.daddr);
  rewrite_icmp_error(f.data, p, p.saddr, daddr, daddr, c.dport, p.inner.daddr, p.inner.dport);
  return to_hop(f, p, hop);
}

Result nat_icmp_out(Context&, io::Frame& f, pkt::ParsedPacket& p, conn::Conn& c,
                    const Hop& hop) {
  if (Result r = prepare_forward(f.data, p, hop, 0, false); !r.sent()) return r;
  // Quoted: the request the real server got (client -> RIP); it becomes client -> VIP.
  const InetAddr vaddr = conn::to_inet(c.af, c.vaddr);
  rewrite_icmp_error(f.data, p, vaddr, p.daddr, p.inner.saddr, p.inner.sport, vaddr, c.vport);
  return to_hop(f, p, hop);
}

// Both directions offload: the client's packets get the real server as destination, the
// replies the virtual service as source.
bool nat_offload_in(const Context&, const conn::Conn& c, uvs_flow_key* key, uvs_flow* flow) {
  *key = flow_key(c.af, c.protocol, c.caddr, c.cport, c.vaddr, c.vport);
  flow->to = nat_tuple(conn::to_inet(c.af, c.caddr), c.cport, conn::to_inet(c.daf, c.daddr),
                       c.dport);
  flow->flags = UVS_FLOW_F_NAT | flow_shift_in(c);
  flow->seq_delta = flow_shift_in(c) ? c.seq_delta : 0;
  return true;
}

bool nat_offload_out(const Context&, const conn::Conn& c, uvs_flow_key* key, uvs_flow* flow) {
  *key = flow_key(c.af, c.protocol, c.daddr, c.dport, c.caddr, c.cport);
  flow->to = nat_tuple(conn::to_inet(c.af, c.vaddr), c.vport, conn::to_inet(c.af, c.caddr),
                       c.cport);
  flow->flags = UVS_FLOW_F_NAT | flow_shift_out(c);
  flow->seq_delta = flow_shift_out(c) ? c.seq_delta : 0;
  return true;
}

}  // namespace uvs::xmit
