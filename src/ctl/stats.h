// Statistics as the control plane keeps them: running totals folded from the data plane, a
// zero point for -Z, and the kernel's 2-second rate estimator (ip_vs_est.c).
#pragma once

#include <cstdint>

#include "model/listing.h"

namespace uvs::ctl {

// EWMA over 2-second samples with weight 1/4, in the fixed point of the kernel's ip_vs_est.c.
class RateEstimator {
 public:
  // Feed the current totals; call every 2 seconds.
  void sample(const StatsView& totals);
  // Restart from `totals` with every average at zero (-Z).
  void reset(const StatsView& totals);
  RateView rates() const;

 private:
  StatsView last_{};
  int64_t cps_ = 0, inpps_ = 0, outpps_ = 0, inbps_ = 0, outbps_ = 0;
};

StatsView operator-(const StatsView& a, const StatsView& b);
StatsView& operator+=(StatsView& a, const StatsView& b);

// What the control plane adds to one object's counters: the -Z zero point and the estimator.
// The totals themselves live with the workers (dp::CounterSet) and are folded on read.
struct StatsCell {
  StatsView zero{};  // totals at the last -Z
  RateEstimator estimator;

  StatsView shown(const StatsView& totals) const { return totals - zero; }
  void zero_now(const StatsView& totals) {
    zero = totals;
    estimator.reset(totals);
  }
};

}  // namespace uvs::ctl
