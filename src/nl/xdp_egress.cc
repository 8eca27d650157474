#include "nl/xdp_egress.h"

#include <linux/if_link.h>

namespace uvs::nl {

namespace {

// One link's attributes, or false. `netnsid` >= 0 asks about a link of another namespace.
bool get_link(NetlinkSocket& socket, int ifindex, int netnsid, const MessageFn& on_link) {
  Request request(RTM_GETLINK, 0);
  auto* ifi = request.put_header<ifinfomsg>();
  ifi->ifi_family = AF_UNSPEC;
  ifi->ifi_index = ifindex;
  if (netnsid >= 0) request.put_u32(IFLA_TARGET_NETNSID, static_cast<uint32_t>(netnsid));
  bool got = false;
  const int err = socket.transact(request, [&](const nlmsghdr* nlh) {
    if (nlh->nlmsg_type != RTM_NEWLINK) return;
    got = true;
    on_link(nlh);
  });
  return err == 0 && got;
}

}  // namespace

XdpEgress xdp_egress(NetlinkSocket& socket, int ifindex, bool generic) {
  bool veth = false;
  int peer = 0;
  int peer_netnsid = -1;
  const bool found = get_link(socket, ifindex, -1, [&](const nlmsghdr* nlh) {
    Attrs attrs;
    if (!attrs.parse(nlh, sizeof(ifinfomsg))) return;
    if (const nlattr* info = attrs.get(IFLA_LINKINFO)) {
      Attrs linkinfo;
      if (linkinfo.parse_nested(info))
        if (auto kind = linkinfo.str(IFLA_INFO_KIND)) veth = *kind == "veth";
    }
    if (auto link = attrs.u32(IFLA_LINK)) peer = static_cast<int>(*link);
    if (auto nsid = attrs.u32(IFLA_LINK_NETNSID)) peer_netnsid = static_cast<int>(*nsid);
  });
  if (!found) return XdpEgress::kUnknown;
  if (!veth || generic) return XdpEgress::kDelivers;
  if (peer == 0) return XdpEgress::kUnknown;
  bool peer_has_xdp = false;
  const bool peer_found = get_link(socket, peer, peer_netnsid, [&](const nlmsghdr* nlh) {
    Attrs attrs;
    if (!attrs.parse(nlh, sizeof(ifinfomsg))) return;
    const nlattr* xdp = attrs.get(IFLA_XDP);
    Attrs xdp_attrs;
    if (xdp && xdp_attrs.parse_nested(xdp))
      if (auto attached = xdp_attrs.u8(IFLA_XDP_ATTACHED))
        peer_has_xdp = *attached != XDP_ATTACHED_NONE;
  });
  if (!peer_found) return XdpEgress::kUnknown;
  return peer_has_xdp ? XdpEgress::kDelivers : XdpEgress::kVethPeerWithoutXdp;
}

const char* to_string(XdpEgress egress) {
  switch (egress) {
    case XdpEgress::kDelivers:
      return "XDP sends here";
    case XdpEgress::kVethPeerWithoutXdp:
      return "a veth whose peer has no XDP program drops what XDP sends: its flows stay in user "
             "space";
    case XdpEgress::kUnknown:
      break;
  }
  return "the kernel did not say whether XDP can send here: its flows stay in user space";
}

}  // namespace uvs::nl
