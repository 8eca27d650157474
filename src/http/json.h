// /api/v1/...: the same figures as /metrics and uvsadm's listings, as JSON for scripts and for
// the live page.
#pragma once

#include <cstdint>
#include <vector>

#include <nlohmann/json.hpp>

#include "dp/report.h"
#include "model/listing.h"

namespace uvs::http {

// /api/v1/services: every service with its real servers, counters and rates (-Ln --stats
// --rate), and its FULLNAT local addresses (-G).
nlohmann::json services_json(const TableView& table);
// /api/v1/stats: totals, per worker counters and drops, the connection table's fill, the fast
// path and the sync daemons. `now_ms` stamps it (wall clock) so readers can make rates.
nlohmann::json stats_json(const TableView& table, const dp::DataPlaneReport* dataplane,
                          uint64_t now_ms);
// /api/v1/connections: conns[offset, offset + limit) of `conns` (as -Lnc), with the total.
nlohmann::json connections_json(const std::vector<ConnView>& conns, size_t offset, size_t limit);

}  // namespace uvs::http
