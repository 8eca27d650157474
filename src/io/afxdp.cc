#include "io/afxdp.h"

#include <fcntl.h>
#include <linux/if_xdp.h>
#include <net/if.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "io/xdp_steering.h"

#ifndef SOL_XDP
#define SOL_XDP 283
#endif
// Copy-mode skbs per sendto() (kernel >= 6.17); older uapi headers lack the name.
#ifndef XDP_MAX_TX_SKB_BUDGET
#define XDP_MAX_TX_SKB_BUDGET 9
#endif

namespace uvs::io {
namespace {

constexpr uint64_t kFrameMask = AfXdpIo::kFrameSize - 1;
// Bound on sendto() calls per kick: with the default budget of 32 skbs per call this drains
// 2048 descriptors, a full default ring.
constexpr int kMaxKicksPerFlush = 64;

std::string errno_text(int err) { return std::strerror(err < 0 ? -err : err); }

bool read_port_info(const std::string& name, PortInfo* info, std::string* error) {
  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    if (error) *error = "socket: " + errno_text(errno);
    return false;
  }
  ifreq request{};
  std::strncpy(request.ifr_name, name.c_str(), IFNAMSIZ - 1);
  bool ok = ioctl(fd, SIOCGIFHWADDR, &request) == 0;
  if (ok) std::memcpy(info->mac, request.ifr_hwaddr.sa_data, 6);
  ok = ok && ioctl(fd, SIOCGIFMTU, &request) == 0;
  if (ok) info->mtu = static_cast<uint32_t>(request.ifr_mtu);
  if (!ok && error) *error = "reading " + name + ": " + errno_text(errno);
  close(fd);
  return ok;
}

}  // namespace

std::unique_ptr<AfXdpIo> AfXdpIo::create(const AfXdpConfig& config, XdpSteering* steering,
                                         std::string* error) {
  if (config.queues.empty()) {
    if (error) *error = "AF_XDP io without queues";
    return nullptr;
  }
  if (config.ring_size == 0 || (config.ring_size & (config.ring_size - 1)) != 0) {
    if (error) *error = "AF_XDP ring size must be a power of two";
    return nullptr;
  }
  for (size_t i = 0; i < config.queues.size(); ++i)
    for (size_t j = 0; j < i; ++j)
      if (config.queues[i].interface == config.queues[j].interface &&
          config.queues[i].queue == config.queues[j].queue) {
        if (error) *error = "queue listed twice: " + config.queues[i].interface;
        return nullptr;
      }

  std::unique_ptr<AfXdpIo> io(new AfXdpIo());
  io->steering_ = steering;
  if (config.zero_copy != ZeroCopy::kOff) {
    std::string zc_error;
    if (io->build(config, true, &zc_error)) return io;
    io->teardown();
    if (config.zero_copy == ZeroCopy::kRequire) {
      if (error) *error = "zero-copy: " + zc_error;
      return nullptr;
    }
  }
  if (!io->build(config, false, error)) return nullptr;
  return io;
}

// The UMEM, its sockets and their fill rings, all or nothing (teardown() undoes a partial one).
bool AfXdpIo::build(const AfXdpConfig& config, bool zero_copy, std::string* error) {
  socket_count_ = static_cast<uint32_t>(config.queues.size());
  ring_size_ = config.ring_size;
  need_wakeup_ = config.need_wakeup;
  frame_count_ = config.frame_count ? config.frame_count : 2 * ring_size_ * socket_count_;
  umem_bytes_ = static_cast<size_t>(frame_count_) * kFrameSize;

  if (!assign_ports(config, error)) return false;
  if (!create_umem(error)) return false;
  if (!create_sockets(config, zero_copy, error)) return false;
  prime_fill_rings();
  return register_sockets(error);
}

// One Socket per configured queue, and one port per distinct interface (its first socket
// transmits for it).
bool AfXdpIo::assign_ports(const AfXdpConfig& config, std::string* error) {
  ports_.clear();
  port_names_.clear();
  port_tx_socket_.clear();
  sockets_ = std::make_unique<Socket[]>(socket_count_);
  for (uint32_t i = 0; i < socket_count_; ++i) {
    const AfXdpQueue& queue = config.queues[i];
    Socket& socket = sockets_[i];
    socket.queue = queue.queue;
    socket.ifindex = static_cast<int>(if_nametoindex(queue.interface.c_str()));
    if (socket.ifindex == 0) {
      if (error) *error = "interface " + queue.interface + ": " + errno_text(errno);
      return false;
    }
    auto known = std::find(port_names_.begin(), port_names_.end(), queue.interface);
    if (known == port_names_.end()) {
      PortInfo info;
      info.ifindex = socket.ifindex;
      if (!read_port_info(queue.interface, &info, error)) return false;
      ports_.push_back(info);
      port_names_.push_back(queue.interface);
      port_tx_socket_.push_back(i);
      socket.port = static_cast<uint16_t>(ports_.size() - 1);
    } else {
      socket.port = static_cast<uint16_t>(known - port_names_.begin());
    }
  }
  return true;
}

