#include "api/protocol.h"

#include <arpa/inet.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

#include "api/codec.h"

namespace uvs::api {

std::string encode_request(const Command& cmd) {
  return nlohmann::json{{"command", cmd}}.dump();
}

Command decode_request(const std::string& bytes) {
  return nlohmann::json::parse(bytes).at("command").get<Command>();
}

std::string encode_reply(const Reply& reply) {
  nlohmann::json j{{"errno", reply.err}};
  if (reply.table) j["table"] = *reply.table;
  if (!reply.conns.empty()) j["conns"] = reply.conns;
  return j.dump();
}

Reply decode_reply(const std::string& bytes) {
  auto j = nlohmann::json::parse(bytes);
  Reply r;
  r.err = j.at("errno").get<int>();
  if (j.contains("table")) r.table = j["table"].get<TableView>();
  if (j.contains("conns")) r.conns = j["conns"].get<std::vector<ConnView>>();
  return r;
}

namespace {

bool write_all(int fd, const char* p, size_t n) {
  while (n > 0) {
    ssize_t w = ::send(fd, p, n, MSG_NOSIGNAL);
    if (w < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    p += w;
    n -= static_cast<size_t>(w);
  }
  return true;
}

// Returns bytes read (== n), 0 on EOF before anything, -1 on error or EOF mid-way.
ssize_t read_all(int fd, char* p, size_t n) {
  size_t got = 0;
  while (got < n) {
    ssize_t r = ::read(fd, p + got, n - got);
    if (r < 0) {
      if (errno == EINTR) continue;
      return -1;
    }
    if (r == 0) return got == 0 ? 0 : -1;
    got += static_cast<size_t>(r);
  }
  return static_cast<ssize_t>(got);
}

}  // namespace

bool write_frame(int fd, const std::string& payload) {
  uint32_t len = htonl(static_cast<uint32_t>(payload.size()));
  return write_all(fd, reinterpret_cast<const char*>(&len), sizeof len) &&
         write_all(fd, payload.data(), payload.size());
}

ReadStatus read_frame(int fd, size_t max_bytes, std::string& payload) {
  uint32_t len;
  ssize_t r = read_all(fd, reinterpret_cast<char*>(&len), sizeof len);
  if (r == 0) return ReadStatus::kClosed;
  if (r < 0) return ReadStatus::kError;
  len = ntohl(len);
  if (len > max_bytes) return ReadStatus::kTooLarge;
  payload.resize(len);
  if (len == 0) return ReadStatus::kOk;
  if (read_all(fd, payload.data(), len) != static_cast<ssize_t>(len)) return ReadStatus::kError;
  return ReadStatus::kOk;
}

}  // namespace uvs::api
