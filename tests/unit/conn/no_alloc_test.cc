// The hot path allocates nothing once a worker has started: the global operator new of this
// test binary counts calls, and a long run of creates, lookups, transitions, refreshes,
// templates, expiry and defence scans on a full table must not make one.
#include <atomic>
#include <cstdlib>
#include <new>

#include "conn/local_addr.h"
#include "conn_test_util.h"

namespace {
std::atomic<bool> g_counting{false};
std::atomic<uint64_t> g_allocations{0};
}  // namespace

// Replacements of the global allocation functions pair malloc with free by design.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
void* operator new(size_t n) {
  if (g_counting.load(std::memory_order_relaxed))
    g_allocations.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(n == 0 ? 1 : n)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, size_t) noexcept { std::free(p); }
#pragma GCC diagnostic pop

namespace uvs::conn::test {
namespace {

TEST(NoAllocation, HotPathOnAFullTable) {
  TrackerOptions o = small_options(2048);
  o.wheel = WheelOptions{};  // the daemon's wheel
  o.sysctls.defense.drop_entry = 3;
  o.sysctls.defense.drop_packet = 3;
  o.sysctls.defense.secure_tcp = 1;
  Tracker tracker(o, 0);
  Dests dests;
  sched::Dest* nat = dests.add(v4(kRip), 8080, Fwd::kMasq);
  sched::Dest* fnat = dests.add(v4(kRip + 1), 8080, Fwd::kFullNat);
  ServiceConfig svc;
  svc.key.addr = v4(kVip);
  svc.key.port = 443;
  svc.flags = kSvcPersistent;
  svc.timeout = 30;
  svc.netmask = 0xffffff00;
  const std::vector<InetAddr> laddrs = {v4(kLaddr), v4(kLaddr + 1)};
  LocalAddrPool pool(laddrs, 0, 1);

  uint64_t now = 0;
  uint64_t created = 0, refused = 0;
  g_allocations = 0;
  g_counting = true;
  for (uint32_t i = 0; i < 200000; ++i) {
    now += 10 * (1 + i % 3);
    const InetAddr client = v4(kClient + (i % 5000));
    const uint16_t cport = static_cast<uint16_t>(1024 + i % 40000);
    const uint16_t vport = i % 3 == 0 ? 443 : 80;
    const Tuple t = tuple(client, cport, v4(kVip), vport);
    const uint64_t h = tracker.table().hash_in(t);
    tracker.table().prefetch(h);
    Conn* c = tracker.table().lookup_in_with_hash(h, t);
    if (c != nullptr &&
        tracker.check_existing(*c, tcp_flags(kTcpSyn), false, now) != Existing::kForward)
      c = nullptr;
    if (c == nullptr) {
      if (tracker.drop_new_conn()) continue;
      ConnParams p = ConnParams::from_packet(t);
      if (vport == 443) {
        PersistChoice pc = tracker.persist_schedule(svc, t, 0, now, [&] { return nat; });
        if (pc.dest != nullptr) c = tracker.create(p, pc.dest, pc.dport, pc.tmpl, now);
      } else if (i % 2) {
        c = tracker.create(p, nat, 8080, nullptr, now);
      } else if (pool.allocate(tracker.table(), kProtoTcp, fnat->key().addr, 8080, &p.laddr,
                               &p.lport)) {
        c = tracker.create(p, fnat, 8080, nullptr, now);
        if (c == nullptr) pool.release(AF_INET, p.laddr);
      }
      c != nullptr ? ++created : ++refused;
      if (c == nullptr) continue;
    }
    tracker.on_packet(*c, Dir::kInput, tcp_flags(i % 7 == 0 ? kTcpFin : kTcpSyn));
    tracker.release(*c, now);
    if (Conn* r = tracker.table().lookup_out(tuple(v4(kRip), 8080, client, cport))) {
      tracker.on_packet(*r, Dir::kOutput, tcp_flags(kTcpSyn | kTcpAck));
      tracker.release(*r, now);
    }
    if (i % 32 == 0) tracker.tick(now, 256);
  }
  g_counting = false;
  EXPECT_EQ(g_allocations.load(), 0u);
  EXPECT_GT(created, 5000u);                                         // the table turned over
  EXPECT_GT(refused + tracker.stats().defense_dropped_packets, 0u);  // the table filled up
}

}  // namespace
}  // namespace uvs::conn::test
