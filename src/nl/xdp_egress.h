// Whether frames an XDP program sends out of an interface (XDP_TX, or a redirect to it) reach
// the wire. Most drivers take them; a veth drops them silently unless its peer runs an XDP
// program of its own (the peer's NAPI only exists then), and generic (skb-mode) XDP always
// delivers. The fast path (uvsd --offload) sends only where this says it can.
#pragma once

#include <string>

#include "nl/netlink.h"

namespace uvs::nl {

enum class XdpEgress {
  kDelivers,
  kVethPeerWithoutXdp,  // native XDP on a veth whose peer has no XDP program: dropped
  kUnknown,             // the kernel did not say (the fast path stays off there)
};

// Asks the kernel about `ifindex` of the socket's namespace, and for a veth about its peer (in
// whatever namespace that lives). `generic`: our program is attached there in skb mode.
XdpEgress xdp_egress(NetlinkSocket& socket, int ifindex, bool generic);
const char* to_string(XdpEgress egress);

}  // namespace uvs::nl
