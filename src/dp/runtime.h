// Runtime objects shared by the control plane and the workers: a real server is the
// scheduler's Dest plus the counters a worker bumps for it and for its service. A connection
// holds a Dest*; the worker reaches both counter sets from it without another lookup.
#pragma once

#include <atomic>
#include <memory>
#include <vector>

#include "dp/counters.h"
#include "sched/dest.h"

namespace uvs::dp {

class RealServer : public sched::Dest {
 public:
  RealServer(const DestKey& key, unsigned workers, std::shared_ptr<CounterSet> service_counters)
      : sched::Dest(key), counters_(workers) {
    rebind_service(std::move(service_counters));
  }

  CounterSet& counters() { return counters_; }
  const CounterSet& counters() const { return counters_; }
  // The service's counters: kept alive by the dest (a dest in the trash still counts).
  CounterSet& service_counters() { return *service_counters_.load(std::memory_order_acquire); }
  // Control plane: the dest came back from the trash into a service made anew with the same
  // key (__ip_vs_update_dest() binding it to another svc). Workers may still be counting into
  // the old set, so every set this dest ever counted into lives as long as the dest.
  void rebind_service(std::shared_ptr<CounterSet> service_counters) {
    service_counters_.store(service_counters.get(), std::memory_order_release);
    owned_.push_back(std::move(service_counters));
  }
  bool counts_into(const CounterSet& set) const {
    return service_counters_.load(std::memory_order_acquire) == &set;
  }

  static RealServer& of(sched::Dest& d) { return static_cast<RealServer&>(d); }

 private:
  CounterSet counters_;
  std::atomic<CounterSet*> service_counters_{nullptr};
  std::vector<std::shared_ptr<CounterSet>> owned_;  // control plane only
};

}  // namespace uvs::dp
