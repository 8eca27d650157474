// ovf -- weighted overflow (ip_vs_ovf_schedule()): the highest-weight dest whose active connections
// do not exceed its weight; once the top one is full, new connections overflow to the next.
#include "sched/schedulers.h"

namespace uvs::sched {

namespace {

class WeightedOverflow final : public Scheduler {
 public:
  std::string_view name() const override { return "ovf"; }

  Dest* schedule(const SchedView& view, WorkerState*, const PacketKey&, Nanos) const override {
    Dest* highest = nullptr;
    int32_t highest_weight = 0;
    for (Dest* d : view.dests()) {
      const int32_t weight = d->weight();
      if (d->overloaded() || d->activeconns() > weight || weight == 0) continue;
      if (highest == nullptr || weight > highest_weight) {
        highest = d;
        highest_weight = weight;
      }
    }
    return highest;
  }
};

}  // namespace

const Scheduler& ovf_scheduler() {
  static const WeightedOverflow scheduler;
  return scheduler;
}

}  // namespace uvs::sched
