#include "ctl/stats.h"

namespace uvs::ctl {

namespace {

// One EWMA step: avg += ((delta << shift) - avg) >> 2, signed, arithmetic shift.
void step(int64_t& avg, uint64_t now, uint64_t last, int shift) {
  int64_t delta = static_cast<int64_t>(now - last);
  avg += ((delta << shift) - avg) >> 2;
}

}  // namespace

void RateEstimator::sample(const StatsView& t) {
  step(cps_, t.conns, last_.conns, 9);
  step(inpps_, t.inpkts, last_.inpkts, 9);
  step(outpps_, t.outpkts, last_.outpkts, 9);
  step(inbps_, t.inbytes, last_.inbytes, 4);
  step(outbps_, t.outbytes, last_.outbytes, 4);
  last_ = t;
}

void RateEstimator::reset(const StatsView& totals) {
  *this = RateEstimator{};
  last_ = totals;
}

RateView RateEstimator::rates() const {
  auto per_sec = [](int64_t v) { return static_cast<uint64_t>((v + 0x1FF) >> 10); };
  auto bytes_sec = [](int64_t v) { return static_cast<uint64_t>((v + 0xF) >> 5); };
  return RateView{per_sec(cps_), per_sec(inpps_), per_sec(outpps_), bytes_sec(inbps_),
                  bytes_sec(outbps_)};
}

StatsView operator-(const StatsView& a, const StatsView& b) {
  return StatsView{a.conns - b.conns, a.inpkts - b.inpkts, a.outpkts - b.outpkts,
                   a.inbytes - b.inbytes, a.outbytes - b.outbytes};
}

StatsView& operator+=(StatsView& a, const StatsView& b) {
  a.conns += b.conns;
  a.inpkts += b.inpkts;
  a.outpkts += b.outpkts;
  a.inbytes += b.inbytes;
  a.outbytes += b.outbytes;
  return a;
}

}  // namespace uvs::ctl
