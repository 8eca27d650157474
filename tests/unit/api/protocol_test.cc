#include "api/protocol.h"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

namespace uvs::api {
namespace {

TEST(Protocol, CommandRoundTrip) {
  Command c;
  c.kind = CommandKind::kAddDest;
  c.options = opt(kOptService) | opt(kOptServer) | opt(kOptWeight);
  c.svc.key.af = AF_INET6;
  c.svc.key.addr = *InetAddr::parse("2001:db8::80");
  c.svc.key.port = 443;
  c.svc.netmask = 128;
  c.dest.key = DestKey{*InetAddr::parse("10.0.0.1"), 443};
  c.dest.fwd = Fwd::kTunnel;
  c.dest.tun_type = TunType::kGue;
  c.dest.tun_port = 6080;
  c.dest.weight = 2147483647;
  Command d = decode_request(encode_request(c));
  EXPECT_EQ(d.kind, c.kind);
  EXPECT_EQ(d.options, c.options);
  EXPECT_EQ(d.svc.key, c.svc.key);
  EXPECT_EQ(d.dest.key, c.dest.key);
  EXPECT_EQ(d.dest.fwd, Fwd::kTunnel);
  EXPECT_EQ(d.dest.tun_port, 6080);
  EXPECT_EQ(d.dest.weight, 2147483647);
}

TEST(Protocol, MalformedRequestsThrow) {
  EXPECT_ANY_THROW(decode_request("not json"));
  EXPECT_ANY_THROW(decode_request("{}"));
  EXPECT_ANY_THROW(decode_request(R"({"command":{"svc":{"key":{"addr":{"af":2,"ip":"x"}}}}})"));
  EXPECT_ANY_THROW(
      decode_request(R"({"command":{"svc":{"key":{"addr":{"af":10,"ip":"1.2.3.4"}}}}})"));
}

TEST(Protocol, FramesOverASocketPair) {
  int sv[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
  ASSERT_TRUE(write_frame(sv[0], "hello"));
  std::string got;
  EXPECT_EQ(read_frame(sv[1], 100, got), ReadStatus::kOk);
  EXPECT_EQ(got, "hello");
  ASSERT_TRUE(write_frame(sv[0], std::string(200, 'x')));
  EXPECT_EQ(read_frame(sv[1], 100, got), ReadStatus::kTooLarge);
  close(sv[0]);
  close(sv[1]);
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
  ASSERT_EQ(write(sv[0], "\0\0\0\x10" "abc", 7), 7);
  close(sv[0]);
  EXPECT_EQ(read_frame(sv[1], 100, got), ReadStatus::kError);  // truncated
  close(sv[1]);
}

}  // namespace
}  // namespace uvs::api
