#include "dp/epoch.h"

#include <gtest/gtest.h>

#include <thread>

namespace uvs::dp {
namespace {

struct Tracked {
  explicit Tracked(int v, std::atomic<int>* live) : value(v), live(live) { ++*live; }
  ~Tracked() { --*live; }
  int value;
  std::atomic<int>* live;
};

TEST(EpochPublisher, RetiredSnapshotsWaitForEveryWorker) {
  std::atomic<int> live{0};
  {
    EpochPublisher<Tracked> pub(2);
    pub.publish(std::make_unique<const Tracked>(1, &live));
    const Tracked* w0 = pub.enter(0);  // worker 0 reads generation 1
    EXPECT_EQ(w0->value, 1);
    pub.publish(std::make_unique<const Tracked>(2, &live));
    EXPECT_EQ(live, 2);  // worker 0 may still read snapshot 1
    EXPECT_EQ(w0->value, 1);
    EXPECT_EQ(pub.enter(0)->value, 2);  // worker 0 moved on
    pub.reclaim();
    EXPECT_EQ(live, 1);  // worker 1 was idle all along
    pub.enter(1);
    pub.publish(std::make_unique<const Tracked>(3, &live));
    pub.reclaim();
    EXPECT_EQ(live, 2);  // worker 1 announced generation 2 and may hold snapshot 2
    pub.idle(1);
    pub.enter(0);
    pub.reclaim();
    EXPECT_EQ(live, 1);
  }
  EXPECT_EQ(live, 0);
}

TEST(EpochPublisher, ConcurrentReadersNeverSeeFreedSnapshots) {
  std::atomic<int> live{0};
  EpochPublisher<Tracked> pub(2);
  pub.publish(std::make_unique<const Tracked>(0, &live));
  std::atomic<bool> stop{false};
  std::vector<std::thread> workers;
  for (unsigned w = 0; w < 2; ++w)
    workers.emplace_back([&, w] {
      int last = 0;
      while (!stop) {
        const Tracked* t = pub.enter(w);
        // Values only grow, and a freed snapshot would have been overwritten (ASan catches it).
        EXPECT_GE(t->value, last);
        last = t->value;
      }
      pub.idle(w);
    });
  for (int i = 1; i < 20000; ++i) pub.publish(std::make_unique<const Tracked>(i, &live));
  stop = true;
  for (auto& t : workers) t.join();
  pub.reclaim();
  EXPECT_EQ(live, 1);
}

}  // namespace
}  // namespace uvs::dp
