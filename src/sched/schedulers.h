// The built-in schedulers, one per file (rr.cc, wrr.cc, ...), each a function-local static.
// Only registry.cc needs these; everyone else looks schedulers up by name.
#pragma once

#include "sched/scheduler.h"

namespace uvs::sched {

const Scheduler& rr_scheduler();
const Scheduler& wrr_scheduler();
const Scheduler& lc_scheduler();
const Scheduler& wlc_scheduler();
const Scheduler& sed_scheduler();
const Scheduler& nq_scheduler();
const Scheduler& fo_scheduler();
const Scheduler& ovf_scheduler();
const Scheduler& twos_scheduler();
const Scheduler& dh_scheduler();
const Scheduler& sh_scheduler();
const Scheduler& mh_scheduler();
const Scheduler& lblc_scheduler();
const Scheduler& lblcr_scheduler();
const Scheduler& none_scheduler();

}  // namespace uvs::sched
