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
