// lc -- least connection (ip_vs_lc_schedule()): the smallest overhead among dests that are not
// OVERLOAD and have a non-zero weight; weights are otherwise ignored and ties keep the earlier
// dest.
#include "sched/schedulers.h"

namespace uvs::sched {

namespace {

class LeastConnection final : public Scheduler {
 public:
  std::string_view name() const override { return "lc"; }

  Dest* schedule(const SchedView& view, WorkerState*, const PacketKey&, Nanos) const override {
    Dest* least = nullptr;
    int64_t least_overhead = 0;
    for (Dest* d : view.dests()) {
      if (d->overloaded() || d->weight() == 0) continue;
      const int64_t overhead = d->overhead();
      if (least == nullptr || overhead < least_overhead) {
        least = d;
        least_overhead = overhead;
      }
    }
    return least;
  }
};

}  // namespace

const Scheduler& lc_scheduler() {
  static const LeastConnection scheduler;
  return scheduler;
}

}  // namespace uvs::sched
