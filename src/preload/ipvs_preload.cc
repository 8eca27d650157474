// libuvs-ipvs.so: an LD_PRELOAD library giving a process an IPVS generic-netlink family backed
// by uvsd. socket(AF_NETLINK, ..., NETLINK_GENERIC) returns one end of an AF_UNIX SOCK_DGRAM
// socketpair (so MSG_PEEK|MSG_TRUNC, poll and epoll behave as on netlink); the other end stays
// hidden at a high CLOEXEC fd. What the process sends is answered in sendmsg(): requests for IPVS
// (and its CTRL_CMD_GETFAMILY) go to uvsd over the control socket, everything else to a hidden
// real NETLINK_GENERIC socket; the replies are queued on the pair for the process to read.
#ifdef _FORTIFY_SOURCE
#undef _FORTIFY_SOURCE
#endif

#include <dlfcn.h>
#include <fcntl.h>
#include <linux/genetlink.h>
#include <linux/netlink.h>
#include <poll.h>
#include <pthread.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdarg>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "api/genl_relay.h"
#include "preload/netlink_wire.h"

#define UVS_EXPORT extern "C" __attribute__((visibility("default")))

// Not declared without _FORTIFY_SOURCE (or at all, for fcntl64 on LP64 without LFS macros).
extern "C" {
ssize_t __recv_chk(int, void*, size_t, size_t, int);
ssize_t __recvfrom_chk(int, void*, size_t, size_t, int, struct sockaddr*, socklen_t*);
ssize_t __read_chk(int, void*, size_t, size_t);
int fcntl64(int, int, ...);
}

namespace {

using uvs::preload::Bytes;

// ---------------------------------------------------------------------------------------------
// The next definitions of everything interposed (libc's).

struct Real {
  int (*socket)(int, int, int);
  int (*socketpair)(int, int, int, int*);
  int (*bind)(int, const sockaddr*, socklen_t);
  int (*connect)(int, const sockaddr*, socklen_t);
  int (*getsockname)(int, sockaddr*, socklen_t*);
  int (*getpeername)(int, sockaddr*, socklen_t*);
  int (*setsockopt)(int, int, int, const void*, socklen_t);
  int (*getsockopt)(int, int, int, void*, socklen_t*);
  ssize_t (*send)(int, const void*, size_t, int);
  ssize_t (*sendto)(int, const void*, size_t, int, const sockaddr*, socklen_t);
  ssize_t (*sendmsg)(int, const msghdr*, int);
  int (*sendmmsg)(int, mmsghdr*, unsigned, int);
  ssize_t (*write)(int, const void*, size_t);
  ssize_t (*writev)(int, const iovec*, int);
  ssize_t (*recv)(int, void*, size_t, int);
  ssize_t (*recvfrom)(int, void*, size_t, int, sockaddr*, socklen_t*);
  ssize_t (*recvmsg)(int, msghdr*, int);
  ssize_t (*read)(int, void*, size_t);
  ssize_t (*readv)(int, const iovec*, int);
  ssize_t (*recv_chk)(int, void*, size_t, size_t, int);
  ssize_t (*recvfrom_chk)(int, void*, size_t, size_t, int, sockaddr*, socklen_t*);
  ssize_t (*read_chk)(int, void*, size_t, size_t);
  int (*close)(int);
  int (*dup)(int);
  int (*dup2)(int, int);
  int (*dup3)(int, int, int);
  int (*fcntl)(int, int, ...);
  int (*fcntl64)(int, int, ...);
  int (*close_range)(unsigned, unsigned, int);
};

template <typename F>
void resolve(F& fn, const char* name) {
  fn = reinterpret_cast<F>(dlsym(RTLD_NEXT, name));
}

const Real& real() {
  static const Real r = [] {
    Real x{};
    resolve(x.socket, "socket");
    resolve(x.socketpair, "socketpair");
    resolve(x.bind, "bind");
    resolve(x.connect, "connect");
    resolve(x.getsockname, "getsockname");
    resolve(x.getpeername, "getpeername");
    resolve(x.setsockopt, "setsockopt");
    resolve(x.getsockopt, "getsockopt");
    resolve(x.send, "send");
    resolve(x.sendto, "sendto");
    resolve(x.sendmsg, "sendmsg");
    resolve(x.sendmmsg, "sendmmsg");
    resolve(x.write, "write");
    resolve(x.writev, "writev");
    resolve(x.recv, "recv");
    resolve(x.recvfrom, "recvfrom");
    resolve(x.recvmsg, "recvmsg");
    resolve(x.read, "read");
    resolve(x.readv, "readv");
    resolve(x.recv_chk, "__recv_chk");
    resolve(x.recvfrom_chk, "__recvfrom_chk");
    resolve(x.read_chk, "__read_chk");
    resolve(x.close, "close");
    resolve(x.dup, "dup");
    resolve(x.dup2, "dup2");
    resolve(x.dup3, "dup3");
    resolve(x.fcntl, "fcntl");
    resolve(x.fcntl64, "fcntl64");
    resolve(x.close_range, "close_range");
    return x;
  }();
  return r;
}

// Our own calls (frame I/O to uvsd, the hidden sockets) pass straight through the interposers.
thread_local int t_inside = 0;
struct Inside {
  Inside() { ++t_inside; }
  ~Inside() { --t_inside; }
  Inside(const Inside&) = delete;
  Inside& operator=(const Inside&) = delete;
};

struct ErrnoKeeper {
  int saved = errno;
  ~ErrnoKeeper() { errno = saved; }
};

int fail(int err) {
  errno = err;
  return -1;
}

// An open file's identity: an fd number alone may have been closed and reused behind our back.
struct FdId {
  dev_t dev = 0;
  ino_t ino = 0;
  bool operator==(const FdId&) const = default;
};

FdId id_of(int fd) {
  struct stat st;
  if (fd < 0 || fstat(fd, &st) != 0) return {};
  return {st.st_dev, st.st_ino};
}

// ---------------------------------------------------------------------------------------------
// The captured sockets.

struct Sock {
  int type = SOCK_RAW;  // as the process asked (SO_TYPE)
  // Guarded by State::mu.
  FdId app;
  uint32_t portid = 0;
  bool bound = false;
  uint32_t groups = 0;
  std::map<int, int> flags;  // SOL_NETLINK boolean options as set

