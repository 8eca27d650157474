#include "api/server.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <exception>
#include <filesystem>

namespace uvs::api {

Server::Server(std::string path, Handler handler)
    : path_(std::move(path)), handler_(std::move(handler)) {}

Server::~Server() {
  stop();
  {
    std::lock_guard lock(clients_mutex_);
    for (auto& c : clients_)
      if (c.fd >= 0) ::shutdown(c.fd, SHUT_RDWR);
  }
  for (auto& c : clients_)
    if (c.thread.joinable()) c.thread.join();
  if (listen_fd_ >= 0) {
    ::close(listen_fd_);
    ::unlink(path_.c_str());
  }
  for (int fd : wake_pipe_)
    if (fd >= 0) ::close(fd);
}

bool Server::listen(std::string& error) {
  sockaddr_un sa{};
  sa.sun_family = AF_UNIX;
  if (path_.size() >= sizeof sa.sun_path) {
    error = "socket path too long: " + path_;
    return false;
  }
  std::memcpy(sa.sun_path, path_.c_str(), path_.size() + 1);

  std::error_code ec;
  auto parent = std::filesystem::path(path_).parent_path();
  if (!parent.empty()) std::filesystem::create_directories(parent, ec);

  // A live daemon answers a connect; a stale socket file does not and is replaced.
  int probe = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (probe >= 0) {
    bool live = ::connect(probe, reinterpret_cast<sockaddr*>(&sa), sizeof sa) == 0;
    ::close(probe);
    if (live) {
      error = "another uvsd is already running on " + path_;
      return false;
    }
  }
  // Bind and listen on a private name, then rename into place: a client that sees the path
  // can always connect.
  std::string staging = path_ + ".new";
  sockaddr_un staged = sa;
  if (staging.size() >= sizeof staged.sun_path) {
    error = "socket path too long: " + path_;
    return false;
  }
  std::memcpy(staged.sun_path, staging.c_str(), staging.size() + 1);
  ::unlink(staging.c_str());

  listen_fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (listen_fd_ < 0) {
    error = std::string("socket: ") + std::strerror(errno);
    return false;
  }
  mode_t old = ::umask(0177);  // the socket is born 0600
  int rc = ::bind(listen_fd_, reinterpret_cast<sockaddr*>(&staged), sizeof staged);
  ::umask(old);
  if (rc < 0 || ::chmod(staging.c_str(), 0600) < 0 || ::listen(listen_fd_, 64) < 0 ||
      ::rename(staging.c_str(), path_.c_str()) < 0) {
    error = "cannot listen on " + path_ + ": " + std::strerror(errno);
    ::close(listen_fd_);
    ::unlink(staging.c_str());
    listen_fd_ = -1;
    return false;
  }
  if (::pipe2(wake_pipe_, O_CLOEXEC | O_NONBLOCK) < 0) {
    error = std::string("pipe: ") + std::strerror(errno);
    return false;
  }
  return true;
}

void Server::stop() {
  stopping_ = true;
  if (wake_pipe_[1] >= 0) {
    char c = 0;
    [[maybe_unused]] ssize_t n = ::write(wake_pipe_[1], &c, 1);
  }
}

void Server::reap_finished() {
  std::lock_guard lock(clients_mutex_);
  for (auto it = clients_.begin(); it != clients_.end();) {
    if (it->done) {
      it->thread.join();
      it = clients_.erase(it);
    } else {
      ++it;
    }
  }
}

void Server::serve() {
  while (!stopping_) {
    pollfd fds[2] = {{listen_fd_, POLLIN, 0}, {wake_pipe_[0], POLLIN, 0}};
    int n = ::poll(fds, 2, 1000);
    reap_finished();
    if (n < 0 && errno != EINTR) break;
    if (n <= 0 || !(fds[0].revents & POLLIN)) continue;
    int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) continue;
    std::lock_guard lock(clients_mutex_);
    if (clients_.size() >= kMaxClients) {
      ::close(fd);  // shed load rather than queue without bound
      continue;
    }
    // A client that stalls mid-request is dropped instead of holding a thread forever.
    timeval tv{10, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    auto& slot = clients_.emplace_back();
    slot.fd = fd;
    slot.thread = std::thread([this, &slot] { serve_client(slot); });
  }
}

void Server::serve_client(ClientSlot& slot) {
  std::string payload;
  while (!stopping_) {
    ReadStatus st = read_frame(slot.fd, kMaxRequestBytes, payload);
    if (st != ReadStatus::kOk) break;  // closed, oversized or truncated: hang up
    Reply reply;
    try {
      reply = handler_(decode_request(payload));
    } catch (const std::exception&) {
      reply = Reply{EINVAL, std::nullopt, {}};
    }
    if (!write_frame(slot.fd, encode_reply(reply))) break;
  }
  {
    std::lock_guard lock(clients_mutex_);
    ::close(slot.fd);
    slot.fd = -1;
  }
  slot.done = true;
}

}  // namespace uvs::api
