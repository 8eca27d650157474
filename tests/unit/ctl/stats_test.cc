#include "ctl/stats.h"

#include <gtest/gtest.h>

namespace uvs::ctl {
namespace {

TEST(RateEstimator, ConvergesToTheSteadyRate) {
  RateEstimator est;
  StatsView t{};
  // 100 conns/s, 1000 pkts/s, 64000 B/s for three minutes of 2-second samples (the EWMA needs that long to settle exactly).
  for (int i = 0; i < 90; ++i) {
    t.conns += 200;
    t.inpkts += 2000;
    t.outpkts += 1000;
    t.inbytes += 128000;
    t.outbytes += 64000;
    est.sample(t);
  }
  RateView r = est.rates();
  EXPECT_EQ(r.cps, 100u);
  EXPECT_EQ(r.inpps, 1000u);
  EXPECT_EQ(r.outpps, 500u);
  EXPECT_EQ(r.inbps, 64000u);
  EXPECT_EQ(r.outbps, 32000u);
}

TEST(RateEstimator, FirstSampleIsAQuarterOfTheRate) {
  // avg = (delta << 9) >> 2 after one sample: a quarter of the per-second rate.
  RateEstimator est;
  est.sample(StatsView{800, 0, 0, 0, 0});  // 400/s
  EXPECT_EQ(est.rates().cps, 100u);
}

TEST(RateEstimator, DecaysToZeroAndResets) {
  RateEstimator est;
  StatsView t{1000, 1000, 0, 1000, 0};
  est.sample(t);
  for (int i = 0; i < 200; ++i) est.sample(t);
  EXPECT_EQ(est.rates().cps, 0u);
  EXPECT_EQ(est.rates().inbps, 0u);
  t.conns += 2000;
  est.sample(t);
  EXPECT_GT(est.rates().cps, 0u);
  est.reset(t);
  EXPECT_EQ(est.rates().cps, 0u);
  est.sample(t);  // no change since the reset point
  EXPECT_EQ(est.rates().cps, 0u);
}

TEST(StatsCell, ZeroPointSubtracts) {
  StatsCell cell;
  StatsView totals{10, 20, 30, 40, 50};
  cell.zero_now(totals);
  totals.conns += 5;
  EXPECT_EQ(cell.shown(totals).conns, 5u);
  EXPECT_EQ(cell.shown(totals).inpkts, 0u);
}

}  // namespace
}  // namespace uvs::ctl
