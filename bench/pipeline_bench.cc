// Pipeline::process on one core: established flows per forwarding method with 1 thousand,
// 1 million and 10 million connections in the table, and new connections per second.
//
//   build/bench/pipeline_bench --benchmark_filter=Established
//
// Frames come from a ring of prebuilt templates copied into buffers (a NIC's DMA stand-in),
// so the figure is parse + lookup + state + transform + TX queueing for a 64-frame burst.
#include <benchmark/benchmark.h>

#include <cstring>
#include <memory>
#include <vector>

#include "cli/parse.h"
#include "ctl/control.h"
#include "dp/pipeline.h"
#include "dp/router.h"
#include "pkt/builder.h"

namespace {

using uvs::InetAddr;
using uvs::pkt::Bytes;
using uvs::pkt::FrameBuilder;

// PacketIo that hands out copies of template frames and takes transmissions back at once.
class BenchIo : public uvs::io::PacketIo {
 public:
  explicit BenchIo(size_t buffers) : pool_(buffers * kSize), free_(buffers) {
    for (size_t i = 0; i < buffers; ++i) free_[i] = static_cast<uint32_t>(i);
    uvs::io::PortInfo p;
    ports_ = {p, p};
  }
  void load(std::vector<Bytes> frames) {
    templates_ = std::move(frames);
    next_ = 0;
  }
  uint32_t rx_burst(std::span<uvs::io::Frame> out) override {
    uint32_t n = 0;
    for (; n < out.size() && !free_.empty(); ++n) {
      const Bytes& t = templates_[next_];
      next_ = next_ + 1 == templates_.size() ? 0 : next_ + 1;
      uint32_t idx = free_.back();
      free_.pop_back();
      auto& f = out[n];
      f.handle = idx;
      f.data = pool_.data() + size_t{idx} * kSize + 256;
      f.headroom = 256;
      f.len = static_cast<uint32_t>(t.size());
      f.tailroom = static_cast<uint16_t>(kSize - 256 - t.size());
      f.port = 0;
      std::memcpy(f.data, t.data(), t.size());
    }
    return n;
  }
  uint32_t tx_burst(uint16_t, std::span<uvs::io::Frame> frames) override {
    for (auto& f : frames) free_.push_back(static_cast<uint32_t>(f.handle));
    sent_ += frames.size();
    return static_cast<uint32_t>(frames.size());
  }
  void free(std::span<uvs::io::Frame> frames) override {
    for (auto& f : frames) free_.push_back(static_cast<uint32_t>(f.handle));
  }
  bool alloc(uvs::io::Frame&, uint16_t) override { return false; }
  std::span<const uvs::io::PortInfo> ports() const override { return ports_; }
  uint64_t sent() const { return sent_; }

 private:
  static constexpr size_t kSize = 2048;
  std::vector<uint8_t> pool_;
  std::vector<uint32_t> free_;
  std::vector<uvs::io::PortInfo> ports_;
  std::vector<Bytes> templates_;
  size_t next_ = 0;
  uint64_t sent_ = 0;
};

struct Bench {
  uvs::ctl::Control ctl{uvs::ctl::ControlOptions{4096, 1, {}, {}}};
  BenchIo io{512};
  uvs::dp::StaticRouter router;
  std::unique_ptr<uvs::dp::Pipeline> pipe;
  uint64_t now = 1000000;

  Bench(const char* method, uint32_t capacity) {
    uvs::dp::Hop hop{{1, {2, 0, 0, 0, 0, 1}, {2, 0, 0, 0, 0, 2}}, *InetAddr::parse("10.0.2.1"), 1500};
    router.set_default(AF_INET, hop);
    std::string m = method;
    std::vector<std::string> lines = {"-A -t 10.0.100.1:80 -s rr",
                                      "-a -t 10.0.100.1:80 -r 10.0.2.11:80 " + m,
                                      "-a -t 10.0.100.1:80 -r 10.0.2.12:80 " + m};
    if (m == "-b") lines.push_back("-P -t 10.0.100.1:80 -z 10.0.2.100");
    for (const auto& line : lines) {
      auto parsed = uvs::cli::parse_command_line(uvs::cli::split_restore_line(line, "uvsadm"));
      ctl.apply(*parsed.command);
    }
    uvs::dp::PipelineOptions po;
    po.tracker.table.capacity = capacity;
    po.tracker.table.hash_seed = 1;
    po.tracker.rng_seed = 1;
    pipe = std::make_unique<uvs::dp::Pipeline>(po, ctl.data_plane(), router, io, now);
  }

