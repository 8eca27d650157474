// wlc -- weighted least connection, the default scheduler (ip_vs_wlc_schedule()): the smallest
// overhead / weight, compared by cross-multiplication (least_conn.h).
#include "sched/least_conn.h"
#include "sched/schedulers.h"

namespace uvs::sched {

namespace {

class WeightedLeastConnection final : public Scheduler {
 public:
  std::string_view name() const override { return "wlc"; }

  Dest* schedule(const SchedView& view, WorkerState*, const PacketKey&, Nanos) const override {
    return pick_weighted_least_conn(view.dests());
  }
};

}  // namespace

const Scheduler& wlc_scheduler() {
  static const WeightedLeastConnection scheduler;
  return scheduler;
}

}  // namespace uvs::sched
