// The Debian ipvsadm, unchanged, under uvs-ipvs (libuvs-ipvs.so) against a real uvsd: the seed
// runbooks, every listing byte-equal to uvsadm's on the same table, -S | -R, errors, uvsd down
// or hung, a big dump, and a process that uses a kernel family and IPVS side by side.
#include <linux/genetlink.h>
#include <linux/netlink.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <fstream>

#include <gtest/gtest.h>

#include "tests/integration/harness.h"

namespace uvs::testing {
namespace {

constexpr const char* kIpvsadm = "/usr/sbin/ipvsadm";
constexpr const char* kPython = "/usr/bin/python3";

// Every listing form, compared byte for byte (stdout, stderr, status) with uvsadm's.
const std::vector<std::vector<std::string>> kListings = {
    {"-Ln"},
    {"-L", "-n", "--stats"},
    {"-Ln", "--rate"},
    {"-Ln", "--thresholds"},
    {"-Ln", "--persistent-conn"},
    {"-Ln", "--exact", "--stats"},
    {"-Ln", "--sort"},
    {"-Ln", "--tun-info"},
    {"-Sn"},
    {"-L", "--timeout"},
    {"-L", "--daemon"},
};

class Preload : public ::testing::Test {
 protected:
  void SetUp() override {
    if (access(kIpvsadm, X_OK) != 0) GTEST_SKIP() << kIpvsadm << " missing (scripts/setup)";
  }
  void TearDown() override {
    // uvsd answered every relayed request and still stops cleanly (under ASan, a fault in the
    // relay path shows here).
    if (uvsd_.running()) {
      EXPECT_EQ(uvsd_.stop(), 0) << uvsd_.log();
    }
  }

  RunResult ipvsadm(std::vector<std::string> args, const std::string& input = "") const {
    std::vector<std::string> argv = {build_path("uvs-ipvs"), "--socket", uvsd_.socket(),
                                     kIpvsadm};
    argv.insert(argv.end(), args.begin(), args.end());
    return run(argv, input);
  }
  void ok(std::vector<std::string> args) {
    RunResult r = ipvsadm(args);
    EXPECT_EQ(r.status, 0) << "ipvsadm " << ::testing::PrintToString(args) << ": " << r.err;
    EXPECT_EQ(r.err, "");
  }
  // The same listing from ipvsadm and uvsadm; returns ipvsadm's output.
  std::string same(const std::vector<std::string>& args) {
    SCOPED_TRACE(::testing::PrintToString(args));
    RunResult want = uvsd_.adm(args);
    RunResult got = ipvsadm(args);
    EXPECT_EQ(got.out, want.out);
    EXPECT_EQ(got.err, want.err);
    EXPECT_EQ(got.status, want.status);
    return got.out;
  }
  void every_listing_same() {
    for (const auto& form : kListings) same(form);
  }
  std::string write_file(const std::string& name, const std::string& text) const {
    const std::string path = uvsd_.dir() + "/" + name;
    std::ofstream(path) << text;
    return path;
  }