  // Guarded by io, which one request's processing holds from send to queued replies.
  std::mutex io;
  int peer = -1;  // the pair's hidden end, where replies are written
  FdId peer_id;
  int kernel = -1;  // the hidden real NETLINK_GENERIC socket, opened on first use
  FdId kernel_id;
  uint32_t kernel_portid = 0;
  std::deque<Bytes> pending;  // replies not yet on the pair (its queue is bounded)

  Sock() = default;
  Sock(const Sock&) = delete;
  Sock& operator=(const Sock&) = delete;
  ~Sock();
};

struct State {
  std::mutex mu;
  std::unordered_map<int, std::shared_ptr<Sock>> fds;  // the process's fds, dups included
  std::unordered_map<int, FdId> hidden;                // our fds, protected from close()
  std::atomic<size_t> active{0};                       // fds + hidden: 0 means pass through
  uint32_t rover = static_cast<uint32_t>(-4096);       // netlink_autobind()'s

  void recount() { active.store(fds.size() + hidden.size(), std::memory_order_relaxed); }
};

// Never destroyed: interposed calls keep coming during exit().
State& state() {
  static State* s = new State;
  return *s;
}

// Holds State::mu. Interposed calls this thread makes meanwhile (a signal handler's write() to
// its self-pipe, say) pass straight through instead of waiting for the lock the thread holds.
class StateLock {
 public:
  explicit StateLock(State& st) : lock_(st.mu) {}

 private:
  Inside inside_;  // before the lock: taken first, released last
  std::lock_guard<std::mutex> lock_;
};

// Releases a hidden fd of ours if the number still holds what we opened.
void close_hidden(int fd, const FdId& id) {
  if (fd < 0) return;
  State& st = state();
  bool ours = false;
  {
    StateLock lock(st);
    auto it = st.hidden.find(fd);
    if (it != st.hidden.end() && it->second == id) {
      st.hidden.erase(it);
      st.recount();
      ours = true;
    }
  }
  if (ours && id_of(fd) == id) real().close(fd);
}

Sock::~Sock() {
  ErrnoKeeper keep;
  close_hidden(peer, peer_id);
  close_hidden(kernel, kernel_id);
}

// Hidden fds sit high (below 1024, for select()-minded neighbours) so they do not take the
// numbers the process expects next, and CLOEXEC so that nothing the process runs inherits them.
int hide(int fd) {
  struct rlimit rl;
  int base = 512;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
    const rlim_t cur = std::min<rlim_t>(rl.rlim_cur, 1024);
    base = cur > 128 ? static_cast<int>(cur) - 64 : static_cast<int>(cur / 2);
  }
  int h = real().fcntl(fd, F_DUPFD_CLOEXEC, base);
  if (h < 0) {
    real().fcntl(fd, F_SETFD, FD_CLOEXEC);
    return fd;
  }
  real().close(fd);
  return h;
}

void register_hidden(int fd, const FdId& id) {
  State& st = state();
  StateLock lock(st);
  st.hidden[fd] = id;
  st.recount();
}

// The captured socket behind fd, or null. An entry whose fd now holds another file (closed by a
// raw syscall, number reused) is dropped.
std::shared_ptr<Sock> lookup(int fd) {
  State& st = state();
  if (fd < 0 || st.active.load(std::memory_order_relaxed) == 0) return nullptr;
  ErrnoKeeper keep;
  std::shared_ptr<Sock> stale;  // released after the lock: ~Sock takes it
  {
    StateLock lock(st);
    auto it = st.fds.find(fd);
    if (it == st.fds.end()) return nullptr;
    if (id_of(fd) == it->second->app) return it->second;
    stale = std::move(it->second);
    st.fds.erase(it);
    st.recount();
  }
  return nullptr;
}

// Records fd as another name of s (dup, dup2, F_DUPFD).
void add_alias(int fd, const std::shared_ptr<Sock>& s) {
  State& st = state();
  std::shared_ptr<Sock> replaced;
  StateLock lock(st);
  auto& slot = st.fds[fd];
  replaced = std::move(slot);
  slot = s;
  st.hidden.erase(fd);
  st.recount();
}

// Forgets fd after the process closed it or reused its number; the socket goes with its last fd.
std::shared_ptr<Sock> forget(int fd) {
  State& st = state();
  StateLock lock(st);
  std::shared_ptr<Sock> gone;
  auto it = st.fds.find(fd);
  if (it != st.fds.end()) {
    gone = std::move(it->second);
    st.fds.erase(it);
  }
  st.hidden.erase(fd);
  st.recount();
  return gone;
}

bool portid_in_use(const State& st, uint32_t portid) {
  for (const auto& [fd, s] : st.fds)
    if (s->bound && s->portid == portid) return true;
  return false;
}

// netlink_autobind(): the thread group's id first, then -4096 downwards. Holds State::mu.
void autobind_locked(State& st, Sock& s) {
  if (s.bound) return;
  uint32_t portid = static_cast<uint32_t>(getpid());
  while (portid_in_use(st, portid)) {
    portid = st.rover--;
    if (static_cast<int32_t>(st.rover) > -4096) st.rover = static_cast<uint32_t>(-4096);
  }
  s.portid = portid;
  s.bound = true;
}

// ---------------------------------------------------------------------------------------------
// Configuration.

int timeout_ms() {
  const char* v = getenv("UVS_IPVS_TIMEOUT_MS");
  if (v && *v) {
    char* end;
    const long ms = strtol(v, &end, 10);
    if (*end == '\0' && ms > 0 && ms <= 3600 * 1000) return static_cast<int>(ms);
  }
  return 10000;
}

std::string control_socket() {
  const char* v = getenv("UVS_SOCKET");
  return v && *v ? v : "/run/uvs/uvsd.sock";
}

bool recv_datagram(int fd, int flags, Bytes& out) {
  const ssize_t len = real().recv(fd, nullptr, 0, flags | MSG_PEEK | MSG_TRUNC);
  if (len < 0) return false;
  out.resize(static_cast<size_t>(len));
  const ssize_t n = real().recv(fd, out.data(), out.size(), flags);
  if (n < 0) return false;
  out.resize(static_cast<size_t>(n));
  return true;
}

