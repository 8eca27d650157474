#include "api/genl_relay.h"

#include <exception>
#include <limits>

#include <nlohmann/json.hpp>

#include "api/frame.h"

namespace uvs::api {

// Datagrams travel as hex: JSON has no bytes, and a netlink datagram is at most a few pages.
std::string to_hex(const std::vector<uint8_t>& bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (uint8_t b : bytes) {
    out += kDigits[b >> 4];
    out += kDigits[b & 0xf];
  }
  return out;
}

namespace {

int nibble(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

}  // namespace

std::optional<std::vector<uint8_t>> from_hex(const std::string& hex) {
  if (hex.size() % 2 != 0) return std::nullopt;
  std::vector<uint8_t> out(hex.size() / 2);
  for (size_t i = 0; i < out.size(); ++i) {
    const int hi = nibble(hex[2 * i]), lo = nibble(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out[i] = static_cast<uint8_t>(hi << 4 | lo);
  }
  return out;
}

namespace {

template <typename T>
std::optional<T> unsigned_member(const nlohmann::json& j, const char* name) {
  auto it = j.find(name);
  if (it == j.end() || !it->is_number_unsigned()) return std::nullopt;
  const uint64_t v = it->get<uint64_t>();
  if (v > std::numeric_limits<T>::max()) return std::nullopt;
  return static_cast<T>(v);
}

// The frame a reply may take: a dump of a large table is many datagrams.
constexpr size_t kMaxRelayReplyBytes = size_t{1} << 30;

}  // namespace

std::string encode_genl_request(const GenlRelayRequest& request) {
  return nlohmann::json{{"genl",
                         {{"family_id", request.family_id},
                          {"portid", request.portid},
                          {"cap_ack", request.cap_ack},
                          {"datagram", to_hex(request.datagram)}}}}
      .dump();
}

bool is_genl_request(const nlohmann::json& request) {
  return request.is_object() && request.contains("genl");
}

std::optional<GenlRelayRequest> decode_genl_request(const nlohmann::json& request) {
  if (!is_genl_request(request) || request.size() != 1) return std::nullopt;
  const nlohmann::json& g = request["genl"];
  if (!g.is_object()) return std::nullopt;
  GenlRelayRequest r;
  auto family_id = unsigned_member<uint16_t>(g, "family_id");
  auto portid = unsigned_member<uint32_t>(g, "portid");
  auto cap_ack = g.find("cap_ack");
  auto datagram = g.find("datagram");
  if (!family_id || !portid || cap_ack == g.end() || !cap_ack->is_boolean() ||
      datagram == g.end() || !datagram->is_string())
    return std::nullopt;
  auto bytes = from_hex(datagram->get_ref<const std::string&>());
  if (!bytes) return std::nullopt;
  r.family_id = *family_id;
  r.portid = *portid;
  r.cap_ack = cap_ack->get<bool>();
  r.datagram = std::move(*bytes);
  return r;
}

std::string encode_genl_reply(const GenlRelayReply& reply) {
  nlohmann::json datagrams = nlohmann::json::array();
  for (const auto& d : reply.datagrams) datagrams.push_back(to_hex(d));
  return nlohmann::json{{"errno", reply.err}, {"genl", std::move(datagrams)}}.dump();
}

std::optional<GenlRelayReply> decode_genl_reply(const std::string& bytes) {
  const nlohmann::json j = nlohmann::json::parse(bytes, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object()) return std::nullopt;
  auto err = j.find("errno");
  if (err == j.end() || !err->is_number_integer()) return std::nullopt;
  GenlRelayReply reply;
  reply.err = err->get<int>();
  auto datagrams = j.find("genl");
  if (datagrams == j.end()) return reply;  // an error reply from the command path
  if (!datagrams->is_array()) return std::nullopt;
  for (const auto& d : *datagrams) {
    if (!d.is_string()) return std::nullopt;
    auto bytes = from_hex(d.get_ref<const std::string&>());
    if (!bytes) return std::nullopt;
    reply.datagrams.push_back(std::move(*bytes));
  }
  return reply;
}

std::optional<GenlRelayReply> genl_round_trip(int fd, const GenlRelayRequest& request) {
  try {
    if (!write_frame(fd, encode_genl_request(request))) return std::nullopt;
    std::string payload;
    if (read_frame(fd, kMaxRelayReplyBytes, payload) != ReadStatus::kOk) return std::nullopt;
    return decode_genl_reply(payload);
  } catch (const std::exception&) {  // allocation failure: the caller answers as if uvsd were down
    return std::nullopt;
  }
}

}  // namespace uvs::api
