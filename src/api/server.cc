#include "api/server.h"

#include <fcntl.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <exception>
#include <filesystem>

#include <nlohmann/json.hpp>

namespace uvs::api {

namespace {

constexpr uint64_t kListenTag = 0;
constexpr uint64_t kWakeTag = 1;
// Descriptors kept back from clients: AF_XDP sockets, BPF maps, netlink, config files.
constexpr rlim_t kReservedFds = 256;
// After accept() ran out of descriptors, how long new clients wait in the backlog before the
// next try (a closing client also frees one).
constexpr auto kAcceptRetry = std::chrono::milliseconds(100);

using Clock = std::chrono::steady_clock;

bool fill_address(const std::string& path, sockaddr_un& sa) {
  sa = sockaddr_un{};
  sa.sun_family = AF_UNIX;
  if (path.size() >= sizeof sa.sun_path) return false;
  std::memcpy(sa.sun_path, path.c_str(), path.size() + 1);
  return true;
}

bool answers(const sockaddr_un& sa) {
  int probe = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (probe < 0) return false;
  bool live = ::connect(probe, reinterpret_cast<const sockaddr*>(&sa), sizeof sa) == 0;
  ::close(probe);
  return live;
}

// Clients uvsd can hold open: raises the soft descriptor limit to the hard one (a thousand
// clients do not fit in the usual 1024) and keeps a reserve for everything else.
size_t client_capacity(size_t wanted) {
  rlimit rl{};
  if (::getrlimit(RLIMIT_NOFILE, &rl) == 0) {
    if (rl.rlim_cur < rl.rlim_max) {
      rlimit raised = rl;
      raised.rlim_cur = std::min<rlim_t>(rl.rlim_max, rlim_t{1} << 20);
      if (::setrlimit(RLIMIT_NOFILE, &raised) == 0) rl = raised;
    }
  } else {
    rl.rlim_cur = 1024;
  }
  const size_t fit = rl.rlim_cur > 2 * kReservedFds ? rl.rlim_cur - kReservedFds : rl.rlim_cur / 2;
  return wanted == 0 ? fit : std::min(wanted, fit);
}

}  // namespace

Server::Server(std::string path, Handler handler, ServerOptions options)
    : path_(std::move(path)), handler_(std::move(handler)), options_(options) {
  if (options_.handler_threads == 0) options_.handler_threads = 1;
}

Server::~Server() {
  stop();
  for (auto& [id, c] : conns_)
    if (c->fd >= 0) ::close(c->fd);
  if (listen_fd_ >= 0) {
    ::close(listen_fd_);
    // Only the socket this server made: never a file someone put there since.
    struct stat st;
    if (::lstat(path_.c_str(), &st) == 0 && S_ISSOCK(st.st_mode) && st.st_dev == socket_dev_ &&
        st.st_ino == socket_ino_)
      ::unlink(path_.c_str());
  }
  if (epoll_fd_ >= 0) ::close(epoll_fd_);
  for (int fd : wake_pipe_)
    if (fd >= 0) ::close(fd);
}

bool Server::listen(std::string& error) {
  sockaddr_un sa;
  const std::string staging = path_ + ".new";
  sockaddr_un staged;
  if (!fill_address(path_, sa) || !fill_address(staging, staged)) {
    error = "socket path too long: " + path_;
    return false;
  }

  std::error_code ec;
  auto parent = std::filesystem::path(path_).parent_path();
  if (!parent.empty()) std::filesystem::create_directories(parent, ec);

  // Only a socket may be replaced, and only a stale one: `--socket /etc/uvs/rules` (a slip
  // for --config) must not destroy the rules.
  struct stat st;
  if (::lstat(path_.c_str(), &st) == 0) {
    if (!S_ISSOCK(st.st_mode)) {
      error = path_ + " exists and is not a socket; refusing to replace it";
      return false;
    }
    if (answers(sa)) {
      error = "another uvsd is already running on " + path_;
      return false;
    }
  }

  listen_fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (listen_fd_ < 0) {
    error = std::string("socket: ") + std::strerror(errno);
    return false;
  }
  // Bind and listen on a private name, then rename into place: a client that sees the path
  // can always connect. bind() never replaces a file, so a leftover staging name is removed
  // only when it is a socket.
  auto fail = [&](const std::string& what) {
    error = what;
    ::close(listen_fd_);
    listen_fd_ = -1;
    return false;
  };
  mode_t old = ::umask(0177);  // the socket is born 0600
  int rc = ::bind(listen_fd_, reinterpret_cast<sockaddr*>(&staged), sizeof staged);
  if (rc < 0 && errno == EADDRINUSE && ::lstat(staging.c_str(), &st) == 0 &&
      S_ISSOCK(st.st_mode) && !answers(staged)) {
    ::unlink(staging.c_str());
    rc = ::bind(listen_fd_, reinterpret_cast<sockaddr*>(&staged), sizeof staged);
  }
  ::umask(old);
  if (rc < 0) {
    return fail(errno == EADDRINUSE ? staging + " exists and is not a stale socket; refusing to "
                                          "replace it"
                                    : "cannot listen on " + path_ + ": " + std::strerror(errno));
  }
  if (::chmod(staging.c_str(), 0600) < 0 || ::listen(listen_fd_, SOMAXCONN) < 0 ||
      ::rename(staging.c_str(), path_.c_str()) < 0 || ::lstat(path_.c_str(), &st) < 0) {
    std::string why = "cannot listen on " + path_ + ": " + std::strerror(errno);
    ::unlink(staging.c_str());
    return fail(why);
  }
  socket_dev_ = st.st_dev;
  socket_ino_ = st.st_ino;

  options_.max_clients = client_capacity(options_.max_clients);
  epoll_fd_ = ::epoll_create1(EPOLL_CLOEXEC);
  if (epoll_fd_ < 0 || ::pipe2(wake_pipe_, O_CLOEXEC | O_NONBLOCK) < 0) {
    error = std::string("epoll: ") + std::strerror(errno);
    return false;
  }
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.u64 = kListenTag;
  ::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, listen_fd_, &ev);
  ev.data.u64 = kWakeTag;
  ::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, wake_pipe_[0], &ev);
  return true;
}

