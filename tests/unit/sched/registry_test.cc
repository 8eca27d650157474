// The registry: `-s NAME` lookups.
#include <gtest/gtest.h>

#include <set>
#include <string>

#include "sched/registry.h"

namespace uvs::sched {
namespace {

TEST(Registry, AllFourteenKernelSchedulersAndNone) {
  const char* names[] = {"rr", "wrr", "lc",  "wlc", "sed", "nq",   "fo",    "ovf",
                         "twos", "dh", "sh", "mh", "lblc", "lblcr", "none"};
  std::set<const Scheduler*> seen;
  for (const char* n : names) {
    const Scheduler* s = find_scheduler(n);
    ASSERT_NE(s, nullptr) << n;
    EXPECT_EQ(s->name(), n);
    EXPECT_TRUE(scheduler_exists(n));
    seen.insert(s);
  }
  EXPECT_EQ(seen.size(), 15u);
  EXPECT_EQ(all_schedulers().size(), 15u);
}

TEST(Registry, UnknownNamesFail) {
  for (const char* n : {"", "RR", "rr ", "wlc2", "maglev", "lblcrr", "random"}) {
    EXPECT_EQ(find_scheduler(n), nullptr) << n;
    EXPECT_FALSE(scheduler_exists(n)) << n;
  }
}

}  // namespace
}  // namespace uvs::sched
