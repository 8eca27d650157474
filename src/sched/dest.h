// The runtime object of one real server ("dest"), shared by the control plane, every worker's
// scheduler and the connection table. It is the kernel's struct ip_vs_dest minus the parts that
// belong elsewhere (statistics are per worker, the trash is the control plane's).
//
// Threads: configuration fields are written by the control plane only and read by workers;
// connection counters and the OVERLOAD bit are written by any worker. Everything is an atomic
// accessed with relaxed ordering: the kernel reads these without locks too, and a scheduler that
// sees a value one connection old makes a choice the kernel could also have made.
#pragma once

#include <atomic>
#include <cstdint>

#include "model/service.h"

namespace uvs::sched {

inline constexpr uint32_t kDestAvailable = 0x0001;  // IP_VS_DEST_F_AVAILABLE: linked in a service
inline constexpr uint32_t kDestOverload = 0x0002;   // IP_VS_DEST_F_OVERLOAD: over -x threshold

// Which counter a connection is counted in: templates (persistence) count in persistconns,
// normal connections in activeconns or inactconns by their IP_VS_CONN_F_INACTIVE flag.
enum class ConnKind : uint8_t { kActive, kInactive, kTemplate };

// How packets reach this dest; read by the forwarding code when it binds a connection.
struct DestForwarding {
  Fwd fwd = Fwd::kRoute;
  TunType tun_type = TunType::kIpip;
  TunCsum tun_flags = TunCsum::kNoCsum;
  uint16_t tun_port = 0;
};

class alignas(64) Dest {
 public:
  explicit Dest(const DestKey& key);
  Dest(const Dest&) = delete;
  Dest& operator=(const Dest&) = delete;

  const DestKey& key() const { return key_; }
  // Unique for the life of the process (never reused), so per-worker caches can name a dest
  // without holding a pointer that might dangle.
  uint64_t serial() const { return serial_; }

  int32_t weight() const { return weight_.load(std::memory_order_relaxed); }
  // The latest non-zero weight (0 only if added with weight 0): mh keeps a quiesced dest's slots.
  int32_t last_weight() const { return last_weight_.load(std::memory_order_relaxed); }
  uint32_t u_threshold() const { return u_threshold_.load(std::memory_order_relaxed); }
  uint32_t l_threshold() const { return l_threshold_.load(std::memory_order_relaxed); }
  uint32_t flags() const { return flags_.load(std::memory_order_relaxed); }
  bool available() const { return flags() & kDestAvailable; }
  bool overloaded() const { return flags() & kDestOverload; }
  DestForwarding forwarding() const;

  int32_t activeconns() const { return activeconns_.load(std::memory_order_relaxed); }
  int32_t inactconns() const { return inactconns_.load(std::memory_order_relaxed); }
  int32_t persistconns() const { return persistconns_.load(std::memory_order_relaxed); }
  // ip_vs_dest_totalconns(): what the thresholds compare against (templates do not count).
  int64_t total_conns() const { return int64_t{activeconns()} + inactconns(); }
  // ip_vs_dest_conn_overhead(): an active connection is taken to cost 256 inactive ones.
  int64_t overhead() const { return int64_t{activeconns()} * 256 + inactconns(); }

  // --- Control plane ---------------------------------------------------------------------
  // __ip_vs_update_dest(): weight (and last_weight on add or non-zero weight), thresholds,
  // forwarding; sets AVAILABLE; clears OVERLOAD when u_threshold becomes 0 or grows.
  // Callers normally go through ServiceSched, which also runs the scheduler hooks.
  void apply_config(const DestConfig& config, bool add);
  // __ip_vs_unlink_dest(): the dest left its service (deleted, or the service was deleted).
  void mark_unlinked() { flags_.fetch_and(~kDestAvailable, std::memory_order_relaxed); }

  // --- Connection table (any worker) ------------------------------------------------------
  // ip_vs_bind_dest(): count the connection, then set OVERLOAD if u_threshold != 0 and
  // active + inactive >= u_threshold.
  void bind_conn(ConnKind kind);
  // ip_vs_unbind_dest(): uncount the connection, then clear OVERLOAD when below l_threshold
  // (if set), else below 3/4 of u_threshold (if set), else unconditionally.
  void unbind_conn(ConnKind kind);
  // A connection's state moved between active and inactive (protocol state tables); the
  // thresholds are not re-evaluated here, as in the kernel.
  void conn_became_active();
  void conn_became_inactive();

 private:
  // Hot: everything a scheduler reads sits in the first cache line.
  const uint64_t serial_;
  std::atomic<int32_t> weight_{0};
  std::atomic<int32_t> last_weight_{0};
  std::atomic<uint32_t> flags_{0};
  std::atomic<uint32_t> u_threshold_{0};
  std::atomic<uint32_t> l_threshold_{0};
  std::atomic<int32_t> activeconns_{0};
  std::atomic<int32_t> inactconns_{0};
  std::atomic<int32_t> persistconns_{0};
  // Cold: identity and forwarding, read when a connection is created.
  alignas(64) const DestKey key_;
  std::atomic<uint64_t> forwarding_{0};  // DestForwarding packed, so an edit is seen whole
};

}  // namespace uvs::sched
