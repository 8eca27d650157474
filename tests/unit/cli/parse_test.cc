// The ipvsadm command line as uvsadm parses it (ipvsadm's parse_options(), process_options(), -R
// line splitting; Alibaba LVS FULLNAT/SYNPROXY extensions).
// Only numeric addresses and `localhost` (from /etc/hosts) are used: there is no DNS here.
#include "cli/parse.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace uvs::cli {
namespace {

ParseResult run(std::vector<std::string> args, const std::string& prog = "ipvsadm") {
  args.insert(args.begin(), prog);
  return parse_command_line(args);
}

// Parses `args` and expects success; returns the command (a default one on failure).
Command ok(const std::vector<std::string>& args) {
  ParseResult r = run(args);
  EXPECT_TRUE(r.command.has_value()) << "stderr: " << r.error;
  EXPECT_EQ(r.error, "");
  EXPECT_EQ(r.exit_code, 0);
  return r.command.value_or(Command{});
}

::testing::AssertionResult fails(const std::vector<std::string>& args, const std::string& error,
                                 int exit_code) {
  ParseResult r = run(args);
  if (r.command.has_value()) return ::testing::AssertionFailure() << "parsed without error";
  if (r.error != error || r.exit_code != exit_code) {
    return ::testing::AssertionFailure() << "stderr [" << r.error << "] exit " << r.exit_code
                                         << ", wanted [" << error << "] exit " << exit_code;
  }
  return ::testing::AssertionSuccess();
}

// ipvsadm's fail(): message plus newline, exit 2.
::testing::AssertionResult fails2(const std::vector<std::string>& args, const std::string& msg) {
  return fails(args, msg + "\n", 2);
}

// A popt error after the command: "<option>: <popt text>", exit 255.
::testing::AssertionResult popt_error(const std::vector<std::string>& args,
                                      const std::string& msg) {
  return fails(args, msg + "\n", 255);
}

const char kTryHelp[] = "Try `ipvsadm -h' or 'ipvsadm --help' for more information.\n";

InetAddr addr(const char* text) { return *InetAddr::parse(text); }

// ---------------------------------------------------------------------------------------------
// Commands from the seed documents.

TEST(ParseSeeds, AddServiceRoundRobin) {
  Command c = ok({"-A", "-t", "192.168.56.102:80", "-s", "rr"});
  EXPECT_EQ(c.kind, CommandKind::kAddService);
  EXPECT_EQ(c.options, opt(kOptService) | opt(kOptScheduler));
  EXPECT_EQ(c.svc.key.af, AF_INET);
  EXPECT_EQ(c.svc.key.protocol, kProtoTcp);
  EXPECT_EQ(c.svc.key.addr, addr("192.168.56.102"));
  EXPECT_EQ(c.svc.key.port, 80);
  EXPECT_EQ(c.svc.key.fwmark, 0u);
  EXPECT_EQ(c.svc.sched_name, "rr");
  EXPECT_EQ(c.svc.flags, 0u);
  EXPECT_EQ(c.svc.timeout, 0u);
  EXPECT_EQ(c.svc.netmask, 0xffffffffu);
  EXPECT_EQ(c.svc.pe_name, "");
}

TEST(ParseSeeds, AddServiceWrr) {
  Command c = ok({"-A", "-t", "10.0.0.200:8080", "-s", "wrr"});
  EXPECT_EQ(c.svc.key.addr, addr("10.0.0.200"));
  EXPECT_EQ(c.svc.key.port, 8080);
  EXPECT_EQ(c.svc.sched_name, "wrr");
}

TEST(ParseSeeds, AddServerMasqWithPort) {
  Command c = ok({"-a", "-t", "192.168.56.102:80", "-r", "172.17.0.2:8000", "-m"});
  EXPECT_EQ(c.kind, CommandKind::kAddDest);
  EXPECT_EQ(c.options, opt(kOptService) | opt(kOptServer) | opt(kOptForward));
  EXPECT_EQ(c.svc.key.addr, addr("192.168.56.102"));
  EXPECT_EQ(c.svc.key.port, 80);
  EXPECT_EQ(c.dest.key.addr, addr("172.17.0.2"));
  EXPECT_EQ(c.dest.key.port, 8000);
  EXPECT_EQ(c.dest.fwd, Fwd::kMasq);
  EXPECT_EQ(c.dest.weight, 1);
  EXPECT_EQ(c.dest.u_threshold, 0u);
  EXPECT_EQ(c.dest.l_threshold, 0u);
}

TEST(ParseSeeds, AddServerMasqCopiesServicePort) {
  Command c = ok({"-a", "-t", "10.0.0.200:8080", "-r", "10.0.0.13", "-m"});
  EXPECT_EQ(c.dest.key.addr, addr("10.0.0.13"));
  EXPECT_EQ(c.dest.key.port, 8080);
  EXPECT_EQ(c.dest.fwd, Fwd::kMasq);
}

TEST(ParseSeeds, AddServerGatewaying) {
  Command c = ok({"-a", "-t", "10.0.0.200:8080", "-r", "10.0.0.14", "-g"});
  EXPECT_EQ(c.dest.key.port, 8080);
  EXPECT_EQ(c.dest.fwd, Fwd::kRoute);

  c = ok({"-a", "-t", "192.168.56.200:80", "-r", "192.168.56.104:80", "-g", "-w", "3"});
  EXPECT_EQ(c.dest.fwd, Fwd::kRoute);
  EXPECT_EQ(c.dest.weight, 3);
  EXPECT_EQ(c.options, opt(kOptService) | opt(kOptServer) | opt(kOptForward) | opt(kOptWeight));
}

TEST(ParseSeeds, AddServerTunnel) {
  Command c = ok({"-a", "-t", "192.168.56.210:80", "-r", "192.168.56.102:80", "-i"});
  EXPECT_EQ(c.dest.fwd, Fwd::kTunnel);
  EXPECT_EQ(c.dest.tun_type, TunType::kIpip);
  EXPECT_EQ(c.dest.key.port, 80);
}

TEST(ParseSeeds, AddServerFullNat) {
  Command c = ok({"-a", "-t", "192.168.58.200:80", "-r", "192.168.56.102:80", "-b", "-w", "2"});
  EXPECT_EQ(c.kind, CommandKind::kAddDest);
  EXPECT_EQ(c.dest.fwd, Fwd::kFullNat);
  EXPECT_EQ(c.dest.weight, 2);
  EXPECT_EQ(c.dest.key.addr, addr("192.168.56.102"));
  EXPECT_EQ(c.dest.key.port, 80);
  EXPECT_EQ(c.options, opt(kOptService) | opt(kOptServer) | opt(kOptForward) | opt(kOptWeight));

  c = ok({"-e", "-t", "192.168.58.200:80", "-r", "192.168.56.104:80", "--fullnat", "-w", "1"});
  EXPECT_EQ(c.kind, CommandKind::kEditDest);
  EXPECT_EQ(c.dest.fwd, Fwd::kFullNat);
}

TEST(ParseSeeds, AddLocalAddress) {
  Command c = ok({"-P", "-t", "192.168.58.200:80", "-z", "192.168.58.100"});
  EXPECT_EQ(c.kind, CommandKind::kAddLaddr);
  EXPECT_EQ(c.options, opt(kOptService) | opt(kOptLaddr));
  EXPECT_EQ(c.svc.key.addr, addr("192.168.58.200"));
  EXPECT_EQ(c.svc.key.port, 80);
  EXPECT_EQ(c.laddr, addr("192.168.58.100"));

  c = ok({"--del-laddr", "-t", "192.168.58.200:80", "--laddr", "192.168.58.100"});
  EXPECT_EQ(c.kind, CommandKind::kDelLaddr);
  EXPECT_EQ(c.laddr, addr("192.168.58.100"));
}

TEST(ParseSeeds, SaveRestoreClear) {
  EXPECT_EQ(ok({"-S"}).kind, CommandKind::kSave);
  Command c = ok({"-S", "-n"});
  EXPECT_EQ(c.kind, CommandKind::kSave);
  EXPECT_TRUE(c.list.numeric);
  EXPECT_TRUE(ok({"-Sn"}).list.numeric);
  EXPECT_EQ(ok({"--save"}).kind, CommandKind::kSave);
  EXPECT_EQ(ok({"-R"}).kind, CommandKind::kRestore);
  EXPECT_EQ(ok({"--restore"}).kind, CommandKind::kRestore);
  EXPECT_EQ(ok({"-C"}).kind, CommandKind::kFlush);
  EXPECT_EQ(ok({"--clear"}).kind, CommandKind::kFlush);
}

TEST(ParseSeeds, Listings) {
  Command c = ok({"-Ln"});
  EXPECT_EQ(c.kind, CommandKind::kList);
  EXPECT_EQ(c.options, opt(kOptNumeric));
  EXPECT_TRUE(c.list.numeric);
  EXPECT_FALSE(c.list.stats);

  c = ok({"-ln", "--stats"});
  EXPECT_EQ(c.kind, CommandKind::kList);
  EXPECT_TRUE(c.list.numeric);
  EXPECT_TRUE(c.list.stats);
  EXPECT_EQ(c.options, opt(kOptNumeric) | opt(kOptStats));

  c = ok({"-ln", "--rate"});
  EXPECT_TRUE(c.list.rate);
  EXPECT_FALSE(c.list.stats);

  c = ok({"-L"});
  EXPECT_EQ(c.kind, CommandKind::kList);
  EXPECT_FALSE(c.list.numeric);
  EXPECT_EQ(c.options, 0u);
}

TEST(ParseSeeds, NoArgumentsListsWithNames) {
  ParseResult r = parse_command_line({"ipvsadm"});
  ASSERT_TRUE(r.command.has_value());
  EXPECT_EQ(r.command->kind, CommandKind::kList);
  EXPECT_FALSE(r.command->list.numeric);
  EXPECT_EQ(r.command->options, 0u);
}

TEST(ParseSeeds, HelpAndVersion) {
  EXPECT_EQ(ok({"-h"}).kind, CommandKind::kHelp);
  EXPECT_EQ(ok({"--help"}).kind, CommandKind::kHelp);
  EXPECT_EQ(ok({"-v"}).kind, CommandKind::kVersion);
  EXPECT_EQ(ok({"--version"}).kind, CommandKind::kVersion);
  // ipvsadm prints and exits as soon as it sees them: the rest is never parsed.
  EXPECT_EQ(ok({"-h", "--bogus", "x"}).kind, CommandKind::kHelp);
  EXPECT_EQ(ok({"-hn"}).kind, CommandKind::kHelp);
  EXPECT_EQ(ok({"-v", "-A"}).kind, CommandKind::kVersion);
}

TEST(ParseSeeds, OtherCommands) {
  Command c = ok({"-D", "-t", "10.0.0.1:80"});
  EXPECT_EQ(c.kind, CommandKind::kDelService);
  EXPECT_EQ(c.options, opt(kOptService));

  c = ok({"-d", "-t", "10.0.0.1:80", "-r", "10.0.0.2"});
  EXPECT_EQ(c.kind, CommandKind::kDelDest);
  EXPECT_EQ(c.dest.key.addr, addr("10.0.0.2"));
  EXPECT_EQ(c.dest.key.port, 80);

  c = ok({"-Z"});
  EXPECT_EQ(c.kind, CommandKind::kZero);
  EXPECT_EQ(c.options, 0u);
  c = ok({"--zero", "-u", "10.0.0.1:53"});
  EXPECT_EQ(c.kind, CommandKind::kZero);
  EXPECT_EQ(c.svc.key.protocol, kProtoUdp);

  c = ok({"-G"});
  EXPECT_EQ(c.kind, CommandKind::kGetLaddr);
  c = ok({"-G", "-n", "-t", "10.0.0.1:80"});
  EXPECT_EQ(c.kind, CommandKind::kGetLaddr);
  EXPECT_TRUE(c.list.numeric);
  EXPECT_EQ(c.options, opt(kOptNumeric) | opt(kOptService));
}

// ---------------------------------------------------------------------------------------------
// popt behaviour, first-option rule, messages (ipvsadm's parse_options()).

TEST(ParsePopt, ClusteredShortOptions) {
  Command c = ok({"-lcn"});
  EXPECT_EQ(c.kind, CommandKind::kList);
  EXPECT_TRUE(c.list.connections);
  EXPECT_TRUE(c.list.numeric);
  EXPECT_EQ(c.options, opt(kOptConnection) | opt(kOptNumeric));

  c = ok({"-At10.0.0.1:80", "-srr"});
  EXPECT_EQ(c.kind, CommandKind::kAddService);
  EXPECT_EQ(c.svc.key.addr, addr("10.0.0.1"));
  EXPECT_EQ(c.svc.sched_name, "rr");

  c = ok({"-a", "-t10.0.0.1:80", "-r10.0.0.2", "-mw5"});
  EXPECT_EQ(c.dest.fwd, Fwd::kMasq);
  EXPECT_EQ(c.dest.weight, 5);

  c = ok({"-ab", "-t", "10.0.0.1:80", "-r", "10.0.0.2"});
  EXPECT_EQ(c.dest.fwd, Fwd::kFullNat);
}

TEST(ParsePopt, LongOptionsWithEquals) {
  Command c = ok({"--add-service", "--tcp-service=10.0.0.1:80", "--scheduler=sh",
                  "--sched-flags=sh-port", "--persistent=600", "--netmask=255.255.0.0"});
  EXPECT_EQ(c.svc.sched_name, "sh");
  EXPECT_EQ(c.svc.flags, kSvcPersistent | kSvcSched2);
  EXPECT_EQ(c.svc.timeout, 600u);
  EXPECT_EQ(c.svc.netmask, 0xffff0000u);

  c = ok({"--add-server", "--tcp-service", "10.0.0.1:80", "--real-server", "10.0.0.2:81",
          "--masquerading", "--weight=7", "--u-threshold=100", "--l-threshold", "50"});
  EXPECT_EQ(c.dest.weight, 7);
  EXPECT_EQ(c.dest.u_threshold, 100u);
  EXPECT_EQ(c.dest.l_threshold, 50u);
  EXPECT_EQ(c.dest.key.port, 81);
}

TEST(ParsePopt, PersistentOptionalArgument) {
  Command c = ok({"-A", "-t", "10.0.0.1:80", "-p"});
  EXPECT_EQ(c.svc.flags, kSvcPersistent);
  EXPECT_EQ(c.svc.timeout, 360u);
  EXPECT_EQ(c.options, opt(kOptService) | opt(kOptPersistent));

  EXPECT_EQ(ok({"-A", "-t", "10.0.0.1:80", "-p", "600"}).svc.timeout, 600u);
  EXPECT_EQ(ok({"-A", "-t", "10.0.0.1:80", "-p600"}).svc.timeout, 600u);
  EXPECT_EQ(ok({"-A", "-t", "10.0.0.1:80", "--persistent", "900"}).svc.timeout, 900u);
  EXPECT_EQ(ok({"-A", "-t", "10.0.0.1:80", "-p", "2678400"}).svc.timeout, 2678400u);

  // A following word starting with '-' is not taken as the timeout.
  c = ok({"-A", "-p", "-t", "10.0.0.1:80", "-s", "rr"});
  EXPECT_EQ(c.svc.timeout, 360u);
  EXPECT_EQ(c.svc.sched_name, "rr");
  c = ok({"-A", "-t", "10.0.0.1:80", "-p", "-s", "rr"});
  EXPECT_EQ(c.svc.timeout, 360u);

  EXPECT_TRUE(
      fails2({"-A", "-t", "10.0.0.1:80", "-p", "0"}, "invalid timeout value `0' specified"));
  EXPECT_TRUE(fails2({"-A", "-t", "10.0.0.1:80", "-p", "2678401"},
                     "invalid timeout value `2678401' specified"));
  EXPECT_TRUE(
      fails2({"-A", "-t", "10.0.0.1:80", "-p", "abc"}, "invalid timeout value `abc' specified"));
  EXPECT_TRUE(fails2({"-A", "-t", "10.0.0.1:80", "-p", ""}, "invalid timeout value `' specified"));
  // "-5" is not the argument of -p, so popt reads it as an option.
  EXPECT_TRUE(popt_error({"-A", "-t", "10.0.0.1:80", "-p", "-5"}, "-5: unknown option"));
}

TEST(ParsePopt, FirstOptionMustBeACommand) {
  EXPECT_TRUE(fails({"-n", "-L"}, kTryHelp, 255));
  EXPECT_TRUE(fails({"-t", "10.0.0.1:80", "-A"}, kTryHelp, 255));
  EXPECT_TRUE(fails({"foo"}, kTryHelp, 255));
  EXPECT_TRUE(fails({"--bogus"}, kTryHelp, 255));
  EXPECT_TRUE(fails({"-q"}, kTryHelp, 255));
  EXPECT_TRUE(fails({"-L=x"}, kTryHelp, 255));            // a popt error on the command itself
  EXPECT_TRUE(fails({"--start-daemon"}, kTryHelp, 255));  // popt error on the first option
  EXPECT_TRUE(fails({"--", "-L"}, kTryHelp, 255));
  EXPECT_TRUE(fails({"--fullnat"}, kTryHelp, 255));
  EXPECT_TRUE(fails({"-z", "1.2.3.4"}, kTryHelp, 255));

  ParseResult r = run({"-n", "-L"}, "/sbin/ipvsadm");
  EXPECT_EQ(r.error, "Try `/sbin/ipvsadm -h' or '/sbin/ipvsadm --help' for more information.\n");
  EXPECT_EQ(r.exit_code, 255);
}

TEST(ParsePopt, ErrorsAfterTheCommand) {
  EXPECT_TRUE(popt_error({"-A", "-t"}, "-t: missing argument"));
  EXPECT_TRUE(popt_error({"-A", "--foo"}, "--foo: unknown option"));
  EXPECT_TRUE(popt_error({"-Lq"}, "-Lq: unknown option"));
  EXPECT_TRUE(popt_error({"-L", "--numeric=5"}, "--numeric=5: option does not take an argument"));
  EXPECT_TRUE(popt_error({"-a", "-t", "10.0.0.1:80", "-r"}, "-r: missing argument"));
  // Options are handled in order: an earlier fail() wins over a later popt error.
  EXPECT_TRUE(fails2({"-A", "-t", "10.0.0.1:80", "-w", "x", "--foo"}, "illegal weight specified"));
  EXPECT_TRUE(popt_error({"-A", "--foo", "-w", "x"}, "--foo: unknown option"));
}

TEST(ParsePopt, SecondCommandIsAnInvalidOption) {
  EXPECT_TRUE(fails2({"-A", "-A"}, "invalid option `-A'"));
  EXPECT_TRUE(fails2({"-AA"}, "invalid option `-AA'"));
  EXPECT_TRUE(fails2({"-L", "-n", "-l"}, "invalid option `-l'"));
  EXPECT_TRUE(fails2({"-L", "-C"}, "invalid option `-C'"));
  EXPECT_TRUE(fails2({"-L", "-h"}, "invalid option `-h'"));
  EXPECT_TRUE(fails2({"-L", "--set"}, "invalid option `--set'"));
  EXPECT_TRUE(fails2({"-L", "-P"}, "invalid option `-P'"));
  // popt consumed "master" as the argument, so it is the word reported.
  EXPECT_TRUE(fails2({"-L", "--start-daemon", "master"}, "invalid option `master'"));
}

TEST(ParsePopt, LeftoverWords) {
  EXPECT_TRUE(fails2({"-A", "-t", "10.0.0.1:80", "extra"}, "unexpected argument extra"));
  EXPECT_TRUE(fails2({"-L", "a", "b"}, "unexpected argument a"));
  EXPECT_TRUE(fails2({"-L", "--", "-n"}, "unexpected argument -n"));
}

TEST(ParsePopt, RepeatedOptions) {
  EXPECT_TRUE(fails2({"-A", "-t", "10.0.0.1:80", "-s", "rr", "-s", "wlc"},
                     "multiple 'scheduler' options specified"));
  EXPECT_TRUE(fails2({"-A", "-t", "10.0.0.1:80", "-u", "10.0.0.1:80"},
                     "multiple 'service-address' options specified"));
  EXPECT_TRUE(fails2({"-A", "-t", "10.0.0.1:80", "-f", "1"},
                     "multiple 'service-address' options specified"));
  EXPECT_TRUE(fails2({"-a", "-t", "10.0.0.1:80", "-r", "10.0.0.2", "-g", "-m"},
                     "multiple 'forwarding-method' options specified"));
  EXPECT_TRUE(fails2({"-a", "-t", "10.0.0.1:80", "-r", "10.0.0.2", "-b", "-m"},
                     "multiple 'forwarding-method' options specified"));
  EXPECT_TRUE(fails2({"-a", "-t", "10.0.0.1:80", "-r", "10.0.0.2", "-i", "--fullnat"},
                     "multiple 'forwarding-method' options specified"));
  EXPECT_TRUE(fails2({"-Lnn"}, "multiple 'numeric' options specified"));
  // The repeat is reported before the value is looked at.
  EXPECT_TRUE(fails2({"-a", "-t", "10.0.0.1:80", "-w", "1", "-w", "bad"},
                     "multiple 'weight' options specified"));
  // --sort is a no-op and not an option bit, so it may repeat; -6 likewise.
  Command c = ok({"-L", "--sort", "--sort"});
  EXPECT_EQ(c.options, 0u);
  c = ok({"-A", "-f", "1", "-6", "-6"});
  EXPECT_EQ(c.svc.key.af, AF_INET6);
}

// ---------------------------------------------------------------------------------------------
// Commands: --set, daemons.

TEST(ParseCommands, SetTimeouts) {
  Command c = ok({"--set", "900", "120", "300"});
  EXPECT_EQ(c.kind, CommandKind::kSetTimeout);
  EXPECT_EQ(c.timeouts.tcp, 900);
  EXPECT_EQ(c.timeouts.tcp_fin, 120);
  EXPECT_EQ(c.timeouts.udp, 300);
  EXPECT_EQ(c.options, 0u);

  c = ok({"--set", "0", "0", "2678400"});
  EXPECT_EQ(c.timeouts.tcp, 0);
  EXPECT_EQ(c.timeouts.tcp_fin, 0);
  EXPECT_EQ(c.timeouts.udp, 2678400);

  EXPECT_TRUE(fails2({"--set"}, "--set option requires 3 timeout values"));
  EXPECT_TRUE(fails2({"--set", "1", "2"}, "--set option requires 3 timeout values"));
  EXPECT_TRUE(fails2({"--set", "1", "x", "y"}, "invalid timeout value `x' specified"));
  EXPECT_TRUE(fails2({"--set", "2678401", "1", "1"}, "invalid timeout value `2678401' specified"));
  EXPECT_TRUE(fails2({"--set", "1", "2", "3", "4"}, "unexpected argument 4"));
  EXPECT_TRUE(
      fails2({"--set", "1", "2", "3", "-n"}, "Illegal 'numeric' option with the 'set' command"));
  EXPECT_TRUE(popt_error({"--set", "-1", "2", "3"}, "-1: unknown option"));
}

TEST(ParseCommands, StartDaemon) {
  Command c = ok({"--start-daemon", "master"});
  EXPECT_EQ(c.kind, CommandKind::kStartDaemon);
  EXPECT_EQ(c.daemon.state, kDaemonMaster);
  EXPECT_EQ(c.daemon.mcast_ifn, "eth0");
  EXPECT_EQ(c.daemon.syncid, 0);
  EXPECT_FALSE(c.daemon.has_group);
  EXPECT_EQ(c.daemon.mcast_port, 0);
  EXPECT_EQ(c.daemon.mcast_ttl, 0);
  EXPECT_EQ(c.daemon.sync_maxlen, 0);

  c = ok({"--start-daemon=backup", "--mcast-interface", "eth1", "--syncid", "7", "--mcast-group",
          "224.0.0.81", "--mcast-port", "8848", "--mcast-ttl", "2", "--sync-maxlen", "1472"});
  EXPECT_EQ(c.daemon.state, kDaemonBackup);
  EXPECT_EQ(c.daemon.mcast_ifn, "eth1");
  EXPECT_EQ(c.daemon.syncid, 7);
  EXPECT_TRUE(c.daemon.has_group);
  EXPECT_EQ(c.daemon.mcast_group, addr("224.0.0.81"));
  EXPECT_EQ(c.daemon.mcast_port, 8848);
  EXPECT_EQ(c.daemon.mcast_ttl, 2);
  EXPECT_EQ(c.daemon.sync_maxlen, 1472);
  EXPECT_EQ(c.options, opt(kOptMcastIfn) | opt(kOptSyncId) | opt(kOptMcastGroup) |
                           opt(kOptMcastPort) | opt(kOptMcastTtl) | opt(kOptSyncMaxlen));

  c = ok({"--start-daemon", "master", "--mcast-group", "ff02::1:2"});
  EXPECT_EQ(c.daemon.mcast_group, addr("ff02::1:2"));

  // Interface names keep 15 characters; an empty one falls back to eth0.
  EXPECT_EQ(
      ok({"--start-daemon", "master", "--mcast-interface", "abcdefghijklmnopq"}).daemon.mcast_ifn,
      "abcdefghijklmno");
  EXPECT_EQ(ok({"--start-daemon", "master", "--mcast-interface", ""}).daemon.mcast_ifn, "eth0");
}

TEST(ParseCommands, DaemonErrors) {
  EXPECT_TRUE(fails2({"--start-daemon", "slave"}, "illegal start-daemon parameter specified"));
  EXPECT_TRUE(fails2({"--stop-daemon", "slave"}, "illegal start_daemon specified"));
  EXPECT_TRUE(fails2({"--start-daemon", "Master"}, "illegal start-daemon parameter specified"));
  // The word is checked before anything after it.
  EXPECT_TRUE(fails2({"--start-daemon", "x", "--foo"}, "illegal start-daemon parameter specified"));

  EXPECT_TRUE(fails2({"--start-daemon", "master", "--syncid", "256"}, "illegal syncid specified"));
  EXPECT_TRUE(fails2({"--start-daemon", "master", "--syncid", "-1"}, "illegal syncid specified"));
  EXPECT_TRUE(fails2({"--start-daemon", "master", "--sync-maxlen", "65508"},
                     "illegal sync-maxlen specified"));
  EXPECT_EQ(ok({"--start-daemon", "master", "--sync-maxlen", "65507"}).daemon.sync_maxlen, 65507);
  EXPECT_TRUE(
      fails2({"--start-daemon", "master", "--sync-maxlen", "0"}, "illegal sync-maxlen specified"));
  EXPECT_TRUE(
      fails2({"--start-daemon", "master", "--mcast-port", "0"}, "illegal mcast-port specified"));
  EXPECT_TRUE(fails2({"--start-daemon", "master", "--mcast-port", "65536"},
                     "illegal mcast-port specified"));
  EXPECT_TRUE(
      fails2({"--start-daemon", "master", "--mcast-ttl", "0"}, "illegal mcast-ttl specified"));
  EXPECT_TRUE(
      fails2({"--start-daemon", "master", "--mcast-ttl", "256"}, "illegal mcast-ttl specified"));
  EXPECT_TRUE(fails2({"--start-daemon", "master", "--mcast-group", "10.0.0.1"},
                     "invalid IPv4 mcast-group `10.0.0.1'"));
  EXPECT_TRUE(fails2({"--start-daemon", "master", "--mcast-group", "224.1"},
                     "invalid IPv4 mcast-group `224.1'"));
  EXPECT_TRUE(fails2({"--start-daemon", "master", "--mcast-group", "2001:db8::1"},
                     "invalid IPv6 mcast-group `2001:db8::1'"));
  EXPECT_TRUE(fails2({"--start-daemon", "master", "--mcast-group", "224.0.0.81:1"},
                     "invalid IPv6 mcast-group `224.0.0.81:1'"));
}

TEST(ParseCommands, StopDaemon) {
  Command c = ok({"--stop-daemon", "backup"});
  EXPECT_EQ(c.kind, CommandKind::kStopDaemon);
  EXPECT_EQ(c.daemon.state, kDaemonBackup);
  EXPECT_EQ(c.daemon.mcast_ifn, "");  // the eth0 default is only for starting
  c = ok({"--stop-daemon", "master", "--syncid", "3"});
  EXPECT_EQ(c.daemon.syncid, 3);
  EXPECT_TRUE(fails2({"--stop-daemon", "master", "--mcast-interface", "eth0"},
                     "Illegal 'mcast-interface' option with the 'stop-daemon' command"));
}

// ---------------------------------------------------------------------------------------------
// Addresses (ipvsadm's parse_service(), parse_fwmark()).

TEST(ParseAddress, Ipv4LegacyFormsAndLocalhost) {
  EXPECT_EQ(ok({"-A", "-t", "10.1:80"}).svc.key.addr, addr("10.0.0.1"));
  EXPECT_EQ(ok({"-A", "-t", "0x0a000001:80"}).svc.key.addr, addr("10.0.0.1"));
  EXPECT_EQ(ok({"-A", "-t", "167772161:80"}).svc.key.addr, addr("10.0.0.1"));
  Command c = ok({"-A", "-t", "localhost:80"});
  EXPECT_EQ(c.svc.key.addr, addr("127.0.0.1"));
  EXPECT_EQ(c.svc.key.af, AF_INET);
}

TEST(ParseAddress, PortForms) {
  Command c = ok({"-A", "-t", "10.0.0.1:http"});
  EXPECT_EQ(c.svc.key.port, 80);
  c = ok({"-A", "-u", "10.0.0.1:domain"});
  EXPECT_EQ(c.svc.key.protocol, kProtoUdp);
  EXPECT_EQ(c.svc.key.port, 53);
  c = ok({"-A", "--sctp-service", "10.0.0.1:amqp"});
  EXPECT_EQ(c.svc.key.protocol, kProtoSctp);
  EXPECT_EQ(c.svc.key.port, 5672);
  EXPECT_EQ(ok({"-A", "-t", "10.0.0.1:65535"}).svc.key.port, 65535);
  EXPECT_EQ(ok({"-A", "-t", "10.0.0.1:+8080"}).svc.key.port, 8080);

  const std::string bad = "illegal virtual server address[:port] specified";
  EXPECT_TRUE(fails2({"-A", "-t", "10.0.0.1:65536"}, bad));
  EXPECT_TRUE(fails2({"-A", "-t", "10.0.0.1:"}, bad));
  EXPECT_TRUE(fails2({"-A", "-t", "10.0.0.1:-1"}, bad));
  EXPECT_TRUE(fails2({"-A", "-t", "10.0.0.1:80x"}, bad));
  EXPECT_TRUE(fails2({"-A", "-u", "10.0.0.1:http-alt-nope"}, bad));
  // "http" is only in the tcp table of /etc/services.
  EXPECT_TRUE(fails2({"-A", "-u", "10.0.0.1:http"}, bad));
}

TEST(ParseAddress, RejectedServiceWords) {
  const std::string bad = "illegal virtual server address[:port] specified";
  EXPECT_TRUE(fails2({"-A", "-t", "80"}, bad));
  EXPECT_TRUE(fails2({"-A", "-t", ""}, bad));
  EXPECT_TRUE(fails2({"-A", "-t", "1.2.3.4.5:80"}, bad));
  EXPECT_TRUE(fails2({"-A", "-t", "[2001:db8::1]"}, bad));
  EXPECT_TRUE(fails2({"-A", "-t", "[2001:db8::1]80"}, bad));
  EXPECT_TRUE(fails2({"-A", "-t", "[2001:db8::1:80"}, bad));
  EXPECT_TRUE(fails2({"-A", "-t", "[2001:db8::1]:"}, bad));
  EXPECT_TRUE(fails2({"-A", "-t", "2001:db8::1:80:x"}, bad));
}

TEST(ParseAddress, Ipv6Services) {
  Command c = ok({"-A", "-t", "[2001:db8::1]:80"});
  EXPECT_EQ(c.svc.key.af, AF_INET6);
  EXPECT_EQ(c.svc.key.addr, addr("2001:db8::1"));
  EXPECT_EQ(c.svc.key.port, 80);
  EXPECT_EQ(c.svc.netmask, 128u);

  // A bare literal parses as IPv6 before any ':' split, so it has no port.
  c = ok({"-A", "-t", "2001:db8::1", "-p"});
  EXPECT_EQ(c.svc.key.af, AF_INET6);
  EXPECT_EQ(c.svc.key.addr, addr("2001:db8::1"));
  EXPECT_EQ(c.svc.key.port, 0);
  EXPECT_TRUE(
      fails2({"-A", "-t", "2001:db8::1"}, "Zero port specified for non-persistent service"));

  c = ok({"-A", "-u", "[::1]:domain"});
  EXPECT_EQ(c.svc.key.port, 53);
}

TEST(ParseAddress, BracketedIpv4LosesItsPort) {
  // ipvsadm splits a non-IPv6 bracket content again at its last ':'; the port after the
  // bracket is dropped.
  Command c = ok({"-L", "-t", "[10.0.0.1]:80"});
  EXPECT_EQ(c.svc.key.addr, addr("10.0.0.1"));
  EXPECT_EQ(c.svc.key.port, 0);
  EXPECT_EQ(c.svc.key.af, AF_INET);
}

TEST(ParseAddress, RealServerPortRules) {
  // No port: the service port is copied.
  EXPECT_EQ(ok({"-a", "-t", "10.0.0.1:80", "-r", "10.0.0.2", "-m"}).dest.key.port, 80);
  // NAT and FULLNAT keep the typed port; DR and TUN are forced to the service port.
  EXPECT_EQ(ok({"-a", "-t", "10.0.0.1:80", "-r", "10.0.0.2:8080", "-m"}).dest.key.port, 8080);
  EXPECT_EQ(ok({"-a", "-t", "10.0.0.1:80", "-r", "10.0.0.2:8080", "-b"}).dest.key.port, 8080);
  EXPECT_EQ(ok({"-a", "-t", "10.0.0.1:80", "-r", "10.0.0.2:8080", "-g"}).dest.key.port, 80);
  EXPECT_EQ(ok({"-a", "-t", "10.0.0.1:80", "-r", "10.0.0.2:8080"}).dest.key.port, 80);
  EXPECT_EQ(ok({"-a", "-t", "10.0.0.1:80", "-r", "10.0.0.2:8080", "-i"}).dest.key.port, 80);
  EXPECT_EQ(ok({"-e", "-t", "10.0.0.1:80", "-r", "10.0.0.2:8080", "-i"}).dest.key.port, 80);
  // -d does not force anything.
  EXPECT_EQ(ok({"-d", "-t", "10.0.0.1:80", "-r", "10.0.0.2:8080"}).dest.key.port, 8080);
  // Port names are looked up in the service's protocol.
  EXPECT_EQ(ok({"-a", "-t", "10.0.0.1:80", "-r", "10.0.0.2:ssh", "-m"}).dest.key.port, 22);
  EXPECT_EQ(ok({"-a", "-u", "10.0.0.1:53", "-r", "10.0.0.2:domain", "-m"}).dest.key.port, 53);
}

TEST(ParseAddress, RealServerBeforeService) {
  // The service port is copied as known at that moment: none yet.
  EXPECT_EQ(ok({"-a", "-r", "10.0.0.2", "-t", "10.0.0.1:80", "-m"}).dest.key.port, 0);
  // ... and the protocol is not known, so a port name cannot be resolved.
  EXPECT_TRUE(fails2({"-a", "-r", "10.0.0.2:ssh", "-t", "10.0.0.1:80", "-m"},
                     "illegal real server address[:port] specified"));
  // A numeric port works in either order.
  EXPECT_EQ(ok({"-a", "-r", "10.0.0.2:22", "-t", "10.0.0.1:80", "-m"}).dest.key.port, 22);
}

TEST(ParseAddress, RealServerErrors) {
  const std::string bad = "illegal real server address[:port] specified";
  EXPECT_TRUE(fails2({"-a", "-t", "10.0.0.1:80", "-r", "8080"}, bad));
  EXPECT_TRUE(fails2({"-a", "-t", "10.0.0.1:80", "-r", "10.0.0.2:"}, bad));
  EXPECT_TRUE(fails2({"-a", "-t", "10.0.0.1:80", "-r", "[2001:db8::2]"}, bad));
  EXPECT_TRUE(fails2({"-a", "-t", "10.0.0.1:80", "-r", "10.0.0.2:70000"}, bad));
}

TEST(ParseAddress, AddressFamilies) {
  Command c = ok({"-a", "-t", "[2001:db8::1]:80", "-r", "[2001:db8::2]:8080", "-m"});
  EXPECT_EQ(c.dest.key.addr, addr("2001:db8::2"));
  EXPECT_EQ(c.dest.key.port, 8080);
  c = ok({"-a", "-t", "[2001:db8::1]:80", "-r", "2001:db8::2", "-m"});
  EXPECT_EQ(c.dest.key.port, 80);

  const std::string mixed = "Different address family is allowed only for tunneling servers";
  EXPECT_TRUE(fails2({"-a", "-t", "[2001:db8::1]:80", "-r", "10.0.0.2", "-m"}, mixed));
  EXPECT_TRUE(fails2({"-a", "-t", "10.0.0.1:80", "-r", "2001:db8::2", "-g"}, mixed));
  EXPECT_TRUE(fails2({"-a", "-t", "10.0.0.1:80", "-r", "2001:db8::2", "-b"}, mixed));
  c = ok({"-a", "-t", "10.0.0.1:80", "-r", "2001:db8::2", "-i"});
  EXPECT_EQ(c.dest.key.addr, addr("2001:db8::2"));
  EXPECT_EQ(c.dest.key.port, 80);
}

TEST(ParseAddress, Fwmark) {
  Command c = ok({"-A", "-f", "1"});
  EXPECT_EQ(c.svc.key.fwmark, 1u);
  EXPECT_EQ(c.svc.key.af, AF_INET);
  EXPECT_EQ(c.svc.key.protocol, kProtoTcp);
  EXPECT_EQ(c.svc.netmask, 0xffffffffu);
  EXPECT_EQ(ok({"-A", "--fwmark-service", "4294967295"}).svc.key.fwmark, 4294967295u);
  EXPECT_EQ(ok({"-A", "-f", "+7"}).svc.key.fwmark, 7u);

  for (const char* bad : {"0", "4294967296", "-1", "abc", "1x", "", "-0", "99999999999999999999"}) {
    EXPECT_TRUE(
        fails2({"-A", "-f", bad}, std::string("invalid fwmark value `") + bad + "' specified"))
        << bad;
  }
}

TEST(ParseAddress, FwmarkIpv6) {
  Command c = ok({"-A", "-f", "1", "-6"});
  EXPECT_EQ(c.svc.key.af, AF_INET6);
  EXPECT_EQ(c.svc.netmask, 128u);
  EXPECT_EQ(c.options, opt(kOptService));
  c = ok({"-A", "-f", "1", "--ipv6", "-p", "-M", "64"});
  EXPECT_EQ(c.svc.netmask, 64u);

  EXPECT_TRUE(fails({"-A", "-6", "-f", "1"}, "-6 used before -f\n\n", 2));
  EXPECT_TRUE(fails({"-A", "-t", "10.0.0.1:80", "-6"}, "-6 used before -f\n\n", 2));

  // Fwmark servers keep the typed port, 0 if none.
  EXPECT_EQ(ok({"-a", "-f", "1", "-r", "10.0.0.2:8080", "-g"}).dest.key.port, 8080);
  EXPECT_EQ(ok({"-a", "-f", "1", "-r", "10.0.0.2", "-g"}).dest.key.port, 0);
  EXPECT_TRUE(fails2({"-a", "-f", "1", "-6", "-r", "10.0.0.2"},
                     "Different address family is allowed only for tunneling servers"));
  EXPECT_EQ(ok({"-a", "-f", "1", "-6", "-r", "2001:db8::2"}).dest.key.addr, addr("2001:db8::2"));
  // Fwmark services resolve server port names as TCP.
  EXPECT_EQ(ok({"-a", "-f", "1", "-r", "10.0.0.2:http", "-m"}).dest.key.port, 80);
}

// ---------------------------------------------------------------------------------------------
// Option values.

TEST(ParseOptions, Scheduler) {
  EXPECT_EQ(ok({"-A", "-t", "10.0.0.1:80"}).svc.sched_name, "wlc");
  EXPECT_EQ(ok({"-A", "-t", "10.0.0.1:80", "-s", "abcdefghijklmnopqrstuvwxyz"}).svc.sched_name,
            "abcdefghijklmno");
  EXPECT_EQ(ok({"-A", "-t", "10.0.0.1:80", "-s", ""}).svc.sched_name, "wlc");
  // Unknown names are the kernel's business (ip_vs_add_service() returns ENOENT).
  EXPECT_EQ(ok({"-A", "-t", "10.0.0.1:80", "-s", "foo"}).svc.sched_name, "foo");
}

TEST(ParseOptions, Ipv4Netmask) {
  Command c = ok({"-A", "-t", "10.0.0.1:80", "-p", "-M", "255.255.255.0"});
  EXPECT_EQ(c.svc.netmask, 0xffffff00u);
  EXPECT_EQ(c.options, opt(kOptService) | opt(kOptPersistent) | opt(kOptNetmask));
  // inet_aton forms, contiguity not checked.
  EXPECT_EQ(ok({"-A", "-t", "10.0.0.1:80", "-M", "255.255.0"}).svc.netmask, 0xffff0000u);
  EXPECT_EQ(ok({"-A", "-t", "10.0.0.1:80", "-M", "0.255.0.255"}).svc.netmask, 0x00ff00ffu);
  EXPECT_EQ(ok({"-A", "-t", "10.0.0.1:80", "-M", "localhost"}).svc.netmask, 0x7f000001u);
  EXPECT_TRUE(fails2({"-A", "-t", "10.0.0.1:80", "-M", "1.2.3.4.5"},
                     "illegal virtual server persistent mask specified"));
  EXPECT_TRUE(fails2({"-A", "-t", "10.0.0.1:80", "-M", "256.0.0.0"},
                     "illegal virtual server persistent mask specified"));
}

TEST(ParseOptions, Ipv6Netmask) {
  EXPECT_EQ(ok({"-A", "-t", "[2001:db8::1]:80", "-p", "-M", "64"}).svc.netmask, 64u);
  EXPECT_EQ(ok({"-A", "-t", "[2001:db8::1]:80", "-M", "128"}).svc.netmask, 128u);
  EXPECT_EQ(ok({"-A", "-t", "[2001:db8::1]:80", "-M", "1"}).svc.netmask, 1u);
  EXPECT_EQ(ok({"-A", "-t", "[2001:db8::1]:80", "-M", "48abc"}).svc.netmask, 48u);  // atoi
  for (const char* bad : {"0", "129", "abc", "-1", ""}) {
    EXPECT_TRUE(
        fails2({"-A", "-t", "[2001:db8::1]:80", "-M", bad}, "illegal ipv6 netmask specified"))
        << bad;
  }
  // Before the IPv6 address -M is read as IPv4, then the address resets the mask to /128.
  EXPECT_EQ(ok({"-A", "-M", "64", "-t", "[2001:db8::1]:80"}).svc.netmask, 128u);
}

TEST(ParseOptions, PersistenceEngineAndOps) {
  Command c = ok({"-A", "-u", "10.0.0.1:5060", "-p", "--pe", "sip"});
  EXPECT_EQ(c.svc.pe_name, "sip");
  EXPECT_EQ(c.options, opt(kOptService) | opt(kOptPersistent) | opt(kOptPe));
  EXPECT_EQ(ok({"-A", "-u", "10.0.0.1:5060", "--pe", "abcdefghijklmnopqrs"}).svc.pe_name,
            "abcdefghijklmno");

  c = ok({"-A", "-u", "10.0.0.1:53", "-o"});
  EXPECT_EQ(c.svc.flags, kSvcOnePacket);
  EXPECT_EQ(c.options, opt(kOptService) | opt(kOptOnePacket));
  EXPECT_EQ(ok({"-A", "-f", "3", "--ops"}).svc.flags, kSvcOnePacket);
  EXPECT_TRUE(fails2({"-A", "-t", "10.0.0.1:80", "-o"},
                     "One-Packet Scheduling is only for UDP virtual services"));
  EXPECT_TRUE(fails2({"-E", "--sctp-service", "10.0.0.1:80", "-o"},
                     "One-Packet Scheduling is only for UDP virtual services"));
}

TEST(ParseOptions, SchedFlags) {
  Command c = ok({"-A", "-u", "10.0.0.1:53", "-s", "sh", "-o", "-b", "sh-fallback,sh-port"});
  EXPECT_EQ(c.svc.flags, kSvcOnePacket | kSvcSched1 | kSvcSched2);
  EXPECT_EQ(c.options,
            opt(kOptService) | opt(kOptScheduler) | opt(kOptOnePacket) | opt(kOptSchedFlags));
  // Checked against -s whatever the order.
  EXPECT_EQ(ok({"-A", "-t", "10.0.0.1:80", "-b", "mh-port", "-s", "mh"}).svc.flags, kSvcSched2);
  EXPECT_EQ(ok({"-A", "-t", "10.0.0.1:80", "-b", "mh-fallback", "-s", "mh"}).svc.flags, kSvcSched1);
  // flag-N work with any scheduler, including the default wlc.
  EXPECT_EQ(ok({"-A", "-t", "10.0.0.1:80", "-b", "flag-1,flag-2,flag-3"}).svc.flags,
            kSvcSched1 | kSvcSched2 | kSvcSched3);
  // Empty items are skipped, an empty list sets nothing.
  EXPECT_EQ(ok({"-A", "-t", "10.0.0.1:80", "-b", ",flag-1,,flag-3,"}).svc.flags,
            kSvcSched1 | kSvcSched3);
  c = ok({"-A", "-t", "10.0.0.1:80", "-b", ""});
  EXPECT_EQ(c.svc.flags, 0u);
  EXPECT_TRUE(c.has(kOptSchedFlags));
  EXPECT_EQ(ok({"-E", "-t", "10.0.0.1:80", "--sched-flags", "flag-2"}).svc.flags, kSvcSched2);

  EXPECT_TRUE(fails2({"-A", "-t", "10.0.0.1:80", "-b", "sh-port"},
                     "incompatible scheduler flag `sh-port'"));
  EXPECT_TRUE(fails2({"-A", "-t", "10.0.0.1:80", "-s", "sh", "-b", "sh-port,mh-port"},
                     "incompatible scheduler flag `mh-port'"));
  EXPECT_TRUE(fails2({"-A", "-t", "10.0.0.1:80", "-s", "rr", "-b", "sh-fallback"},
                     "incompatible scheduler flag `sh-fallback'"));
  EXPECT_TRUE(
      fails2({"-A", "-t", "10.0.0.1:80", "-b", "flag-1,bogus"}, "invalid scheduler flag `bogus'"));
  // The flags are read before the legality matrix is consulted.
  EXPECT_TRUE(fails2({"-D", "-t", "10.0.0.1:80", "-b", "bogus"}, "invalid scheduler flag `bogus'"));
  EXPECT_TRUE(fails2({"-D", "-t", "10.0.0.1:80", "-b", "flag-1"},
                     "Illegal 'sched-flags' option with the 'delete-service' command"));
  // ... but after the leftover-word check.
  EXPECT_TRUE(fails2({"-A", "-t", "10.0.0.1:80", "-b", "bogus", "x"}, "unexpected argument x"));
}

TEST(ParseOptions, Weight) {
  const std::vector<std::string> base = {"-a", "-t", "10.0.0.1:80", "-r", "10.0.0.2", "-w"};
  auto with = [&](const std::string& w) {
    auto v = base;
    v.push_back(w);
    return v;
  };
  EXPECT_EQ(ok(with("0")).dest.weight, 0);
  EXPECT_EQ(ok(with("65536")).dest.weight, 65536);  // Debian's range
  EXPECT_EQ(ok(with("2147483647")).dest.weight, 2147483647);
  EXPECT_EQ(ok(with("+5")).dest.weight, 5);
  EXPECT_EQ(ok(with(" 5")).dest.weight, 5);
  for (const char* bad : {"2147483648", "-1", "5x", "", "x", "99999999999999999999"}) {
    EXPECT_TRUE(fails2(with(bad), "illegal weight specified")) << bad;
  }
}

TEST(ParseOptions, Thresholds) {
  // l > u is the kernel's to refuse.
  Command c = ok({"-a", "-t", "10.0.0.1:80", "-r", "192.168.0.1", "-x", "10", "-y", "20"});
  EXPECT_EQ(c.dest.u_threshold, 10u);
  EXPECT_EQ(c.dest.l_threshold, 20u);
  EXPECT_EQ(
      ok({"-e", "-t", "10.0.0.1:80", "-r", "192.168.0.1", "-x", "2147483647"}).dest.u_threshold,
      2147483647u);
  EXPECT_TRUE(fails2({"-a", "-t", "10.0.0.1:80", "-r", "10.0.0.2", "-x", "-1"},
                     "illegal u_threshold specified"));
  EXPECT_TRUE(fails2({"-a", "-t", "10.0.0.1:80", "-r", "10.0.0.2", "-x", "2147483648"},
                     "illegal u_threshold specified"));
  EXPECT_TRUE(fails2({"-a", "-t", "10.0.0.1:80", "-r", "10.0.0.2", "-y", "abc"},
                     "illegal l_threshold specified"));
}

TEST(ParseOptions, TunnelOptions) {
  Command c = ok({"-a", "-t", "10.0.0.1:80", "-r", "10.0.0.2", "-i", "--tun-type", "gue",
                  "--tun-port", "6080", "--tun-nocsum"});
  EXPECT_EQ(c.dest.fwd, Fwd::kTunnel);
  EXPECT_EQ(c.dest.tun_type, TunType::kGue);
  EXPECT_EQ(c.dest.tun_port, 6080);
  EXPECT_EQ(c.dest.tun_flags, TunCsum::kNoCsum);
  EXPECT_EQ(c.options, opt(kOptService) | opt(kOptServer) | opt(kOptForward) | opt(kOptTunType) |
                           opt(kOptTunPort) | opt(kOptTunNoCsum));

  c = ok({"-a", "-t", "10.0.0.1:80", "-r", "10.0.0.2", "-i", "--tun-type", "gue", "--tun-port", "1",
          "--tun-remcsum"});
  EXPECT_EQ(c.dest.tun_flags, TunCsum::kRemCsum);
  c = ok({"-a", "-t", "10.0.0.1:80", "-r", "10.0.0.2", "-i", "--tun-type", "gre", "--tun-csum"});
  EXPECT_EQ(c.dest.tun_type, TunType::kGre);
  EXPECT_EQ(c.dest.tun_flags, TunCsum::kCsum);
  c = ok({"-a", "-t", "10.0.0.1:80", "-r", "10.0.0.2", "-i", "--tun-type", "ipip"});
  EXPECT_EQ(c.dest.tun_type, TunType::kIpip);
  c = ok({"-a", "-t", "10.0.0.1:80", "-r", "10.0.0.2", "-i", "--tun-type", "gre"});
  EXPECT_EQ(c.dest.tun_flags, TunCsum::kNoCsum);

  EXPECT_TRUE(fails2({"-a", "-t", "10.0.0.1:80", "-r", "10.0.0.2", "-i", "--tun-type", "vxlan"},
                     "illegal tunnel type specified"));
  EXPECT_TRUE(fails2({"-a", "-t", "10.0.0.1:80", "-r", "10.0.0.2", "-i", "--tun-port", "0"},
                     "illegal tunnel port specified"));
  EXPECT_TRUE(fails2({"-a", "-t", "10.0.0.1:80", "-r", "10.0.0.2", "-i", "--tun-port", "65536"},
                     "illegal tunnel port specified"));
}

TEST(ParseOptions, ListFlags) {
  Command c = ok({"-L", "-n", "--stats", "--rate", "--thresholds", "--persistent-conn",
                  "--tun-info", "--nosort", "--exact", "--sort"});
  EXPECT_TRUE(c.list.numeric);
  EXPECT_TRUE(c.list.stats);
  EXPECT_TRUE(c.list.rate);
  EXPECT_TRUE(c.list.thresholds);
  EXPECT_TRUE(c.list.persistent_conn);
  EXPECT_TRUE(c.list.tun_info);
  EXPECT_TRUE(c.list.nosort);
  EXPECT_TRUE(c.list.exact);
  EXPECT_FALSE(c.list.connections);
  EXPECT_FALSE(c.list.timeout);
  EXPECT_FALSE(c.list.daemon);

  EXPECT_TRUE(ok({"-LX"}).list.exact);
  EXPECT_TRUE(ok({"-L", "--timeout"}).list.timeout);
  EXPECT_TRUE(ok({"-L", "--daemon"}).list.daemon);
  c = ok({"-L", "-c", "--persistent-conn"});
  EXPECT_TRUE(c.list.connections);
  EXPECT_TRUE(c.list.persistent_conn);

  c = ok({"-L", "-n", "-t", "192.168.1.100:80"});
  EXPECT_EQ(c.options, opt(kOptNumeric) | opt(kOptService));
  EXPECT_EQ(c.svc.key.addr, addr("192.168.1.100"));
  EXPECT_EQ(c.svc.key.port, 80);
  // The legality table lets --syncid through with -L.
  EXPECT_EQ(ok({"-L", "--syncid", "1"}).daemon.syncid, 1);
}

// ---------------------------------------------------------------------------------------------
// Legality matrix (ipvsadm's commands_v_options and generic_opt_check()).

TEST(ParseMatrix, SpecExamples) {
  EXPECT_TRUE(fails2({"-A"},
                     "You need to supply the 'service-address' option for the "
                     "'add-service' command"));
  EXPECT_TRUE(fails2({"-A", "-t", "1.2.3.4:80", "-r", "5.6.7.8"},
                     "Illegal 'real-server' option with the 'add-service' command"));
  EXPECT_TRUE(fails2({"-L", "-c", "-t", "1.2.3.4:80"},
                     "The option 'service-address' conflicts with the 'connection' option in the "
                     "'list' command"));
  EXPECT_TRUE(fails2({"-a", "-t", "1.2.3.4:80"},
                     "You need to supply the 'real-server' option for the 'add-server' command"));
  EXPECT_TRUE(fails2({"-A", "-n", "-t", "1.2.3.4:80"},
                     "Illegal 'numeric' option with the 'add-service' command"));
}

TEST(ParseMatrix, EveryCommandName) {
  EXPECT_TRUE(fails2({"-E"},
                     "You need to supply the 'service-address' option for the "
                     "'edit-service' command"));
  EXPECT_TRUE(fails2({"-D"},
                     "You need to supply the 'service-address' option for the "
                     "'delete-service' command"));
  EXPECT_TRUE(fails2({"-C", "-n"}, "Illegal 'numeric' option with the 'flush' command"));
  EXPECT_TRUE(fails2({"-L", "-s", "rr"}, "Illegal 'scheduler' option with the 'list' command"));
  EXPECT_TRUE(fails2({"-e", "-t", "1.2.3.4:80"},
                     "You need to supply the 'real-server' option for the 'edit-server' command"));
  EXPECT_TRUE(fails2({"-d", "-t", "1.2.3.4:80"},
                     "You need to supply the 'real-server' option for the 'delete-server' "
                     "command"));
  EXPECT_TRUE(fails2({"--set", "1", "2", "3", "-t", "1.2.3.4:80"},
                     "Illegal 'service-address' option with the 'set' command"));
  EXPECT_TRUE(fails2({"--start-daemon", "master", "-n"},
                     "Illegal 'numeric' option with the 'start-daemon' command"));
  EXPECT_TRUE(fails2({"--stop-daemon", "master", "--mcast-ttl", "1"},
                     "Illegal 'mcast-ttl' option with the 'stop-daemon' command"));
  EXPECT_TRUE(fails2({"-R", "-n"}, "Illegal 'numeric' option with the 'restore' command"));
  EXPECT_TRUE(fails2({"-S", "-c"}, "Illegal 'connection' option with the 'save' command"));
  EXPECT_TRUE(fails2({"-S", "-t", "1.2.3.4:80"},
                     "Illegal 'service-address' option with the 'save' command"));
  EXPECT_TRUE(fails2({"-Z", "-n"}, "Illegal 'numeric' option with the 'zero' command"));
  EXPECT_TRUE(fails2({"-P", "-t", "1.2.3.4:80"},
                     "You need to supply the 'local-address' option for the 'add-laddr' command"));
  EXPECT_TRUE(fails2({"-Q", "-t", "1.2.3.4:80"},
                     "You need to supply the 'local-address' option for the 'del-laddr' command"));
  EXPECT_TRUE(fails2({"-G", "-z", "1.2.3.4"},
                     "Illegal 'local-address' option with the 'get-laddr' command"));
}

TEST(ParseMatrix, CheckOrderIsBitOrder) {
  // numeric (bit 0) is reported before connection (bit 1).
  EXPECT_TRUE(fails2({"-A", "-c", "-n", "-t", "1.2.3.4:80"},
                     "Illegal 'numeric' option with the 'add-service' command"));
  // A missing service-address (bit 2) comes before an illegal real-server (bit 6).
  EXPECT_TRUE(fails2({"-A", "-r", "1.2.3.4"},
                     "You need to supply the 'service-address' option "
                     "for the 'add-service' command"));
  // Missing service-address before missing real-server.
  EXPECT_TRUE(fails2({"-a"},
                     "You need to supply the 'service-address' option for the "
                     "'add-server' command"));
  // Exclusive group: the later bit is named first.
  EXPECT_TRUE(fails2({"-L", "--daemon", "--timeout"},
                     "The option 'daemon' conflicts with the 'timeout' option in the 'list' "
                     "command"));
  EXPECT_TRUE(fails2({"-L", "--timeout", "-c"},
                     "The option 'timeout' conflicts with the 'connection' option in the 'list' "
                     "command"));
  // A '1' option after which an 'x' option fails on the 'x'.
  EXPECT_TRUE(fails2({"-L", "-c", "-o"}, "Illegal 'ops' option with the 'list' command"));
}

TEST(ParseMatrix, ServerOptionsOnServiceCommands) {
  EXPECT_TRUE(fails2({"-A", "-t", "1.2.3.4:80", "-w", "1"},
                     "Illegal 'weight' option with the 'add-service' command"));
  EXPECT_TRUE(fails2({"-E", "-t", "1.2.3.4:80", "-x", "1"},
                     "Illegal 'u-threshold' option with the 'edit-service' command"));
  EXPECT_TRUE(fails2({"-a", "-t", "1.2.3.4:80", "-r", "1.2.3.5", "-s", "rr"},
                     "Illegal 'scheduler' option with the 'add-server' command"));
  EXPECT_TRUE(fails2({"-a", "-t", "1.2.3.4:80", "-r", "1.2.3.5", "-p"},
                     "Illegal 'persistent' option with the 'add-server' command"));
  EXPECT_TRUE(fails2({"-d", "-t", "1.2.3.4:80", "-r", "1.2.3.5", "-w", "1"},
                     "Illegal 'weight' option with the 'delete-server' command"));
  EXPECT_TRUE(fails2({"-d", "-t", "1.2.3.4:80", "-r", "1.2.3.5", "-m"},
                     "Illegal 'forwarding-method' option with the 'delete-server' command"));
  EXPECT_TRUE(fails2({"-A", "-t", "1.2.3.4:80", "-m"},
                     "Illegal 'forwarding-method' option with the 'add-service' command"));
  EXPECT_TRUE(fails2({"-L", "--mcast-interface", "eth0"},
                     "Illegal 'mcast-interface' option with the 'list' command"));
  EXPECT_TRUE(fails2({"-A", "-t", "1.2.3.4:80", "--tun-info"},
                     "Illegal 'tun-info' option with the 'add-service' command"));
  EXPECT_TRUE(fails2({"-D", "-t", "1.2.3.4:80", "-s", "rr"},
                     "Illegal 'scheduler' option with the 'delete-service' command"));
}

TEST(ParseMatrix, FullNatAndSynproxyExtensions) {
  Command c = ok({"-A", "-t", "10.0.0.1:80", "-j", "enable"});
  EXPECT_EQ(c.svc.flags, kSvcSynproxy);
  EXPECT_EQ(c.options, opt(kOptService) | opt(kOptSynproxy));
  c = ok({"-E", "-t", "10.0.0.1:80", "--synproxy=disable"});
  EXPECT_EQ(c.svc.flags, 0u);
  EXPECT_TRUE(c.has(kOptSynproxy));
  EXPECT_TRUE(
      fails2({"-A", "-t", "10.0.0.1:80", "-j", "on"}, "synproxy switch must be enable or disable"));
  EXPECT_TRUE(fails2({"-a", "-t", "10.0.0.1:80", "-r", "10.0.0.2", "-j", "enable"},
                     "Illegal 'synproxy' option with the 'add-server' command"));
  EXPECT_TRUE(fails2({"-A", "-t", "10.0.0.1:80", "-z", "10.0.0.3"},
                     "Illegal 'local-address' option with the 'add-service' command"));
  EXPECT_TRUE(fails2({"-P", "-z", "10.0.0.3"},
                     "You need to supply the 'service-address' option "
                     "for the 'add-laddr' command"));
  EXPECT_TRUE(fails2({"-P", "-t", "10.0.0.1:80", "-z", "10.0.0.3", "-n"},
                     "Illegal 'numeric' option with the 'add-laddr' command"));
  EXPECT_TRUE(fails2({"-P", "-t", "10.0.0.1:80", "-z", "80"}, "illegal local address"));
  EXPECT_TRUE(fails2({"-P", "-t", "10.0.0.1:80", "-z", "10.0.0.3", "-z", "10.0.0.4"},
                     "multiple 'local-address' options specified"));
  c = ok({"-P", "-t", "[2001:db8::1]:80", "-z", "2001:db8::99"});
  EXPECT_EQ(c.laddr, addr("2001:db8::99"));
  EXPECT_EQ(ok({"-Q", "-f", "1", "-z", "10.0.0.3:0"}).laddr, addr("10.0.0.3"));

  // -b and --fullnat are a forwarding switch only after -a/-e; elsewhere -b is --sched-flags.
  EXPECT_TRUE(popt_error({"-A", "-t", "10.0.0.1:80", "-b"}, "-b: missing argument"));
  EXPECT_TRUE(popt_error({"-A", "-t", "10.0.0.1:80", "--fullnat"}, "--fullnat: unknown option"));
  EXPECT_TRUE(popt_error({"-d", "-t", "10.0.0.1:80", "-r", "10.0.0.2", "--fullnat"},
                         "--fullnat: unknown option"));
  EXPECT_TRUE(fails2({"-a", "-t", "10.0.0.1:80", "-r", "10.0.0.2", "--sched-flags", "flag-1"},
                     "Illegal 'sched-flags' option with the 'add-server' command"));
  EXPECT_TRUE(fails2({"-a", "-t", "10.0.0.1:80", "-r", "10.0.0.2", "-b", "flag-1"},
                     "unexpected argument flag-1"));
  EXPECT_TRUE(fails2({"-P", "-t", "10.0.0.1:80", "-z", "10.0.0.3", "-b", "flag-1"},
                     "Illegal 'sched-flags' option with the 'add-laddr' command"));
}

// ---------------------------------------------------------------------------------------------
// Semantic checks after the matrix (ipvsadm's process_options()).

TEST(ParseSemantics, ZeroPort) {
  EXPECT_TRUE(fails2({"-A", "-t", "10.0.0.1", "-s", "rr"},
                     "Zero port specified for non-persistent service"));
  EXPECT_TRUE(fails2({"-E", "-t", "10.0.0.1:0"}, "Zero port specified for non-persistent service"));
  Command c = ok({"-A", "-t", "10.0.0.1", "-p"});
  EXPECT_EQ(c.svc.key.port, 0);
  EXPECT_TRUE(c.svc.persistent());
  EXPECT_EQ(ok({"-A", "-f", "5"}).svc.key.port, 0);
  // Other commands accept port 0.
  EXPECT_EQ(ok({"-D", "-t", "10.0.0.1"}).svc.key.port, 0);
  // The matrix is checked first.
  EXPECT_TRUE(fails2({"-A", "-t", "10.0.0.1", "-n"},
                     "Illegal 'numeric' option with the 'add-service' command"));
}

TEST(ParseSemantics, EditServiceIsAFullDefinition) {
  Command c = ok({"-E", "-t", "10.0.0.1:80"});
  EXPECT_EQ(c.kind, CommandKind::kEditService);
  EXPECT_EQ(c.svc.sched_name, "wlc");
  EXPECT_EQ(c.svc.flags, 0u);
  EXPECT_EQ(c.svc.timeout, 0u);
  EXPECT_EQ(c.svc.netmask, 0xffffffffu);
  EXPECT_EQ(c.svc.pe_name, "");
  c = ok({"-E", "-t", "[2001:db8::1]:80"});
  EXPECT_EQ(c.svc.netmask, 128u);
}

TEST(ParseSemantics, EditServerIsAFullDefinition) {
  Command c = ok({"-e", "-t", "10.0.0.1:80", "-r", "10.0.0.2"});
  EXPECT_EQ(c.kind, CommandKind::kEditDest);
  EXPECT_EQ(c.dest.weight, 1);
  EXPECT_EQ(c.dest.fwd, Fwd::kRoute);
  EXPECT_EQ(c.dest.u_threshold, 0u);
  EXPECT_EQ(c.dest.l_threshold, 0u);
  EXPECT_EQ(c.dest.tun_type, TunType::kIpip);
  EXPECT_EQ(c.dest.tun_port, 0);
  EXPECT_EQ(c.dest.tun_flags, TunCsum::kNoCsum);
}

TEST(ParseSemantics, TunnelChecks) {
  const std::vector<std::string> base = {"-a", "-t", "10.0.0.1:80", "-r", "10.0.0.2"};
  auto with = [&](std::vector<std::string> extra) {
    auto v = base;
    v.insert(v.end(), extra.begin(), extra.end());
    return v;
  };
  const std::string conflict = "Tunnel options conflict with forward method";
  EXPECT_TRUE(fails2(with({"--tun-type", "gue"}), conflict));
  EXPECT_TRUE(fails2(with({"-m", "--tun-port", "6080"}), conflict));
  EXPECT_TRUE(fails2(with({"-b", "--tun-csum"}), conflict));
  EXPECT_TRUE(fails2(with({"-g", "--tun-type", "ipip"}), conflict));
  EXPECT_TRUE(fails2(with({"-g", "--tun-remcsum"}), conflict));
  EXPECT_TRUE(fails2({"-e", "-t", "10.0.0.1:80", "-r", "10.0.0.2", "--tun-nocsum"}, conflict));

  EXPECT_TRUE(fails2(with({"-i", "--tun-type", "gue"}),
                     "You need to supply the 'tun-port' option for the 'gue' tunnel type"));
  EXPECT_TRUE(fails2(with({"-i", "--tun-port", "80"}),
                     "Illegal 'tun-port' option with the 'ipip' tunnel type"));
  EXPECT_TRUE(fails2(with({"-i", "--tun-type", "ipip", "--tun-csum"}),
                     "Illegal 'tun-csum' option with the 'ipip' tunnel type"));
  EXPECT_TRUE(
      fails2(with({"-i", "--tun-type", "gue", "--tun-port", "6080", "--tun-nocsum", "--tun-csum"}),
             "The option 'tun-csum' conflicts with the 'tun-nocsum' option in the 'gue' "
             "tunnel type"));
  EXPECT_TRUE(
      fails2(with({"-i", "--tun-type", "gue", "--tun-port", "6080", "--tun-remcsum", "--tun-csum"}),
             "The option 'tun-remcsum' conflicts with the 'tun-csum' option in the 'gue' "
             "tunnel type"));
  EXPECT_TRUE(fails2(with({"-i", "--tun-type", "gre", "--tun-port", "6080"}),
                     "Illegal 'tun-port' option with the 'gre' tunnel type"));
  EXPECT_TRUE(fails2(with({"-i", "--tun-type", "gre", "--tun-remcsum"}),
                     "Illegal 'tun-remcsum' option with the 'gre' tunnel type"));
  EXPECT_TRUE(fails2(with({"-i", "--tun-type", "gre", "--tun-csum", "--tun-nocsum"}),
                     "The option 'tun-csum' conflicts with the 'tun-nocsum' option in the 'gre' "
                     "tunnel type"));
  // The address-family check comes before the tunnel checks.
  EXPECT_TRUE(fails2({"-a", "-t", "10.0.0.1:80", "-r", "2001:db8::2", "-m", "--tun-csum"},
                     "Different address family is allowed only for tunneling servers"));
}

TEST(ParseSemantics, ListConflicts) {
  const std::string msg = "options conflicts in the list command";
  EXPECT_TRUE(fails2({"-L", "-c", "--stats"}, msg));
  EXPECT_TRUE(fails2({"-lc", "--rate"}, msg));
  EXPECT_TRUE(fails2({"-L", "-c", "--thresholds"}, msg));
  EXPECT_TRUE(fails2({"-L", "--timeout", "--stats"}, msg));
  EXPECT_TRUE(fails2({"-L", "--daemon", "--thresholds"}, msg));
  EXPECT_TRUE(fails2({"-L", "--timeout", "--persistent-conn"}, msg));
  EXPECT_TRUE(fails2({"-L", "--daemon", "--persistent-conn"}, msg));
  ok({"-L", "-c", "--persistent-conn"});
  ok({"-L", "--stats", "--rate", "--thresholds"});
  ok({"-L", "-t", "10.0.0.1:80", "--stats"});
  ok({"-L", "--timeout", "--exact", "-n", "--nosort", "--tun-info"});
}

TEST(ParseSemantics, SpecB10ParserSideErrors) {
  EXPECT_TRUE(fails2({"-A", "-t", "10.0.0.1", "-s", "rr"},
                     "Zero port specified for non-persistent service"));
  EXPECT_TRUE(fails({"-n", "-L"}, kTryHelp, 255));
  EXPECT_TRUE(fails2({"-L", "-c", "--stats"}, "options conflicts in the list command"));
  // The others in that list are kernel-side: they parse fine here.
  ok({"-A", "-t", "10.0.0.1:80", "-s", "rr"});
  ok({"-a", "-t", "10.0.0.9:80", "-r", "192.168.0.1"});
  ok({"-A", "-t", "10.0.0.1:81", "-s", "foo"});
  ok({"-a", "-t", "10.0.0.1:80", "-r", "192.168.0.1", "-x", "10", "-y", "20"});
}

// ---------------------------------------------------------------------------------------------
// Corner cases, each checked against Debian's ipvsadm 1.31 binary.

TEST(ParseQuirks, PoptClusters) {
  // -x wants an argument and nothing is left in the word or after it.
  EXPECT_TRUE(popt_error({"-lcnx"}, "-lcnx: missing argument"));
  // -p takes the rest of its word as the timeout ...
  EXPECT_TRUE(fails2({"-Apt", "10.0.0.1:80"}, "invalid timeout value `t' specified"));
  // ... but not a following word that starts with '-'.
  EXPECT_EQ(ok({"-Ap", "-t", "10.0.0.1:80"}).svc.timeout, 360u);
  EXPECT_EQ(ok({"-A", "-p5", "-t", "10.0.0.1:80"}).svc.timeout, 5u);
  EXPECT_EQ(ok({"-a", "-t", "10.0.0.1:80", "-r", "10.0.0.2", "-w=5"}).dest.weight, 5);
  // A lone "-" is a leftover word; "--" ends the options.
  EXPECT_TRUE(fails2({"-A", "-t", "10.0.0.1:80", "-"}, "unexpected argument -"));
  EXPECT_TRUE(fails2({"-A", "-t", "10.0.0.1:80", "--", "x"}, "unexpected argument x"));
  ok({"-A", "-t", "10.0.0.1:80", "--"});
  // A mandatory argument is taken even when it starts with '-'.
  EXPECT_TRUE(fails2({"-A", "-t", "-s"}, "illegal virtual server address[:port] specified"));
}

TEST(ParseQuirks, AddressCorners) {
  // The whole word parses as IPv6, so ":80" is part of the address, not a port.
  Command c = ok({"-A", "-t", "::1:80", "-p"});
  EXPECT_EQ(c.svc.key.addr, addr("::1:80"));
  EXPECT_EQ(c.svc.key.port, 0);
  EXPECT_TRUE(fails2({"-A", "-t", "::1:80"}, "Zero port specified for non-persistent service"));
  // Inside brackets a non-IPv6 text is split at its own last ':'.
  c = ok({"-A", "-t", "[10.0.0.1:80]:90"});
  EXPECT_EQ(c.svc.key.addr, addr("10.0.0.1"));
  EXPECT_EQ(c.svc.key.port, 80);
  EXPECT_EQ(ok({"-A", "-t", "[::ffff:10.0.0.1]:80"}).svc.key.af, AF_INET6);
  EXPECT_EQ(ok({"-A", "-t", "10.0.0.1:0080"}).svc.key.port, 80);
  EXPECT_EQ(ok({"-A", "-t", "1:80"}).svc.key.addr, addr("0.0.0.1"));
  // inet_aton stops at white space.
  EXPECT_EQ(ok({"-A", "-t", "10.0.0.1 junk:80"}).svc.key.addr, addr("10.0.0.1"));
  const std::string bad = "illegal virtual server address[:port] specified";
  EXPECT_TRUE(fails2({"-A", "-t", "10.0.0.1:0x50"}, bad));
  EXPECT_TRUE(fails2({"-A", "-t", "10.0.0.1::80"}, bad));
  EXPECT_TRUE(fails2({"-A", "-t", ":80"}, bad));
  EXPECT_TRUE(fails2({"-A", "-t", "[fe80::1%eth0]:80"}, bad));
  // strtol skips leading blanks of the port too.
  EXPECT_EQ(ok({"-A", "-t", "10.0.0.1: 80"}).svc.key.port, 80);
}

TEST(ParseQuirks, NumbersFollowStrtol) {
  EXPECT_EQ(ok({"-A", "-t", "10.0.0.1:80", "-p", "+10"}).svc.timeout, 10u);
  EXPECT_EQ(ok({"-A", "-t", "10.0.0.1:80", "-p", " 5"}).svc.timeout, 5u);
  EXPECT_TRUE(
      fails2({"-A", "-t", "10.0.0.1:80", "-p", "5 "}, "invalid timeout value `5 ' specified"));
  EXPECT_TRUE(
      fails2({"-A", "-t", "10.0.0.1:80", "-p", "0x10"}, "invalid timeout value `0x10' specified"));
  EXPECT_EQ(ok({"--set", "1", "2", "03"}).timeouts.udp, 3);
  EXPECT_TRUE(fails2({"--set", "1.5", "2", "3"}, "invalid timeout value `1.5' specified"));
  EXPECT_TRUE(fails2({"-a", "-t", "10.0.0.1:80", "-r", "10.0.0.2", "-w", "1e3"},
                     "illegal weight specified"));
  EXPECT_EQ(ok({"-A", "-f", "01"}).svc.key.fwmark, 1u);
  EXPECT_TRUE(fails2({"-A", "-f", "0x1"}, "invalid fwmark value `0x1' specified"));
  EXPECT_EQ(ok({"-A", "-t", "10.0.0.1:80", "-M", "0x00ffffff"}).svc.netmask, 0x00ffffffu);
  EXPECT_EQ(ok({"-A", "-t", "10.0.0.1:80", "-M", "8"}).svc.netmask, 8u);  // inet_aton("8")
}

TEST(ParseQuirks, CheckOrder) {
  // The sched-flags word is judged before the matrix, the matrix before the semantic checks.
  EXPECT_TRUE(
      fails2({"-A", "-t", "10.0.0.1:80", "-b", "bogus,sh-port"}, "invalid scheduler flag `bogus'"));
  EXPECT_TRUE(fails2({"-A", "-t", "10.0.0.1:80", "-b", "sh-port,bogus"},
                     "incompatible scheduler flag `sh-port'"));
  EXPECT_TRUE(
      fails2({"-E", "-u", "10.0.0.1:0", "-o"}, "Zero port specified for non-persistent service"));
  EXPECT_TRUE(fails2({"-L", "-t", "10.0.0.1:80", "--daemon"},
                     "The option 'daemon' conflicts with the 'service-address' option in the "
                     "'list' command"));
  EXPECT_TRUE(fails2({"-L", "--tun-info", "--tun-type", "ipip"},
                     "Illegal 'tun-type' option with the 'list' command"));
  EXPECT_TRUE(fails2({"-a", "-t", "10.0.0.1:80", "-r", "10.0.0.2", "-g", "--tun-info"},
                     "Illegal 'tun-info' option with the 'add-server' command"));
  EXPECT_TRUE(fails2({"-a", "-t", "10.0.0.1:80", "-r", "10.0.0.2", "-i", "--tun-type", "gre",
                      "--tun-nocsum", "--tun-csum", "--tun-remcsum"},
                     "The option 'tun-csum' conflicts with the 'tun-nocsum' option in the 'gre' "
                     "tunnel type"));
  EXPECT_TRUE(fails2({"-a", "-t", "10.0.0.1:80", "-r", "10.0.0.2", "-6"}, "-6 used before -f\n"));
  EXPECT_TRUE(fails2({"-R", "extra"}, "unexpected argument extra"));
  EXPECT_TRUE(fails2({"-R", "-R"}, "invalid option `-R'"));
}

// ---------------------------------------------------------------------------------------------
// Restore lines (ipvsadm's restore_table(), config_stream_read()).

TEST(RestoreLines, Splitting) {
  using V = std::vector<std::string>;
  EXPECT_EQ(split_restore_line("-A -t 10.0.0.1:80 -s rr", "ipvsadm"),
            (V{"ipvsadm", "-A", "-t", "10.0.0.1:80", "-s", "rr"}));
  EXPECT_EQ(split_restore_line("ipvsadm -A -t 10.0.0.1:80", "/sbin/ipvsadm"),
            (V{"/sbin/ipvsadm", "-A", "-t", "10.0.0.1:80"}));
  EXPECT_EQ(split_restore_line("\t-A\t\t-t  10.0.0.1:80 \r", "uvsadm"),
            (V{"uvsadm", "-A", "-t", "10.0.0.1:80"}));
  EXPECT_EQ(split_restore_line("-A -t 10.0.0.1:80\n", "p"), (V{"p", "-A", "-t", "10.0.0.1:80"}));
  // Every "ipvsadm" word goes, wherever it is; look-alikes stay.
  EXPECT_EQ(split_restore_line("-A ipvsadm -t ipvsadm 10.0.0.1:80 ipvsadm", "p"),
            (V{"p", "-A", "-t", "10.0.0.1:80"}));
  EXPECT_EQ(split_restore_line("/sbin/ipvsadm -C ipvsadm2", "p"),
            (V{"p", "/sbin/ipvsadm", "-C", "ipvsadm2"}));
  // Nothing left: skip the line.
  EXPECT_TRUE(split_restore_line("", "p").empty());
  EXPECT_TRUE(split_restore_line(" \t\r", "p").empty());
  EXPECT_TRUE(split_restore_line("ipvsadm", "p").empty());
  EXPECT_TRUE(split_restore_line("ipvsadm  ipvsadm\r", "p").empty());
  // No quoting, no comments.
  EXPECT_EQ(split_restore_line("-A \"-t x\"", "p"), (V{"p", "-A", "\"-t", "x\""}));
  EXPECT_EQ(split_restore_line("# -C", "p"), (V{"p", "#", "-C"}));
}

TEST(RestoreLines, CommentLineFailsAsACommandLine) {
  ParseResult r = parse_command_line(split_restore_line("# saved rules", "ipvsadm"));
  EXPECT_FALSE(r.command.has_value());
  EXPECT_EQ(r.error, kTryHelp);
  EXPECT_EQ(r.exit_code, 255);
}

TEST(RestoreLines, SaveOutputParsesBack) {
  // The -S forms ipvsadm's print_service_entry() writes, each a valid command line.
  const char* lines[] = {
      "-A -t 192.168.1.100:80 -s wlc -p 360 -M 255.255.255.0",
      "-a -t 192.168.1.100:80 -r 192.168.10.1:80 -m -w 1",
      "-a -t 192.168.1.100:80 -r 192.168.10.2:8080 -m -w 2",
      "-A -u 10.0.0.1:53 -s sh -o -b sh-fallback,sh-port",
      "-a -u 10.0.0.1:53 -r 10.0.1.1:53 -g -w 1",
      "-A -t [2001:db8::80]:443 -s mh -b mh-port",
      "-a -t [2001:db8::80]:443 -r [2001:db8::a0a0]:443 -i -w 1 --tun-type ipip",
      "-A -f 1 -s rr",
      "-a -f 1 -r 10.0.2.1:0 -i -w 5 --tun-type ipip",
      "-A -f 2 -6 -s rr -p 360 -M 64",
      "-a -f 2 -6 -r [2001:db8::5]:0 -g -w 1",
      "-A --sctp-service 10.0.0.7:9999 -s rr --pe sip",
      "-a -t 207.175.44.110:80 -r 192.168.10.1:80 -i -w 1 --tun-type gue --tun-port 6080 "
      "--tun-nocsum",
      "-a -t 207.175.44.110:80 -r 192.168.10.2:80 -i -w 1 --tun-type gre --tun-csum",
      "-a -t 207.175.44.110:80 -r 192.168.10.3:80 -i -w 1 --tun-type gue --tun-port 1 "
      "--tun-remcsum",
  };
  for (const char* line : lines) {
    ParseResult r = parse_command_line(split_restore_line(line, "ipvsadm"));
    EXPECT_TRUE(r.command.has_value()) << line << ": " << r.error;
  }

  ParseResult r = parse_command_line(
      split_restore_line("-A -t 192.168.1.100:80 -s wlc -p 360 -M 255.255.255.0", "ipvsadm"));
  ASSERT_TRUE(r.command.has_value());
  EXPECT_EQ(r.command->svc.timeout, 360u);
  EXPECT_EQ(r.command->svc.netmask, 0xffffff00u);

  r = parse_command_line(split_restore_line("-A -f 2 -6 -s rr -p 360 -M 64", "ipvsadm"));
  ASSERT_TRUE(r.command.has_value());
  EXPECT_EQ(r.command->svc.key.af, AF_INET6);
  EXPECT_EQ(r.command->svc.netmask, 64u);

  // A restore line that is itself -R parses as restore; refusing it is the caller's job.
  r = parse_command_line(split_restore_line("-R", "ipvsadm"));
  ASSERT_TRUE(r.command.has_value());
  EXPECT_EQ(r.command->kind, CommandKind::kRestore);
}

}  // namespace
}  // namespace uvs::cli

