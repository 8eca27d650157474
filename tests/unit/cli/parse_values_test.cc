// The value readers behind the command line (ipvsadm's parse_service(), string_to_number(), ...),
// tested on their own.
#include "cli/parse_values.h"

#include <gtest/gtest.h>

namespace uvs::cli::parse_internal {
namespace {

InetAddr addr(const char* text) { return *InetAddr::parse(text); }

TEST(ParseInteger, StrtolWholeWord) {
  EXPECT_EQ(parse_integer("0", 0, 10), 0);
  EXPECT_EQ(parse_integer("10", 0, 10), 10);
  EXPECT_EQ(parse_integer("+7", 0, 10), 7);
  EXPECT_EQ(parse_integer(" 7", 0, 10), 7);
  EXPECT_EQ(parse_integer("-0", 0, 10), 0);
  EXPECT_EQ(parse_integer("-3", -5, 5), -3);
  EXPECT_EQ(parse_integer("007", 0, 10), 7);  // decimal, not octal
  EXPECT_FALSE(parse_integer("11", 0, 10));
  EXPECT_FALSE(parse_integer("-1", 0, 10));
  EXPECT_FALSE(parse_integer("", 0, 10));
  EXPECT_FALSE(parse_integer(" ", 0, 10));
  EXPECT_FALSE(parse_integer("7 ", 0, 10));
  EXPECT_FALSE(parse_integer("7x", 0, 10));
  EXPECT_FALSE(parse_integer("0x7", 0, 10));
  EXPECT_FALSE(parse_integer("99999999999999999999", 0, 0x7fffffff));
  EXPECT_EQ(parse_integer("2147483647", 0, 2147483647), 2147483647);
  EXPECT_FALSE(parse_integer("2147483648", 0, 2147483647));
}

TEST(ResolveIpv4Host, InetAtonThenHosts) {
  EXPECT_EQ(resolve_ipv4_host("192.168.1.2"), addr("192.168.1.2"));
  EXPECT_EQ(resolve_ipv4_host("10.1"), addr("10.0.0.1"));
  EXPECT_EQ(resolve_ipv4_host("10.1.2"), addr("10.1.0.2"));
  EXPECT_EQ(resolve_ipv4_host("0x0a000001"), addr("10.0.0.1"));
  EXPECT_EQ(resolve_ipv4_host("012.0.0.1"), addr("10.0.0.1"));  // inet_aton reads octal
  EXPECT_EQ(resolve_ipv4_host("localhost"), addr("127.0.0.1"));
  EXPECT_FALSE(resolve_ipv4_host("1.2.3.4.5"));
  EXPECT_FALSE(resolve_ipv4_host("256.1.1.1"));
  EXPECT_FALSE(resolve_ipv4_host("::1"));
}

TEST(ParsePort, NumbersAndNames) {
  EXPECT_EQ(parse_port("0", IPPROTO_TCP), 0);
  EXPECT_EQ(parse_port("65535", IPPROTO_TCP), 65535);
  EXPECT_FALSE(parse_port("65536", IPPROTO_TCP));
  EXPECT_EQ(parse_port("http", IPPROTO_TCP), 80);
  EXPECT_FALSE(parse_port("http", IPPROTO_UDP));
  EXPECT_EQ(parse_port("domain", IPPROTO_UDP), 53);
  EXPECT_EQ(parse_port("amqp", IPPROTO_SCTP), 5672);
  // Protocol unknown: numbers only.
  EXPECT_EQ(parse_port("22", 0), 22);
  EXPECT_FALSE(parse_port("ssh", 0));
  EXPECT_FALSE(parse_port("", IPPROTO_TCP));
}

TEST(ParseHostPort, Forms) {
  auto hp = parse_host_port("10.0.0.1:80", IPPROTO_TCP);
  ASSERT_TRUE(hp);
  EXPECT_EQ(hp->addr, addr("10.0.0.1"));
  EXPECT_EQ(hp->port, 80);

  hp = parse_host_port("10.0.0.1", IPPROTO_TCP);
  ASSERT_TRUE(hp);
  EXPECT_FALSE(hp->port.has_value());

  hp = parse_host_port("[2001:db8::1]:443", IPPROTO_TCP);
  ASSERT_TRUE(hp);
  EXPECT_EQ(hp->addr, addr("2001:db8::1"));
  EXPECT_EQ(hp->port, 443);

  hp = parse_host_port("2001:db8::1", IPPROTO_TCP);
  ASSERT_TRUE(hp);
  EXPECT_TRUE(hp->addr.is_v6());
  EXPECT_FALSE(hp->port.has_value());

  hp = parse_host_port("[10.0.0.1]:80", IPPROTO_TCP);
  ASSERT_TRUE(hp);
  EXPECT_EQ(hp->addr, addr("10.0.0.1"));
  EXPECT_FALSE(hp->port.has_value());

  hp = parse_host_port("localhost:ssh", IPPROTO_TCP);
  ASSERT_TRUE(hp);
  EXPECT_EQ(hp->addr, addr("127.0.0.1"));
  EXPECT_EQ(hp->port, 22);

  for (const char* bad :
       {"", "80", "0123", "[::1]", "[::1", "[::1]x", "10.0.0.1:", "10.0.0.1:x:y", "1.2.3.4.5:1"}) {
    EXPECT_FALSE(parse_host_port(bad, IPPROTO_TCP)) << bad;
  }
}

TEST(ParseFwmark, Range) {
  EXPECT_EQ(parse_fwmark("1"), 1u);
  EXPECT_EQ(parse_fwmark("4294967295"), 4294967295u);
  EXPECT_EQ(parse_fwmark(" +9"), 9u);
  for (const char* bad : {"0", "-1", "-4294967295", "4294967296", "", "1 ", "x", "0x10"}) {
    EXPECT_FALSE(parse_fwmark(bad)) << bad;
  }
}

TEST(ParseNetmask, Ipv4AndIpv6) {
  EXPECT_EQ(parse_ipv4_netmask("255.255.255.0"), 0xffffff00u);
  EXPECT_EQ(parse_ipv4_netmask("255.255.255.255"), 0xffffffffu);
  EXPECT_EQ(parse_ipv4_netmask("0.0.0.0"), 0u);
  EXPECT_FALSE(parse_ipv4_netmask("255.255.255.256"));

  EXPECT_EQ(parse_ipv6_prefix("1"), 1u);
  EXPECT_EQ(parse_ipv6_prefix("128"), 128u);
  EXPECT_EQ(parse_ipv6_prefix(" 64"), 64u);
  EXPECT_EQ(parse_ipv6_prefix("64/x"), 64u);
  EXPECT_FALSE(parse_ipv6_prefix("0"));
  EXPECT_FALSE(parse_ipv6_prefix("129"));
  EXPECT_FALSE(parse_ipv6_prefix("-1"));
  EXPECT_FALSE(parse_ipv6_prefix("x"));
  // atoi() truncates to int: 2^32 + 64 reads as 64.
  EXPECT_EQ(parse_ipv6_prefix("4294967360"), 64u);
}

}  // namespace
}  // namespace uvs::cli::parse_internal