// The ids the kernel's generic-netlink families hold, from one CTRL_CMD_GETFAMILY dump.
std::vector<bool> kernel_family_ids() {
  std::vector<bool> used(GENL_MAX_ID + 1, false);
  const int fd = real().socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_GENERIC);
  if (fd < 0) return used;
  Bytes req = uvs::preload::encode_getfamily("", 1, 0);
  req.resize(NLMSG_HDRLEN + GENL_HDRLEN);  // no attribute: the whole list
  const uint32_t len = static_cast<uint32_t>(req.size());
  const uint16_t flags = NLM_F_REQUEST | NLM_F_DUMP;
  std::memcpy(req.data(), &len, sizeof len);
  std::memcpy(req.data() + 6, &flags, sizeof flags);
  sockaddr_nl kernel{};
  kernel.nl_family = AF_NETLINK;
  if (real().sendto(fd, req.data(), req.size(), 0, reinterpret_cast<sockaddr*>(&kernel),
                    sizeof kernel) == static_cast<ssize_t>(req.size())) {
    for (bool done = false; !done;) {
      pollfd p{fd, POLLIN, 0};
      Bytes d;
      if (poll(&p, 1, 1000) <= 0 || !recv_datagram(fd, MSG_DONTWAIT, d)) break;
      for (const auto& m : uvs::preload::split_messages(d)) {
        if (m.type == NLMSG_DONE || m.type == NLMSG_ERROR) done = true;
        const uint16_t id = uvs::preload::family_id_of(std::span(d).subspan(m.offset, m.size));
        if (id != 0 && id <= GENL_MAX_ID) used[id] = true;
      }
    }
  }
  real().close(fd);
  return used;
}

// The id IPVS gets in this process: UVS_IPVS_FAMILY_ID, else the highest the kernel's allocator
// (idr_alloc_cyclic() from GENL_START_ALLOC up) has not given out, the last it would reach.
uint16_t ipvs_family_id() {
  static std::atomic<uint16_t> cached{0};
  static std::mutex mu;
  if (uint16_t id = cached.load()) return id;
  std::lock_guard lock(mu);
  if (uint16_t id = cached.load()) return id;
  uint16_t id = 0;
  if (const char* v = getenv("UVS_IPVS_FAMILY_ID"); v && *v) {
    char* end;
    const unsigned long n = strtoul(v, &end, 0);
    if (*end == '\0' && n > GENL_ID_CTRL && n <= 0xffff) id = static_cast<uint16_t>(n);
  }
  if (id == 0) {
    const std::vector<bool> used = kernel_family_ids();
    for (int i = GENL_MAX_ID; i > GENL_ID_CTRL && id == 0; --i)
      if (!used[static_cast<size_t>(i)]) id = static_cast<uint16_t>(i);
  }
  cached.store(id);
  return id;
}

// ---------------------------------------------------------------------------------------------
// Answering what the process sends. All under the socket's io lock and Inside.

struct Peer {
  uint32_t portid = 0;
  bool cap_ack = false;
  std::map<int, int> flags;
};

// One round trip to uvsd on a fresh connection (fork() leaves nothing shared behind). nullopt
// when uvsd cannot be reached in time.
std::optional<uvs::api::GenlRelayReply> relay(std::span<const uint8_t> datagram, const Peer& peer) {
  const std::string path = control_socket();
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof addr.sun_path) return std::nullopt;
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  const int fd = real().socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return std::nullopt;
  const int ms = timeout_ms();
  const timeval tv{ms / 1000, (ms % 1000) * 1000};
  real().setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  real().setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  std::optional<uvs::api::GenlRelayReply> reply;
  if (real().connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) == 0) {
    uvs::api::GenlRelayRequest req;
    req.family_id = ipvs_family_id();
    req.portid = peer.portid;
    req.cap_ack = peer.cap_ack;
    req.datagram.assign(datagram.begin(), datagram.end());
    reply = uvs::api::genl_round_trip(fd, req);
  }
  real().close(fd);
  return reply;
}

// uvsd's answer to a run of IPVS messages; when uvsd is down, every request fails with ENOENT,
// genl_rcv_msg()'s answer for a family that is not registered.
void answer_from_uvsd(std::span<const uint8_t> datagram, const Peer& peer, std::deque<Bytes>& out) {
  auto reply = relay(datagram, peer);
  if (reply && reply->err == 0) {
    for (auto& d : reply->datagrams) out.push_back(std::move(d));
    return;
  }
  const int err = reply ? reply->err : ENOENT;
  for (auto& d : uvs::preload::answer_all(datagram, err, peer.portid, peer.cap_ack))
    out.push_back(std::move(d));
}

// The hidden kernel socket, opened (or reopened, if the process closed it behind our back).
int ensure_kernel(Sock& s, const Peer& peer) {
  if (s.kernel >= 0 && id_of(s.kernel) == s.kernel_id) return 0;
  s.kernel = -1;
  int fd = real().socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_GENERIC);
  if (fd < 0) return errno;
  sockaddr_nl local{};
  local.nl_family = AF_NETLINK;
  socklen_t len = sizeof local;
  if (real().bind(fd, reinterpret_cast<sockaddr*>(&local), sizeof local) != 0 ||
      real().getsockname(fd, reinterpret_cast<sockaddr*>(&local), &len) != 0) {
    const int err = errno;
    real().close(fd);
    return err;
  }
  // Replies must look as the process asked for them.
  for (int opt : {NETLINK_CAP_ACK, NETLINK_EXT_ACK, NETLINK_GET_STRICT_CHK}) {
    auto it = peer.flags.find(opt);
    if (it != peer.flags.end())
      real().setsockopt(fd, SOL_NETLINK, opt, &it->second, sizeof it->second);
  }
  fd = hide(fd);
  s.kernel = fd;
  s.kernel_id = id_of(fd);
  s.kernel_portid = local.nl_pid;
  register_hidden(fd, s.kernel_id);
  return 0;
}

