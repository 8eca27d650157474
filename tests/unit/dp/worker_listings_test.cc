#include "dp/worker_listings.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "tests/fixtures/pipeline_fixture.h"

namespace uvs::testing {
namespace {

// The API server answers every client on its own thread, so two `uvsadm -c` may list at once;
// each must get the whole table, while the worker keeps polling.
TEST(WorkerListings, ConcurrentListingsEachGetEveryConnection) {
  Director d;
  d.uvsadm("-A -u 10.0.100.1:53 -s rr");
  d.uvsadm("-a -u 10.0.100.1:53 -r 10.0.2.11 -m");
  constexpr size_t kConns = 10;
  for (uint16_t sport = 7000; sport < 7000 + kConns; ++sport)
    d.send(0, from_client().ipv4("10.0.1.5", "10.0.100.1").udp(sport, 53).build());

  dp::WorkerListings listings({&d.pipe().listing()});
  std::atomic<bool> stop{false};
  std::thread worker([&] {
    while (!stop) d.pipe().poll(d.now());
  });
  std::atomic<int> incomplete{0};
  std::vector<std::thread> clients;
  for (int c = 0; c < 2; ++c)
    clients.emplace_back([&] {
      // A timeout long enough for a loaded machine: only lost answers fall short.
      for (int i = 0; i < 100; ++i)
        if (listings.gather(std::chrono::milliseconds(2000)).size() != kConns) ++incomplete;
    });
  for (auto& t : clients) t.join();
  stop = true;
  worker.join();
  EXPECT_EQ(incomplete, 0);
}

}  // namespace
}  // namespace uvs::testing
