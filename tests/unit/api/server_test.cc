// The control socket's server with real sockets and a short deadline: many clients at once,
// clients that drip or stall, and the socket file it may and may not replace or remove.
#include "api/server.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <span>
#include <string_view>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "api/client.h"
#include "api/genl_relay.h"

namespace uvs::api {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/uvs-srv-XXXXXX";
    path_ = mkdtemp(tmpl);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  std::string operator/(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

// A Server on its own thread, answering every request with errno 0.
class Running {
 public:
  Running(const std::string& path, ServerOptions options,
          Server::GenlHandler genl = nullptr)
      : server_(path, [](const Command&) { return Reply{}; }, options) {
    if (genl) server_.set_genl_handler(std::move(genl));
    std::string error;
    ok_ = server_.listen(error);
    EXPECT_TRUE(ok_) << error;
    if (ok_) thread_ = std::thread([this] { server_.serve(); });
  }
  ~Running() {
    server_.stop();
    if (thread_.joinable()) thread_.join();
  }
  Server& server() { return server_; }

 private:
  Server server_;
  std::thread thread_;
  bool ok_ = false;
};

int connect_to(const std::string& path) {
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un sa{};
  sa.sun_family = AF_UNIX;
  std::snprintf(sa.sun_path, sizeof sa.sun_path, "%s", path.c_str());
  if (connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) < 0) {
    close(fd);
    return -1;
  }
  timeval tv{5, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  return fd;
}

std::string list_request() {
  Command c;
  c.kind = CommandKind::kList;
  return encode_frame(encode_request(c));
}

// True once the server has closed `fd` (EOF or reset), waiting at most `limit`.
bool closed_within(int fd, std::chrono::milliseconds limit) {
  timeval tv{0, static_cast<suseconds_t>(limit.count() * 1000)};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  char c;
  ssize_t n = recv(fd, &c, 1, 0);
  return n == 0 || (n < 0 && errno == ECONNRESET);
}

TEST(Server, AThousandClientsAtOnceAreAllAnswered) {
  TempDir dir;
  Running r(dir / "s.sock", ServerOptions{std::chrono::milliseconds(5000), 4, 0});
  constexpr int kClients = 1000;
  std::vector<int> fds;
  for (int i = 0; i < kClients; ++i) {
    int fd = connect_to(dir / "s.sock");
    ASSERT_GE(fd, 0) << "client " << i << ": " << std::strerror(errno);
    fds.push_back(fd);
  }
  const std::string req = list_request();
  for (int fd : fds) ASSERT_EQ(send(fd, req.data(), req.size(), MSG_NOSIGNAL), ssize_t(req.size()));
  int answered = 0;
  for (int fd : fds) {
    std::string payload;
    if (read_frame(fd, kMaxReplyBytes, payload) == ReadStatus::kOk &&
        decode_reply(payload).err == 0)
      ++answered;
    close(fd);
  }
  EXPECT_EQ(answered, kClients);
}

TEST(Server, ADrippingClientIsClosedAtTheDeadlineNotKeptAliveByEachByte) {
  TempDir dir;
  Running r(dir / "s.sock", ServerOptions{std::chrono::milliseconds(300), 2, 0});
  int fd = connect_to(dir / "s.sock");
  ASSERT_GE(fd, 0);
  const std::string req = list_request();
  const auto start = Clock::now();
  bool closed = false;
  // One byte every 50 ms never completes the frame before 300 ms.
  for (size_t i = 0; i < req.size() && !closed; ++i) {
    if (send(fd, &req[i], 1, MSG_NOSIGNAL) != 1) closed = true;
    std::this_thread::sleep_for(50ms);
    if (Clock::now() - start > 2s) break;
  }
  if (!closed) closed = closed_within(fd, 1000ms);
  const auto took = Clock::now() - start;
  EXPECT_TRUE(closed);
  EXPECT_GE(took, 250ms);
  EXPECT_LT(took, 1500ms);
  EXPECT_GE(r.server().deadline_closes(), 1u);
  close(fd);
}

TEST(Server, StuckAndDrippingClientsDoNotDelayOthers) {
  TempDir dir;
  Running r(dir / "s.sock", ServerOptions{std::chrono::milliseconds(2000), 2, 0});
  std::vector<int> stuck;
  for (int i = 0; i < 200; ++i) {
    int fd = connect_to(dir / "s.sock");
    ASSERT_GE(fd, 0);
    // Half send nothing, half send half a length prefix and stop.
    if (i % 2) {
      ASSERT_EQ(send(fd, "\0\0", 2, MSG_NOSIGNAL), 2);
    }
    stuck.push_back(fd);
  }
  Client client(dir / "s.sock");
  Command c;
  c.kind = CommandKind::kList;
  const auto start = Clock::now();
  auto reply = client.call(c);
  const auto took = Clock::now() - start;
  ASSERT_TRUE(reply);
  EXPECT_LT(took, 500ms);
  std::printf("one request amid 200 stuck clients: %.2f ms\n",
              std::chrono::duration<double, std::milli>(took).count());
  for (int fd : stuck) close(fd);
}

TEST(Server, AClientReconnectsWhenItsIdleConnectionWasClosed) {
  TempDir dir;
  Running r(dir / "s.sock", ServerOptions{std::chrono::milliseconds(200), 1, 0});
  Client client(dir / "s.sock");
  Command c;
  c.kind = CommandKind::kList;
  ASSERT_TRUE(client.call(c));
  std::this_thread::sleep_for(500ms);  // past the deadline: uvsd hung up the idle connection
  EXPECT_TRUE(client.call(c));
}

TEST(Server, RefusesToReplaceAFileThatIsNotASocket) {
  TempDir dir;
  const std::string rules = dir / "rules";
  std::ofstream(rules) << "-A -t 10.0.0.1:80 -s rr\n";
  Server s(rules, [](const Command&) { return Reply{}; });
  std::string error;
  EXPECT_FALSE(s.listen(error));
  EXPECT_NE(error.find("is not a socket"), std::string::npos) << error;
  std::ifstream in(rules);
  std::string line;
  std::getline(in, line);
  EXPECT_EQ(line, "-A -t 10.0.0.1:80 -s rr");
}

TEST(Server, ReplacesAStaleSocketAndRemovesOnlyItsOwn) {
  TempDir dir;
  const std::string path = dir / "s.sock";
  {  // a stale socket: bound, then its owner died
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un sa{};
    sa.sun_family = AF_UNIX;
    std::snprintf(sa.sun_path, sizeof sa.sun_path, "%s", path.c_str());
    ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa), 0);
    close(fd);
  }
  {
    Server s(path, [](const Command&) { return Reply{}; });
    std::string error;
    ASSERT_TRUE(s.listen(error)) << error;
    // Someone replaces the socket with a file while uvsd runs: uvsd must not delete it.
    ASSERT_EQ(unlink(path.c_str()), 0);
    std::ofstream(path) << "precious\n";
  }
  struct stat st;
  ASSERT_EQ(stat(path.c_str(), &st), 0);
  EXPECT_TRUE(S_ISREG(st.st_mode));
  {
    Server s(dir / "t.sock", [](const Command&) { return Reply{}; });
    std::string error;
    ASSERT_TRUE(s.listen(error)) << error;
  }
  EXPECT_NE(stat((dir / "t.sock").c_str(), &st), 0);  // its own socket is removed
}

