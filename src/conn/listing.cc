#include "conn/listing.h"

#include <thread>

namespace uvs::conn {

void ConnListing::request(size_t expected) {
  entries_.clear();
  entries_.reserve(expected);
  cursor_ = 0;
  state_.store(kRequested, std::memory_order_release);
}

bool ConnListing::wait(std::chrono::milliseconds timeout) const {
  // The worker never blocks or signals; polling here keeps the data path free of futexes.
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!done()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
  return true;
}

std::vector<ConnView> ConnListing::take() {
  std::vector<ConnView> out;
  if (!done()) return out;  // the worker may still be writing
  out.swap(entries_);
  state_.store(kIdle, std::memory_order_relaxed);
  return out;
}

}  // namespace uvs::conn
