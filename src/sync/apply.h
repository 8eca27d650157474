// What a backup's worker does with one good record (ip_vs_proc_conn()): the connection or
// template it describes is created, updated, or replaced in that worker's table.
#pragma once

#include <cstdint>

#include "conn/tracker.h"
#include "sync/message.h"

namespace uvs::sync {

enum class Applied : uint8_t {
  kCreated,
  kUpdated,    // same real server: activity and timer from the record
  kReplaced,   // another real server and the record is active: the old one expired, new made
  kIgnored,    // another real server and the record inactive: the news of a replaced one
  kTableFull,
};

// ip_vs_find_dest() over the worker's configuration: the real server a record names (by its
// service, or fwmark), null when it does not exist (yet).
using FindDest = sched::Dest* (*)(void* ctx, const SyncConn& record);

// `sync_threshold` becomes the entry's in_pkts, as on the kernel's backup, so that the entry
// is synced on at the master's rhythm if this director becomes master.
Applied apply_record(conn::Tracker& tracker, const SyncConn& record, FindDest find, void* ctx,
                     int sync_threshold, uint64_t now_ms);

}  // namespace uvs::sync