  Daemon uvsd_{{"--conn-max", "4096"}};
};

TEST_F(Preload, SeedRunbooksThroughIpvsadm) {
  // NAT, DR and TUN (seeds 001-003).
  ok({"-A", "-t", "192.168.56.102:80", "-s", "rr"});
  ok({"-a", "-t", "192.168.56.102:80", "-r", "172.17.0.2:8000", "-m"});
  ok({"-a", "-t", "192.168.56.102:80", "-r", "172.17.0.3:8000", "-m"});
  ok({"-A", "-t", "192.168.56.200:80", "-s", "wrr"});
  ok({"-a", "-t", "192.168.56.200:80", "-r", "192.168.56.102:80", "-g", "-w", "1"});
  ok({"-a", "-t", "192.168.56.200:80", "-r", "192.168.56.104:80", "-g", "-w", "3"});
  ok({"-A", "-t", "192.168.56.210:80", "-s", "rr"});
  ok({"-a", "-t", "192.168.56.210:80", "-r", "192.168.56.102:80", "-i"});
  // Reals without a port, persistence with a mask, UDP one-packet, fwmark with a GUE tunnel,
  // IPv6 (seed 004's shapes).
  ok({"-A", "-t", "10.0.0.200:8080", "-s", "wrr"});
  ok({"-a", "-t", "10.0.0.200:8080", "-r", "10.0.0.13", "-m"});
  ok({"-A", "-u", "10.0.0.1:53", "-s", "sh", "-o", "-b", "sh-fallback,sh-port"});
  ok({"-a", "-u", "10.0.0.1:53", "-r", "10.0.1.1"});
  ok({"-A", "-t", "192.168.1.100:80", "-p", "-M", "255.255.255.0"});
  ok({"-a", "-t", "192.168.1.100:80", "-r", "192.168.10.2:8080", "-m", "-w", "2", "-x", "100",
      "-y", "50"});
  ok({"-A", "-f", "1", "-s", "rr"});
  ok({"-a", "-f", "1", "-r", "10.0.2.1", "-i", "-w", "5", "--tun-type", "gue", "--tun-port",
      "6080", "--tun-csum"});
  ok({"-A", "-f", "8", "-6", "-p", "-M", "64"});
  ok({"-A", "-t", "[2001:db8::80]:443", "-s", "mh", "-b", "mh-port"});
  ok({"-a", "-t", "[2001:db8::80]:443", "-r", "[2001:db8::a0a0]:443", "-i"});
  ok({"-a", "-t", "[2001:db8::80]:443", "-r", "[2001:db8::a0a1]:443", "-g", "-w", "0"});
  const std::string header =
      "IP Virtual Server version 1.2.1 (size=4096)\n"
      "Prot LocalAddress:Port Scheduler Flags\n"
      "  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn\n";
  EXPECT_EQ(same({"-Ln"}),
            header +
                "TCP  192.168.1.100:80 wlc persistent 360 mask 255.255.255.0\n"
                "  -> 192.168.10.2:8080            Masq    2      0          0         \n"
                "TCP  192.168.56.102:80 rr\n"
                "  -> 172.17.0.2:8000              Masq    1      0          0         \n"
                "  -> 172.17.0.3:8000              Masq    1      0          0         \n"
                "TCP  192.168.56.200:80 wrr\n"
                "  -> 192.168.56.102:80            Route   1      0          0         \n"
                "  -> 192.168.56.104:80            Route   3      0          0         \n"
                "TCP  192.168.56.210:80 rr\n"
                "  -> 192.168.56.102:80            Tunnel  1      0          0         \n"
                "TCP  10.0.0.200:8080 wrr\n"
                "  -> 10.0.0.13:8080               Masq    1      0          0         \n"
                "UDP  10.0.0.1:53 sh (sh-fallback,sh-port) ops\n"
                "  -> 10.0.1.1:53                  Route   1      0          0         \n"
                "TCP  [2001:db8::80]:443 mh (mh-port)\n"
                "  -> [2001:db8::a0a0]:443         Tunnel  1      0          0         \n"
                "  -> [2001:db8::a0a1]:443         Route   0      0          0         \n"
                "FWM  1 rr\n"
                "  -> 10.0.2.1:0                   Tunnel  5      0          0         \n"
                "FWM  8 IPv6 wlc persistent 360 mask 64\n");
  every_listing_same();
  for (const auto& one : std::vector<std::vector<std::string>>{
           {"-Ln", "-t", "192.168.56.200:80"},
           {"-Ln", "-u", "10.0.0.1:53", "--stats"},
           {"-Ln", "-f", "1", "--thresholds"},
           {"-Ln", "-t", "[2001:db8::80]:443", "--rate"},
           {"-Ln", "-f", "8", "-6"}})
    same(one);

  // Edits replace the whole definition, as in the kernel.
  ok({"-E", "-t", "192.168.1.100:80", "-s", "sh", "-p", "600", "-b", "sh-port"});
  ok({"-e", "-t", "192.168.1.100:80", "-r", "192.168.10.2:8080", "-m", "-w", "0"});
  ok({"-e", "-t", "192.168.56.200:80", "-r", "192.168.56.104:80", "-g", "-w", "7", "-x", "9"});
  ok({"-E", "-f", "1"});
  every_listing_same();
  EXPECT_NE(same({"-Sn"}).find("-A -t 192.168.1.100:80 -s sh -p 600 -b sh-port\n"),
            std::string::npos);

  // Deletes.
  ok({"-d", "-t", "192.168.56.102:80", "-r", "172.17.0.3:8000"});
  ok({"-d", "-t", "[2001:db8::80]:443", "-r", "[2001:db8::a0a1]:443"});
  ok({"-D", "-u", "10.0.0.1:53"});
  ok({"-D", "-f", "8", "-6"});
  every_listing_same();
  const std::string saved = same({"-Sn"});
  EXPECT_EQ(saved.find("10.0.0.1:53"), std::string::npos);
  EXPECT_EQ(saved.find("172.17.0.3"), std::string::npos);
  EXPECT_EQ(saved.find("-f 8"), std::string::npos);

  // -Z, then -C.
  ok({"-Z"});
  ok({"-Z", "-t", "192.168.56.200:80"});
  ok({"-C"});
  EXPECT_EQ(same({"-Ln"}), header);
  EXPECT_EQ(same({"-Sn"}), "");
}

TEST_F(Preload, SaveRestoreRoundTripAndTimeouts) {
  ASSERT_EQ(uvsd_.adm({"-R"},
                      "-A -t 10.0.0.200:8080 -s wrr\n"
                      "-a -t 10.0.0.200:8080 -r 10.0.0.13:8080 -m -w 1\n"
                      "-a -t 10.0.0.200:8080 -r 10.0.0.14:8080 -m -w 3 -x 10 -y 2\n"
                      "-A -u [2001:db8::3]:53 -s sh -p 30 -M 96 -o\n"
                      "-a -u [2001:db8::3]:53 -r [2001:db8::9]:53 -g -w 1\n"
                      "-A -f 7 -s rr -p 120\n"
                      "-a -f 7 -r 10.0.2.1:0 -i -w 5 --tun-type gue --tun-port 6080\n")
                .status,
            0);
  const std::string saved = ipvsadm({"-Sn"}).out;
  EXPECT_EQ(saved, uvsd_.adm({"-Sn"}).out);
  // -S leaves thresholds out (ipvsadm's format), so the round trip is compared without them.
  const std::string listing = uvsd_.adm({"-Ln"}).out;
  ok({"-C"});
  EXPECT_EQ(uvsd_.adm({"-Sn"}).out, "");
  // ipvsadm -Sn | ipvsadm -R, both through the library.
  RunResult r = ipvsadm({"-R"}, saved);
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.err, "");
  EXPECT_EQ(same({"-Sn"}), saved);
  EXPECT_EQ(same({"-Ln"}), listing);