// libuvs-ipvs's relay shares the socket with uvsadm's commands: a "genl" request goes to the
// generic-netlink handler with its bytes intact, a malformed one gets EINVAL, and a server
// without a handler refuses relays without closing on the client.
TEST(Server, RelaysGenericNetlinkDatagramsToItsHandler) {
  TempDir dir;
  GenlRelayRequest seen;
  Running r(dir / "s.sock", ServerOptions{std::chrono::milliseconds(2000), 2, 0},
            [&seen](const GenlRelayRequest& req) {
              seen = req;
              return GenlRelayReply{0, {{1, 2, 3}, {}, {0xff}}};
            });
  int fd = connect_to(dir / "s.sock");
  ASSERT_GE(fd, 0);
  const GenlRelayRequest req{0x3fe, 0x80001234, true, {0x14, 0, 0, 0, 0x10, 0}};
  std::optional<GenlRelayReply> reply = genl_round_trip(fd, req);
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->err, 0);
  EXPECT_EQ(reply->datagrams, (std::vector<std::vector<uint8_t>>{{1, 2, 3}, {}, {0xff}}));
  EXPECT_EQ(seen.family_id, 0x3fe);
  EXPECT_EQ(seen.portid, 0x80001234u);
  EXPECT_TRUE(seen.cap_ack);
  EXPECT_EQ(seen.datagram, req.datagram);

  // Same connection: the odd-length hex is refused, the connection stays usable.
  ASSERT_TRUE(write_frame(
      fd, R"({"genl":{"family_id":1,"portid":2,"cap_ack":false,"datagram":"abc"}})"));
  std::string payload;
  ASSERT_EQ(read_frame(fd, kMaxReplyBytes, payload), ReadStatus::kOk);
  ASSERT_TRUE(decode_genl_reply(payload));
  EXPECT_EQ(decode_genl_reply(payload)->err, EINVAL);
  ASSERT_TRUE(genl_round_trip(fd, req));
  close(fd);
}