void Server::stop() {
  stopping_ = true;
  if (wake_pipe_[1] >= 0) {
    char c = 0;
    [[maybe_unused]] ssize_t n = ::write(wake_pipe_[1], &c, 1);
  }
}

void Server::serve() {
  for (unsigned i = 0; i < options_.handler_threads; ++i)
    handlers_.emplace_back([this] { handler_loop(); });
  epoll_event events[256];
  while (!stopping_) {
    int timeout_ms = 1000;
    const auto now = Clock::now();
    if (!timers_.empty()) {
      const auto left = std::chrono::ceil<std::chrono::milliseconds>(
          conns_.at(timers_.front())->deadline - now);
      timeout_ms = static_cast<int>(std::clamp<int64_t>(left.count(), 0, timeout_ms));
    }
    if (accept_paused_) timeout_ms = std::min<int>(timeout_ms, kAcceptRetry.count());
    int n = ::epoll_wait(epoll_fd_, events, 256, timeout_ms);
    if (n < 0 && errno != EINTR) break;
    for (int i = 0; i < n; ++i) {
      const uint64_t tag = events[i].data.u64;
      if (tag == kListenTag) {
        accept_clients();
      } else if (tag == kWakeTag) {
        char buf[256];
        while (::read(wake_pipe_[0], buf, sizeof buf) > 0) {
        }
        take_done();
      } else if (auto it = conns_.find(tag); it != conns_.end() && it->second->fd >= 0) {
        on_event(*it->second, events[i].events);
      }
    }
    expire(Clock::now());
    for (auto it = conns_.begin(); it != conns_.end();)
      it = it->second->fd < 0 ? conns_.erase(it) : std::next(it);
    if (accept_paused_ && conns_.size() < options_.max_clients && Clock::now() >= accept_retry_)
      pause_accepting(false);
  }
  stopping_ = true;
  { std::lock_guard lock(jobs_mutex_); }  // a handler between its check and its wait sees it
  jobs_cv_.notify_all();
  for (auto& t : handlers_) t.join();
  handlers_.clear();
  for (auto& [id, c] : conns_) close_conn(*c);
  conns_.clear();
  timers_.clear();
}

