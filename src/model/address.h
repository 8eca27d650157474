// Plain IPv4/IPv6 address value type shared by every layer.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include <array>
#include <compare>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace uvs {

// An IPv4 or IPv6 address. IPv4 lives in the first 4 bytes, network order; the rest is zero,
// so a memcmp/hash over all 16 bytes plus the family is a valid identity.
struct InetAddr {
  uint16_t family = AF_INET;  // AF_INET or AF_INET6
  std::array<uint8_t, 16> bytes{};

  static InetAddr v4(uint32_t host_order) {
    InetAddr a;
    a.family = AF_INET;
    uint32_t n = htonl(host_order);
    std::memcpy(a.bytes.data(), &n, 4);
    return a;
  }
  static InetAddr v6(const in6_addr& in) {
    InetAddr a;
    a.family = AF_INET6;
    std::memcpy(a.bytes.data(), &in, 16);
    return a;
  }
  // Parses a numeric literal (dotted quad or IPv6 text); no name resolution.
  static std::optional<InetAddr> parse(std::string_view text);
  // Every address of ADDR[/LEN] (ADDR alone: itself), in order; nullopt when the text is not
  // an address or prefix or the prefix holds more than MAX addresses.
  static std::optional<std::vector<InetAddr>> expand(std::string_view text, size_t max);

  bool is_v6() const { return family == AF_INET6; }
  uint32_t v4_host() const {
    uint32_t n;
    std::memcpy(&n, bytes.data(), 4);
    return ntohl(n);
  }
  in_addr to_in_addr() const {
    in_addr a;
    std::memcpy(&a, bytes.data(), 4);
    return a;
  }
  in6_addr to_in6_addr() const {
    in6_addr a;
    std::memcpy(&a, bytes.data(), 16);
    return a;
  }
  // The i-th 32-bit word in host order (IPv4 has only word 0).
  uint32_t word(int i) const {
    uint32_t n;
    std::memcpy(&n, bytes.data() + 4 * i, 4);
    return ntohl(n);
  }
  // XOR of the 32-bit words, the kernel's ip_vs_addr_fold (host order).
  uint32_t fold() const {
    return is_v6() ? (word(0) ^ word(1) ^ word(2) ^ word(3)) : word(0);
  }
  bool is_zero() const {
    for (auto b : bytes)
      if (b) return false;
    return true;
  }
  // inet_ntop text (IPv6 compressed, no brackets).
  std::string to_string() const;

  friend bool operator==(const InetAddr&, const InetAddr&) = default;
  friend auto operator<=>(const InetAddr&, const InetAddr&) = default;
};

// "ADDR:PORT", IPv6 as "[ADDR]:PORT", numeric as inet_ntop spells it (uvsadm --pick, the JSON
// API, the operator log).
std::string format_endpoint(const InetAddr& addr, uint16_t port);

}  // namespace uvs
