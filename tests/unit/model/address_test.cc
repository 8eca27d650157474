// InetAddr::expand(): uvsd --peer-laddr's ADDR[/LEN].
#include <gtest/gtest.h>

#include "model/address.h"

namespace uvs {
namespace {

std::vector<std::string> texts(const std::vector<InetAddr>& addrs) {
  std::vector<std::string> out;
  for (const InetAddr& a : addrs) out.push_back(a.to_string());
  return out;
}

TEST(InetAddrExpand, AnAddressAloneIsItself) {
  auto v4 = InetAddr::expand("10.97.0.7", 16);
  ASSERT_TRUE(v4);
  EXPECT_EQ(texts(*v4), std::vector<std::string>{"10.97.0.7"});
  auto v6 = InetAddr::expand("fd00::7/128", 16);
  ASSERT_TRUE(v6);
  EXPECT_EQ(texts(*v6), std::vector<std::string>{"fd00::7"});
}

TEST(InetAddrExpand, APrefixIsEveryAddressInOrderFromItsNetwork) {
  auto v4 = InetAddr::expand("10.97.0.9/30", 16);  // host bits cleared first
  ASSERT_TRUE(v4);
  EXPECT_EQ(texts(*v4),
            (std::vector<std::string>{"10.97.0.8", "10.97.0.9", "10.97.0.10", "10.97.0.11"}));
  auto across = InetAddr::expand("10.97.0.255/23", 4096);
  ASSERT_TRUE(across);
  ASSERT_EQ(across->size(), 512u);
  EXPECT_EQ(across->front().to_string(), "10.97.0.0");
  EXPECT_EQ((*across)[256].to_string(), "10.97.1.0");
  EXPECT_EQ(across->back().to_string(), "10.97.1.255");
  auto v6 = InetAddr::expand("fd00:97::ff:fffe/127", 16);
  ASSERT_TRUE(v6);
  EXPECT_EQ(texts(*v6), (std::vector<std::string>{"fd00:97::ff:fffe", "fd00:97::ff:ffff"}));
  auto v6_carry = InetAddr::expand("fd00:97::1:0:0/95", 4);
  EXPECT_FALSE(v6_carry);  // 2^33 addresses
}

TEST(InetAddrExpand, BadTextOrTooManyAddressesIsRefused) {
  for (const char* bad : {"", "10.97.0.0/", "10.97.0.0/33", "10.97.0.0/-1", "10.97.0.0/2x",
                          "fd00::/129", "host.example/32", "10.97.0.0/0024"}) {
    EXPECT_FALSE(InetAddr::expand(bad, 4096)) << bad;
  }
  EXPECT_FALSE(InetAddr::expand("10.0.0.0/19", 4096));  // 8192 addresses
  EXPECT_TRUE(InetAddr::expand("10.0.0.0/20", 4096));
}

}  // namespace
}  // namespace uvs