TEST(Server, WithoutAGenlHandlerARelayIsRefused) {
  TempDir dir;
  Running r(dir / "s.sock", ServerOptions{std::chrono::milliseconds(2000), 2, 0});
  int fd = connect_to(dir / "s.sock");
  ASSERT_GE(fd, 0);
  std::optional<GenlRelayReply> reply = genl_round_trip(fd, GenlRelayRequest{});
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->err, EINVAL);
  EXPECT_TRUE(reply->datagrams.empty());
  close(fd);
}

// uvsadm --pick's batches go to the pick handler with their clients read back; a malformed
// client gets EINVAL and the connection stays usable; without a handler a pick is refused.
TEST(Server, PassesPickBatchesToItsHandler) {
  TempDir dir;
  Server server(dir / "s.sock", [](const Command&) { return Reply{}; });
  std::vector<ClientTuple> seen;
  server.set_pick_handler([&seen](const Command& cmd, std::span<const ClientTuple> clients) {
    seen.assign(clients.begin(), clients.end());
    Reply r;
    r.pick = PickView{"mh", {DestKey{*InetAddr::parse("10.0.0.1"), 80}}, {}};
    r.pick->picks.assign(clients.size(), cmd.svc.key.port == 80 ? 0 : -1);
    return r;
  });
  std::string error;
  ASSERT_TRUE(server.listen(error)) << error;
  std::thread serving([&server] { server.serve(); });
  Client client(dir / "s.sock");
  Command cmd;
  cmd.kind = CommandKind::kPick;
  cmd.options = opt(kOptService);
  cmd.svc.key.port = 80;
  const std::vector<std::string_view> texts = {"198.51.100.1:1", "198.51.100.2:2"};
  std::optional<Reply> reply = client.pick(cmd, texts);
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->err, 0);
  ASSERT_TRUE(reply->pick);
  EXPECT_EQ(reply->pick->picks, (std::vector<int32_t>{0, 0}));
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[1], (ClientTuple{*InetAddr::parse("198.51.100.2"), 2}));

  const std::vector<std::string_view> bad = {"198.51.100.1:1", "198.51.100.2"};
  seen.clear();
  reply = client.pick(cmd, bad);
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->err, EINVAL);
  EXPECT_TRUE(seen.empty());
  reply = client.pick(cmd, texts);  // same connection
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->err, 0);
  server.stop();
  serving.join();

  Running without(dir / "t.sock", ServerOptions{std::chrono::milliseconds(2000), 2, 0});
  Client other(dir / "t.sock");
  reply = other.pick(cmd, texts);
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->err, EINVAL);
}

// The largest batch uvsadm sends, of the longest clients there are, fits in one request.
TEST(Server, AFullPickBatchFitsInARequest) {
  const std::string longest = "[0000:0000:0000:0000:0000:ffff:255.255.255.255]:65535";
  ASSERT_TRUE(parse_client_tuple(longest));
  const std::vector<std::string_view> batch(kPickBatch, longest);
  Command cmd;
  cmd.kind = CommandKind::kPick;
  cmd.svc.key.af = AF_INET6;
  cmd.svc.key.addr = *InetAddr::parse("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff");
  EXPECT_LT(encode_pick_request(cmd, batch).size(), kMaxRequestBytes / 2);
}

