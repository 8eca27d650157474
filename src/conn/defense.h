// The kernel's defence strategies against connection floods (ip_vs_ctl.c's drop_entry,
// drop_packet, secure_tcp), per worker, adapted to a table of fixed size: "available memory"
// is the worker's free entries and "amemthresh" the free entries below which its table counts
// as full (by default when it is more than 90% full).
//
// Modes as the sysctls: 0 off, 1 automatic (armed), 2 automatic (active; falls back to 1 once
// the table has room again), 3 always. update() is the kernel's once-a-second
// update_defense_level(); the Tracker runs the drop_entry scan and consults the rest.
#pragma once

#include <cstdint>

#include "conn/conn.h"

namespace uvs::conn {

struct DefenseModes {
  int drop_entry = 0;
  int drop_packet = 0;
  int secure_tcp = 0;
  int am_droprate = 10;        // drop 1 in am_droprate new connections in drop_packet mode 3
  uint32_t full_percent = 90;  // "low memory": more than this percentage of entries in use
};

class Defense {
 public:
  explicit Defense(const DefenseModes& modes = {}) { set_modes(modes); }

  // New sysctl values; automatic modes restart from what was written, as in the kernel.
  void set_modes(const DefenseModes& modes);
  // Evaluates the table (once a second, and after set_modes).
  void update(uint32_t available, uint32_t capacity);

  // Current values of the three modes (1 and 2 alternate in automatic mode).
  const DefenseModes& modes() const { return modes_; }
  bool low_memory() const { return low_memory_; }
  bool drop_entry_active() const { return drop_entry_active_; }
  bool secure_tcp_active() const { return modes_.secure_tcp > 1; }
  uint32_t drop_rate() const { return drop_rate_; }

  // ip_vs_todrop(): one new connection in drop_rate is refused while drop_packet is active.
  bool drop_packet() {
    if (drop_rate_ == 0) return false;
    if (--drop_counter_ > 0) return false;
    drop_counter_ = static_cast<int32_t>(drop_rate_);
    return true;
  }

  // todrop_entry(): whether the drop_entry scan drops `c` (an established or datagram
  // connection). Entries touched in the last 60 s are kept; of the rest, those with 1..8 input
  // packets go, one in n for n packets, so the emptiest go first; more packets, never.
  bool drop_entry_candidate(const Conn& c, uint64_t now_ms);

 private:
  DefenseModes modes_;
  bool low_memory_ = false;
  bool drop_entry_active_ = false;
  uint32_t drop_rate_ = 0;
  int32_t drop_counter_ = 0;
  int8_t entry_counters_[8] = {};
};

}  // namespace uvs::conn
