#include "api/codec.h"

#include <stdexcept>

namespace uvs {

// Addresses travel as text with their family, so a dump is readable with socat.
void to_json(nlohmann::json& j, const InetAddr& a) {
  j = nlohmann::json{{"af", a.family}, {"ip", a.to_string()}};
}

void from_json(const nlohmann::json& j, InetAddr& a) {
  auto parsed = InetAddr::parse(j.at("ip").get<std::string>());
  if (!parsed) throw std::invalid_argument("bad address");
  uint16_t af = j.at("af").get<uint16_t>();
  if (af != parsed->family) throw std::invalid_argument("address family mismatch");
  a = *parsed;
}

void to_json(nlohmann::json& j, const ClientTuple& c) { j = format_endpoint(c.addr, c.port); }

void from_json(const nlohmann::json& j, ClientTuple& c) {
  auto parsed = parse_client_tuple(j.get<std::string>());
  if (!parsed) throw std::invalid_argument("bad client tuple");
  c = *parsed;
}

}  // namespace uvs
