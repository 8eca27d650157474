// ipvsadm 1.31's listing, save, connection and daemon output (its list_all(),
// print_service_entry(), list_conn(), list_daemon()), plus the FULLNAT/SYNPROXY additions of
// Alibaba LVS's ipvsadm.
//
// Everything is built with printf-style formatting on purpose: ipvsadm pads with printf, which
// counts bytes, and uvsadm must match it byte for byte (host names may hold any bytes).

#include "cli/format.h"

#include <arpa/inet.h>
#include <netdb.h>

#include <algorithm>
#include <cstdarg>
#include <cstdio>
#include <numeric>

namespace uvs::cli {
namespace {

// ipvsadm builds every "addr:port" in a 60-byte buffer with snprintf.
constexpr size_t kAddrPortMax = 59;
// The service column is cut to 33 bytes and the dest column to 28 bytes, for IPv4 only.
constexpr size_t kSvcNameMax = 33;
constexpr size_t kDestNameMax = 28;

void appendf(std::string& out, const char* fmt, ...) __attribute__((format(printf, 2, 3)));

void appendf(std::string& out, const char* fmt, ...) {
  char stack_buf[512];
  va_list ap;
  va_start(ap, fmt);
  int n = std::vsnprintf(stack_buf, sizeof stack_buf, fmt, ap);
  va_end(ap);
  if (n < 0) return;
  if (static_cast<size_t>(n) < sizeof stack_buf) {
    out.append(stack_buf, static_cast<size_t>(n));
    return;
  }
  std::string big(static_cast<size_t>(n) + 1, '\0');
  va_start(ap, fmt);
  std::vsnprintf(big.data(), big.size(), fmt, ap);
  va_end(ap);
  big.resize(static_cast<size_t>(n));
  out += big;
}

// Which listing layout applies; several flags may be set and the first one in this order wins
// for both the title and the rows, as in ipvsadm's print_title() and print_service_entry().
enum class Mode { kStats, kRate, kThresholds, kPersistentConn, kTunInfo, kDefault };

Mode mode_of(const ListFormat& fmt) {
  if (fmt.stats) return Mode::kStats;
  if (fmt.rate) return Mode::kRate;
  if (fmt.thresholds) return Mode::kThresholds;
  if (fmt.persistent_conn) return Mode::kPersistentConn;
  if (fmt.tun_info) return Mode::kTunInfo;
  return Mode::kDefault;
}

// Port names exist only for these protocols; ipvsadm prints any other port as a number.
bool has_port_names(uint8_t protocol) {
  return protocol == kProtoTcp || protocol == kProtoUdp || protocol == kProtoSctp;
}

// The address as `family` says it is: the connection listing decides the family from the
// row, not from the address value.
InetAddr as_family(const InetAddr& addr, uint16_t family) {
  InetAddr a = addr;
  a.family = family;
  return a;
}

// ipvsadm's addrport_to_anyname: IPv6 bracketed, host and port names unless numeric, cut to
// the 60-byte buffer.
std::string addrport(const InetAddr& addr, uint16_t port, uint8_t protocol, bool numeric,
                     const NameResolver& names) {
  std::string host;
  std::string serv;
  if (!numeric) {
    host = names.host(addr);
    if (has_port_names(protocol)) serv = names.service(port, protocol);
  }
  if (host.empty()) host = addr.to_string();
  if (serv.empty()) serv = std::to_string(port);
  std::string s;
  if (addr.family != AF_INET) {
    s = "[" + host + "]:" + serv;
  } else {
    s = host + ":" + serv;
  }
  if (s.size() > kAddrPortMax) s.resize(kAddrPortMax);
  return s;
}

const char* protocol_name(uint8_t protocol) {
  switch (protocol) {
    case kProtoTcp:
      return "TCP";
    case kProtoUdp:
      return "UDP";
    case kProtoSctp:
      return "SCTP";
    default:
      return "(null)";
  }
}

const char* protocol_option(uint8_t protocol) {
  switch (protocol) {
    case kProtoTcp:
      return "-t";
    case kProtoUdp:
      return "-u";
    case kProtoSctp:
      return "--sctp-service";
    default:
      return "--xxx-service";
  }
}

// ipvsadm hands a NULL string to printf for methods it has no name for; glibc prints "(null)".
const char* fwd_name(Fwd fwd) {
  const char* label = fwd == Fwd::kBypass ? nullptr : fwd_label(fwd);
  return label ? label : "(null)";
}

const char* fwd_switch(Fwd fwd) {
  switch (fwd) {
    case Fwd::kMasq:
      return "-m";
    case Fwd::kTunnel:
      return "-i";
    case Fwd::kLocal:
    case Fwd::kRoute:
      return "-g";
    case Fwd::kFullNat:
      return "-b";
    default:
      return "(null)";
  }
}

const char* tun_type_name(TunType t) {
  switch (t) {
    case TunType::kIpip:
      return "ipip";
    case TunType::kGue:
      return "gue";
    case TunType::kGre:
      return "gre";
  }
  return "";
}

const char* tun_csum_short(TunCsum c) {
  switch (c) {
    case TunCsum::kNoCsum:
      return "-c";
    case TunCsum::kCsum:
      return "+c";
    case TunCsum::kRemCsum:
      return "r+c";
  }
  return "";
}

const char* tun_csum_option(TunCsum c) {
  switch (c) {
    case TunCsum::kNoCsum:
      return "--tun-nocsum";
    case TunCsum::kCsum:
      return "--tun-csum";
    case TunCsum::kRemCsum:
      return "--tun-remcsum";
  }
  return "";
}

// --tun-info column: only tunnel dests have one; everything else shows "n/a".
std::string tun_info(const DestConfig& d) {
  if (d.fwd != Fwd::kTunnel) return "n/a";
  std::string s;
  switch (d.tun_type) {
    case TunType::kIpip:
      s = tun_type_name(d.tun_type);
      break;
    case TunType::kGue:
      appendf(s, "%s:%d:%s", tun_type_name(d.tun_type), d.tun_port, tun_csum_short(d.tun_flags));
      break;
    case TunType::kGre:
      appendf(s, "%s:%s", tun_type_name(d.tun_type), tun_csum_short(d.tun_flags));
      break;
    default:
      return "n/a";
  }
  // ipvsadm formats this into a 16-byte buffer.
  if (s.size() > 15) s.resize(15);
  return s;
}

// The sched-flag words, comma separated, in ipvsadm's fixed order.
std::string sched_flags(const ServiceConfig& cfg) {
  const char* words[3] = {"flag-1", "flag-2", "flag-3"};
  int count = 3;
  if (cfg.sched_name == "sh") {
    words[0] = "sh-fallback";
    words[1] = "sh-port";
    count = 2;
  } else if (cfg.sched_name == "mh") {
    words[0] = "mh-fallback";
    words[1] = "mh-port";
    count = 2;
  }
  const uint32_t bits[3] = {kSvcSched1, kSvcSched2, kSvcSched3};
  std::string s;
  for (int i = 0; i < count; ++i) {
    if (!(cfg.flags & bits[i])) continue;
    if (!s.empty()) s += ',';
    s += words[i];
  }
  return s;
}

std::string netmask_text(uint32_t host_order) {
  in_addr a;
  a.s_addr = htonl(host_order);
  char buf[INET_ADDRSTRLEN];
  inet_ntop(AF_INET, &a, buf, sizeof buf);
  return buf;
}

// The kernel reports no protocol for fwmark services, so their dest ports never get names.
uint8_t reported_protocol(const ServiceKey& key) { return key.is_fwmark() ? 0 : key.protocol; }

// The service column of -L ("TCP  addr:port", "FWM  n") or of -S ("-t addr:port", "-f n").
std::string service_name(const ServiceKey& key, bool rule, bool numeric,
                         const NameResolver& names) {
  std::string s;
  if (key.is_fwmark()) {
    if (rule) {
      appendf(s, "-f %u%s", key.fwmark, key.af == AF_INET6 ? " -6" : "");
    } else {
      appendf(s, "FWM  %u%s", key.fwmark, key.af == AF_INET6 ? " IPv6" : "");
    }
    return s;
  }
  std::string vname = addrport(as_family(key.addr, key.af), key.port, key.protocol, numeric, names);
  if (rule) {
    appendf(s, "%s %s", protocol_option(key.protocol), vname.c_str());
  } else {
    appendf(s, "%-4s %s", protocol_name(key.protocol), vname.c_str());
    if (key.af != AF_INET6 && s.size() > kSvcNameMax) s.resize(kSvcNameMax);
  }
  return s;
}

void append_largenum(std::string& out, uint64_t n, bool exact) { out += largenum(n, exact); }

void append_title(std::string& out, Mode mode) {
  switch (mode) {
    case Mode::kStats:
      appendf(out, "%-33s %8s %8s %8s %8s %8s\n  -> RemoteAddress:Port\n", "Prot LocalAddress:Port",
              "Conns", "InPkts", "OutPkts", "InBytes", "OutBytes");
      break;
    case Mode::kRate:
      appendf(out, "%-33s %8s %8s %8s %8s %8s\n  -> RemoteAddress:Port\n", "Prot LocalAddress:Port",
              "CPS", "InPPS", "OutPPS", "InBPS", "OutBPS");
      break;
    case Mode::kThresholds:
      appendf(out, "%-33s %-10s %-10s %-10s %-10s\n  -> RemoteAddress:Port\n",
              "Prot LocalAddress:Port", "Uthreshold", "Lthreshold", "ActiveConn", "InActConn");
      break;
    case Mode::kPersistentConn:
      appendf(out, "%-33s %-9s %-11s %-10s %-10s\n  -> RemoteAddress:Port\n",
              "Prot LocalAddress:Port", "Weight", "PersistConn", "ActiveConn", "InActConn");
      break;
    case Mode::kTunInfo:
      out +=
          "Prot LocalAddress:Port Scheduler Flags\n"
          "  -> RemoteAddress:Port           Forward TunnelInfo    Weight ActiveConn InActConn\n";
      break;
    case Mode::kDefault:
      out +=
          "Prot LocalAddress:Port Scheduler Flags\n"
          "  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn\n";
      break;
  }
}

void append_stats(std::string& out, const StatsView& s, bool exact) {
  append_largenum(out, s.conns, exact);
  append_largenum(out, s.inpkts, exact);
  append_largenum(out, s.outpkts, exact);
  append_largenum(out, s.inbytes, exact);
  append_largenum(out, s.outbytes, exact);
}

// One service and its dests (already in the order to print) in a -L layout.
void append_service_entry(std::string& out, const ServiceView& svc, const ListFormat& fmt,
                          Mode mode, const NameResolver& names) {
  const ServiceConfig& cfg = svc.cfg;
  const std::string name = service_name(cfg.key, false, fmt.numeric, names);

  switch (mode) {
    case Mode::kStats:
      appendf(out, "%-33s", name.c_str());
      append_stats(out, svc.stats, fmt.exact);
      break;
    case Mode::kRate:
      appendf(out, "%-33s", name.c_str());
      append_largenum(out, svc.rate.cps, fmt.exact);
      append_largenum(out, svc.rate.inpps, fmt.exact);
      append_largenum(out, svc.rate.outpps, fmt.exact);
      append_largenum(out, svc.rate.inbps, fmt.exact);
      append_largenum(out, svc.rate.outbps, fmt.exact);
      break;
    default: {
      appendf(out, "%s %s", name.c_str(), cfg.sched_name.c_str());
      if (cfg.flags & kSvcSchedMask) appendf(out, " (%s)", sched_flags(cfg).c_str());
      if (cfg.flags & kSvcPersistent) {
        appendf(out, " persistent %u", cfg.timeout);
        if (cfg.key.af == AF_INET6) {
          if (cfg.netmask != 128) appendf(out, " mask %i", static_cast<int>(cfg.netmask));
        } else if (cfg.netmask != 0xffffffffu) {
          appendf(out, " mask %s", netmask_text(cfg.netmask).c_str());
        }
        // ipvsadm only shows the PE of a persistent service.
        if (!cfg.pe_name.empty()) appendf(out, " pe %s", cfg.pe_name.c_str());
      }
      if (cfg.flags & kSvcOnePacket) out += " ops";
      if (cfg.flags & kSvcSynproxy) out += " synproxy";
      break;
    }
  }
  out += '\n';

  const uint8_t proto = reported_protocol(cfg.key);
  for (const DestView& d : svc.dests) {
    std::string dname = addrport(d.cfg.key.addr, d.cfg.key.port, proto, fmt.numeric, names);
    if (d.cfg.key.addr.family != AF_INET6 && dname.size() > kDestNameMax) {
      dname.resize(kDestNameMax);
    }
    const char* dn = dname.c_str();
    switch (mode) {
      case Mode::kStats:
        appendf(out, "  -> %-28s", dn);
        append_stats(out, d.stats, fmt.exact);
        out += '\n';
        break;
      case Mode::kRate:
        // Per-dest packet and connection rates are plain numbers, never scaled.
        appendf(out, "  -> %-28s %8llu %8llu %8llu", dn,
                static_cast<unsigned long long>(d.rate.cps),
                static_cast<unsigned long long>(d.rate.inpps),
                static_cast<unsigned long long>(d.rate.outpps));
        append_largenum(out, d.rate.inbps, fmt.exact);
        append_largenum(out, d.rate.outbps, fmt.exact);
        out += '\n';
        break;
      case Mode::kThresholds:
        appendf(out, "  -> %-28s %-10u %-10u %-10u %-10u\n", dn, d.cfg.u_threshold,
                d.cfg.l_threshold, d.activeconns, d.inactconns);
        break;
      case Mode::kPersistentConn:
        appendf(out, "  -> %-28s %-9u %-11u %-10u %-10u\n", dn, static_cast<unsigned>(d.cfg.weight),
                d.persistconns, d.activeconns, d.inactconns);
        break;
      case Mode::kTunInfo:
        appendf(out, "  -> %-28s %-7s %-13s %-6d %-10u %-10u\n", dn, fwd_name(d.cfg.fwd),
                tun_info(d.cfg).c_str(), d.cfg.weight, d.activeconns, d.inactconns);
        break;
      case Mode::kDefault:
        appendf(out, "  -> %-28s %-7s %-6d %-10u %-10u\n", dn, fwd_name(d.cfg.fwd), d.cfg.weight,
                d.activeconns, d.inactconns);
        break;
    }
  }
}

// One service and its dests as -S rules.
void append_service_rules(std::string& out, const ServiceView& svc, bool numeric,
                          const NameResolver& names) {
  const ServiceConfig& cfg = svc.cfg;
  const std::string name = service_name(cfg.key, true, numeric, names);
  appendf(out, "-A %s -s %s", name.c_str(), cfg.sched_name.c_str());
  if (cfg.flags & kSvcPersistent) {
    appendf(out, " -p %u", cfg.timeout);
    if (cfg.key.af == AF_INET6) {
      if (cfg.netmask != 128) appendf(out, " -M %i", static_cast<int>(cfg.netmask));
    } else if (cfg.netmask != 0xffffffffu) {
      appendf(out, " -M %s", netmask_text(cfg.netmask).c_str());
    }
  }
  // Unlike -L, -S keeps the PE of a non-persistent service.
  if (!cfg.pe_name.empty()) appendf(out, " --pe %s", cfg.pe_name.c_str());
  if (cfg.flags & kSvcOnePacket) out += " -o";
  if (cfg.flags & kSvcSchedMask) appendf(out, " -b %s", sched_flags(cfg).c_str());
  // uvs extension: without it a synproxy service would lose the flag across -S | -R.
  if (cfg.flags & kSvcSynproxy) out += " -j enable";
  out += '\n';

  const uint8_t proto = reported_protocol(cfg.key);
  for (const DestView& d : svc.dests) {
    const std::string dname = addrport(d.cfg.key.addr, d.cfg.key.port, proto, numeric, names);
    appendf(out, "-a %s -r %s %s -w %d", name.c_str(), dname.c_str(), fwd_switch(d.cfg.fwd),
            d.cfg.weight);
    if (d.cfg.fwd == Fwd::kTunnel) {
      const char* type = tun_type_name(d.cfg.tun_type);
      switch (d.cfg.tun_type) {
        case TunType::kIpip:
          appendf(out, " --tun-type %s", type);
          break;
        case TunType::kGue:
          appendf(out, " --tun-type %s --tun-port %d %s", type, d.cfg.tun_port,
                  tun_csum_option(d.cfg.tun_flags));
          break;
        case TunType::kGre:
          appendf(out, " --tun-type %s %s", type, tun_csum_option(d.cfg.tun_flags));
          break;
      }
    }
    out += '\n';
  }
  // uvs extension: FULLNAT local addresses, so that -S | -R and --config keep them. Always
  // numeric: they are the director's own addresses.
  for (const LaddrView& l : svc.laddrs) appendf(out, "-P %s -z %s\n", name.c_str(), l.addr.to_string().c_str());
}

// libipvs compares with plain int subtraction of unsigned 32-bit values; the wrap is part of
// the observable order (ipvs_cmp_services(), ipvs_cmp_dests()).
int wrap_diff(uint32_t a, uint32_t b) { return static_cast<int32_t>(a - b); }

int cmp_addr(const InetAddr& a, const InetAddr& b, uint16_t family) {
  if (family == AF_INET6) {
    int r = 0;
    for (int i = 0; r == 0 && i < 4; ++i) r = wrap_diff(a.word(i), b.word(i));
    return r;
  }
  return wrap_diff(a.word(0), b.word(0));
}

int cmp_services(const ServiceView& s1, const ServiceView& s2) {
  const ServiceKey& k1 = s1.cfg.key;
  const ServiceKey& k2 = s2.cfg.key;
  int r = wrap_diff(k1.fwmark, k2.fwmark);
  if (r != 0) return r;
  r = static_cast<int>(k1.af) - static_cast<int>(k2.af);
  if (r != 0) return r;
  // A fwmark service is reported with protocol, address and port all zero.
  const bool f1 = k1.is_fwmark();
  const bool f2 = k2.is_fwmark();
  r = static_cast<int>(f1 ? 0 : k1.protocol) - static_cast<int>(f2 ? 0 : k2.protocol);
  if (r != 0) return r;
  const InetAddr zero{};
  r = cmp_addr(f1 ? zero : k1.addr, f2 ? zero : k2.addr, k1.af);
  if (r != 0) return r;
  return static_cast<int>(f1 ? 0 : k1.port) - static_cast<int>(f2 ? 0 : k2.port);
}

// The family of the left-hand dest decides how both addresses are read, as in libipvs.
int cmp_dests(const DestView& d1, const DestView& d2) {
  int r = cmp_addr(d1.cfg.key.addr, d2.cfg.key.addr, d1.cfg.key.addr.family);
  if (r != 0) return r;
  return static_cast<int>(d1.cfg.key.port) - static_cast<int>(d2.cfg.key.port);
}

// glibc <= 2.36 qsort: top-down merge sort, left half n/2, ties and "left <= right" taken from
// the left. The comparators above are not transitive, so only the same algorithm with the
// same split and the same comparison sequence yields the same order. Sorts indices (as glibc
// does for large elements); the comparisons are identical.
template <typename Cmp>
void msort(std::vector<size_t>& idx, size_t lo, size_t n, std::vector<size_t>& tmp, Cmp& cmp) {
  if (n <= 1) return;
  size_t n1 = n / 2;
  size_t n2 = n - n1;
  msort(idx, lo, n1, tmp, cmp);
  msort(idx, lo + n1, n2, tmp, cmp);
  size_t i = lo;
  size_t j = lo + n1;
  size_t k = 0;
  while (n1 > 0 && n2 > 0) {
    if (cmp(idx[i], idx[j]) <= 0) {
      tmp[k++] = idx[i++];
      --n1;
    } else {
      tmp[k++] = idx[j++];
      --n2;
    }
  }
  while (n1 > 0) {
    tmp[k++] = idx[i++];
    --n1;
  }
  // Whatever is left of the right half is already in place.
  std::copy(tmp.begin(), tmp.begin() + static_cast<std::ptrdiff_t>(k),
            idx.begin() + static_cast<std::ptrdiff_t>(lo));
}

template <typename T, typename Cmp>
void glibc_qsort(std::vector<T>& v, Cmp cmp) {
  if (v.size() <= 1) return;
  std::vector<size_t> idx(v.size());
  std::iota(idx.begin(), idx.end(), size_t{0});
  std::vector<size_t> tmp(v.size());
  auto by_index = [&](size_t a, size_t b) { return cmp(v[a], v[b]); };
  msort(idx, 0, idx.size(), tmp, by_index);
  std::vector<T> sorted;
  sorted.reserve(v.size());
  for (size_t i : idx) sorted.push_back(std::move(v[i]));
  v = std::move(sorted);
}

void sort_dests(std::vector<DestView>& dests) { glibc_qsort(dests, cmp_dests); }

// System resolver: the same libc calls ipvsadm makes.
class SystemResolver final : public NameResolver {
 public:
  std::string host(const InetAddr& addr) const override {
    const hostent* h = nullptr;
    if (addr.family == AF_INET6) {
      in6_addr a = addr.to_in6_addr();
      h = gethostbyaddr(&a, sizeof a, AF_INET6);
    } else {
      in_addr a = addr.to_in_addr();
      h = gethostbyaddr(&a, sizeof a, AF_INET);
    }
    return h && h->h_name ? std::string(h->h_name) : std::string();
  }

