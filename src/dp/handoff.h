// Hands a packet to the worker that owns its flow. Where the NIC cannot steer both directions
// of a connection to one queue (veth, most VMs), a reply may arrive at another worker than the
// one holding the connection; it crosses over a single-producer single-consumer ring. Each
// worker has its own UMEM, so the bytes are copied into the ring's slot and again into a frame
// of the receiving worker.
#pragma once

#include <cstdint>
#include <cstring>
#include <memory>
#include <vector>

#include "io/packet_io.h"
#include "util/spsc_ring.h"

namespace uvs::dp {

class HandoffRing {
 public:
  static constexpr uint32_t kSlots = 512;       // power of two
  static constexpr uint32_t kMaxFrame = 2048;  // larger frames are not handed over

  struct Slot {
    uint32_t len;
    uint16_t port;
    uint8_t data[kMaxFrame];
  };

  // Producer: copies the frame in. False when the ring is full or the frame too large.
  bool push(const io::Frame& f) {
    if (f.len > kMaxFrame) return false;
    Slot* s = ring_.claim();
    if (!s) return false;
    s->len = f.len;
    s->port = f.port;
    std::memcpy(s->data, f.data, f.len);
    ring_.publish();
    return true;
  }
  // Producer: frames push() can still take.
  uint32_t room() const { return ring_.room(); }
  // Consumer: the oldest slot, or null; release() it after copying out.
  const Slot* peek() const { return ring_.peek(); }
  void release() { ring_.release(); }

 private:
  util::SpscRing<Slot, kSlots> ring_;
};

// One ring per (from, to) pair of workers.
class Handoff {
 public:
  explicit Handoff(unsigned workers) : workers_(workers), rings_(workers * workers) {
    for (auto& r : rings_) r = std::make_unique<HandoffRing>();
  }
  unsigned workers() const { return workers_; }
  HandoffRing& ring(unsigned from, unsigned to) { return *rings_[from * workers_ + to]; }

 private:
  unsigned workers_;
  std::vector<std::unique_ptr<HandoffRing>> rings_;
};

}  // namespace uvs::dp