// Adds IPVS to a CTRL_CMD_GETFAMILY dump the kernel answered, before its NLMSG_DONE.
void add_ipvs_to_family_dump(std::vector<Bytes>& replies, uint32_t seq, const Peer& peer) {
  const Bytes req = uvs::preload::encode_getfamily("IPVS", seq, peer.portid);
  auto reply = relay(req, peer);
  if (!reply || reply->err != 0 || reply->datagrams.empty()) return;
  Bytes entry = reply->datagrams.front();
  const auto msgs = uvs::preload::split_messages(entry);
  if (msgs.empty() || uvs::preload::family_id_of(entry) == 0) return;
  entry.resize(msgs.front().size);
  uint16_t flags;
  std::memcpy(&flags, entry.data() + 6, sizeof flags);
  flags |= NLM_F_MULTI;
  std::memcpy(entry.data() + 6, &flags, sizeof flags);
  for (Bytes& d : replies) {
    for (const auto& m : uvs::preload::split_messages(d)) {
      if (m.type == NLMSG_DONE && m.seq == seq) {
        d.insert(d.begin() + static_cast<ptrdiff_t>(m.offset), entry.begin(), entry.end());
        return;
      }
    }
  }
}

// Sends a run of messages to the kernel on the hidden socket and collects its answers: until
// each dump's NLMSG_DONE and each ACK asked for; other replies are already queued when sendto()
// returns (the kernel answers in the sender's context), so a final non-blocking drain takes them.
int answer_from_kernel(Sock& s, std::span<const uint8_t> datagram, const sockaddr_nl& dest,
                       const Peer& peer, std::deque<Bytes>& out) {
  if (int err = ensure_kernel(s, peer)) return err;
  if (real().sendto(s.kernel, datagram.data(), datagram.size(), 0,
                    reinterpret_cast<const sockaddr*>(&dest), sizeof dest) < 0)
    return errno;
  if (dest.nl_pid != 0 || dest.nl_groups != 0) return 0;  // not for the kernel: no answer
  std::multiset<uint32_t> awaited;
  std::vector<uint32_t> family_dumps;
  for (const auto& m : uvs::preload::split_messages(datagram)) {
    const bool request = (m.flags & NLM_F_REQUEST) && m.type >= NLMSG_MIN_TYPE;
    if ((request && (m.flags & NLM_F_DUMP) == NLM_F_DUMP) || (m.flags & NLM_F_ACK))
      awaited.insert(m.seq);
    if (uvs::preload::is_family_dump(datagram.subspan(m.offset, m.size)))
      family_dumps.push_back(m.seq);
  }
  std::vector<Bytes> replies;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms());
  for (;;) {
    int wait = 0;
    if (!awaited.empty()) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) break;
      wait = static_cast<int>(left.count());
    }
    pollfd p{s.kernel, POLLIN, 0};
    const int ready = poll(&p, 1, wait);
    if (ready < 0 && errno == EINTR) continue;
    if (ready <= 0) break;
    Bytes d;
    if (!recv_datagram(s.kernel, MSG_DONTWAIT, d)) {
      if (errno == EINTR || errno == EAGAIN) continue;
      break;
    }
    for (const auto& m : uvs::preload::split_messages(d)) {
      if (m.type != NLMSG_DONE && m.type != NLMSG_ERROR) continue;
      auto it = awaited.find(m.seq);
      if (it != awaited.end()) awaited.erase(it);
    }
    uvs::preload::rewrite_portid(d, s.kernel_portid, peer.portid);
    replies.push_back(std::move(d));
  }
  for (uint32_t seq : family_dumps) add_ipvs_to_family_dump(replies, seq, peer);
  for (auto& d : replies) out.push_back(std::move(d));
  return 0;
}

// Writes pending replies to the pair until its queue is full.
void top_up(Sock& s) {
  while (!s.pending.empty()) {
    const Bytes& d = s.pending.front();
    if (real().send(s.peer, d.data(), d.size(), MSG_DONTWAIT | MSG_NOSIGNAL) < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return;
      // Larger than the pair takes, or the pair is gone: it cannot be delivered.
    }
    s.pending.pop_front();
  }
}

void tune_peer(int peer) {
  const int fl = real().fcntl(peer, F_GETFL);
  real().fcntl(peer, F_SETFL, (fl < 0 ? 0 : fl) | O_NONBLOCK);
  // Between a pair's ends unix_dgram_sendmsg() skips the max_dgram_qlen check: what bounds the
  // queue is the writer's SO_SNDBUF (datagrams are charged to it until read). A fixed size,
  // whatever wmem_default is: a few dozen datagrams queued, the rest pending here, in user memory.
  const int size = 64 << 10;
  real().setsockopt(peer, SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
}

// The pair's hidden end, made again if the process closed it behind our back (daemonizing code
// closing every fd by number with a raw syscall): the process's end is replaced in place by a new
// pair's, keeping what it had not read yet.
bool ensure_peer(int fd, Sock& s) {
  if (s.peer >= 0 && id_of(s.peer) == s.peer_id) return true;
  int sv[2];
  if (real().socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, sv) != 0) return false;
  std::deque<Bytes> unread;
  for (Bytes d; recv_datagram(fd, MSG_DONTWAIT, d);) unread.push_back(std::move(d));
  s.pending.insert(s.pending.begin(), unread.begin(), unread.end());
  const int status = real().fcntl(fd, F_GETFL);
  const int fdflags = real().fcntl(fd, F_GETFD);
  if (real().dup3(sv[0], fd, (fdflags >= 0 && (fdflags & FD_CLOEXEC)) ? O_CLOEXEC : 0) < 0) {
    real().close(sv[0]);
    real().close(sv[1]);
    return false;
  }
  real().close(sv[0]);
  if (status >= 0) real().fcntl(fd, F_SETFL, status & O_NONBLOCK);
  const int peer = hide(sv[1]);
  tune_peer(peer);
  s.peer = peer;
  s.peer_id = id_of(peer);
  register_hidden(peer, s.peer_id);
  State& st = state();
  StateLock lock(st);
  s.app = id_of(fd);
  return true;
}

Peer peer_of(Sock& s) {
  State& st = state();
  StateLock lock(st);
  autobind_locked(st, s);
  Peer p;
  p.portid = s.portid;
  p.flags = s.flags;
  auto it = s.flags.find(NETLINK_CAP_ACK);
  p.cap_ack = it != s.flags.end() && it->second;
  return p;
}

