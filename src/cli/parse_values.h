// Value parsers behind the ipvsadm command line (its parse_service(), parse_fwmark(),
// parse_netmask(), string_to_number()): integers with ipvsadm's strtol rules, service/server
// addresses, fwmarks, netmasks. Internal to src/cli/parse*.cc and its tests.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "model/address.h"

namespace uvs::cli::parse_internal {

// A decimal integer as ipvsadm's string_to_number() reads it: strtol() semantics (leading blanks
// and one sign allowed), the whole word consumed, no overflow, and min <= value <= max.
std::optional<long> parse_integer(const std::string& text, long min, long max);

// An IPv4 host: inet_aton() first (so the legacy forms `10.1` and `0x0a000001` work), then
// gethostbyname(), keeping the first address and rejecting names that resolve only to IPv6.
std::optional<InetAddr> resolve_ipv4_host(const std::string& host);

// A port: decimal 0..65535, else a service name from getservbyname() in the table of `protocol`
// (TCP, UDP or SCTP). Protocol 0 means "not known yet": only numbers are accepted.
std::optional<uint16_t> parse_port(const std::string& text, uint8_t protocol);

struct HostPort {
  InetAddr addr;
  std::optional<uint16_t> port;  // set only when the text carried a port
};

// `host[:port]`, `[ipv6]:port` or a bare IPv6 literal, as ipvsadm's parse_service() reads them.
std::optional<HostPort> parse_host_port(const std::string& text, uint8_t protocol);

// `-f MARK`: decimal 1..4294967295.
std::optional<uint32_t> parse_fwmark(const std::string& text);

// `-M` for a service that is not IPv6: dotted quad (inet_aton) or host name. Host order.
std::optional<uint32_t> parse_ipv4_netmask(const std::string& text);

// `-M` for an IPv6 service: atoi() of the text, accepted when 1..128.
std::optional<uint32_t> parse_ipv6_prefix(const std::string& text);

}  // namespace uvs::cli::parse_internal
