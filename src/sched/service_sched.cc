#include "sched/service_sched.h"

#include <cerrno>
#include <random>

#include "sched/registry.h"

namespace uvs::sched {

ServiceSched::ServiceSched(const Scheduler& scheduler, uint32_t svc_flags, unsigned workers,
                           const SchedOptions& options)
    : flags_(svc_flags), workers_(workers == 0 ? 1 : workers), options_(options) {
  if (options_.rng_seed == 0) {
    std::random_device rd;
    options_.rng_seed = (uint64_t{rd()} << 32 | rd()) | 1;
  }
  bind(scheduler);  // cannot fail: there are no dests yet
  publish();
}

std::shared_ptr<Dest> ServiceSched::find_dest(const DestKey& key) const {
  for (const auto& d : dests_)
    if (d->key() == key) return d;
  return nullptr;
}

int ServiceSched::position(const Dest& dest) const {
  for (size_t i = 0; i < dests_.size(); ++i)
    if (dests_[i].get() == &dest) return static_cast<int>(i);
  return -1;
}

int ServiceSched::bind(const Scheduler& scheduler) {
  auto states = std::make_shared<WorkerStateSet>();
  states->states.reserve(workers_);
  for (unsigned w = 0; w < workers_; ++w)
    states->states.push_back(scheduler.new_worker_state(options_, w));
  const std::shared_ptr<const SchedTable> none;
  BuildResult built = scheduler.build(BuildContext{dests_, none, DestChange{}, 0, options_});
  if (built.error != 0) return built.error;
  scheduler_ = &scheduler;
  generation_ = 0;
  table_ = std::move(built.table);
  worker_states_ = std::move(states);
  return 0;
}

int ServiceSched::run_hook(const DestChange& change) {
  ++generation_;
  BuildResult built =
      scheduler_->build(BuildContext{dests_, table_, change, generation_, options_});
  if (built.error == 0) table_ = std::move(built.table);
  publish();
  return built.error;
}

void ServiceSched::publish() {
  auto view = std::shared_ptr<SchedView>(new SchedView());
  view->scheduler_ = scheduler_;
  view->owners_ = dests_;
  view->dests_.reserve(dests_.size());
  for (const auto& d : dests_) view->dests_.push_back(d.get());
  view->flags_ = flags_;
  view->generation_ = generation_;
  view->options_ = options_;
  view->table_ = table_;
  view->worker_states_ = worker_states_;
  view->index_serials();
  view_ = std::move(view);
}

int ServiceSched::add_dest(std::shared_ptr<Dest> dest, const DestConfig& config) {
  if (position(*dest) >= 0) return EEXIST;
  dest->apply_config(config, /*add=*/true);
  const Dest* added = dest.get();
  dests_.insert(dests_.begin(), std::move(dest));
  return run_hook(DestChange{DestChangeKind::kAdd, added, 0});
}

int ServiceSched::edit_dest(Dest& dest, const DestConfig& config) {
  if (position(dest) < 0) return ENOENT;
  dest.apply_config(config, /*add=*/false);
  return run_hook(DestChange{DestChangeKind::kEdit, &dest, 0});
}

int ServiceSched::del_dest(const Dest& dest) {
  const int i = position(dest);
  if (i < 0) return ENOENT;
  const uint64_t prev_serial = i == 0 ? 0 : dests_[i - 1]->serial();
  std::shared_ptr<Dest> removed = std::move(dests_[i]);
  dests_.erase(dests_.begin() + i);
  removed->mark_unlinked();
  return run_hook(DestChange{DestChangeKind::kDel, removed.get(), prev_serial});
}

int ServiceSched::set_scheduler(const Scheduler& scheduler) {
  if (&scheduler == scheduler_) return 0;
  const int err = bind(scheduler);
  if (err != 0) bind(*find_scheduler("none"));
  publish();
  return err;
}

void ServiceSched::set_flags(uint32_t svc_flags) {
  flags_ = svc_flags;
  publish();
}

void ServiceSched::set_options(const SchedOptions& options) {
  const uint64_t seed = options_.rng_seed;
  options_ = options;
  if (options_.rng_seed == 0) options_.rng_seed = seed;
  publish();
}

}  // namespace uvs::sched
