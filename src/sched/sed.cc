// sed -- shortest expected delay (ip_vs_sed_schedule()): wlc's walk with overhead =
// activeconns + 1, the delay a new connection would see if the server served its active
// connections in turn.
#include "sched/least_conn.h"
#include "sched/schedulers.h"

namespace uvs::sched {

namespace {

class ShortestExpectedDelay final : public Scheduler {
 public:
  std::string_view name() const override { return "sed"; }

  Dest* schedule(const SchedView& view, WorkerState*, const PacketKey&, Nanos) const override {
    return pick_least_load_per_weight(
        view.dests(), [](const Dest& d) { return int64_t{d.activeconns()} + 1; });
  }
};

}  // namespace

const Scheduler& sed_scheduler() {
  static const ShortestExpectedDelay scheduler;
  return scheduler;
}

}  // namespace uvs::sched
