// The IPVS configuration model: virtual services, real servers (dests), timeouts, sync daemons.
// Constants carry the kernel's values (include/uapi/linux/ip_vs.h) so they can cross the wire
// unchanged.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "model/address.h"

namespace uvs {

inline constexpr uint8_t kProtoTcp = IPPROTO_TCP;    // 6
inline constexpr uint8_t kProtoUdp = IPPROTO_UDP;    // 17
inline constexpr uint8_t kProtoSctp = IPPROTO_SCTP;  // 132

// Service flags (IP_VS_SVC_F_*).
inline constexpr uint32_t kSvcPersistent = 0x0001;
inline constexpr uint32_t kSvcOnePacket = 0x0004;
inline constexpr uint32_t kSvcSched1 = 0x0008;  // flag-1, sh-fallback, mh-fallback
inline constexpr uint32_t kSvcSched2 = 0x0010;  // flag-2, sh-port, mh-port
inline constexpr uint32_t kSvcSched3 = 0x0020;  // flag-3
inline constexpr uint32_t kSvcSchedMask = kSvcSched1 | kSvcSched2 | kSvcSched3;
inline constexpr uint32_t kSvcSynproxy = 0x8000;  // Alibaba LVS extension

// Forwarding methods (IP_VS_CONN_F_FWD_MASK values).
enum class Fwd : uint8_t {
  kMasq = 0,
  kLocal = 1,
  kTunnel = 2,
  kRoute = 3,
  kBypass = 4,
  kFullNat = 5,  // Alibaba LVS / DPVS extension
};

// The method's name as ipvsadm -L's Forward column prints it ("Bypass" too, which ipvsadm
// itself has no name for); null for a value outside the enum.
inline const char* fwd_label(Fwd f) {
  switch (f) {
    case Fwd::kMasq:
      return "Masq";
    case Fwd::kLocal:
      return "Local";
    case Fwd::kTunnel:
      return "Tunnel";
    case Fwd::kRoute:
      return "Route";
    case Fwd::kBypass:
      return "Bypass";
    case Fwd::kFullNat:
      return "FullNat";
  }
  return nullptr;
}

enum class TunType : uint8_t { kIpip = 0, kGue = 1, kGre = 2 };
// Tunnel checksum modes (IP_VS_TUNNEL_ENCAP_FLAG_*).
enum class TunCsum : uint8_t { kNoCsum = 0, kCsum = 1, kRemCsum = 2 };

inline constexpr uint32_t kDefaultPersistTimeout = 360;  // IPVS_SVC_PERSISTENT_TIMEOUT
inline constexpr int kSchedNameMax = 15;                 // IP_VS_SCHEDNAME_MAXLEN - 1
inline constexpr int kPeNameMax = 15;
inline constexpr int kIfNameMax = 15;

// Identity of a virtual service: (af, protocol, addr, port) or (af, fwmark).
struct ServiceKey {
  uint16_t af = AF_INET;
  uint8_t protocol = kProtoTcp;  // fwmark services carry TCP, ignored
  InetAddr addr{};               // unset for fwmark services
  uint16_t port = 0;             // host order
  uint32_t fwmark = 0;           // non-zero means a fwmark service

  bool is_fwmark() const { return fwmark != 0; }
  friend bool operator==(const ServiceKey& a, const ServiceKey& b) {
    if (a.af != b.af || a.fwmark != b.fwmark) return false;
    if (a.fwmark) return true;
    return a.protocol == b.protocol && a.addr == b.addr && a.port == b.port;
  }
};

struct ServiceConfig {
  ServiceKey key;
  std::string sched_name = "wlc";
  uint32_t flags = 0;    // kSvc*
  uint32_t timeout = 0;  // persistence timeout, seconds
  // IPv4: netmask in host order (0xffffffff default). IPv6: prefix length (128 default).
  uint32_t netmask = 0xffffffff;
  std::string pe_name;

  bool persistent() const { return flags & kSvcPersistent; }
};

struct DestKey {
  InetAddr addr{};
  uint16_t port = 0;  // host order
  friend bool operator==(const DestKey&, const DestKey&) = default;
};

struct DestConfig {
  DestKey key;
  Fwd fwd = Fwd::kRoute;
  int32_t weight = 1;
  uint32_t u_threshold = 0;
  uint32_t l_threshold = 0;
  TunType tun_type = TunType::kIpip;
  uint16_t tun_port = 0;
  TunCsum tun_flags = TunCsum::kNoCsum;
};

// The three timeouts that `--set` controls (seconds).
struct Timeouts {
  int32_t tcp = 900;
  int32_t tcp_fin = 120;
  int32_t udp = 300;
};

inline constexpr int kDaemonMaster = 1;
inline constexpr int kDaemonBackup = 2;

struct DaemonConfig {
  int state = 0;  // kDaemonMaster or kDaemonBackup
  std::string mcast_ifn;
  int syncid = 0;
  uint16_t sync_maxlen = 0;
  InetAddr mcast_group{};  // family 0 bytes zero = not set
  bool has_group = false;
  uint16_t mcast_port = 0;
  uint8_t mcast_ttl = 0;
};

}  // namespace uvs
