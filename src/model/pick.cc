#include "model/pick.h"

#include <charconv>

namespace uvs {

std::optional<ClientTuple> parse_client_tuple(std::string_view text) {
  std::string_view host;
  std::string_view port;
  if (!text.empty() && text.front() == '[') {
    const size_t close = text.find(']');
    if (close == std::string_view::npos || text.substr(close + 1, 1) != ":") return std::nullopt;
    host = text.substr(1, close - 1);
    port = text.substr(close + 2);
  } else {
    const size_t colon = text.rfind(':');
    if (colon == std::string_view::npos) return std::nullopt;
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
  }
  std::optional<InetAddr> addr = InetAddr::parse(host);
  // An IPv6 address without brackets would make "::1:80" ambiguous; brackets only around IPv6.
  if (!addr || addr->is_v6() != (text.front() == '[')) return std::nullopt;
  if (port.empty() || port.size() > 5) return std::nullopt;
  uint32_t value = 0;
  const auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
  if (ec != std::errc() || end != port.data() + port.size() || value > 65535) return std::nullopt;
  return ClientTuple{*addr, static_cast<uint16_t>(value)};
}

}  // namespace uvs