  // --set: a 0 keeps the value, as IPVS_CMD_SET_CONFIG does.
  EXPECT_EQ(same({"-L", "--timeout"}), "Timeout (tcp tcpfin udp): 900 120 300\n");
  ok({"--set", "3600", "0", "0"});
  EXPECT_EQ(same({"-L", "--timeout"}), "Timeout (tcp tcpfin udp): 3600 120 300\n");
  ok({"--set", "0", "60", "30"});
  EXPECT_EQ(same({"-L", "--timeout"}), "Timeout (tcp tcpfin udp): 3600 60 30\n");

  // The sync daemon, through IPVS_CMD_NEW_DAEMON / GET_DAEMON / DEL_DAEMON.
  EXPECT_EQ(same({"-L", "--daemon"}), "");
  ok({"--start-daemon", "master", "--mcast-interface", "lo", "--syncid", "7"});
  EXPECT_EQ(same({"-L", "--daemon"}),
            "master sync daemon (mcast=lo, syncid=7, maxlen=1472, group=224.0.0.81, port=8848, "
            "ttl=1)\n");
  RunResult again = ipvsadm({"--start-daemon", "master", "--mcast-interface", "lo"});
  EXPECT_EQ(again.status, 255);
  EXPECT_EQ(again.err, "Daemon has already run\n");
  ok({"--stop-daemon", "master"});
  EXPECT_EQ(same({"-L", "--daemon"}), "");
}

TEST_F(Preload, ErrorsAsUvsadm) {
  for (auto args : std::vector<std::vector<std::string>>{
           {"-A", "-t", "10.0.0.1:80", "-s", "rr"},
           {"-a", "-t", "10.0.0.1:80", "-r", "192.168.0.1:80", "-m"},
           {"-A", "-u", "10.0.0.1:53", "-s", "wlc"}})
    ASSERT_EQ(uvsd_.adm(args).status, 0);
  const std::string table = uvsd_.adm({"-Sn"}).out;
  struct Case {
    std::vector<std::string> args;
    std::string err;
    int status;
  };
  const std::vector<Case> cases = {
      {{"-A", "-t", "10.0.0.1:80", "-s", "rr"}, "Service already exists\n", 255},
      {{"-a", "-t", "10.0.0.9:80", "-r", "192.168.0.1"}, "Service not defined\n", 255},
      {{"-A", "-t", "10.0.0.1:81", "-s", "foo"}, "Scheduler or persistence engine not found\n",
       255},
      {{"-E", "-t", "10.0.0.1:80", "-s", "foo"}, "Scheduler or persistence engine not found\n",
       255},
      {{"-A", "-t", "10.0.0.1:82", "-p", "--pe", "nope"},
       "Scheduler or persistence engine not found\n", 255},
      {{"-a", "-t", "10.0.0.1:80", "-r", "192.168.0.2", "-x", "10", "-y", "20"},
       "Numerical result out of range\n", 255},
      {{"-D", "-t", "10.0.0.2:80"}, "No such service\n", 255},
      {{"-E", "-t", "10.0.0.2:80"}, "No such service\n", 255},
      {{"-Z", "-t", "10.0.0.2:80"}, "No such service\n", 255},
      {{"-e", "-t", "10.0.0.1:80", "-r", "192.168.0.9"}, "No such destination\n", 255},
      {{"-d", "-t", "10.0.0.1:80", "-r", "192.168.0.9"}, "No such destination\n", 255},
      {{"-d", "-t", "10.0.0.3:80", "-r", "192.168.0.9"}, "Service not defined\n", 255},
      {{"-a", "-t", "10.0.0.1:80", "-r", "192.168.0.1:80", "-m"},
       "Destination already exists\n", 255},
      {{"-a", "-t", "10.0.0.1:80", "-r", "224.0.0.1"},
       "Invalid operation.  Possibly wrong module version, address not unicast, ...\n", 255},
      {{"-L", "-t", "10.0.0.2:80"}, "No such service\n", 1},
      {{"-L", "-n", "-u", "10.0.0.1:80"}, "No such service\n", 1},
      {{"--stop-daemon", "backup"}, "No daemon is running\n", 255},
      {{"-A", "-t", "10.0.0.1:85", "-p", "0"}, "invalid timeout value `0' specified\n", 2},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(::testing::PrintToString(c.args));
    RunResult want = uvsd_.adm(c.args);
    RunResult got = ipvsadm(c.args);
    EXPECT_EQ(got.err, c.err);
    EXPECT_EQ(got.status, c.status);
    EXPECT_EQ(got.out, "");
    EXPECT_EQ(got.err, want.err);
    EXPECT_EQ(got.status, want.status);
    EXPECT_EQ(uvsd_.adm({"-Sn"}).out, table);
  }
  // -Lc is the one listing that differs: ipvsadm reads /proc/net/ip_vs_conn, not netlink, and a
  // kernel without ip_vs has none (uvsadm asks uvsd).
  RunResult conns = ipvsadm({"-Lnc"});
  EXPECT_EQ(conns.err, "cannot open file /proc/net/ip_vs_conn\n");
  EXPECT_EQ(conns.status, 1);
}

TEST_F(Preload, DumpLargerThanTheDatagramQueueListsWhole) {
  // 1000 services with two real servers each: the GET_SERVICE dump alone is dozens of
  // datagrams, more than max_dgram_qlen and more than the pair's send buffer holds.
  std::string restore;
  for (int i = 0; i < 1000; ++i) {
    const std::string vip = "10.7." + std::to_string(i / 200) + "." + std::to_string(i % 200 + 1);
    restore += "-A -t " + vip + ":80 -s wrr\n";
    restore += "-a -t " + vip + ":80 -r 10.8.0.1:80 -m -w 2\n";
    restore += "-a -t " + vip + ":80 -r 10.8.0.2:80 -m -w 3\n";
  }
  ASSERT_EQ(uvsd_.adm({"-R"}, restore).status, 0);
  const std::string listing = same({"-Ln"});
  EXPECT_EQ(std::count(listing.begin(), listing.end(), '\n'), 3 + 1000 * 3);
  same({"-L", "-n", "--stats"});
  EXPECT_EQ(same({"-Sn"}), uvsd_.adm({"-Sn"}).out);
}

// A raw generic-netlink client in Python (socket(), bind(), sendto(), recvfrom(), poll() through
// the library, as any program would call them).
constexpr const char* kProbe = R"PY(
import os, select, socket, struct, sys

NETLINK_GENERIC = 16
CTRL, GETFAMILY, NEWFAMILY = 0x10, 3, 1
REQUEST, ACK, DUMP, MULTI = 0x1, 0x4, 0x300, 0x2
DONE, ERROR = 3, 2

def attrs(buf, off, end):
    out = {}
    while off + 4 <= end:
        ln, typ = struct.unpack_from('HH', buf, off)
        if ln < 4: break
        out[typ & 0x3fff] = buf[off + 4:off + ln]
        off += (ln + 3) & ~3
    return out

def messages(d):
    off = 0
    while off + 16 <= len(d):
        ln, typ, fl, seq, pid = struct.unpack_from('IHHII', d, off)
        yield typ, fl, seq, pid, d[off:off + ln]
        off += (ln + 3) & ~3

def request(typ, cmd, flags, seq, payload=b''):
    body = struct.pack('BBH', cmd, 1, 0) + payload
    return struct.pack('IHHII', 16 + len(body), typ, flags, seq, 0) + body

def name_attr(name):
    v = name.encode() + b'\0'
    a = struct.pack('HH', 4 + len(v), 2) + v
    return a + b'\0' * ((4 - len(a) % 4) % 4)

def expect(cond, what):
    if not cond:
        print('FAIL', what)
        sys.exit(1)

def roundtrip(s, msg):
    """Sends one request; returns its replies up to the ACK, DONE or error."""
    s.send(msg)
    out = []
    while True:
        d, addr = s.recvfrom(65536)
        expect(addr == (0, 0), 'source address %r' % (addr,))
        for typ, fl, seq, pid, m in messages(d):
            expect(pid == s.getsockname()[0], 'nlmsg_pid %d' % pid)
            out.append((typ, fl, seq, m))
            if typ in (DONE, ERROR):
                return out

def resolve(s, name, seq):
    r = roundtrip(s, request(CTRL, GETFAMILY, REQUEST | ACK, seq, name_attr(name)))
    if r[0][0] == ERROR:
        return -struct.unpack_from('i', r[0][3], 16)[0]
    expect(r[0][0] == CTRL and r[-1][0] == ERROR, 'reply then ACK for %s' % name)
    return -struct.unpack_from('H', attrs(r[0][3], 20, len(r[0][3]))[1])[0]

def family_ids(s, seq):
    r = roundtrip(s, request(CTRL, GETFAMILY, REQUEST | ACK | DUMP, seq))
    names = {}
    for typ, fl, sq, m in r:
        if typ == CTRL:
            a = attrs(m, 20, len(m))
            names[a[2].rstrip(b'\0').decode()] = struct.unpack('H', a[1])[0]
    return names

def netlink():
    s = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_GENERIC)
    s.bind((0, 0))
    return s

