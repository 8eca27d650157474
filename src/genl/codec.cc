#include "genl/codec.h"

#include <arpa/inet.h>
#include <libmnl/libmnl.h>
#include <linux/genetlink.h>
#include <linux/ip_vs.h>
#include <linux/netlink.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>

namespace uvs::genl {
namespace {

// ---- Parsing: nla_parse_nested_deprecated() with the family's policies ----

// The policy types ip_vs_ctl.c uses; validate_nla() in its liberal (deprecated) mode: integers
// must be at least their size, binaries at most their len, NUL strings NUL-terminated within
// len + 1 and at most len characters. Unknown attribute types are ignored.
// kMinLen is a policy entry with only .len: at least that many bytes.
enum class Kind : uint8_t { kNone, kU8, kU16, kU32, kNested, kBinary, kNulString, kMinLen };
struct Policy {
  Kind kind = Kind::kNone;
  uint16_t len = 0;
};

int validate(const nlattr* a, const Policy& p) {
  const size_t len = mnl_attr_get_payload_len(a);
  const auto* data = static_cast<const char*>(mnl_attr_get_payload(a));
  switch (p.kind) {
    case Kind::kNone:
      return 0;
    case Kind::kU8:
      return len < 1 ? ERANGE : 0;
    case Kind::kU16:
      return len < 2 ? ERANGE : 0;
    case Kind::kU32:
      return len < 4 ? ERANGE : 0;
    case Kind::kNested:
      return len != 0 && len < NLA_HDRLEN ? ERANGE : 0;
    case Kind::kBinary:
      return p.len && len > p.len ? ERANGE : 0;
    case Kind::kMinLen:
      return len < p.len ? ERANGE : 0;
    case Kind::kNulString: {
      const size_t scan = p.len ? std::min<size_t>(len, p.len + 1u) : len;
      if (scan == 0 || std::memchr(data, '\0', scan) == nullptr) return EINVAL;
      size_t chars = len;
      if (data[len - 1] == '\0') --chars;
      return p.len && chars > p.len ? ERANGE : 0;
    }
  }
  return 0;
}

// Attributes by type, the last occurrence winning as in nla_parse().
template <size_t N>
struct Table {
  std::array<const nlattr*, N> at{};
  const nlattr* operator[](size_t type) const { return at[type]; }
};

// Walks the attributes in [start, start + len), validating each against `policy` (indexed by
// type, types past its end ignored). Returns 0 or the validation errno.
template <size_t N>
int parse(const void* start, size_t len, const std::array<Policy, N>& policy, Table<N>& tb) {
  const auto* attr = static_cast<const nlattr*>(start);
  int remaining = static_cast<int>(len);
  while (mnl_attr_ok(attr, remaining)) {
    const uint16_t type = mnl_attr_get_type(attr);  // NLA_F_NESTED/NET_BYTEORDER masked
    if (type < N) {
      if (int err = validate(attr, policy[type])) return err;
      tb.at[type] = attr;
    }
    remaining -= static_cast<int>(NLA_ALIGN(attr->nla_len));
    attr = mnl_attr_next(attr);
  }
  return 0;
}

template <size_t N>
int parse_nested(const nlattr* nest, const std::array<Policy, N>& policy, Table<N>& tb) {
  return parse(mnl_attr_get_payload(nest), mnl_attr_get_payload_len(nest), policy, tb);
}

// nla_memcpy(): copies what the attribute has, zero-filling the rest.
void copy_payload(const nlattr* a, void* dst, size_t size) {
  std::memset(dst, 0, size);
  std::memcpy(dst, mnl_attr_get_payload(a), std::min<size_t>(size, mnl_attr_get_payload_len(a)));
}

// nla_data() of a validated NUL string: the characters before the first NUL.
std::string string_of(const nlattr* a) {
  const auto* s = static_cast<const char*>(mnl_attr_get_payload(a));
  return std::string(s, strnlen(s, mnl_attr_get_payload_len(a)));
}

uint16_t be16_of(const nlattr* a) { return ntohs(mnl_attr_get_u16(a)); }

// ip_vs_cmd_policy.
constexpr std::array<Policy, IPVS_CMD_ATTR_MAX + 1> kCmdPolicy = [] {
  std::array<Policy, IPVS_CMD_ATTR_MAX + 1> p{};
  p[IPVS_CMD_ATTR_SERVICE] = {Kind::kNested};
  p[IPVS_CMD_ATTR_DEST] = {Kind::kNested};
  p[IPVS_CMD_ATTR_DAEMON] = {Kind::kNested};
  p[IPVS_CMD_ATTR_TIMEOUT_TCP] = {Kind::kU32};
  p[IPVS_CMD_ATTR_TIMEOUT_TCP_FIN] = {Kind::kU32};
  p[IPVS_CMD_ATTR_TIMEOUT_UDP] = {Kind::kU32};
  return p;
}();

// ip_vs_svc_policy.
constexpr std::array<Policy, IPVS_SVC_ATTR_MAX + 1> kSvcPolicy = [] {
  std::array<Policy, IPVS_SVC_ATTR_MAX + 1> p{};
  p[IPVS_SVC_ATTR_AF] = {Kind::kU16};
  p[IPVS_SVC_ATTR_PROTOCOL] = {Kind::kU16};
  p[IPVS_SVC_ATTR_ADDR] = {Kind::kBinary, 16};
  p[IPVS_SVC_ATTR_PORT] = {Kind::kU16};
  p[IPVS_SVC_ATTR_FWMARK] = {Kind::kU32};
  p[IPVS_SVC_ATTR_SCHED_NAME] = {Kind::kNulString, IP_VS_SCHEDNAME_MAXLEN - 1};
  p[IPVS_SVC_ATTR_PE_NAME] = {Kind::kNulString, IP_VS_PENAME_MAXLEN};  // sic, no - 1
  p[IPVS_SVC_ATTR_FLAGS] = {Kind::kBinary, sizeof(ip_vs_flags)};
  p[IPVS_SVC_ATTR_TIMEOUT] = {Kind::kU32};
  p[IPVS_SVC_ATTR_NETMASK] = {Kind::kU32};
  p[IPVS_SVC_ATTR_STATS] = {Kind::kNested};
  return p;
}();

// ip_vs_dest_policy.
constexpr std::array<Policy, IPVS_DEST_ATTR_MAX + 1> kDestPolicy = [] {
  std::array<Policy, IPVS_DEST_ATTR_MAX + 1> p{};
  p[IPVS_DEST_ATTR_ADDR] = {Kind::kBinary, 16};
  p[IPVS_DEST_ATTR_PORT] = {Kind::kU16};
  p[IPVS_DEST_ATTR_FWD_METHOD] = {Kind::kU32};
  p[IPVS_DEST_ATTR_WEIGHT] = {Kind::kU32};
  p[IPVS_DEST_ATTR_U_THRESH] = {Kind::kU32};
  p[IPVS_DEST_ATTR_L_THRESH] = {Kind::kU32};
  p[IPVS_DEST_ATTR_ACTIVE_CONNS] = {Kind::kU32};
  p[IPVS_DEST_ATTR_INACT_CONNS] = {Kind::kU32};
  p[IPVS_DEST_ATTR_PERSIST_CONNS] = {Kind::kU32};
  p[IPVS_DEST_ATTR_STATS] = {Kind::kNested};
  p[IPVS_DEST_ATTR_ADDR_FAMILY] = {Kind::kU16};
  p[IPVS_DEST_ATTR_TUN_TYPE] = {Kind::kU8};
  p[IPVS_DEST_ATTR_TUN_PORT] = {Kind::kU16};
  p[IPVS_DEST_ATTR_TUN_FLAGS] = {Kind::kU16};
  return p;
}();

// ip_vs_daemon_policy.
constexpr std::array<Policy, IPVS_DAEMON_ATTR_MAX + 1> kDaemonPolicy = [] {
  std::array<Policy, IPVS_DAEMON_ATTR_MAX + 1> p{};
  p[IPVS_DAEMON_ATTR_STATE] = {Kind::kU32};
  p[IPVS_DAEMON_ATTR_MCAST_IFN] = {Kind::kNulString, IP_VS_IFNAME_MAXLEN - 1};
  p[IPVS_DAEMON_ATTR_SYNC_ID] = {Kind::kU32};
  p[IPVS_DAEMON_ATTR_SYNC_MAXLEN] = {Kind::kU16};
  p[IPVS_DAEMON_ATTR_MCAST_GROUP] = {Kind::kU32};
  p[IPVS_DAEMON_ATTR_MCAST_GROUP6] = {Kind::kMinLen, 16};
  p[IPVS_DAEMON_ATTR_MCAST_PORT] = {Kind::kU16};
  p[IPVS_DAEMON_ATTR_MCAST_TTL] = {Kind::kU8};
  return p;
}();

// ctrl_policy_family.
constexpr std::array<Policy, CTRL_ATTR_MAX + 1> kCtrlPolicy = [] {
  std::array<Policy, CTRL_ATTR_MAX + 1> p{};
  p[CTRL_ATTR_FAMILY_ID] = {Kind::kU16};
  p[CTRL_ATTR_FAMILY_NAME] = {Kind::kNulString, GENL_NAMSIZ - 1};
  return p;
}();

// ip_vs_genl_parse_service(): the identity always, the definition when `full`.
int parse_service(const nlattr* nest, bool full, IpvsRequest& r) {
  Table<IPVS_SVC_ATTR_MAX + 1> tb;
  if (nest == nullptr || parse_nested(nest, kSvcPolicy, tb) != 0) return EINVAL;
  const nlattr* af = tb[IPVS_SVC_ATTR_AF];
  const nlattr* protocol = tb[IPVS_SVC_ATTR_PROTOCOL];
  const nlattr* addr = tb[IPVS_SVC_ATTR_ADDR];
  const nlattr* port = tb[IPVS_SVC_ATTR_PORT];
  const nlattr* fwmark = tb[IPVS_SVC_ATTR_FWMARK];
  if (!(af && (fwmark || (port && protocol && addr)))) return EINVAL;

  ServiceConfig& svc = r.command.svc;
  svc.key.af = mnl_attr_get_u16(af);
  if (svc.key.af != AF_INET && svc.key.af != AF_INET6) return EAFNOSUPPORT;
  svc.key.addr = InetAddr{};
  svc.key.addr.family = svc.key.af;
  if (fwmark) {
    svc.key.protocol = kProtoTcp;
    svc.key.fwmark = mnl_attr_get_u32(fwmark);
    svc.key.port = 0;
  } else {
    // The kernel keeps a u16 protocol and refuses unknown ones when adding; 0 is refused the
    // same way by ctl::check_service(), where a truncated u16 might not be.
    const uint16_t proto = mnl_attr_get_u16(protocol);
    svc.key.protocol = proto > 0xff ? 0 : static_cast<uint8_t>(proto);
    copy_payload(addr, svc.key.addr.bytes.data(), svc.key.addr.bytes.size());
    svc.key.port = be16_of(port);
    svc.key.fwmark = 0;
  }
  r.has_service = true;
  r.command.options |= opt(kOptService);
  if (!full) return 0;

  const nlattr* sched = tb[IPVS_SVC_ATTR_SCHED_NAME];
  const nlattr* flags = tb[IPVS_SVC_ATTR_FLAGS];
  const nlattr* timeout = tb[IPVS_SVC_ATTR_TIMEOUT];
  const nlattr* netmask = tb[IPVS_SVC_ATTR_NETMASK];
  if (!(sched && flags && timeout && netmask)) return EINVAL;
  ip_vs_flags f;
  copy_payload(flags, &f, sizeof(f));
  r.svc_flags_mask = f.mask;
  // IP_VS_SVC_F_HASHED is the kernel's own bookkeeping (ip_vs_svc_hash() sets it), never a
  // setting: a listing echoed back carries it.
  svc.flags = f.flags & f.mask & ~kSvcHashed;
  svc.sched_name = string_of(sched);
  svc.pe_name = tb[IPVS_SVC_ATTR_PE_NAME] ? string_of(tb[IPVS_SVC_ATTR_PE_NAME]) : std::string();
  svc.timeout = mnl_attr_get_u32(timeout);
  // nla_get_be32(): IPv4 masks travel in network order, IPv6 prefix lengths as a native u32.
  const uint32_t mask = mnl_attr_get_u32(netmask);
  svc.netmask = svc.key.af == AF_INET ? ntohl(mask) : mask;
  return 0;
}

// ip_vs_genl_parse_dest() plus ip_vs_genl_set_cmd()'s family checks.
int parse_dest(const nlattr* nest, bool full, uint8_t cmd, IpvsRequest& r) {
  Table<IPVS_DEST_ATTR_MAX + 1> tb;
  if (nest == nullptr || parse_nested(nest, kDestPolicy, tb) != 0) return EINVAL;
  const nlattr* addr = tb[IPVS_DEST_ATTR_ADDR];
  const nlattr* port = tb[IPVS_DEST_ATTR_PORT];
  if (!(addr && port)) return EINVAL;
  DestConfig& d = r.command.dest;
  d.key.addr = InetAddr{};
  copy_payload(addr, d.key.addr.bytes.data(), d.key.addr.bytes.size());
  d.key.port = be16_of(port);
  const nlattr* af_attr = tb[IPVS_DEST_ATTR_ADDR_FAMILY];
  // Old clients send no family: the service's own (ip_vs_genl_set_cmd()).
  const uint16_t af = af_attr ? mnl_attr_get_u16(af_attr) : r.command.svc.key.af;
  d.key.addr.family = af;
  r.command.options |= opt(kOptServer);
  if (full) {
    const nlattr* fwd = tb[IPVS_DEST_ATTR_FWD_METHOD];
    const nlattr* weight = tb[IPVS_DEST_ATTR_WEIGHT];
    const nlattr* u = tb[IPVS_DEST_ATTR_U_THRESH];
    const nlattr* l = tb[IPVS_DEST_ATTR_L_THRESH];
    if (!(fwd && weight && u && l)) return EINVAL;
    d.fwd = static_cast<Fwd>(mnl_attr_get_u32(fwd) & IP_VS_CONN_F_FWD_MASK);
    d.weight = static_cast<int32_t>(mnl_attr_get_u32(weight));
    d.u_threshold = mnl_attr_get_u32(u);
    d.l_threshold = mnl_attr_get_u32(l);
    d.tun_type = TunType::kIpip;
    d.tun_port = 0;
    d.tun_flags = TunCsum::kNoCsum;
    if (tb[IPVS_DEST_ATTR_TUN_TYPE])
      d.tun_type = static_cast<TunType>(mnl_attr_get_u8(tb[IPVS_DEST_ATTR_TUN_TYPE]));
    if (tb[IPVS_DEST_ATTR_TUN_PORT]) d.tun_port = be16_of(tb[IPVS_DEST_ATTR_TUN_PORT]);
    if (tb[IPVS_DEST_ATTR_TUN_FLAGS])
      d.tun_flags = static_cast<TunCsum>(mnl_attr_get_u16(tb[IPVS_DEST_ATTR_TUN_FLAGS]));
  }
  if (af != AF_INET && af != AF_INET6) return EAFNOSUPPORT;
  // A real server of another family than its service can only be reached through a tunnel.
  if (af != r.command.svc.key.af && cmd != IPVS_CMD_DEL_DEST && d.fwd != Fwd::kTunnel)
    return EINVAL;
  return 0;
}

// ip_vs_genl_new_daemon() / ip_vs_genl_del_daemon().
int parse_daemon(const nlattr* nest, bool start, DaemonConfig& d) {
  Table<IPVS_DAEMON_ATTR_MAX + 1> tb;
  if (nest == nullptr || parse_nested(nest, kDaemonPolicy, tb) != 0) return EINVAL;
  const nlattr* state = tb[IPVS_DAEMON_ATTR_STATE];
  if (!start) {
    if (!state) return EINVAL;
    d.state = static_cast<int>(mnl_attr_get_u32(state));
    return 0;
  }
  const nlattr* ifn = tb[IPVS_DAEMON_ATTR_MCAST_IFN];
  const nlattr* syncid = tb[IPVS_DAEMON_ATTR_SYNC_ID];
  if (!(state && ifn && syncid)) return EINVAL;
  d.state = static_cast<int>(mnl_attr_get_u32(state));
  d.mcast_ifn = string_of(ifn).substr(0, kIfNameMax);
  d.syncid = static_cast<int>(mnl_attr_get_u32(syncid));
  if (tb[IPVS_DAEMON_ATTR_SYNC_MAXLEN])
    d.sync_maxlen = mnl_attr_get_u16(tb[IPVS_DAEMON_ATTR_SYNC_MAXLEN]);
  if (const nlattr* g = tb[IPVS_DAEMON_ATTR_MCAST_GROUP]) {
    d.mcast_group = InetAddr{};
    d.mcast_group.family = AF_INET;
    copy_payload(g, d.mcast_group.bytes.data(), 4);  // nla_get_in_addr(): network order
    d.has_group = true;
  } else if (const nlattr* g6 = tb[IPVS_DAEMON_ATTR_MCAST_GROUP6]) {
    d.mcast_group = InetAddr{};
    d.mcast_group.family = AF_INET6;
    copy_payload(g6, d.mcast_group.bytes.data(), 16);
    d.has_group = true;
  }
  if (tb[IPVS_DAEMON_ATTR_MCAST_PORT])
    d.mcast_port = mnl_attr_get_u16(tb[IPVS_DAEMON_ATTR_MCAST_PORT]);
  if (tb[IPVS_DAEMON_ATTR_MCAST_TTL])
    d.mcast_ttl = mnl_attr_get_u8(tb[IPVS_DAEMON_ATTR_MCAST_TTL]);
  return 0;
}

// ---- Encoding: genlmsg_put() and the nla_put_*() calls of the kernel's fill functions ----

constexpr size_t kMsgMax = 8192;  // every message here is far smaller (a service: ~400 bytes)

class Message {
 public:
  Message(uint16_t type, uint16_t flags, uint32_t seq, uint32_t pid, uint8_t cmd, uint8_t version)
      : buf_(kMsgMax, 0) {
    nlh_ = mnl_nlmsg_put_header(buf_.data());
    nlh_->nlmsg_type = type;
    nlh_->nlmsg_flags = flags;
    nlh_->nlmsg_seq = seq;
    nlh_->nlmsg_pid = pid;
    auto* g = static_cast<genlmsghdr*>(mnl_nlmsg_put_extra_header(nlh_, sizeof(genlmsghdr)));
    g->cmd = cmd;
    g->version = version;
  }
  nlmsghdr* nlh() { return nlh_; }
  // nla_nest_start_noflag(): IPVS and nlctrl nests carry no NLA_F_NESTED, where libmnl's
  // mnl_attr_nest_start() sets it.
  nlattr* nest_start(uint16_t type) {
    nlattr* n = mnl_attr_nest_start(nlh_, type);
    n->nla_type &= static_cast<uint16_t>(~NLA_F_NESTED);
    return n;
  }
  void nest_end(nlattr* n) { mnl_attr_nest_end(nlh_, n); }
  void put_string(uint16_t type, const std::string& s) {
    mnl_attr_put_strz_check(nlh_, kMsgMax, type, s.c_str());
  }
  Bytes finish() {
    buf_.resize(nlh_->nlmsg_len);
    return std::move(buf_);
  }

