// `uvsadm -c` across threads: the control plane asks a worker for a copy of its connection
// table and the worker fills it between bursts, a slice at a time, so lookups never take a
// lock and a listing of millions of entries never stalls a burst.
//
// One ConnListing per worker, owned by the control plane:
//   control:  listing.request(expected);            // publishes the request (release)
//   worker:   if (listing.requested())               // between bursts (acquire load)
//               tracker.serve_listing(listing, now, 4096);  // copies up to 4096 pool slots
//   control:  if (listing.wait(1s)) views = listing.take();
// The copy is not atomic across slices (neither is the kernel's /proc/net/ip_vs_conn): an
// entry created or expired while the listing runs may or may not appear.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <vector>

#include "model/listing.h"

namespace uvs::conn {

class Tracker;

class ConnListing {
 public:
  // Control plane: starts a listing (the previous result is discarded). `expected` entries are
  // reserved so the worker rarely grows the vector.
  void request(size_t expected);
  // Control plane: waits until the worker has finished, or `timeout`; true when finished.
  bool wait(std::chrono::milliseconds timeout) const;
  bool done() const { return state_.load(std::memory_order_acquire) == kDone; }
  // Control plane, after wait() returned true.
  std::vector<ConnView> take();

  // Worker: a request is waiting to be served.
  bool requested() const { return state_.load(std::memory_order_acquire) == kRequested; }

 private:
  friend class Tracker;
  enum State : uint32_t { kIdle, kRequested, kDone };

  std::atomic<uint32_t> state_{kIdle};
  std::vector<ConnView> entries_;  // written by the worker while kRequested
  uint32_t cursor_ = 0;            // next pool slot to copy
};

}  // namespace uvs::conn
