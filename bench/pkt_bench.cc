// pkt/ microbenchmarks: parse cost per packet, checksum primitives, incremental NAT updates
// against full recomputation, CRC32c, collecting a fragmented datagram (dp/frag_queue.h).
#include <benchmark/benchmark.h>

#include <vector>

#include "pkt/builder.h"
#include "pkt/checksum.h"
#include "pkt/parse.h"
#include "dp/frag_queue.h"

namespace uvs::pkt {
namespace {

Bytes tcp4(uint32_t payload) {
  return FrameBuilder().ipv4("192.0.2.10", "198.51.100.1").tcp(40000, 80, kTcpAck, 1, 1).payload_size(payload).build();
}
Bytes tcp6(uint32_t payload) {
  return FrameBuilder().ipv6("2001:db8::10", "2001:db8:100::1").tcp(40000, 80, kTcpAck, 1, 1).payload_size(payload).build();
}

// A fixed frame, parsed over and over (best case: everything predicted and cached).
void parse_one(benchmark::State& state, const Bytes& frame, uint32_t flags) {
  ParsedPacket p;
  for (auto _ : state) {
    parse_frame(frame.data(), static_cast<uint32_t>(frame.size()), &p, flags);
    benchmark::DoNotOptimize(p);
  }
  state.SetItemsProcessed(state.iterations());
}
void BM_ParseTcp4(benchmark::State& s) { parse_one(s, tcp4(0), 0); }
void BM_ParseTcp6(benchmark::State& s) { parse_one(s, tcp6(0), 0); }
void BM_ParseUdp4Vlan(benchmark::State& s) {
  parse_one(s, FrameBuilder().vlan(10).ipv4("192.0.2.10", "198.51.100.1").udp(5000, 53).payload_size(32).build(), 0);
}
void BM_ParseIpv6ExtChain(benchmark::State& s) {
  parse_one(s,
            FrameBuilder().ipv6("2001:db8::10", "2001:db8:100::1").ipv6_ext(kIpv6NextHopByHop).ipv6_ext(kIpv6NextDestOpts, 16)
                .ipv6_ext(kIpv6NextRouting, 24).tcp(1, 80).build(),
            0);
}
void BM_ParseIcmpError4(benchmark::State& s) {
  const Bytes inner = FrameBuilder().no_eth().ipv4("198.51.100.1", "192.0.2.10").tcp(80, 40000).build();
  parse_one(s, FrameBuilder().ipv4("203.0.113.1", "198.51.100.1").icmp(ICMP_DEST_UNREACH, ICMP_FRAG_NEEDED, 1400).quote(inner, 28).build(), 0);
}
void BM_ParseTcp4Verify64(benchmark::State& s) { parse_one(s, tcp4(10), kParseVerifyL4Checksum); }
void BM_ParseTcp4Verify1500(benchmark::State& s) { parse_one(s, tcp4(1460), kParseVerifyL4Checksum); }
BENCHMARK(BM_ParseTcp4);
BENCHMARK(BM_ParseTcp6);
BENCHMARK(BM_ParseUdp4Vlan);
BENCHMARK(BM_ParseIpv6ExtChain);
BENCHMARK(BM_ParseIcmpError4);
BENCHMARK(BM_ParseTcp4Verify64);
BENCHMARK(BM_ParseTcp4Verify1500);

// A burst of 64 mixed frames, as a worker sees them: ns/packet with the branch predictor working.
void BM_ParseMixedBurst(benchmark::State& state) {
  std::vector<Bytes> frames;
  for (int i = 0; i < 64; ++i) {
    switch (i % 4) {
      case 0: frames.push_back(tcp4(i * 20)); break;
      case 1: frames.push_back(tcp6(i * 20)); break;
      case 2: frames.push_back(FrameBuilder().vlan(5).ipv4("192.0.2.1", "198.51.100.1").udp(1000 + i, 53).payload_size(40).build()); break;
      case 3: frames.push_back(FrameBuilder().ipv4("192.0.2.1", "198.51.100.1").tcp(2000 + i, 443).l4_csum(CsumMode::kPartial).build()); break;
    }
  }
  std::vector<ParsedPacket> out(frames.size());
  for (auto _ : state) {
    for (size_t i = 0; i < frames.size(); ++i)
      parse_frame(frames[i].data(), static_cast<uint32_t>(frames[i].size()), &out[i]);
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(state.iterations() * frames.size());
}
BENCHMARK(BM_ParseMixedBurst);

// ---- Checksums ---------------------------------------------------------------------------------

void BM_CsumPartial(benchmark::State& state) {
  std::vector<uint8_t> buf(state.range(0), 0x5a);
  for (auto _ : state) benchmark::DoNotOptimize(csum_partial(buf.data(), static_cast<uint32_t>(buf.size())));
  state.SetBytesProcessed(state.iterations() * buf.size());
}
BENCHMARK(BM_CsumPartial)->Arg(20)->Arg(64)->Arg(512)->Arg(1500)->Arg(9000);

// Over a ring of 64 headers, so that one iteration's store is not the next one's load.
void BM_Ipv4HeaderChecksum(benchmark::State& state) {
  std::vector<Bytes> frames(64, tcp4(0));
  size_t i = 0;
  for (auto _ : state) {
    set_ipv4_header_checksum(frames[i].data() + kEthHdrLen);
    benchmark::DoNotOptimize(frames[i].data());
    i = (i + 1) & 63;
  }
}
BENCHMARK(BM_Ipv4HeaderChecksum);

void BM_CsumReplaceAddrPort(benchmark::State& state) {
  const bool v6 = state.range(0);
  InetAddr a = v6 ? addr("2001:db8::1") : addr("10.0.0.1");
  InetAddr b = v6 ? addr("2001:db8::2") : addr("10.0.0.2");
  uint16_t check = 0x1234;
  for (auto _ : state) {
    check = csum_replace_addr_port(check, a, b, htons(80), htons(8080));
    benchmark::DoNotOptimize(check);
    std::swap(a, b);
  }
}
BENCHMARK(BM_CsumReplaceAddrPort)->Arg(0)->Arg(1);

// The NAT transform's L4 work: incremental (final checksum) against full recompute (partial).
void nat_update(benchmark::State& state, Bytes frame) {
  ParsedPacket p;
  parse_frame(frame.data(), static_cast<uint32_t>(frame.size()), &p);
  const InetAddr rip = p.is_v6() ? addr("2001:db8:200::7") : addr("10.0.0.7");
  for (auto _ : state) {
    update_l4_checksum_after_nat(frame.data(), p, p.saddr, rip, p.sport, 8080);
    benchmark::DoNotOptimize(frame.data());
  }
}
void BM_NatUpdateIncremental4(benchmark::State& s) { nat_update(s, tcp4(1460)); }
void BM_NatUpdateIncremental6(benchmark::State& s) { nat_update(s, tcp6(1440)); }
void BM_NatUpdatePartial4_64(benchmark::State& s) {
  nat_update(s, FrameBuilder().ipv4("192.0.2.10", "198.51.100.1").tcp(1, 80).payload_size(10).l4_csum(CsumMode::kPartial).build());
}
void BM_NatUpdatePartial4_1500(benchmark::State& s) {
  nat_update(s, FrameBuilder().ipv4("192.0.2.10", "198.51.100.1").tcp(1, 80).payload_size(1460).l4_csum(CsumMode::kPartial).build());
}
BENCHMARK(BM_NatUpdateIncremental4);
BENCHMARK(BM_NatUpdateIncremental6);
BENCHMARK(BM_NatUpdatePartial4_64);
BENCHMARK(BM_NatUpdatePartial4_1500);

void BM_Crc32c(benchmark::State& state) {
  std::vector<uint8_t> buf(state.range(0), 0x5a);
  for (auto _ : state) benchmark::DoNotOptimize(crc32c(buf.data(), static_cast<uint32_t>(buf.size())));
  state.SetBytesProcessed(state.iterations() * buf.size());
  state.SetLabel(crc32c_has_hw() ? "sse4.2" : "tables");
}
void BM_Crc32cPortable(benchmark::State& state) {
  std::vector<uint8_t> buf(state.range(0), 0x5a);
  for (auto _ : state) benchmark::DoNotOptimize(crc32c_portable(buf.data(), static_cast<uint32_t>(buf.size())));
  state.SetBytesProcessed(state.iterations() * buf.size());
}
BENCHMARK(BM_Crc32c)->Arg(64)->Arg(1500);
BENCHMARK(BM_Crc32cPortable)->Arg(64)->Arg(1500);

// ---- Fragments ------------------------------------------------------------------------------------

void BM_CollectThreeFragments(benchmark::State& state) {
  std::vector<Bytes> frags = fragment_frame(
      FrameBuilder().ipv4("192.0.2.10", "198.51.100.1").udp(5000, 53).payload_size(3500).build(), 1480);
  std::vector<ParsedPacket> parsed(frags.size());
  std::vector<io::Frame> frames(frags.size());
  for (size_t i = 0; i < frags.size(); ++i) {
    parse_frame(frags[i].data(), static_cast<uint32_t>(frags[i].size()), &parsed[i]);
    frames[i].data = frags[i].data();
    frames[i].len = static_cast<uint32_t>(frags[i].size());
  }
  dp::FragQueue queue;
  uint64_t now = 0;
  for (auto _ : state) {
    for (size_t i = 0; i < frags.size(); ++i)
      benchmark::DoNotOptimize(queue.add(frames[i], parsed[i], ++now));
  }
  state.SetItemsProcessed(state.iterations());
  state.SetLabel("datagrams");
}
BENCHMARK(BM_CollectThreeFragments);

}  // namespace
}  // namespace uvs::pkt

BENCHMARK_MAIN();
