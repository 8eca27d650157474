// One command model for the CLI, `-R` restore, `uvsd --config` and the control socket.
#pragma once

#include <cstdint>
#include <string>

#include "model/service.h"

namespace uvs {

enum class CommandKind : uint8_t {
  kNone,
  kAddService,
  kEditService,
  kDelService,
  kFlush,
  kList,
  kZero,
  kAddDest,
  kEditDest,
  kDelDest,
  kSetTimeout,
  kRestore,
  kSave,
  kStartDaemon,
  kStopDaemon,
  kHelp,
  kVersion,
  kAddLaddr,  // -P, FULLNAT local address
  kDelLaddr,  // -Q
  kGetLaddr,  // -G
  kPick,      // --pick: the scheduler's choice for client tuples (model/pick.h)
};

// Option bits in ipvsadm's order (its OPTC_* values); the names, as in its optnames[], are used
// verbatim in error messages.
enum OptionBit : int {
  kOptNumeric,
  kOptConnection,
  kOptService,
  kOptScheduler,
  kOptPersistent,
  kOptNetmask,
  kOptServer,
  kOptForward,
  kOptWeight,
  kOptUThreshold,
  kOptLThreshold,
  kOptMcastIfn,
  kOptTimeout,
  kOptDaemon,
  kOptStats,
  kOptRate,
  kOptThresholds,
  kOptPersistentConn,
  kOptNoSort,
  kOptSyncId,
  kOptExact,
  kOptOnePacket,
  kOptPe,
  kOptSchedFlags,
  kOptMcastGroup,
  kOptMcastPort,
  kOptMcastTtl,
  kOptSyncMaxlen,
  kOptTunInfo,
  kOptTunType,
  kOptTunPort,
  kOptTunNoCsum,
  kOptTunCsum,
  kOptTunRemCsum,
  // uvs extensions (Alibaba LVS syntax), after ipvsadm's bits.
  kOptLaddr,
  kOptSynproxy,
  kOptCount,
};

inline constexpr uint64_t opt(OptionBit b) { return uint64_t{1} << b; }

// ipvsadm's value limits, checked by uvsadm when it reads them and by uvsd again when they
// arrive on its socket (ctl/validate.h), so a client other than uvsadm gets no further.
inline constexpr uint32_t kMaxTimeout = 86400 * 31;  // -p and --set: at most 31 days
inline constexpr int32_t kMaxWeight = INT32_MAX;     // -w, -x, -y: 0..INT_MAX
inline constexpr uint32_t kMaxThreshold = INT32_MAX;
inline constexpr int kMaxSyncId = 255;
// --sync-maxlen: the largest UDP payload of one IPv4 datagram (65535 - IP header - UDP header).
inline constexpr uint16_t kMaxSyncMaxlen = 65535 - 20 - 8;

// ipvsadm's process_options() refusals of a -A/-E definition, shared by both checks.
// "Zero port specified for non-persistent service":
inline bool zero_port_refused(const ServiceConfig& svc) {
  return !svc.key.is_fwmark() && svc.key.port == 0 && !svc.persistent();
}
// "One-Packet Scheduling is only for UDP virtual services":
inline bool one_packet_refused(const ServiceConfig& svc) {
  return (svc.flags & kSvcOnePacket) && !svc.key.is_fwmark() && svc.key.protocol != kProtoUdp;
}

// How `-L` output is shaped (client side only).
struct ListFormat {
  bool numeric = false;
  bool connections = false;
  bool timeout = false;
  bool daemon = false;
  bool stats = false;
  bool rate = false;
  bool thresholds = false;
  bool persistent_conn = false;
  bool tun_info = false;
  bool nosort = false;
  bool exact = false;
};

struct Command {
  CommandKind kind = CommandKind::kNone;
  uint64_t options = 0;  // opt(kOpt*) bits as given on the command line
  ServiceConfig svc;     // service identity and, for -A/-E, its full definition
  DestConfig dest;       // -a/-e/-d
  Timeouts timeouts{0, 0, 0};  // --set, 0 = unchanged
  DaemonConfig daemon;         // --start-daemon / --stop-daemon
  InetAddr laddr{};            // -P/-Q -z
  ListFormat list;             // -L/-S shaping

  bool has(OptionBit b) const { return options & opt(b); }
};

}  // namespace uvs