  std::string service(uint16_t port, uint8_t protocol) const override {
    const char* proto = nullptr;
    switch (protocol) {
      case kProtoTcp:
        proto = "tcp";
        break;
      case kProtoUdp:
        proto = "udp";
        break;
      case kProtoSctp:
        proto = "sctp";
        break;
      default:
        return {};
    }
    const servent* s = getservbyport(htons(port), proto);
    return s && s->s_name ? std::string(s->s_name) : std::string();
  }
};

// Protocol column of -c: the kernel's ip_vs_proto_name.
std::string conn_protocol_name(uint8_t protocol) {
  switch (protocol) {
    case 0:
      return "IP";
    case kProtoTcp:
      return "TCP";
    case kProtoUdp:
      return "UDP";
    case kProtoSctp:
      return "SCTP";
    case IPPROTO_ICMP:
      return "ICMP";
    case IPPROTO_ICMPV6:
      return "ICMPv6";
    default:
      return "IP_" + std::to_string(protocol);
  }
}

}  // namespace

const NameResolver& system_resolver() {
  static const SystemResolver resolver;
  return resolver;
}

std::string largenum(uint64_t n, bool exact) {
  std::string out;
  const auto v = static_cast<unsigned long long>(n);
  if (exact) {
    // At least one leading blank: width 9 up to 8 digits, digits + 1 beyond.
    const int digits = static_cast<int>(std::to_string(v).size());
    appendf(out, "%*llu", digits <= 8 ? 9 : digits + 1, v);
    return out;
  }
  if (v < 100000000ULL) {
    appendf(out, "%9llu", v);
  } else if (v < 1000000000ULL) {
    appendf(out, "%8lluK", v / 1000ULL);
  } else if (v < 100000000000ULL) {
    appendf(out, "%8lluM", v / 1000000ULL);
  } else if (v < 100000000000000ULL) {
    appendf(out, "%8lluG", v / 1000000000ULL);
  } else {
    appendf(out, "%8lluT", v / 1000000000000ULL);
  }
  return out;
}

void sort_table(std::vector<ServiceView>& services) {
  glibc_qsort(services, cmp_services);
  for (ServiceView& svc : services) sort_dests(svc.dests);
}

std::string format_list(const TableView& table, const ListFormat& fmt, const NameResolver& names) {
  std::string out;
  appendf(out, "IP Virtual Server version 1.2.1 (size=%u)\n", table.conn_tab_size);
  const Mode mode = mode_of(fmt);
  append_title(out, mode);
  if (fmt.nosort) {
    for (const ServiceView& svc : table.services) {
      append_service_entry(out, svc, fmt, mode, names);
    }
    return out;
  }
  std::vector<ServiceView> services = table.services;
  sort_table(services);
  for (const ServiceView& svc : services) append_service_entry(out, svc, fmt, mode, names);
  return out;
}

std::string format_list_service(const ServiceView& svc, const ListFormat& fmt,
                                const NameResolver& names) {
  std::string out;
  const Mode mode = mode_of(fmt);
  append_title(out, mode);
  if (fmt.nosort) {
    append_service_entry(out, svc, fmt, mode, names);
    return out;
  }
  ServiceView sorted = svc;
  sort_dests(sorted.dests);
  append_service_entry(out, sorted, fmt, mode, names);
  return out;
}

std::string format_connections(const std::vector<ConnView>& conns, const ListFormat& fmt,
                               const NameResolver& names) {
  std::string out = "IPVS connection entries\n";
  if (fmt.persistent_conn) {
    appendf(out, "pro expire %-11s %-18s %-18s %-18s %-16s %s\n", "state", "source", "virtual",
            "destination", "pe name", "pe_data");
  } else {
    appendf(out, "pro expire %-11s %-18s %-18s %s\n", "state", "source", "virtual", "destination");
  }
  for (const ConnView& c : conns) {
    const std::string proto = conn_protocol_name(c.protocol);
    // ipvsadm re-reads the protocol from text and knows names only for these three.
    const uint8_t name_proto = has_port_names(c.protocol) ? c.protocol : 0;
    const std::string cname =
        addrport(as_family(c.caddr, c.af), c.cport, name_proto, fmt.numeric, names);
    const std::string vname =
        addrport(as_family(c.vaddr, c.af), c.vport, name_proto, fmt.numeric, names);
    const std::string dname =
        addrport(as_family(c.daddr, c.daf), c.dport, name_proto, fmt.numeric, names);
    std::string expire;
    appendf(expire, "%02u:%02u", c.expire_secs / 60, c.expire_secs % 60);
    // Only rows that carry PE data have the two extra columns; note the dest column is 16
    // wide here while the header gives it 18 (ipvsadm's own mismatch).
    if (fmt.persistent_conn && !c.pe_name.empty() && !c.pe_data.empty()) {
      appendf(out, "%-3s %-6s %-11s %-18s %-18s %-16s %-18s %s\n", proto.c_str(), expire.c_str(),
              c.state.c_str(), cname.c_str(), vname.c_str(), dname.c_str(), c.pe_name.c_str(),
              c.pe_data.c_str());
    } else {
      appendf(out, "%-3s %-6s %-11s %-18s %-18s %s\n", proto.c_str(), expire.c_str(),
              c.state.c_str(), cname.c_str(), vname.c_str(), dname.c_str());
    }
  }
  return out;
}

std::string format_timeout(const Timeouts& t) {
  std::string out;
  appendf(out, "Timeout (tcp tcpfin udp): %d %d %d\n", t.tcp, t.tcp_fin, t.udp);
  return out;
}

std::string format_daemons(const std::vector<DaemonConfig>& daemons) {
  std::string out;
  for (const DaemonConfig& d : daemons) {
    const char* role = nullptr;
    if (d.state & kDaemonMaster) {
      role = "master";
    } else if (d.state & kDaemonBackup) {
      role = "backup";
    } else {
      continue;
    }
    appendf(out, "%s sync daemon (mcast=%s, syncid=%d", role, d.mcast_ifn.c_str(), d.syncid);
    if (d.sync_maxlen) appendf(out, ", maxlen=%u", static_cast<unsigned>(d.sync_maxlen));
    if (d.has_group) appendf(out, ", group=%s", d.mcast_group.to_string().c_str());
    if (d.mcast_port) appendf(out, ", port=%u", static_cast<unsigned>(d.mcast_port));
    if (d.mcast_ttl) appendf(out, ", ttl=%u", static_cast<unsigned>(d.mcast_ttl));
    out += ")\n";
  }
  return out;
}

std::string format_save(const TableView& table, bool numeric, const NameResolver& names) {
  std::vector<ServiceView> services = table.services;
  sort_table(services);
  std::string out;
  for (const ServiceView& svc : services) append_service_rules(out, svc, numeric, names);
  return out;
}

// Layout of Alibaba LVS's `ipvsadm -G`: one title, then per service a row with only
// VIP:VPORT and TOTAL, followed by one row per local address with those two columns blank.
std::string format_laddrs(const std::vector<ServiceView>& services, const ListFormat& fmt,
                          const NameResolver& names) {
  std::string out;
  if (services.empty()) return out;
  appendf(out, "%-20s %-8s %-20s %-10s %-10s\n", "VIP:VPORT", "TOTAL", "SNAT_IP", "CONFLICTS",
          "CONNS");
  for (const ServiceView& svc : services) {
    const ServiceKey& key = svc.cfg.key;
    std::string vip;
    if (key.is_fwmark()) {
      appendf(vip, "FWM  %u%s", key.fwmark, key.af == AF_INET6 ? " IPv6" : "");
    } else {
      vip = addrport(as_family(key.addr, key.af), key.port, key.protocol, fmt.numeric, names);
    }
    appendf(out, "%-20s %-8zu \n", vip.c_str(), svc.laddrs.size());
    for (const LaddrView& l : svc.laddrs) {
      appendf(out, "%-20s %-8s %-20s %-10llu %-10llu\n", "", "", l.addr.to_string().c_str(),
              static_cast<unsigned long long>(l.port_conflicts),
              static_cast<unsigned long long>(l.conns));
    }
  }
  return out;
}

}  // namespace uvs::cli
