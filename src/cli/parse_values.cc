#include "cli/parse_values.h"

#include <arpa/inet.h>
#include <netdb.h>

#include <cctype>
#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <vector>

namespace uvs::cli::parse_internal {
namespace {

// ipvsadm rejects a service/server word made only of digits (and the empty word) before trying
// to read it as an address, so `-t 80` is an error rather than the address 0.0.0.80.
bool all_digits(const std::string& text) {
  for (char c : text) {
    if (!std::isdigit(static_cast<unsigned char>(c))) return false;
  }
  return true;
}

const char* service_table(uint8_t protocol) {
  switch (protocol) {
    case IPPROTO_TCP:
      return "tcp";
    case IPPROTO_UDP:
      return "udp";
    case IPPROTO_SCTP:
      return "sctp";
    default:
      return nullptr;
  }
}

}  // namespace

std::optional<long> parse_integer(const std::string& text, long min, long max) {
  const char* begin = text.c_str();
  char* end = nullptr;
  errno = 0;
  long value = std::strtol(begin, &end, 10);
  if (end == begin || *end != '\0' || errno == ERANGE) return std::nullopt;
  if (value < min || value > max) return std::nullopt;
  return value;
}

std::optional<InetAddr> resolve_ipv4_host(const std::string& host) {
  in_addr a;
  if (inet_aton(host.c_str(), &a) != 0) return InetAddr::v4(ntohl(a.s_addr));

  hostent entry;
  hostent* result = nullptr;
  int h_err = 0;
  std::vector<char> buf(2048);
  while (gethostbyname_r(host.c_str(), &entry, buf.data(), buf.size(), &result, &h_err) == ERANGE &&
         buf.size() < (1u << 20)) {
    buf.resize(buf.size() * 2);
  }
  if (result == nullptr || result->h_addrtype != AF_INET ||
      result->h_length != static_cast<int>(sizeof(in_addr)) || result->h_addr_list[0] == nullptr) {
    return std::nullopt;
  }
  std::memcpy(&a, result->h_addr_list[0], sizeof a);
  return InetAddr::v4(ntohl(a.s_addr));
}

std::optional<uint16_t> parse_port(const std::string& text, uint8_t protocol) {
  if (auto n = parse_integer(text, 0, 65535)) return static_cast<uint16_t>(*n);
  const char* table = service_table(protocol);
  if (table == nullptr) return std::nullopt;

  servent entry;
  servent* result = nullptr;
  std::vector<char> buf(1024);
  while (getservbyname_r(text.c_str(), table, &entry, buf.data(), buf.size(), &result) == ERANGE &&
         buf.size() < (1u << 20)) {
    buf.resize(buf.size() * 2);
  }
  if (result == nullptr) return std::nullopt;
  return ntohs(static_cast<uint16_t>(result->s_port));
}

std::optional<HostPort> parse_host_port(const std::string& text, uint8_t protocol) {
  if (all_digits(text)) return std::nullopt;

  std::string host = text;
  std::optional<std::string> port_text;
  if (text[0] == '[') {
    size_t close = text.find(']', 1);
    if (close == std::string::npos) return std::nullopt;
    // `[addr]` must be followed by `:port`; a bracketed address alone is not accepted.
    if (close + 1 >= text.size() || text[close + 1] != ':') return std::nullopt;
    host = text.substr(1, close - 1);
    port_text = text.substr(close + 2);
  }

  HostPort out;
  in6_addr a6;
  if (inet_pton(AF_INET6, host.c_str(), &a6) == 1) {
    out.addr = InetAddr::v6(a6);
  } else {
    // Not IPv6: ipvsadm splits again at the last ':' of what is left, forgetting any port that
    // followed a bracket, so `[1.2.3.4]:80` means 1.2.3.4 with no port.
    port_text.reset();
    size_t colon = host.rfind(':');
    if (colon != std::string::npos) {
      port_text = host.substr(colon + 1);
      host.resize(colon);
    }
    auto v4 = resolve_ipv4_host(host);
    if (!v4) return std::nullopt;
    out.addr = *v4;
  }

  if (port_text) {
    auto port = parse_port(*port_text, protocol);
    if (!port) return std::nullopt;
    out.port = *port;
  }
  return out;
}

std::optional<uint32_t> parse_fwmark(const std::string& text) {
  const char* begin = text.c_str();
  char* end = nullptr;
  errno = 0;
  // Read as a signed long and judged as unsigned, so every negative number lands above
  // UINT_MAX and is refused with the rest.
  unsigned long value = static_cast<unsigned long>(std::strtol(begin, &end, 10));
  if (*end != '\0' || end == begin || errno == ERANGE || value == 0 || value > UINT_MAX) {
    return std::nullopt;
  }
  return static_cast<uint32_t>(value);
}

std::optional<uint32_t> parse_ipv4_netmask(const std::string& text) {
  auto addr = resolve_ipv4_host(text);
  if (!addr) return std::nullopt;
  return addr->v4_host();
}

std::optional<uint32_t> parse_ipv6_prefix(const std::string& text) {
  // glibc's atoi() is (int)strtol(): no error detection, trailing junk ignored, the value
  // truncated to int and then stored unsigned (so negatives become huge and fail the range).
  uint32_t prefix = static_cast<uint32_t>(static_cast<int>(std::strtol(text.c_str(), nullptr, 10)));
  if (prefix < 1 || prefix > 128) return std::nullopt;
  return prefix;
}

}  // namespace uvs::cli::parse_internal