mode = sys.argv[1]
if mode == 'families':
    s = netlink()
    expect(s.getsockname()[0] == os.getpid(), 'autobind portid %r' % (s.getsockname(),))
    nlctrl = -resolve(s, 'nlctrl', 1)
    ipvs = -resolve(s, 'IPVS', 2)
    expect(resolve(s, 'no-such-family', 3) == 2, 'ENOENT for an unknown family')
    names = family_ids(s, 4)
    expect(names.get('nlctrl') == nlctrl == 0x10, 'nlctrl %r from the kernel' % nlctrl)
    expect(names.get('IPVS') == ipvs, 'IPVS %r in the family dump %r' % (ipvs, names))
    expect(list(names.values()).count(ipvs) == 1, 'IPVS id %d shared' % ipvs)
    # IPVS_CMD_GET_INFO (15) answered by uvsd: IPVS_CMD_SET_INFO (14) with the version, then ACK.
    r = roundtrip(s, request(ipvs, 15, REQUEST | ACK, 5))
    expect([t for t, f, q, m in r] == [ipvs, ERROR], 'GET_INFO replies %r' % r)
    info = attrs(r[0][3], 20, len(r[0][3]))
    expect(r[0][3][16] == 14 and struct.unpack('I', info[1])[0] == 0x010201, 'SET_INFO')
    print('ok', nlctrl, ipvs, len(names))
