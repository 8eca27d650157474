// The control socket protocol: length-prefixed JSON frames over a UNIX stream socket.
// A request is one Command; the reply carries an errno and, for reads, a table snapshot.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "model/command.h"
#include "model/listing.h"

namespace uvs::api {

inline constexpr const char* kDefaultSocket = "/run/uvs/uvsd.sock";
inline constexpr size_t kMaxRequestBytes = 1 << 20;   // a command is a few hundred bytes
inline constexpr size_t kMaxReplyBytes = 1u << 30;    // connection dumps can be large

struct Reply {
  int err = 0;                      // 0 or the errno of the failed operation, as IPVS returns it
  std::optional<TableView> table;   // list/save/get-laddr
  std::vector<ConnView> conns;      // list -c
};

std::string encode_request(const Command& cmd);
// Throws on malformed input (control plane only).
Command decode_request(const std::string& bytes);
std::string encode_reply(const Reply& reply);
Reply decode_reply(const std::string& bytes);

// Frame I/O: 4-byte big-endian length, then the payload. Both retry on EINTR.
bool write_frame(int fd, const std::string& payload);
enum class ReadStatus { kOk, kClosed, kTooLarge, kError };
ReadStatus read_frame(int fd, size_t max_bytes, std::string& payload);

}  // namespace uvs::api