void Server::accept_clients() {
  for (int i = 0; i < 1024; ++i) {
    if (conns_.size() >= options_.max_clients) {
      pause_accepting(true);  // the rest wait in the backlog until a client leaves
      return;
    }
    int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (fd < 0) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
        accept_retry_ = Clock::now() + kAcceptRetry;
        pause_accepting(true);
      }
      return;  // EAGAIN: the backlog is empty
    }
    auto conn = std::make_unique<Conn>();
    conn->id = next_id_++;
    conn->fd = fd;
    epoll_event ev{};
    ev.events = uint32_t{EPOLLIN} | uint32_t{EPOLLRDHUP};
    ev.data.u64 = conn->id;
    if (::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev) < 0) {
      ::close(fd);
      continue;
    }
    Conn& c = *conn;
    conns_.emplace(c.id, std::move(conn));
    arm(c);  // the first request's deadline runs from accept
  }
}

void Server::pause_accepting(bool pause) {
  if (pause == accept_paused_) return;
  accept_paused_ = pause;
  epoll_event ev{};
  ev.events = pause ? 0u : uint32_t{EPOLLIN};
  ev.data.u64 = kListenTag;
  ::epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, listen_fd_, &ev);
}

void Server::on_event(Conn& c, uint32_t events) {
  switch (c.state) {
    case State::kReading:
      read_request(c);
      break;
    case State::kWriting:
      if (events & (EPOLLERR | EPOLLHUP))
        close_conn(c);
      else if (events & EPOLLOUT)
        write_reply(c);
      break;
    case State::kHandling:
      // Only hang-ups are watched meanwhile; the reply, when it comes, is dropped.
      if (events & (EPOLLERR | EPOLLHUP)) close_conn(c);
      break;
  }
}

void Server::read_request(Conn& c) {
  char buf[65536];
  // Bounded per event so that one fast client cannot starve the others.
  for (int i = 0; i < 16 && c.fd >= 0 && c.state == State::kReading; ++i) {
    ssize_t n = ::read(c.fd, buf, sizeof buf);
    if (n > 0) {
      c.in.feed(buf, static_cast<size_t>(n));
      next_request(c);
    } else if (n == 0) {
      close_conn(c);  // closed, possibly mid-request: nothing was applied
    } else if (errno != EINTR) {
      if (errno != EAGAIN) close_conn(c);
      return;
    }
  }
}

void Server::next_request(Conn& c) {
  std::string payload;
  switch (c.in.next(payload)) {
    case FrameDecoder::Status::kNeedMore:
      return;
    case FrameDecoder::Status::kTooLarge:
      close_conn(c);  // oversized: hang up rather than read a megabyte of garbage
      return;
    case FrameDecoder::Status::kFrame:
      break;
  }
  disarm(c);  // the time the control plane takes is not the client's
  c.state = State::kHandling;
  watch(c, 0);
  {
    std::lock_guard lock(jobs_mutex_);
    jobs_.push_back(Job{c.id, std::move(payload)});
  }
  jobs_cv_.notify_one();
}

void Server::handler_loop() {
  for (;;) {
    Job job;
    {
      std::unique_lock lock(jobs_mutex_);
      jobs_cv_.wait(lock, [this] { return stopping_ || !jobs_.empty(); });
      if (stopping_) return;
      job = std::move(jobs_.front());
      jobs_.pop_front();
    }
    std::string frame = answer(job.payload);
    {
      std::lock_guard lock(done_mutex_);
      done_.push_back(Done{job.id, std::move(frame)});
    }
    char c = 0;
    // A full pipe already holds a wake-up.
    [[maybe_unused]] ssize_t n = ::write(wake_pipe_[1], &c, 1);
  }
}

