#include "api/protocol.h"

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
  return decode_request(nlohmann::json::parse(bytes));
}

Command decode_request(const nlohmann::json& request) {
  static const nlohmann::json kShape = Command{};
  const nlohmann::json& sent = request.at("command");
  if (!decoded_exactly(sent, kShape, false))
    throw std::invalid_argument("request value of the wrong type");
  Command cmd = sent.get<Command>();
  if (!decoded_exactly(sent, nlohmann::json(cmd), true))
    throw std::invalid_argument("request value out of range for its field");
  return cmd;
}

std::string encode_pick_request(const Command& cmd, std::span<const std::string_view> clients) {
  nlohmann::json list = nlohmann::json::array();
  for (std::string_view c : clients) list.push_back(c);
  return nlohmann::json{{"command", cmd}, {"clients", std::move(list)}}.dump();
}

bool is_pick_request(const nlohmann::json& request) {
  return request.is_object() && request.contains("clients");
}

std::vector<ClientTuple> decode_pick_clients(const nlohmann::json& request) {
  return request.at("clients").get<std::vector<ClientTuple>>();
}

std::string encode_reply(const Reply& reply) {
  nlohmann::json j{{"errno", reply.err}};
  if (reply.table) j["table"] = *reply.table;
  if (!reply.conns.empty()) j["conns"] = reply.conns;
  if (reply.pick) j["pick"] = *reply.pick;
  return j.dump();
}

Reply decode_reply(const std::string& bytes) {
  auto j = nlohmann::json::parse(bytes);
  Reply r;
  r.err = j.at("errno").get<int>();
  if (j.contains("table")) r.table = j["table"].get<TableView>();
  if (j.contains("conns")) r.conns = j["conns"].get<std::vector<ConnView>>();
  if (j.contains("pick")) r.pick = j["pick"].get<PickView>();
  return r;
}

}  // namespace uvs::api
