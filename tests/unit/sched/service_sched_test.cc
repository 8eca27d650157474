// ServiceSched and SchedView: hooks, publishing, and properties every scheduler must have.
#include <cerrno>
#include <atomic>
#include <random>
#include <set>
#include <thread>

#include "sched_test_util.h"

namespace uvs::sched::test {
namespace {

const char* kAll[] = {"rr", "wrr", "lc", "wlc", "sed", "nq", "fo", "ovf",
                      "twos", "dh", "sh", "mh", "lblc", "lblcr"};

PacketKey random_key(std::mt19937& rng) {
  PacketKey k = client(rng(), static_cast<uint16_t>(rng()));
  k.daddr = InetAddr::v4(rng());
  return k;
}

TEST(ServiceSched, ListIsNewestFirst) {
  TestService s("wlc");
  s.add("A", 1);
  s.add("B", 1);
  s.add("C", 1);
  auto dests = s.svc().view()->dests();
  ASSERT_EQ(dests.size(), 3u);
  EXPECT_EQ(s.name(dests[0]), "C");
  EXPECT_EQ(s.name(dests[2]), "A");
  s.set_weight("A", 5);  // an edit does not move it
  EXPECT_EQ(s.name(s.svc().view()->dests()[2]), "A");
  s.del("B");
  s.revive("B", 1);  // back at the head
  EXPECT_EQ(s.name(s.svc().view()->dests()[0]), "B");
}

TEST(ServiceSched, Errors) {
  TestService s("rr");
  Dest& a = s.add("A", 1);
  auto again = s.svc().find_dest(a.key());
  ASSERT_NE(again, nullptr);
  EXPECT_EQ(s.svc().add_dest(again, dest_config(0x0A000001, 1)), EEXIST);
  Dest stranger(dest_config(0x0A0000FF, 1).key);
  EXPECT_EQ(s.svc().edit_dest(stranger, dest_config(0x0A0000FF, 1)), ENOENT);
  EXPECT_EQ(s.svc().del_dest(stranger), ENOENT);
  EXPECT_EQ(s.del("A"), 0);
  EXPECT_EQ(s.del("A"), ENOENT);
  EXPECT_FALSE(a.available());
}

TEST(ServiceSched, PublishedViewsAreImmutable) {
  TestService s("rr");
  s.add("A", 1);
  s.add("B", 1);
  auto old_view = s.svc().view();
  s.del("A");
  s.add("C", 1);
  EXPECT_EQ(old_view->dests().size(), 2u);
  EXPECT_EQ(s.name(old_view->dests()[1]), "A");  // still alive through the old view
  EXPECT_EQ(s.svc().view()->dests().size(), 2u);
  EXPECT_GT(s.svc().view()->generation(), old_view->generation());
}

TEST(ServiceSched, ChangingTheSchedulerDiscardsItsState) {
  TestService s("rr");
  s.add("A", 1);
  s.add("B", 1);
  s.add("C", 1);
  EXPECT_EQ(s.sequence(2), "C B");
  ASSERT_EQ(s.svc().set_scheduler(*find_scheduler("wrr")), 0);
  ASSERT_EQ(s.svc().set_scheduler(*find_scheduler("rr")), 0);
  EXPECT_EQ(s.sequence(2), "C B");  // a fresh cursor
  EXPECT_EQ(s.svc().set_scheduler(*find_scheduler("rr")), 0);  // same: nothing happens
  EXPECT_EQ(s.sequence(1), "A");
}

TEST(ServiceSched, RefusedSchedulerLeavesNone) {
  SchedOptions o = TestService::with_seed();
  o.mh_table_size = 251;
  TestService s("rr", 0, 1, o);
  for (int i = 0; i < 252; ++i) s.add("d" + std::to_string(i), 1);
  EXPECT_EQ(s.svc().set_scheduler(*find_scheduler("mh")), EINVAL);
  EXPECT_EQ(s.svc().scheduler().name(), "none");
  EXPECT_EQ(s.pick(), nullptr);
}

TEST(ServiceSched, FlagsAreReadAtScheduleTime) {
  TestService s("sh");
  for (const char* n : {"A", "B", "C", "D"}) s.add(n, 1);
  const uint64_t generation = s.svc().view()->generation();
  s.svc().set_flags(kSvcSched2);  // sh-port
  EXPECT_EQ(s.svc().view()->generation(), generation);  // not a hook
  std::set<Dest*> seen;
  for (uint16_t port = 1; port < 100; ++port) seen.insert(s.pick(client(7, port)));
  EXPECT_EQ(seen.size(), 4u);
}

TEST(ServiceSched, NoneNeverSchedules) {
  TestService s("none");
  s.add("A", 1);
  EXPECT_EQ(s.pick(), nullptr);
}

// Weight 0 is quiesced for new connections: no kernel scheduler picks a weight-0 dest.
TEST(SchedulerProperties, QuiescedDestsGetNoNewPicks) {
  for (const char* name : kAll) {
    TestService s(name, kSvcSched1);  // with sh/mh-fallback on: still never a quiesced dest
    s.add("A", 0);
    s.add("B", 2);
    s.add("C", 0);
    s.add("D", 1);
    s.set_weight("D", 0);  // quiesced by an edit (mh keeps its slots)
    std::mt19937 rng(1);
    int to_b = 0;
    for (int i = 0; i < 2000; ++i) {
      // dh has no fallback: a client whose bucket is quiesced gets no destination at all.
      Dest* d = s.pick(random_key(rng), 0, std::chrono::seconds(i));
      if (d != nullptr) {
        EXPECT_EQ(s.name(d), "B") << name;
      }
      to_b += d != nullptr;
    }
    EXPECT_GT(to_b, 400) << name;
  }
}

// The upper threshold switches a dest off for every scheduler, the lower one back on.
TEST(SchedulerProperties, ThresholdsSwitchADestOffAndBackOn) {
  for (const char* name : kAll) {
    TestService s(name, kSvcSched1);
    s.add("A", 1);
    Dest& b = s.add("B", 1, /*u_threshold=*/4, /*l_threshold=*/2);
    std::mt19937 rng(2);
    auto picks_b = [&] {
      int n = 0;
      for (int i = 0; i < 500; ++i) n += s.pick(random_key(rng)) == &b;
      return n;
    };
    EXPECT_GT(picks_b(), 0) << name;
    for (int i = 0; i < 4; ++i) b.bind_conn(ConnKind::kInactive);
    ASSERT_TRUE(b.overloaded());
    // lblc/lblcr ignore the flag for destinations already mapped to B (they test their own
    // is_overloaded() instead): use new ones.
    EXPECT_EQ(picks_b(), 0) << name;
    b.unbind_conn(ConnKind::kInactive);
    b.unbind_conn(ConnKind::kInactive);  // 2: not below 2 yet
    EXPECT_EQ(picks_b(), 0) << name;
    b.unbind_conn(ConnKind::kInactive);  // 1 < 2: back on
    EXPECT_FALSE(b.overloaded());
    // B still has a connection and A none: load A so the least-connection family has a reason
    // to come back to B (and lblc/lblcr see A as overloaded for their cached destinations).
    set_conns(s.dest("A"), 10, 0);
    EXPECT_GT(picks_b(), 0) << name;
  }
}

TEST(SchedulerProperties, EmptyServiceHasNoDestination) {
  for (const char* name : kAll) {
    TestService s(name);
    EXPECT_EQ(s.pick(), nullptr) << name;
  }
}

// Many workers picking at once while the control plane changes the service: no crashes or
// torn state (run under TSan/ASan to make this meaningful).
TEST(SchedulerProperties, WorkersPickWhileTheControlPlanePublishes) {
  for (const char* name : kAll) {
    TestService s(name, 0, 2);
    for (int i = 0; i < 8; ++i) s.add("d" + std::to_string(i), 1 + i % 3);
    std::vector<std::shared_ptr<const SchedView>> published{s.svc().view()};
    std::atomic<bool> stop{false};
    std::atomic<const SchedView*> current{published.back().get()};
    std::vector<std::thread> workers;
    for (unsigned w = 0; w < 2; ++w)
      workers.emplace_back([&, w] {
        std::mt19937 rng(w);
        int n = 0;
        while (!stop.load()) {
          const SchedView* v = current.load(std::memory_order_acquire);
          Dest* d = v->schedule(w, random_key(rng), std::chrono::milliseconds(n++));
          if (d) {
            d->bind_conn(ConnKind::kInactive);
            d->unbind_conn(ConnKind::kInactive);
          }
        }
      });
    for (int i = 0; i < 200; ++i) {
      const std::string n = "d" + std::to_string(i % 8);
      s.set_weight(n, i % 4);
      published.push_back(s.svc().view());  // kept alive: stands in for epoch reclamation
      current.store(published.back().get(), std::memory_order_release);
    }
    stop = true;
    for (auto& t : workers) t.join();
  }
}

}  // namespace
}  // namespace uvs::sched::test
