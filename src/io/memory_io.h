// PacketIo over memory: tests and benchmarks inject frames and collect what was sent.
#pragma once

#include <cstdint>
#include <deque>
#include <vector>

#include "io/packet_io.h"

namespace uvs::io {

class MemoryIo : public PacketIo {
 public:
  struct Sent {
    uint16_t port;
    std::vector<uint8_t> bytes;
  };

  // A pool of `buffers` buffers of `buffer_size` bytes, each frame received with `headroom`
  // bytes in front, like an AF_XDP UMEM frame.
  MemoryIo(std::vector<PortInfo> ports, uint32_t buffers = 4096, uint32_t buffer_size = 4096,
           uint16_t headroom = 256);

  // Queues a frame to be returned by a later rx_burst. False if the pool is empty or the
  // frame does not fit.
  bool inject(uint16_t port, const std::vector<uint8_t>& bytes);

  uint32_t rx_burst(std::span<Frame> out) override;
  uint32_t tx_burst(uint16_t port, std::span<Frame> frames) override;
  void free(std::span<Frame> frames) override;
  bool alloc(Frame& frame, uint16_t headroom) override;
  std::span<const PortInfo> ports() const override { return ports_; }

  // Everything transmitted so far, oldest first; take() empties it.
  std::vector<Sent> take();
  uint32_t free_buffers() const { return static_cast<uint32_t>(free_.size()); }

 private:
  Frame frame_for(uint32_t index, uint16_t headroom);

  std::vector<PortInfo> ports_;
  uint32_t buffer_size_;
  uint16_t headroom_;
  std::vector<uint8_t> pool_;
  std::vector<uint32_t> free_;
  std::deque<Frame> rx_;
  std::vector<Sent> sent_;
};

}  // namespace uvs::io
