// sed -- shortest expected delay (spec C.5): wlc's walk with overhead = activeconns + 1, the
// delay a new connection would see if the server served its active connections in turn.
#include "sched/least_conn.h"
#include "sched/schedulers.h"

namespace uvs::sched {

namespace {

class ShortestExpectedDelay final : public Scheduler {
 public:
  std::string_view name() const override { return "sed"; }

  Dest* schedule(const SchedView& view, WorkerState*, const PacketKey&, Nanos) const override {
    const auto dests = view.dests();
    const size_t n = dests.size();
    size_t i = 0;
    Dest* least = nullptr;
    for (; i < n; ++i) {
      if (!dests[i]->overloaded() && dests[i]->weight() > 0) {
        least = dests[i];
        break;
      }
    }
    if (least == nullptr) return nullptr;
    int64_t least_delay = int64_t{least->activeconns()} + 1;
    int64_t least_weight = least->weight();
    for (++i; i < n; ++i) {
      Dest* d = dests[i];
      if (d->overloaded()) continue;
      const int64_t delay = int64_t{d->activeconns()} + 1;
      const int64_t weight = d->weight();
      if (products_greater(least_delay, weight, delay, least_weight)) {
        new_best_found();
        least = d;
        least_delay = delay;
        least_weight = weight;
      }
    }
    return least;
  }
};

}  // namespace

const Scheduler& sed_scheduler() {
  static const ShortestExpectedDelay scheduler;
  return scheduler;
}

}  // namespace uvs::sched
