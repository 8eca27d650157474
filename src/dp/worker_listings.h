// `uvsadm -c` across the workers: asks every worker's ConnListing (conn/listing.h) for a copy
// of its connection table and gathers the answers.
//
// A ConnListing serves one requester at a time, while the API server answers every client on
// its own thread: listings are taken one at a time here.
#pragma once

#include <chrono>
#include <mutex>
#include <vector>

#include "conn/listing.h"
#include "model/listing.h"

namespace uvs::dp {

class WorkerListings {
 public:
  explicit WorkerListings(std::vector<conn::ConnListing*> listings)
      : listings_(std::move(listings)) {}

  // The connections of every worker that answers within `timeout` (each waited for in turn).
  std::vector<ConnView> gather(std::chrono::milliseconds timeout) {
    std::lock_guard lock(mutex_);
    for (auto* l : listings_) {
      // A worker that missed an earlier listing's timeout is still copying into it: that copy
      // is waited for, not restarted under the worker.
      if (!l->requested()) l->request(1024);
    }
    std::vector<ConnView> all;
    for (auto* l : listings_) {
      if (!l->wait(timeout)) continue;
      auto part = l->take();
      all.insert(all.end(), part.begin(), part.end());
    }
    return all;
  }

 private:
  std::mutex mutex_;
  std::vector<conn::ConnListing*> listings_;
};

}  // namespace uvs::dp
