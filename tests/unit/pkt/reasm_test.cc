#include "pkt/reasm.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <new>
#include <random>

#include "pkt/builder.h"
#include "pkt/checksum.h"
#include "tests/unit/pkt/pkt_test_util.h"

// Counts heap allocations so a test can prove the hot path makes none. (GCC 12 sees the inlined
// new/free pair below as mismatched; it is the replacement pair itself.)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
namespace {
std::atomic<long> g_allocations{0};
}  // namespace
void* operator new(std::size_t n) {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(n ? n : 1)) return p;
  throw std::bad_alloc();
}
void* operator new[](std::size_t n) {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(n ? n : 1)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }

namespace uvs::pkt {
namespace {

constexpr uint64_t kSecond = 1'000'000'000ull;

struct Feeder {
  explicit Feeder(const ReasmConfig& config = {}) : reasm(config) {}
  // Parses and feeds one frame; returns the status (kDropped with kNotFragment if not ok).
  ReasmStatus feed(const Bytes& frame, uint64_t now = 0) {
    ParsedPacket p;
    parse_frame(frame.data(), static_cast<uint32_t>(frame.size()), &p);
    return reasm.add(frame.data(), static_cast<uint32_t>(frame.size()), p, now);
  }
  Bytes output() { return Bytes(reasm.output(), reasm.output() + reasm.output_len()); }
  Reassembler reasm;
};

Bytes udp4(uint32_t payload, uint16_t id = 0x4242) {
  return FrameBuilder().ipv4("192.0.2.1", "198.51.100.1").ip_id(id).udp(5000, 53).payload_size(payload).build();
}
Bytes udp6(uint32_t payload) {
  return FrameBuilder().ipv6("2001:db8::1", "2001:db8::2").udp(5000, 53).payload_size(payload).build();
}

// Feeds FRAGS in the given order; expects kHeld for all but the last, kComplete for the last, the
// output to equal WHOLE field by field, and (when ALONE) nothing left behind.
void expect_reassembles(Feeder& f, const std::vector<Bytes>& frags, const Bytes& whole, bool alone = true) {
  for (size_t i = 0; i + 1 < frags.size(); ++i)
    ASSERT_EQ(f.feed(frags[i]), ReasmStatus::kHeld) << "fragment " << i << " " << reasm_drop_name(f.reasm.last_drop());
  ASSERT_EQ(f.feed(frags.back()), ReasmStatus::kComplete) << reasm_drop_name(f.reasm.last_drop());
  EXPECT_EQ(describe_diff(whole, f.output()), "");
  const ParsedPacket p = testing::parse_exact(f.output(), kParseVerifyL4Checksum);
  EXPECT_TRUE(p.ok());
  EXPECT_FALSE(p.is_fragment);
  EXPECT_EQ(p.l4_csum, CsumStatus::kValid);
  if (alone) {
    EXPECT_EQ(f.reasm.datagrams_in_use(), 0u);
    EXPECT_EQ(f.reasm.bytes_in_use(), 0u);
  }
}

TEST(Reasm, Ipv4InOrder) {
  Feeder f;
  const Bytes whole = udp4(3000);
  expect_reassembles(f, fragment_frame(whole, 1000), whole);
  EXPECT_EQ(f.reasm.stats().completed, 1u);
}

TEST(Reasm, Ipv4OutOfOrderWithOptionsAndVlan) {
  Feeder f;
  const Bytes whole = FrameBuilder()
                          .vlan(42)
                          .ipv4("192.0.2.1", "198.51.100.1")
                          .ipv4_options({0x94, 4, 0, 0})  // router alert
                          .tcp(40000, 80, kTcpAck | kTcpPsh, 7, 9)
                          .payload_size(5000)
                          .build();
  std::vector<Bytes> frags = fragment_frame(whole, 1400);
  std::reverse(frags.begin(), frags.end());
  expect_reassembles(f, frags, whole);
}

TEST(Reasm, Ipv6ShuffledWithHopByHop) {
  std::mt19937 rng(7);
  for (int round = 0; round < 20; ++round) {
    Feeder f;
    const Bytes whole = FrameBuilder()
                            .ipv6("2001:db8::1", "2001:db8::2")
                            .ipv6_ext(kIpv6NextHopByHop, 8)
                            .ipv6_ext(kIpv6NextDestOpts, 16)  // fragmentable: travels in the data
                            .tcp(40000, 443)
                            .payload_size(4000 + round * 13)
                            .build();
    std::vector<Bytes> frags = fragment_frame(whole, 1232, 0x1000 + round);
    std::shuffle(frags.begin(), frags.end(), rng);
    // The shuffle may put the first fragment last; every order must work.
    expect_reassembles(f, frags, whole);
  }
}

TEST(Reasm, Ipv6Plain) {
  Feeder f;
  const Bytes whole = udp6(2000);
  expect_reassembles(f, fragment_frame(whole, 512), whole);
}

TEST(Reasm, DuplicatesAreDroppedAlone) {
  Feeder f;
  const Bytes whole = udp4(2000);
  const std::vector<Bytes> frags = fragment_frame(whole, 800);
  ASSERT_EQ(frags.size(), 3u);
  EXPECT_EQ(f.feed(frags[1]), ReasmStatus::kHeld);
  EXPECT_EQ(f.feed(frags[1]), ReasmStatus::kDropped);
  EXPECT_EQ(f.reasm.last_drop(), ReasmDrop::kDuplicate);
  EXPECT_EQ(f.feed(frags[0]), ReasmStatus::kHeld);
  EXPECT_EQ(f.feed(frags[0]), ReasmStatus::kDropped);
  EXPECT_EQ(f.feed(frags[2]), ReasmStatus::kComplete);
  EXPECT_EQ(describe_diff(whole, f.output()), "");
  EXPECT_EQ(f.reasm.stats().drops[static_cast<int>(ReasmDrop::kDuplicate)], 2u);
  // A duplicate arriving after completion starts a datagram that will time out.
  EXPECT_EQ(f.feed(frags[2]), ReasmStatus::kHeld);
  f.reasm.expire(31 * kSecond);
  EXPECT_EQ(f.reasm.datagrams_in_use(), 0u);
}

Bytes raw_frag4(uint16_t offset, bool more, uint32_t len, uint8_t fill = 0xaa, uint16_t id = 77) {
  return FrameBuilder()
      .ipv4("192.0.2.1", "198.51.100.1")
      .ip_id(id)
      .ipv4_frag(offset, more)
      .raw(IPPROTO_UDP)
      .payload(Bytes(len, fill))
      .build();
}
Bytes raw_frag6(uint16_t offset, bool more, uint32_t len, uint32_t id = 77, int hbh = 0) {
  FrameBuilder b;
  b.ipv6("2001:db8::1", "2001:db8::2");
  if (hbh) b.ipv6_ext(kIpv6NextHopByHop, hbh);
  return b.ipv6_frag(offset, more, id).raw(IPPROTO_UDP).payload(Bytes(len, 0x55)).build();
}

TEST(Reasm, OverlapDiscardsTheDatagram) {
  Feeder f;
  EXPECT_EQ(f.feed(raw_frag4(0, true, 64)), ReasmStatus::kHeld);
  EXPECT_EQ(f.feed(raw_frag4(128, false, 16)), ReasmStatus::kHeld);
  EXPECT_EQ(f.feed(raw_frag4(56, true, 16)), ReasmStatus::kDropped);  // 56..72 overlaps 0..64
  EXPECT_EQ(f.reasm.last_drop(), ReasmDrop::kOverlap);
  EXPECT_EQ(f.reasm.datagrams_in_use(), 0u);
  EXPECT_EQ(f.reasm.bytes_in_use(), 0u);
  EXPECT_EQ(f.reasm.stats().discarded, 1u);
  // Overlapping the next range from below, and a range covering a held one, too.
  EXPECT_EQ(f.feed(raw_frag4(64, true, 64)), ReasmStatus::kHeld);
  EXPECT_EQ(f.feed(raw_frag4(0, true, 72)), ReasmStatus::kDropped);
  EXPECT_EQ(f.feed(raw_frag4(64, true, 16)), ReasmStatus::kHeld);
  EXPECT_EQ(f.feed(raw_frag4(0, true, 200)), ReasmStatus::kDropped);
  EXPECT_EQ(f.reasm.last_drop(), ReasmDrop::kOverlap);
}

TEST(Reasm, FragmentsPastTheEndDiscardTheDatagram) {
  Feeder f;
  EXPECT_EQ(f.feed(raw_frag4(64, false, 16)), ReasmStatus::kHeld);  // ends at 80
  EXPECT_EQ(f.feed(raw_frag4(80, true, 16)), ReasmStatus::kDropped);
  EXPECT_EQ(f.reasm.last_drop(), ReasmDrop::kBeyondEnd);
  EXPECT_EQ(f.feed(raw_frag4(64, false, 16)), ReasmStatus::kHeld);
  EXPECT_EQ(f.feed(raw_frag4(72, false, 16)), ReasmStatus::kDropped);  // a second, different end
  EXPECT_EQ(f.reasm.last_drop(), ReasmDrop::kBeyondEnd);
  EXPECT_EQ(f.feed(raw_frag4(96, true, 16)), ReasmStatus::kHeld);
  EXPECT_EQ(f.feed(raw_frag4(32, false, 16)), ReasmStatus::kDropped);  // ends before held data
  EXPECT_EQ(f.reasm.last_drop(), ReasmDrop::kBeyondEnd);
  EXPECT_EQ(f.reasm.datagrams_in_use(), 0u);
}

TEST(Reasm, TimeoutDropsTheDatagram) {
  ReasmConfig config;
  config.timeout_ns = 5 * kSecond;
  Feeder f(config);
  const std::vector<Bytes> frags = fragment_frame(udp4(2000), 1000);
  EXPECT_EQ(f.feed(frags[0], 0), ReasmStatus::kHeld);
  EXPECT_EQ(f.feed(frags[1], 4 * kSecond), ReasmStatus::kHeld);
  f.reasm.expire(5 * kSecond - 1);
  EXPECT_EQ(f.reasm.datagrams_in_use(), 1u);
  // The last fragment comes too late: the datagram timed out and this one starts anew.
  EXPECT_EQ(f.feed(frags[2], 5 * kSecond), ReasmStatus::kHeld);
  EXPECT_EQ(f.reasm.stats().timed_out, 1u);
  EXPECT_EQ(f.reasm.datagrams_in_use(), 1u);
  f.reasm.expire(11 * kSecond);
  EXPECT_EQ(f.reasm.datagrams_in_use(), 0u);
  EXPECT_EQ(f.reasm.stats().timed_out, 2u);
  EXPECT_EQ(f.reasm.bytes_in_use(), 0u);
}

TEST(Reasm, SameIdDifferentKeysStaySeparate) {
  Feeder f;
  const Bytes a = udp4(1500, 9);
  const Bytes b = FrameBuilder().ipv4("192.0.2.2", "198.51.100.1").ip_id(9).udp(5000, 53).payload_size(1500).build();
  const Bytes c = FrameBuilder().ipv4("192.0.2.1", "198.51.100.1").ip_id(9).tcp(5000, 80).payload_size(1500).build();
  const auto fa = fragment_frame(a, 800), fb = fragment_frame(b, 800), fc = fragment_frame(c, 800);
  EXPECT_EQ(f.feed(fa[0]), ReasmStatus::kHeld);
  EXPECT_EQ(f.feed(fb[0]), ReasmStatus::kHeld);
  EXPECT_EQ(f.feed(fc[0]), ReasmStatus::kHeld);  // IPv4 keys include the protocol
  EXPECT_EQ(f.reasm.datagrams_in_use(), 3u);
  ASSERT_EQ(f.feed(fb[1]), ReasmStatus::kComplete);
  EXPECT_EQ(describe_diff(b, f.output()), "");
  ASSERT_EQ(f.feed(fc[1]), ReasmStatus::kComplete);
  EXPECT_EQ(describe_diff(c, f.output()), "");
  ASSERT_EQ(f.feed(fa[1]), ReasmStatus::kComplete);
  EXPECT_EQ(describe_diff(a, f.output()), "");
}

TEST(Reasm, NonFragmentsAreRefused) {
  Feeder f;
  EXPECT_EQ(f.feed(udp4(10)), ReasmStatus::kDropped);
  EXPECT_EQ(f.reasm.last_drop(), ReasmDrop::kNotFragment);
  EXPECT_EQ(f.feed(Bytes{1, 2, 3}), ReasmStatus::kDropped);  // not even parsed ok
  ParsedPacket p;
  const Bytes frag = fragment_frame(udp4(2000), 1000)[0];
  parse_frame(frag.data(), static_cast<uint32_t>(frag.size()), &p);
  EXPECT_EQ(f.reasm.add(frag.data(), 30, p, 0), ReasmStatus::kDropped);  // frame shorter than p says
}

TEST(Reasm, TooManyFragments) {
  ReasmConfig config;
  config.max_fragments = 4;
  Feeder f(config);
  const std::vector<Bytes> frags = fragment_frame(udp4(1000), 128);
  ASSERT_GT(frags.size(), 4u);
  for (int i = 0; i < 4; ++i) EXPECT_EQ(f.feed(frags[i]), ReasmStatus::kHeld);
  EXPECT_EQ(f.feed(frags[4]), ReasmStatus::kDropped);
  EXPECT_EQ(f.reasm.last_drop(), ReasmDrop::kTooManyFragments);
  EXPECT_EQ(f.reasm.datagrams_in_use(), 0u);
}

TEST(Reasm, Ipv6OversizeAfterTheUnfragmentablePart) {
  // 8 bytes of hop-by-hop plus 65535 bytes of fragmentable data: a payload length of 65543.
  Feeder f;
  for (uint32_t off = 0; off < 65520; off += 1448)
    ASSERT_EQ(f.feed(raw_frag6(static_cast<uint16_t>(off), true, std::min<uint32_t>(1448, 65520 - off), 5, 8)),
              ReasmStatus::kHeld)
        << off << " " << reasm_drop_name(f.reasm.last_drop());
  EXPECT_EQ(f.feed(raw_frag6(65520, false, 15, 5, 8)), ReasmStatus::kDropped);
  EXPECT_EQ(f.reasm.last_drop(), ReasmDrop::kOversize);
  EXPECT_EQ(f.reasm.datagrams_in_use(), 0u);
}

TEST(Reasm, Ipv6LargestDatagram) {
  // Exactly 65535 bytes of payload (no unfragmentable extension headers): fits.
  Feeder f;
  for (uint32_t off = 0; off < 65520; off += 1448)
    ASSERT_EQ(f.feed(raw_frag6(static_cast<uint16_t>(off), true, std::min<uint32_t>(1448, 65520 - off), 6)),
              ReasmStatus::kHeld);
  ASSERT_EQ(f.feed(raw_frag6(65520, false, 15, 6)), ReasmStatus::kComplete);
  EXPECT_EQ(f.reasm.output_len(), kEthHdrLen + kIpv6HdrLen + 65535);
  const ParsedPacket p = testing::parse_exact(f.output());
  EXPECT_TRUE(p.ok()) << reason_name(p.reason);
  EXPECT_EQ(p.l3_end, f.reasm.output_len());
  EXPECT_EQ(load_be16(f.reasm.output() + kEthHdrLen + 4), 65535);
}

TEST(Reasm, HeaderTooLong) {
  Feeder f;
  EXPECT_EQ(f.feed(raw_frag6(0, true, 64, 8, 256)), ReasmStatus::kDropped);
  EXPECT_EQ(f.reasm.last_drop(), ReasmDrop::kHeaderTooLong);
  EXPECT_EQ(f.reasm.datagrams_in_use(), 0u);
}

// ---- Memory bounds ---------------------------------------------------------------------------------

TEST(ReasmBounds, FloodOfIncompleteDatagramsStaysWithinSlots) {
  ReasmConfig config;
  config.max_datagrams = 64;
  config.max_bytes = 1 << 20;
  Feeder f(config);
  for (uint32_t i = 0; i < 20000; ++i) {
    // First fragments only, each a different datagram, never completed.
    const Bytes frag = raw_frag4(0, true, 64, 0xcc, static_cast<uint16_t>(i));
    ASSERT_EQ(f.feed(frag, i * 1000), ReasmStatus::kHeld);
    ASSERT_LE(f.reasm.datagrams_in_use(), 64u);
    ASSERT_LE(f.reasm.bytes_in_use(), f.reasm.capacity_bytes());
  }
  EXPECT_EQ(f.reasm.stats().evicted, 20000u - 64u);
  // A real datagram still gets through.
  const Bytes whole = udp4(3000, 0xfffe);
  expect_reassembles(f, fragment_frame(whole, 1000), whole, false);
  EXPECT_EQ(f.reasm.datagrams_in_use(), 63u);  // one evicted for it, then it completed
}

TEST(ReasmBounds, FloodOfBigFragmentsStaysWithinBytes) {
  ReasmConfig config;
  config.max_datagrams = 1024;
  config.max_bytes = 64 * 1024;
  Feeder f(config);
  EXPECT_EQ(f.reasm.capacity_bytes(), 64u * 1024);
  for (uint32_t i = 0; i < 5000; ++i) {
    // Spread over the datagram so that each one holds many blocks.
    const uint16_t id = static_cast<uint16_t>(i);
    ASSERT_EQ(f.feed(raw_frag4(0, true, 1480, 1, id)), ReasmStatus::kHeld);
    ASSERT_EQ(f.feed(raw_frag4(30000, true, 1480, 2, id)), ReasmStatus::kHeld);
    ASSERT_LE(f.reasm.bytes_in_use(), 64u * 1024);
  }
  EXPECT_LE(f.reasm.datagrams_in_use(), 64u * 1024 / (2 * kReasmBlockSize));
  EXPECT_GT(f.reasm.stats().evicted, 4000u);
}

TEST(ReasmBounds, ADatagramLargerThanTheBudgetIsDiscarded) {
  ReasmConfig config;
  config.max_bytes = 8 * 1024;
  Feeder f(config);
  const std::vector<Bytes> frags = fragment_frame(udp4(20000), 1480);
  ReasmStatus last = ReasmStatus::kHeld;
  size_t i = 0;
  for (; i < frags.size() && last == ReasmStatus::kHeld; ++i) last = f.feed(frags[i]);
  EXPECT_EQ(last, ReasmStatus::kDropped);
  EXPECT_EQ(f.reasm.last_drop(), ReasmDrop::kNoMemory);
  EXPECT_EQ(f.reasm.bytes_in_use(), 0u);
  EXPECT_EQ(f.reasm.datagrams_in_use(), 0u);
}

TEST(ReasmBounds, NoAllocationAfterConstruction) {
  ReasmConfig config;
  config.max_datagrams = 16;
  config.max_bytes = 32 * 1024;
  Reassembler reasm(config);
  std::vector<Bytes> frames;
  for (int d = 0; d < 40; ++d) {
    for (Bytes& f : fragment_frame(udp4(3000, static_cast<uint16_t>(d)), 1000)) frames.push_back(std::move(f));
    frames.push_back(raw_frag4(0, true, 64, 1, static_cast<uint16_t>(1000 + d)));
    frames.push_back(raw_frag4(32, true, 64, 1, static_cast<uint16_t>(1000 + d)));  // overlap
  }
  std::vector<ParsedPacket> parsed(frames.size());
  const long before = g_allocations.load();
  int complete = 0;
  for (size_t i = 0; i < frames.size(); ++i) {
    parse_frame(frames[i].data(), static_cast<uint32_t>(frames[i].size()), &parsed[i], kParseVerifyL4Checksum);
    if (reasm.add(frames[i].data(), static_cast<uint32_t>(frames[i].size()), parsed[i], i * kSecond) ==
        ReasmStatus::kComplete) {
      ++complete;
      ParsedPacket out;
      parse_frame(reasm.output(), reasm.output_len(), &out, kParseVerifyL4Checksum);
      recompute_l4_checksum(reasm.output(), out);
    }
  }
  reasm.expire(1000 * kSecond);
  EXPECT_EQ(g_allocations.load() - before, 0);
  EXPECT_EQ(complete, 40);
}

// Random streams: several datagrams cut at random sizes, shuffled, with duplicates; each must come
// out whole and exact. Then junk overlaps: only the bounds must hold.
TEST(ReasmFuzz, ShuffledStreamsWithDuplicates) {
  std::mt19937 rng(11);
  for (int round = 0; round < 200; ++round) {
    ReasmConfig config;
    config.max_fragments = 1024;
    Feeder f(config);
    std::vector<Bytes> wholes;
    std::vector<std::pair<Bytes, int>> stream;
    const int n = 1 + rng() % 6;
    for (int d = 0; d < n; ++d) {
      const bool v6 = rng() % 2;
      FrameBuilder b;
      if (v6) b.ipv6("2001:db8::1", "2001:db8::2"); else b.ipv4("192.0.2.1", "198.51.100.1");
      const uint32_t payload = 100 + rng() % 9000;  // so that a piece is always smaller
      b.ip_id(static_cast<uint16_t>(d)).udp(static_cast<uint16_t>(rng()), 53).payload_size(payload);
      wholes.push_back(b.build());
      for (Bytes& fr : fragment_frame(wholes.back(), 16 + rng() % std::min<uint32_t>(1500, payload - 16), d)) {
        if (rng() % 5 == 0) stream.emplace_back(fr, -1);  // a duplicate
        stream.emplace_back(std::move(fr), d);
      }
    }
    std::shuffle(stream.begin(), stream.end(), rng);
    std::vector<bool> seen(n, false);
    for (auto& [frame, d] : stream) {
      if (f.feed(frame) != ReasmStatus::kComplete) continue;
      const Bytes out = f.output();
      const auto it = std::find(wholes.begin(), wholes.end(), out);
      ASSERT_NE(it, wholes.end()) << describe_frame(out);
      seen[it - wholes.begin()] = true;
    }
    // Duplicates trailing a completed datagram may open a stray slot (or even complete it once
    // more); every datagram must have come out.
    EXPECT_EQ(std::count(seen.begin(), seen.end(), true), n)
        << "round " << round << " too many fragments: "
        << f.reasm.stats().drops[static_cast<int>(ReasmDrop::kTooManyFragments)];
  }
}

TEST(ReasmFuzz, RandomJunkKeepsTheBounds) {
  std::mt19937 rng(12);
  ReasmConfig config;
  config.max_datagrams = 8;
  config.max_bytes = 16 * 1024;
  config.max_fragments = 8;
  Feeder f(config);
  for (int i = 0; i < 50000; ++i) {
    const bool v6 = rng() % 3 == 0;
    const uint16_t off = static_cast<uint16_t>((rng() % 8192) * 8);
    const bool more = rng() % 4 != 0;
    uint32_t len = 8 * (1 + rng() % 64);
    if (!more) len -= rng() % 8;
    const uint16_t id = static_cast<uint16_t>(rng() % 12);
    const Bytes fr = v6 ? raw_frag6(off, more, len, id) : raw_frag4(off, more, len, 0x11, id);
    f.feed(fr, i * 1'000'000ull);
    ASSERT_LE(f.reasm.datagrams_in_use(), 8u);
    ASSERT_LE(f.reasm.bytes_in_use(), f.reasm.capacity_bytes());
  }
  f.reasm.expire(~0ull);
  EXPECT_EQ(f.reasm.datagrams_in_use(), 0u);
  EXPECT_EQ(f.reasm.bytes_in_use(), 0u);
}

TEST(ReasmNames, EveryDropReasonHasAName) {
  for (int r = 0; r < static_cast<int>(ReasmDrop::kCount); ++r)
    EXPECT_STRNE(reasm_drop_name(static_cast<ReasmDrop>(r)), "unknown");
}

}  // namespace
}  // namespace uvs::pkt
