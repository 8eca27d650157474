// wrr as the kernel's ip_vs_wrr.c: the gcd/max-weight cycle of ip_vs_wrr_schedule() and what
// add/delete/edit do to it (ip_vs_wrr_dest_changed()).
#include <algorithm>
#include <numeric>
#include <random>
#include <string_view>

#include "sched_test_util.h"

namespace uvs::sched::test {
namespace {

// The scheduler a service has while its dests go in, before it is switched to wrr. Its own
// picks are never looked at: it only keeps wrr's add hooks out of the way.
constexpr std::string_view kBeforeWrr = "rr";

// Binds wrr to a service that already has its dests, as `uvsadm -E -s wrr` would:
// ip_vs_wrr_init_svc() sees them all, puts the cursor at the head and starts the cycle at
// cw = mw, with no ip_vs_wrr_dest_changed() run before.
int switch_to_wrr(TestService& s) { return s.svc().set_scheduler(*find_scheduler("wrr")); }

// List order A, B, C (C added first: an add goes to the head of the list), then wrr.
void add_cba_then_wrr(TestService& s, int32_t a, int32_t b, int32_t c) {
  s.add("C", c);
  s.add("B", b);
  s.add("A", a);
  ASSERT_EQ(switch_to_wrr(s), 0);
}

TEST(WeightedRoundRobin, Weights432GiveTheKernelCycle) {
  TestService s(kBeforeWrr);
  add_cba_then_wrr(s, 4, 3, 2);
  EXPECT_EQ(s.sequence(18), "A A B A B C A B C A A B A B C A B C");
}

// Adding the dests one by one to a wrr service: each add's ip_vs_wrr_dest_changed() adjusts
// cw. The first add (C, weight 2) sets di 2, mw 1, cw 1; later adds keep cw 1, so the first
// pass is the cw = 1 one and the 9-pick cycle follows.
TEST(WeightedRoundRobin, AddingOneByOneStartsAtTheLevelTheHooksLeft) {
  TestService s("wrr");
  s.add("C", 2);
  s.add("B", 3);
  s.add("A", 4);
  EXPECT_EQ(s.sequence(21), "A B C A A B A B C A B C A A B A B C A B C");
}

TEST(WeightedRoundRobin, GcdAboveOne) {
  TestService s(kBeforeWrr);
  add_cba_then_wrr(s, 6, 4, 2);  // di 2, mw 5: levels 5, 3, 1
  EXPECT_EQ(s.sequence(12), "A A B A B C A A B A B C");
}

TEST(WeightedRoundRobin, EqualWeightsAreRoundRobinInListOrder) {
  TestService s(kBeforeWrr);
  add_cba_then_wrr(s, 2, 2, 2);
  EXPECT_EQ(s.sequence(6), "A B C A B C");
}

TEST(WeightedRoundRobin, QuiescedAndOverloadedAreSkipped) {
  TestService s(kBeforeWrr);
  s.add("C", 1, /*u_threshold=*/1);
  s.add("B", 0);
  s.add("A", 2);
  ASSERT_EQ(switch_to_wrr(s), 0);
  EXPECT_EQ(s.sequence(6), "A A C A A C");
  s.dest("C").bind_conn(ConnKind::kActive);
  EXPECT_EQ(s.sequence(3), "A A A");
}

TEST(WeightedRoundRobin, AllOverloadedOrNoWeight) {
  TestService s("wrr");
  EXPECT_EQ(s.pick(), nullptr);
  s.add("A", 0);
  EXPECT_EQ(s.pick(), nullptr);  // mw == 0
  s.set_weight("A", 3);
  s.set_thresholds("A", 1, 0);
  EXPECT_EQ(s.pick_name(), "A");
  s.dest("A").bind_conn(ConnKind::kActive);
  EXPECT_EQ(s.pick(), nullptr);  // "all destinations are overloaded"
  s.dest("A").unbind_conn(ConnKind::kActive);
  EXPECT_EQ(s.pick_name(), "A");
}

// As ip_vs_wrr_dest_changed(): on any hook the cursor goes back to the head and cw keeps its
// level.
TEST(WeightedRoundRobin, EditRestartsFromTheHeadKeepingTheLevel) {
  TestService s(kBeforeWrr);
  add_cba_then_wrr(s, 4, 3, 2);
  EXPECT_EQ(s.sequence(4), "A A B A");  // cw is 2, cursor on A
  s.set_weight("B", 3);                 // no real change, still a hook
  EXPECT_EQ(s.sequence(9), "A B C A B C A A B");
}

TEST(WeightedRoundRobin, EditAboveMaxClampsTheLevel) {
  TestService s(kBeforeWrr);
  add_cba_then_wrr(s, 4, 3, 2);
  EXPECT_EQ(s.sequence(1), "A");  // cw 4
  s.set_weight("A", 2);           // mw 3 < cw: cw = 3
  EXPECT_EQ(s.sequence(8), "B A B C A B C B");
}

TEST(WeightedRoundRobin, EditWithGcdRoundsTheLevel) {
  TestService s(kBeforeWrr);
  s.add("B", 3);
  s.add("A", 6);  // di 3, mw 4: levels 4, 1
  ASSERT_EQ(switch_to_wrr(s), 0);
  EXPECT_EQ(s.sequence(2), "A A");  // cw 1
  s.set_weight("B", 3);             // cw = (1/3)*3 + 1 = 1, from the head
  EXPECT_EQ(s.sequence(5), "A B A A B");
}

TEST(WeightedRoundRobin, EditChangingTheGcd) {
  TestService s(kBeforeWrr);
  add_cba_then_wrr(s, 6, 4, 2);
  EXPECT_EQ(s.sequence(3), "A A B");  // cw 3
  s.set_weight("C", 4);               // di 2, mw 5: cw = (3/2)*2 + 1 = 3
  EXPECT_EQ(s.sequence(10), "A B C A B C A A B C");
}

TEST(WeightedRoundRobin, DeleteAndAddAreHooksToo) {
  TestService s(kBeforeWrr);
  add_cba_then_wrr(s, 4, 3, 2);
  EXPECT_EQ(s.sequence(3), "A A B");  // cw 3, cursor B
  s.del("C");                         // A B: mw 4, cw 3 kept, from the head
  EXPECT_EQ(s.sequence(5), "A B A B A");
  s.add("D", 4);  // D A B
  EXPECT_EQ(s.sequence(4), "D A B D");
}

TEST(WeightedRoundRobin, WorkersCycleIndependently) {
  TestService s(kBeforeWrr, 0, 2);
  add_cba_then_wrr(s, 4, 3, 2);
  EXPECT_EQ(s.sequence(3, 0), "A A B");
  EXPECT_EQ(s.sequence(9, 1), "A A B A B C A B C");
  EXPECT_EQ(s.sequence(6, 0), "A B C A B C");
}

// The kernel's wrr over a list with a pointer cursor (ip_vs_wrr.c's mark).
class KernelWrr {
 public:
  void add(Dest* d) {
    list_.insert(list_.begin(), d);
    changed();
  }
  void del(Dest* d) {
    list_.erase(std::find(list_.begin(), list_.end(), d));
    changed();
  }
  void edited() { changed(); }