// netlink_sendmsg() for a captured socket: the whole datagram is answered before returning.
ssize_t send_datagram(int fd, const std::shared_ptr<Sock>& s, std::span<const uint8_t> datagram,
                      int flags, const void* to, socklen_t tolen) {
  if (flags & MSG_OOB) return fail(EOPNOTSUPP);
  sockaddr_nl dest{};
  dest.nl_family = AF_NETLINK;
  if (to != nullptr && tolen != 0) {
    if (tolen < sizeof(sockaddr_nl)) return fail(EINVAL);
    std::memcpy(&dest, to, sizeof dest);
    if (dest.nl_family != AF_NETLINK) return fail(EINVAL);
  }
  int sndbuf = 0;
  socklen_t optlen = sizeof sndbuf;
  if (real().getsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, &optlen) == 0 && sndbuf > 32 &&
      datagram.size() > static_cast<size_t>(sndbuf - 32))
    return fail(EMSGSIZE);
  ErrnoKeeper keep;
  const Peer peer = peer_of(*s);
  Inside inside;
  std::lock_guard io(s->io);
  ensure_peer(fd, *s);
  const auto msgs = uvs::preload::split_messages(datagram);
  std::deque<Bytes> replies;
  if (dest.nl_pid != 0 || dest.nl_groups != 0) {
    if (int err = answer_from_kernel(*s, datagram, dest, peer, replies)) {
      keep.saved = err;
      return -1;
    }
  }
  const uint16_t ipvs = msgs.empty() ? 0 : ipvs_family_id();
  // Runs of consecutive messages with one destination, in order, as netlink_rcv_skb() walks them.
  for (size_t i = 0; i < msgs.size() && dest.nl_pid == 0 && dest.nl_groups == 0;) {
    const auto route = uvs::preload::route_of(datagram.subspan(msgs[i].offset, msgs[i].size), ipvs);
    size_t j = i + 1;
    while (j < msgs.size() &&
           uvs::preload::route_of(datagram.subspan(msgs[j].offset, msgs[j].size), ipvs) == route)
      ++j;
    const size_t end = msgs[j - 1].offset + msgs[j - 1].size;
    const auto run = datagram.subspan(msgs[i].offset, end - msgs[i].offset);
    if (route == uvs::preload::Route::kUvsd) {
      answer_from_uvsd(run, peer, replies);
    } else if (int err = answer_from_kernel(*s, run, dest, peer, replies)) {
      if (i == 0) {
        keep.saved = err;
        return -1;
      }
      for (auto& d : uvs::preload::answer_all(run, err, peer.portid, peer.cap_ack))
        replies.push_back(std::move(d));
    }
    i = j;
  }
  for (auto& d : replies) s->pending.push_back(std::move(d));
  top_up(*s);
  return static_cast<ssize_t>(datagram.size());
}

Bytes gather(const iovec* iov, size_t n) {
  Bytes out;
  for (size_t i = 0; i < n; ++i) {
    const auto* p = static_cast<const uint8_t*>(iov[i].iov_base);
    out.insert(out.end(), p, p + iov[i].iov_len);
  }
  return out;
}

// Runs a receive on the process's end with the pair topped up before (so what is pending is
// there to read, or to poll) and after (so the next poll sees the rest).
template <typename F>
ssize_t around_receive(const std::shared_ptr<Sock>& s, int fd, F receive) {
  {
    ErrnoKeeper keep;
    Inside inside;
    std::lock_guard io(s->io);
    ensure_peer(fd, *s);
    top_up(*s);
  }
  const ssize_t n = receive();
  {
    ErrnoKeeper keep;
    Inside inside;
    std::lock_guard io(s->io);
    top_up(*s);
  }
  return n;
}

// netlink_recvmsg()'s source address: the kernel, portid 0.
void kernel_source(void* addr, socklen_t* len) {
  if (addr == nullptr || len == nullptr) return;
  sockaddr_nl nl{};
  nl.nl_family = AF_NETLINK;
  std::memcpy(addr, &nl, std::min<size_t>(*len, sizeof nl));
  *len = sizeof nl;
}

ssize_t recvmsg_captured(const std::shared_ptr<Sock>& s, int fd, msghdr* msg, int flags) {
  if (msg == nullptr) return fail(EFAULT);
  socklen_t room = msg->msg_namelen;  // the AF_UNIX receive rewrites it
  const ssize_t n = around_receive(s, fd, [&] { return real().recvmsg(fd, msg, flags); });
  if (n >= 0 && msg->msg_name != nullptr) {
    kernel_source(msg->msg_name, &room);
    msg->msg_namelen = room;
  }
  return n;
}

// Everything below may not throw across the C ABI.
template <typename F>
auto guarded(F f) -> decltype(f()) {
  try {
    return f();
  } catch (...) {
    errno = ENOMEM;
    return -1;
  }
}

bool passthrough() { return t_inside > 0 || state().active.load(std::memory_order_relaxed) == 0; }

void atfork_prepare() { state().mu.lock(); }
void atfork_release() { state().mu.unlock(); }

// Both made before main(), so that no signal handler can be the first to construct them.
__attribute__((constructor)) void init() {
  real();
  state();
  pthread_atfork(atfork_prepare, atfork_release, atfork_release);
}

int close_range_impl(unsigned first, unsigned last, int flags) {
  if (first > last) return fail(EINVAL);
  if (!real().close_range) return fail(ENOSYS);
  if (passthrough() || (flags & CLOSE_RANGE_CLOEXEC)) return real().close_range(first, last, flags);
  State& st = state();
  std::vector<std::shared_ptr<Sock>> gone;
  std::vector<unsigned> keep;
  {
    StateLock lock(st);
    for (auto it = st.fds.begin(); it != st.fds.end();) {
      const auto fd = static_cast<unsigned>(it->first);
      if (fd >= first && fd <= last) {
        gone.push_back(std::move(it->second));
        it = st.fds.erase(it);
      } else {
        ++it;
      }
    }
    for (auto it = st.hidden.begin(); it != st.hidden.end();) {
      const auto fd = static_cast<unsigned>(it->first);
      if (fd >= first && fd <= last) {
        if (id_of(it->first) == it->second) {
          keep.push_back(fd);
        } else {
          it = st.hidden.erase(it);
          continue;
        }
      }
      ++it;
    }
    st.recount();
  }
  std::sort(keep.begin(), keep.end());
  // Close the gaps between our fds.
  unsigned from = first;
  bool more = true;
  int rc = 0;
  for (unsigned h : keep) {
    if (h > from && real().close_range(from, h - 1, flags) != 0) rc = -1;
    more = h < last;
    from = h + 1;
  }
  if (more && from <= last && real().close_range(from, last, flags) != 0) rc = -1;
  return rc;
}

}  // namespace