TEST(GenlRelay, RequestsSurviveTheWireAndBadOnesAreRefused) {
  const GenlRelayRequest req{0x1f, 4242, false, {0, 1, 0x7f, 0x80, 0xfe, 0xff}};
  const nlohmann::json j = nlohmann::json::parse(encode_genl_request(req));
  ASSERT_TRUE(is_genl_request(j));
  std::optional<GenlRelayRequest> back = decode_genl_request(j);
  ASSERT_TRUE(back);
  EXPECT_EQ(back->family_id, req.family_id);
  EXPECT_EQ(back->portid, req.portid);
  EXPECT_EQ(back->cap_ack, req.cap_ack);
  EXPECT_EQ(back->datagram, req.datagram);

  for (const char* bad : {
           R"({"genl":{"family_id":65536,"portid":1,"cap_ack":false,"datagram":""}})",
           R"({"genl":{"family_id":1,"portid":-1,"cap_ack":false,"datagram":""}})",
           R"({"genl":{"family_id":1,"portid":4294967296,"cap_ack":false,"datagram":""}})",
           R"({"genl":{"family_id":1,"portid":1,"cap_ack":1,"datagram":""}})",
           R"({"genl":{"family_id":1,"portid":1,"cap_ack":false,"datagram":"0g"}})",
           R"({"genl":{"family_id":1,"portid":1,"cap_ack":false,"datagram":"AB"}})",
           R"({"genl":{"family_id":1.5,"portid":1,"cap_ack":false,"datagram":""}})",
           R"({"genl":{"portid":1,"cap_ack":false,"datagram":""}})",
           R"({"genl":[],"command":{}})",
           R"({"genl":"x"})",
       })
    EXPECT_FALSE(decode_genl_request(nlohmann::json::parse(bad))) << bad;
}

TEST(GenlRelay, RepliesSurviveTheWireAndGarbageIsNotAReply) {
  const GenlRelayReply reply{0, {{0xde, 0xad}, {}, std::vector<uint8_t>(5000, 0xab)}};
  std::optional<GenlRelayReply> back = decode_genl_reply(encode_genl_reply(reply));
  ASSERT_TRUE(back);
  EXPECT_EQ(back->err, 0);
  EXPECT_EQ(back->datagrams, reply.datagrams);
  // A command-path error reply ({"errno": N} alone) is an error relay reply.
  ASSERT_TRUE(decode_genl_reply(R"({"errno":22})"));
  EXPECT_EQ(decode_genl_reply(R"({"errno":22})")->err, EINVAL);
  for (const char* bad : {"", "[]", "{", R"({"genl":[]})", R"({"errno":0,"genl":[1]})",
                          R"({"errno":0,"genl":"00"})", R"({"errno":0,"genl":["0"]})"})
    EXPECT_FALSE(decode_genl_reply(bad)) << bad;
}

TEST(FrameDecoder, WholeFramesOutOfAnyCut) {
  const std::string stream = encode_frame("hello") + encode_frame("") + encode_frame("world!");
  for (size_t cut = 1; cut <= stream.size(); ++cut) {
    FrameDecoder dec(100);
    std::vector<std::string> got;
    std::string p;
    for (size_t off = 0; off < stream.size(); off += cut) {
      dec.feed(stream.data() + off, std::min(cut, stream.size() - off));
      while (dec.next(p) == FrameDecoder::Status::kFrame) got.push_back(p);
    }
    EXPECT_EQ(got, (std::vector<std::string>{"hello", "", "world!"})) << cut;
    EXPECT_EQ(dec.buffered(), 0u);
  }
  FrameDecoder dec(4);
  dec.feed("\0\0\0\5", 4);
  std::string p;
  EXPECT_EQ(dec.next(p), FrameDecoder::Status::kTooLarge);
}

}  // namespace
}  // namespace uvs::api