elif mode == 'dump':
    # Non-blocking, driven by poll(): every datagram of the dump must come as POLLIN.
    s = netlink()
    ipvs = -resolve(s, 'IPVS', 1)
    s.setblocking(False)
    s.send(request(ipvs, 4, REQUEST | ACK | DUMP, 2))
    services = datagrams = 0
    done = False
    def take(d):
        global services, datagrams, done
        datagrams += 1
        for typ, fl, seq, pid, m in messages(d):
            expect(seq == 2, 'seq')
            if typ == ipvs:
                expect(fl & MULTI, 'NLM_F_MULTI')
                services += 1
            done = done or typ == DONE
    # What the pair holds right after the send, read with raw recvfrom(2) (no top-up): the
    # library must have kept the rest.
    import ctypes
    libc = ctypes.CDLL(None, use_errno=True)
    buf = ctypes.create_string_buffer(65536)
    queued = 0
    while True:
        n = libc.syscall(45, s.fileno(), buf, 65536, 0x40, None, None)  # MSG_DONTWAIT
        if n < 0:
            break
        queued += 1
        take(buf.raw[:n])
    expect(queued > 0 and not done, 'the whole dump was queued at once (%d)' % queued)
    take(s.recv(65536))  # through libc: tops the pair up first
    p = select.poll()
    p.register(s.fileno(), select.POLLIN)
    while not done:
        expect(p.poll(5000), 'POLLIN after %d datagrams' % datagrams)
        take(s.recv(65536))
    try:
        s.recv(65536)
        expect(False, 'nothing after DONE')
    except BlockingIOError:
        pass
    print('ok', services, datagrams, queued)