namespace uvs::cli {
namespace {

// uvs's --pick: a service and nothing else (the clients come on stdin).
TEST(ParsePick, TakesOneServiceOfAnyKind) {
  Command c = ok({"--pick", "-t", "192.0.2.1:80"});
  EXPECT_EQ(c.kind, CommandKind::kPick);
  EXPECT_EQ(c.options, opt(kOptService));
  EXPECT_EQ(c.svc.key.addr, addr("192.0.2.1"));
  EXPECT_EQ(c.svc.key.port, 80);
  EXPECT_EQ(c.svc.key.protocol, kProtoTcp);
  c = ok({"--pick", "-u", "[2001:db8::1]:53"});
  EXPECT_EQ(c.svc.key.af, AF_INET6);
  EXPECT_EQ(c.svc.key.protocol, kProtoUdp);
  c = ok({"--pick", "--sctp-service", "192.0.2.1:9"});
  EXPECT_EQ(c.svc.key.protocol, kProtoSctp);
  c = ok({"--pick", "-f", "7", "-6"});
  EXPECT_EQ(c.svc.key.fwmark, 7u);
  EXPECT_EQ(c.svc.key.af, AF_INET6);
}

TEST(ParsePick, RefusesWhatIsNotAService) {
  EXPECT_TRUE(fails2({"--pick"},
                     "You need to supply the 'service-address' option for the 'pick' command"));
  EXPECT_TRUE(fails2({"--pick", "-t", "192.0.2.1:80", "-r", "10.0.0.1"},
                     "Illegal 'real-server' option with the 'pick' command"));
  EXPECT_TRUE(fails2({"--pick", "-t", "192.0.2.1:80", "-s", "mh"},
                     "Illegal 'scheduler' option with the 'pick' command"));
  EXPECT_TRUE(fails2({"--pick", "-n", "-t", "192.0.2.1:80"},
                     "Illegal 'numeric' option with the 'pick' command"));
  EXPECT_TRUE(fails2({"--pick", "-t", "192.0.2.1:80", "-u", "192.0.2.1:80"},
                     "multiple 'service-address' options specified"));
  EXPECT_TRUE(fails2({"--pick", "-t", "192.0.2.1:80", "10.0.0.1:5"},
                     "unexpected argument 10.0.0.1:5"));
  EXPECT_TRUE(fails2({"--pick", "-t", "nonsense:80"},
                     "illegal virtual server address[:port] specified"));
  EXPECT_TRUE(fails2({"-L", "--pick"}, "invalid option `--pick'"));
  EXPECT_TRUE(fails({"--pick=1", "-t", "192.0.2.1:80"}, kTryHelp, 255));
}

}  // namespace
}  // namespace uvs::cli
