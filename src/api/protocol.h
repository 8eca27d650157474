// The control socket protocol: length-prefixed JSON frames over a UNIX stream socket.
// A request is one Command (with a batch of clients for --pick); the reply carries an errno and,
// for reads, a table snapshot (or the picks).
#pragma once

#include <cstddef>
#include <optional>
#include <span>
#include <string_view>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "api/frame.h"
#include "model/command.h"
#include "model/listing.h"
#include "model/pick.h"

namespace uvs::api {

inline constexpr const char* kDefaultSocket = "/run/uvs/uvsd.sock";
inline constexpr size_t kMaxRequestBytes = 1 << 20;   // a command is a few hundred bytes
inline constexpr size_t kMaxReplyBytes = 1u << 30;    // connection dumps can be large

struct Reply {
  int err = 0;                      // 0 or the errno of the failed operation, as IPVS returns it
  std::optional<TableView> table;   // list/save/get-laddr
  std::vector<ConnView> conns;      // list -c
  std::optional<PickView> pick;     // --pick
};

std::string encode_request(const Command& cmd);
// Throws on malformed input (control plane only).
Command decode_request(const std::string& bytes);
// The same, from a request already parsed (the server looks at its kind first).
Command decode_request(const nlohmann::json& request);
// --pick: the Command (kind kPick, the service) with one batch of clients beside it, as
// {"command": {...}, "clients": ["ADDR:PORT", ...]}: the texts as uvsadm read them (each one
// parse_client_tuple() takes), so that a million need no formatting.
std::string encode_pick_request(const Command& cmd, std::span<const std::string_view> clients);
bool is_pick_request(const nlohmann::json& request);
// Throws on a malformed client (control plane only).
std::vector<ClientTuple> decode_pick_clients(const nlohmann::json& request);
std::string encode_reply(const Reply& reply);
Reply decode_reply(const std::string& bytes);

}  // namespace uvs::api