elif mode == 'fds':
    s = netlink()
    ipvs = -resolve(s, 'IPVS', 1)
    # Daemonizing code closing every fd above its own: the hidden end survives.
    os.closerange(s.fileno() + 1, 65536)
    expect(-resolve(s, 'IPVS', 2) == ipvs, 'after closerange')
    # A raw close(2) of everything high (not through libc): the library makes a new pair.
    import ctypes
    libc = ctypes.CDLL(None, use_errno=True)
    for fd in sorted(int(f) for f in os.listdir('/proc/self/fd')):
        if fd > s.fileno() + 8:
            libc.syscall(3, fd)
    expect(-resolve(s, 'IPVS', 3) == ipvs, 'after a raw close of the hidden end')
    # dup(): another name for the same socket, netlink to getsockopt(SO_DOMAIN/SO_PROTOCOL).
    t = socket.socket(fileno=os.dup(s.fileno()))
    expect(t.family == socket.AF_NETLINK and t.proto == NETLINK_GENERIC, 'dup family')
    s.close()
    expect(-resolve(t, 'IPVS', 4) == ipvs, 'through the dup after close')
    expect(-resolve(t, 'nlctrl', 5) == 0x10, 'kernel family through the dup')
    # fork(): the child resolves on its own socket and its parent's.
    pid = os.fork()
    if pid == 0:
        c = netlink()
        ok = -resolve(c, 'IPVS', 1) == ipvs and -resolve(t, 'IPVS', 6) == ipvs
        os._exit(0 if ok else 1)
    _, status = os.waitpid(pid, 0)
    expect(status == 0, 'child after fork')
    print('ok')
)PY";

