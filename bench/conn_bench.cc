// Connection table microbenchmarks: lookup hits at 1 thousand, 1 million and 10 million
// entries (one at a time, and in bursts of 32 with the bucket prefetched first -- and with the
// candidate entries prefetched too), create + expire, expiry through the wheel, and the memory
// each connection costs (entry + its share of the index).
//
//   build/bench/conn_bench --benchmark_filter=Lookup
#include <benchmark/benchmark.h>

#include <memory>
#include <random>
#include <vector>

#include "conn/tracker.h"
#include "sched/dest.h"

namespace uvs::conn {
namespace {

constexpr uint32_t kVip = 0xC0A80001;
constexpr uint32_t kBurst = 32;
constexpr uint32_t kProbeKeys = 1u << 20;  // random keys cycled through by the lookups

// Key i: 64 ports per client address, so 10M connections come from 156k clients.
Tuple key(uint32_t i) {
  return Tuple::of(AF_INET, kProtoTcp, InetAddr::v4(0x0B000000 + (i >> 6)),
                   static_cast<uint16_t>(1024 + (i & 63)), InetAddr::v4(kVip), 80);
}

// One table of `n` NAT connections at a time (10M entries take 1.5 GB).
struct Loaded {
  uint32_t n = 0;
  std::unique_ptr<Table> table;
  std::vector<Tuple> probes;
};

Loaded& loaded(uint32_t n) {
  static Loaded l;
  if (l.n == n) return l;
  l.table.reset();
  TableOptions o;
  o.capacity = n;
  o.tuples_per_conn = 2;
  o.hash_seed = 12345;
  l.table = std::make_unique<Table>(o);
  const AddrBytes rip = InetAddr::v4(0x0A000001).bytes;
  for (uint32_t i = 0; i < n; ++i) {
    const Tuple t = key(i);
    Conn* c = l.table->alloc();
    c->af = c->daf = AF_INET;
    c->protocol = kProtoTcp;
    c->caddr = t.saddr;
    c->cport = t.sport;
    c->vaddr = t.daddr;
    c->vport = t.dport;
    c->daddr = rip;
    c->dport = 80;
    l.table->link(*c);
  }
  std::mt19937 rng(7);
  l.probes.resize(kProbeKeys);
  for (Tuple& t : l.probes) t = key(rng() % n);
  l.n = n;
  return l;
}

void set_counters(benchmark::State& state, const Table& t) {
  state.counters["entries"] = t.size();
  state.counters["bytes_per_conn"] = static_cast<double>(t.memory_bytes()) / t.capacity();
}

void BM_LookupHit(benchmark::State& state) {
  Loaded& l = loaded(static_cast<uint32_t>(state.range(0)));
  const Table& t = *l.table;
  uint32_t i = 0;
  for (auto _ : state) {
    const Tuple& k = l.probes[i++ & (kProbeKeys - 1)];
    benchmark::DoNotOptimize(t.lookup_in(k));
  }
  set_counters(state, t);
}

// Stage one of a burst lookup: hash every tuple and start fetching its bucket.
void hash_and_prefetch(const Table& t, const Tuple* burst, uint64_t* hashes) {
  for (uint32_t j = 0; j < kBurst; ++j) {
    hashes[j] = t.hash_in(burst[j]);
    t.prefetch(hashes[j]);
  }
}

// DPDK style: hash the burst and prefetch every bucket, then look each up.
void BM_LookupHitBurst32(benchmark::State& state) {
  Loaded& l = loaded(static_cast<uint32_t>(state.range(0)));
  const Table& t = *l.table;
  uint64_t hashes[kBurst];
  uint32_t base = 0;
  for (auto _ : state) {
    const Tuple* burst = &l.probes[base];
    base = (base + kBurst) & (kProbeKeys - 1);
    hash_and_prefetch(t, burst, hashes);
    for (uint32_t j = 0; j < kBurst; ++j)
      benchmark::DoNotOptimize(t.lookup_in_with_hash(hashes[j], burst[j]));
  }
  state.SetItemsProcessed(state.iterations() * kBurst);
  set_counters(state, t);
}

// Three stages: buckets, then the entries whose signature matched, then the compares.
void BM_LookupHitBurst32Entries(benchmark::State& state) {
  Loaded& l = loaded(static_cast<uint32_t>(state.range(0)));
  const Table& t = *l.table;
  uint64_t hashes[kBurst];
  uint32_t base = 0;
  for (auto _ : state) {
    const Tuple* burst = &l.probes[base];
    base = (base + kBurst) & (kProbeKeys - 1);
    hash_and_prefetch(t, burst, hashes);
    for (uint32_t j = 0; j < kBurst; ++j) t.prefetch_candidates(hashes[j]);
    for (uint32_t j = 0; j < kBurst; ++j)
      benchmark::DoNotOptimize(t.lookup_in_with_hash(hashes[j], burst[j]));
  }
  state.SetItemsProcessed(state.iterations() * kBurst);
  set_counters(state, t);
}

std::unique_ptr<sched::Dest> bench_dest() {
  DestConfig cfg;
  cfg.key.addr = InetAddr::v4(0x0A000001);
  cfg.key.port = 80;
  cfg.fwd = Fwd::kMasq;
  auto d = std::make_unique<sched::Dest>(cfg.key);
  d->apply_config(cfg, true);
  return d;
}

// A create and an expire_now() of a random older entry, nothing prefetched: every step a
// cache miss (the worst case; the pipeline creates after a lookup miss and expires through the
// wheel, see BM_MissThenCreate and BM_WheelExpiry).
void BM_CreateExpire(benchmark::State& state) {
  TrackerOptions o;
  o.table.capacity = 1u << 20;
  o.table.hash_seed = 99;
  Tracker tracker(o, 0);
  auto dest = bench_dest();
  std::vector<Conn*> live(1u << 19, nullptr);
  uint32_t i = 0;
  for (uint32_t k = 0; k < live.size(); ++k)
    live[k] = tracker.create(ConnParams::from_packet(key(i++)), dest.get(), 80, nullptr, 0);
  uint32_t slot = 0;
  for (auto _ : state) {
    Conn*& victim = live[slot];
    slot = (slot + 1) & (static_cast<uint32_t>(live.size()) - 1);
    tracker.expire_now(*victim, 0);
    victim = tracker.create(ConnParams::from_packet(key(i++ & ((1u << 24) - 1))), dest.get(), 80,
                            nullptr, 0);
  }
  state.SetLabel("one create + one expire");
}

// A new connection as the pipeline makes one: the burst's buckets prefetched, the lookup
// misses (leaving the bucket in cache), then create() -- pool, index, wheel, dest counters --
// in a 1M table kept about half full.
void BM_MissThenCreate(benchmark::State& state) {
  constexpr uint32_t kBatch = 1u << 16;
  TrackerOptions o;
  o.table.capacity = 1u << 20;
  o.table.hash_seed = 77;
  Tracker tracker(o, 0);
  auto dest = bench_dest();
  uint32_t next_key = 0;
  // Half full, so lookups and inserts see realistic probe chains.
  for (uint32_t i = 0; i < (1u << 19); ++i)
    tracker.create(ConnParams::from_packet(key(next_key++)), dest.get(), 80, nullptr, 0);
  const uint32_t base_key = next_key;
  uint64_t hashes[kBurst];
  Tuple burst[kBurst];
  for (auto _ : state) {
    next_key = base_key;
    for (uint32_t done = 0; done < kBatch; done += kBurst) {
      for (uint32_t j = 0; j < kBurst; ++j) {
        burst[j] = key(next_key++);
        hashes[j] = tracker.table().hash_in(burst[j]);
        tracker.table().prefetch(hashes[j]);
      }
      for (uint32_t j = 0; j < kBurst; ++j) {
        if (tracker.table().lookup_in_with_hash(hashes[j], burst[j]) == nullptr)
          benchmark::DoNotOptimize(
              tracker.create(ConnParams::from_packet(burst[j]), dest.get(), 80, nullptr, 0));
      }
    }
    state.PauseTiming();
    for (uint32_t k = base_key; k < next_key; ++k)
      tracker.expire_now(*tracker.table().lookup_in(key(k)), 0);
    state.ResumeTiming();
  }
  state.SetItemsProcessed(state.iterations() * kBatch);
  state.SetLabel("per new connection: lookup miss + create");
}

// Expiry as the wheel does it: 1M connections expiring over time, ticked every ms.
void BM_WheelExpiry(benchmark::State& state) {
  constexpr uint32_t kN = 1u << 20;
  for (auto _ : state) {
    state.PauseTiming();
    TrackerOptions o;
    o.table.capacity = kN;
    o.table.hash_seed = 5;
    auto tracker = std::make_unique<Tracker>(o, 0);
    auto dest = bench_dest();
    std::mt19937 rng(1);
    for (uint32_t i = 0; i < kN; ++i) {
      Conn* c = tracker->create(ConnParams::from_packet(key(i)), dest.get(), 80, nullptr, 0);
      c->timeout_ms = 1000 + rng() % 60000;  // spread over a minute
      tracker->release(*c, 0);
    }
    state.ResumeTiming();
    for (uint64_t now = 0; tracker->table().size() > 0; now += 1) tracker->tick(now, 1u << 20);
    state.PauseTiming();
    tracker.reset();
    state.ResumeTiming();
  }
  state.SetItemsProcessed(state.iterations() * kN);
  state.SetLabel("per expired entry, incl. 61k 1-ms ticks");
}

// A packet refreshing its connection: the store the lazy wheel promises.
void BM_Refresh(benchmark::State& state) {
  TrackerOptions o;
  o.table.capacity = 1024;
  Tracker tracker(o, 0);
  auto dest = bench_dest();
  Conn* c = tracker.create(ConnParams::from_packet(key(1)), dest.get(), 80, nullptr, 0);
  tracker.on_packet(*c, Dir::kInput, L4Info{kTcpSyn});
  uint64_t now = 0;
  for (auto _ : state) {
    tracker.release(*c, ++now);
    benchmark::ClobberMemory();
  }
}

void BM_Transition(benchmark::State& state) {
  TrackerOptions o;
  o.table.capacity = 1024;
  Tracker tracker(o, 0);
  auto dest = bench_dest();
  Conn* c = tracker.create(ConnParams::from_packet(key(1)), dest.get(), 80, nullptr, 0);
  tracker.on_packet(*c, Dir::kInput, L4Info{kTcpSyn});
  const L4Info ack{kTcpAck};
  for (auto _ : state) benchmark::DoNotOptimize(tracker.on_packet(*c, Dir::kInput, ack));
}

void BM_BytesPerConnection(benchmark::State& state) {
  TrackerOptions o;
  o.table.capacity = 1u << 20;
  o.table.tuples_per_conn = static_cast<uint32_t>(state.range(0));
  Tracker t(o, 0);
  for (auto _ : state) benchmark::DoNotOptimize(t.table().size());
  const double n = t.table().capacity();
  state.counters["entry"] = sizeof(Conn);
  state.counters["index"] = static_cast<double>(t.table().index_buckets()) * 64 / n;
  state.counters["wheel"] = static_cast<double>(t.wheel().memory_bytes()) / n;
  state.counters["total"] = static_cast<double>(t.memory_bytes()) / n;
}

BENCHMARK(BM_BytesPerConnection)->Arg(1)->Arg(2)->Iterations(1);
BENCHMARK(BM_Refresh);
BENCHMARK(BM_Transition);
BENCHMARK(BM_CreateExpire);
BENCHMARK(BM_MissThenCreate)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_WheelExpiry)->Iterations(3)->Unit(benchmark::kMillisecond);
// Grouped by size so each table is built once.
BENCHMARK(BM_LookupHit)->Arg(1000);
BENCHMARK(BM_LookupHitBurst32)->Arg(1000);
BENCHMARK(BM_LookupHitBurst32Entries)->Arg(1000);
BENCHMARK(BM_LookupHit)->Arg(1000000);
BENCHMARK(BM_LookupHitBurst32)->Arg(1000000);
BENCHMARK(BM_LookupHitBurst32Entries)->Arg(1000000);
BENCHMARK(BM_LookupHit)->Arg(10000000);
BENCHMARK(BM_LookupHitBurst32)->Arg(10000000);
BENCHMARK(BM_LookupHitBurst32Entries)->Arg(10000000);

}  // namespace
}  // namespace uvs::conn

BENCHMARK_MAIN();
