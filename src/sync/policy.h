// What a master syncs and when, as ip_vs_sync_conn() and ip_vs_sync_conn_needed() decide it
// for each input packet, and how a connection becomes a record.
//
// Not carried over: sync_version 0 on the sending side (uvs reads v0, sends v1).
#pragma once

#include <cstdint>

#include "conn/conn.h"
#include "sync/message.h"

namespace uvs::sync {

struct SyncSettings {
  int threshold = 3;    // sync_threshold
  int period = 50;      // sync_period
  bool persist_mode = false;  // sync_persist_mode: connections under a template are not synced
  uint32_t refresh_period_ms = 0;  // sync_refresh_period (seconds in the sysctl)
  int retries = 0;                 // sync_retries: resends within a refresh period (0..3)
};

// ip_vs_sync_conn_needed(): whether the connection goes out now, given the input packet count
// the caller took for it (`pkts`). Records the state it syncs in c.old_state and, in
// `sync_endtime` (the kernel's cp->sync_endtime, on a millisecond clock that wraps), when the
// synced entry would expire on the backup, its two low bits counting the resends that
// sync_retries allows; a new connection's starts as now_ms & ~3.
bool sync_needed(conn::Conn& c, const SyncSettings& s, uint32_t pkts, bool in_persistence,
                 uint32_t& sync_endtime, uint32_t now_ms);

// The record for a connection; false for one the format cannot carry (an IPv4 connection to an
// IPv6 real server or the reverse, which ip_vs_sync_conn() does not sync either).
bool record_of(const conn::Conn& c, SyncConn& out);

}  // namespace uvs::sync