TEST_F(Preload, KernelFamiliesAndIpvsInOneProcess) {
  if (access(kPython, X_OK) != 0) GTEST_SKIP() << kPython << " missing";
  const std::string probe = write_file("probe.py", kProbe);
  RunResult r = run({build_path("uvs-ipvs"), "--socket", uvsd_.socket(), kPython, probe,
                     "families"});
  EXPECT_EQ(r.status, 0) << r.out << r.err;
  EXPECT_EQ(r.out.rfind("ok 16 ", 0), 0u) << r.out << r.err;
  r = run({build_path("uvs-ipvs"), "--socket", uvsd_.socket(), kPython, probe, "fds"});
  EXPECT_EQ(r.status, 0) << r.out << r.err;
  EXPECT_EQ(r.out, "ok\n") << r.err;
  // iproute2's genl lists the kernel's families and IPVS among them.
  if (access("/usr/sbin/genl", X_OK) == 0) {
    r = run({build_path("uvs-ipvs"), "--socket", uvsd_.socket(), "/usr/sbin/genl", "ctrl",
             "list"});
    EXPECT_EQ(r.status, 0) << r.err;
    EXPECT_NE(r.out.find("Name: nlctrl\n\tID: 0x10 "), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("Name: IPVS\n\tID: 0x"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("max attribs: 6"), std::string::npos) << r.out;
  }
}

TEST_F(Preload, NonBlockingDumpIsPolledWhole) {
  if (access(kPython, X_OK) != 0) GTEST_SKIP() << kPython << " missing";
  std::string restore;
  for (int i = 0; i < 1000; ++i)
    restore += "-A -t 10.9." + std::to_string(i / 200) + "." + std::to_string(i % 200 + 1) +
               ":443 -s rr\n";
  ASSERT_EQ(uvsd_.adm({"-R"}, restore).status, 0);
  const std::string probe = write_file("probe.py", kProbe);
  RunResult r =
      run({build_path("uvs-ipvs"), "--socket", uvsd_.socket(), kPython, probe, "dump"});
  EXPECT_EQ(r.status, 0) << r.out << r.err;
  EXPECT_EQ(r.out.rfind("ok 1000 ", 0), 0u) << r.out << r.err;
}

TEST(PreloadNoDaemon, IpvsadmFailsCleanlyAndFast) {
  if (access(kIpvsadm, X_OK) != 0) GTEST_SKIP() << kIpvsadm << " missing";
  const std::string sock = "/tmp/uvs-it-preload-none-" + std::to_string(getpid()) + ".sock";
  // As on a kernel without ip_vs: the IPVS family is not found, ipvsadm falls back to its
  // setsockopt interface and reports that.
  const std::string err =
      "Can't initialize ipvs: Protocol not available\n"
      "Are you sure that IP Virtual Server is built in the kernel or as module?\n";
  for (auto args : std::vector<std::vector<std::string>>{{"-Ln"}, {"-A", "-t", "1.2.3.4:80"}}) {
    std::vector<std::string> argv = {build_path("uvs-ipvs"), "--socket", sock, kIpvsadm};
    argv.insert(argv.end(), args.begin(), args.end());
    const auto start = std::chrono::steady_clock::now();
    RunResult r = run(argv, "", std::chrono::seconds(20));
    EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
    EXPECT_EQ(r.status, 2);
    EXPECT_EQ(r.out, "");
    EXPECT_EQ(r.err, err);
  }
}

TEST(PreloadNoDaemon, HungControlSocketTimesOut) {
  if (access(kIpvsadm, X_OK) != 0) GTEST_SKIP() << kIpvsadm << " missing";
  // A socket that accepts connections (the backlog) and never answers.
  const std::string sock = "/tmp/uvs-it-preload-hung-" + std::to_string(getpid()) + ".sock";
  unlink(sock.c_str());
  const int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(fd, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", sock.c_str());
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(listen(fd, 16), 0);
  setenv("UVS_IPVS_TIMEOUT_MS", "300", 1);
  const auto start = std::chrono::steady_clock::now();
  RunResult r = run({build_path("uvs-ipvs"), "--socket", sock, kIpvsadm, "-Ln"}, "",
                    std::chrono::seconds(20));
  const auto took = std::chrono::steady_clock::now() - start;
  unsetenv("UVS_IPVS_TIMEOUT_MS");
  close(fd);
  unlink(sock.c_str());
  EXPECT_GE(took, std::chrono::milliseconds(300));
  EXPECT_LT(took, std::chrono::seconds(5));
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.err.find("Can't initialize ipvs"), std::string::npos) << r.err;
}

// A signal handler's write() to a self-pipe interrupting the library while it holds its lock
// (in socket(), close(), a lookup...) must pass through, not wait for that lock. This runs in a
// child of PreloadSignals, this binary itself under uvs-ipvs.
int g_pipe[2];
volatile sig_atomic_t g_handled = 0;
void on_alarm(int) {
  char c = 1;
  if (write(g_pipe[1], &c, 1) == 1 && read(g_pipe[0], &c, 1) == 1) g_handled = g_handled + 1;
}

TEST(PreloadChild, SelfPipeSignalHandler) {
  if (getenv("UVS_PRELOAD_CHILD") == nullptr) GTEST_SKIP() << "runs as PreloadSignals' child";
  ASSERT_EQ(pipe2(g_pipe, O_CLOEXEC), 0);
  struct sigaction sa {};
  sa.sa_handler = on_alarm;
  sa.sa_flags = SA_RESTART;
  ASSERT_EQ(sigaction(SIGALRM, &sa, nullptr), 0);
  const itimerval every_50us{{0, 50}, {0, 50}};
  ASSERT_EQ(setitimer(ITIMER_REAL, &every_50us, nullptr), 0);
  int answered = 0;
  for (uint32_t i = 0; i < 2000; ++i) {
    const int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_GENERIC);
    ASSERT_GE(fd, 0);
    sockaddr_nl local{};
    local.nl_family = AF_NETLINK;
    ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&local), sizeof local), 0);
    // CTRL_CMD_GETFAMILY for nlctrl (the kernel answers) and IPVS (uvsd, down: ENOENT).
    struct {
      nlmsghdr h;
      genlmsghdr g;
      nlattr a;
      char name[8];
    } req{};
    req.h = {sizeof req, GENL_ID_CTRL, NLM_F_REQUEST, i, 0};
    req.g.cmd = CTRL_CMD_GETFAMILY;
    req.g.version = 1;
    req.a.nla_type = CTRL_ATTR_FAMILY_NAME;
    std::strcpy(req.name, i % 2 ? "IPVS" : "nlctrl");
    req.a.nla_len = static_cast<uint16_t>(NLA_HDRLEN + std::strlen(req.name) + 1);
    ASSERT_EQ(send(fd, &req, sizeof req, 0), static_cast<ssize_t>(sizeof req));
    char buf[8192];
    if (recv(fd, buf, sizeof buf, 0) > 0) ++answered;
    const int copy = dup(fd);
    close(fd);
    close(copy);
  }
  const itimerval off{};
  setitimer(ITIMER_REAL, &off, nullptr);
  EXPECT_EQ(answered, 2000);
  EXPECT_GT(g_handled, 0);
}