bool AfXdpIo::create_umem(std::string* error) {
  void* area = mmap(nullptr, umem_bytes_, PROT_READ | PROT_WRITE,
                    MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
  if (area == MAP_FAILED) {
    if (error) *error = "mmap UMEM: " + errno_text(errno);
    return false;
  }
  umem_area_ = static_cast<uint8_t*>(area);

  xsk_umem_config umem_config{};
  umem_config.fill_size = ring_size_;
  umem_config.comp_size = ring_size_;
  umem_config.frame_size = kFrameSize;
  // No extra headroom: the kernel already leaves XDP_PACKET_HEADROOM before every packet.
  umem_config.frame_headroom = 0;
  umem_config.flags = 0;
  // The UMEM's own fill and completion rings become those of the first socket.
  if (int err = xsk_umem__create(&umem_, umem_area_, umem_bytes_, &sockets_[0].fill,
                                 &sockets_[0].comp, &umem_config);
      err) {
    umem_ = nullptr;
    if (error) *error = "creating UMEM: " + errno_text(err);
    return false;
  }
  return true;
}

// Binds every Socket to its queue, then asks the kernel whether the binding is zero-copy.
bool AfXdpIo::create_sockets(const AfXdpConfig& config, bool zero_copy, std::string* error) {
  xsk_socket_config socket_config{};
  socket_config.rx_size = ring_size_;
  socket_config.tx_size = ring_size_;
  // uvs's steering program owns the XDP hook; libxdp must not load its own.
  socket_config.libxdp_flags = XSK_LIBXDP_FLAGS__INHIBIT_PROG_LOAD;
  socket_config.xdp_flags = 0;
  socket_config.bind_flags = static_cast<uint16_t>((zero_copy ? XDP_ZEROCOPY : XDP_COPY) |
                                                   (need_wakeup_ ? XDP_USE_NEED_WAKEUP : 0));
  for (uint32_t i = 0; i < socket_count_; ++i) {
    Socket& socket = sockets_[i];
    const std::string& name = config.queues[i].interface;
    // Later sockets share the first one's UMEM (libxdp binds them with XDP_SHARED_UMEM) and
    // get fill/completion rings of their own, one pair per (interface, queue).
    int err = xsk_socket__create_shared(&socket.xsk, name.c_str(), socket.queue, umem_,
                                        &socket.rx, &socket.tx, &socket.fill, &socket.comp,
                                        &socket_config);
    if (err) {
      socket.xsk = nullptr;
      if (error)
        *error = "AF_XDP socket on " + name + " queue " + std::to_string(socket.queue) +
                 (zero_copy ? " (zero-copy)" : " (copy)") + ": " + errno_text(err);
      return false;
    }
    socket.fd = xsk_socket__fd(socket.xsk);
    // Children (ip, health-check helpers) must not keep the socket, and with it the queue.
    fcntl(socket.fd, F_SETFD, FD_CLOEXEC);
    if (!zero_copy && config.tx_skb_budget) {
      int budget = static_cast<int>(config.tx_skb_budget);
      setsockopt(socket.fd, SOL_XDP, XDP_MAX_TX_SKB_BUDGET, &budget, sizeof(budget));
    }
  }
  poll_fds_.clear();
  for (uint32_t i = 0; i < socket_count_; ++i) poll_fds_.push_back(pollfd{sockets_[i].fd, POLLIN, 0});
  xdp_options options{};
  socklen_t options_len = sizeof(options);
  zero_copy_ = getsockopt(sockets_[0].fd, SOL_XDP, XDP_OPTIONS, &options, &options_len) == 0 &&
               (options.flags & XDP_OPTIONS_ZEROCOPY);
  return true;
}

// Every frame starts free; each socket's fill ring takes what it has room for, in socket order.
void AfXdpIo::prime_fill_rings() {
  free_frames_.clear();
  free_frames_.reserve(frame_count_);
  for (uint32_t i = frame_count_; i > 0; --i)
    free_frames_.push_back(static_cast<uint64_t>(i - 1) * kFrameSize);
  for (uint32_t i = 0; i < socket_count_; ++i) refill(sockets_[i]);
}

// Puts each socket in the steering's XSKMAP, so the steering program redirects its queue's
// packets to it. Sockets on interfaces the steering is not attached to only transmit.
bool AfXdpIo::register_sockets(std::string* error) {
  if (!steering_) return true;
  for (uint32_t i = 0; i < socket_count_; ++i) {
    Socket& socket = sockets_[i];
    if (!steering_->mode(socket.ifindex)) continue;  // not steered here: transmit only
    if (!steering_->set_xsk(socket.ifindex, socket.queue, socket.fd, error)) return false;
    socket.registered = true;
  }
  return true;
}

void AfXdpIo::teardown() {
  for (uint32_t i = 0; i < socket_count_; ++i) {
    Socket& socket = sockets_[i];
    if (socket.registered && steering_) steering_->clear_xsk(socket.ifindex, socket.queue);
    socket.registered = false;
  }
  // Sockets before the UMEM: libxdp refuses to delete a UMEM still referenced.
  for (uint32_t i = socket_count_; i > 0; --i) {
    Socket& socket = sockets_[i - 1];
    if (socket.xsk) xsk_socket__delete(socket.xsk);
    socket.xsk = nullptr;
  }
  if (umem_) xsk_umem__delete(umem_);
  umem_ = nullptr;
  if (umem_area_) munmap(umem_area_, umem_bytes_);
  umem_area_ = nullptr;
  sockets_.reset();
  socket_count_ = 0;
  poll_fds_.clear();
  free_frames_.clear();
}

AfXdpIo::~AfXdpIo() { teardown(); }

void AfXdpIo::refill(Socket& socket) {
  uint32_t room = xsk_prod_nb_free(&socket.fill, ring_size_);
  uint32_t count = std::min<uint32_t>(room, static_cast<uint32_t>(free_frames_.size()));
  if (count == 0) return;
  uint32_t index = 0;
  count = xsk_ring_prod__reserve(&socket.fill, count, &index);
  for (uint32_t i = 0; i < count; ++i) {
    *xsk_ring_prod__fill_addr(&socket.fill, index + i) = free_frames_.back();
    free_frames_.pop_back();
  }
  xsk_ring_prod__submit(&socket.fill, count);
}

void AfXdpIo::reap_completions(Socket& socket) {
  uint32_t index = 0;
  uint32_t done = xsk_ring_cons__peek(&socket.comp, ring_size_, &index);
  if (done == 0) return;
  for (uint32_t i = 0; i < done; ++i) {
    // The completion carries the descriptor's address, data offset included.
    free_frames_.push_back(*xsk_ring_cons__comp_addr(&socket.comp, index + i) & ~kFrameMask);
  }
  xsk_ring_cons__release(&socket.comp, done);
}

// Descriptors submitted that the kernel has not consumed yet. (Outstanding completions do not
// count: in copy mode they only arrive when the receiver frees the skb, and kicking for them
// costs a syscall per burst for nothing.)
uint32_t AfXdpIo::tx_pending(const Socket& socket) {
  return socket.tx.cached_prod - __atomic_load_n(socket.tx.consumer, __ATOMIC_ACQUIRE);
}

void AfXdpIo::kick_tx(Socket& socket) {
  for (int attempt = 0; attempt < kMaxKicksPerFlush && tx_pending(socket) != 0; ++attempt) {
    // A zero-copy driver that polls the ring by itself clears the flag; copy mode keeps it.
    if (need_wakeup_ && !xsk_ring_prod__needs_wakeup(&socket.tx)) return;
    ++stats_.tx_kicks;
    if (sendto(socket.fd, nullptr, 0, MSG_DONTWAIT, nullptr, 0) >= 0) continue;
    // EAGAIN: the per-call skb budget ran out, or the completion ring is full (reaping makes
    // room). EBUSY/ENOBUFS: transient.
    if (errno == EAGAIN || errno == EBUSY || errno == ENOBUFS) {
      reap_completions(socket);
      continue;
    }
    ++stats_.tx_kick_errors;
    return;
  }
}

uint32_t AfXdpIo::rx_burst(std::span<Frame> out) {
  // Housekeeping first: frames the kernel finished sending go back to the pool, and
  // anything still queued from an unflushed tx_burst gets its kick.
  for (uint32_t i = 0; i < socket_count_; ++i) {
    reap_completions(sockets_[i]);
    if (tx_pending(sockets_[i])) kick_tx(sockets_[i]);
  }

  uint32_t received = 0;
  const uint32_t want = static_cast<uint32_t>(out.size());
  for (uint32_t k = 0; k < socket_count_ && received < want; ++k) {
    Socket& socket = sockets_[(rx_cursor_ + k) % socket_count_];
    uint32_t index = 0;
    uint32_t got = xsk_ring_cons__peek(&socket.rx, want - received, &index);
    for (uint32_t i = 0; i < got; ++i) {
      const xdp_desc* desc = xsk_ring_cons__rx_desc(&socket.rx, index + i);
      Frame& frame = out[received + i];
      uint32_t offset = static_cast<uint32_t>(desc->addr & kFrameMask);
      frame.data = umem_area_ + desc->addr;
      frame.len = desc->len;
      frame.headroom = static_cast<uint16_t>(offset);
      frame.tailroom = static_cast<uint16_t>(kFrameSize - offset - desc->len);
      frame.port = socket.port;
      frame.handle = desc->addr & ~kFrameMask;
    }
    if (got) {
      xsk_ring_cons__release(&socket.rx, got);
      received += got;
      refill(socket);
    }
  }
  rx_cursor_ = socket_count_ ? (rx_cursor_ + 1) % socket_count_ : 0;

  if (received == 0 && need_wakeup_) {
    // Zero-copy drivers stop polling an empty fill ring until woken.
    for (uint32_t i = 0; i < socket_count_; ++i) {
      Socket& socket = sockets_[i];
      refill(socket);
      if (xsk_ring_prod__needs_wakeup(&socket.fill)) {
        ++stats_.rx_wakeups;
        recvfrom(socket.fd, nullptr, 0, MSG_DONTWAIT, nullptr, nullptr);
      }
    }
  }
  stats_.rx_packets += received;
  return received;
}

uint32_t AfXdpIo::tx_burst(uint16_t port, std::span<Frame> frames) {
  if (port >= ports_.size() || frames.empty()) return 0;
  Socket& socket = sockets_[port_tx_socket_[port]];
  uint32_t count = static_cast<uint32_t>(frames.size());
  if (xsk_prod_nb_free(&socket.tx, count) < count) {
    // The ring is full of descriptors the kernel has not taken: push them out first.
    kick_tx(socket);
    reap_completions(socket);
  }
  count = std::min(count, xsk_prod_nb_free(&socket.tx, count));
  uint32_t index = 0;
  if (count == 0 || xsk_ring_prod__reserve(&socket.tx, count, &index) != count) {
    stats_.tx_ring_full += frames.size();
    return 0;
  }
  for (uint32_t i = 0; i < count; ++i) {
    const Frame& frame = frames[i];
    xdp_desc* desc = xsk_ring_prod__tx_desc(&socket.tx, index + i);
    desc->addr = static_cast<uint64_t>(frame.data - umem_area_);
    desc->len = frame.len;
    desc->options = 0;
  }
  xsk_ring_prod__submit(&socket.tx, count);
  stats_.tx_packets += count;
  stats_.tx_ring_full += frames.size() - count;
  return count;
}

void AfXdpIo::flush() {
  for (uint32_t i = 0; i < socket_count_; ++i)
    if (tx_pending(sockets_[i])) kick_tx(sockets_[i]);
}

void AfXdpIo::free(std::span<Frame> frames) {
  for (const Frame& frame : frames) free_frames_.push_back(frame.handle);
}

bool AfXdpIo::alloc(Frame& frame, uint16_t headroom) {
  if (headroom >= kFrameSize) return false;
  if (free_frames_.empty()) {
    for (uint32_t i = 0; i < socket_count_; ++i) reap_completions(sockets_[i]);
    if (free_frames_.empty()) {
      ++stats_.alloc_failures;
      return false;
    }
  }
  uint64_t base = free_frames_.back();
  free_frames_.pop_back();
  frame.handle = base;
  frame.data = umem_area_ + base + headroom;
  frame.len = 0;
  frame.headroom = headroom;
  frame.tailroom = static_cast<uint16_t>(kFrameSize - headroom);
  frame.port = 0;
  return true;
}

bool AfXdpIo::wait_rx(int timeout_ms) {
  for (pollfd& entry : poll_fds_) entry.revents = 0;
  return poll(poll_fds_.data(), poll_fds_.size(), timeout_ms) > 0;
}

std::vector<AfXdpSocketStats> AfXdpIo::socket_stats() const {
  std::vector<AfXdpSocketStats> out;
  for (uint32_t i = 0; i < socket_count_; ++i) {
    const Socket& socket = sockets_[i];
    AfXdpSocketStats entry;
    entry.interface = port_names_[socket.port];
    entry.queue = socket.queue;
    xdp_statistics kernel{};
    socklen_t len = sizeof(kernel);
    if (getsockopt(socket.fd, SOL_XDP, XDP_STATISTICS, &kernel, &len) == 0) {
      entry.rx_dropped = kernel.rx_dropped;
      entry.rx_invalid_descs = kernel.rx_invalid_descs;
      entry.tx_invalid_descs = kernel.tx_invalid_descs;
      entry.rx_ring_full = kernel.rx_ring_full;
      entry.rx_fill_ring_empty_descs = kernel.rx_fill_ring_empty_descs;
      entry.tx_ring_empty_descs = kernel.tx_ring_empty_descs;
    }
    out.push_back(entry);
  }
  return out;
}

}  // namespace uvs::io
