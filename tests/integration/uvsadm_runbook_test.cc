// The seed runbooks, -S/-C/-R, -E/-e replacement and --set, through real uvsd and uvsadm.
#include <gtest/gtest.h>

#include "tests/integration/harness.h"

namespace uvs::testing {
namespace {

constexpr const char* kHeader =
    "IP Virtual Server version 1.2.1 (size=4096)\n"
    "Prot LocalAddress:Port Scheduler Flags\n"
    "  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn\n";

class Runbook : public ::testing::Test {
 protected:
  Daemon uvsd_{{"--conn-max", "4096"}};

  void ok(std::vector<std::string> args) {
    RunResult r = uvsd_.adm(args);
    ASSERT_EQ(r.status, 0) << "uvsadm " << ::testing::PrintToString(args) << ": " << r.err;
    ASSERT_EQ(r.err, "");
  }
  std::string list() {
    RunResult r = uvsd_.adm({"-Ln"});
    EXPECT_EQ(r.status, 0) << r.err;
    return r.out;
  }
};

TEST_F(Runbook, NatFromSeed) {
  ok({"-A", "-t", "192.168.56.102:80", "-s", "rr"});
  ok({"-a", "-t", "192.168.56.102:80", "-r", "172.17.0.2:8000", "-m"});
  ok({"-a", "-t", "192.168.56.102:80", "-r", "172.17.0.3:8000", "-m"});
  EXPECT_EQ(list(), std::string(kHeader) +
                        "TCP  192.168.56.102:80 rr\n"
                        "  -> 172.17.0.2:8000              Masq    1      0          0         \n"
                        "  -> 172.17.0.3:8000              Masq    1      0          0         \n");
}

TEST_F(Runbook, DrAndTunFromSeed) {
  ok({"-A", "-t", "192.168.56.200:80", "-s", "wrr"});
  ok({"-a", "-t", "192.168.56.200:80", "-r", "192.168.56.102:80", "-g", "-w", "1"});
  ok({"-a", "-t", "192.168.56.200:80", "-r", "192.168.56.104:80", "-g", "-w", "3"});
  ok({"-A", "-t", "192.168.56.210:80", "-s", "rr"});
  ok({"-a", "-t", "192.168.56.210:80", "-r", "192.168.56.102:80", "-i"});
  ok({"-a", "-t", "192.168.56.210:80", "-r", "192.168.56.104:80", "-i"});
  EXPECT_EQ(list(), std::string(kHeader) +
                        "TCP  192.168.56.200:80 wrr\n"
                        "  -> 192.168.56.102:80            Route   1      0          0         \n"
                        "  -> 192.168.56.104:80            Route   3      0          0         \n"
                        "TCP  192.168.56.210:80 rr\n"
                        "  -> 192.168.56.102:80            Tunnel  1      0          0         \n"
                        "  -> 192.168.56.104:80            Tunnel  1      0          0         \n");
}

TEST_F(Runbook, FullNatFromSeed) {
  ok({"-A", "-t", "192.168.58.200:80", "-s", "wrr"});
  ok({"-a", "-t", "192.168.58.200:80", "-r", "192.168.56.102:80", "-b", "-w", "2"});
  ok({"-a", "-t", "192.168.58.200:80", "-r", "192.168.56.104:80", "-b", "-w", "1"});
  ok({"-P", "-t", "192.168.58.200:80", "-z", "192.168.58.100"});
  EXPECT_EQ(list(), std::string(kHeader) +
                        "TCP  192.168.58.200:80 wrr\n"
                        "  -> 192.168.56.102:80            FullNat 2      0          0         \n"
                        "  -> 192.168.56.104:80            FullNat 1      0          0         \n");
  RunResult g = uvsd_.adm({"-G", "-n"});
  EXPECT_EQ(g.status, 0) << g.err;
  EXPECT_NE(g.out.find("192.168.58.100"), std::string::npos) << g.out;
  EXPECT_NE(g.out.find("192.168.58.200:80"), std::string::npos) << g.out;
  RunResult s = uvsd_.adm({"-S", "-n"});
  const std::string saved =
      "-A -t 192.168.58.200:80 -s wrr\n"
      "-a -t 192.168.58.200:80 -r 192.168.56.102:80 -b -w 2\n"
      "-a -t 192.168.58.200:80 -r 192.168.56.104:80 -b -w 1\n"
      "-P -t 192.168.58.200:80 -z 192.168.58.100\n";
  EXPECT_EQ(s.out, saved);
  // The local addresses survive -C | -R.
  ok({"-C"});
  ASSERT_EQ(uvsd_.adm({"-R"}, saved).status, 0);
  EXPECT_EQ(uvsd_.adm({"-S", "-n"}).out, saved);
  ok({"-Q", "-t", "192.168.58.200:80", "-z", "192.168.58.100"});
  RunResult again = uvsd_.adm({"-Q", "-t", "192.168.58.200:80", "-z", "192.168.58.100"});
  EXPECT_EQ(again.status, 255);
}

TEST_F(Runbook, PortCopiedFromServiceAndSaveRestore) {
  // seed 004: reals without a port take the service's.
  ok({"-A", "-t", "10.0.0.200:8080", "-s", "wrr"});
  ok({"-a", "-t", "10.0.0.200:8080", "-r", "10.0.0.13", "-m"});
  ok({"-a", "-t", "10.0.0.200:8080", "-r", "10.0.0.14", "-m"});
  ok({"-A", "-u", "10.0.0.1:53", "-s", "sh", "-o", "-b", "sh-fallback,sh-port"});
  ok({"-a", "-u", "10.0.0.1:53", "-r", "10.0.1.1"});
  ok({"-A", "-t", "192.168.1.100:80", "-p", "-M", "255.255.255.0"});
  ok({"-a", "-t", "192.168.1.100:80", "-r", "192.168.10.2:8080", "-m", "-w", "2", "-x", "100",
      "-y", "50"});
  ok({"-A", "-f", "1", "-s", "rr"});
  ok({"-a", "-f", "1", "-r", "10.0.2.1", "-i", "-w", "5", "--tun-type", "gue", "--tun-port",
      "6080", "--tun-csum"});
  ok({"-A", "-t", "[2001:db8::80]:443", "-s", "mh", "-b", "mh-port"});
  ok({"-a", "-t", "[2001:db8::80]:443", "-r", "[2001:db8::a0a0]:443", "-i"});
  const std::string saved =
      // 192.168.1.100 sorts before 10.0.0.200: ipvsadm's 32-bit difference wraps.
      "-A -t 192.168.1.100:80 -s wlc -p 360 -M 255.255.255.0\n"
      "-a -t 192.168.1.100:80 -r 192.168.10.2:8080 -m -w 2\n"
      "-A -t 10.0.0.200:8080 -s wrr\n"
      "-a -t 10.0.0.200:8080 -r 10.0.0.13:8080 -m -w 1\n"
      "-a -t 10.0.0.200:8080 -r 10.0.0.14:8080 -m -w 1\n"
      "-A -u 10.0.0.1:53 -s sh -o -b sh-fallback,sh-port\n"
      "-a -u 10.0.0.1:53 -r 10.0.1.1:53 -g -w 1\n"
      "-A -t [2001:db8::80]:443 -s mh -b mh-port\n"
      "-a -t [2001:db8::80]:443 -r [2001:db8::a0a0]:443 -i -w 1 --tun-type ipip\n"
      "-A -f 1 -s rr\n"
      "-a -f 1 -r 10.0.2.1:0 -i -w 5 --tun-type gue --tun-port 6080 --tun-csum\n";
  RunResult s = uvsd_.adm({"-S", "-n"});
  ASSERT_EQ(s.status, 0) << s.err;
  EXPECT_EQ(s.out, saved);
  std::string before = list();

  ok({"-C"});
  EXPECT_EQ(list(), kHeader);
  RunResult r = uvsd_.adm({"-R"}, saved);
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(uvsd_.adm({"-S", "-n"}).out, saved);
  EXPECT_EQ(list(), before);

  // ipvsadm-save output prefixed with the program name restores too.
  ok({"-C"});
  std::string prefixed;
  for (size_t pos = 0; pos < saved.size();) {
    size_t nl = saved.find('\n', pos);
    prefixed += "ipvsadm " + saved.substr(pos, nl - pos) + "\r\n";
    pos = nl + 1;
  }
  r = uvsd_.adm({"-R"}, prefixed + "\n   \n");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(uvsd_.adm({"-S", "-n"}).out, saved);
}

TEST_F(Runbook, EveryPersistentServiceSavedRestores) {
  // -S writes what -R reads back: uvsd refuses the timeouts -p refuses (0, over 31 days), so
  // no persistent service can be saved as an unreadable `-p 0`.
  ok({"-A", "-t", "10.0.3.1:80", "-p"});
  ok({"-A", "-t", "10.0.3.2:80", "-p", "1"});
  ok({"-A", "-t", "10.0.3.3:80", "-p", "2678400"});
  ok({"-A", "-t", "10.0.3.4:0", "-s", "rr", "--persistent=60", "-M", "255.255.0.0"});
  ok({"-A", "-f", "7", "-p", "120"});
  ok({"-A", "-f", "8", "-6", "-p", "-M", "64"});
  ok({"-A", "-u", "[2001:db8::3]:53", "-s", "sh", "-p", "30", "-M", "96", "-o"});
  ok({"-E", "-t", "10.0.3.1:80", "-s", "wrr", "-p", "600"});
  const std::string saved = uvsd_.adm({"-S", "-n"}).out;
  for (const char* bad : {"0", "2678401"}) {
    RunResult r = uvsd_.adm({"-A", "-t", "10.0.3.9:80", "-p", bad});
    EXPECT_EQ(r.status, 2);
  }
  const std::string before = list();
  ok({"-C"});
  // As the README's runbook keeps it: a file with comments, restored by -R.
  RunResult r = uvsd_.adm({"-R"}, "# uvsadm -S -n\n\n" + saved);
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.err, "");
  EXPECT_EQ(uvsd_.adm({"-S", "-n"}).out, saved);
  EXPECT_EQ(list(), before);
}

TEST_F(Runbook, EditServiceReplacesTheWholeDefinition) {
  ok({"-A", "-t", "10.1.1.1:80", "-s", "sh", "-p", "600", "-M", "255.255.0.0", "-b", "sh-port"});
  EXPECT_EQ(uvsd_.adm({"-S", "-n"}).out,
            "-A -t 10.1.1.1:80 -s sh -p 600 -M 255.255.0.0 -b sh-port\n");
  // Omitted -s resets to wlc, omitted -p clears persistence and the mask.
  ok({"-E", "-t", "10.1.1.1:80"});
  EXPECT_EQ(uvsd_.adm({"-S", "-n"}).out, "-A -t 10.1.1.1:80 -s wlc\n");
  ok({"-E", "-t", "10.1.1.1:80", "-s", "rr", "-p"});
  EXPECT_EQ(uvsd_.adm({"-S", "-n"}).out, "-A -t 10.1.1.1:80 -s rr -p 360\n");
}

TEST_F(Runbook, EditServerReplacesTheWholeDefinition) {
  ok({"-A", "-t", "10.1.1.1:80"});
  ok({"-a", "-t", "10.1.1.1:80", "-r", "10.2.2.2:8080", "-m", "-w", "7", "-x", "10", "-y", "5"});
  RunResult t = uvsd_.adm({"-Ln", "--thresholds"});
  EXPECT_NE(t.out.find("  -> 10.2.2.2:8080                10         5          0          0         \n"),
            std::string::npos)
      << t.out;
  // Omitted -w is 1, -x/-y 0, forwarding DR (which forces the service port).
  ok({"-e", "-t", "10.1.1.1:80", "-r", "10.2.2.2:8080", "-m"});
  EXPECT_EQ(uvsd_.adm({"-S", "-n"}).out,
            "-A -t 10.1.1.1:80 -s wlc\n-a -t 10.1.1.1:80 -r 10.2.2.2:8080 -m -w 1\n");
  t = uvsd_.adm({"-Ln", "--thresholds"});
  EXPECT_NE(t.out.find("  -> 10.2.2.2:8080                0          0          0          0         \n"),
            std::string::npos)
      << t.out;
  // Weight 0 quiesces and is kept.
  ok({"-e", "-t", "10.1.1.1:80", "-r", "10.2.2.2:8080", "-m", "-w", "0"});
  EXPECT_EQ(uvsd_.adm({"-S", "-n"}).out,
            "-A -t 10.1.1.1:80 -s wlc\n-a -t 10.1.1.1:80 -r 10.2.2.2:8080 -m -w 0\n");
}

TEST_F(Runbook, SetTimeoutsZeroKeepsValue) {
  EXPECT_EQ(uvsd_.adm({"-L", "--timeout"}).out, "Timeout (tcp tcpfin udp): 900 120 300\n");
  ok({"--set", "3600", "0", "0"});
  EXPECT_EQ(uvsd_.adm({"-L", "--timeout"}).out, "Timeout (tcp tcpfin udp): 3600 120 300\n");
  ok({"--set", "0", "60", "30"});
  EXPECT_EQ(uvsd_.adm({"-L", "--timeout"}).out, "Timeout (tcp tcpfin udp): 3600 60 30\n");
  ok({"--set", "0", "0", "0"});
  EXPECT_EQ(uvsd_.adm({"-L", "--timeout"}).out, "Timeout (tcp tcpfin udp): 3600 60 30\n");
}

TEST_F(Runbook, ListingsOfEveryShape) {
  ok({"-A", "-t", "192.168.1.100:80", "-p", "-M", "255.255.255.0"});
  ok({"-a", "-t", "192.168.1.100:80", "-r", "192.168.10.1:80", "-m", "-x", "100", "-y", "50"});
  const std::string svc = "TCP  192.168.1.100:80                    0        0        0        0        0\n"
                          "  -> 192.168.10.1:80                     0        0        0        0        0\n";
  EXPECT_EQ(uvsd_.adm({"-Ln", "--stats"}).out,
            "IP Virtual Server version 1.2.1 (size=4096)\n"
            "Prot LocalAddress:Port               Conns   InPkts  OutPkts  InBytes OutBytes\n"
            "  -> RemoteAddress:Port\n" + svc);
  EXPECT_EQ(uvsd_.adm({"-Ln", "--rate"}).out,
            "IP Virtual Server version 1.2.1 (size=4096)\n"
            "Prot LocalAddress:Port                 CPS    InPPS   OutPPS    InBPS   OutBPS\n"
            "  -> RemoteAddress:Port\n" + svc);
  EXPECT_EQ(uvsd_.adm({"-Ln", "--thresholds"}).out,
            "IP Virtual Server version 1.2.1 (size=4096)\n"
            "Prot LocalAddress:Port            Uthreshold Lthreshold ActiveConn InActConn \n"
            "  -> RemoteAddress:Port\n"
            "TCP  192.168.1.100:80 wlc persistent 360 mask 255.255.255.0\n"
            "  -> 192.168.10.1:80              100        50         0          0         \n");
  EXPECT_EQ(uvsd_.adm({"-Ln", "--persistent-conn"}).out,
            "IP Virtual Server version 1.2.1 (size=4096)\n"
            "Prot LocalAddress:Port            Weight    PersistConn ActiveConn InActConn \n"
            "  -> RemoteAddress:Port\n"
            "TCP  192.168.1.100:80 wlc persistent 360 mask 255.255.255.0\n"
            "  -> 192.168.10.1:80              1         0           0          0         \n");
  EXPECT_EQ(uvsd_.adm({"-Ln", "-t", "192.168.1.100:80"}).out,
            "Prot LocalAddress:Port Scheduler Flags\n"
            "  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn\n"
            "TCP  192.168.1.100:80 wlc persistent 360 mask 255.255.255.0\n"
            "  -> 192.168.10.1:80              Masq    1      0          0         \n");
  EXPECT_EQ(uvsd_.adm({"-Lnc"}).out,
            "IPVS connection entries\n"
            "pro expire state       source             virtual            destination\n");
  EXPECT_EQ(uvsd_.adm({"-L", "--daemon"}).out, "");
  ok({"-Z"});
  ok({"-Z", "-t", "192.168.1.100:80"});
}

TEST_F(Runbook, SyncDaemonSettings) {
  ok({"--start-daemon", "master", "--mcast-interface", "lo", "--syncid", "7"});
  EXPECT_EQ(uvsd_.adm({"-L", "--daemon"}).out,
            "master sync daemon (mcast=lo, syncid=7, maxlen=1472, group=224.0.0.81, port=8848, "
            "ttl=1)\n");
  RunResult again = uvsd_.adm({"--start-daemon", "master", "--mcast-interface", "lo"});
  EXPECT_EQ(again.status, 255);
  EXPECT_EQ(again.err, "Daemon has already run\n");
  ok({"--stop-daemon", "master"});
  EXPECT_EQ(uvsd_.adm({"-L", "--daemon"}).out, "");
  RunResult none = uvsd_.adm({"--stop-daemon", "backup"});
  EXPECT_EQ(none.status, 255);
  EXPECT_EQ(none.err, "No daemon is running\n");
  RunResult nodev = uvsd_.adm({"--start-daemon", "backup", "--mcast-interface", "uvsnosuch0"});
  EXPECT_EQ(nodev.status, 255);
  EXPECT_EQ(nodev.err, "No such device\n");
}

TEST_F(Runbook, SynproxySwitch) {
  ok({"-A", "-t", "10.9.9.9:80", "-s", "rr", "-j", "enable"});
  EXPECT_EQ(list(), std::string(kHeader) + "TCP  10.9.9.9:80 rr synproxy\n");
  ok({"-E", "-t", "10.9.9.9:80", "-s", "rr", "-j", "disable"});
  EXPECT_EQ(list(), std::string(kHeader) + "TCP  10.9.9.9:80 rr\n");
}

}  // namespace
}  // namespace uvs::testing
