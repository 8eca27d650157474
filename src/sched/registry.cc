#include "sched/registry.h"

#include <array>

namespace uvs::sched {

bool scheduler_exists(std::string_view name) {
  static constexpr std::array<std::string_view, 15> kNames = {
      "rr", "wrr", "lc", "wlc", "sed", "nq", "fo", "ovf", "twos", "dh", "sh", "mh", "lblc",
      "lblcr", "none"};
  for (auto n : kNames)
    if (n == name) return true;
  return false;
}

}  // namespace uvs::sched