std::string Server::answer(const std::string& payload) {
  Reply reply;
  try {
    const nlohmann::json request = nlohmann::json::parse(payload);
    if (is_genl_request(request)) {
      std::optional<GenlRelayRequest> relayed = decode_genl_request(request);
      GenlRelayReply genl_reply{EINVAL, {}};
      if (relayed && genl_handler_) genl_reply = genl_handler_(*relayed);
      return encode_frame(encode_genl_reply(genl_reply));
    }
    if (request.is_object() && request.contains("takeover"))
      return encode_frame(takeover_handler_ ? takeover_handler_() : encode_reply(Reply{EINVAL, {}, {}}));
    if (is_pick_request(request)) {
      const Command cmd = decode_request(request);
      const std::vector<ClientTuple> clients = decode_pick_clients(request);
      reply = pick_handler_ ? pick_handler_(cmd, clients) : Reply{EINVAL, {}, {}, {}};
    } else {
      reply = handler_(decode_request(request));
    }
  } catch (const std::exception&) {
    reply = Reply{EINVAL, std::nullopt, {}};
  }
  std::string body;
  try {
    body = encode_reply(reply);
  } catch (const std::exception&) {
    body = encode_reply(Reply{EIO, std::nullopt, {}});
  }
  return encode_frame(body);
}

void Server::take_done() {
  std::vector<Done> done;
  {
    std::lock_guard lock(done_mutex_);
    done.swap(done_);
  }
  for (auto& d : done) {
    auto it = conns_.find(d.id);
    if (it == conns_.end() || it->second->fd < 0) continue;  // hung up while it was handled
    Conn& c = *it->second;
    c.out = std::move(d.frame);
    c.out_off = 0;
    c.state = State::kWriting;
    arm(c);  // the whole reply must leave within one deadline
    write_reply(c);
  }
}

void Server::write_reply(Conn& c) {
  while (c.out_off < c.out.size()) {
    ssize_t n = ::send(c.fd, c.out.data() + c.out_off, c.out.size() - c.out_off,
                       MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n > 0) {
      c.out_off += static_cast<size_t>(n);
    } else if (n < 0 && errno == EINTR) {
      continue;
    } else if (n < 0 && errno == EAGAIN) {
      watch(c, EPOLLOUT);
      return;
    } else {
      close_conn(c);
      return;
    }
  }
  std::string().swap(c.out);  // a listing can be large: do not keep it per connection
  c.out_off = 0;
  c.state = State::kReading;
  arm(c);
  watch(c, uint32_t{EPOLLIN} | uint32_t{EPOLLRDHUP});
  next_request(c);  // a client may have sent its next request already
}

void Server::expire(Clock::time_point now) {
  while (!timers_.empty()) {
    Conn& c = *conns_.at(timers_.front());
    if (c.deadline > now) return;
    ++deadline_closes_;
    close_conn(c);  // disarms, so the front moves on
  }
}

void Server::arm(Conn& c) {
  disarm(c);
  c.deadline = Clock::now() + options_.deadline;
  c.timer = timers_.insert(timers_.end(), c.id);
  c.armed = true;
}

void Server::disarm(Conn& c) {
  if (!c.armed) return;
  timers_.erase(c.timer);
  c.armed = false;
}

void Server::watch(Conn& c, uint32_t events) {
  epoll_event ev{};
  ev.events = events;
  ev.data.u64 = c.id;
  ::epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, c.fd, &ev);
}

void Server::close_conn(Conn& c) {
  if (c.fd < 0) return;
  disarm(c);
  ::epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, c.fd, nullptr);
  ::close(c.fd);
  c.fd = -1;  // erased from conns_ after this round of events
}

}  // namespace uvs::api
