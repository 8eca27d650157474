// Batched packet I/O under the data plane: AF_XDP for the product, memory for tests and
// benchmarks. A worker receives a burst, transforms frames in place and hands each to tx or
// free. Frames belong to the caller between rx_burst and tx_burst/free.
#pragma once

#include <cstdint>
#include <span>

namespace uvs::io {

// One packet buffer. `data` may move back into the headroom (encapsulation) or forward
// (decapsulation); `len` is the frame length from `data`.
struct Frame {
  uint8_t* data = nullptr;
  uint32_t len = 0;
  uint16_t headroom = 0;  // bytes usable before data
  uint16_t tailroom = 0;  // bytes usable after data + len
  uint16_t port = 0;      // receiving port (index in the io's port table)
  uint64_t handle = 0;    // the backend's buffer identity

  // Grows the frame at the front by n bytes (for an outer header). False if no room.
  bool push_front(uint16_t n) {
    if (n > headroom) return false;
    data -= n;
    len += n;
    headroom -= n;
    return true;
  }
  // Removes n bytes at the front (for decapsulation).
  bool pull_front(uint16_t n) {
    if (n > len) return false;
    data += n;
    len -= n;
    headroom += n;
    return true;
  }
  // Grows (n > 0) or shrinks (n < 0) the frame at the end. False if no room.
  bool adjust_tail(int32_t n) {
    if (n > 0 && static_cast<uint32_t>(n) > tailroom) return false;
    if (n < 0 && static_cast<uint32_t>(-n) > len) return false;
    len = static_cast<uint32_t>(static_cast<int64_t>(len) + n);
    tailroom = static_cast<uint16_t>(static_cast<int32_t>(tailroom) - n);
    return true;
  }
};

// An interface the io sends and receives on.
struct PortInfo {
  int ifindex = 0;
  uint8_t mac[6] = {};
  uint32_t mtu = 1500;
};

class PacketIo {
 public:
  virtual ~PacketIo() = default;
  // Up to out.size() received frames; returns how many were filled.
  virtual uint32_t rx_burst(std::span<Frame> out) = 0;
  // Queues frames for transmission on `port`; returns how many were taken. Frames not taken
  // still belong to the caller.
  virtual uint32_t tx_burst(uint16_t port, std::span<Frame> frames) = 0;
  // Returns frames to the pool.
  virtual void free(std::span<Frame> frames) = 0;
  // A fresh buffer for a packet the data plane originates (ICMP errors, SYN proxy replies),
  // with the given headroom. False when the pool is empty.
  virtual bool alloc(Frame& frame, uint16_t headroom) = 0;
  // Pushes queued transmissions to the device (the batched syscall), if the backend needs it.
  virtual void flush() {}

  virtual std::span<const PortInfo> ports() const = 0;
};

}  // namespace uvs::io
