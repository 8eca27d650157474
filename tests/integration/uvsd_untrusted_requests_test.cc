// uvsd trusts nothing on its socket: requests no uvsadm would send, written as raw frames to a
// real uvsd, are answered with the kernel's errno and leave the table as it was.
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <optional>
#include <string>

#include "api/codec.h"
#include "api/protocol.h"
#include "tests/integration/harness.h"

namespace uvs::testing {
namespace {

using nlohmann::json;

class UntrustedRequests : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(uvsd_.adm({"-A", "-t", "10.0.0.1:80", "-s", "rr"}).status, 0);
    ASSERT_EQ(uvsd_.adm({"-a", "-t", "10.0.0.1:80", "-r", "192.168.0.1:8080", "-m"}).status, 0);
    table_ = listing();
  }

  std::string listing() const { return uvsd_.adm({"-Ln"}).out; }

  // Sends `payload` as one frame on a fresh connection; the reply's errno, or nullopt when
  // uvsd closed without answering.
  std::optional<int> send_raw(const std::string& payload) const {
    int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return std::nullopt;
    sockaddr_un sa{};
    sa.sun_family = AF_UNIX;
    std::strncpy(sa.sun_path, uvsd_.socket().c_str(), sizeof sa.sun_path - 1);
    std::optional<int> err;
    std::string reply;
    if (::connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) == 0 &&
        api::write_frame(fd, payload) &&
        api::read_frame(fd, api::kMaxReplyBytes, reply) == api::ReadStatus::kOk) {
      err = api::decode_reply(reply).err;
    }
    ::close(fd);
    return err;
  }

  // A request as uvsadm would encode `cmd`, then changed by `edit` as a hostile client might.
  std::optional<int> send_edited(const Command& cmd, void (*edit)(json&)) const {
    json request = json::parse(api::encode_request(cmd));
    edit(request["command"]);
    return send_raw(request.dump());
  }

  static Command add_service(const char* ip, uint16_t port) {
    Command c;
    c.kind = CommandKind::kAddService;
    c.options = opt(kOptService);
    c.svc.key.af = AF_INET;
    c.svc.key.protocol = kProtoTcp;
    c.svc.key.addr = *InetAddr::parse(ip);
    c.svc.key.port = port;
    c.svc.sched_name = "wlc";
    return c;
  }

  static Command add_dest(const char* ip, uint16_t port, Fwd fwd) {
    Command c;
    c.kind = CommandKind::kAddDest;
    c.options = opt(kOptService) | opt(kOptServer);
    c.svc.key = add_service("10.0.0.1", 80).svc.key;
    c.dest.key = DestKey{*InetAddr::parse(ip), port};
    c.dest.fwd = fwd;
    return c;
  }

  Daemon uvsd_;
  std::string table_;
};

TEST_F(UntrustedRequests, UnmodifiedRequestsAreAccepted) {
  // The baseline the hostile cases differ from.
  EXPECT_EQ(send_edited(add_service("10.0.0.2", 80), [](json&) {}), 0);
  EXPECT_EQ(send_edited(add_dest("192.168.0.2", 80, Fwd::kRoute), [](json&) {}), 0);
  EXPECT_NE(listing(), table_);
}

TEST_F(UntrustedRequests, ServiceDefinitionsUvsadmWouldRefuse) {
  struct Case {
    const char* what;
    void (*edit)(json&);
    int err;
  };
  const Case cases[] = {
      {"af 2 with an IPv6 address",
       [](json& c) { c["svc"]["key"]["addr"] = json{{"af", 10}, {"ip", "2001:db8::1"}}; },
       EINVAL},
      {"af 7", [](json& c) { c["svc"]["key"]["af"] = 7; }, EAFNOSUPPORT},
      {"port 70000", [](json& c) { c["svc"]["key"]["port"] = 70000; }, EINVAL},
      {"port 0, not persistent", [](json& c) { c["svc"]["key"]["port"] = 0; }, EINVAL},
      {"protocol 1", [](json& c) { c["svc"]["key"]["protocol"] = 1; }, EINVAL},
      {"flags 0xffffffff",
       [](json& c) {
         c["svc"]["flags"] = 0xffffffffu;
         c["svc"]["timeout"] = 60;
       },
       EINVAL},
      {"persistent, timeout 0", [](json& c) { c["svc"]["flags"] = 1; }, EINVAL},
      {"persistent, timeout over 31 days",
       [](json& c) {
         c["svc"]["flags"] = 1;
         c["svc"]["timeout"] = 86400 * 31 + 1;
       },
       EINVAL},
      {"one-packet on TCP", [](json& c) { c["svc"]["flags"] = 4; }, EINVAL},
      {"--pe sip",
       [](json& c) {
         c["svc"]["flags"] = 1;
         c["svc"]["timeout"] = 360;
         c["svc"]["pe_name"] = "sip";
       },
       ENOENT},
      {"timeout -1", [](json& c) { c["svc"]["timeout"] = -1; }, EINVAL},
      {"netmask as text", [](json& c) { c["svc"]["netmask"] = "255.0.0.0"; }, EINVAL},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.what);
    EXPECT_EQ(send_edited(add_service("10.0.0.3", 80), c.edit), c.err);
    EXPECT_EQ(listing(), table_);
  }
}