// =============================================================================================
// The interposed functions.

UVS_EXPORT int socket(int domain, int type, int protocol) noexcept {
  const int base = type & ~(SOCK_CLOEXEC | SOCK_NONBLOCK);
  if (t_inside > 0 || domain != AF_NETLINK || protocol != NETLINK_GENERIC ||
      (base != SOCK_RAW && base != SOCK_DGRAM))
    return real().socket(domain, type, protocol);
  return guarded([&]() -> int {
    ErrnoKeeper keep;
    Inside inside;
    int sv[2];
    if (real().socketpair(AF_UNIX, SOCK_DGRAM | (type & (SOCK_CLOEXEC | SOCK_NONBLOCK)), 0, sv) !=
        0) {
      keep.saved = errno;
      return -1;
    }
    const int peer = hide(sv[1]);
    tune_peer(peer);
    auto s = std::make_shared<Sock>();
    s->type = base;
    s->app = id_of(sv[0]);
    s->peer = peer;
    s->peer_id = id_of(peer);
    register_hidden(peer, s->peer_id);
    add_alias(sv[0], s);
    return sv[0];
  });
}

UVS_EXPORT int bind(int fd, const sockaddr* addr, socklen_t len) noexcept {
  if (passthrough()) return real().bind(fd, addr, len);
  auto s = lookup(fd);
  if (!s) return real().bind(fd, addr, len);
  return guarded([&]() -> int {
    if (addr == nullptr || len < sizeof(sockaddr_nl)) return fail(EINVAL);
    sockaddr_nl nl;
    std::memcpy(&nl, addr, sizeof nl);
    if (nl.nl_family != AF_NETLINK) return fail(EINVAL);
    State& st = state();
    StateLock lock(st);
    if (s->bound) {
      if (nl.nl_pid != s->portid) return fail(EINVAL);
    } else if (nl.nl_pid != 0) {
      if (portid_in_use(st, nl.nl_pid)) return fail(EADDRINUSE);
      s->portid = nl.nl_pid;
      s->bound = true;
    } else {
      autobind_locked(st, *s);
    }
    s->groups = nl.nl_groups;
    return 0;
  });
}

UVS_EXPORT int connect(int fd, const sockaddr* addr, socklen_t len) {
  if (passthrough()) return real().connect(fd, addr, len);
  auto s = lookup(fd);
  if (!s) return real().connect(fd, addr, len);
  return guarded([&]() -> int {
    if (addr == nullptr || len < sizeof(sa_family_t)) return fail(EINVAL);
    if (addr->sa_family == AF_UNSPEC) return 0;
    if (addr->sa_family != AF_NETLINK || len < sizeof(sockaddr_nl)) return fail(EINVAL);
    State& st = state();
    StateLock lock(st);
    autobind_locked(st, *s);
    return 0;
  });
}

UVS_EXPORT int getsockname(int fd, sockaddr* addr, socklen_t* len) noexcept {
  if (passthrough()) return real().getsockname(fd, addr, len);
  auto s = lookup(fd);
  if (!s) return real().getsockname(fd, addr, len);
  return guarded([&]() -> int {
    if (addr == nullptr || len == nullptr) return fail(EFAULT);
    sockaddr_nl nl{};
    nl.nl_family = AF_NETLINK;
    {
      State& st = state();
      StateLock lock(st);
      nl.nl_pid = s->portid;
      nl.nl_groups = s->groups;
    }
    std::memcpy(addr, &nl, std::min<size_t>(*len, sizeof nl));
    *len = sizeof nl;
    return 0;
  });
}

UVS_EXPORT int getpeername(int fd, sockaddr* addr, socklen_t* len) noexcept {
  if (passthrough()) return real().getpeername(fd, addr, len);
  auto s = lookup(fd);
  if (!s) return real().getpeername(fd, addr, len);
  if (addr == nullptr || len == nullptr) return fail(EFAULT);
  kernel_source(addr, len);
  return 0;
}

UVS_EXPORT int setsockopt(int fd, int level, int name, const void* value,
                          socklen_t len) noexcept {
  if (passthrough() || level != SOL_NETLINK) return real().setsockopt(fd, level, name, value, len);
  auto s = lookup(fd);
  if (!s) return real().setsockopt(fd, level, name, value, len);
  return guarded([&]() -> int {
    switch (name) {
      case NETLINK_ADD_MEMBERSHIP:
      case NETLINK_DROP_MEMBERSHIP:
        // Accepted for libnl's sake; nothing is multicast to a captured socket.
        if (len < sizeof(uint32_t)) return fail(EINVAL);
        if (value == nullptr) return fail(EFAULT);
        return 0;
      case NETLINK_PKTINFO:
      case NETLINK_BROADCAST_ERROR:
      case NETLINK_NO_ENOBUFS:
      case NETLINK_LISTEN_ALL_NSID:
      case NETLINK_CAP_ACK:
      case NETLINK_EXT_ACK:
      case NETLINK_GET_STRICT_CHK: {
        int v = 0;
        if (len >= sizeof(int)) {
          if (value == nullptr) return fail(EFAULT);
          std::memcpy(&v, value, sizeof v);
        }
        v = v != 0;
        {
          State& st = state();
          StateLock lock(st);
          s->flags[name] = v;
        }
        if (name == NETLINK_CAP_ACK || name == NETLINK_EXT_ACK || name == NETLINK_GET_STRICT_CHK) {
          ErrnoKeeper keep;
          Inside inside;
          std::lock_guard io(s->io);
          if (s->kernel >= 0 && id_of(s->kernel) == s->kernel_id)
            real().setsockopt(s->kernel, SOL_NETLINK, name, &v, sizeof v);
        }
        return 0;
      }
      default:
        return fail(ENOPROTOOPT);
    }
  });
}

