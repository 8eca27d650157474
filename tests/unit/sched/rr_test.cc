// rr: as ip_vs_rr.c, including what deletions do to the cursor and per-worker cursors.
#include <algorithm>
#include <random>

#include "sched_test_util.h"

namespace uvs::sched::test {
namespace {

TEST(RoundRobin, NewestFirstAfterAddingABC) {
  TestService s("rr");
  s.add("A", 1);
  s.add("B", 1);
  s.add("C", 1);
  EXPECT_EQ(s.sequence(7), "C B A C B A C");
}

TEST(RoundRobin, IgnoresWeightsAboveZero) {
  TestService s("rr");
  s.add("A", 5);
  s.add("B", 1);
  EXPECT_EQ(s.sequence(4), "B A B A");
}

TEST(RoundRobin, SkipsQuiescedAndOverloaded) {
  TestService s("rr");
  s.add("A", 1);
  s.add("B", 0);
  s.add("C", 1, /*u_threshold=*/1);
  EXPECT_EQ(s.sequence(2), "C A");
  s.dest("C").bind_conn(ConnKind::kInactive);  // reaches its upper threshold
  EXPECT_TRUE(s.dest("C").overloaded());
  EXPECT_EQ(s.sequence(3), "A A A");
  s.dest("C").unbind_conn(ConnKind::kInactive);
  EXPECT_EQ(s.sequence(2), "C A");
}

TEST(RoundRobin, NothingEligible) {
  TestService s("rr");
  EXPECT_EQ(s.pick(), nullptr);
  s.add("A", 0);
  EXPECT_EQ(s.pick(), nullptr);
  s.set_weight("A", 1);
  EXPECT_EQ(s.pick_name(), "A");
}

TEST(RoundRobin, SingleDestComesBackToItself) {
  TestService s("rr");
  s.add("A", 1);
  s.add("B", 0);
  EXPECT_EQ(s.sequence(3), "A A A");
}

TEST(RoundRobin, AddingKeepsTheCursor) {
  TestService s("rr");
  s.add("A", 1);
  s.add("B", 1);
  s.add("C", 1);
  EXPECT_EQ(s.sequence(2), "C B");
  s.add("D", 1);  // list D C B A, cursor still on B
  EXPECT_EQ(s.sequence(5), "A D C B A");
}

TEST(RoundRobin, DeletingTheCursorMovesItToThePreviousDest) {
  TestService s("rr");
  s.add("A", 1);
  s.add("B", 1);
  s.add("C", 1);
  s.add("D", 1);  // D C B A
  EXPECT_EQ(s.sequence(3), "D C B");
  EXPECT_EQ(s.del("B"), 0);  // cursor -> C
  EXPECT_EQ(s.sequence(3), "A D C");
  EXPECT_EQ(s.del("D"), 0);  // not the cursor (C): stays
  EXPECT_EQ(s.sequence(2), "A C");
  EXPECT_EQ(s.del("C"), 0);  // cursor was the first dest: back to the head
  EXPECT_EQ(s.sequence(2), "A A");
}

TEST(RoundRobin, DeletionsReplayedForAWorkerThatMissedThem) {
  TestService s("rr");
  for (const char* n : {"A", "B", "C", "D", "E"}) s.add(n, 1);  // E D C B A
  EXPECT_EQ(s.sequence(3), "E D C");
  // Two generations at once: cursor C -> D (C's predecessor) -> E (D's predecessor).
  s.del("C");
  s.del("D");
  EXPECT_EQ(s.sequence(3), "B A E");
}

TEST(RoundRobin, RevivedDestDoesNotGetTheCursorBack) {
  TestService s("rr");
  for (const char* n : {"A", "B", "C"}) s.add(n, 1);  // C B A
  EXPECT_EQ(s.sequence(2), "C B");
  s.del("B");  // cursor -> C
  s.revive("B", 1);  // B C A: re-added at the head
  EXPECT_EQ(s.sequence(4), "A B C A");
}

TEST(RoundRobin, EachWorkerHasItsOwnCursor) {
  TestService s("rr", 0, /*workers=*/2);
  s.add("A", 1);
  s.add("B", 1);
  s.add("C", 1);
  EXPECT_EQ(s.sequence(2, 0), "C B");
  EXPECT_EQ(s.sequence(4, 1), "C B A C");
  EXPECT_EQ(s.sequence(2, 0), "A C");
}

// The kernel's rr written over a list with a pointer cursor, as ip_vs_rr.c keeps it.
class KernelRr {
 public:
  void add(Dest* d) { list_.insert(list_.begin(), d); }
  void del(Dest* d) {
    auto it = std::find(list_.begin(), list_.end(), d);
    if (cursor_ == d) cursor_ = it == list_.begin() ? nullptr : *std::prev(it);
    list_.erase(it);
  }
  Dest* pick() {
    const int n = static_cast<int>(list_.size());
    int start = -1;
    if (cursor_) start = static_cast<int>(std::find(list_.begin(), list_.end(), cursor_) - list_.begin());
    for (int step = 1; step <= n; ++step) {
      const int i = start + step;
      if (start == -1 && i >= n) break;
      Dest* d = list_[i % n];
      if (!d->overloaded() && d->weight() > 0) {
        cursor_ = d;
        return d;
      }
    }
    return nullptr;
  }

 private:
  std::vector<Dest*> list_;
  Dest* cursor_ = nullptr;
};

TEST(RoundRobin, MatchesTheKernelUnderRandomChanges) {
  std::mt19937 rng(7);
  TestService s("rr");
  KernelRr kernel;
  std::vector<std::string> live;
  int next = 0;
  for (int round = 0; round < 3000; ++round) {
    const int changes = static_cast<int>(rng() % 4);  // several hooks between two picks
    for (int c = 0; c < changes; ++c) {
      const unsigned op = rng() % 10;
      if (live.size() < 2 || op < 4) {
        const std::string name = "d" + std::to_string(next++);
        kernel.add(&s.add(name, static_cast<int32_t>(rng() % 3)));
        live.push_back(name);
      } else if (op < 7) {
        const size_t i = rng() % live.size();
        kernel.del(&s.dest(live[i]));
        s.del(live[i]);
        live.erase(live.begin() + static_cast<long>(i));
      } else {
        s.set_weight(live[rng() % live.size()], static_cast<int32_t>(rng() % 3));
      }
    }
    for (int p = static_cast<int>(rng() % 3); p >= 0; --p) {
      Dest* expected = kernel.pick();
      ASSERT_EQ(s.pick_name(), s.name(expected)) << "round " << round;
    }
  }
}

}  // namespace
}  // namespace uvs::sched::test
