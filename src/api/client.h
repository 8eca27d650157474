// uvsadm's side of the control socket.
#pragma once

#include <optional>
#include <span>
#include <string_view>
#include <string>

#include "api/protocol.h"

namespace uvs::api {

class Client {
 public:
  explicit Client(std::string socket_path) : path_(std::move(socket_path)) {}
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // Connects on first use; one connection serves every later call (a whole -R restore).
  bool connect();
  // nullopt when the daemon cannot be reached or hung up.
  std::optional<Reply> call(const Command& cmd);
  // One batch of uvsadm --pick (at most kPickBatch clients, as encode_pick_request() takes them).
  std::optional<Reply> pick(const Command& cmd, std::span<const std::string_view> clients);
  const std::string& path() const { return path_; }
  // errno of the last failure to connect or talk.
  int error() const { return error_; }

 private:
  std::optional<Reply> exchange(const std::string& request);

  std::string path_;
  int fd_ = -1;
  int error_ = 0;
};

// The socket to use: --socket, else $UVS_SOCKET, else the default.
std::string resolve_socket_path(const std::string& from_flag);

}  // namespace uvs::api
