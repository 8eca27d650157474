// FULLNAT local addresses (Alibaba LVS): each worker's slice of lport_min..lport_max, the reply
// port naming its worker, round robin over the pool, free-tuple checks and conflict counts.
#include "conn/local_addr.h"

#include <set>

#include "conn_test_util.h"

namespace uvs::conn::test {
namespace {

TEST(LportSlice, OneWorkerOwnsTheWholeRange) {
  const PortSlice s = lport_slice(LocalPortRange{}, 0, 1);
  EXPECT_EQ(s.lo, 5000);
  EXPECT_EQ(s.hi, 65535);
  EXPECT_EQ(s.size(), 60536u);
}

TEST(LportSlice, SlicesTileTheRangeAndNameTheirWorker) {
  const LocalPortRange range{};
  for (unsigned workers : {1u, 2u, 3u, 4u, 7u, 16u, 64u}) {
    uint32_t covered = 0;
    uint32_t next = range.min;
    for (unsigned w = 0; w < workers; ++w) {
      const PortSlice s = lport_slice(range, w, workers);
      EXPECT_EQ(s.lo, next) << workers << " workers, worker " << w;
      next = uint32_t{s.hi} + 1;
      covered += s.size();
      // Every port of the slice maps back to its worker.
      for (uint32_t p = s.lo; p <= s.hi; ++p)
        ASSERT_EQ(worker_of_lport(range, workers, static_cast<uint16_t>(p)), w) << p;
    }
    EXPECT_EQ(next, 65536u);
    EXPECT_EQ(covered, 60536u);
  }
  EXPECT_EQ(worker_of_lport(range, 4, 80), 0u);  // outside the range
}

TEST(LportSlice, CustomRange) {
  const LocalPortRange range{10000, 10999};
  const PortSlice a = lport_slice(range, 0, 4), d = lport_slice(range, 3, 4);
  EXPECT_EQ(a.lo, 10000);
  EXPECT_EQ(a.hi, 10249);
  EXPECT_EQ(d.lo, 10750);
  EXPECT_EQ(d.hi, 10999);
  EXPECT_EQ(worker_of_lport(range, 4, 10500), 2u);
}

class LocalAddrTest : public ::testing::Test {
 protected:
  LocalAddrTest() : tracker_(small_options(4096), 0) {
    d_ = dests_.add(v4(kRip), 8080, Fwd::kFullNat);
  }
  // A FULLNAT connection holding laddr:lport toward the dest.
  Conn* hold(const InetAddr& laddr, uint16_t lport, uint16_t cport) {
    ConnParams p = ConnParams::from_packet(tuple(v4(kClient), cport, v4(kVip), 80));
    p.laddr = laddr.bytes;
    p.lport = lport;
    return tracker_.create(p, d_, 8080, nullptr, 0);
  }

