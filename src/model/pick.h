// uvsadm --pick: which real server a service's scheduler would give a client, asked of a running
// uvsd without sending packets (directors of a cluster compared, a runbook checked). Only for
// the schedulers whose choice depends on the client tuple alone (mh, sh, dh).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "model/service.h"

namespace uvs {

// A client as the hashing schedulers see the first packet of its connection.
struct ClientTuple {
  InetAddr addr{};
  uint16_t port = 0;  // host order
  friend bool operator==(const ClientTuple&, const ClientTuple&) = default;
};

// "ADDR:PORT", IPv6 as "[ADDR]:PORT": numeric addresses (no name lookups, a million of them
// must read in seconds) and a decimal port 0..65535, nothing else on the line.
std::optional<ClientTuple> parse_client_tuple(std::string_view text);

// One batch's answer: for each client, in order, the index in `dests` of the real server picked,
// or -1 when the scheduler gives none.
struct PickView {
  std::string sched_name;      // also set when the scheduler is refused, for the error
  std::vector<DestKey> dests;  // the service's real servers (kernel list order)
  std::vector<int32_t> picks;
};

// Clients per --pick request: at most 56 bytes of JSON each (an IPv6 literal is at most 45
// characters, then brackets, a colon, 5 digits, quotes and a comma), so a batch stays under
// half the control socket's 1 MiB request limit.
inline constexpr size_t kPickBatch = 8192;

}  // namespace uvs
