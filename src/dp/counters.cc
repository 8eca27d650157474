#include "dp/counters.h"

namespace uvs::dp {

StatsView CounterSet::fold() const {
  StatsView s;
  for (unsigned w = 0; w < workers_; ++w) {
    const auto& l = lines_[w];
    s.conns += l.conns.load(std::memory_order_relaxed);
    s.inpkts += l.inpkts.load(std::memory_order_relaxed);
    s.outpkts += l.outpkts.load(std::memory_order_relaxed);
    s.inbytes += l.inbytes.load(std::memory_order_relaxed);
    s.outbytes += l.outbytes.load(std::memory_order_relaxed);
  }
  return s;
}

}  // namespace uvs::dp
