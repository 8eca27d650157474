// PacketIo over AF_XDP sockets (libxdp's xsk API): the product's packet I/O.
//
// One AfXdpIo belongs to one worker thread and is not thread-safe. It owns one UMEM (frames of
// kFrameSize bytes; the kernel writes received packets after XDP_PACKET_HEADROOM = 256 bytes,
// room for an outer header) shared by one socket per (interface, queue) the worker serves, so
// a frame received on one interface can be transmitted on another without a copy. ports() are
// the worker's interfaces in the order they first appear in the config.
//
// Creating one per worker (uvsd):
//   XdpSteering steering = *XdpSteering::create(...); steering.attach("eth0"); ...
//   AfXdpConfig config; config.queues = {{"eth0", q}, {"eth1", q}};
//   auto io = AfXdpIo::create(config, &steering, &error);   // registers its sockets
// Each (interface, queue) can be bound by one UMEM only: two workers need distinct queues.
// The receive queue of a veth packet is the sender's tx queue, so veth needs numrxqueues >=
// workers (and the peer's numtxqueues likewise).
//
// Zero-copy is tried first where config allows and falls back to copy mode (veth and
// anything without an xsk pool driver). In copy mode the kernel needs a sendto() to transmit;
// tx_burst queues, flush() kicks (rx_burst also kicks anything left queued), and a kick
// happens only while the kernel has not consumed descriptors, looping on EAGAIN because one
// sendto() sends at most the per-socket skb budget (32 by default).
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include <poll.h>
#include <xdp/xsk.h>

#include "io/packet_io.h"

namespace uvs::io {

class XdpSteering;

struct AfXdpQueue {
  std::string interface;
  uint32_t queue = 0;
};

enum class ZeroCopy : uint8_t {
  kAuto,     // try zero-copy, fall back to copy mode
  kRequire,  // fail if the driver cannot do zero-copy
  kOff,      // copy mode
};

struct AfXdpConfig {
  // The (interface, queue) pairs this worker serves; each gets one socket.
  std::vector<AfXdpQueue> queues;
  // Entries of each ring (rx, tx, fill, completion); a power of two.
  uint32_t ring_size = 2048;
  // UMEM frames; 0 = 2 * ring_size per socket (a full fill ring plus as much for tx/alloc).
  uint32_t frame_count = 0;
  ZeroCopy zero_copy = ZeroCopy::kAuto;
  // Let the kernel say when it needs a syscall (XDP_USE_NEED_WAKEUP).
  bool need_wakeup = true;
  // Copy mode: descriptors one sendto() may transmit (XDP_MAX_TX_SKB_BUDGET, kernel >= 6.17;
  // ignored where unsupported). 0 keeps the kernel's default (32).
  uint32_t tx_skb_budget = 0;
};

struct AfXdpStats {
  uint64_t rx_packets = 0;
  uint64_t tx_packets = 0;
  uint64_t tx_kicks = 0;        // sendto() calls
  uint64_t tx_kick_errors = 0;  // kicks that failed with other than EAGAIN/EBUSY/ENOBUFS
  uint64_t tx_ring_full = 0;    // frames tx_burst could not take
  uint64_t alloc_failures = 0;
  uint64_t rx_wakeups = 0;      // recvfrom() calls for a fill ring that needed one
};

// The kernel's view of one socket (XDP_STATISTICS).
struct AfXdpSocketStats {
  std::string interface;
  uint32_t queue = 0;
  uint64_t rx_dropped = 0;
  uint64_t rx_invalid_descs = 0;
  uint64_t tx_invalid_descs = 0;
  uint64_t rx_ring_full = 0;
  uint64_t rx_fill_ring_empty_descs = 0;
  uint64_t tx_ring_empty_descs = 0;
};

class AfXdpIo final : public PacketIo {
 public:
  static constexpr uint32_t kFrameSize = 4096;

  // Creates the UMEM and the sockets in the caller's network namespace. With `steering`, every
  // socket on an interface the steering is attached to is registered in its XSKMAP (and
  // removed on destruction); sockets on other interfaces only transmit. `steering` must outlive
  // the io. nullptr and *error on failure.
  static std::unique_ptr<AfXdpIo> create(const AfXdpConfig& config, XdpSteering* steering,
                                         std::string* error);
  ~AfXdpIo() override;
  AfXdpIo(const AfXdpIo&) = delete;
  AfXdpIo& operator=(const AfXdpIo&) = delete;

  uint32_t rx_burst(std::span<Frame> out) override;
  uint32_t tx_burst(uint16_t port, std::span<Frame> frames) override;
  void free(std::span<Frame> frames) override;
  bool alloc(Frame& frame, uint16_t headroom) override;
  void flush() override;
  std::span<const PortInfo> ports() const override { return ports_; }

  // Waits up to timeout_ms for a packet on any socket (an idle worker's sleep). True if one
  // is ready.
  bool wait_rx(int timeout_ms);
  bool zero_copy() const { return zero_copy_; }
  uint32_t frame_count() const { return frame_count_; }
  uint32_t free_frames() const { return static_cast<uint32_t>(free_frames_.size()); }
  const AfXdpStats& stats() const { return stats_; }
  std::vector<AfXdpSocketStats> socket_stats() const;

 private:
  struct Socket {
    xsk_socket* xsk = nullptr;
    int fd = -1;
    int ifindex = 0;
    uint32_t queue = 0;
    uint16_t port = 0;
    bool registered = false;  // in the steering XSKMAP
    // libxdp keeps pointers to these: a Socket never moves once created.
    xsk_ring_cons rx{};
    xsk_ring_prod tx{};
    xsk_ring_prod fill{};
    xsk_ring_cons comp{};
  };

  AfXdpIo() = default;
  bool build(const AfXdpConfig& config, bool zero_copy, std::string* error);
  // build()'s steps, in order.
  bool assign_ports(const AfXdpConfig& config, std::string* error);
  bool create_umem(std::string* error);
  bool create_sockets(const AfXdpConfig& config, bool zero_copy, std::string* error);
  void prime_fill_rings();
  bool register_sockets(std::string* error);
  void teardown();
  void refill(Socket& socket);
  void reap_completions(Socket& socket);
  void kick_tx(Socket& socket);
  static uint32_t tx_pending(const Socket& socket);

  XdpSteering* steering_ = nullptr;
  uint8_t* umem_area_ = nullptr;
  size_t umem_bytes_ = 0;
  xsk_umem* umem_ = nullptr;
  uint32_t frame_count_ = 0;
  uint32_t ring_size_ = 0;
  bool zero_copy_ = false;
  bool need_wakeup_ = true;
  std::unique_ptr<Socket[]> sockets_;
  uint32_t socket_count_ = 0;
  uint32_t rx_cursor_ = 0;  // socket rx_burst starts at: round robin
  std::vector<PortInfo> ports_;
  std::vector<std::string> port_names_;
  std::vector<uint32_t> port_tx_socket_;  // per port, the socket its transmissions use
  std::vector<uint64_t> free_frames_;     // UMEM offsets of free frames: a stack
  std::vector<pollfd> poll_fds_;          // every socket, for wait_rx
  AfXdpStats stats_;
};

}  // namespace uvs::io
