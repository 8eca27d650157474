// Every error of ipvsadm's option checks and of the kernel (as ipvs_strerror() words it) through
// the real binaries: exact stderr, exact exit status, and the table unchanged afterwards.
#include <gtest/gtest.h>

#include "tests/integration/harness.h"

namespace uvs::testing {
namespace {

struct ErrorCase {
  std::vector<std::string> args;
  std::string err;  // "%P" stands for argv[0]
  int status;
};

std::string expand(std::string s, const std::string& prog) {
  for (size_t p; (p = s.find("%P")) != std::string::npos;) s.replace(p, 2, prog);
  return s;
}

const char* const kTry = "Try `%P -h' or '%P --help' for more information.\n";
const char* const kInvalid =
    "Invalid operation.  Possibly wrong module version, address not unicast, ...\n";

const std::vector<ErrorCase> kCases = {
    // Kernel errors (ipvs_strerror()), exit 255.
    {{"-A", "-t", "10.0.0.1:80", "-s", "rr"}, "Service already exists\n", 255},
    {{"-a", "-t", "10.0.0.9:80", "-r", "192.168.0.1"}, "Service not defined\n", 255},
    {{"-A", "-t", "10.0.0.1:81", "-s", "foo"}, "Scheduler or persistence engine not found\n", 255},
    {{"-E", "-t", "10.0.0.1:80", "-s", "foo"}, "Scheduler or persistence engine not found\n", 255},
    {{"-A", "-t", "10.0.0.1:82", "-p", "--pe", "nope"},
     "Scheduler or persistence engine not found\n", 255},
    // No persistence engine is built in: sip fails as when ip_vs_pe_sip is not loaded.
    {{"-A", "-u", "10.0.0.1:5060", "-p", "--pe", "sip"},
     "Scheduler or persistence engine not found\n", 255},
    {{"-a", "-t", "10.0.0.1:80", "-r", "192.168.0.2", "-x", "10", "-y", "20"},
     "Numerical result out of range\n", 255},
    {{"-a", "-t", "10.0.0.1:80", "-r", "192.168.0.2", "-y", "5"},
     "Numerical result out of range\n", 255},
    {{"-D", "-t", "10.0.0.2:80"}, "No such service\n", 255},
    {{"-E", "-t", "10.0.0.2:80"}, "No such service\n", 255},
    {{"-Z", "-t", "10.0.0.2:80"}, "No such service\n", 255},
    {{"-e", "-t", "10.0.0.1:80", "-r", "192.168.0.9"}, "No such destination\n", 255},
    {{"-d", "-t", "10.0.0.1:80", "-r", "192.168.0.9"}, "No such destination\n", 255},
    {{"-d", "-t", "10.0.0.3:80", "-r", "192.168.0.9"}, "Service not defined\n", 255},
    {{"-a", "-t", "10.0.0.1:80", "-r", "192.168.0.1:80", "-m"}, "Destination already exists\n",
     255},
    {{"-a", "-t", "10.0.0.1:80", "-r", "224.0.0.1"}, kInvalid, 255},
    {{"-a", "-t", "10.0.0.1:80", "-r", "0.0.0.0"}, kInvalid, 255},
    {{"-a", "-t", "10.0.0.1:80", "-r", "255.255.255.255"}, kInvalid, 255},
    // Listing errors exit 1.
    {{"-L", "-t", "10.0.0.2:80"}, "No such service\n", 1},
    {{"-L", "-n", "-u", "10.0.0.1:80"}, "No such service\n", 1},
    // popt errors, exit 255.
    {{"-n", "-L"}, kTry, 255},
    {{"-A", "-t"}, "-t: missing argument\n", 255},
    {{"-A", "-t", "10.0.0.9:80", "--bogus"}, "--bogus: unknown option\n", 255},
    {{"nonsense"}, kTry, 255},
    // ipvsadm's own checks (parse_options(), process_options()), exit 2.
    {{"-A", "-t", "10.0.0.1"}, "Zero port specified for non-persistent service\n", 2},
    {{"-L", "-c", "--stats"}, "options conflicts in the list command\n", 2},
    {{"-L", "--timeout", "--persistent-conn"}, "options conflicts in the list command\n", 2},
    {{"-A"}, "You need to supply the 'service-address' option for the 'add-service' command\n", 2},
    {{"-A", "-t", "1.2.3.4:80", "-r", "5.6.7.8"},
     "Illegal 'real-server' option with the 'add-service' command\n", 2},
    {{"-L", "-c", "-t", "1.2.3.4:80"},
     "The option 'service-address' conflicts with the 'connection' option in the 'list' command\n",
     2},
    {{"-a", "-t", "1.2.3.4:80"},
     "You need to supply the 'real-server' option for the 'add-server' command\n", 2},
    {{"-A", "-t", "10.0.0.7:80", "-n"},
     "Illegal 'numeric' option with the 'add-service' command\n", 2},
    {{"-S", "-c"}, "Illegal 'connection' option with the 'save' command\n", 2},
    {{"-A", "-t", "10.0.0.5:80", "-s", "rr", "-s", "wrr"},
     "multiple 'scheduler' options specified\n", 2},
    {{"-a", "-t", "10.0.0.1:80", "-r", "1.1.1.1", "-g", "-m"},
     "multiple 'forwarding-method' options specified\n", 2},
    {{"-A", "-t", "10.0.0.1:84", "-o"},
     "One-Packet Scheduling is only for UDP virtual services\n", 2},
    {{"--set", "1", "2"}, "--set option requires 3 timeout values\n", 2},
    {{"--set", "1", "2", "99999999"}, "invalid timeout value `99999999' specified\n", 2},
    {{"-a", "-t", "10.0.0.1:80", "-r", "192.168.0.3", "-w", "-1"}, "illegal weight specified\n",
     2},
    {{"-a", "-t", "10.0.0.1:80", "-r", "192.168.0.3", "-w", "5x"}, "illegal weight specified\n",
     2},
    {{"-a", "-t", "10.0.0.1:80", "-r", "192.168.0.3", "-x", "-4"},
     "illegal u_threshold specified\n", 2},
    {{"-a", "-t", "10.0.0.1:80", "-r", "192.168.0.3", "-y", "z"},
     "illegal l_threshold specified\n", 2},
    {{"-A", "-f", "0"}, "invalid fwmark value `0' specified\n", 2},
    {{"-A", "-6", "-f", "1"}, "-6 used before -f\n\n", 2},
    {{"-A", "-t", "10.0.0.1:85", "-b", "sh-port"}, "incompatible scheduler flag `sh-port'\n", 2},
    {{"-A", "-t", "10.0.0.1:85", "-b", "foo"}, "invalid scheduler flag `foo'\n", 2},
    {{"-A", "-t", "10.0.0.1:85", "-p", "0"}, "invalid timeout value `0' specified\n", 2},
    {{"-A", "-t", "10.0.0.1:85", "-M", "255.255.255.0", "-p", "10", "-M", "255.0.0.0"},
     "multiple 'netmask' options specified\n", 2},
    {{"-a", "-t", "10.0.0.1:80", "-r", "192.168.0.4", "--tun-type", "gue"},
     "Tunnel options conflict with forward method\n", 2},
    {{"-a", "-t", "10.0.0.1:80", "-r", "192.168.0.4", "-i", "--tun-type", "gue"},
     "You need to supply the 'tun-port' option for the 'gue' tunnel type\n", 2},
    {{"-a", "-t", "10.0.0.1:80", "-r", "192.168.0.4", "-i", "--tun-port", "5"},
     "Illegal 'tun-port' option with the 'ipip' tunnel type\n", 2},
    {{"-a", "-t", "10.0.0.1:80", "-r", "192.168.0.4", "-i", "--tun-type", "gue", "--tun-port",
      "5", "--tun-nocsum", "--tun-csum"},
     "The option 'tun-csum' conflicts with the 'tun-nocsum' option in the 'gue' tunnel type\n", 2},
    {{"-a", "-t", "10.0.0.1:80", "-r", "192.168.0.4", "-i", "--tun-type", "vxlan"},
     "illegal tunnel type specified\n", 2},
    {{"-A", "-t", "999.0.0.1:80"}, "illegal virtual server address[:port] specified\n", 2},
    {{"-A", "-t", "10.0.0.1:"}, "illegal virtual server address[:port] specified\n", 2},
    {{"-A", "-t", "[2001:db8::1]"}, "illegal virtual server address[:port] specified\n", 2},
    {{"-A", "-t", "8080"}, "illegal virtual server address[:port] specified\n", 2},
    {{"-a", "-t", "10.0.0.1:80", "-r", "192.168.0.1:99999"},
     "illegal real server address[:port] specified\n", 2},
    {{"-a", "-t", "10.0.0.1:80", "-r", "[2001:db8::5]:80", "-m"},
     "Different address family is allowed only for tunneling servers\n", 2},
    {{"-A", "-t", "10.0.0.8:80", "extra"}, "unexpected argument extra\n", 2},
    {{"--start-daemon", "foo"}, "illegal start-daemon parameter specified\n", 2},
    {{"--stop-daemon", "foo"}, "illegal start_daemon specified\n", 2},
    {{"--start-daemon", "master", "--syncid", "256"}, "illegal syncid specified\n", 2},
    {{"--start-daemon", "master", "--mcast-group", "10.0.0.1"},
     "invalid IPv4 mcast-group `10.0.0.1'\n", 2},
    // --pick (uvs's own): a service and nothing else; a listing's exit status when uvsd refuses.
    {{"--pick"}, "You need to supply the 'service-address' option for the 'pick' command\n", 2},
    {{"--pick", "-t", "10.0.0.1:80", "-r", "192.168.0.1"},
     "Illegal 'real-server' option with the 'pick' command\n", 2},
    {{"--pick", "-t", "10.0.0.1:80", "-s", "mh"},
     "Illegal 'scheduler' option with the 'pick' command\n", 2},
    {{"--pick", "-t", "10.0.0.1:80", "10.9.9.9:1"}, "unexpected argument 10.9.9.9:1\n", 2},
    {{"--pick", "-t", "10.0.0.2:80"}, "No such service\n", 1},
    {{"--pick", "-t", "10.0.0.1:80"},
     "uvsadm: --pick: the rr scheduler picks by more than the client tuple; only mh, sh and dh "
     "can be asked\n",
     1},
    {{"--pick", "-u", "10.0.0.1:53"},
     "uvsadm: --pick: the wlc scheduler picks by more than the client tuple; only mh, sh and dh "
     "can be asked\n",
     1},
};

class Errors : public ::testing::Test {
 protected:
  void SetUp() override {
    for (auto args : std::vector<std::vector<std::string>>{
             {"-A", "-t", "10.0.0.1:80", "-s", "rr"},
             {"-a", "-t", "10.0.0.1:80", "-r", "192.168.0.1:80", "-m"},
             {"-A", "-u", "10.0.0.1:53", "-s", "wlc"}}) {
      ASSERT_EQ(uvsd_.adm(args).status, 0);
    }
    table_ = uvsd_.adm({"-S", "-n"}).out;
    ASSERT_FALSE(table_.empty());
  }
  Daemon uvsd_;
  std::string table_;
};

TEST_F(Errors, EachErrorHasExactTextStatusAndChangesNothing) {
  const std::string prog = build_path("uvsadm");
  for (const auto& c : kCases) {
    if (c.status == 0) continue;
    SCOPED_TRACE(::testing::PrintToString(c.args));
    RunResult r = uvsd_.adm(c.args);
    EXPECT_EQ(r.err, expand(c.err, prog));
    EXPECT_EQ(r.status, c.status);
    EXPECT_EQ(r.out, "");
    EXPECT_EQ(uvsd_.adm({"-S", "-n"}).out, table_);
  }
}

TEST_F(Errors, RestoreStopsAtAParseErrorAndGoesOnAfterTableErrors) {
  // A table error is reported and the restore continues; the status is the last line's.
  RunResult r = uvsd_.adm({"-R"},
                          "-A -t 10.0.0.1:80 -s rr\n"
                          "-A -t 10.0.0.2:80 -s rr\n");
  EXPECT_EQ(r.err, "Service already exists\n");
  EXPECT_EQ(r.status, 0);
  EXPECT_NE(uvsd_.adm({"-S", "-n"}).out.find("-A -t 10.0.0.2:80 -s rr"), std::string::npos);
  // A parse error ends it with status 2; later lines are not applied.
  r = uvsd_.adm({"-R"},
                "-A -t 10.0.0.3:80 -s rr\n"
                "-A -t 10.0.0.4\n"
                "-A -t 10.0.0.5:80 -s rr\n");
  EXPECT_EQ(r.err, "Zero port specified for non-persistent service\n");
  EXPECT_EQ(r.status, 2);
  std::string saved = uvsd_.adm({"-S", "-n"}).out;
  EXPECT_NE(saved.find("10.0.0.3:80"), std::string::npos);
  EXPECT_EQ(saved.find("10.0.0.5:80"), std::string::npos);
  // Comment and blank lines are skipped, as ipvsadm-restore skips them ('#' elsewhere on a
  // line is still a word).
  r = uvsd_.adm({"-R"}, "# a comment\n\n   # indented\n-A -t 10.0.0.6:80 -s rr\n");
  EXPECT_EQ(r.err, "");
  EXPECT_EQ(r.status, 0);
  EXPECT_NE(uvsd_.adm({"-S", "-n"}).out.find("10.0.0.6:80"), std::string::npos);
  r = uvsd_.adm({"-R"}, "-A -t 10.0.0.7:80 -s rr # web\n");
  EXPECT_EQ(r.err, "unexpected argument #\n");
  EXPECT_EQ(r.status, 2);
  // -R inside -R.
  r = uvsd_.adm({"-R"}, "-R\n");
  EXPECT_EQ(r.status, 255);
}

// --pick's input: one client ADDR:PORT ([ADDR]:PORT) a line; anything else is refused by line
// number before anything is asked or printed.
TEST_F(Errors, PickReadsOneClientALineAndRefusesAnythingElse) {
  for (auto args : std::vector<std::vector<std::string>>{
           {"-A", "-t", "10.0.0.3:80", "-s", "mh"},
           {"-a", "-t", "10.0.0.3:80", "-r", "192.168.0.1:80", "-m"},
           {"-a", "-t", "10.0.0.3:80", "-r", "192.168.0.2:80", "-m", "-w", "3"},
           {"-A", "-t", "10.0.0.4:80", "-s", "sh"},
           {"-A", "-f", "3", "-s", "dh"}}) {
    ASSERT_EQ(uvsd_.adm(args).status, 0);
  }
  const std::string table = uvsd_.adm({"-S", "-n"}).out;
  const std::vector<std::string> mh = {"--pick", "-t", "10.0.0.3:80"};
  struct InputCase {
    std::string input, err;
  };
  for (const InputCase& c : std::vector<InputCase>{
           {"1.2.3.4:5\nnonsense\n",
            "uvsadm: --pick: line 2: `nonsense' is not ADDR:PORT ([ADDR]:PORT for IPv6)\n"},
           {"1.2.3.4:5\n\n1.2.3.5:5\n",
            "uvsadm: --pick: line 2: `' is not ADDR:PORT ([ADDR]:PORT for IPv6)\n"},
           {"1.2.3.4:70000\n",
            "uvsadm: --pick: line 1: `1.2.3.4:70000' is not ADDR:PORT ([ADDR]:PORT for IPv6)\n"},
           {"1.2.3.4\n",
            "uvsadm: --pick: line 1: `1.2.3.4' is not ADDR:PORT ([ADDR]:PORT for IPv6)\n"},
           {"localhost:80\n",
            "uvsadm: --pick: line 1: `localhost:80' is not ADDR:PORT ([ADDR]:PORT for IPv6)\n"},
           {"2001:db8::1:80\n",
            "uvsadm: --pick: line 1: `2001:db8::1:80' is not ADDR:PORT ([ADDR]:PORT for IPv6)\n"},
           {"1.2.3.4:5\n[2001:db8::1]:80\n",
            "uvsadm: --pick: line 2: an IPv6 client for an IPv4 service\n"}}) {
    SCOPED_TRACE(c.input);
    RunResult r = uvsd_.adm(mh, c.input);
    EXPECT_EQ(r.err, c.err);
    EXPECT_EQ(r.status, 2);
    EXPECT_EQ(r.out, "");
  }
  // dh hashes the destination, which a fwmark service does not name.
  RunResult r = uvsd_.adm({"--pick", "-f", "3"}, "1.2.3.4:5\n");
  EXPECT_EQ(r.err,
            "uvsadm: --pick: dh hashes the packet's destination address, which a fwmark service "
            "does not name\n");
  EXPECT_EQ(r.status, 1);
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(uvsd_.adm({"-S", "-n"}).out, table);

  // Good input: one line per client, in order, a CRLF file too; none without servers; no input
  // is no output.
  r = uvsd_.adm(mh, "198.51.100.1:1000\r\n198.51.100.2:1000\n198.51.100.1:1000");
  EXPECT_EQ(r.err, "");
  EXPECT_EQ(r.status, 0);
  const auto first = r.out.substr(0, r.out.find('\n') + 1);
  EXPECT_TRUE(first == "198.51.100.1:1000 -> 192.168.0.1:80\n" ||
              first == "198.51.100.1:1000 -> 192.168.0.2:80\n")
      << r.out;
  EXPECT_EQ(std::count(r.out.begin(), r.out.end(), '\n'), 3) << r.out;
  EXPECT_EQ(r.out.substr(r.out.rfind('\n', r.out.size() - 2) + 1), first);
  r = uvsd_.adm({"--pick", "-t", "10.0.0.4:80"}, "198.51.100.1:1000\n");
  EXPECT_EQ(r.out, "198.51.100.1:1000 -> -\n");
  EXPECT_EQ(r.status, 0);
  r = uvsd_.adm(mh, "");
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(r.err, "");
  EXPECT_EQ(r.status, 0);
}

TEST(NoDaemon, SaysSoInOneLineAndExits2) {
  std::string sock = "/tmp/uvs-it-nosuch-" + std::to_string(getpid()) + ".sock";
  RunResult r = run({build_path("uvsadm"), "--socket", sock, "-Ln"});
  EXPECT_EQ(r.status, 2);
  EXPECT_EQ(r.out, "");
  EXPECT_NE(r.err.find(sock), std::string::npos) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  // UVS_SOCKET names it too.
  setenv("UVS_SOCKET", sock.c_str(), 1);
  r = run({build_path("uvsadm"), "-Ln"});
  unsetenv("UVS_SOCKET");
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find(sock), std::string::npos) << r.err;
  // Help and version need no daemon.
  EXPECT_EQ(run({build_path("uvsadm"), "--socket", sock, "-h"}).status, 0);
  EXPECT_EQ(run({build_path("uvsadm"), "--socket", sock, "-v"}).status, 0);
}

}  // namespace
}  // namespace uvs::testing
