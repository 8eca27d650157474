#include "dp/epoch.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

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

// Snapshots placed in an arena that is never reused, so a freed one stays readable and says so.
struct ArenaSnapshot {
  std::atomic<bool> freed{false};
  ~ArenaSnapshot() { freed.store(true, std::memory_order_relaxed); }
  static void* operator new(size_t) { return &arena[next.fetch_add(1)]; }
  static void operator delete(void*) {}
  static ArenaSnapshot* arena;
  static std::atomic<int> next;
};
ArenaSnapshot* ArenaSnapshot::arena = nullptr;
std::atomic<int> ArenaSnapshot::next{0};

// A worker back from idle stores its generation and loads the current snapshot while the
// control plane swaps the snapshot and reads the generations: the snapshot the worker loads
// must not be one the control plane frees.
TEST(EpochPublisher, ReaderBackFromIdleNeverSeesAFreedSnapshot) {
  constexpr int kRounds = 16;
  constexpr int kPublishes = 1 << 15;
  std::vector<ArenaSnapshot> arena(kRounds * (kPublishes + 1));
  ArenaSnapshot::arena = arena.data();
  ArenaSnapshot::next = 0;
  long freed_seen = 0;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
  for (int round = 0; round < kRounds && std::chrono::steady_clock::now() < deadline; ++round) {
    EpochPublisher<ArenaSnapshot> pub(1);
    pub.publish(std::make_unique<const ArenaSnapshot>());
    std::atomic<bool> stop{false};
    std::atomic<bool> running{false};
    std::thread worker([&] {
      running = true;
      while (!stop.load(std::memory_order_relaxed)) {
        pub.idle(0);
        if (pub.enter(0)->freed.load(std::memory_order_relaxed)) ++freed_seen;
      }
      pub.idle(0);
    });
    while (!running) std::this_thread::yield();
    for (int i = 0; i < kPublishes; ++i) pub.publish(std::make_unique<const ArenaSnapshot>());
    stop = true;
    worker.join();
  }
  EXPECT_EQ(freed_seen, 0);
}

}  // namespace
}  // namespace uvs::dp