  Dests dests_;
  Tracker tracker_;
  sched::Dest* d_;
};

TEST_F(LocalAddrTest, RoundRobinOverAddressesPortsInTheWorkersSlice) {
  const std::vector<InetAddr> laddrs = {v4(kLaddr), v4(kLaddr + 1), v4(kLaddr + 2)};
  LocalAddrPool pool(laddrs, /*worker=*/2, /*workers=*/4);
  const PortSlice slice = pool.slice();
  std::vector<InetAddr> picked;
  for (int i = 0; i < 6; ++i) {
    AddrBytes laddr;
    uint16_t lport;
    ASSERT_TRUE(pool.allocate(tracker_.table(), kProtoTcp, v4(kRip), 8080, &laddr, &lport));
    EXPECT_GE(lport, slice.lo);
    EXPECT_LE(lport, slice.hi);
    EXPECT_EQ(worker_of_lport(LocalPortRange{}, 4, lport), 2u);
    picked.push_back(to_inet(AF_INET, laddr));
  }
  EXPECT_EQ(picked[0], laddrs[0]);
  EXPECT_EQ(picked[1], laddrs[1]);
  EXPECT_EQ(picked[2], laddrs[2]);
  EXPECT_EQ(picked[3], laddrs[0]);
  for (const LocalAddr& a : pool.addrs()) EXPECT_EQ(a.conns, 2u);
  pool.release(AF_INET, laddrs[1].bytes);
  EXPECT_EQ(pool.addrs()[1].conns, 1u);
}

TEST_F(LocalAddrTest, TakenTuplesAreConflictsAndSkipped) {
  const std::vector<InetAddr> laddrs = {v4(kLaddr)};
  LocalAddrPool pool(laddrs, 0, 1);
  // The next two ports the address would try are held by live connections.
  hold(v4(kLaddr), 5001, 1);
  hold(v4(kLaddr), 5002, 2);
  AddrBytes laddr;
  uint16_t lport;
  ASSERT_TRUE(pool.allocate(tracker_.table(), kProtoTcp, v4(kRip), 8080, &laddr, &lport));
  EXPECT_EQ(lport, 5003);
  EXPECT_EQ(pool.addrs()[0].port_conflicts, 2u);
  // The same ports toward another real server are free: the tuple includes daddr:dport.
  LocalAddrPool other(laddrs, 0, 1);
  ASSERT_TRUE(other.allocate(tracker_.table(), kProtoTcp, v4(kRip + 1), 8080, &laddr, &lport));
  EXPECT_EQ(lport, 5001);
  EXPECT_EQ(other.addrs()[0].port_conflicts, 0u);
  // And for another protocol.
  ASSERT_TRUE(other.allocate(tracker_.table(), kProtoUdp, v4(kRip), 8080, &laddr, &lport));
  EXPECT_EQ(lport, 5002);
}

TEST_F(LocalAddrTest, GivesUpAfterLportTries) {
  const std::vector<InetAddr> laddrs = {v4(kLaddr)};
  // A worker slice of 8 ports, all taken.
  const LocalPortRange range{6000, 6007};
  for (uint16_t p = 6000; p <= 6007; ++p) hold(v4(kLaddr), p, p);
  LocalAddrPool pool(laddrs, 0, 1, range, /*lport_tries=*/20);
  AddrBytes laddr;
  uint16_t lport;
  EXPECT_FALSE(pool.allocate(tracker_.table(), kProtoTcp, v4(kRip), 8080, &laddr, &lport));
  EXPECT_EQ(pool.addrs()[0].port_conflicts, 20u);
  EXPECT_EQ(pool.addrs()[0].conns, 0u);
  // One expires: found on the next call.
  tracker_.tick(3000, 1u << 20);
  EXPECT_TRUE(pool.allocate(tracker_.table(), kProtoTcp, v4(kRip), 8080, &laddr, &lport));
}

TEST_F(LocalAddrTest, AddressFamilyMustMatchTheRealServer) {
  const std::vector<InetAddr> laddrs = {v6("2001:db8::1"), v4(kLaddr)};
  LocalAddrPool pool(laddrs, 0, 1);
  AddrBytes laddr;
  uint16_t lport;
  ASSERT_TRUE(pool.allocate(tracker_.table(), kProtoTcp, v4(kRip), 80, &laddr, &lport));
  EXPECT_EQ(to_inet(AF_INET, laddr), v4(kLaddr));
  ASSERT_TRUE(pool.allocate(tracker_.table(), kProtoTcp, v6("2001:db8::2"), 80, &laddr, &lport));
  EXPECT_EQ(to_inet(AF_INET6, laddr), v6("2001:db8::1"));
  LocalAddrPool v6_only(std::vector<InetAddr>{v6("2001:db8::1")}, 0, 1);
  EXPECT_FALSE(v6_only.allocate(tracker_.table(), kProtoTcp, v4(kRip), 80, &laddr, &lport));
  LocalAddrPool empty(std::vector<InetAddr>{}, 0, 1);
  EXPECT_FALSE(empty.allocate(tracker_.table(), kProtoTcp, v4(kRip), 80, &laddr, &lport));
}

TEST_F(LocalAddrTest, PortsOfDifferentWorkersNeverCollide) {
  const std::vector<InetAddr> laddrs = {v4(kLaddr)};
  std::set<uint16_t> seen;
  for (unsigned w = 0; w < 4; ++w) {
    LocalAddrPool pool(laddrs, w, 4);
    for (int i = 0; i < 100; ++i) {
      AddrBytes laddr;
      uint16_t lport;
      ASSERT_TRUE(pool.allocate(tracker_.table(), kProtoTcp, v4(kRip), 8080, &laddr, &lport));
      EXPECT_TRUE(seen.insert(lport).second) << lport;
    }
  }
}

// uvsadm -G's figures: each worker's pool counts into its own line of the control plane's set,
// which outlives the pool (a -P/-Q change rebuilds pools, not the counters).
TEST_F(LocalAddrTest, SharedCountersSumTheWorkersAndOutliveThePool) {
  const std::vector<InetAddr> laddrs = {v4(kLaddr)};
  LocalAddrCounterSet counters(2);
  hold(v4(kLaddr), 5001, 1);
  AddrBytes laddr;
  uint16_t lport;
  {
    LocalAddrPool pool(laddrs, 0, 2);
    pool.share(0, &counters.worker(0));
    ASSERT_TRUE(pool.allocate(tracker_.table(), kProtoTcp, v4(kRip), 8080, &laddr, &lport));
    ASSERT_TRUE(pool.allocate(tracker_.table(), kProtoTcp, v4(kRip), 8080, &laddr, &lport));
  }
  LocalAddrPool worker1(laddrs, 1, 2);
  worker1.share(0, &counters.worker(1));
  ASSERT_TRUE(worker1.allocate(tracker_.table(), kProtoTcp, v4(kRip), 8080, &laddr, &lport));
  EXPECT_EQ(counters.conns(), 3u);
  EXPECT_EQ(counters.port_conflicts(), 1u);  // 5001, held
  // Worker 0's pool rebuilt: its connections still release into the same line.
  LocalAddrPool rebuilt(laddrs, 0, 2);
  rebuilt.share(0, &counters.worker(0));
  rebuilt.release(AF_INET, v4(kLaddr).bytes);
  rebuilt.release(AF_INET, v4(kLaddr).bytes);
  rebuilt.release(AF_INET, v4(kLaddr).bytes);  // one too many: never below zero
  EXPECT_EQ(counters.conns(), 1u);
  EXPECT_EQ(counters.worker(0).conns.load(), 0u);
}

}  // namespace
}  // namespace uvs::conn::test
