// Schedulers by name: what `-s NAME` looks up.
#pragma once

#include <string_view>

namespace uvs::sched {

// True if NAME is one of the kernel's schedulers (rr wrr lc wlc sed nq fo ovf twos dh sh mh
// lblc lblcr) or "none".
bool scheduler_exists(std::string_view name);

}  // namespace uvs::sched