  // ip_vs_wrr_schedule().
  Dest* pick() {
    if (mw_ == 0) return nullptr;
    Dest* const last = cl_;
    const Dest* stop = nullptr;
    bool last_pass = false, restarted = false;
    int pos = index(cl_);
    for (;;) {
      for (int i = pos + 1; i < static_cast<int>(list_.size()); ++i) {
        Dest* d = list_[i];
        if (!d->overloaded() && d->weight() >= cw_) return cl_ = d;
        if (d == stop) {
          cl_ = d;
          return nullptr;
        }
      }
      pos = -1;
      cw_ -= di_;
      if (cw_ <= 0) {
        cw_ = mw_;
        if (last_pass || last == nullptr) {
          cl_ = nullptr;
          return nullptr;
        }
        restarted = true;
      }
      last_pass = cw_ <= di_;
      if (last_pass && restarted && last != nullptr) stop = last;
    }
  }

 private:
  int index(const Dest* d) const {
    if (d == nullptr) return -1;
    return static_cast<int>(std::find(list_.begin(), list_.end(), d) - list_.begin());
  }
  // ip_vs_wrr_dest_changed(), with ip_vs_wrr_gcd_weight() and ip_vs_wrr_max_weight().
  void changed() {
    cl_ = nullptr;
    int64_t g = 0, max = 0;
    for (Dest* d : list_) {
      if (d->weight() > 0) g = g ? std::gcd(g, int64_t{d->weight()}) : d->weight();
      max = std::max<int64_t>(max, d->weight());
    }
    di_ = g ? g : 1;
    mw_ = max - (di_ - 1);
    if (cw_ > mw_ || cw_ == 0)
      cw_ = mw_;
    else if (di_ > 1)
      cw_ = (cw_ / di_) * di_ + 1;
  }

  std::vector<Dest*> list_;
  Dest* cl_ = nullptr;
  int64_t cw_ = 0, mw_ = 0, di_ = 1;
};

// One worker picking between batches of hooks, a second worker that only joins late: both
// must see the kernel's sequence (the second one the sequence of a kernel that never picked).
TEST(WeightedRoundRobin, MatchesTheKernelUnderRandomChanges) {
  std::mt19937 rng(11);
  TestService s("wrr", 0, 2);
  KernelWrr kernel;
  KernelWrr never_picked;
  std::vector<std::string> live;
  int next = 0;
  for (int round = 0; round < 3000; ++round) {
    const int changes = static_cast<int>(rng() % 4);
    for (int c = 0; c < changes; ++c) {
      const unsigned op = rng() % 10;
      if (live.size() < 2 || op < 4) {
        const std::string name = "d" + std::to_string(next++);
        Dest* added = &s.add(name, static_cast<int32_t>(rng() % 5) * 2);
        kernel.add(added);
        never_picked.add(added);
        live.push_back(name);
      } else if (op < 6) {
        const size_t i = rng() % live.size();
        kernel.del(&s.dest(live[i]));
        never_picked.del(&s.dest(live[i]));
        s.del(live[i]);
        live.erase(live.begin() + static_cast<long>(i));
      } else {
        s.set_weight(live[rng() % live.size()], static_cast<int32_t>(rng() % 5) * 2);
        kernel.edited();
        never_picked.edited();
      }
    }
    for (int p = static_cast<int>(rng() % 4); p >= 0; --p) {
      Dest* expected = kernel.pick();
      ASSERT_EQ(s.pick_name(), s.name(expected)) << "round " << round;
    }
  }
  // Worker 1 never picked during all those hooks: its picks are a never-picking kernel's.
  for (int p = 0; p < 50; ++p) ASSERT_EQ(s.pick_name(client(1), 1), s.name(never_picked.pick()));
}

}  // namespace
}  // namespace uvs::sched::test
