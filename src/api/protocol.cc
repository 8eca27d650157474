#include "api/protocol.h"

#include <arpa/inet.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

#include "api/codec.h"

namespace uvs::api {

std::string encode_request(const Command& cmd) {
  return nlohmann::json{{"command", cmd}}.dump();
}

namespace {

// get<T>() narrows a number by a plain cast (port 70000 becomes 4464, weight 2^31 becomes
// negative, -1 a huge flag word), casts a fraction (undefined when out of range) and reads true
// as 1. So a request is walked along the members the model has, twice: before decoding, to
// refuse any fraction; after, against the decoded Command encoded again, to refuse any value
// that did not survive. Strings are exempt from the comparison (addresses come back respelled,
// "::0:1" as "::1"; the rest are copied whole). Members the model lacks are ignored, as get<>()
// ignores them, and never walked, so the walk is no deeper than the model.
bool decoded_exactly(const nlohmann::json& sent, const nlohmann::json& model, bool compare) {
  if (sent.is_object()) {
    if (!model.is_object()) return false;
    for (const auto& [name, value] : sent.items()) {
      auto it = model.find(name);
      if (it != model.end() && !decoded_exactly(value, *it, compare)) return false;
    }
    return true;
  }
  if (sent.is_number_float()) return false;
  if (!compare) return true;
  if (sent.is_string()) return model.is_string();
  if (sent.is_number_unsigned()) {
    const uint64_t v = sent.get<uint64_t>();
    if (model.is_number_unsigned()) return model.get<uint64_t>() == v;
    return model.is_number_integer() && model.get<int64_t>() >= 0 &&
           static_cast<uint64_t>(model.get<int64_t>()) == v;
  }
  if (sent.is_number_integer())  // negative
    return model.is_number_integer() && !model.is_number_unsigned() &&
           model.get<int64_t>() == sent.get<int64_t>();
  return sent == model;
}

}  // namespace

Command decode_request(const std::string& bytes) {
  static const nlohmann::json kShape = Command{};
  const nlohmann::json sent = nlohmann::json::parse(bytes).at("command");
  if (!decoded_exactly(sent, kShape, false))
    throw std::invalid_argument("request value of the wrong type");
  Command cmd = sent.get<Command>();
  if (!decoded_exactly(sent, nlohmann::json(cmd), true))
    throw std::invalid_argument("request value out of range for its field");
  return cmd;
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

std::string encode_frame(const std::string& payload) {
  uint32_t len = htonl(static_cast<uint32_t>(payload.size()));
  std::string out(reinterpret_cast<const char*>(&len), sizeof len);
  out += payload;
  return out;
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

void FrameDecoder::feed(const char* bytes, size_t n) {
  if (start_ > 0) {
    buf_.erase(0, start_);
    start_ = 0;
  }
  buf_.append(bytes, n);
}

FrameDecoder::Status FrameDecoder::next(std::string& payload) {
  if (buffered() < 4) return Status::kNeedMore;
  uint32_t len;
  std::memcpy(&len, buf_.data() + start_, sizeof len);
  len = ntohl(len);
  if (len > max_bytes_) return Status::kTooLarge;
  if (buffered() - 4 < len) return Status::kNeedMore;
  payload.assign(buf_, start_ + 4, len);
  start_ += 4 + size_t{len};
  return Status::kFrame;
}

}  // namespace uvs::api
