// Cost of one scheduling decision for each scheduler, and of building mh's Maglev table.
//
//   sched_bench --benchmark_filter=Pick   one pick, 2/16/256/1000 real servers
//   sched_bench --benchmark_filter=Build  mh table build, 1000 real servers, M 4093 / 65521
//
// Every dest carries connections (active <= weight, so ovf/lblc see no overload; inactive up
// to 1000) so that the least-connection family compares real numbers. Keys cycle through 4096
// random clients; lblc/lblcr's destination addresses through 1024, so their tables are warm and
// a pick is a lookup hit.
#include <benchmark/benchmark.h>

#include <memory>
#include <random>
#include <string>
#include <vector>

#include "sched/lookup_tables.h"
#include "sched/registry.h"
#include "sched/service_sched.h"

namespace uvs::sched {
namespace {

DestConfig config_for(uint32_t i, int32_t weight) {
  DestConfig c;
  c.key.addr = InetAddr::v4(0x0A000000 + i);
  c.key.port = 80;
  c.weight = weight;
  return c;
}

std::unique_ptr<ServiceSched> make_service(const char* scheduler, int dests) {
  SchedOptions options;
  options.rng_seed = 1;
  auto svc = std::make_unique<ServiceSched>(*find_scheduler(scheduler), 0, 1, options);
  std::mt19937 rng(42);
  for (int i = 0; i < dests; ++i) {
    const int32_t weight = 1 + static_cast<int32_t>(rng() % 5);
    auto d = std::make_shared<Dest>(config_for(i, weight).key);
    svc->add_dest(d, config_for(i, weight));
    const int active = static_cast<int>(rng() % (weight + 1));
    const int inactive = static_cast<int>(rng() % 1000);
    for (int a = 0; a < active; ++a) d->bind_conn(ConnKind::kActive);
    for (int n = 0; n < inactive; ++n) d->bind_conn(ConnKind::kInactive);
  }
  return svc;
}

std::vector<PacketKey> make_keys() {
  std::mt19937 rng(7);
  std::vector<PacketKey> keys(4096);
  for (size_t i = 0; i < keys.size(); ++i) {
    keys[i].saddr = InetAddr::v4(rng());
    keys[i].sport = static_cast<uint16_t>(1024 + rng() % 60000);
    keys[i].daddr = InetAddr::v4(0x0A640000 + static_cast<uint32_t>(i % 1024));
    keys[i].protocol = kProtoTcp;
  }
  return keys;
}

void BM_Pick(benchmark::State& state, const char* scheduler) {
  auto svc = make_service(scheduler, static_cast<int>(state.range(0)));
  const auto view = svc->view();
  const auto keys = make_keys();
  const Nanos now{1};
  for (const auto& k : keys) view->schedule(0, k, now);  // warm lblc/lblcr tables
  size_t i = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(view->schedule(0, keys[i], now));
    i = (i + 1) & (keys.size() - 1);
  }
}

void Sizes(benchmark::internal::Benchmark* b) {
  for (int n : {2, 16, 256, 1000}) b->Arg(n);
}

BENCHMARK_CAPTURE(BM_Pick, rr, "rr")->Apply(Sizes);
BENCHMARK_CAPTURE(BM_Pick, wrr, "wrr")->Apply(Sizes);
BENCHMARK_CAPTURE(BM_Pick, lc, "lc")->Apply(Sizes);
BENCHMARK_CAPTURE(BM_Pick, wlc, "wlc")->Apply(Sizes);
BENCHMARK_CAPTURE(BM_Pick, sed, "sed")->Apply(Sizes);
BENCHMARK_CAPTURE(BM_Pick, nq, "nq")->Apply(Sizes);
BENCHMARK_CAPTURE(BM_Pick, fo, "fo")->Apply(Sizes);
BENCHMARK_CAPTURE(BM_Pick, ovf, "ovf")->Apply(Sizes);
BENCHMARK_CAPTURE(BM_Pick, twos, "twos")->Apply(Sizes);
BENCHMARK_CAPTURE(BM_Pick, dh, "dh")->Apply(Sizes);
BENCHMARK_CAPTURE(BM_Pick, sh, "sh")->Apply(Sizes);
BENCHMARK_CAPTURE(BM_Pick, mh, "mh")->Apply(Sizes);
BENCHMARK_CAPTURE(BM_Pick, lblc, "lblc")->Apply(Sizes);
BENCHMARK_CAPTURE(BM_Pick, lblcr, "lblcr")->Apply(Sizes);

void BM_BuildMaglevTable(benchmark::State& state) {
  const auto svc = make_service("rr", 1000);
  const uint32_t size = static_cast<uint32_t>(state.range(0));
  for (auto _ : state) benchmark::DoNotOptimize(build_mh_table(svc->dests(), size));
}

BENCHMARK(BM_BuildMaglevTable)->Arg(4093)->Arg(65521)->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace uvs::sched

BENCHMARK_MAIN();
