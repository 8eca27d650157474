#include "io/memory_io.h"

#include <cstring>

namespace uvs::io {

MemoryIo::MemoryIo(std::vector<PortInfo> ports, uint32_t buffers, uint32_t buffer_size,
                   uint16_t headroom)
    : ports_(std::move(ports)),
      buffer_size_(buffer_size),
      headroom_(headroom),
      pool_(static_cast<size_t>(buffers) * buffer_size) {
  free_.reserve(buffers);
  for (uint32_t i = buffers; i > 0; --i) free_.push_back(i - 1);
}

Frame MemoryIo::frame_for(uint32_t index, uint16_t headroom) {
  Frame f;
  f.handle = index;
  f.data = pool_.data() + static_cast<size_t>(index) * buffer_size_ + headroom;
  f.headroom = headroom;
  f.tailroom = static_cast<uint16_t>(buffer_size_ - headroom);
  f.len = 0;
  return f;
}

bool MemoryIo::inject(uint16_t port, const std::vector<uint8_t>& bytes) {
  if (free_.empty() || bytes.size() + headroom_ > buffer_size_) return false;
  Frame f = frame_for(free_.back(), headroom_);
  free_.pop_back();
  if (!bytes.empty()) std::memcpy(f.data, bytes.data(), bytes.size());
  f.len = static_cast<uint32_t>(bytes.size());
  f.tailroom = static_cast<uint16_t>(f.tailroom - bytes.size());
  f.port = port;
  rx_.push_back(f);
  return true;
}

uint32_t MemoryIo::rx_burst(std::span<Frame> out) {
  uint32_t n = 0;
  while (n < out.size() && !rx_.empty()) {
    out[n++] = rx_.front();
    rx_.pop_front();
  }
  return n;
}

uint32_t MemoryIo::tx_burst(uint16_t port, std::span<Frame> frames) {
  for (auto& f : frames) {
    sent_.push_back(Sent{port, std::vector<uint8_t>(f.data, f.data + f.len)});
    free_.push_back(static_cast<uint32_t>(f.handle));
  }
  return static_cast<uint32_t>(frames.size());
}

void MemoryIo::free(std::span<Frame> frames) {
  for (auto& f : frames) free_.push_back(static_cast<uint32_t>(f.handle));
}

bool MemoryIo::alloc(Frame& frame, uint16_t headroom) {
  if (free_.empty() || headroom >= buffer_size_) return false;
  frame = frame_for(free_.back(), headroom);
  free_.pop_back();
  return true;
}

std::vector<MemoryIo::Sent> MemoryIo::take() {
  std::vector<Sent> out;
  out.swap(sent_);
  return out;
}

}  // namespace uvs::io
