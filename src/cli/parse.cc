#include "cli/parse.h"

#include <arpa/inet.h>
#include <popt.h>

#include <array>
#include <climits>
#include <cstdlib>
#include <initializer_list>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "cli/parse_values.h"

namespace uvs::cli {
namespace {

using parse_internal::parse_fwmark;
using parse_internal::parse_host_port;
using parse_internal::parse_integer;
using parse_internal::parse_ipv4_netmask;
using parse_internal::parse_ipv6_prefix;

constexpr size_t kSchedFlagsArgMax = 127;  // ipvsadm keeps -b in a 128-byte buffer
constexpr int kExitFail = 2;               // fail()
constexpr int kExitPopt = 255;             // exit(-1): usage hint and popt errors

// popt `val` codes. Options with a short letter return that letter; long-only options (and the
// two meanings of -b) get codes above the char range.
enum Code : int {
  kCodeSet = 256,
  kCodeStartDaemon,
  kCodeStopDaemon,
  kCodeSctpService,
  kCodeMcastInterface,
  kCodeSyncId,
  kCodeTimeout,
  kCodeDaemon,
  kCodeStats,
  kCodeRate,
  kCodeThresholds,
  kCodePersistentConn,
  kCodeTunInfo,
  kCodeNoSort,
  kCodeSort,
  kCodePe,
  kCodeSchedFlags,
  kCodeFullNat,
  kCodeMcastGroup,
  kCodeMcastPort,
  kCodeMcastTtl,
  kCodeSyncMaxlen,
  kCodeTunType,
  kCodeTunPort,
  kCodeTunNoCsum,
  kCodeTunCsum,
  kCodeTunRemCsum,
  kCodePick,
};

// Option names as they appear in messages, indexed by OptionBit. The two extension names are
// the Alibaba tool's.
constexpr std::array<const char*, kOptCount> kOptionNames = {
    "numeric",
    "connection",
    "service-address",
    "scheduler",
    "persistent",
    "netmask",
    "real-server",
    "forwarding-method",
    "weight",
    "u-threshold",
    "l-threshold",
    "mcast-interface",
    "timeout",
    "daemon",
    "stats",
    "rate",
    "thresholds",
    "persistent-conn",
    "nosort",
    "syncid",
    "exact",
    "ops",
    "pe",
    "sched-flags",
    "mcast-group",
    "mcast-port",
    "mcast-ttl",
    "sync-maxlen",
    "tun-info",
    "tun-type",
    "tun-port",
    "tun-nocsum",
    "tun-csum",
    "tun-remcsum",
    "local-address",
    "synproxy",
};

// One row of ipvsadm's commands_v_options table, one cell per OptionBit:
// '+' mandatory, 'x' illegal, '1' at most one of the '1' options, '.' optional.
using Legality = std::array<char, kOptCount>;

constexpr Legality make_row(char fill, std::initializer_list<std::pair<OptionBit, char>> cells) {
  Legality row{};
  for (auto& c : row) c = fill;
  for (const auto& [bit, cell] : cells) row[bit] = cell;
  return row;
}

struct CommandSpec {
  CommandKind kind;
  const char* name;  // cmdname used in messages
  Legality legality;
};

constexpr Legality kServiceEditRow = make_row('x', {{kOptService, '+'},
                                                    {kOptScheduler, '.'},
                                                    {kOptPersistent, '.'},
                                                    {kOptNetmask, '.'},
                                                    {kOptOnePacket, '.'},
                                                    {kOptPe, '.'},
                                                    {kOptSchedFlags, '.'},
                                                    {kOptSynproxy, '.'}});
constexpr Legality kServerEditRow = make_row('x', {{kOptService, '+'},
                                                   {kOptServer, '+'},
                                                   {kOptForward, '.'},
                                                   {kOptWeight, '.'},
                                                   {kOptUThreshold, '.'},
                                                   {kOptLThreshold, '.'},
                                                   {kOptTunType, '.'},
                                                   {kOptTunPort, '.'},
                                                   {kOptTunNoCsum, '.'},
                                                   {kOptTunCsum, '.'},
                                                   {kOptTunRemCsum, '.'}});
constexpr Legality kLaddrEditRow = make_row('x', {{kOptService, '+'}, {kOptLaddr, '+'}});

const std::array<CommandSpec, 18> kCommands = {{
    {CommandKind::kAddService, "add-service", kServiceEditRow},
    {CommandKind::kEditService, "edit-service", kServiceEditRow},
    {CommandKind::kDelService, "delete-service", make_row('x', {{kOptService, '+'}})},
    {CommandKind::kFlush, "flush", make_row('x', {})},
    {CommandKind::kList, "list",
     make_row('x', {{kOptNumeric, '.'},
                    {kOptConnection, '1'},
                    {kOptService, '1'},
                    {kOptTimeout, '1'},
                    {kOptDaemon, '1'},
                    {kOptStats, '.'},
                    {kOptRate, '.'},
                    {kOptThresholds, '.'},
                    {kOptPersistentConn, '.'},
                    {kOptNoSort, '.'},
                    {kOptSyncId, '.'},
                    {kOptExact, '.'},
                    {kOptTunInfo, '.'}})},
    {CommandKind::kAddDest, "add-server", kServerEditRow},
    {CommandKind::kDelDest, "delete-server",
     make_row('x', {{kOptService, '+'}, {kOptServer, '+'}})},
    {CommandKind::kEditDest, "edit-server", kServerEditRow},
    {CommandKind::kSetTimeout, "set", make_row('x', {})},
    {CommandKind::kStartDaemon, "start-daemon",
     make_row('x', {{kOptMcastIfn, '.'},
                    {kOptSyncId, '.'},
                    {kOptMcastGroup, '.'},
                    {kOptMcastPort, '.'},
                    {kOptMcastTtl, '.'},
                    {kOptSyncMaxlen, '.'}})},
    {CommandKind::kStopDaemon, "stop-daemon", make_row('x', {{kOptSyncId, '.'}})},
    {CommandKind::kRestore, "restore", make_row('x', {})},
    {CommandKind::kSave, "save", make_row('x', {{kOptNumeric, '.'}})},
    {CommandKind::kZero, "zero", make_row('x', {{kOptService, '.'}})},
    {CommandKind::kAddLaddr, "add-laddr", kLaddrEditRow},
    {CommandKind::kDelLaddr, "del-laddr", kLaddrEditRow},
    {CommandKind::kGetLaddr, "get-laddr", make_row('x', {{kOptNumeric, '.'}, {kOptService, '.'}})},
    // uvs's own: the scheduler's choice for client tuples read from stdin.
    {CommandKind::kPick, "pick", make_row('x', {{kOptService, '+'}})},
}};

const CommandSpec* find_spec(CommandKind kind) {
  for (const auto& spec : kCommands) {
    if (spec.kind == kind) return &spec;
  }
  return nullptr;
}

// ipvsadm's tunnel_types_v_options: for each tunnel type, the cells for
// tun-port, tun-nocsum, tun-csum, tun-remcsum.
constexpr std::array<OptionBit, 4> kTunnelOptionBits = {kOptTunPort, kOptTunNoCsum, kOptTunCsum,
                                                        kOptTunRemCsum};
struct TunnelSpec {
  const char* name;
  std::array<char, 4> legality;
};
constexpr std::array<TunnelSpec, 3> kTunnelSpecs = {{
    {"ipip", {'x', 'x', 'x', 'x'}},
    {"gue", {'+', '1', '1', '1'}},
    {"gre", {'x', '1', '1', 'x'}},
}};

// The listing switches of -L/-S: each sets one ListFormat field and its option bit.
struct ListSwitch {
  int code;
  bool ListFormat::*field;
  OptionBit bit;
};
constexpr std::array<ListSwitch, 11> kListSwitches = {{
    {'c', &ListFormat::connections, kOptConnection},
    {'n', &ListFormat::numeric, kOptNumeric},
    {kCodeTimeout, &ListFormat::timeout, kOptTimeout},
    {kCodeDaemon, &ListFormat::daemon, kOptDaemon},
    {kCodeStats, &ListFormat::stats, kOptStats},
    {kCodeRate, &ListFormat::rate, kOptRate},
    {kCodeThresholds, &ListFormat::thresholds, kOptThresholds},
    {kCodePersistentConn, &ListFormat::persistent_conn, kOptPersistentConn},
    {kCodeTunInfo, &ListFormat::tun_info, kOptTunInfo},
    {kCodeNoSort, &ListFormat::nosort, kOptNoSort},
    {'X', &ListFormat::exact, kOptExact},
}};

// The option table handed to popt. Whether -b takes an argument depends on the command, so
// there are two tables: mainline (-b = --sched-flags LIST) and the one used after -a/-e, where
// -b/--fullnat is a forwarding switch (Alibaba LVS) and --sched-flags stays long-only.
std::vector<poptOption> option_table(bool fullnat_b) {
  constexpr unsigned kNone = POPT_ARG_NONE;
  constexpr unsigned kString = POPT_ARG_STRING;
  std::vector<poptOption> table = {
      {"add-service", 'A', kNone, nullptr, 'A', nullptr, nullptr},
      {"edit-service", 'E', kNone, nullptr, 'E', nullptr, nullptr},
      {"delete-service", 'D', kNone, nullptr, 'D', nullptr, nullptr},
      {"clear", 'C', kNone, nullptr, 'C', nullptr, nullptr},
      {"list", 'L', kNone, nullptr, 'L', nullptr, nullptr},
      {"list", 'l', kNone, nullptr, 'l', nullptr, nullptr},
      {"zero", 'Z', kNone, nullptr, 'Z', nullptr, nullptr},
      {"add-server", 'a', kNone, nullptr, 'a', nullptr, nullptr},
      {"edit-server", 'e', kNone, nullptr, 'e', nullptr, nullptr},
      {"delete-server", 'd', kNone, nullptr, 'd', nullptr, nullptr},
      {"set", '\0', kNone, nullptr, kCodeSet, nullptr, nullptr},
      {"help", 'h', kNone, nullptr, 'h', nullptr, nullptr},
      {"version", 'v', kNone, nullptr, 'v', nullptr, nullptr},
      {"restore", 'R', kNone, nullptr, 'R', nullptr, nullptr},
      {"save", 'S', kNone, nullptr, 'S', nullptr, nullptr},
      {"start-daemon", '\0', kString, nullptr, kCodeStartDaemon, nullptr, nullptr},
      {"stop-daemon", '\0', kString, nullptr, kCodeStopDaemon, nullptr, nullptr},
      {"add-laddr", 'P', kNone, nullptr, 'P', nullptr, nullptr},
      {"del-laddr", 'Q', kNone, nullptr, 'Q', nullptr, nullptr},
      {"get-laddr", 'G', kNone, nullptr, 'G', nullptr, nullptr},
      {"pick", '\0', kNone, nullptr, kCodePick, nullptr, nullptr},
      {"tcp-service", 't', kString, nullptr, 't', nullptr, nullptr},
      {"udp-service", 'u', kString, nullptr, 'u', nullptr, nullptr},
      {"sctp-service", '\0', kString, nullptr, kCodeSctpService, nullptr, nullptr},
      {"fwmark-service", 'f', kString, nullptr, 'f', nullptr, nullptr},
      {"scheduler", 's', kString, nullptr, 's', nullptr, nullptr},
      {"persistent", 'p', kString | POPT_ARGFLAG_OPTIONAL, nullptr, 'p', nullptr, nullptr},
      {"netmask", 'M', kString, nullptr, 'M', nullptr, nullptr},
      {"real-server", 'r', kString, nullptr, 'r', nullptr, nullptr},
      {"masquerading", 'm', kNone, nullptr, 'm', nullptr, nullptr},
      {"ipip", 'i', kNone, nullptr, 'i', nullptr, nullptr},
      {"gatewaying", 'g', kNone, nullptr, 'g', nullptr, nullptr},
      {"weight", 'w', kString, nullptr, 'w', nullptr, nullptr},
      {"u-threshold", 'x', kString, nullptr, 'x', nullptr, nullptr},
      {"l-threshold", 'y', kString, nullptr, 'y', nullptr, nullptr},
      {"numeric", 'n', kNone, nullptr, 'n', nullptr, nullptr},
      {"connection", 'c', kNone, nullptr, 'c', nullptr, nullptr},
      {"mcast-interface", '\0', kString, nullptr, kCodeMcastInterface, nullptr, nullptr},
      {"syncid", '\0', kString, nullptr, kCodeSyncId, nullptr, nullptr},
      {"timeout", '\0', kNone, nullptr, kCodeTimeout, nullptr, nullptr},
      {"daemon", '\0', kNone, nullptr, kCodeDaemon, nullptr, nullptr},
      {"stats", '\0', kNone, nullptr, kCodeStats, nullptr, nullptr},
      {"rate", '\0', kNone, nullptr, kCodeRate, nullptr, nullptr},
      {"thresholds", '\0', kNone, nullptr, kCodeThresholds, nullptr, nullptr},
      {"persistent-conn", '\0', kNone, nullptr, kCodePersistentConn, nullptr, nullptr},
      {"tun-info", '\0', kNone, nullptr, kCodeTunInfo, nullptr, nullptr},
      {"nosort", '\0', kNone, nullptr, kCodeNoSort, nullptr, nullptr},
      {"sort", '\0', kNone, nullptr, kCodeSort, nullptr, nullptr},
      {"exact", 'X', kNone, nullptr, 'X', nullptr, nullptr},
      {"ipv6", '6', kNone, nullptr, '6', nullptr, nullptr},
      {"ops", 'o', kNone, nullptr, 'o', nullptr, nullptr},
      {"pe", '\0', kString, nullptr, kCodePe, nullptr, nullptr},
      {"mcast-group", '\0', kString, nullptr, kCodeMcastGroup, nullptr, nullptr},
      {"mcast-port", '\0', kString, nullptr, kCodeMcastPort, nullptr, nullptr},
      {"mcast-ttl", '\0', kString, nullptr, kCodeMcastTtl, nullptr, nullptr},
      {"sync-maxlen", '\0', kString, nullptr, kCodeSyncMaxlen, nullptr, nullptr},
      {"tun-type", '\0', kString, nullptr, kCodeTunType, nullptr, nullptr},
      {"tun-port", '\0', kString, nullptr, kCodeTunPort, nullptr, nullptr},
      {"tun-nocsum", '\0', kNone, nullptr, kCodeTunNoCsum, nullptr, nullptr},
      {"tun-csum", '\0', kNone, nullptr, kCodeTunCsum, nullptr, nullptr},
      {"tun-remcsum", '\0', kNone, nullptr, kCodeTunRemCsum, nullptr, nullptr},
      {"laddr", 'z', kString, nullptr, 'z', nullptr, nullptr},
      {"synproxy", 'j', kString, nullptr, 'j', nullptr, nullptr},
  };
  if (fullnat_b) {
    table.push_back({"fullnat", 'b', kNone, nullptr, kCodeFullNat, nullptr, nullptr});
    table.push_back({"sched-flags", '\0', kString, nullptr, kCodeSchedFlags, nullptr, nullptr});
  } else {
    table.push_back({"sched-flags", 'b', kString, nullptr, kCodeSchedFlags, nullptr, nullptr});
  }
  table.push_back(POPT_TABLEEND);
  return table;
}

struct PoptContextDeleter {
  void operator()(poptContext ctx) const { poptFreeContext(ctx); }
};
using PoptContextPtr = std::unique_ptr<std::remove_pointer_t<poptContext>, PoptContextDeleter>;

// poptGetOptArg() hands over a malloc()ed copy of the option's argument.
struct FreeDeleter {
  void operator()(char* p) const { std::free(p); }
};
using PoptArg = std::unique_ptr<char, FreeDeleter>;

class Parser {
 public:
  explicit Parser(const std::vector<std::string>& argv) : argv_(argv) {}