 private:
  Bytes buf_;
  nlmsghdr* nlh_;
};

// ip_vs_genl_fill_stats(): u32 counters and rates, u64 byte counts. nla_put_u64_64bit() adds
// an IPVS_STATS_ATTR_PAD only where unaligned access is costly; x86-64 and arm64 kernels
// (CONFIG_HAVE_EFFICIENT_UNALIGNED_ACCESS) add none, and neither do we.
void put_stats(Message& m, uint16_t type, const StatsView& s, const RateView& r) {
  nlattr* n = m.nest_start(type);
  nlmsghdr* h = m.nlh();
  mnl_attr_put_u32(h, IPVS_STATS_ATTR_CONNS, static_cast<uint32_t>(s.conns));
  mnl_attr_put_u32(h, IPVS_STATS_ATTR_INPKTS, static_cast<uint32_t>(s.inpkts));
  mnl_attr_put_u32(h, IPVS_STATS_ATTR_OUTPKTS, static_cast<uint32_t>(s.outpkts));
  mnl_attr_put_u64(h, IPVS_STATS_ATTR_INBYTES, s.inbytes);
  mnl_attr_put_u64(h, IPVS_STATS_ATTR_OUTBYTES, s.outbytes);
  mnl_attr_put_u32(h, IPVS_STATS_ATTR_CPS, static_cast<uint32_t>(r.cps));
  mnl_attr_put_u32(h, IPVS_STATS_ATTR_INPPS, static_cast<uint32_t>(r.inpps));
  mnl_attr_put_u32(h, IPVS_STATS_ATTR_OUTPPS, static_cast<uint32_t>(r.outpps));
  mnl_attr_put_u32(h, IPVS_STATS_ATTR_INBPS, static_cast<uint32_t>(r.inbps));
  mnl_attr_put_u32(h, IPVS_STATS_ATTR_OUTBPS, static_cast<uint32_t>(r.outbps));
  m.nest_end(n);
}

// ip_vs_genl_fill_stats64(): everything u64, same order.
void put_stats64(Message& m, uint16_t type, const StatsView& s, const RateView& r) {
  nlattr* n = m.nest_start(type);
  nlmsghdr* h = m.nlh();
  mnl_attr_put_u64(h, IPVS_STATS_ATTR_CONNS, s.conns);
  mnl_attr_put_u64(h, IPVS_STATS_ATTR_INPKTS, s.inpkts);
  mnl_attr_put_u64(h, IPVS_STATS_ATTR_OUTPKTS, s.outpkts);
  mnl_attr_put_u64(h, IPVS_STATS_ATTR_INBYTES, s.inbytes);
  mnl_attr_put_u64(h, IPVS_STATS_ATTR_OUTBYTES, s.outbytes);
  mnl_attr_put_u64(h, IPVS_STATS_ATTR_CPS, r.cps);
  mnl_attr_put_u64(h, IPVS_STATS_ATTR_INPPS, r.inpps);
  mnl_attr_put_u64(h, IPVS_STATS_ATTR_OUTPPS, r.outpps);
  mnl_attr_put_u64(h, IPVS_STATS_ATTR_INBPS, r.inbps);
  mnl_attr_put_u64(h, IPVS_STATS_ATTR_OUTBPS, r.outbps);
  m.nest_end(n);
}

// The IPVS family's ops as ctrl_fill_info() reports them (ip_vs_genl_ops order): every op is
// GENL_ADMIN_PERM, DO/DUMP as implemented. A doit gets the family's policy (GENL_CMD_CAP_HASPOL);
// a dumpit does not, since every op carries GENL_DONT_VALIDATE_DUMP and
// genl_cmd_full_to_split() drops the policy of such dumps.
struct OpInfo {
  uint8_t cmd;
  bool doit, dumpit;
};
constexpr OpInfo kIpvsOps[] = {
    {IPVS_CMD_NEW_SERVICE, true, false}, {IPVS_CMD_SET_SERVICE, true, false},
    {IPVS_CMD_DEL_SERVICE, true, false}, {IPVS_CMD_GET_SERVICE, true, true},
    {IPVS_CMD_NEW_DEST, true, false},    {IPVS_CMD_SET_DEST, true, false},
    {IPVS_CMD_DEL_DEST, true, false},    {IPVS_CMD_GET_DEST, false, true},
    {IPVS_CMD_NEW_DAEMON, true, false},  {IPVS_CMD_DEL_DAEMON, true, false},
    {IPVS_CMD_GET_DAEMON, false, true},  {IPVS_CMD_SET_CONFIG, true, false},
    {IPVS_CMD_GET_CONFIG, true, false},  {IPVS_CMD_GET_INFO, true, false},
    {IPVS_CMD_ZERO, true, false},        {IPVS_CMD_FLUSH, true, false},
};

}  // namespace

std::vector<std::span<const uint8_t>> split_messages(std::span<const uint8_t> datagram) {
  std::vector<std::span<const uint8_t>> out;
  size_t off = 0;
  while (datagram.size() - off >= NLMSG_HDRLEN) {
    uint32_t len;
    std::memcpy(&len, datagram.data() + off, sizeof(len));
    if (len < NLMSG_HDRLEN || len > datagram.size() - off) break;
    out.push_back(datagram.subspan(off, len));
    off += std::min<size_t>(NLMSG_ALIGN(len), datagram.size() - off);
  }
  return out;
}

NlHeader header_of(std::span<const uint8_t> msg) {
  nlmsghdr h;
  std::memcpy(&h, msg.data(), sizeof(h));
  return NlHeader{h.nlmsg_len, h.nlmsg_type, h.nlmsg_flags, h.nlmsg_seq, h.nlmsg_pid};
}

bool ipvs_has_op(uint8_t cmd, bool dump) {
  for (const OpInfo& op : kIpvsOps)
    if (op.cmd == cmd) return dump ? op.dumpit : op.doit;
  return false;
}

bool is_dump(uint16_t nlmsg_flags) { return (nlmsg_flags & NLM_F_DUMP) == NLM_F_DUMP; }

IpvsRequest decode_ipvs(std::span<const uint8_t> msg) {
  IpvsRequest r;
  if (msg.size() < NLMSG_HDRLEN) {
    r.err = EINVAL;
    return r;
  }
  r.nlh = header_of(msg);
  r.dump = is_dump(r.nlh.flags);
  // genl_family_rcv_msg(): the message must hold the generic header.
  const size_t len = std::min<size_t>(r.nlh.len, msg.size());
  if (len < NLMSG_HDRLEN + GENL_HDRLEN) {
    r.err = EINVAL;
    return r;
  }
  // A private, aligned copy: libmnl reads headers in place.
  Bytes buf(msg.begin(), msg.begin() + static_cast<long>(len));
  const auto* g = reinterpret_cast<const genlmsghdr*>(buf.data() + NLMSG_HDRLEN);
  r.cmd = g->cmd;

  Table<IPVS_CMD_ATTR_MAX + 1> tb;
  const size_t attrs_off = NLMSG_HDRLEN + GENL_HDRLEN;
  r.err = parse(buf.data() + attrs_off, len - attrs_off, kCmdPolicy, tb);
  if (r.err) return r;

  Command& c = r.command;
  switch (r.cmd) {
    case IPVS_CMD_NEW_SERVICE:
    case IPVS_CMD_SET_SERVICE:
      c.kind = r.cmd == IPVS_CMD_NEW_SERVICE ? CommandKind::kAddService : CommandKind::kEditService;
      r.err = parse_service(tb[IPVS_CMD_ATTR_SERVICE], true, r);
      break;
    case IPVS_CMD_DEL_SERVICE:
      c.kind = CommandKind::kDelService;
      r.err = parse_service(tb[IPVS_CMD_ATTR_SERVICE], false, r);
      break;
    case IPVS_CMD_GET_SERVICE:
      c.kind = CommandKind::kList;
      // Only a single GET reads the service; the dump lists them all, ignoring attributes.
      if (!r.dump) r.err = parse_service(tb[IPVS_CMD_ATTR_SERVICE], false, r);
      break;
    case IPVS_CMD_NEW_DEST:
    case IPVS_CMD_SET_DEST:
    case IPVS_CMD_DEL_DEST: {
      c.kind = r.cmd == IPVS_CMD_NEW_DEST   ? CommandKind::kAddDest
               : r.cmd == IPVS_CMD_SET_DEST ? CommandKind::kEditDest
                                            : CommandKind::kDelDest;
      r.err = parse_service(tb[IPVS_CMD_ATTR_SERVICE], false, r);
      if (r.err == 0)
        r.dest_err = parse_dest(tb[IPVS_CMD_ATTR_DEST], r.cmd != IPVS_CMD_DEL_DEST, r.cmd, r);
      break;
    }
    case IPVS_CMD_GET_DEST:
      // ip_vs_genl_dump_dests(): the service to list; any problem gives an empty dump.
      c.kind = CommandKind::kList;
      r.err = parse_service(tb[IPVS_CMD_ATTR_SERVICE], false, r);
      break;
    case IPVS_CMD_NEW_DAEMON:
    case IPVS_CMD_DEL_DAEMON:
      c.kind = r.cmd == IPVS_CMD_NEW_DAEMON ? CommandKind::kStartDaemon : CommandKind::kStopDaemon;
      c.options |= opt(kOptDaemon);
      r.err = parse_daemon(tb[IPVS_CMD_ATTR_DAEMON], r.cmd == IPVS_CMD_NEW_DAEMON, c.daemon);
      break;
    case IPVS_CMD_GET_DAEMON:
      c.kind = CommandKind::kList;
      c.list.daemon = true;
      c.options |= opt(kOptDaemon);
      break;
    case IPVS_CMD_SET_CONFIG:
      // ip_vs_genl_set_config(): absent timeouts stay as they are (0 = unchanged in Command).
      c.kind = CommandKind::kSetTimeout;
      if (tb[IPVS_CMD_ATTR_TIMEOUT_TCP])
        c.timeouts.tcp = static_cast<int32_t>(mnl_attr_get_u32(tb[IPVS_CMD_ATTR_TIMEOUT_TCP]));
      if (tb[IPVS_CMD_ATTR_TIMEOUT_TCP_FIN])
        c.timeouts.tcp_fin =
            static_cast<int32_t>(mnl_attr_get_u32(tb[IPVS_CMD_ATTR_TIMEOUT_TCP_FIN]));
      if (tb[IPVS_CMD_ATTR_TIMEOUT_UDP])
        c.timeouts.udp = static_cast<int32_t>(mnl_attr_get_u32(tb[IPVS_CMD_ATTR_TIMEOUT_UDP]));
      break;
    case IPVS_CMD_GET_CONFIG:
      c.kind = CommandKind::kList;
      c.list.timeout = true;
      c.options |= opt(kOptTimeout);
      break;
    case IPVS_CMD_GET_INFO:
      c.kind = CommandKind::kList;
      break;
    case IPVS_CMD_ZERO:
      // ip_vs_genl_set_cmd(): no service nest zeroes everything.
      c.kind = CommandKind::kZero;
      if (tb[IPVS_CMD_ATTR_SERVICE]) r.err = parse_service(tb[IPVS_CMD_ATTR_SERVICE], false, r);
      break;
    case IPVS_CMD_FLUSH:
      c.kind = CommandKind::kFlush;
      break;
    default:
      break;  // kNone: the handler answers EOPNOTSUPP as genl_family_rcv_msg() does
  }
  return r;
}

CtrlRequest decode_ctrl(std::span<const uint8_t> msg) {
  CtrlRequest r;
  if (msg.size() < NLMSG_HDRLEN) {
    r.err = EINVAL;
    return r;
  }
  r.nlh = header_of(msg);
  r.dump = is_dump(r.nlh.flags);
  const size_t len = std::min<size_t>(r.nlh.len, msg.size());
  if (len < NLMSG_HDRLEN + GENL_HDRLEN) {
    r.err = EINVAL;
    return r;
  }
  Bytes buf(msg.begin(), msg.begin() + static_cast<long>(len));
  r.cmd = reinterpret_cast<const genlmsghdr*>(buf.data() + NLMSG_HDRLEN)->cmd;
  Table<CTRL_ATTR_MAX + 1> tb;
  const size_t attrs_off = NLMSG_HDRLEN + GENL_HDRLEN;
  r.err = parse(buf.data() + attrs_off, len - attrs_off, kCtrlPolicy, tb);
  if (r.err) return r;
  if (tb[CTRL_ATTR_FAMILY_ID]) {
    r.has_id = true;
    r.id = mnl_attr_get_u16(tb[CTRL_ATTR_FAMILY_ID]);
  }
  if (tb[CTRL_ATTR_FAMILY_NAME]) {
    r.has_name = true;
    r.name = string_of(tb[CTRL_ATTR_FAMILY_NAME]);
  }
  return r;
}

Bytes encode_family(uint16_t family_id, uint32_t seq, uint32_t portid, uint16_t nlmsg_flags) {
  Message m(GENL_ID_CTRL, nlmsg_flags, seq, portid, CTRL_CMD_NEWFAMILY, kCtrlVersion);
  nlmsghdr* h = m.nlh();
  m.put_string(CTRL_ATTR_FAMILY_NAME, IPVS_GENL_NAME);
  mnl_attr_put_u16(h, CTRL_ATTR_FAMILY_ID, family_id);
  mnl_attr_put_u32(h, CTRL_ATTR_VERSION, IPVS_GENL_VERSION);
  mnl_attr_put_u32(h, CTRL_ATTR_HDRSIZE, 0);
  mnl_attr_put_u32(h, CTRL_ATTR_MAXATTR, kIpvsMaxAttr);
  nlattr* ops = m.nest_start(CTRL_ATTR_OPS);
  uint16_t index = 1;
  for (const OpInfo& op : kIpvsOps) {
    uint32_t flags = GENL_ADMIN_PERM;
    if (op.doit) flags |= GENL_CMD_CAP_DO | GENL_CMD_CAP_HASPOL;
    if (op.dumpit) flags |= GENL_CMD_CAP_DUMP;
    nlattr* n = m.nest_start(index++);
    mnl_attr_put_u32(h, CTRL_ATTR_OP_ID, op.cmd);
    mnl_attr_put_u32(h, CTRL_ATTR_OP_FLAGS, flags);
    m.nest_end(n);
  }
  m.nest_end(ops);
  return m.finish();
}

Bytes encode_info(uint16_t family_id, uint32_t seq, uint32_t portid, uint32_t conn_tab_size) {
  Message m(family_id, 0, seq, portid, IPVS_CMD_SET_INFO, kIpvsVersion);
  mnl_attr_put_u32(m.nlh(), IPVS_INFO_ATTR_VERSION, kIpvsVersionCode);
  mnl_attr_put_u32(m.nlh(), IPVS_INFO_ATTR_CONN_TAB_SIZE, conn_tab_size);
  return m.finish();
}

Bytes encode_config(uint16_t family_id, uint32_t seq, uint32_t portid, const Timeouts& t) {
  Message m(family_id, 0, seq, portid, IPVS_CMD_SET_CONFIG, kIpvsVersion);
  mnl_attr_put_u32(m.nlh(), IPVS_CMD_ATTR_TIMEOUT_TCP, static_cast<uint32_t>(t.tcp));
  mnl_attr_put_u32(m.nlh(), IPVS_CMD_ATTR_TIMEOUT_TCP_FIN, static_cast<uint32_t>(t.tcp_fin));
  mnl_attr_put_u32(m.nlh(), IPVS_CMD_ATTR_TIMEOUT_UDP, static_cast<uint32_t>(t.udp));
  return m.finish();
}

Bytes encode_service(uint16_t family_id, uint32_t seq, uint32_t portid, uint16_t nlmsg_flags,
                     const ServiceView& svc) {
  Message m(family_id, nlmsg_flags, seq, portid, IPVS_CMD_NEW_SERVICE, kIpvsVersion);
  nlmsghdr* h = m.nlh();
  const ServiceConfig& c = svc.cfg;
  nlattr* n = m.nest_start(IPVS_CMD_ATTR_SERVICE);
  mnl_attr_put_u16(h, IPVS_SVC_ATTR_AF, c.key.af);
  if (c.key.is_fwmark()) {
    mnl_attr_put_u32(h, IPVS_SVC_ATTR_FWMARK, c.key.fwmark);
  } else {
    mnl_attr_put_u16(h, IPVS_SVC_ATTR_PROTOCOL, c.key.protocol);
    mnl_attr_put(h, IPVS_SVC_ATTR_ADDR, c.key.addr.bytes.size(), c.key.addr.bytes.data());
    mnl_attr_put_u16(h, IPVS_SVC_ATTR_PORT, htons(c.key.port));
  }
  m.put_string(IPVS_SVC_ATTR_SCHED_NAME, c.sched_name.empty() ? "none" : c.sched_name);
  if (!c.pe_name.empty()) m.put_string(IPVS_SVC_ATTR_PE_NAME, c.pe_name);
  const ip_vs_flags flags{c.flags | kSvcHashed, 0xffffffff};
  mnl_attr_put(h, IPVS_SVC_ATTR_FLAGS, sizeof(flags), &flags);
  mnl_attr_put_u32(h, IPVS_SVC_ATTR_TIMEOUT, c.timeout);
  mnl_attr_put_u32(h, IPVS_SVC_ATTR_NETMASK, c.key.af == AF_INET ? htonl(c.netmask) : c.netmask);
  put_stats(m, IPVS_SVC_ATTR_STATS, svc.stats, svc.rate);
  put_stats64(m, IPVS_SVC_ATTR_STATS64, svc.stats, svc.rate);
  m.nest_end(n);
  return m.finish();
}

Bytes encode_dest(uint16_t family_id, uint32_t seq, uint32_t portid, uint16_t nlmsg_flags,
                  const DestView& dest) {
  Message m(family_id, nlmsg_flags, seq, portid, IPVS_CMD_NEW_DEST, kIpvsVersion);
  nlmsghdr* h = m.nlh();
  const DestConfig& c = dest.cfg;
  nlattr* n = m.nest_start(IPVS_CMD_ATTR_DEST);
  mnl_attr_put(h, IPVS_DEST_ATTR_ADDR, c.key.addr.bytes.size(), c.key.addr.bytes.data());
  mnl_attr_put_u16(h, IPVS_DEST_ATTR_PORT, htons(c.key.port));
  mnl_attr_put_u32(h, IPVS_DEST_ATTR_FWD_METHOD, static_cast<uint32_t>(c.fwd));
  mnl_attr_put_u32(h, IPVS_DEST_ATTR_WEIGHT, static_cast<uint32_t>(c.weight));
  mnl_attr_put_u8(h, IPVS_DEST_ATTR_TUN_TYPE, static_cast<uint8_t>(c.tun_type));
  mnl_attr_put_u16(h, IPVS_DEST_ATTR_TUN_PORT, htons(c.tun_port));
  mnl_attr_put_u16(h, IPVS_DEST_ATTR_TUN_FLAGS, static_cast<uint16_t>(c.tun_flags));
  mnl_attr_put_u32(h, IPVS_DEST_ATTR_U_THRESH, c.u_threshold);
  mnl_attr_put_u32(h, IPVS_DEST_ATTR_L_THRESH, c.l_threshold);
  mnl_attr_put_u32(h, IPVS_DEST_ATTR_ACTIVE_CONNS, dest.activeconns);
  mnl_attr_put_u32(h, IPVS_DEST_ATTR_INACT_CONNS, dest.inactconns);
  mnl_attr_put_u32(h, IPVS_DEST_ATTR_PERSIST_CONNS, dest.persistconns);
  mnl_attr_put_u16(h, IPVS_DEST_ATTR_ADDR_FAMILY, c.key.addr.family);
  put_stats(m, IPVS_DEST_ATTR_STATS, dest.stats, dest.rate);
  put_stats64(m, IPVS_DEST_ATTR_STATS64, dest.stats, dest.rate);
  m.nest_end(n);
  return m.finish();
}

Bytes encode_daemon(uint16_t family_id, uint32_t seq, uint32_t portid, uint16_t nlmsg_flags,
                    const DaemonConfig& d) {
  Message m(family_id, nlmsg_flags, seq, portid, IPVS_CMD_NEW_DAEMON, kIpvsVersion);
  nlmsghdr* h = m.nlh();
  nlattr* n = m.nest_start(IPVS_CMD_ATTR_DAEMON);
  mnl_attr_put_u32(h, IPVS_DAEMON_ATTR_STATE, static_cast<uint32_t>(d.state));
  m.put_string(IPVS_DAEMON_ATTR_MCAST_IFN, d.mcast_ifn);
  mnl_attr_put_u32(h, IPVS_DAEMON_ATTR_SYNC_ID, static_cast<uint32_t>(d.syncid));
  mnl_attr_put_u16(h, IPVS_DAEMON_ATTR_SYNC_MAXLEN, d.sync_maxlen);
  // start_sync_thread() fills the defaults a running daemon reports: port 8848, TTL 1, group
  // 224.0.0.81 (IP_VS_SYNC_PORT, IP_VS_SYNC_GROUP).
  mnl_attr_put_u16(h, IPVS_DAEMON_ATTR_MCAST_PORT, d.mcast_port ? d.mcast_port : 8848);
  mnl_attr_put_u8(h, IPVS_DAEMON_ATTR_MCAST_TTL, d.mcast_ttl ? d.mcast_ttl : 1);
  if (d.has_group && d.mcast_group.is_v6()) {
    mnl_attr_put(h, IPVS_DAEMON_ATTR_MCAST_GROUP6, 16, d.mcast_group.bytes.data());
  } else {
    const InetAddr group = d.has_group ? d.mcast_group : InetAddr::v4(0xe0000051);
    mnl_attr_put(h, IPVS_DAEMON_ATTR_MCAST_GROUP, 4, group.bytes.data());
  }
  m.nest_end(n);
  return m.finish();
}

Bytes encode_done(uint32_t seq, uint32_t portid) {
  Bytes out(NLMSG_HDRLEN + sizeof(int), 0);
  nlmsghdr h{};
  h.nlmsg_len = static_cast<uint32_t>(out.size());
  h.nlmsg_type = NLMSG_DONE;
  h.nlmsg_flags = NLM_F_MULTI;
  h.nlmsg_seq = seq;
  h.nlmsg_pid = portid;
  std::memcpy(out.data(), &h, sizeof(h));
  return out;  // payload: dump_done_errno, 0
}

Bytes encode_ack(std::span<const uint8_t> request, int err, uint32_t portid, bool cap_ack) {
  const NlHeader req = header_of(request);
  const bool capped = err == 0 || cap_ack;
  // The echoed request is nlmsg_len bytes of what was received (the header alone if capped).
  const size_t echo =
      capped ? NLMSG_HDRLEN : std::min<size_t>(std::max<uint32_t>(req.len, NLMSG_HDRLEN),
                                               request.size());
  // __nlmsg_put() reserves NLMSG_ALIGN(len): an odd-length echo is followed by zero padding
  // that nlmsg_len does not count.
  const size_t len = NLMSG_HDRLEN + sizeof(int) + echo;
  Bytes out(NLMSG_ALIGN(len), 0);
  nlmsghdr h{};
  h.nlmsg_len = static_cast<uint32_t>(len);
  h.nlmsg_type = NLMSG_ERROR;
  h.nlmsg_flags = capped ? NLM_F_CAPPED : 0;
  h.nlmsg_seq = req.seq;
  h.nlmsg_pid = portid;
  std::memcpy(out.data(), &h, sizeof(h));
  const int error = -err;
  std::memcpy(out.data() + NLMSG_HDRLEN, &error, sizeof(error));
  std::memcpy(out.data() + NLMSG_HDRLEN + sizeof(int), request.data(), echo);
  return out;
}

}  // namespace uvs::genl
