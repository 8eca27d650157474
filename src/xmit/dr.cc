// DR (ipvsadm -g, "Route"), the kernel's ip_vs_dr_xmit(): the packet goes unchanged, but for
// its TTL, to the real server's MAC address; the real server holds the VIP on a non-ARPing
// interface and answers the client directly, so no reply passes here.
#include "xmit/transmitter.h"

namespace uvs::xmit {

Result dr_in(Context&, io::Frame& f, pkt::ParsedPacket& p, conn::Conn&, const Hop& hop) {
  return forward_unchanged(f, p, hop);
}

Result dr_icmp_in(Context&, io::Frame& f, pkt::ParsedPacket& p, conn::Conn&, const Hop& hop) {
  if (Result r = prepare_forward(f.data, p, hop, 0, false); !r.sent()) return r;
  return to_hop(f, p, hop);
}

// The packet leaves as it came, toward the real server's MAC.
bool dr_offload_in(const Context&, const conn::Conn& c, uvs_flow_key* key, uvs_flow* flow) {
  *key = flow_key(c.af, c.protocol, c.caddr, c.cport, c.vaddr, c.vport);
  flow->flags = 0;
  return true;
}

}  // namespace uvs::xmit
