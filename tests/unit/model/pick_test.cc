// uvsadm --pick's client tuples: "ADDR:PORT" and "[ADDR]:PORT", numeric, nothing else.
#include "model/pick.h"

#include <gtest/gtest.h>

namespace uvs {
namespace {

TEST(ClientTuple, ReadsIpv4AndBracketedIpv6) {
  auto c = parse_client_tuple("198.51.100.7:40000");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->addr, *InetAddr::parse("198.51.100.7"));
  EXPECT_EQ(c->port, 40000);
  c = parse_client_tuple("[2001:db8::7]:0");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->addr, *InetAddr::parse("2001:db8::7"));
  EXPECT_EQ(c->port, 0);
  c = parse_client_tuple("[::ffff:1.2.3.4]:65535");
  ASSERT_TRUE(c);
  EXPECT_TRUE(c->addr.is_v6());
  EXPECT_EQ(c->port, 65535);
}

TEST(ClientTuple, RefusesEverythingElse) {
  for (const char* bad : {"", "1.2.3.4", "1.2.3.4:", ":80", "1.2.3.4:65536", "1.2.3.4:-1",
                          "1.2.3.4:+80", "1.2.3.4: 80", " 1.2.3.4:80", "1.2.3.4:80 ",
                          "1.2.3.4:80x", "1.2.3.4:0x50", "1.2.3:80", "010.1.2.3:80",
                          "host.example:80", "2001:db8::7:80", "[2001:db8::7]80",
                          "[2001:db8::7]:", "[2001:db8::7", "[1.2.3.4]:80", "1.2.3.4:000080",
                          "[2001:db8::7]:80:80"}) {
    EXPECT_FALSE(parse_client_tuple(bad)) << bad;
  }
}

TEST(ClientTuple, FormatsAsItReads) {
  EXPECT_EQ(format_endpoint(*InetAddr::parse("10.0.0.1"), 80), "10.0.0.1:80");
  EXPECT_EQ(format_endpoint(*InetAddr::parse("2001:0db8:0::1"), 443), "[2001:db8::1]:443");
  for (const char* text : {"10.0.0.1:80", "[2001:db8::1]:443", "[::]:0"}) {
    auto c = parse_client_tuple(text);
    ASSERT_TRUE(c) << text;
    EXPECT_EQ(format_endpoint(c->addr, c->port), text);
  }
}

}  // namespace
}  // namespace uvs
