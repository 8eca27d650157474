// decode_request() takes a request for exactly what it says: a value that does not fit its
// field (port 70000, weight 2^31, a fraction, true for a number) is an error, not a truncation.
#include <gtest/gtest.h>

#include <string>

#include "api/protocol.h"

namespace uvs::api {
namespace {

std::string with_svc(const std::string& svc_members) {
  return R"({"command":{"kind":1,"svc":{)" + svc_members + "}}}";
}

std::string with_dest(const std::string& dest_members) {
  return R"({"command":{"kind":7,"dest":{)" + dest_members + "}}}";
}

TEST(DecodeRequest, ExactValuesAccepted) {
  Command c = decode_request(with_svc(
      R"("key":{"af":2,"protocol":6,"addr":{"af":2,"ip":"10.0.0.1"},"port":65535},)"
      R"("flags":4294967295,"timeout":360)"));
  EXPECT_EQ(c.kind, CommandKind::kAddService);
  EXPECT_EQ(c.svc.key.port, 65535);
  EXPECT_EQ(c.svc.flags, 0xffffffffu);  // fits; validate.cc refuses it, not the decoder
  EXPECT_EQ(decode_request(with_dest(R"("weight":2147483647)")).dest.weight, 2147483647);
  // Unknown members are ignored, whatever they hold.
  EXPECT_EQ(decode_request(with_dest(R"("weight":5,"colour":[[1.5]])")).dest.weight, 5);
  // Addresses are compared as addresses, not as spellings.
  EXPECT_EQ(decode_request(R"({"command":{"laddr":{"af":10,"ip":"2001:db8:0::1"}}})")
                .laddr.to_string(),
            "2001:db8::1");
}

TEST(DecodeRequest, NarrowingRefused) {
  EXPECT_ANY_THROW(decode_request(with_svc(R"("key":{"port":70000})")));
  EXPECT_ANY_THROW(decode_request(with_svc(R"("key":{"port":-1})")));
  EXPECT_ANY_THROW(decode_request(with_svc(R"("key":{"af":65538})")));
  EXPECT_ANY_THROW(decode_request(with_svc(R"("flags":4294967296)")));
  EXPECT_ANY_THROW(decode_request(with_svc(R"("timeout":-1)")));
  EXPECT_ANY_THROW(decode_request(with_dest(R"("weight":2147483648)")));
  EXPECT_ANY_THROW(decode_request(with_dest(R"("weight":1.5)")));
  EXPECT_ANY_THROW(decode_request(with_dest(R"("weight":5.0)")));  // uvsadm sends integers
  EXPECT_ANY_THROW(decode_request(with_svc(R"("flags":1e300)")));   // no cast out of range
  EXPECT_ANY_THROW(decode_request(with_dest(R"("weight":true)")));
  EXPECT_ANY_THROW(decode_request(with_dest(R"("fwd":259)")));
  EXPECT_ANY_THROW(decode_request(R"({"command":{"kind":257}})"));
  EXPECT_ANY_THROW(decode_request(R"({"command":{"options":-1}})"));
  EXPECT_ANY_THROW(decode_request(R"({"command":{"daemon":{"mcast_ttl":256}}})"));
  EXPECT_ANY_THROW(decode_request(R"({"command":{"list":{"numeric":1}}})"));
}

TEST(DecodeRequest, WrongShapesRefused) {
  EXPECT_ANY_THROW(decode_request(R"({"command":[]})"));
  EXPECT_ANY_THROW(decode_request(R"({"command":{"svc":[1,2]}})"));
  EXPECT_ANY_THROW(decode_request(R"({"command":{"svc":{"sched_name":5}}})"));
  EXPECT_ANY_THROW(decode_request(R"({"command":{"dest":{"weight":null}}})"));
  EXPECT_ANY_THROW(decode_request(std::string(100000, '[')));
}

}  // namespace
}  // namespace uvs::api
