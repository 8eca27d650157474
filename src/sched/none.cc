// none -- a service bound to no scheduler (`-s none`, kernel >= 4.x): new connections find no
// destination; only persistence templates or synced connections reach the dests.
#include "sched/schedulers.h"

namespace uvs::sched {

namespace {

class NoScheduler final : public Scheduler {
 public:
  std::string_view name() const override { return "none"; }

  Dest* schedule(const SchedView&, WorkerState*, const PacketKey&, Nanos) const override {
    return nullptr;
  }
};

}  // namespace

const Scheduler& none_scheduler() {
  static const NoScheduler scheduler;
  return scheduler;
}

}  // namespace uvs::sched
