#include "model/sysctl.h"

#include "model/service.h"

#include <cstdlib>
#include <sstream>
#include <vector>

namespace uvs {

namespace {

bool parse_u32(const std::string& s, uint32_t max, uint32_t* out) {
  if (s.empty()) return false;
  char* end;
  unsigned long v = std::strtoul(s.c_str(), &end, 10);
  if (*end || v > max) return false;
  *out = static_cast<uint32_t>(v);
  return true;
}

}  // namespace

bool parse_fwmark_rule(const std::string& text, FwmarkRule* rule) {
  std::vector<std::string> parts;
  std::stringstream in(text);
  for (std::string part; std::getline(in, part, ':');) parts.push_back(part);
  // An IPv6 prefix has colons of its own: the address part is everything between the second
  // field and a trailing port field (digits and '-' only, after the '/').
  if (parts.size() < 3) return false;
  FwmarkRule r;
  uint32_t v;
  if (!parse_u32(parts[0], UINT32_MAX, &v) || v == 0) return false;
  r.mark = v;
  const std::string& proto = parts[1];
  if (proto == "tcp") r.protocol = kProtoTcp;
  else if (proto == "udp") r.protocol = kProtoUdp;
  else if (proto == "sctp") r.protocol = kProtoSctp;
  else if (proto != "any") return false;
  std::string rest = text.substr(parts[0].size() + parts[1].size() + 2);
  std::string ports;
  size_t slash = rest.find('/');
  if (slash == std::string::npos) return false;
  size_t colon = rest.find(':', slash);
  if (colon != std::string::npos) {
    ports = rest.substr(colon + 1);
    rest = rest.substr(0, colon);
  }
  auto addr = InetAddr::parse(rest.substr(0, slash));
  if (!addr || !parse_u32(rest.substr(slash + 1), addr->is_v6() ? 128 : 32, &v)) return false;
  r.prefix = *addr;
  r.prefix_len = static_cast<uint8_t>(v);
  if (!ports.empty()) {
    size_t dash = ports.find('-');
    uint32_t lo, hi;
    if (!parse_u32(ports.substr(0, dash), 65535, &lo)) return false;
    hi = lo;
    if (dash != std::string::npos && !parse_u32(ports.substr(dash + 1), 65535, &hi)) return false;
    if (hi < lo) return false;
    r.port_min = static_cast<uint16_t>(lo);
    r.port_max = static_cast<uint16_t>(hi);
  }
  *rule = r;
  return true;
}

}  // namespace uvs