TEST_F(UntrustedRequests, RealServersUvsadmWouldRefuse) {
  struct Case {
    const char* what;
    Fwd fwd;
    void (*edit)(json&);
    int err;
  };
  const Case cases[] = {
      {"weight 2^31", Fwd::kMasq, [](json& c) { c["dest"]["weight"] = 2147483648u; }, EINVAL},
      {"weight -1", Fwd::kMasq, [](json& c) { c["dest"]["weight"] = -1; }, ERANGE},
      {"weight 1.5", Fwd::kMasq, [](json& c) { c["dest"]["weight"] = 1.5; }, EINVAL},
      {"u-threshold 2^31", Fwd::kMasq,
       [](json& c) { c["dest"]["u_threshold"] = 2147483648u; }, EINVAL},
      {"forwarding method 9", Fwd::kMasq, [](json& c) { c["dest"]["fwd"] = 9; }, EINVAL},
      {"forwarding method 300", Fwd::kMasq, [](json& c) { c["dest"]["fwd"] = 300; }, EINVAL},
      {"DR on another port", Fwd::kRoute, [](json& c) { c["dest"]["key"]["port"] = 8080; },
       EINVAL},
      {"tunnel type 7", Fwd::kTunnel, [](json& c) { c["dest"]["tun_type"] = 7; }, EINVAL},
      {"gue without a port", Fwd::kTunnel, [](json& c) { c["dest"]["tun_type"] = 1; }, EINVAL},
      {"tunnel port on NAT", Fwd::kMasq, [](json& c) { c["dest"]["tun_port"] = 6080; }, EINVAL},
      {"multicast address", Fwd::kMasq,
       [](json& c) { c["dest"]["key"]["addr"] = json{{"af", 2}, {"ip", "224.0.0.1"}}; }, EINVAL},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.what);
    EXPECT_EQ(send_edited(add_dest("192.168.0.3", 80, c.fwd), c.edit), c.err);
    EXPECT_EQ(listing(), table_);
  }
}

// --set and --start-daemon as uvsadm would refuse them: a timeout beyond 31 days, a sync id
// beyond 255, a group that is not multicast.
TEST_F(UntrustedRequests, TimeoutsAndDaemonsUvsadmWouldRefuse) {
  Command set;
  set.kind = CommandKind::kSetTimeout;
  set.timeouts.tcp = 900;
  EXPECT_EQ(send_edited(set, [](json& c) { c["timeouts"]["tcp"] = 86400 * 31 + 1; }), EINVAL);
  EXPECT_EQ(uvsd_.adm({"-L", "--timeout"}).out.find("2678401"), std::string::npos);
  Command daemon;
  daemon.kind = CommandKind::kStartDaemon;
  daemon.daemon.state = kDaemonMaster;
  daemon.daemon.mcast_ifn = "lo";
  EXPECT_EQ(send_edited(daemon, [](json& c) { c["daemon"]["syncid"] = 256; }), EINVAL);
  EXPECT_EQ(send_edited(daemon, [](json& c) { c["daemon"]["state"] = 7; }), EINVAL);
  EXPECT_EQ(uvsd_.adm({"-L", "--daemon"}).out, "");
}

TEST_F(UntrustedRequests, UndecodableRequestsGetEinval) {
  for (const char* payload :
       {"", "not json", "{}", "[]", R"({"command":5})", R"({"command":{"kind":"add"}})",
        R"({"command":{"kind":1,"svc":{"key":{"addr":{"af":2,"ip":"nope"}}}}})",
        R"({"command":{"kind":1,"svc":{"sched_name":["rr"]}}})"}) {
    SCOPED_TRACE(payload);
    EXPECT_EQ(send_raw(payload), EINVAL);
  }
  EXPECT_EQ(send_raw(std::string(500000, '[')), EINVAL);
  EXPECT_TRUE(uvsd_.running());
  EXPECT_EQ(listing(), table_);
}

}  // namespace
}  // namespace uvs::testing
