#include "sched/registry.h"

#include <array>

#include "sched/schedulers.h"

namespace uvs::sched {

namespace {

const std::array<const Scheduler*, 15>& registry() {
  static const std::array<const Scheduler*, 15> all = {
      &rr_scheduler(),   &wrr_scheduler(),  &lc_scheduler(),    &wlc_scheduler(),
      &sed_scheduler(),  &nq_scheduler(),   &fo_scheduler(),    &ovf_scheduler(),
      &twos_scheduler(), &dh_scheduler(),   &sh_scheduler(),    &mh_scheduler(),
      &lblc_scheduler(), &lblcr_scheduler(), &none_scheduler()};
  return all;
}

}  // namespace

const Scheduler* find_scheduler(std::string_view name) {
  for (const Scheduler* s : registry())
    if (s->name() == name) return s;
  return nullptr;
}

bool scheduler_exists(std::string_view name) { return find_scheduler(name) != nullptr; }

std::span<const Scheduler* const> all_schedulers() { return registry(); }

}  // namespace uvs::sched
