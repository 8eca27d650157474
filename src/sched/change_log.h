// The last few dest-list changes of a service, published with rr/wrr's tables so that a worker
// whose cursor is several generations behind can replay what the kernel's hooks would have done
// to it, in order. With up to kCapacity changes between two picks of a worker (always, with one
// worker and normal configuration rates) the worker's sequence is exactly the kernel's.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

namespace uvs::sched {

// Worker-state generation before the first pick: nothing to replay.
inline constexpr uint64_t kNeverSynced = UINT64_MAX;

template <typename Change>
class ChangeLog {
 public:
  static constexpr size_t kCapacity = 64;

  void push(uint64_t generation, const Change& change) {
    if (size_ == kCapacity) {
      forgotten_ = ring_[start_].generation;
      start_ = (start_ + 1) % kCapacity;
      --size_;
    }
    ring_[(start_ + size_) % kCapacity] = Entry{generation, change};
    ++size_;
  }

  // True if every change after `generation` is still here.
  bool covers(uint64_t generation) const { return generation >= forgotten_; }

  // Calls f(change) for each change newer than `generation`, oldest first.
  template <typename F>
  void replay_after(uint64_t generation, F&& f) const {
    for (size_t i = 0; i < size_; ++i) {
      const Entry& e = ring_[(start_ + i) % kCapacity];
      if (e.generation > generation) f(e.change);
    }
  }

 private:
  struct Entry {
    uint64_t generation = 0;
    Change change{};
  };
  std::array<Entry, kCapacity> ring_{};
  size_t start_ = 0;
  size_t size_ = 0;
  uint64_t forgotten_ = 0;  // generation of the newest change dropped from the ring
};

}  // namespace uvs::sched
