// Connection sync throughput, per core: what a master's worker spends announcing a connection
// (record + message building), and what a backup spends on one (reading the message, then the
// worker's create or update in its table). Records per second = 1e9 / ns per record.
//
//   build/bench/sync_bench
#include <benchmark/benchmark.h>

#include <netinet/in.h>

#include <memory>
#include <vector>

#include "conn/state.h"
#include "conn/tracker.h"
#include "sched/dest.h"
#include "sync/apply.h"
#include "sync/message.h"
#include "sync/policy.h"

namespace uvs::sync {
namespace {

constexpr uint32_t kConns = 1 << 16;

SyncConn record(uint32_t i) {
  SyncConn c;
  c.protocol = IPPROTO_TCP;
  c.state = conn::tcp::kEstablished;
  c.cport = static_cast<uint16_t>(1024 + (i & 1023));
  c.vport = 80;
  c.dport = 8000;
  c.timeout_s = 900;
  const uint32_t client = 0x0B000000 + (i >> 10);
  c.caddr = {static_cast<uint8_t>(client >> 24), static_cast<uint8_t>(client >> 16),
             static_cast<uint8_t>(client >> 8), static_cast<uint8_t>(client)};
  c.vaddr = {192, 168, 56, 102};
  c.daddr = {172, 17, 0, 2};
  return c;
}

// Master: a connection becomes a record in the message being filled (sync_maxlen 1472).
void BM_MasterAnnounce(benchmark::State& state) {
  MessageBuilder b(0, 1472);
  conn::Conn c{};
  c.af = c.daf = AF_INET;
  c.protocol = IPPROTO_TCP;
  c.state = conn::tcp::kEstablished;
  c.timeout_ms = 900000;
  uint32_t i = 0;
  for (auto _ : state) {
    c.cport = static_cast<uint16_t>(i++);
    SyncConn r;
    record_of(c, r);
    if (!b.add(r)) {
      benchmark::DoNotOptimize(b.bytes().data());
      b.reset();
      b.add(r);
    }
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_MasterAnnounce);

// Backup thread: full 40-record messages read and checked.
void BM_BackupRead(benchmark::State& state) {
  MessageBuilder b(0, 1472);
  for (uint32_t i = 0; b.add(record(i)); ++i) {
  }
  const std::vector<uint8_t> msg(b.bytes().begin(), b.bytes().end());
  std::vector<SyncConn> out(kMaxConnsPerMessage);
  ReadStats stats;
  for (auto _ : state) benchmark::DoNotOptimize(read_message(msg, 0, out, stats));
  state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(b.count()));
}
BENCHMARK(BM_BackupRead);

sched::Dest* find(void* ctx, const SyncConn&) { return static_cast<sched::Dest*>(ctx); }

// Backup worker: records applied to a table of 64k connections; the first pass creates, every
// later one updates (the steady state of a backup: most records refresh what it holds).
void BM_BackupApply(benchmark::State& state) {
  conn::TrackerOptions o;
  o.table.capacity = kConns * 2;
  o.table.hash_seed = 1;
  conn::Tracker tracker(o, 0);
  DestConfig cfg;
  cfg.key.addr = InetAddr::v4(0xAC110002);
  cfg.key.port = 8000;
  cfg.weight = 1;
  sched::Dest dest(cfg.key);
  dest.apply_config(cfg, true);
  std::vector<SyncConn> records;
  for (uint32_t i = 0; i < kConns; ++i) records.push_back(record(i));
  uint32_t i = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(apply_record(tracker, records[i], &find, &dest, 3, 1000));
    i = (i + 1) % kConns;
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_BackupApply);

}  // namespace
}  // namespace uvs::sync

BENCHMARK_MAIN();
