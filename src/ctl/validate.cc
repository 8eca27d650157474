#include "ctl/validate.h"

#include <cerrno>

#include "sched/registry.h"

namespace uvs::ctl {

namespace {

// The flags ipvsadm can set on a service; anything else (IP_VS_SVC_F_HASHED, unknown bits)
// would be stored and saved back as nothing.
constexpr uint32_t kSvcFlagsKnown = kSvcPersistent | kSvcOnePacket | kSvcSchedMask | kSvcSynproxy;

bool known_protocol(uint8_t protocol) {
  return protocol == kProtoTcp || protocol == kProtoUdp || protocol == kProtoSctp;
}

// ipvsadm's tunnel_types_v_options and "Tunnel options conflict with forward method", on
// values rather than option bits: what -a/-e could have produced.
int check_tunnel(const DestConfig& d) {
  if (d.tun_type != TunType::kIpip && d.tun_type != TunType::kGue && d.tun_type != TunType::kGre)
    return EINVAL;
  if (d.tun_flags != TunCsum::kNoCsum && d.tun_flags != TunCsum::kCsum &&
      d.tun_flags != TunCsum::kRemCsum)
    return EINVAL;
  const bool plain = d.tun_type == TunType::kIpip && d.tun_port == 0 &&
                     d.tun_flags == TunCsum::kNoCsum;
  if (d.fwd != Fwd::kTunnel) return plain ? 0 : EINVAL;
  switch (d.tun_type) {
    case TunType::kIpip:
      return plain ? 0 : EINVAL;
    case TunType::kGue:
      // ip_vs_add_dest(): "tunnel port is zero".
      return d.tun_port == 0 ? EINVAL : 0;
    case TunType::kGre:
      return d.tun_port != 0 || d.tun_flags == TunCsum::kRemCsum ? EINVAL : 0;
  }
  return EINVAL;
}

}  // namespace

int check_service(const ServiceConfig& svc) {
  const ServiceKey& key = svc.key;
  // ip_vs_genl_parse_service(): ip_vs_is_af_valid().
  if (key.af != AF_INET && key.af != AF_INET6) return EAFNOSUPPORT;
  // The netlink policy's string lengths (IP_VS_SCHEDNAME_MAXLEN, IP_VS_PENAME_MAXLEN).
  if (svc.sched_name.size() > kSchedNameMax || svc.pe_name.size() > kPeNameMax) return EINVAL;
  // The address is read in the service's family: an IPv6 address in an AF_INET service would
  // be listed as its first four bytes and never match a packet.
  if (!key.is_fwmark() && key.addr.family != key.af) return EINVAL;
  // do_ip_vs_set_ctl(): "TCP or UDP or SCTP, even for fwmark!=0".
  if (!known_protocol(key.protocol)) return EINVAL;
  if (svc.flags & ~kSvcFlagsKnown) return EINVAL;
  // -p's range: a timeout of 0 would be saved as `-p 0`, which -R refuses.
  if (svc.persistent() && (svc.timeout < 1 || svc.timeout > kMaxTimeout)) return EINVAL;
  if (zero_port_refused(svc) || one_packet_refused(svc)) return EINVAL;
  // SYNPROXY answers TCP handshakes; it means nothing for UDP or SCTP.
  if ((svc.flags & kSvcSynproxy) && !key.is_fwmark() && key.protocol != kProtoTcp) return EINVAL;
  // ip_vs_add_service(): the scheduler, then the persistence engine, then the IPv6 prefix.
  if (!sched::scheduler_exists(svc.sched_name)) return ENOENT;
  // No persistence engine is built in (SIP Call-ID persistence is not implemented), so every
  // --pe fails as ip_vs_pe_getbyname() does when the module is missing.
  if (!svc.pe_name.empty()) return ENOENT;
  if (key.af == AF_INET6 && (svc.netmask < 1 || svc.netmask > 128)) return EINVAL;
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
  if (a.family != AF_INET) return false;
  uint32_t h = a.v4_host();
  if ((h >> 24) == 0) return false;             // 0.0.0.0/8: "this network"
  if (h == 0xffffffff) return false;            // limited broadcast
  if ((h & 0xf0000000) == 0xe0000000) return false;  // multicast
  return true;
}

int check_dest(const ServiceConfig& svc, const DestConfig& d) {
  // ip_vs_add_dest()/ip_vs_edit_dest().
  if (d.weight < 0) return ERANGE;
  // -x and -y read 0..INT_MAX.
  if (d.u_threshold > kMaxThreshold || d.l_threshold > kMaxThreshold) return EINVAL;
  if (d.l_threshold > d.u_threshold) return ERANGE;
  if (d.fwd != Fwd::kMasq && d.fwd != Fwd::kLocal && d.fwd != Fwd::kTunnel &&
      d.fwd != Fwd::kRoute && d.fwd != Fwd::kFullNat)
    return EINVAL;
  if (d.key.addr.family != svc.key.af && d.fwd != Fwd::kTunnel) return EINVAL;
  if (!dest_address_ok(d.key.addr)) return EINVAL;
  // ipvsadm gives DR and tunnelled servers the service's port (their packets keep it); any
  // other port would be listed and saved as something -R reads back differently.
  if (!svc.key.is_fwmark() && (d.fwd == Fwd::kRoute || d.fwd == Fwd::kTunnel) &&
      d.key.port != svc.key.port)
    return EINVAL;
  return check_tunnel(d);
}

int check_timeouts(const Timeouts& t) {
  for (int32_t v : {t.tcp, t.tcp_fin, t.udp})
    if (v < 0 || static_cast<uint32_t>(v) > kMaxTimeout) return EINVAL;
  return 0;
}

int check_daemon(const DaemonConfig& d) {
  if (d.state != kDaemonMaster && d.state != kDaemonBackup) return EINVAL;
  if (d.mcast_ifn.size() > static_cast<size_t>(kIfNameMax)) return EINVAL;
  if (d.syncid < 0 || d.syncid > kMaxSyncId) return EINVAL;
  if (d.sync_maxlen > kMaxSyncMaxlen) return EINVAL;
  if (d.has_group) {
    const InetAddr& g = d.mcast_group;
    const bool multicast = g.is_v6() ? g.bytes[0] == 0xff
                                     : g.family == AF_INET && (g.v4_host() >> 28) == 0xe;
    if (!multicast) return EINVAL;
  }
  return 0;
}

}  // namespace uvs::ctl
