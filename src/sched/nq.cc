// nq -- never queue (ip_vs_nq_schedule()): the first idle dest (no active connections) in list
// order if there is one, otherwise sed's choice.
#include "sched/least_conn.h"
#include "sched/schedulers.h"

namespace uvs::sched {

namespace {

class NeverQueue final : public Scheduler {
 public:
  std::string_view name() const override { return "nq"; }

  Dest* schedule(const SchedView& view, WorkerState*, const PacketKey&, Nanos) const override {
    Dest* least = nullptr;
    int64_t least_delay = 0;
    int64_t least_weight = 0;
    for (Dest* d : view.dests()) {
      const int32_t weight = d->weight();
      if (d->overloaded() || weight == 0) continue;
      const int32_t active = d->activeconns();
      if (active == 0) return d;
      const int64_t delay = int64_t{active} + 1;
      if (least == nullptr || products_greater(least_delay, weight, delay, least_weight)) {
        least = d;
        least_delay = delay;
        least_weight = weight;
      }
    }
    return least;
  }
};

}  // namespace

const Scheduler& nq_scheduler() {
  static const NeverQueue scheduler;
  return scheduler;
}

}  // namespace uvs::sched
