// fo -- weighted failover (ip_vs_fo_schedule()): the dest with the highest weight that is not
// OVERLOAD; weight 0 never qualifies and ties keep the earlier dest.
#include "sched/least_conn.h"
#include "sched/schedulers.h"

namespace uvs::sched {

namespace {

class WeightedFailover final : public Scheduler {
 public:
  std::string_view name() const override { return "fo"; }

  Dest* schedule(const SchedView& view, WorkerState*, const PacketKey&, Nanos) const override {
    Dest* highest = nullptr;
    int32_t highest_weight = 0;
    for (Dest* d : view.dests()) {
      const int32_t weight = d->weight();
      if (!d->overloaded() && weight > highest_weight) {
        new_best_found();
        highest = d;
        highest_weight = weight;
      }
    }
    return highest;
  }
};

}  // namespace

const Scheduler& fo_scheduler() {
  static const WeightedFailover scheduler;
  return scheduler;
}

}  // namespace uvs::sched