UVS_EXPORT int getsockopt(int fd, int level, int name, void* value, socklen_t* len) noexcept {
  if (passthrough() || (level != SOL_NETLINK && level != SOL_SOCKET))
    return real().getsockopt(fd, level, name, value, len);
  auto s = lookup(fd);
  if (!s) return real().getsockopt(fd, level, name, value, len);
  return guarded([&]() -> int {
    auto put_int = [&](int v, bool exact) -> int {
      if (value == nullptr || len == nullptr) return fail(EFAULT);
      if (exact && *len < sizeof(int)) return fail(EINVAL);
      const socklen_t n = std::min<socklen_t>(*len, sizeof v);
      std::memcpy(value, &v, n);
      *len = n;
      return 0;
    };
    if (level == SOL_SOCKET) {
      // The pair is AF_UNIX underneath; what identifies the socket is netlink's.
      if (name == SO_DOMAIN) return put_int(AF_NETLINK, false);
      if (name == SO_PROTOCOL) return put_int(NETLINK_GENERIC, false);
      if (name == SO_TYPE) return put_int(s->type, false);
      return real().getsockopt(fd, level, name, value, len);
    }
    switch (name) {
      case NETLINK_PKTINFO:
      case NETLINK_BROADCAST_ERROR:
      case NETLINK_NO_ENOBUFS:
      case NETLINK_LISTEN_ALL_NSID:
      case NETLINK_CAP_ACK:
      case NETLINK_EXT_ACK:
      case NETLINK_GET_STRICT_CHK: {
        int v = 0;
        {
          State& st = state();
          StateLock lock(st);
          auto it = s->flags.find(name);
          v = it != s->flags.end() && it->second;
        }
        return put_int(v, true);
      }
      case NETLINK_LIST_MEMBERSHIPS:
        if (len == nullptr) return fail(EFAULT);
        *len = 0;
        return 0;
      default:
        return fail(ENOPROTOOPT);
    }
  });
}

UVS_EXPORT ssize_t sendto(int fd, const void* buf, size_t n, int flags, const sockaddr* to,
                          socklen_t tolen) {
  if (passthrough()) return real().sendto(fd, buf, n, flags, to, tolen);
  auto s = lookup(fd);
  if (!s) return real().sendto(fd, buf, n, flags, to, tolen);
  return guarded([&]() -> ssize_t {
    return send_datagram(fd, s, {static_cast<const uint8_t*>(buf), n}, flags, to, tolen);
  });
}

UVS_EXPORT ssize_t send(int fd, const void* buf, size_t n, int flags) {
  if (passthrough()) return real().send(fd, buf, n, flags);
  auto s = lookup(fd);
  if (!s) return real().send(fd, buf, n, flags);
  return guarded([&]() -> ssize_t {
    return send_datagram(fd, s, {static_cast<const uint8_t*>(buf), n}, flags, nullptr, 0);
  });
}

UVS_EXPORT ssize_t sendmsg(int fd, const msghdr* msg, int flags) {
  if (passthrough()) return real().sendmsg(fd, msg, flags);
  auto s = lookup(fd);
  if (!s) return real().sendmsg(fd, msg, flags);
  return guarded([&]() -> ssize_t {
    if (msg == nullptr) return fail(EFAULT);
    const Bytes d = gather(msg->msg_iov, msg->msg_iovlen);
    return send_datagram(fd, s, d, flags, msg->msg_name, msg->msg_namelen);
  });
}

UVS_EXPORT int sendmmsg(int fd, mmsghdr* msgs, unsigned n, int flags) {
  if (passthrough()) return real().sendmmsg(fd, msgs, n, flags);
  auto s = lookup(fd);
  if (!s) return real().sendmmsg(fd, msgs, n, flags);
  return guarded([&]() -> int {
    unsigned i = 0;
    for (; i < n; ++i) {
      const msghdr& m = msgs[i].msg_hdr;
      const Bytes d = gather(m.msg_iov, m.msg_iovlen);
      const ssize_t r = send_datagram(fd, s, d, flags, m.msg_name, m.msg_namelen);
      if (r < 0) {
        if (i == 0) return -1;
        break;
      }
      msgs[i].msg_len = static_cast<unsigned>(r);
    }
    return static_cast<int>(i);
  });
}

UVS_EXPORT ssize_t write(int fd, const void* buf, size_t n) {
  if (passthrough()) return real().write(fd, buf, n);
  auto s = lookup(fd);
  if (!s) return real().write(fd, buf, n);
  return guarded([&]() -> ssize_t {
    return send_datagram(fd, s, {static_cast<const uint8_t*>(buf), n}, 0, nullptr, 0);
  });
}

UVS_EXPORT ssize_t writev(int fd, const iovec* iov, int n) {
  if (passthrough()) return real().writev(fd, iov, n);
  auto s = lookup(fd);
  if (!s) return real().writev(fd, iov, n);
  return guarded([&]() -> ssize_t {
    if (n < 0) return fail(EINVAL);
    const Bytes d = gather(iov, static_cast<size_t>(n));
    return send_datagram(fd, s, d, 0, nullptr, 0);
  });
}

UVS_EXPORT ssize_t recvfrom(int fd, void* buf, size_t n, int flags, sockaddr* from,
                            socklen_t* fromlen) {
  if (passthrough()) return real().recvfrom(fd, buf, n, flags, from, fromlen);
  auto s = lookup(fd);
  if (!s) return real().recvfrom(fd, buf, n, flags, from, fromlen);
  return guarded([&]() -> ssize_t {
    const ssize_t r =
        around_receive(s, fd, [&] { return real().recvfrom(fd, buf, n, flags, nullptr, nullptr); });
    if (r >= 0) kernel_source(from, fromlen);
    return r;
  });
}

UVS_EXPORT ssize_t recv(int fd, void* buf, size_t n, int flags) {
  if (passthrough()) return real().recv(fd, buf, n, flags);
  auto s = lookup(fd);
  if (!s) return real().recv(fd, buf, n, flags);
  return guarded([&]() -> ssize_t {
    return around_receive(s, fd, [&] { return real().recv(fd, buf, n, flags); });
  });
}

UVS_EXPORT ssize_t recvmsg(int fd, msghdr* msg, int flags) {
  if (passthrough()) return real().recvmsg(fd, msg, flags);
  auto s = lookup(fd);
  if (!s) return real().recvmsg(fd, msg, flags);
  return guarded([&]() -> ssize_t { return recvmsg_captured(s, fd, msg, flags); });
}

