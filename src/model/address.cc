#include "model/address.h"

#include <arpa/inet.h>

namespace uvs {

std::optional<InetAddr> InetAddr::parse(std::string_view text) {
  std::string s(text);
  in_addr a4;
  if (inet_pton(AF_INET, s.c_str(), &a4) == 1) return v4(ntohl(a4.s_addr));
  in6_addr a6;
  if (inet_pton(AF_INET6, s.c_str(), &a6) == 1) return v6(a6);
  return std::nullopt;
}

std::optional<std::vector<InetAddr>> InetAddr::expand(std::string_view text, size_t max) {
  const size_t slash = text.find('/');
  auto first = parse(text.substr(0, slash));
  if (!first) return std::nullopt;
  const unsigned bits = first->is_v6() ? 128 : 32;
  unsigned len = bits;
  if (slash != std::string_view::npos) {
    const std::string_view digits = text.substr(slash + 1);
    if (digits.empty() || digits.size() > 3) return std::nullopt;
    len = 0;
    for (char c : digits) {
      if (c < '0' || c > '9') return std::nullopt;
      len = len * 10 + static_cast<unsigned>(c - '0');
    }
    if (len > bits) return std::nullopt;
  }
  const unsigned host_bits = bits - len;
  if (host_bits >= 63 || (uint64_t{1} << host_bits) > max) return std::nullopt;
  // Host bits fit in the last 8 bytes (IPv4: all 4): clear them, then count up through them.
  InetAddr base = *first;
  const size_t size = first->is_v6() ? 16 : 4;
  const size_t low_bytes = size < 8 ? size : 8;
  uint64_t low = 0;
  for (size_t i = size - low_bytes; i < size; ++i) low = low << 8 | base.bytes[i];
  const uint64_t mask = host_bits == 0 ? 0 : (uint64_t{1} << host_bits) - 1;
  low &= ~mask;
  std::vector<InetAddr> out;
  out.reserve(size_t{1} << host_bits);
  for (uint64_t h = 0; h <= mask; ++h) {
    uint64_t v = low | h;
    for (size_t i = 0; i < low_bytes; ++i) base.bytes[size - 1 - i] = static_cast<uint8_t>(v >> (8 * i));
    out.push_back(base);
  }
  return out;
}

std::string format_endpoint(const InetAddr& addr, uint16_t port) {
  const std::string host = addr.to_string();
  return (addr.is_v6() ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

std::string InetAddr::to_string() const {
  char buf[INET6_ADDRSTRLEN];
  if (is_v6()) {
    in6_addr a = to_in6_addr();
    inet_ntop(AF_INET6, &a, buf, sizeof buf);
  } else {
    in_addr a = to_in_addr();
    inet_ntop(AF_INET, &a, buf, sizeof buf);
  }
  return buf;
}

}  // namespace uvs
