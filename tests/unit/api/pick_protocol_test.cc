// uvsadm --pick on the control socket: a Command with a batch of clients beside it, the picks in
// the reply.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "api/protocol.h"

namespace uvs::api {
namespace {

// uvsadm --pick's batches: the Command with its clients beside it, the picks in the reply.
TEST(Protocol, PickRequestAndReplyRoundTrip) {
  Command c;
  c.kind = CommandKind::kPick;
  c.options = opt(kOptService);
  c.svc.key.addr = *InetAddr::parse("192.0.2.1");
  c.svc.key.port = 80;
  // The texts as read go as they are (uvsadm has checked them); uvsd reads them back.
  const std::vector<std::string_view> texts = {"198.51.100.1:1024", "[2001:db8:0::9]:65535"};
  const auto request = nlohmann::json::parse(encode_pick_request(c, texts));
  EXPECT_TRUE(is_pick_request(request));
  EXPECT_EQ(request["clients"], nlohmann::json({"198.51.100.1:1024", "[2001:db8:0::9]:65535"}));
  EXPECT_EQ(decode_request(request).kind, CommandKind::kPick);
  EXPECT_EQ(decode_request(request).svc.key, c.svc.key);
  const std::vector<ClientTuple> clients = {{*InetAddr::parse("198.51.100.1"), 1024},
                                            {*InetAddr::parse("2001:db8::9"), 65535}};
  EXPECT_EQ(decode_pick_clients(request), clients);
  EXPECT_FALSE(is_pick_request(nlohmann::json::parse(encode_request(c))));

  Reply r;
  r.pick = PickView{"mh", {DestKey{*InetAddr::parse("10.0.0.1"), 80}}, {0, -1, 0}};
  const Reply back = decode_reply(encode_reply(r));
  ASSERT_TRUE(back.pick);
  EXPECT_EQ(back.pick->sched_name, "mh");
  EXPECT_EQ(back.pick->dests, r.pick->dests);
  EXPECT_EQ(back.pick->picks, r.pick->picks);
  EXPECT_FALSE(decode_reply(encode_reply(Reply{})).pick);
}

TEST(Protocol, MalformedPickClientsThrow) {
  for (const char* bad : {R"({"command":{},"clients":["1.2.3.4"]})",
                          R"({"command":{},"clients":[5]})",
                          R"({"command":{},"clients":{"a":"1.2.3.4:5"}})",
                          R"({"command":{},"clients":["host:80"]})",
                          R"({"command":{},"clients":["[1.2.3.4]:80"]})"}) {
    EXPECT_ANY_THROW(decode_pick_clients(nlohmann::json::parse(bad))) << bad;
  }
}

}  // namespace
}  // namespace uvs::api