// One datagram at a time, so that each is topped up before it is waited for; the timeout
// argument is not honoured on a captured socket.
UVS_EXPORT int recvmmsg(int fd, mmsghdr* msgs, unsigned n, int flags, struct timespec* timeout) {
  using RecvMmsg = int (*)(int, mmsghdr*, unsigned, int, struct timespec*);
  static const auto next = reinterpret_cast<RecvMmsg>(dlsym(RTLD_NEXT, "recvmmsg"));
  if (passthrough()) return next(fd, msgs, n, flags, timeout);
  auto s = lookup(fd);
  if (!s) return next(fd, msgs, n, flags, timeout);
  return guarded([&]() -> int {
    unsigned i = 0;
    for (; i < n; ++i) {
      int f = flags & ~MSG_WAITFORONE;
      if (i > 0 && (flags & MSG_WAITFORONE)) f |= MSG_DONTWAIT;
      const ssize_t r = recvmsg_captured(s, fd, &msgs[i].msg_hdr, f);
      if (r < 0) {
        if (i == 0) return -1;
        break;
      }
      msgs[i].msg_len = static_cast<unsigned>(r);
    }
    return static_cast<int>(i);
  });
}

UVS_EXPORT ssize_t read(int fd, void* buf, size_t n) {
  if (passthrough()) return real().read(fd, buf, n);
  auto s = lookup(fd);
  if (!s) return real().read(fd, buf, n);
  return guarded([&]() -> ssize_t {
    return around_receive(s, fd, [&] { return real().read(fd, buf, n); });
  });
}

UVS_EXPORT ssize_t readv(int fd, const iovec* iov, int n) {
  if (passthrough()) return real().readv(fd, iov, n);
  auto s = lookup(fd);
  if (!s) return real().readv(fd, iov, n);
  return guarded([&]() -> ssize_t {
    return around_receive(s, fd, [&] { return real().readv(fd, iov, n); });
  });
}

// The _FORTIFY_SOURCE entry points keepalived is built against.
UVS_EXPORT ssize_t __recv_chk(int fd, void* buf, size_t n, size_t buflen, int flags) {
  if (passthrough()) return real().recv_chk(fd, buf, n, buflen, flags);
  auto s = lookup(fd);
  if (!s) return real().recv_chk(fd, buf, n, buflen, flags);
  return guarded([&]() -> ssize_t {
    return around_receive(s, fd, [&] { return real().recv_chk(fd, buf, n, buflen, flags); });
  });
}

UVS_EXPORT ssize_t __recvfrom_chk(int fd, void* buf, size_t n, size_t buflen, int flags,
                                  sockaddr* from, socklen_t* fromlen) {
  if (passthrough()) return real().recvfrom_chk(fd, buf, n, buflen, flags, from, fromlen);
  auto s = lookup(fd);
  if (!s) return real().recvfrom_chk(fd, buf, n, buflen, flags, from, fromlen);
  return guarded([&]() -> ssize_t {
    const ssize_t r = around_receive(
        s, fd, [&] { return real().recvfrom_chk(fd, buf, n, buflen, flags, nullptr, nullptr); });
    if (r >= 0) kernel_source(from, fromlen);
    return r;
  });
}

UVS_EXPORT ssize_t __read_chk(int fd, void* buf, size_t n, size_t buflen) {
  if (passthrough()) return real().read_chk(fd, buf, n, buflen);
  auto s = lookup(fd);
  if (!s) return real().read_chk(fd, buf, n, buflen);
  return guarded([&]() -> ssize_t {
    return around_receive(s, fd, [&] { return real().read_chk(fd, buf, n, buflen); });
  });
}

UVS_EXPORT int close(int fd) {
  if (passthrough()) return real().close(fd);
  std::shared_ptr<Sock> gone;
  {
    State& st = state();
    StateLock lock(st);
    auto h = st.hidden.find(fd);
    if (h != st.hidden.end()) {
      // One of ours: to the process, that number is not open.
      if (id_of(fd) == h->second) return fail(EBADF);
      st.hidden.erase(h);
    }
    auto it = st.fds.find(fd);
    if (it != st.fds.end()) {
      gone = std::move(it->second);
      st.fds.erase(it);
    }
    st.recount();
  }
  const int rc = real().close(fd);
  const int err = errno;
  gone.reset();
  errno = err;
  return rc;
}

UVS_EXPORT int dup(int fd) noexcept {
  const int n = real().dup(fd);
  if (n < 0 || passthrough()) return n;
  return guarded([&]() -> int {
    if (auto s = lookup(fd)) add_alias(n, s);
    else forget(n);
    return n;
  });
}

namespace {
int after_dup_to(int rc, int oldfd, int newfd) {
  if (rc < 0 || passthrough()) return rc;
  return guarded([&]() -> int {
    ErrnoKeeper keep;
    auto gone = forget(newfd);
    if (auto s = lookup(oldfd)) add_alias(newfd, s);
    return rc;
  });
}

int after_fcntl(int rc, int fd, int cmd) {
  if (rc < 0 || (cmd != F_DUPFD && cmd != F_DUPFD_CLOEXEC) || passthrough()) return rc;
  return after_dup_to(rc, fd, rc);
}
}  // namespace

UVS_EXPORT int dup2(int oldfd, int newfd) noexcept {
  return after_dup_to(real().dup2(oldfd, newfd), oldfd, newfd);
}

UVS_EXPORT int dup3(int oldfd, int newfd, int flags) noexcept {
  return after_dup_to(real().dup3(oldfd, newfd, flags), oldfd, newfd);
}

UVS_EXPORT int fcntl(int fd, int cmd, ...) {
  va_list ap;
  va_start(ap, cmd);
  void* arg = va_arg(ap, void*);  // as glibc's own fcntl reads it, whatever cmd takes
  va_end(ap);
  return after_fcntl(real().fcntl(fd, cmd, arg), fd, cmd);
}

UVS_EXPORT int fcntl64(int fd, int cmd, ...) {
  va_list ap;
  va_start(ap, cmd);
  void* arg = va_arg(ap, void*);
  va_end(ap);
  auto next = real().fcntl64 ? real().fcntl64 : real().fcntl;
  return after_fcntl(next(fd, cmd, arg), fd, cmd);
}

UVS_EXPORT int close_range(unsigned first, unsigned last, int flags) noexcept {
  return guarded([&]() -> int { return close_range_impl(first, last, flags); });
}

UVS_EXPORT void closefrom(int lowfd) noexcept {
  ErrnoKeeper keep;
  const auto first = static_cast<unsigned>(std::max(lowfd, 0));
  guarded([&]() -> int { return close_range_impl(first, ~0U, 0); });
}
