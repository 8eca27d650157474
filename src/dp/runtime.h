// Runtime objects shared by the control plane and the workers: a real server is the
// scheduler's Dest plus the counters a worker bumps for it and for its service. A connection
// holds a Dest*; the worker reaches both counter sets from it without another lookup.
#pragma once

#include <memory>

#include "dp/counters.h"
#include "sched/dest.h"

namespace uvs::dp {

class RealServer : public sched::Dest {
 public:
  RealServer(const DestKey& key, unsigned workers, std::shared_ptr<CounterSet> service_counters)
      : sched::Dest(key), counters_(workers), service_counters_(std::move(service_counters)) {}

  CounterSet& counters() { return counters_; }
  const CounterSet& counters() const { return counters_; }
  // The service's counters: kept alive by the dest (a dest in the trash still counts).
  CounterSet& service_counters() { return *service_counters_; }

  static RealServer& of(sched::Dest& d) { return static_cast<RealServer&>(d); }

 private:
  CounterSet counters_;
  std::shared_ptr<CounterSet> service_counters_;
};

}  // namespace uvs::dp
