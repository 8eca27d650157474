// uvsd --http's cost per request beside uvsadm's: the same table (services x real servers,
// NAT) rendered as /metrics, as /api/v1/services, and as `uvsadm -Ln --stats --exact` text.
// These run on the HTTP server's threads, never on a worker.
#include <benchmark/benchmark.h>

#include "cli/format.h"
#include "http/json.h"
#include "http/metrics.h"

namespace {

using namespace uvs;

TableView table_of(int services, int dests) {
  TableView t;
  for (int s = 0; s < services; ++s) {
    ServiceView sv;
    sv.cfg.key.protocol = kProtoTcp;
    sv.cfg.key.addr = InetAddr::v4(0x0A000000u + static_cast<uint32_t>(s));
    sv.cfg.key.port = 80;
    sv.cfg.sched_name = "wlc";
    sv.stats = {1000, 200000, 150000, 20000000, 900000000};
    for (int d = 0; d < dests; ++d) {
      DestView dv;
      dv.cfg.key = {InetAddr::v4(0xAC100000u + static_cast<uint32_t>(s * dests + d)), 8080};
      dv.cfg.fwd = Fwd::kMasq;
      dv.cfg.weight = 1 + d;
      dv.activeconns = 12;
      dv.inactconns = 34;
      dv.stats = {100, 20000, 15000, 2000000, 90000000};
      sv.dests.push_back(dv);
    }
    t.services.push_back(std::move(sv));
  }
  return t;
}

void BM_MetricsText(benchmark::State& state) {
  const TableView t = table_of(static_cast<int>(state.range(0)), 10);
  dp::DataPlaneReport report;
  report.workers.resize(2);
  size_t bytes = 0;
  for (auto _ : state) {
    std::string text = http::format_metrics(t, &report);
    bytes = text.size();
    benchmark::DoNotOptimize(text);
  }
  state.counters["bytes"] = static_cast<double>(bytes);
}
BENCHMARK(BM_MetricsText)->Arg(10)->Arg(1000)->Unit(benchmark::kMicrosecond);

void BM_ServicesJson(benchmark::State& state) {
  const TableView t = table_of(static_cast<int>(state.range(0)), 10);
  for (auto _ : state) {
    std::string text = http::services_json(t).dump();
    benchmark::DoNotOptimize(text);
  }
}
BENCHMARK(BM_ServicesJson)->Arg(10)->Arg(1000)->Unit(benchmark::kMicrosecond);

// The peer: what uvsadm formats for -Ln --stats --exact from the same table.
void BM_IpvsadmStatsText(benchmark::State& state) {
  const TableView t = table_of(static_cast<int>(state.range(0)), 10);
  ListFormat f;
  f.numeric = true;
  f.stats = true;
  f.exact = true;
  for (auto _ : state) {
    std::string text = cli::format_list(t, f, cli::system_resolver());
    benchmark::DoNotOptimize(text);
  }
}
BENCHMARK(BM_IpvsadmStatsText)->Arg(10)->Arg(1000)->Unit(benchmark::kMicrosecond);

}  // namespace

BENCHMARK_MAIN();
