#include "nl/netlink.h"

#include <sys/socket.h>
#include <sys/time.h>

#include <cerrno>
#include <cstring>

namespace uvs::nl {
namespace {

// A dump datagram never exceeds 32 KiB (the kernel sizes them from our receive calls and caps
// them there); the margin keeps a future kernel from truncating one.
constexpr size_t kReceiveBufferSize = 64 * 1024;
// Events arrive in bursts (a link going down withdraws its routes, addresses and neighbours
// at once); a deep queue makes an overrun, and the full reload it costs, rare.
constexpr int kEventQueueBytes = 4 * 1024 * 1024;
// The kernel answers a route or neighbour request at once; a longer silence means trouble.
constexpr int kReplyTimeoutSeconds = 2;

struct CallbackContext {
  const MessageFn* on_message;
};

int dispatch_message(const nlmsghdr* nlh, void* data) {
  auto* context = static_cast<CallbackContext*>(data);
  (*context->on_message)(nlh);
  return MNL_CB_OK;
}

}  // namespace

// ---- Attrs -----------------------------------------------------------------------------------

int Attrs::store(const nlattr* attr, void* data) {
  auto* self = static_cast<Attrs*>(data);
  uint16_t type = mnl_attr_get_type(attr);
  if (type < kCapacity) self->table_[type] = attr;
  return MNL_CB_OK;
}

bool Attrs::parse(const nlmsghdr* nlh, size_t header_len) {
  table_.fill(nullptr);
  if (mnl_nlmsg_get_payload_len(nlh) < header_len) return false;
  return mnl_attr_parse(nlh, static_cast<unsigned>(header_len), &Attrs::store, this) >= 0;
}

bool Attrs::parse_nested(const nlattr* nest) {
  table_.fill(nullptr);
  return mnl_attr_parse_nested(nest, &Attrs::store, this) >= 0;
}

const uint8_t* Attrs::bytes(uint16_t type, size_t len) const {
  const nlattr* attr = get(type);
  if (attr == nullptr || mnl_attr_get_payload_len(attr) != len) return nullptr;
  return static_cast<const uint8_t*>(mnl_attr_get_payload(attr));
}

std::optional<uint8_t> Attrs::u8(uint16_t type) const {
  const uint8_t* p = bytes(type, sizeof(uint8_t));
  if (p == nullptr) return std::nullopt;
  return *p;
}

std::optional<uint32_t> Attrs::u32(uint16_t type) const {
  const uint8_t* p = bytes(type, sizeof(uint32_t));
  if (p == nullptr) return std::nullopt;
  uint32_t value;
  std::memcpy(&value, p, sizeof(value));
  return value;
}

std::optional<std::string_view> Attrs::str(uint16_t type) const {
  const nlattr* attr = get(type);
  if (attr == nullptr) return std::nullopt;
  const char* p = static_cast<const char*>(mnl_attr_get_payload(attr));
  size_t len = mnl_attr_get_payload_len(attr);
  // Kernel strings carry their NUL inside the payload.
  return std::string_view(p, strnlen(p, len));
}

std::optional<InetAddr> Attrs::addr(uint16_t type, int family) const {
  InetAddr result;
  if (family == AF_INET) {
    const uint8_t* p = bytes(type, 4);
    if (p == nullptr) return std::nullopt;
    result.family = AF_INET;
    std::memcpy(result.bytes.data(), p, 4);
    return result;
  }
  if (family == AF_INET6) {
    const uint8_t* p = bytes(type, 16);
    if (p == nullptr) return std::nullopt;
    result.family = AF_INET6;
    std::memcpy(result.bytes.data(), p, 16);
    return result;
  }
  return std::nullopt;
}

// ---- Request ---------------------------------------------------------------------------------

Request::Request(uint16_t type, uint16_t flags) {
  nlh_ = mnl_nlmsg_put_header(buf_.data());
  nlh_->nlmsg_type = type;
  nlh_->nlmsg_flags = static_cast<uint16_t>(NLM_F_REQUEST | flags);
}

void Request::put_u32(uint16_t type, uint32_t value) {
  mnl_attr_put_u32_check(nlh_, buf_.size(), type, value);
}

void Request::put_addr(uint16_t type, const InetAddr& addr) {
  mnl_attr_put_check(nlh_, buf_.size(), type, addr.is_v6() ? 16 : 4, addr.bytes.data());
}

// ---- NetlinkSocket ---------------------------------------------------------------------------

NetlinkSocket::NetlinkSocket(mnl_socket* socket) : socket_(socket), buf_(kReceiveBufferSize) {}

NetlinkSocket::~NetlinkSocket() { mnl_socket_close(socket_); }

std::unique_ptr<NetlinkSocket> NetlinkSocket::open(unsigned groups, std::string* error) {
  int flags = SOCK_CLOEXEC | (groups != 0 ? SOCK_NONBLOCK : 0);
  mnl_socket* socket = mnl_socket_open2(NETLINK_ROUTE, flags);
  if (socket == nullptr) {
    *error = std::string("netlink socket: ") + std::strerror(errno);
    return nullptr;
  }
  std::unique_ptr<NetlinkSocket> result(new NetlinkSocket(socket));
  if (mnl_socket_bind(socket, groups, MNL_SOCKET_AUTOPID) < 0) {
    *error = std::string("netlink bind: ") + std::strerror(errno);
    return nullptr;
  }
  result->port_id_ = mnl_socket_get_portid(socket);
  int fd = mnl_socket_get_fd(socket);
  if (groups != 0) {
    int bytes = kEventQueueBytes;
    // FORCE goes past rmem_max (we run as root); the plain option is the unprivileged fallback.
    if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &bytes, sizeof(bytes)) < 0)
      setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &bytes, sizeof(bytes));
  } else {
    timeval timeout{kReplyTimeoutSeconds, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
  }
  return result;
}