TEST(PreloadSignals, SelfPipeSignalHandlerNeverDeadlocks) {
  char self[PATH_MAX];
  const ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
  ASSERT_GT(n, 0);
  self[n] = '\0';
  setenv("UVS_PRELOAD_CHILD", "1", 1);
  // This binary may be built with ASan, which wants its runtime first; the library is not.
  setenv("ASAN_OPTIONS", "verify_asan_link_order=0:detect_leaks=0", 1);
  const std::string sock = "/tmp/uvs-it-preload-none-" + std::to_string(getpid()) + ".sock";
  RunResult r = run({build_path("uvs-ipvs"), "--socket", sock, self,
                     "--gtest_filter=PreloadChild.SelfPipeSignalHandler"},
                    "", std::chrono::seconds(60));
  unsetenv("UVS_PRELOAD_CHILD");
  unsetenv("ASAN_OPTIONS");
  EXPECT_EQ(r.status, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("[  PASSED  ] 1 test"), std::string::npos) << r.out << r.err;
}

TEST(PreloadLauncher, UsageAndPreloadList) {
  RunResult r = run({build_path("uvs-ipvs")});
  EXPECT_EQ(r.status, 2);
  EXPECT_EQ(r.err.rfind("Usage: uvs-ipvs [--socket PATH] COMMAND [ARG...]\n", 0), 0u) << r.err;
  r = run({build_path("uvs-ipvs"), "--socket"});
  EXPECT_EQ(r.status, 2);
  // The library comes first, once, before what was preloaded already; --socket sets UVS_SOCKET.
  setenv("LD_PRELOAD", (build_path("libuvs-ipvs.so") + ":").c_str(), 1);
  r = run({build_path("uvs-ipvs"), "--socket", "/tmp/x.sock", "/bin/sh", "-c",
           "echo \"$LD_PRELOAD $UVS_SOCKET\""});
  unsetenv("LD_PRELOAD");
  EXPECT_EQ(r.status, 0) << r.err;
  char resolved[PATH_MAX];
  ASSERT_NE(realpath(build_path("libuvs-ipvs.so").c_str(), resolved), nullptr);
  EXPECT_EQ(r.out, std::string(resolved) + " /tmp/x.sock\n");
  r = run({build_path("uvs-ipvs"), "/nonexistent/command"});
  EXPECT_EQ(r.status, 127);
}

}  // namespace
}  // namespace uvs::testing
