// TimerWheel: exact expiry on an injected clock, lazy re-arm (a refresh is a store), budgeted
// advances, long timeouts (31 days) and a worker that slept.
#include "conn/timer_wheel.h"

#include <algorithm>
#include <map>
#include <random>
#include <vector>

#include "conn_test_util.h"

namespace uvs::conn::test {
namespace {

class WheelTest : public ::testing::Test {
 protected:
  WheelTest() : table_(table_options()) {}

  static TableOptions table_options() {
    TableOptions o;
    o.capacity = 4096;
    o.hash_seed = 1;
    return o;
  }
  Conn* entry(uint64_t expires_ms) {
    Conn* c = table_.alloc();
    c->expires_ms = expires_ms;
    return c;
  }
  // Advances with an unlimited budget; returns the pool indexes fired, freeing them.
  std::vector<uint32_t> fire_until(TimerWheel& w, uint64_t now, uint32_t budget = 1u << 30) {
    std::vector<uint32_t> fired;
    w.advance(now, budget, [&](Conn& c) {
      fired.push_back(table_.index_of(c));
      table_.free(c);
      return false;
    });
    return fired;
  }

  Table table_;
};

TEST_F(WheelTest, FiresAtItsExpiryOnMillisecondSlots) {
  TimerWheel w(table_, 0, WheelOptions{10, 0});
  Conn* a = entry(100);
  Conn* b = entry(250);
  const uint32_t ia = table_.index_of(*a), ib = table_.index_of(*b);
  w.arm(*a);
  w.arm(*b);
  EXPECT_EQ(w.armed_count(), 2u);
  EXPECT_TRUE(fire_until(w, 99).empty());
  EXPECT_EQ(fire_until(w, 100), std::vector<uint32_t>{ia});
  EXPECT_TRUE(fire_until(w, 249).empty());
  EXPECT_EQ(fire_until(w, 250), std::vector<uint32_t>{ib});
  EXPECT_EQ(w.armed_count(), 0u);
}

TEST_F(WheelTest, WideSlotsFireWithinOneSlotWidth) {
  TimerWheel w(table_, 0, WheelOptions{8, 4});  // 16 ms slots
  Conn* a = entry(100);
  w.arm(*a);
  EXPECT_TRUE(fire_until(w, 95).empty());
  // Slot [96, 112) opened at 100: its due entries go at once.
  EXPECT_EQ(fire_until(w, 100).size(), 1u);

  Conn* b = entry(200);
  w.arm(*b);
  // Slot [192, 208) opened at 199, before b was due: b moves to the next slot and goes with it.
  EXPECT_TRUE(fire_until(w, 199).empty());
  EXPECT_TRUE(fire_until(w, 207).empty());
  EXPECT_EQ(fire_until(w, 208).size(), 1u);
}

TEST_F(WheelTest, RefreshIsAStoreAndTheSlotRefilesLazily) {
  TimerWheel w(table_, 0, WheelOptions{10, 0});
  Conn* a = entry(100);
  const uint32_t ia = table_.index_of(*a);
  w.arm(*a);
  a->expires_ms = 300;  // a packet at t=?: only the store, no wheel work
  WheelRun run = w.advance(150, 1000, [&](Conn&) { return false; });
  EXPECT_EQ(run.visited, 1u);
  EXPECT_EQ(run.refiled, 1u);
  EXPECT_EQ(run.fired, 0u);
  EXPECT_TRUE(w.armed(*a));
  EXPECT_TRUE(fire_until(w, 299).empty());
  EXPECT_EQ(fire_until(w, 300), std::vector<uint32_t>{ia});
}

TEST_F(WheelTest, EarlierExpiryNeedsRefile) {
  TimerWheel w(table_, 0, WheelOptions{10, 0});
  Conn* a = entry(900);
  const uint32_t ia = table_.index_of(*a);
  w.arm(*a);
  a->expires_ms = 120;
  w.refile(*a);
  EXPECT_EQ(fire_until(w, 120), std::vector<uint32_t>{ia});
}

TEST_F(WheelTest, DisarmTakesItOff) {
  TimerWheel w(table_, 0, WheelOptions{10, 0});
  Conn* a = entry(50);
  Conn* b = entry(50);
  Conn* c = entry(50);
  w.arm(*a);
  w.arm(*b);
  w.arm(*c);
  w.disarm(*b);
  w.disarm(*b);  // twice is harmless
  EXPECT_FALSE(w.armed(*b));
  EXPECT_EQ(fire_until(w, 50).size(), 2u);
}

TEST_F(WheelTest, FireCanKeepAnEntry) {
  TimerWheel w(table_, 0, WheelOptions{10, 0});
  Conn* a = entry(10);
  w.arm(*a);
  int fires = 0;
  auto keep_twice = [&](Conn& c) {
    if (++fires < 3) {
      c.expires_ms += 60;
      return true;
    }
    return false;
  };
  WheelRun r = w.advance(10, 100, keep_twice);
  EXPECT_EQ(r.kept, 1u);
  EXPECT_TRUE(w.armed(*a));
  w.advance(69, 100, keep_twice);
  EXPECT_EQ(fires, 1);
  w.advance(70, 100, keep_twice);
  EXPECT_EQ(fires, 2);
  r = w.advance(130, 100, keep_twice);
  EXPECT_EQ(fires, 3);
  EXPECT_FALSE(w.armed(*a));
}

TEST_F(WheelTest, BudgetBoundsEachAdvance) {
  TimerWheel w(table_, 0, WheelOptions{10, 0});
  for (int i = 0; i < 100; ++i) w.arm(*entry(5));
  size_t total = 0;
  int calls = 0;
  for (;;) {
    WheelRun r;
    std::vector<uint32_t> fired;
    r = w.advance(10, 8, [&](Conn& c) {
      fired.push_back(table_.index_of(c));
      table_.free(c);
      return false;
    });
    ++calls;
    EXPECT_LE(r.steps, 8u);
    total += fired.size();
    if (r.caught_up) break;
    ASSERT_LT(calls, 100);
  }
  EXPECT_EQ(total, 100u);
  EXPECT_GE(calls, 100 / 8);
}

TEST_F(WheelTest, EmptySlotsCostASixteenthOfAStep) {
  TimerWheel w(table_, 0, WheelOptions{12, 0});
  Conn* a = entry(1599);
  w.arm(*a);
  // Slots 0..1600, one of them holding an entry: 1600 empty / 16, one opened, one visit.
  WheelRun r = w.advance(1600, 1000, [&](Conn& c) {
    table_.free(c);
    return false;
  });
  EXPECT_TRUE(r.caught_up);
  EXPECT_EQ(r.fired, 1u);
  EXPECT_LE(r.steps, 1600u / 16 + 2);
}

TEST_F(WheelTest, ExpiryArmedIntoTheOpenSlotFiresNextSlot) {
  TimerWheel w(table_, 0, WheelOptions{10, 0});
  fire_until(w, 100);       // slots up to 100 opened
  Conn* late = entry(100);  // due now, but its slot is already open
  Conn* past = entry(20);   // long past
  w.arm(*late);
  w.arm(*past);
  EXPECT_EQ(fire_until(w, 101).size(), 2u);
}

TEST_F(WheelTest, ThirtyOneDaysFireOnTimeAtOneVisitPerRevolution) {
  TimerWheel w(table_, 0, WheelOptions{});  // 65536 x 16 ms
  constexpr uint64_t kMonth = 31ull * 24 * 3600 * 1000;
  Conn* a = entry(kMonth);
  w.arm(*a);
  uint64_t visits = 0;
  bool fired = false;
  uint64_t fired_at = 0;
  for (uint64_t now = 0; now <= kMonth + 3600 * 1000 && !fired; now += 3600 * 1000) {
    WheelRun r = w.advance(now, 1u << 30, [&](Conn&) {
      fired = true;
      fired_at = now;
      return false;
    });
    visits += r.visited;
  }
  ASSERT_TRUE(fired);
  EXPECT_GE(fired_at, kMonth);
  EXPECT_LT(fired_at, kMonth + 3600 * 1000);
  const uint64_t revolutions = kMonth / w.span_ms();
  // At most once per revolution (fewer here: an advance per hour opens each slot once).
  EXPECT_LE(visits, revolutions + 2);
}

TEST_F(WheelTest, WorkerThatSleptCatchesUpInOneRevolution) {
  TimerWheel w(table_, 0, WheelOptions{8, 0});  // 256 slots
  std::vector<uint64_t> expiries = {5, 300, 1000, 5000, 100000};
  for (uint64_t e : expiries) w.arm(*entry(e));
  Conn* future = entry(2'000'000);
  w.arm(*future);
  WheelRun r = w.advance(1'000'000, 1u << 30, [&](Conn& c) {
    table_.free(c);
    return false;
  });
  EXPECT_EQ(r.fired, expiries.size());
  EXPECT_LE(r.steps, 256u + 6u);  // each slot once, each entry once
  EXPECT_TRUE(r.caught_up);
  EXPECT_TRUE(w.armed(*future));
}

TEST_F(WheelTest, ManyEntriesInOneSlotAndHolesInTheMiddle) {
  TimerWheel w(table_, 0, WheelOptions{10, 0});
  std::vector<Conn*> es;
  for (int i = 0; i < 100; ++i) {  // seven blocks in one slot
    es.push_back(entry(500));
    w.arm(*es.back());
  }
  // Holes everywhere: in full blocks below the top and in the top one.
  std::vector<uint32_t> kept;
  for (int i = 0; i < 100; ++i) {
    if (i % 3 == 0) {
      w.disarm(*es[i]);
    } else {
      kept.push_back(table_.index_of(*es[i]));
    }
  }
  EXPECT_EQ(w.armed_count(), kept.size());
  std::vector<uint32_t> fired = fire_until(w, 500);
  std::sort(fired.begin(), fired.end());
  std::sort(kept.begin(), kept.end());
  EXPECT_EQ(fired, kept);
  EXPECT_EQ(w.armed_count(), 0u);
}

TEST_F(WheelTest, FireMayRemoveOthersOfTheSameSlot) {
  TimerWheel w(table_, 0, WheelOptions{10, 0});
  std::vector<Conn*> es;
  for (int i = 0; i < 40; ++i) {
    es.push_back(entry(10));
    w.arm(*es.back());
  }
  // Each firing takes another pending entry with it (a connection taking its template).
  int fires = 0;
  w.advance(10, 1000, [&](Conn& c) {
    ++fires;
    for (Conn* o : es) {
      if (o != &c && w.armed(*o)) {
        w.disarm(*o);
        break;
      }
    }
    return false;
  });
  EXPECT_EQ(fires, 20);
  EXPECT_EQ(w.armed_count(), 0u);
}

TEST_F(WheelTest, BudgetStopsMidSlotAndArmsGoPastTheOpenSlot) {
  TimerWheel w(table_, 0, WheelOptions{10, 0});
  for (int i = 0; i < 30; ++i) w.arm(*entry(10));
  size_t fired = 0;
  auto count = [&](Conn& c) {
    ++fired;
    table_.free(c);
    return false;
  };
  WheelRun r = w.advance(10, 5, count);  // opens slot 10, takes 4
  EXPECT_FALSE(r.caught_up);
  EXPECT_EQ(fired, 4u);
  // Armed while slot 10 is open: due or not, it waits for slot 11.
  Conn* late = entry(10);
  w.arm(*late);
  r = w.advance(10, 1000, count);
  EXPECT_TRUE(r.caught_up);
  EXPECT_EQ(fired, 30u);
  EXPECT_TRUE(w.armed(*late));
  w.advance(11, 1000, count);
  EXPECT_EQ(fired, 31u);
}

// Random arms, refreshes (stores), earlier refiles, disarms and advances against a reference:
// every entry fires once, never before its expiry and at most one slot after.
TEST_F(WheelTest, MatchesAReferenceUnderRandomOperations) {
  constexpr uint32_t kWidth = 4;                // ms
  TimerWheel w(table_, 0, WheelOptions{6, 2});  // 64 slots x 4 ms: many revolutions
  std::mt19937 rng(11);
  std::map<Conn*, uint64_t> live;  // entry -> expiry
  uint64_t now = 0;
  for (int step = 0; step < 200000; ++step) {
    const uint32_t op = rng() % 100;
    if (op < 30 && table_.available() > 0) {
      Conn* c = entry(now + rng() % 2000);
      w.arm(*c);
      live[c] = c->expires_ms;
    } else if (op < 55 && !live.empty()) {
      auto it = std::next(live.begin(), rng() % live.size());
      const uint64_t e = now + rng() % 2000;
      const bool earlier = e < it->first->expires_ms;
      it->first->expires_ms = e;
      if (earlier) w.refile(*it->first);
      it->second = e;
    } else if (op < 60 && !live.empty()) {
      auto it = std::next(live.begin(), rng() % live.size());
      w.disarm(*it->first);
      table_.free(*it->first);
      live.erase(it);
    } else {
      now += rng() % 7;
      w.advance(now, rng() % 50, [&](Conn& c) {
        auto it = live.find(&c);
        EXPECT_NE(it, live.end());
        EXPECT_LE(it->second, now);
        live.erase(it);
        table_.free(c);
        return false;
      });
    }
    if (step % 1000 == 0) {
      EXPECT_EQ(w.armed_count(), live.size());
    }
  }
  // Drain: everything still live fires by its expiry plus a slot.
  now += 4000;
  w.advance(now, 1u << 30, [&](Conn& c) {
    live.erase(&c);
    table_.free(c);
    return false;
  });
  EXPECT_TRUE(live.empty());
  // Lateness: with an unlimited budget nothing is more than a slot late.
  for (int i = 0; i < 1000; ++i) {
    Conn* c = entry(now + 1 + rng() % 500);
    w.arm(*c);
    live[c] = c->expires_ms;
  }
  const uint64_t end = now + 600;
  for (; now <= end; ++now) {
    w.advance(now, 1u << 30, [&](Conn& c) {
      EXPECT_LE(live[&c], now);
      EXPECT_LE(now, live[&c] + kWidth);
      live.erase(&c);
      table_.free(c);
      return false;
    });
  }
  EXPECT_TRUE(live.empty());
}

}  // namespace
}  // namespace uvs::conn::test