  ParseResult run();

 private:
  // Every step returns true to go on, or false once result_ holds the failure.
  bool fail(const std::string& message);
  bool try_help();
  bool popt_failure(poptContext ctx, int rc);

  // What one option family's take_*_option() did: nullopt if `code` is not one of the
  // family's options, else the step's result (true to go on).
  using Taken = std::optional<bool>;

  bool start_command(int code, const char* arg);
  bool take_option(int code, const char* arg, poptContext ctx);
  Taken take_service_option(int code, const std::string& arg, bool has_arg);
  Taken take_server_option(int code, const std::string& arg);
  Taken take_list_option(int code);
  Taken take_daemon_option(int code, const std::string& arg);
  bool set_option(OptionBit bit);
  // Sets `bit`, then *out = arg if it is an integer in [min, max], else fails with `message`.
  template <typename T>
  bool take_number(OptionBit bit, const std::string& arg, long min, long max, const char* message,
                   T* out);
  bool take_service(int code, const std::string& arg);
  bool take_fwmark(const std::string& arg);
  bool take_persistent(const std::string& arg, bool has_arg);
  bool take_netmask(const std::string& arg);
  bool take_synproxy(const std::string& arg);
  bool take_server(const std::string& arg);
  bool take_tun_type(const std::string& arg);
  bool take_mcast_group(const std::string& arg);
  bool read_set_values(poptContext ctx);
  bool apply_sched_flags();
  bool check_legality();
  bool check_service_definition();
  bool check_server_definition();
  bool check_tunnel_type();
  bool check_list_options();

