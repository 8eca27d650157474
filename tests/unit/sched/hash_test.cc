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

// The 64-bit kernel's hsiphash() is SipHash-1-3 truncated to 32 bits; these are the first of
// its self-test vectors (lib/test_siphash.c, key 00..0f, message 00 01 .. of length i). Passing
// them means mh's hash, and so its tables, are the 64-bit kernel's.
TEST(SipHash, KernelHsiphashVectors64) {
  const uint64_t k0 = 0x0706050403020100ULL, k1 = 0x0F0E0D0C0B0A0908ULL;
  const uint32_t expected[16] = {0x050fc4dc, 0x7d57ca93, 0x4dc7d44d, 0xe7ddf7fb,
                                 0x88d38328, 0x49533b67, 0xc59f22a7, 0x9bb11140,
                                 0x8d299a8e, 0x6c063de4, 0x92ff097f, 0xf94dc352,
                                 0x57b4d9a2, 0x1229ffa7, 0xc0f95d34, 0x2a519956};
  std::array<uint8_t, 16> msg{};
  for (size_t i = 0; i < msg.size(); ++i) msg[i] = static_cast<uint8_t>(i);
  for (size_t len = 0; len < 16; ++len)
    EXPECT_EQ(static_cast<uint32_t>(siphash<1, 3>(k0, k1, msg.data(), len)), expected[len]) << len;
  EXPECT_EQ(siphash13_u32(0x03020100, k0, k1), expected[4]);  // bytes 00 01 02 03
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
