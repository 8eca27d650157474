// SYN cookies: every option combination survives the round trip; another tuple, an old
// minute, another secret or a guessed number does not.
#include "conn/syncookie.h"

#include <gtest/gtest.h>

#include <random>

#include "pkt/builder.h"

namespace uvs::conn {
namespace {

constexpr SynCookies::Secret kSecret = {1, 2, 3, 4};
constexpr uint64_t kMinute = 60000;
constexpr uint64_t kT0 = 1000 * kMinute + 12345;  // some time in minute 1000

CookieTuple tuple_v4() {
  return CookieTuple{pkt::addr("10.0.1.5"), pkt::addr("10.0.100.1"), 40000, 80};
}

TEST(SynCookie, EveryOptionCombinationRoundTrips) {
  SynCookies cookies(kSecret);
  int combos = 0;
  for (uint16_t mss : kCookieMss)
    for (uint8_t ws : {uint8_t{0}, uint8_t{1}, uint8_t{7}, uint8_t{14}, uint8_t{0xf}})
      for (bool ts : {false, true})
        for (bool sack : {false, true})
          for (const CookieTuple& t :
               {tuple_v4(), CookieTuple{pkt::addr("2001:db8:1::5"), pkt::addr("2001:db8:100::1"),
                                        1, 65535}}) {
            const SynOptions opts{mss, ws, ts, sack};
            const uint32_t isn = 0xfffffff0u + static_cast<uint32_t>(combos);  // wraps
            const uint32_t cookie = cookies.make(t, isn, opts, kT0);
            auto got = cookies.check(t, isn, cookie, kT0 + 1);
            ASSERT_TRUE(got) << "mss " << mss << " ws " << int{ws} << " ts " << ts;
            EXPECT_EQ(*got, opts);
            ++combos;
          }
  EXPECT_EQ(combos, 10 * 5 * 2 * 2 * 2);
}

TEST(SynCookie, MssRoundsDownToTheTable) {
  EXPECT_EQ(SynCookies::decode(SynCookies::encode({1459, 0xf, false, false}))->mss, 1452);
  EXPECT_EQ(SynCookies::decode(SynCookies::encode({1460, 0xf, false, false}))->mss, 1460);
  EXPECT_EQ(SynCookies::decode(SynCookies::encode({9000, 0xf, false, false}))->mss, 4312);
  EXPECT_EQ(SynCookies::decode(SynCookies::encode({10, 0xf, false, false}))->mss, 64);
}

TEST(SynCookie, AnotherTupleIsRejected) {
  SynCookies cookies(kSecret);
  const SynOptions opts{1460, 7, false, true};
  const CookieTuple t = tuple_v4();
  const uint32_t cookie = cookies.make(t, 1000, opts, kT0);
  CookieTuple other_vip = t;
  other_vip.daddr = pkt::addr("10.0.100.2");
  CookieTuple other_port = t;
  other_port.dport = 443;
  CookieTuple other_client = t;
  other_client.sport = 40001;
  EXPECT_FALSE(cookies.check(other_vip, 1000, cookie, kT0));
  EXPECT_FALSE(cookies.check(other_port, 1000, cookie, kT0));
  EXPECT_FALSE(cookies.check(other_client, 1000, cookie, kT0));
  EXPECT_FALSE(cookies.check(t, 1001, cookie, kT0));  // another client ISN
  EXPECT_TRUE(cookies.check(t, 1000, cookie, kT0));
}

TEST(SynCookie, AcceptedForFourMinuteCountsThenExpired) {
  SynCookies cookies(kSecret);
  const CookieTuple t = tuple_v4();
  const SynOptions opts{1452, 0xf, false, true};
  const uint64_t start = 1000 * kMinute;  // the first millisecond of minute 1000
  const uint32_t cookie = cookies.make(t, 77, opts, start);
  for (uint64_t m = 0; m < SynCookies::kMaxAgeMinutes; ++m)
    EXPECT_TRUE(cookies.check(t, 77, cookie, start + m * kMinute + kMinute - 1)) << m;
  EXPECT_FALSE(cookies.check(t, 77, cookie, start + SynCookies::kMaxAgeMinutes * kMinute));
  EXPECT_FALSE(cookies.check(t, 77, cookie, start + 300 * kMinute));  // count wrapped past
  EXPECT_FALSE(cookies.check(t, 77, cookie, start - 1));              // from the future
}

TEST(SynCookie, ValidAcrossAKeyRotation) {
  SynCookies cookies(kSecret);
  const CookieTuple t = tuple_v4();
  const SynOptions opts{536, 2, true, false};
  // The last minute of a rotation, checked in the first minutes of the next.
  const uint64_t last = (5 * SynCookies::kRotateMinutes - 1) * kMinute;
  const uint32_t cookie = cookies.make(t, 5, opts, last);
  EXPECT_EQ(cookies.check(t, 5, cookie, last + kMinute), opts);
  EXPECT_EQ(cookies.check(t, 5, cookie, last + 3 * kMinute), opts);
  // The same options and ISN one rotation later make a different cookie: the keys changed.
  const uint32_t later = cookies.make(t, 5, opts, last + SynCookies::kRotateMinutes * kMinute);
  EXPECT_NE(later - (later & 0x00ffffffu), cookie - (cookie & 0x00ffffffu));
}

TEST(SynCookie, AnotherSecretRejects) {
  SynCookies ours(kSecret);
  SynCookies theirs({1, 2, 3, 5});
  const CookieTuple t = tuple_v4();
  const uint32_t cookie = theirs.make(t, 9, {1460, 0xf, false, false}, kT0);
  EXPECT_FALSE(ours.check(t, 9, cookie, kT0));
}

TEST(SynCookie, ForgedCookiesAreRejected) {
  // A flood of guessed acknowledgement numbers: the checks leave about 2^-20 of them.
  SynCookies cookies(kSecret);
  const CookieTuple t = tuple_v4();
  std::mt19937 rng(12345);
  int accepted = 0;
  for (int i = 0; i < 200000; ++i)
    if (cookies.check(t, 1000, static_cast<uint32_t>(rng()), kT0)) ++accepted;
  EXPECT_LE(accepted, 2);
  // One bit flipped in a real cookie outside its option bits (12..21, which the client that
  // got the cookie may change into other options for itself, as with the kernel's cookies).
  const uint32_t cookie = cookies.make(t, 1000, {1460, 7, true, true}, kT0);
  int flipped_ok = 0;
  for (int bit = 0; bit < 32; ++bit)
    if ((bit < 12 || bit > 21) && cookies.check(t, 1000, cookie ^ (1u << bit), kT0)) ++flipped_ok;
  EXPECT_EQ(flipped_ok, 0);
}

TEST(SynCookie, DataBitsOutsideTheOptionsAreRejected) {
  EXPECT_FALSE(SynCookies::decode(1));               // bit 0
  EXPECT_FALSE(SynCookies::decode(1u << 22));        // bit 22
  EXPECT_FALSE(SynCookies::decode(10u << 12));       // MSS index beyond the table
  EXPECT_TRUE(SynCookies::decode(9u << 12 | 15u << 16));   // MSS 4312, no wscale: fine
  EXPECT_FALSE(SynCookies::decode(9u << 12 | 15u << 16 | 1u << 23));
}

TEST(SynCookie, RandomSecretsDiffer) {
  EXPECT_NE(SynCookies::random_secret(), SynCookies::random_secret());
}

}  // namespace
}  // namespace uvs::conn
