#include "api/client.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <exception>

namespace uvs::api {

Client::~Client() {
  if (fd_ >= 0) ::close(fd_);
}

bool Client::connect() {
  if (fd_ >= 0) return true;
  sockaddr_un sa{};
  sa.sun_family = AF_UNIX;
  if (path_.size() >= sizeof sa.sun_path) {
    error_ = ENAMETOOLONG;
    return false;
  }
  std::memcpy(sa.sun_path, path_.c_str(), path_.size() + 1);
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    error_ = errno;
    return false;
  }
  if (::connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) < 0) {
    error_ = errno;
    ::close(fd);
    return false;
  }
  fd_ = fd;
  return true;
}

std::optional<Reply> Client::call(const Command& cmd) { return exchange(encode_request(cmd)); }

std::optional<Reply> Client::pick(const Command& cmd, std::span<const std::string_view> clients) {
  return exchange(encode_pick_request(cmd, clients));
}

std::optional<Reply> Client::exchange(const std::string& request) {
  // uvsd closes a connection that stays idle past its request deadline (a slow -R on a
  // terminal); nothing was read from it, so a reused connection that turns out closed before
  // any reply is opened again once.
  const bool reused = fd_ >= 0;
  for (int attempt = 0; attempt < 2; ++attempt) {
    if (!connect()) return std::nullopt;
    std::string payload;
    errno = 0;
    ReadStatus st = ReadStatus::kError;
    const bool sent = write_frame(fd_, request);
    if (sent) st = read_frame(fd_, kMaxReplyBytes, payload);
    if (st == ReadStatus::kOk) {
      try {
        return decode_reply(payload);
      } catch (const std::exception&) {
        return std::nullopt;
      }
    }
    error_ = errno ? errno : ECONNRESET;
    ::close(fd_);
    fd_ = -1;
    const bool closed_idle = st == ReadStatus::kClosed || error_ == EPIPE || error_ == ECONNRESET;
    if (!(reused && attempt == 0 && closed_idle)) return std::nullopt;
  }
  return std::nullopt;
}

std::string resolve_socket_path(const std::string& from_flag) {
  if (!from_flag.empty()) return from_flag;
  if (const char* env = std::getenv("UVS_SOCKET"); env && *env) return env;
  return kDefaultSocket;
}

}  // namespace uvs::api