  static Bytes client_frame(uint32_t i, uint8_t flags) {
    // Client i: address 10.(64 + i/2^24)... spread over many addresses and ports.
    uint32_t a = 0x0a400000u + (i >> 8);
    return FrameBuilder().ipv4(InetAddr::v4(a).to_string(), "10.0.100.1")
        .tcp(static_cast<uint16_t>(1024 + (i & 0xff)), 80, flags).payload_size(6).build();
  }

  // Opens n connections (SYN each), in bursts.
  void populate(uint32_t n) {
    const uint32_t chunk = 4096;
    for (uint32_t base = 0; base < n; base += chunk) {
      std::vector<Bytes> syns;
      for (uint32_t i = base; i < std::min(n, base + chunk); ++i)
        syns.push_back(client_frame(i, uvs::pkt::kTcpSyn));
      io.load(std::move(syns));
      for (uint32_t sent = 0; sent < std::min(chunk, n - base); sent += 64) pipe->poll(now);
    }
  }
};

// Established client->server packets of random flows among `n` connections.
void Established(benchmark::State& state, const char* method) {
  const uint32_t n = static_cast<uint32_t>(state.range(0));
  Bench b(method, n + n / 8 + 1024);
  b.populate(n);
  std::vector<Bytes> acks;
  uint64_t x = 88172645463325252ULL;
  for (int i = 0; i < 4096; ++i) {
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    acks.push_back(Bench::client_frame(static_cast<uint32_t>(x % n), uvs::pkt::kTcpAck));
  }
  b.io.load(std::move(acks));
  uint64_t before = b.io.sent();
  for (auto _ : state) b.pipe->poll(b.now);
  state.SetItemsProcessed(static_cast<int64_t>(b.io.sent() - before));
  state.counters["ns/pkt"] = benchmark::Counter(
      static_cast<double>(b.io.sent() - before), benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
  state.counters["bytes/conn"] = static_cast<double>(b.pipe->tracker().table().memory_bytes()) /
                                 static_cast<double>(b.pipe->tracker().table().capacity());
}

void NewConnections(benchmark::State& state) {
  const uint32_t batch = 1 << 20;
  std::unique_ptr<Bench> b;
  uint32_t next = 0;
  uint64_t created = 0;
  for (auto _ : state) {
    if (!b || next + 64 > batch) {
      state.PauseTiming();
      b = std::make_unique<Bench>("-m", batch + 4096);
      std::vector<Bytes> syns;
      for (uint32_t i = 0; i < batch; ++i) syns.push_back(Bench::client_frame(i, uvs::pkt::kTcpSyn));
      b->io.load(std::move(syns));
      next = 0;
      state.ResumeTiming();
    }
    b->pipe->poll(b->now);
    next += 64;
    created += 64;
  }
  state.counters["conns/s"] = benchmark::Counter(static_cast<double>(created), benchmark::Counter::kIsRate);
}

}  // namespace

BENCHMARK_CAPTURE(Established, nat, "-m")->Arg(1000)->Arg(1000000)->Arg(10000000)->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(Established, dr, "-g")->Arg(1000)->Arg(1000000)->Arg(10000000)->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(Established, tun, "-i")->Arg(1000)->Arg(1000000)->Arg(10000000)->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(Established, fullnat, "-b")->Arg(1000)->Arg(100000)->Unit(benchmark::kMicrosecond);
BENCHMARK(NewConnections)->Unit(benchmark::kMicrosecond)->Iterations(16384);

BENCHMARK_MAIN();
