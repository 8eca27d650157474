// Schedulers by name: what `-s NAME` looks up.
#pragma once

#include <span>
#include <string_view>

#include "sched/scheduler.h"

namespace uvs::sched {

// The scheduler called `name` (rr wrr lc wlc sed nq fo ovf twos dh sh mh lblc lblcr, or "none",
// a service without a scheduler that never finds a destination). Null for any other name: the
// ENOENT ip_vs_add_service() returns when ip_vs_scheduler_get() finds nothing, which ipvsadm
// prints as "Scheduler or persistence engine not found". Names are exact.
const Scheduler* find_scheduler(std::string_view name);

// True if NAME is one of the kernel's schedulers (rr wrr lc wlc sed nq fo ovf twos dh sh mh
// lblc lblcr) or "none".
bool scheduler_exists(std::string_view name);

// Every registered scheduler, "none" last.
std::span<const Scheduler* const> all_schedulers();

}  // namespace uvs::sched
