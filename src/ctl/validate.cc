#include "ctl/validate.h"

#include <cerrno>

#include "sched/registry.h"

namespace uvs::ctl {

int check_service(const ServiceConfig& svc) {
  if (svc.sched_name.size() > kSchedNameMax || svc.pe_name.size() > kPeNameMax) return EINVAL;
  if (!sched::scheduler_exists(svc.sched_name)) return ENOENT;
  if (!svc.pe_name.empty() && svc.pe_name != "sip") return ENOENT;
  if (svc.key.af == AF_INET6 && (svc.netmask < 1 || svc.netmask > 128)) return EINVAL;
  if (svc.key.af != AF_INET && svc.key.af != AF_INET6) return EAFNOSUPPORT;
  if (!svc.key.is_fwmark() && svc.key.protocol != kProtoTcp && svc.key.protocol != kProtoUdp &&
      svc.key.protocol != kProtoSctp)
    return EINVAL;
  // SYNPROXY answers TCP handshakes; it means nothing for UDP or SCTP.
  if ((svc.flags & kSvcSynproxy) && !svc.key.is_fwmark() && svc.key.protocol != kProtoTcp)
    return EINVAL;
  return 0;
}

bool dest_address_ok(const InetAddr& a) {
  if (a.is_v6()) {
    const auto& b = a.bytes;
    if (a.is_zero()) return false;
    if (b[0] == 0xff) return false;                          // multicast
    if (b[0] == 0xfe && (b[1] & 0xc0) == 0x80) return false;  // link-local
    return true;
  }
  uint32_t h = a.v4_host();
  if ((h >> 24) == 0) return false;             // 0.0.0.0/8: "this network"
  if (h == 0xffffffff) return false;            // limited broadcast
  if ((h & 0xf0000000) == 0xe0000000) return false;  // multicast
  return true;
}

int check_dest(const ServiceConfig& svc, const DestConfig& d) {
  if (d.weight < 0) return ERANGE;
  if (d.l_threshold > d.u_threshold) return ERANGE;
  if (d.key.addr.family != svc.key.af && d.fwd != Fwd::kTunnel) return EINVAL;
  if (!dest_address_ok(d.key.addr)) return EINVAL;
  if (d.fwd == Fwd::kTunnel && d.tun_type == TunType::kGue && d.tun_port == 0) return EINVAL;
  if (d.fwd != Fwd::kMasq && d.fwd != Fwd::kLocal && d.fwd != Fwd::kTunnel &&
      d.fwd != Fwd::kRoute && d.fwd != Fwd::kFullNat)
    return EINVAL;
  return 0;
}

}  // namespace uvs::ctl
