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