int NetlinkSocket::fd() const { return mnl_socket_get_fd(socket_); }

void NetlinkSocket::discard_stale_replies() {
  int fd = mnl_socket_get_fd(socket_);
  while (recv(fd, buf_.data(), buf_.size(), MSG_DONTWAIT) > 0) {
  }
  needs_discard_ = false;
}

int NetlinkSocket::transact(Request& request, const MessageFn& on_message) {
  if (needs_discard_) discard_stale_replies();
  nlmsghdr* nlh = request.nlh();
  bool dump = (nlh->nlmsg_flags & NLM_F_DUMP) == NLM_F_DUMP;
  if (!dump) nlh->nlmsg_flags |= NLM_F_ACK;
  uint32_t seq = next_seq_++;
  nlh->nlmsg_seq = seq;
  if (mnl_socket_sendto(socket_, nlh, nlh->nlmsg_len) < 0) return -errno;

  CallbackContext context{&on_message};
  for (;;) {
    ssize_t n = mnl_socket_recvfrom(socket_, buf_.data(), buf_.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      int err = (errno == EAGAIN || errno == EWOULDBLOCK) ? ETIMEDOUT : errno;
      needs_discard_ = true;
      return -err;
    }
    int ret =
        mnl_cb_run(buf_.data(), static_cast<size_t>(n), seq, port_id_, dispatch_message, &context);
    if (ret == MNL_CB_STOP) return 0;
    if (ret == MNL_CB_ERROR) {
      int err = errno;
      // A dump the kernel interrupted may still have datagrams in flight; a refused request
      // has nothing more coming. Anything else (a sequence mismatch) leaves unknown leftovers.
      if (dump || err == EPROTO || err == ESRCH) needs_discard_ = true;
      return -err;
    }
  }
}

int NetlinkSocket::drain_events(const MessageFn& on_message) {
  CallbackContext context{&on_message};
  for (;;) {
    ssize_t n = mnl_socket_recvfrom(socket_, buf_.data(), buf_.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) return 0;
      return -errno;
    }
    // Sequence and port 0: events are not answers to anything of ours.
    mnl_cb_run(buf_.data(), static_cast<size_t>(n), 0, 0, dispatch_message, &context);
  }
}

}  // namespace uvs::nl
