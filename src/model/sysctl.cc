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

bool set_sysctl(Sysctls& s, const std::string& assignment, std::string& error) {
  struct Knob {
    const char* name;
    int Sysctls::*field;
    int min, max;
  };
  // The ranges proc_do_defense_mode(), proc_do_sync_threshold() and friends accept; a plain
  // integer sysctl takes any int.
  static constexpr int kInt = 0x7fffffff;
  static const Knob kKnobs[] = {
      {"am_droprate", &Sysctls::am_droprate, -kInt, kInt},
      {"amemthresh", &Sysctls::amemthresh, -kInt, kInt},
      {"cache_bypass", &Sysctls::cache_bypass, -kInt, kInt},
      {"conn_reuse_mode", &Sysctls::conn_reuse_mode, -kInt, kInt},
      {"drop_entry", &Sysctls::drop_entry, 0, 3},
      {"drop_packet", &Sysctls::drop_packet, 0, 3},
      {"expire_nodest_conn", &Sysctls::expire_nodest_conn, -kInt, kInt},
      {"expire_quiescent_template", &Sysctls::expire_quiescent_template, -kInt, kInt},
      {"nat_icmp_send", &Sysctls::nat_icmp_send, -kInt, kInt},
      {"pmtu_disc", &Sysctls::pmtu_disc, -kInt, kInt},
      {"schedule_icmp", &Sysctls::schedule_icmp, -kInt, kInt},
      {"secure_tcp", &Sysctls::secure_tcp, 0, 3},
      {"sloppy_sctp", &Sysctls::sloppy_sctp, -kInt, kInt},
      {"sloppy_tcp", &Sysctls::sloppy_tcp, -kInt, kInt},
      {"sync_threshold", &Sysctls::sync_threshold, 0, kInt},
      {"sync_period", &Sysctls::sync_period, 0, kInt},
      {"sync_persist_mode", &Sysctls::sync_persist_mode, 0, 1},
      // uvs sends version 1 only (and reads both).
      {"sync_version", &Sysctls::sync_version, 1, 1},
      {"sync_refresh_period", &Sysctls::sync_refresh_period, 0, kInt / 1000},
      {"sync_retries", &Sysctls::sync_retries, 0, 3},
      {"sync_qlen_max", &Sysctls::sync_qlen_max, 0, kInt},
      {"sync_ports", &Sysctls::sync_ports, 1, 1 << 16},
      {"sync_sock_size", &Sysctls::sync_sock_size, 0, kInt},
      {"backup_only", &Sysctls::backup_only, 0, 1},
      {"fullnat_lport_min", &Sysctls::fullnat_lport_min, 1, 65535},
      {"fullnat_lport_max", &Sysctls::fullnat_lport_max, 1, 65535},
      {"fullnat_lport_tries", &Sysctls::fullnat_lport_tries, 1, kInt},
      {"fullnat_toa", &Sysctls::fullnat_toa, 0, 1},
      {"fullnat_timestamp_remove", &Sysctls::fullnat_timestamp_remove, 0, 1},
      {"fullnat_mss_adjust", &Sysctls::fullnat_mss_adjust, 0, 1},
      {"synproxy_init_mss", &Sysctls::synproxy_init_mss, 64, 65535},
      {"synproxy_sack", &Sysctls::synproxy_sack, 0, 1},
      {"synproxy_wscale", &Sysctls::synproxy_wscale, 0, 14},
      {"synproxy_timestamp", &Sysctls::synproxy_timestamp, 0, 1},
      {"synproxy_synack_ttl", &Sysctls::synproxy_synack_ttl, 1, 255},
      {"synproxy_syn_retry", &Sysctls::synproxy_syn_retry, 0, 6},
      {"synproxy_skb_store_thresh", &Sysctls::synproxy_skb_store_thresh, 0, 5},
      {"synproxy_dup_ack_thresh", &Sysctls::synproxy_dup_ack_thresh, 0, 100},
      {"synproxy_conn_reuse", &Sysctls::synproxy_conn_reuse, 0, 1},
      {"synproxy_conn_reuse_cl", &Sysctls::synproxy_conn_reuse_cl, 0, 1},
      {"synproxy_conn_reuse_tw", &Sysctls::synproxy_conn_reuse_tw, 0, 1},
      {"synproxy_conn_reuse_fw", &Sysctls::synproxy_conn_reuse_fw, 0, 1},
      {"synproxy_conn_reuse_cw", &Sysctls::synproxy_conn_reuse_cw, 0, 1},
      {"synproxy_conn_reuse_la", &Sysctls::synproxy_conn_reuse_la, 0, 1},
  };
  const size_t eq = assignment.find('=');
  const std::string name = assignment.substr(0, eq);
  const Knob* knob = nullptr;
  for (const Knob& k : kKnobs)
    if (name == k.name) knob = &k;
  if (eq == std::string::npos || !knob) {
    error = "unknown sysctl '" + name + "' (NAME=VALUE, NAME as in /proc/sys/net/ipv4/vs)";
    return false;
  }
  const std::string text = assignment.substr(eq + 1);
  char* end = nullptr;
  const long v = text.empty() ? 0 : std::strtol(text.c_str(), &end, 10);
  if (text.empty() || *end || v < knob->min || v > knob->max) {
    error = name + " wants " + std::to_string(knob->min) + ".." + std::to_string(knob->max);
    return false;
  }
  // sync_threshold must stay below sync_period (proc_do_sync_threshold()).
  if (name == "sync_threshold" && s.sync_period && v >= s.sync_period) {
    error = "sync_threshold must be below sync_period";
    return false;
  }
  // sync_ports must be a power of two (proc_do_sync_ports()).
  if (name == "sync_ports" && (v & (v - 1))) {
    error = "sync_ports must be a power of two";
    return false;
  }
  s.*knob->field = static_cast<int>(v);
  return true;
}

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
