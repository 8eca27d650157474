// What a master syncs and when, as ip_vs_sync_conn() and ip_vs_sync_conn_needed() decide it
// for each input packet, and how a connection becomes a record.
//
// Not carried over: sync_refresh_period (the kernel's default 0 is what uvs does: the
// threshold/period rule alone) and sync_version 0 on the sending side (uvs reads v0, sends v1).
#pragma once

#include <cstdint>

#include "conn/conn.h"
#include "sync/message.h"

namespace uvs::sync {

struct SyncSettings {
  int threshold = 3;    // sync_threshold
  int period = 50;      // sync_period
  bool persist_mode = false;  // sync_persist_mode: connections under a template are not synced
};

// ip_vs_sync_conn_needed(): whether the connection goes out now, given the input packet count
// the caller took for it (`pkts`). Records the state it syncs in c.old_state.
bool sync_needed(conn::Conn& c, const SyncSettings& s, uint32_t pkts, bool in_persistence);

// The record for a connection; false for one the format cannot carry (an IPv4 connection to an
// IPv6 real server or the reverse, which ip_vs_sync_conn() does not sync either).
bool record_of(const conn::Conn& c, SyncConn& out);

}  // namespace uvs::sync
