// The hash functions of dh/sh/mh/lblc.
#include <gtest/gtest.h>

#include <array>

#include "sched/hash.h"
#include "sched/lookup_tables.h"

namespace uvs::sched {
namespace {

TEST(Hash32, GoldenRatioTopBits) {
  EXPECT_EQ(hash_32(0, 8), 0u);
  EXPECT_EQ(hash_32(1, 8), 0x61u);  // 0x61C88647 >> 24
  EXPECT_EQ(hash_32(2, 10), (2u * 0x61C88647u) >> 22);
  EXPECT_EQ(hash_32(0xFFFFFFFF, 8), (0u - 0x61C88647u) >> 24);
}

TEST(AddrFold, Ipv6XorsTheFourWordsInHostOrder) {
  auto a = InetAddr::parse("2001:db8::1:2");
  ASSERT_TRUE(a);
  EXPECT_EQ(addr_fold(*a), 0x20010db8u ^ 0u ^ 0u ^ 0x00010002u);
  EXPECT_EQ(addr_fold(InetAddr::v4(0x0A000001)), 0x0A000001u);
}

// The published SipHash-2-4 vectors (key 00..0f): they check the round function the
// SipHash-1-3 fast path shares.
TEST(SipHash, ReferenceVectors24) {
  const uint64_t k0 = 0x0706050403020100ULL, k1 = 0x0F0E0D0C0B0A0908ULL;
  std::array<uint8_t, 64> msg{};
  for (size_t i = 0; i < msg.size(); ++i) msg[i] = static_cast<uint8_t>(i);
  EXPECT_EQ((siphash<2, 4>(k0, k1, msg.data(), 0)), 0x726FDB47DD0E0E31ULL);
  EXPECT_EQ((siphash<2, 4>(k0, k1, msg.data(), 15)), 0xA129CA6149BE45E5ULL);
}

TEST(SipHash, FastU32PathMatchesTheGenericOne) {
  for (uint32_t v : {0u, 1u, 80u, 0x0A000001u, 0xDEADBEEFu, 0xFFFFFFFFu}) {
    const uint8_t bytes[4] = {static_cast<uint8_t>(v), static_cast<uint8_t>(v >> 8),
                              static_cast<uint8_t>(v >> 16), static_cast<uint8_t>(v >> 24)};
    EXPECT_EQ(siphash13_u32(v, kMhKey1, kMhKey1),
              static_cast<uint32_t>(siphash<1, 3>(kMhKey1, kMhKey1, bytes, 4)));
  }
}

TEST(MhHash, OffsetPortAndAddressAddUp) {
  const InetAddr a = InetAddr::v4(100);
  EXPECT_EQ(mh_hash(a, 5, kMhKey1, 3), mh_hash(InetAddr::v4(108), 0, kMhKey1, 0));
  EXPECT_NE(mh_hash(a, 0, kMhKey1, 0), mh_hash(a, 0, kMhKey2, 0));
}

}  // namespace
}  // namespace uvs::sched
