// The control-plane side of one virtual service's scheduling: its dest list in kernel order, the
// scheduler bound to it, and the kernel's struct ip_vs_scheduler hooks (init_service, add_dest,
// del_dest, upd_dest). Every change produces a new immutable SchedView for the next configuration
// snapshot.
//
// Single-threaded: only the control plane calls these. Workers see the result through view().
//
// Sketch (ctl):
//   auto* rr = sched::find_scheduler("rr");               // null: ENOENT, as ip_vs_add_service()
//   sched::ServiceSched svc(*rr, config.flags, n_workers);
//   auto a = std::make_shared<sched::Dest>(dest_cfg.key);  // or the one revived from the trash
//   svc.add_dest(a, dest_cfg);
//   snapshot.service[i].sched = svc.view();                // publish
// Worker:
//   sched::Dest* d = view->schedule(worker_index, key, now);  // null: no destination available
//   if (d) d->bind_conn(sched::ConnKind::kInactive);          // new connections start inactive
#pragma once

#include <memory>
#include <span>
#include <vector>

#include "sched/scheduler.h"

namespace uvs::sched {

class ServiceSched {
 public:
  // init_service for `scheduler` on a service with no dests yet. `workers` >= 1 is the number
  // of data-plane workers; each gets its own cursor/cache/RNG.
  ServiceSched(const Scheduler& scheduler, uint32_t svc_flags, unsigned workers,
               const SchedOptions& options = {});

  const Scheduler& scheduler() const { return *scheduler_; }
  uint32_t flags() const { return flags_; }
  // Kernel list order (most recently added first): what `--nosort` lists.
  std::span<const std::shared_ptr<Dest>> dests() const { return dests_; }
  std::shared_ptr<Dest> find_dest(const DestKey& key) const;

  // Applies `config` to `dest` (Dest::apply_config with add=true), inserts it at the head of the
  // list and runs add_dest. A dest revived from the trash is passed in again with its counters.
  // Returns 0, EEXIST if it is already in the list, or the scheduler's error (mh: EINVAL with
  // more dests than table slots) -- in that case the dest is added anyway and the scheduler
  // keeps its previous table, exactly as the kernel ignores add_dest's result.
  int add_dest(std::shared_ptr<Dest> dest, const DestConfig& config);
  // Applies `config` (add=false) and runs upd_dest. ENOENT if `dest` is not in the list.
  int edit_dest(Dest& dest, const DestConfig& config);
  // Unlinks `dest` (AVAILABLE cleared) and runs del_dest. ENOENT if it is not in the list.
  // The caller keeps its own reference for the trash.
  int del_dest(const Dest& dest);

  // `-E` with a different scheduler: all scheduler state is discarded and the new one is bound
  // with the current dests. Same scheduler: nothing happens. If the new scheduler refuses the
  // service (mh, more dests than slots) the service is left with no scheduler ("none") and the
  // error is returned, as in the kernel.
  int set_scheduler(const Scheduler& scheduler);
  // `-E` changing service flags (sh-port, mh-fallback, ...): read at schedule time, no hook.
  void set_flags(uint32_t svc_flags);
  // Sysctl changes. lblc/lblcr expirations take effect at the next garbage collection; the mh
  // table size, cache capacity and seed at the next set_scheduler.
  void set_options(const SchedOptions& options);

  // The state to publish; replaced (not modified) by every call above.
  const std::shared_ptr<const SchedView>& view() const { return view_; }

 private:
  int bind(const Scheduler& scheduler);
  int run_hook(const DestChange& change);
  void publish();
  int position(const Dest& dest) const;

  const Scheduler* scheduler_ = nullptr;
  uint32_t flags_ = 0;
  unsigned workers_ = 1;
  SchedOptions options_;
  std::vector<std::shared_ptr<Dest>> dests_;
  uint64_t generation_ = 0;
  std::shared_ptr<const SchedTable> table_;
  std::shared_ptr<const WorkerStateSet> worker_states_;
  std::shared_ptr<const SchedView> view_;
};

}  // namespace uvs::sched