  bool has(OptionBit bit) const { return cmd_.has(bit); }

  const std::vector<std::string>& argv_;
  Command cmd_;
  // Protocol of the service option parsed so far; 0 until then, so `-r host:name` before `-t`
  // cannot resolve a port name (ipvsadm reads names in the service's protocol).
  uint8_t protocol_ = 0;
  // -b argument, kept until the whole line is read because its compatibility check depends on
  // -s, which may come later.
  std::optional<std::string> sched_flags_arg_;
  ParseResult result_;
};

bool Parser::fail(const std::string& message) {
  result_.command.reset();
  result_.error = message + "\n";
  result_.exit_code = kExitFail;
  return false;
}

bool Parser::try_help() {
  const std::string& prog = argv_.empty() ? std::string() : argv_[0];
  result_.command.reset();
  result_.error = "Try `" + prog + " -h' or '" + prog + " --help' for more information.\n";
  result_.exit_code = kExitPopt;
  return false;
}

// poptStrerror() goes through gettext, so a process that called setlocale() would get translated
// text; ipvsadm never does, so the strings its option table can produce are pinned to English.
const char* popt_error_text(int rc) {
  switch (rc) {
    case POPT_ERROR_NOARG:
      return "missing argument";
    case POPT_ERROR_BADOPT:
      return "unknown option";
    case POPT_ERROR_UNWANTEDARG:
      return "option does not take an argument";
    default:
      return poptStrerror(rc);
  }
}

bool Parser::popt_failure(poptContext ctx, int rc) {
  const char* bad = poptBadOption(ctx, POPT_BADOPTION_NOALIAS);
  result_.command.reset();
  result_.error = std::string(bad ? bad : "") + ": " + popt_error_text(rc) + "\n";
  result_.exit_code = kExitPopt;
  return false;
}

bool Parser::set_option(OptionBit bit) {
  if (has(bit)) return fail(std::string("multiple '") + kOptionNames[bit] + "' options specified");
  cmd_.options |= opt(bit);
  return true;
}

template <typename T>
bool Parser::take_number(OptionBit bit, const std::string& arg, long min, long max,
                         const char* message, T* out) {
  if (!set_option(bit)) return false;
  auto n = parse_integer(arg, min, max);
  if (!n) return fail(message);
  *out = static_cast<T>(*n);
  return true;
}

bool Parser::start_command(int code, const char* arg) {
  CommandKind kind;
  switch (code) {
    case 'A':
      kind = CommandKind::kAddService;
      break;
    case 'E':
      kind = CommandKind::kEditService;
      break;
    case 'D':
      kind = CommandKind::kDelService;
      break;
    case 'C':
      kind = CommandKind::kFlush;
      break;
    case 'L':
    case 'l':
      kind = CommandKind::kList;
      break;
    case 'Z':
      kind = CommandKind::kZero;
      break;
    case 'a':
      kind = CommandKind::kAddDest;
      break;
    case 'e':
      kind = CommandKind::kEditDest;
      break;
    case 'd':
      kind = CommandKind::kDelDest;
      break;
    case kCodeSet:
      kind = CommandKind::kSetTimeout;
      break;
    case 'R':
      kind = CommandKind::kRestore;
      break;
    case 'S':
      kind = CommandKind::kSave;
      break;
    case 'h':
      kind = CommandKind::kHelp;
      break;
    case 'v':
      kind = CommandKind::kVersion;
      break;
    case 'P':
      kind = CommandKind::kAddLaddr;
      break;
    case 'Q':
      kind = CommandKind::kDelLaddr;
      break;
    case 'G':
      kind = CommandKind::kGetLaddr;
      break;
    case kCodePick:
      kind = CommandKind::kPick;
      break;
    case kCodeStartDaemon:
    case kCodeStopDaemon: {
      kind = code == kCodeStartDaemon ? CommandKind::kStartDaemon : CommandKind::kStopDaemon;
      std::string word = arg ? arg : "";
      if (word == "master") {
        cmd_.daemon.state = kDaemonMaster;
      } else if (word == "backup") {
        cmd_.daemon.state = kDaemonBackup;
      } else {
        // Both texts are ipvsadm's, including the underscore in the second.
        return fail(code == kCodeStartDaemon ? "illegal start-daemon parameter specified"
                                             : "illegal start_daemon specified");
      }
      break;
    }
    default:
      return try_help();
  }
  cmd_.kind = kind;
  return true;
}

bool Parser::take_service(int code, const std::string& arg) {
  if (!set_option(kOptService)) return false;
  uint8_t proto = code == 't' ? kProtoTcp : code == 'u' ? kProtoUdp : kProtoSctp;
  protocol_ = proto;
  cmd_.svc.key.protocol = proto;
  auto hp = parse_host_port(arg, proto);
  if (!hp) return fail("illegal virtual server address[:port] specified");
  cmd_.svc.key.af = hp->addr.family;
  cmd_.svc.key.addr = hp->addr;
  if (hp->addr.is_v6()) cmd_.svc.netmask = 128;
  if (hp->port) cmd_.svc.key.port = *hp->port;
  return true;
}

bool Parser::take_mcast_group(const std::string& arg) {
  if (!set_option(kOptMcastGroup)) return false;
  // A ':' anywhere decides the family, as in ipvsadm.
  if (arg.find(':') != std::string::npos) {
    in6_addr a6;
    if (inet_pton(AF_INET6, arg.c_str(), &a6) != 1 || !IN6_IS_ADDR_MULTICAST(&a6)) {
      return fail("invalid IPv6 mcast-group `" + arg + "'");
    }
    cmd_.daemon.mcast_group = InetAddr::v6(a6);
  } else {
    in_addr a4;
    if (inet_pton(AF_INET, arg.c_str(), &a4) != 1 || !IN_MULTICAST(ntohl(a4.s_addr))) {
      return fail("invalid IPv4 mcast-group `" + arg + "'");
    }
    cmd_.daemon.mcast_group = InetAddr::v4(ntohl(a4.s_addr));
  }
  cmd_.daemon.has_group = true;
  return true;
}

bool Parser::take_fwmark(const std::string& arg) {
  if (!set_option(kOptService)) return false;
  // Fwmark services carry TCP (ignored by the kernel) and are IPv4 until -6.
  cmd_.svc.key.af = AF_INET;
  cmd_.svc.key.protocol = kProtoTcp;
  protocol_ = kProtoTcp;
  auto mark = parse_fwmark(arg);
  if (!mark) return fail("invalid fwmark value `" + arg + "' specified");
  cmd_.svc.key.fwmark = *mark;
  return true;
}

bool Parser::take_persistent(const std::string& arg, bool has_arg) {
  if (!set_option(kOptPersistent)) return false;
  cmd_.svc.flags |= kSvcPersistent;
  if (!has_arg) {
    cmd_.svc.timeout = kDefaultPersistTimeout;
    return true;
  }
  auto t = parse_integer(arg, 1, kMaxTimeout);
  if (!t) return fail("invalid timeout value `" + arg + "' specified");
  cmd_.svc.timeout = static_cast<uint32_t>(*t);
  return true;
}

bool Parser::take_netmask(const std::string& arg) {
  if (!set_option(kOptNetmask)) return false;
  // The family known at this point decides: -M before an IPv6 -t is read as IPv4 (and
  // then overwritten by the IPv6 address's /128).
  if (cmd_.svc.key.af != AF_INET6) {
    auto mask = parse_ipv4_netmask(arg);
    if (!mask) return fail("illegal virtual server persistent mask specified");
    cmd_.svc.netmask = *mask;
  } else {
    auto prefix = parse_ipv6_prefix(arg);
    if (!prefix) return fail("illegal ipv6 netmask specified");
    cmd_.svc.netmask = *prefix;
  }
  return true;
}

bool Parser::take_synproxy(const std::string& arg) {
  if (!set_option(kOptSynproxy)) return false;
  if (arg == "enable") {
    cmd_.svc.flags |= kSvcSynproxy;
  } else if (arg == "disable") {
    cmd_.svc.flags &= ~kSvcSynproxy;
  } else {
    return fail("synproxy switch must be enable or disable");
  }
  return true;
}

bool Parser::take_server(const std::string& arg) {
  if (!set_option(kOptServer)) return false;
  auto hp = parse_host_port(arg, protocol_);
  if (!hp) return fail("illegal real server address[:port] specified");
  cmd_.dest.key.addr = hp->addr;
  // Without a port the service port known so far is used (0 if -t comes later).
  cmd_.dest.key.port = hp->port ? *hp->port : cmd_.svc.key.port;
  return true;
}

bool Parser::take_tun_type(const std::string& arg) {
  if (!set_option(kOptTunType)) return false;
  if (arg == "ipip") {
    cmd_.dest.tun_type = TunType::kIpip;
  } else if (arg == "gue") {
    cmd_.dest.tun_type = TunType::kGue;
  } else if (arg == "gre") {
    cmd_.dest.tun_type = TunType::kGre;
  } else {
    return fail("illegal tunnel type specified");
  }
  return true;
}

bool Parser::take_option(int code, const char* raw_arg, poptContext ctx) {
  const std::string arg = raw_arg ? raw_arg : "";
  if (Taken taken = take_service_option(code, arg, raw_arg != nullptr)) return *taken;
  if (Taken taken = take_server_option(code, arg)) return *taken;
  if (Taken taken = take_list_option(code)) return *taken;
  if (Taken taken = take_daemon_option(code, arg)) return *taken;
  // A command letter after the command: known to popt, not an option here.
  const char* bad = poptBadOption(ctx, POPT_BADOPTION_NOALIAS);
  return fail(std::string("invalid option `") + (bad ? bad : "") + "'");
}

// The virtual service and its definition (-A/-E).
Parser::Taken Parser::take_service_option(int code, const std::string& arg, bool has_arg) {
  switch (code) {
    case 't':
    case 'u':
    case kCodeSctpService:
      return take_service(code, arg);
    case 'f':
      return take_fwmark(arg);
    case '6':
      // -6 is not an option bit: it only turns an already given fwmark service into IPv6.
      if (!cmd_.svc.key.is_fwmark()) return fail("-6 used before -f\n");
      cmd_.svc.key.af = AF_INET6;
      cmd_.svc.netmask = 128;
      return true;
    case 's':
      if (!set_option(kOptScheduler)) return false;
      cmd_.svc.sched_name = arg.substr(0, kSchedNameMax);
      return true;
    case 'p':
      return take_persistent(arg, has_arg);
    case 'M':
      return take_netmask(arg);
    case 'o':
      if (!set_option(kOptOnePacket)) return false;
      cmd_.svc.flags |= kSvcOnePacket;
      return true;
    case kCodePe:
      if (!set_option(kOptPe)) return false;
      cmd_.svc.pe_name = arg.substr(0, kPeNameMax);
      return true;
    case kCodeSchedFlags:
      if (!set_option(kOptSchedFlags)) return false;
      sched_flags_arg_ = arg.substr(0, kSchedFlagsArgMax);
      return true;
    case 'j':
      return take_synproxy(arg);
    default:
      return std::nullopt;
  }
}

// Real-server options (-a/-e/-d), and -z, the FULLNAT local address of -P/-Q.
Parser::Taken Parser::take_server_option(int code, const std::string& arg) {
  switch (code) {
    case 'r':
      return take_server(arg);
    case 'm':
    case 'i':
    case 'g':
    case kCodeFullNat:
      if (!set_option(kOptForward)) return false;
      cmd_.dest.fwd = code == 'm'   ? Fwd::kMasq
                      : code == 'i' ? Fwd::kTunnel
                      : code == 'g' ? Fwd::kRoute
                                    : Fwd::kFullNat;
      return true;
    case 'w':
      return take_number(kOptWeight, arg, 0, kMaxWeight, "illegal weight specified",
                         &cmd_.dest.weight);
    case 'x':
      return take_number(kOptUThreshold, arg, 0, kMaxThreshold, "illegal u_threshold specified",
                         &cmd_.dest.u_threshold);
    case 'y':
      return take_number(kOptLThreshold, arg, 0, kMaxThreshold, "illegal l_threshold specified",
                         &cmd_.dest.l_threshold);
    case kCodeTunType:
      return take_tun_type(arg);
    case kCodeTunPort:
      return take_number(kOptTunPort, arg, 1, 65535, "illegal tunnel port specified",
                         &cmd_.dest.tun_port);
    case kCodeTunNoCsum:
      cmd_.dest.tun_flags = TunCsum::kNoCsum;
      return set_option(kOptTunNoCsum);
    case kCodeTunCsum:
      cmd_.dest.tun_flags = TunCsum::kCsum;
      return set_option(kOptTunCsum);
    case kCodeTunRemCsum:
      cmd_.dest.tun_flags = TunCsum::kRemCsum;
      return set_option(kOptTunRemCsum);
    case 'z': {
      if (!set_option(kOptLaddr)) return false;
      // Same syntax as a server address; a port, if any, is read and ignored.
      auto hp = parse_host_port(arg, protocol_);
      if (!hp) return fail("illegal local address");
      cmd_.laddr = hp->addr;
      return true;
    }
    default:
      return std::nullopt;
  }
}

Parser::Taken Parser::take_list_option(int code) {
  // Sorting is the default; --sort is accepted for compatibility and not recorded.
  if (code == kCodeSort) return true;
  for (const ListSwitch& list_switch : kListSwitches) {
    if (list_switch.code != code) continue;
    cmd_.list.*list_switch.field = true;
    return set_option(list_switch.bit);
  }
  return std::nullopt;
}

// The sync daemon's settings (--start-daemon/--stop-daemon).
Parser::Taken Parser::take_daemon_option(int code, const std::string& arg) {
  switch (code) {
    case kCodeMcastInterface:
      if (!set_option(kOptMcastIfn)) return false;
      cmd_.daemon.mcast_ifn = arg.substr(0, kIfNameMax);
      return true;
    case kCodeSyncId:
      return take_number(kOptSyncId, arg, 0, kMaxSyncId, "illegal syncid specified",
                         &cmd_.daemon.syncid);
    case kCodeMcastGroup:
      return take_mcast_group(arg);
    case kCodeMcastPort:
      return take_number(kOptMcastPort, arg, 1, 65535, "illegal mcast-port specified",
                         &cmd_.daemon.mcast_port);
    case kCodeMcastTtl:
      return take_number(kOptMcastTtl, arg, 1, 255, "illegal mcast-ttl specified",
                         &cmd_.daemon.mcast_ttl);
    case kCodeSyncMaxlen:
      return take_number(kOptSyncMaxlen, arg, 1, kMaxSyncMaxlen, "illegal sync-maxlen specified",
                         &cmd_.daemon.sync_maxlen);
    default:
      return std::nullopt;
  }
}

bool Parser::read_set_values(poptContext ctx) {
  std::array<const char*, 3> words{};
  for (auto& w : words) {
    w = poptGetArg(ctx);
    if (w == nullptr) return fail("--set option requires 3 timeout values");
  }
  std::array<int32_t*, 3> slots = {&cmd_.timeouts.tcp, &cmd_.timeouts.tcp_fin, &cmd_.timeouts.udp};
  for (size_t i = 0; i < words.size(); ++i) {
    auto t = parse_integer(words[i], 0, kMaxTimeout);
    if (!t) return fail(std::string("invalid timeout value `") + words[i] + "' specified");
    *slots[i] = static_cast<int32_t>(*t);
  }
  return true;
}

bool Parser::apply_sched_flags() {
  // An empty -b argument sets the option but no flag, as in ipvsadm.
  if (!sched_flags_arg_ || sched_flags_arg_->empty()) return true;
  // The check uses the -s value, or the default the service will get.
  const std::string sched = cmd_.svc.sched_name.empty() ? "wlc" : cmd_.svc.sched_name;
  uint32_t flags = 0;
  const std::string& list = *sched_flags_arg_;
  size_t pos = 0;
  // Empty items (",,", leading or trailing ',') are skipped, like strtok() does. A list made
  // only of commas crashes ipvsadm; here it sets no flag.
  while (pos <= list.size()) {
    size_t comma = list.find(',', pos);
    if (comma == std::string::npos) comma = list.size();
    std::string flag = list.substr(pos, comma - pos);
    pos = comma + 1;
    if (flag.empty()) continue;
    const char* needs = nullptr;  // scheduler a flag is restricted to
    if (flag == "flag-1") {
      flags |= kSvcSched1;
    } else if (flag == "flag-2") {
      flags |= kSvcSched2;
    } else if (flag == "flag-3") {
      flags |= kSvcSched3;
    } else if (flag == "sh-fallback") {
      flags |= kSvcSched1;
      needs = "sh";
    } else if (flag == "sh-port") {
      flags |= kSvcSched2;
      needs = "sh";
    } else if (flag == "mh-fallback") {
      flags |= kSvcSched1;
      needs = "mh";
    } else if (flag == "mh-port") {
      flags |= kSvcSched2;
      needs = "mh";
    } else {
      return fail("invalid scheduler flag `" + flag + "'");
    }
    if (needs != nullptr && sched != needs) {
      return fail("incompatible scheduler flag `" + flag + "'");
    }
  }
  cmd_.svc.flags = (cmd_.svc.flags & ~kSvcSchedMask) | flags;
  return true;
}

bool Parser::check_legality() {
  const CommandSpec* spec = find_spec(cmd_.kind);
  if (spec == nullptr) return true;
  int first_exclusive = -1;
  for (int bit = 0; bit < kOptCount; ++bit) {
    const char cell = spec->legality[bit];
    const char* name = kOptionNames[bit];
    if (!has(static_cast<OptionBit>(bit))) {
      if (cell == '+') {
        return fail(std::string("You need to supply the '") + name + "' option for the '" +
                    spec->name + "' command");
      }
      continue;
    }
    if (cell == 'x') {
      return fail(std::string("Illegal '") + name + "' option with the '" + spec->name +
                  "' command");
    }
    if (cell == '1') {
      if (first_exclusive < 0) {
        first_exclusive = bit;
        continue;
      }
      return fail(std::string("The option '") + name + "' conflicts with the '" +
                  kOptionNames[first_exclusive] + "' option in the '" + spec->name + "' command");
    }
  }
  return true;
}

bool Parser::check_service_definition() {
  ServiceConfig& svc = cmd_.svc;
  if (zero_port_refused(svc)) return fail("Zero port specified for non-persistent service");
  if (one_packet_refused(svc)) {
    return fail("One-Packet Scheduling is only for UDP virtual services");
  }
  // -A and -E both send a complete definition, so an omitted -s means wlc again.
  if (svc.sched_name.empty()) svc.sched_name = "wlc";
  return true;
}

bool Parser::check_tunnel_type() {
  const TunnelSpec& spec = kTunnelSpecs[static_cast<int>(cmd_.dest.tun_type)];
  int first_exclusive = -1;
  for (size_t i = 0; i < kTunnelOptionBits.size(); ++i) {
    const OptionBit bit = kTunnelOptionBits[i];
    const char cell = spec.legality[i];
    const char* name = kOptionNames[bit];
    if (!has(bit)) {
      if (cell == '+') {
        return fail(std::string("You need to supply the '") + name + "' option for the '" +
                    spec.name + "' tunnel type");
      }
      continue;
    }
    if (cell == 'x') {
      return fail(std::string("Illegal '") + name + "' option with the '" + spec.name +
                  "' tunnel type");
    }
    if (cell == '1') {
      if (first_exclusive < 0) {
        first_exclusive = bit;
        continue;
      }
      return fail(std::string("The option '") + name + "' conflicts with the '" +
                  kOptionNames[first_exclusive] + "' option in the '" + spec.name +
                  "' tunnel type");
    }
  }
  return true;
}

bool Parser::check_server_definition() {
  const ServiceKey& key = cmd_.svc.key;
  DestConfig& dest = cmd_.dest;
  // DR and tunnelled packets keep their destination port, so the server port is the service
  // port whatever was typed (fwmark services have no port of their own).
  if (!key.is_fwmark() && (dest.fwd == Fwd::kTunnel || dest.fwd == Fwd::kRoute)) {
    dest.key.port = key.port;
  }
  if (dest.key.addr.family != key.af && dest.fwd != Fwd::kTunnel) {
    return fail("Different address family is allowed only for tunneling servers");
  }
  constexpr uint64_t kTunnelOptions = opt(kOptTunType) | opt(kOptTunPort) | opt(kOptTunNoCsum) |
                                      opt(kOptTunCsum) | opt(kOptTunRemCsum);
  if ((cmd_.options & kTunnelOptions) && dest.fwd != Fwd::kTunnel) {
    return fail("Tunnel options conflict with forward method");
  }
  return check_tunnel_type();
}

bool Parser::check_list_options() {
  const uint64_t o = cmd_.options;
  const uint64_t kinds = opt(kOptConnection) | opt(kOptTimeout) | opt(kOptDaemon);
  const uint64_t table_formats = opt(kOptStats) | opt(kOptRate) | opt(kOptThresholds);
  const uint64_t config_kinds = opt(kOptTimeout) | opt(kOptDaemon);
  if (((o & kinds) && (o & table_formats)) ||
      ((o & config_kinds) && (o & opt(kOptPersistentConn)))) {
    return fail("options conflicts in the list command");
  }
  return true;
}

ParseResult Parser::run() {
  std::vector<const char*> c_argv;
  c_argv.reserve(argv_.size() + 1);
  for (const auto& word : argv_) c_argv.push_back(word.c_str());
  c_argv.push_back(nullptr);
  const int argc = static_cast<int>(argv_.size());

  // The tables must outlive the contexts that point at them (declared first, destroyed last).
  const std::vector<poptOption> mainline = option_table(false);
  std::vector<poptOption> fullnat;
  PoptContextPtr ctx(poptGetContext("ipvsadm", argc, c_argv.data(), mainline.data(), 0));
  int rc = poptGetNextOpt(ctx.get());
  if (rc == 'a' || rc == 'e') {
    // The command decides how -b parses; start over with the FULLNAT table. The first option
    // is the same command under both tables.
    fullnat = option_table(true);
    ctx.reset(poptGetContext("ipvsadm", argc, c_argv.data(), fullnat.data(), 0));
    rc = poptGetNextOpt(ctx.get());
  }
  if (rc < 0) {
    try_help();
    return result_;
  }
  {
    PoptArg arg(poptGetOptArg(ctx.get()));
    if (!start_command(rc, arg.get())) return result_;
  }
  if (cmd_.kind == CommandKind::kHelp || cmd_.kind == CommandKind::kVersion) {
    // ipvsadm prints and exits at once; the rest of the line is never looked at.
    result_.command = cmd_;
    return result_;
  }

  while ((rc = poptGetNextOpt(ctx.get())) >= 0) {
    PoptArg arg(poptGetOptArg(ctx.get()));
    if (!take_option(rc, arg.get(), ctx.get())) return result_;
  }
  if (rc < -1) {
    popt_failure(ctx.get(), rc);
    return result_;
  }

  if (cmd_.kind == CommandKind::kSetTimeout && !read_set_values(ctx.get())) return result_;
  if (const char* extra = poptGetArg(ctx.get())) {
    fail(std::string("unexpected argument ") + extra);
    return result_;
  }
  if (!apply_sched_flags() || !check_legality()) return result_;

  switch (cmd_.kind) {
    case CommandKind::kAddService:
    case CommandKind::kEditService:
      if (!check_service_definition()) return result_;
      break;
    case CommandKind::kStartDaemon:
      if (cmd_.daemon.mcast_ifn.empty()) cmd_.daemon.mcast_ifn = "eth0";
      break;
    case CommandKind::kAddDest:
    case CommandKind::kEditDest:
      if (!check_server_definition()) return result_;
      break;
    case CommandKind::kList:
      if (!check_list_options()) return result_;
      break;
    default:
      break;
  }

  result_.command = std::move(cmd_);
  return result_;
}

}  // namespace

ParseResult parse_command_line(const std::vector<std::string>& argv) {
  if (argv.size() <= 1) {
    // No arguments at all: list everything, with name resolution.
    ParseResult result;
    Command cmd;
    cmd.kind = CommandKind::kList;
    result.command = cmd;
    return result;
  }
  Parser parser(argv);
  return parser.run();
}

std::vector<std::string> split_restore_line(std::string_view line, std::string_view progname) {
  auto is_separator = [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; };
  std::vector<std::string> words;
  size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && is_separator(line[i])) ++i;
    const size_t start = i;
    while (i < line.size() && !is_separator(line[i])) ++i;
    if (i == start) continue;
    std::string_view word = line.substr(start, i - start);
    if (word != "ipvsadm") words.emplace_back(word);
  }
  if (words.empty()) return {};
  words.insert(words.begin(), std::string(progname));
  return words;
}

std::optional<ParseResult> parse_restore_line(std::string_view line, std::string_view progname) {
  const size_t first = line.find_first_not_of(" \t\r\n");
  if (first == std::string_view::npos || line[first] == '#') return std::nullopt;
  auto argv = split_restore_line(line, progname);
  // A line of nothing but "ipvsadm" words is as empty as a blank one.
  if (argv.size() <= 1) return std::nullopt;
  return parse_command_line(argv);
}

bool RestoreReader::next(RestoreLine& line) {
  std::string text;
  while (std::getline(in_, text)) {
    ++lineno_;
    auto parsed = parse_restore_line(text, progname_);
    if (!parsed) continue;
    line.lineno = lineno_;
    line.text = std::move(text);
    line.parsed = std::move(*parsed);
    return true;
  }
  return false;
}

}  // namespace uvs::cli
