// Byte-exact checks of uvsadm's output against ipvsadm 1.31 (a sample table in every listing mode,
// real ipvsadm captures from the seeds, and the edge cases of print_service_entry(),
// print_largenum(), list_conn(), the libipvs sort, and Alibaba LVS's FULLNAT/SYNPROXY output).

#include "cli/format.h"

#include <gtest/gtest.h>

#include <map>
#include <string>
#include <utility>
#include <vector>

namespace uvs::cli {
namespace {

InetAddr A(const char* text) {
  auto a = InetAddr::parse(text);
  EXPECT_TRUE(a.has_value()) << text;
  return a.value_or(InetAddr{});
}

// A resolver with fixed answers; records how often it was asked so numeric output can prove
// it never resolves.
class FakeResolver : public NameResolver {
 public:
  std::map<std::string, std::string> hosts;
  std::map<std::pair<uint16_t, uint8_t>, std::string> services;
  mutable int calls = 0;

  std::string host(const InetAddr& addr) const override {
    ++calls;
    auto it = hosts.find(addr.to_string());
    return it == hosts.end() ? std::string() : it->second;
  }
  std::string service(uint16_t port, uint8_t protocol) const override {
    ++calls;
    auto it = services.find({port, protocol});
    return it == services.end() ? std::string() : it->second;
  }
};

DestView Dest(const char* addr, uint16_t port, Fwd fwd, int32_t weight, uint32_t active = 0,
              uint32_t inact = 0) {
  DestView d;
  d.cfg.key.addr = A(addr);
  d.cfg.key.port = port;
  d.cfg.fwd = fwd;
  d.cfg.weight = weight;
  d.activeconns = active;
  d.inactconns = inact;
  return d;
}

DestView Tunnel(const char* addr, uint16_t port, TunType type, uint16_t tun_port = 0,
                TunCsum csum = TunCsum::kNoCsum) {
  DestView d = Dest(addr, port, Fwd::kTunnel, 1);
  d.cfg.tun_type = type;
  d.cfg.tun_port = tun_port;
  d.cfg.tun_flags = csum;
  return d;
}

ServiceView Svc(uint8_t proto, const char* addr, uint16_t port, const char* sched,
                uint32_t flags = 0) {
  ServiceView s;
  s.cfg.key.addr = A(addr);
  s.cfg.key.af = s.cfg.key.addr.family;
  s.cfg.key.protocol = proto;
  s.cfg.key.port = port;
  s.cfg.sched_name = sched;
  s.cfg.flags = flags;
  s.cfg.netmask = s.cfg.key.af == AF_INET6 ? 128 : 0xffffffff;
  return s;
}

ServiceView Fwm(uint32_t mark, const char* sched, uint16_t af = AF_INET) {
  ServiceView s;
  s.cfg.key.af = af;
  s.cfg.key.fwmark = mark;
  s.cfg.sched_name = sched;
  s.cfg.netmask = af == AF_INET6 ? 128 : 0xffffffff;
  return s;
}

ServiceView Persistent(ServiceView s, uint32_t timeout, uint32_t netmask = 0xffffffff) {
  s.cfg.flags |= kSvcPersistent;
  s.cfg.timeout = timeout;
  if (s.cfg.key.af == AF_INET) s.cfg.netmask = netmask;
  return s;
}

ListFormat Numeric() {
  ListFormat f;
  f.numeric = true;
  return f;
}

// A sample table (persistent TCP /24, UDP sh with flags and ops, fwmark, IPv6 mh), in kernel
// (creation) order; dests in kernel list order (most recent first).
TableView SpecTable() {
  TableView t;
  ServiceView web = Persistent(Svc(kProtoTcp, "192.168.1.100", 80, "wlc"), 360, 0xffffff00);
  web.dests = {Dest("192.168.10.2", 8080, Fwd::kMasq, 2, 0, 0),
               Dest("192.168.10.1", 80, Fwd::kMasq, 1, 3, 12)};
  ServiceView dns = Svc(kProtoUdp, "10.0.0.1", 53, "sh", kSvcSched1 | kSvcSched2 | kSvcOnePacket);
  dns.dests = {Dest("10.0.1.1", 53, Fwd::kRoute, 1, 0, 7)};
  ServiceView mark = Fwm(1, "rr");
  mark.dests = {Dest("10.0.2.1", 0, Fwd::kTunnel, 5, 1, 0)};
  ServiceView v6 = Svc(kProtoTcp, "2001:db8::80", 443, "mh", kSvcSched2);
  v6.dests = {Dest("2001:db8::a0a0", 443, Fwd::kTunnel, 1, 0, 0)};
  t.services = {mark, v6, dns, web};
  return t;
}

// One service with one dest carrying counters for the --stats/--rate/--exact examples.
TableView StatsTable() {
  TableView t;
  ServiceView s = Svc(kProtoTcp, "192.168.1.100", 80, "wlc");
  DestView d = Dest("192.168.10.1", 80, Fwd::kMasq, 1, 3, 12);
  d.cfg.u_threshold = 100;
  d.cfg.l_threshold = 50;
  d.persistconns = 4;
  StatsView st{1234, 98765, 0, 123456789, 2500000000000ULL};
  RateView rt{12, 340, 0, 45000, 0};
  s.stats = d.stats = st;
  s.rate = d.rate = rt;
  s.dests = {d};
  t.services = {s};
  return t;
}

// ---------------------------------------------------------------------------------------------
// The sample table in each of ipvsadm's listing modes.

TEST(FormatSpecExamples, ListNumeric) {
  FakeResolver names;
  EXPECT_EQ(format_list(SpecTable(), Numeric(), names),
            "IP Virtual Server version 1.2.1 (size=4096)\n"
            "Prot LocalAddress:Port Scheduler Flags\n"
            "  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn\n"
            "TCP  192.168.1.100:80 wlc persistent 360 mask 255.255.255.0\n"
            "  -> 192.168.10.1:80              Masq    1      3          12        \n"
            "  -> 192.168.10.2:8080            Masq    2      0          0         \n"
            "UDP  10.0.0.1:53 sh (sh-fallback,sh-port) ops\n"
            "  -> 10.0.1.1:53                  Route   1      0          7         \n"
            "TCP  [2001:db8::80]:443 mh (mh-port)\n"
            "  -> [2001:db8::a0a0]:443         Tunnel  1      0          0         \n"
            "FWM  1 rr\n"
            "  -> 10.0.2.1:0                   Tunnel  5      1          0         \n");
  EXPECT_EQ(names.calls, 0);
}

TEST(FormatSpecExamples, Stats) {
  ListFormat f = Numeric();
  f.stats = true;
  EXPECT_EQ(format_list(StatsTable(), f, system_resolver()),
            "IP Virtual Server version 1.2.1 (size=4096)\n"
            "Prot LocalAddress:Port               Conns   InPkts  OutPkts  InBytes OutBytes\n"
            "  -> RemoteAddress:Port\n"
            "TCP  192.168.1.100:80                 1234    98765        0  123456K    2500G\n"
            "  -> 192.168.10.1:80                  1234    98765        0  123456K    2500G\n");
}

TEST(FormatSpecExamples, StatsExact) {
  ListFormat f = Numeric();
  f.stats = true;
  f.exact = true;
  EXPECT_EQ(
      format_list(StatsTable(), f, system_resolver()),
      "IP Virtual Server version 1.2.1 (size=4096)\n"
      "Prot LocalAddress:Port               Conns   InPkts  OutPkts  InBytes OutBytes\n"
      "  -> RemoteAddress:Port\n"
      "TCP  192.168.1.100:80                 1234    98765        0 123456789 2500000000000\n"
      "  -> 192.168.10.1:80                  1234    98765        0 123456789 2500000000000\n");
}

TEST(FormatSpecExamples, Rate) {
  ListFormat f = Numeric();
  f.rate = true;
  EXPECT_EQ(format_list(StatsTable(), f, system_resolver()),
            "IP Virtual Server version 1.2.1 (size=4096)\n"
            "Prot LocalAddress:Port                 CPS    InPPS   OutPPS    InBPS   OutBPS\n"
            "  -> RemoteAddress:Port\n"
            "TCP  192.168.1.100:80                   12      340        0    45000        0\n"
            "  -> 192.168.10.1:80                    12      340        0    45000        0\n");
}

TEST(FormatSpecExamples, Thresholds) {
  ListFormat f = Numeric();
  f.thresholds = true;
  EXPECT_EQ(format_list(StatsTable(), f, system_resolver()),
            "IP Virtual Server version 1.2.1 (size=4096)\n"
            "Prot LocalAddress:Port            Uthreshold Lthreshold ActiveConn InActConn \n"
            "  -> RemoteAddress:Port\n"
            "TCP  192.168.1.100:80 wlc\n"
            "  -> 192.168.10.1:80              100        50         3          12        \n");
}

TEST(FormatSpecExamples, PersistentConn) {
  TableView t = StatsTable();
  t.services[0] = Persistent(t.services[0], 360);
  ListFormat f = Numeric();
  f.persistent_conn = true;
  EXPECT_EQ(format_list(t, f, system_resolver()),
            "IP Virtual Server version 1.2.1 (size=4096)\n"
            "Prot LocalAddress:Port            Weight    PersistConn ActiveConn InActConn \n"
            "  -> RemoteAddress:Port\n"
            "TCP  192.168.1.100:80 wlc persistent 360\n"
            "  -> 192.168.10.1:80              1         4           3          12        \n");
}

TEST(FormatSpecExamples, TunInfo) {
  TableView t;
  ServiceView s = Svc(kProtoTcp, "207.175.44.110", 80, "rr");
  s.dests = {Dest("192.168.10.4", 80, Fwd::kMasq, 1), Tunnel("192.168.10.3", 80, TunType::kIpip),
             Tunnel("192.168.10.2", 80, TunType::kGre, 0, TunCsum::kCsum),
             Tunnel("192.168.10.1", 80, TunType::kGue, 6080, TunCsum::kNoCsum)};
  t.services = {s};
  ListFormat f = Numeric();
  f.tun_info = true;
  EXPECT_EQ(
      format_list(t, f, system_resolver()),
      "IP Virtual Server version 1.2.1 (size=4096)\n"
      "Prot LocalAddress:Port Scheduler Flags\n"
      "  -> RemoteAddress:Port           Forward TunnelInfo    Weight ActiveConn InActConn\n"
      "TCP  207.175.44.110:80 rr\n"
      "  -> 192.168.10.1:80              Tunnel  gue:6080:-c   1      0          0         \n"
      "  -> 192.168.10.2:80              Tunnel  gre:+c        1      0          0         \n"
      "  -> 192.168.10.3:80              Tunnel  ipip          1      0          0         \n"
      "  -> 192.168.10.4:80              Masq    n/a           1      0          0         \n");
}

ConnView Conn(uint8_t proto, uint32_t expire, const char* state, const char* c, uint16_t cport,
              const char* v, uint16_t vport, const char* d, uint16_t dport) {
  ConnView cv;
  cv.protocol = proto;
  cv.expire_secs = expire;
  cv.state = state;
  cv.caddr = A(c);
  cv.vaddr = A(v);
  cv.daddr = A(d);
  cv.af = cv.caddr.family;
  cv.daf = cv.daddr.family;
  cv.cport = cport;
  cv.vport = vport;
  cv.dport = dport;
  return cv;
}

TEST(FormatSpecExamples, Connections) {
  std::vector<ConnView> conns = {
      Conn(kProtoTcp, 899, "ESTABLISHED", "10.1.1.5", 51234, "192.168.1.100", 80, "192.168.10.1",
           80),
      Conn(kProtoTcp, 358, "NONE", "10.1.1.0", 0, "192.168.1.100", 80, "192.168.10.1", 80),
      Conn(kProtoUdp, 299, "UDP", "10.1.1.6", 40000, "10.0.0.1", 53, "10.0.1.1", 53),
      // fwmark template: protocol IP, the mark shows as the virtual address.
      Conn(0, 3600, "ASSURED", "10.1.1.0", 0, "0.0.0.1", 0, "10.0.2.1", 0),
  };
  FakeResolver names;
  EXPECT_EQ(format_connections(conns, Numeric(), names),
            "IPVS connection entries\n"
            "pro expire state       source             virtual            destination\n"
            "TCP 14:59  ESTABLISHED 10.1.1.5:51234     192.168.1.100:80   192.168.10.1:80\n"
            "TCP 05:58  NONE        10.1.1.0:0         192.168.1.100:80   192.168.10.1:80\n"
            "UDP 04:59  UDP         10.1.1.6:40000     10.0.0.1:53        10.0.1.1:53\n"
            "IP  60:00  ASSURED     10.1.1.0:0         0.0.0.1:0          10.0.2.1:0\n");
  EXPECT_EQ(names.calls, 0);
}

TEST(FormatSpecExamples, ConnectionsPersistentConnSip) {
  ConnView plain =
      Conn(kProtoUdp, 299, "UDP", "10.1.1.6", 5060, "10.0.0.5", 5060, "10.0.3.1", 5060);
  ConnView tmpl =
      Conn(kProtoUdp, 899, "ASSURED", "10.1.1.6", 0, "10.0.0.5", 5060, "10.0.3.1", 5060);
  tmpl.pe_name = "sip";
  tmpl.pe_data = "a84b4c76e66710";
  ListFormat f = Numeric();
  f.persistent_conn = true;
  EXPECT_EQ(format_connections({plain, tmpl}, f, system_resolver()),
            "IPVS connection entries\n"
            "pro expire state       source             virtual            destination        "
            "pe name          pe_data\n"
            "UDP 04:59  UDP         10.1.1.6:5060      10.0.0.5:5060      10.0.3.1:5060\n"
            "UDP 14:59  ASSURED     10.1.1.6:0         10.0.0.5:5060      10.0.3.1:5060    sip  "
            "              a84b4c76e66710\n");
  // Without --persistent-conn the PE columns are never shown.
  EXPECT_EQ(format_connections({tmpl}, Numeric(), system_resolver()),
            "IPVS connection entries\n"
            "pro expire state       source             virtual            destination\n"
            "UDP 14:59  ASSURED     10.1.1.6:0         10.0.0.5:5060      10.0.3.1:5060\n");
}

TEST(FormatSpecExamples, SaveNumeric) {
  FakeResolver names;
  EXPECT_EQ(format_save(SpecTable(), true, names),
            "-A -t 192.168.1.100:80 -s wlc -p 360 -M 255.255.255.0\n"
            "-a -t 192.168.1.100:80 -r 192.168.10.1:80 -m -w 1\n"
            "-a -t 192.168.1.100:80 -r 192.168.10.2:8080 -m -w 2\n"
            "-A -u 10.0.0.1:53 -s sh -o -b sh-fallback,sh-port\n"
            "-a -u 10.0.0.1:53 -r 10.0.1.1:53 -g -w 1\n"
            "-A -t [2001:db8::80]:443 -s mh -b mh-port\n"
            "-a -t [2001:db8::80]:443 -r [2001:db8::a0a0]:443 -i -w 1 --tun-type ipip\n"
            "-A -f 1 -s rr\n"
            "-a -f 1 -r 10.0.2.1:0 -i -w 5 --tun-type ipip\n");
  EXPECT_EQ(names.calls, 0);
}

TEST(FormatSpecExamples, Timeout) {
  EXPECT_EQ(format_timeout(Timeouts{}), "Timeout (tcp tcpfin udp): 900 120 300\n");
  EXPECT_EQ(format_timeout(Timeouts{7200, 30, 1}), "Timeout (tcp tcpfin udp): 7200 30 1\n");
}

TEST(FormatSpecExamples, SingleServiceHasNoVersionLine) {
  ServiceView s = Persistent(Svc(kProtoTcp, "192.168.1.100", 80, "wlc"), 360, 0xffffff00);
  s.dests = {Dest("192.168.10.1", 80, Fwd::kMasq, 1, 3, 12)};
  EXPECT_EQ(format_list_service(s, Numeric(), system_resolver()),
            "Prot LocalAddress:Port Scheduler Flags\n"
            "  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn\n"
            "TCP  192.168.1.100:80 wlc persistent 360 mask 255.255.255.0\n"
            "  -> 192.168.10.1:80              Masq    1      3          12        \n");
}

TEST(FormatSpecExamples, SingleServiceSortsDestsUnlessNosort) {
  ServiceView s = Svc(kProtoTcp, "10.0.0.1", 80, "rr");
  s.dests = {Dest("10.0.1.2", 80, Fwd::kRoute, 1), Dest("10.0.1.1", 80, Fwd::kRoute, 1)};
  ListFormat f = Numeric();
  const std::string title =
      "Prot LocalAddress:Port Scheduler Flags\n"
      "  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn\n"
      "TCP  10.0.0.1:80 rr\n";
  EXPECT_EQ(format_list_service(s, f, system_resolver()),
            title +
                "  -> 10.0.1.1:80                  Route   1      0          0         \n"
                "  -> 10.0.1.2:80                  Route   1      0          0         \n");
  f.nosort = true;
  EXPECT_EQ(format_list_service(s, f, system_resolver()),
            title +
                "  -> 10.0.1.2:80                  Route   1      0          0         \n"
                "  -> 10.0.1.1:80                  Route   1      0          0         \n");
}

// ---------------------------------------------------------------------------------------------
// Real ipvsadm captures (seeds/001). The capture lost some trailing blanks of the last dest
// line in copy and paste; ipvsadm pads InActConn to 10 on every dest line.

TableView SeedNatTable() {
  TableView t;
  ServiceView s = Svc(kProtoTcp, "10.133.146.47", 80, "rr");
  DestView d1 = Dest("192.168.79.129", 80, Fwd::kMasq, 1);
  DestView d2 = Dest("192.168.79.131", 80, Fwd::kMasq, 1);
  s.stats = {3, 16, 10, 1018, 2236};
  d1.stats = {1, 2, 0, 120, 0};
  d2.stats = {2, 14, 10, 898, 2236};
  s.rate = {0, 1, 0, 34, 69};
  d1.rate = {0, 0, 0, 6, 0};
  d2.rate = {0, 0, 0, 28, 69};
  s.dests = {d2, d1};
  t.services = {s};
  return t;
}

TEST(FormatSeeds, ListNumeric) {
  EXPECT_EQ(format_list(SeedNatTable(), Numeric(), system_resolver()),
            "IP Virtual Server version 1.2.1 (size=4096)\n"
            "Prot LocalAddress:Port Scheduler Flags\n"
            "  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn\n"
            "TCP  10.133.146.47:80 rr\n"
            "  -> 192.168.79.129:80            Masq    1      0          0         \n"
            "  -> 192.168.79.131:80            Masq    1      0          0         \n");
}

TEST(FormatSeeds, ListStats) {
  ListFormat f = Numeric();
  f.stats = true;
  EXPECT_EQ(format_list(SeedNatTable(), f, system_resolver()),
            "IP Virtual Server version 1.2.1 (size=4096)\n"
            "Prot LocalAddress:Port               Conns   InPkts  OutPkts  InBytes OutBytes\n"
            "  -> RemoteAddress:Port\n"
            "TCP  10.133.146.47:80                    3       16       10     1018     2236\n"
            "  -> 192.168.79.129:80                   1        2        0      120        0\n"
            "  -> 192.168.79.131:80                   2       14       10      898     2236\n");
}

TEST(FormatSeeds, ListRate) {
  ListFormat f = Numeric();
  f.rate = true;
  EXPECT_EQ(format_list(SeedNatTable(), f, system_resolver()),
            "IP Virtual Server version 1.2.1 (size=4096)\n"
            "Prot LocalAddress:Port                 CPS    InPPS   OutPPS    InBPS   OutBPS\n"
            "  -> RemoteAddress:Port\n"
            "TCP  10.133.146.47:80                    0        1        0       34       69\n"
            "  -> 192.168.79.129:80                   0        0        0        6        0\n"
            "  -> 192.168.79.131:80                   0        0        0       28       69\n");
}

// `ipvsadm` without -n on the seed's DR director: the VIP resolves through /etc/hosts, the real
// servers do not, the port becomes its service name.
TEST(FormatSeeds, ListWithNames) {
  TableView t;
  ServiceView s = Svc(kProtoTcp, "192.168.79.180", 80, "rr");
  s.dests = {Dest("192.168.79.131", 80, Fwd::kRoute, 1),
             Dest("192.168.79.129", 80, Fwd::kRoute, 1)};
  t.services = {s};
  FakeResolver names;
  names.hosts["192.168.79.180"] = "localhost.localdomain";
  names.services[{80, kProtoTcp}] = "http";
  EXPECT_EQ(format_list(t, ListFormat{}, names),
            "IP Virtual Server version 1.2.1 (size=4096)\n"
            "Prot LocalAddress:Port Scheduler Flags\n"
            "  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn\n"
            "TCP  localhost.localdomain:http rr\n"
            "  -> 192.168.79.129:http          Route   1      0          0         \n"
            "  -> 192.168.79.131:http          Route   1      0          0         \n");
  // -S without -n resolves too (ipvsadm's addrport_to_anyname()).
  EXPECT_EQ(format_save(t, false, names),
            "-A -t localhost.localdomain:http -s rr\n"
            "-a -t localhost.localdomain:http -r 192.168.79.129:http -g -w 1\n"
            "-a -t localhost.localdomain:http -r 192.168.79.131:http -g -w 1\n");
}

TEST(FormatSeeds, EmptyTable) {
  TableView t;
  EXPECT_EQ(format_list(t, ListFormat{}, system_resolver()),
            "IP Virtual Server version 1.2.1 (size=4096)\n"
            "Prot LocalAddress:Port Scheduler Flags\n"
            "  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn\n");
  t.conn_tab_size = 1048576;
  EXPECT_EQ(format_list(t, Numeric(), system_resolver()).substr(0, 47),
            "IP Virtual Server version 1.2.1 (size=1048576)\n");
  EXPECT_EQ(format_save(t, true, system_resolver()), "");
}

// ---------------------------------------------------------------------------------------------
// Names, truncation, service line details.

TEST(FormatNames, TruncationOfLongNames) {
  TableView t;
  ServiceView s = Svc(kProtoTcp, "10.0.0.1", 8080, "rr");
  s.dests = {Dest("10.0.0.2", 8080, Fwd::kMasq, 1)};
  ServiceView v6 = Svc(kProtoUdp, "2001:db8::1", 53, "rr");
  v6.dests = {Dest("2001:db8::2", 53, Fwd::kMasq, 1)};
  t.services = {s, v6};
  FakeResolver names;
  names.hosts["10.0.0.1"] = "a-very-long-virtual-server-name.example.com";
  names.hosts["10.0.0.2"] = "a-very-long-real-server-name.example.com";
  names.hosts["2001:db8::1"] = "a-very-long-ipv6-virtual-server-name.example.com";
  names.hosts["2001:db8::2"] = "a-long-ipv6-real-server-name.example.com";
  names.services[{53, kProtoUdp}] = "domain";
  // IPv4: service column cut to 33 bytes, dest column to 28. IPv6: neither cut, but both still
  // limited by ipvsadm's 60-byte buffer.
  EXPECT_EQ(format_list(t, ListFormat{}, names),
            "IP Virtual Server version 1.2.1 (size=4096)\n"
            "Prot LocalAddress:Port Scheduler Flags\n"
            "  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn\n"
            "TCP  a-very-long-virtual-server-n rr\n"
            "  -> a-very-long-real-server-name Masq    1      0          0         \n"
            "UDP  [a-very-long-ipv6-virtual-server-name.example.com]:domain rr\n"
            "  -> [a-long-ipv6-real-server-name.example.com]:domain Masq    1      0          0"
            "         \n");
  // -S never cuts at 33/28, only at the 60-byte buffer.
  EXPECT_EQ(format_save(t, false, names),
            "-A -t a-very-long-virtual-server-name.example.com:8080 -s rr\n"
            "-a -t a-very-long-virtual-server-name.example.com:8080 -r "
            "a-very-long-real-server-name.example.com:8080 -m -w 1\n"
            "-A -u [a-very-long-ipv6-virtual-server-name.example.com]:domain -s rr\n"
            "-a -u [a-very-long-ipv6-virtual-server-name.example.com]:domain -r "
            "[a-long-ipv6-real-server-name.example.com]:domain -m -w 1\n");
}

TEST(FormatNames, SixtyByteBuffer) {
  TableView t;
  ServiceView s = Svc(kProtoTcp, "2001:db8::1", 443, "rr");
  t.services = {s};
  FakeResolver names;
  names.hosts["2001:db8::1"] = std::string(70, 'h');
  names.services[{443, kProtoTcp}] = "https";
  // "[" + 58 bytes of the name: 59 bytes in all.
  EXPECT_EQ(format_save(t, false, names), "-A -t [" + std::string(58, 'h') + " -s rr\n");
}

TEST(FormatNames, PortNamesFollowTheProtocolAndNeverForFwmark) {
  TableView t;
  ServiceView sctp = Svc(kProtoSctp, "10.0.0.1", 3868, "rr");
  sctp.dests = {Dest("10.0.0.2", 3868, Fwd::kMasq, 1)};
  ServiceView mark = Fwm(7, "wlc");
  mark.dests = {Dest("10.0.0.3", 80, Fwd::kMasq, 1)};
  t.services = {mark, sctp};
  FakeResolver names;
  names.services[{3868, kProtoSctp}] = "diameter";
  names.services[{80, kProtoTcp}] = "http";
  names.hosts["10.0.0.3"] = "rs3";
  // SCTP has one blank after the protocol; a fwmark service's dests are reported without a
  // protocol, so their ports stay numeric while their addresses still resolve.
  EXPECT_EQ(format_list(t, ListFormat{}, names),
            "IP Virtual Server version 1.2.1 (size=4096)\n"
            "Prot LocalAddress:Port Scheduler Flags\n"
            "  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn\n"
            "SCTP 10.0.0.1:diameter rr\n"
            "  -> 10.0.0.2:diameter            Masq    1      0          0         \n"
            "FWM  7 wlc\n"
            "  -> rs3:80                       Masq    1      0          0         \n");
  EXPECT_EQ(format_save(t, false, names),
            "-A --sctp-service 10.0.0.1:diameter -s rr\n"
            "-a --sctp-service 10.0.0.1:diameter -r 10.0.0.2:diameter -m -w 1\n"
            "-A -f 7 -s wlc\n"
            "-a -f 7 -r rs3:80 -m -w 1\n");
}

TEST(FormatServiceLine, FlagsOrderPeOpsSynproxy) {
  TableView t;
  ServiceView a = Persistent(Svc(kProtoUdp, "10.0.0.1", 5060, "rr",
                                 kSvcSched1 | kSvcSched3 | kSvcOnePacket | kSvcSynproxy),
                             600, 0xffff0000);
  a.cfg.pe_name = "sip";
  // pe is listed only for persistent services; ops regardless.
  ServiceView b = Svc(kProtoUdp, "10.0.0.2", 5060, "wrr", kSvcOnePacket);
  b.cfg.pe_name = "sip";
  ServiceView c = Persistent(Svc(kProtoTcp, "2001:db8::1", 0, "mh", kSvcSched1 | kSvcSched2), 300);
  c.cfg.netmask = 64;
  ServiceView d = Persistent(Fwm(4294967295u, "sh", AF_INET6), 360);
  d.cfg.flags |= kSvcSched1;
  ServiceView e = Svc(kProtoTcp, "10.0.0.3", 443, "wlc", kSvcSynproxy);
  // Mark 0xffffffff sorts first: 0 - 0xffffffff is 1 as an int (ipvs_cmp_services() wrap).
  t.services = {a, b, c, d, e};
  EXPECT_EQ(format_list(t, Numeric(), system_resolver()),
            "IP Virtual Server version 1.2.1 (size=4096)\n"
            "Prot LocalAddress:Port Scheduler Flags\n"
            "  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn\n"
            "FWM  4294967295 IPv6 sh (sh-fallback) persistent 360\n"
            "TCP  10.0.0.3:443 wlc synproxy\n"
            "UDP  10.0.0.1:5060 rr (flag-1,flag-3) persistent 600 mask 255.255.0.0 pe sip ops "
            "synproxy\n"
            "UDP  10.0.0.2:5060 wrr ops\n"
            "TCP  [2001:db8::1]:0 mh (mh-fallback,mh-port) persistent 300 mask 64\n");
  EXPECT_EQ(format_save(t, true, system_resolver()),
            "-A -f 4294967295 -6 -s sh -p 360 -b sh-fallback\n"
            "-A -t 10.0.0.3:443 -s wlc -j enable\n"
            "-A -u 10.0.0.1:5060 -s rr -p 600 -M 255.255.0.0 --pe sip -o -b flag-1,flag-3 "
            "-j enable\n"
            "-A -u 10.0.0.2:5060 -s wrr --pe sip -o\n"
            "-A -t [2001:db8::1]:0 -s mh -p 300 -M 64 -b mh-fallback,mh-port\n");
}

TEST(FormatServiceLine, ForwardNamesAndSaveSwitches) {
  TableView t;
  ServiceView s = Svc(kProtoTcp, "10.0.0.1", 80, "rr");
  s.dests = {Dest("10.0.1.5", 80, Fwd::kFullNat, 3), Dest("10.0.1.4", 80, Fwd::kLocal, 1),
             Tunnel("10.0.1.3", 80, TunType::kGre, 0, TunCsum::kRemCsum),
             Dest("10.0.1.2", 80, Fwd::kRoute, 0), Dest("10.0.1.1", 8080, Fwd::kMasq, 65535)};
  t.services = {s};
  EXPECT_EQ(format_list(t, Numeric(), system_resolver()),
            "IP Virtual Server version 1.2.1 (size=4096)\n"
            "Prot LocalAddress:Port Scheduler Flags\n"
            "  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn\n"
            "TCP  10.0.0.1:80 rr\n"
            "  -> 10.0.1.1:8080                Masq    65535  0          0         \n"
            "  -> 10.0.1.2:80                  Route   0      0          0         \n"
            "  -> 10.0.1.3:80                  Tunnel  1      0          0         \n"
            "  -> 10.0.1.4:80                  Local   1      0          0         \n"
            "  -> 10.0.1.5:80                  FullNat 3      0          0         \n");
  EXPECT_EQ(format_save(t, true, system_resolver()),
            "-A -t 10.0.0.1:80 -s rr\n"
            "-a -t 10.0.0.1:80 -r 10.0.1.1:8080 -m -w 65535\n"
            "-a -t 10.0.0.1:80 -r 10.0.1.2:80 -g -w 0\n"
            "-a -t 10.0.0.1:80 -r 10.0.1.3:80 -i -w 1 --tun-type gre --tun-remcsum\n"
            "-a -t 10.0.0.1:80 -r 10.0.1.4:80 -g -w 1\n"
            "-a -t 10.0.0.1:80 -r 10.0.1.5:80 -b -w 3\n");
  ListFormat f = Numeric();
  f.tun_info = true;
  EXPECT_EQ(
      format_list(t, f, system_resolver()),
      "IP Virtual Server version 1.2.1 (size=4096)\n"
      "Prot LocalAddress:Port Scheduler Flags\n"
      "  -> RemoteAddress:Port           Forward TunnelInfo    Weight ActiveConn InActConn\n"
      "TCP  10.0.0.1:80 rr\n"
      "  -> 10.0.1.1:8080                Masq    n/a           65535  0          0         \n"
      "  -> 10.0.1.2:80                  Route   n/a           0      0          0         \n"
      "  -> 10.0.1.3:80                  Tunnel  gre:r+c       1      0          0         \n"
      "  -> 10.0.1.4:80                  Local   n/a           1      0          0         \n"
      "  -> 10.0.1.5:80                  FullNat n/a           3      0          0         \n");
}

TEST(FormatServiceLine, SaveEveryTunnelVariant) {
  TableView t;
  ServiceView s = Fwm(9, "rr");
  s.dests = {Tunnel("10.0.0.1", 0, TunType::kIpip),
             Tunnel("10.0.0.2", 0, TunType::kGue, 6080, TunCsum::kNoCsum),
             Tunnel("10.0.0.3", 0, TunType::kGue, 5555, TunCsum::kCsum),
             Tunnel("10.0.0.4", 0, TunType::kGue, 1, TunCsum::kRemCsum),
             Tunnel("10.0.0.5", 0, TunType::kGre, 0, TunCsum::kNoCsum),
             Tunnel("10.0.0.6", 0, TunType::kGre, 0, TunCsum::kCsum),
             Tunnel("10.0.0.7", 0, TunType::kGre, 0, TunCsum::kRemCsum)};
  t.services = {s};
  EXPECT_EQ(format_save(t, true, system_resolver()),
            "-A -f 9 -s rr\n"
            "-a -f 9 -r 10.0.0.1:0 -i -w 1 --tun-type ipip\n"
            "-a -f 9 -r 10.0.0.2:0 -i -w 1 --tun-type gue --tun-port 6080 --tun-nocsum\n"
            "-a -f 9 -r 10.0.0.3:0 -i -w 1 --tun-type gue --tun-port 5555 --tun-csum\n"
            "-a -f 9 -r 10.0.0.4:0 -i -w 1 --tun-type gue --tun-port 1 --tun-remcsum\n"
            "-a -f 9 -r 10.0.0.5:0 -i -w 1 --tun-type gre --tun-nocsum\n"
            "-a -f 9 -r 10.0.0.6:0 -i -w 1 --tun-type gre --tun-csum\n"
            "-a -f 9 -r 10.0.0.7:0 -i -w 1 --tun-type gre --tun-remcsum\n");
  ListFormat f = Numeric();
  f.tun_info = true;
  EXPECT_EQ(
      format_list(t, f, system_resolver()),
      "IP Virtual Server version 1.2.1 (size=4096)\n"
      "Prot LocalAddress:Port Scheduler Flags\n"
      "  -> RemoteAddress:Port           Forward TunnelInfo    Weight ActiveConn InActConn\n"
      "FWM  9 rr\n"
      "  -> 10.0.0.1:0                   Tunnel  ipip          1      0          0         \n"
      "  -> 10.0.0.2:0                   Tunnel  gue:6080:-c   1      0          0         \n"
      "  -> 10.0.0.3:0                   Tunnel  gue:5555:+c   1      0          0         \n"
      "  -> 10.0.0.4:0                   Tunnel  gue:1:r+c     1      0          0         \n"
      "  -> 10.0.0.5:0                   Tunnel  gre:-c        1      0          0         \n"
      "  -> 10.0.0.6:0                   Tunnel  gre:+c        1      0          0         \n"
      "  -> 10.0.0.7:0                   Tunnel  gre:r+c       1      0          0         \n");
}

TEST(FormatServiceLine, SaveEveryForwardingMethodIpv6) {
  TableView t;
  ServiceView s = Svc(kProtoTcp, "2001:db8::10", 80, "wlc");
  s.dests = {Dest("2001:db8::1", 80, Fwd::kMasq, 1), Dest("2001:db8::2", 80, Fwd::kRoute, 2),
             Dest("2001:db8::3", 80, Fwd::kTunnel, 3), Dest("2001:db8::4", 80, Fwd::kLocal, 4),
             Dest("2001:db8::5", 80, Fwd::kFullNat, 5)};
  t.services = {s};
  EXPECT_EQ(format_save(t, true, system_resolver()),
            "-A -t [2001:db8::10]:80 -s wlc\n"
            "-a -t [2001:db8::10]:80 -r [2001:db8::1]:80 -m -w 1\n"
            "-a -t [2001:db8::10]:80 -r [2001:db8::2]:80 -g -w 2\n"
            "-a -t [2001:db8::10]:80 -r [2001:db8::3]:80 -i -w 3 --tun-type ipip\n"
            "-a -t [2001:db8::10]:80 -r [2001:db8::4]:80 -g -w 4\n"
            "-a -t [2001:db8::10]:80 -r [2001:db8::5]:80 -b -w 5\n");
}

TEST(FormatServiceLine, MixedFamilyTunnelDest) {
  // An IPv4 service tunnelling to an IPv6 real server: the dest is bracketed and not cut.
  TableView t;
  ServiceView s = Svc(kProtoTcp, "10.0.0.1", 80, "rr");
  s.dests = {Dest("2001:db8:1234:5678:9abc:def0:1234:5678", 80, Fwd::kTunnel, 1)};
  t.services = {s};
  EXPECT_EQ(
      format_list(t, Numeric(), system_resolver()),
      "IP Virtual Server version 1.2.1 (size=4096)\n"
      "Prot LocalAddress:Port Scheduler Flags\n"
      "  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn\n"
      "TCP  10.0.0.1:80 rr\n"
      "  -> [2001:db8:1234:5678:9abc:def0:1234:5678]:80 Tunnel  1      0          0         \n");
}

TEST(FormatServiceLine, HighestPriorityFormatWins) {
  ListFormat f = Numeric();
  f.stats = f.rate = f.thresholds = f.persistent_conn = f.tun_info = true;
  ListFormat g = Numeric();
  g.stats = true;
  EXPECT_EQ(format_list(StatsTable(), f, system_resolver()),
            format_list(StatsTable(), g, system_resolver()));
  f.stats = false;
  g.stats = false;
  g.rate = true;
  EXPECT_EQ(format_list(StatsTable(), f, system_resolver()),
            format_list(StatsTable(), g, system_resolver()));
  f.rate = false;
  g.rate = false;
  g.thresholds = true;
  EXPECT_EQ(format_list(StatsTable(), f, system_resolver()),
            format_list(StatsTable(), g, system_resolver()));
  f.thresholds = false;
  g.thresholds = false;
  g.persistent_conn = true;
  EXPECT_EQ(format_list(StatsTable(), f, system_resolver()),
            format_list(StatsTable(), g, system_resolver()));
}

TEST(FormatServiceLine, RateDestColumnsAreNeverScaled) {
  TableView t = StatsTable();
  t.services[0].rate = {123456789, 1000000000, 5, 100000000, 99999999};
  t.services[0].dests[0].rate = t.services[0].rate;
  ListFormat f = Numeric();
  f.rate = true;
  EXPECT_EQ(format_list(t, f, system_resolver()),
            "IP Virtual Server version 1.2.1 (size=4096)\n"
            "Prot LocalAddress:Port                 CPS    InPPS   OutPPS    InBPS   OutBPS\n"
            "  -> RemoteAddress:Port\n"
            "TCP  192.168.1.100:80              123456K    1000M        5  100000K 99999999\n"
            "  -> 192.168.10.1:80              123456789 1000000000        5  100000K 99999999\n");
}

// ---------------------------------------------------------------------------------------------
// largenum (ipvsadm's print_largenum()).

TEST(FormatLargenum, Boundaries) {
  EXPECT_EQ(largenum(0, false), "        0");
  EXPECT_EQ(largenum(99999999, false), " 99999999");
  EXPECT_EQ(largenum(100000000, false), "  100000K");
  EXPECT_EQ(largenum(999999999, false), "  999999K");
  EXPECT_EQ(largenum(1000000000, false), "    1000M");
  EXPECT_EQ(largenum(99999999999ULL, false), "   99999M");
  EXPECT_EQ(largenum(100000000000ULL, false), "     100G");
  EXPECT_EQ(largenum(99999999999999ULL, false), "   99999G");
  EXPECT_EQ(largenum(100000000000000ULL, false), "     100T");
  EXPECT_EQ(largenum(18446744073709551615ULL, false), "18446744T");
}

TEST(FormatLargenum, Exact) {
  EXPECT_EQ(largenum(0, true), "        0");
  EXPECT_EQ(largenum(99999999, true), " 99999999");
  EXPECT_EQ(largenum(100000000, true), " 100000000");
  EXPECT_EQ(largenum(999999999, true), " 999999999");
  EXPECT_EQ(largenum(1000000000, true), " 1000000000");
  EXPECT_EQ(largenum(99999999999ULL, true), " 99999999999");
  EXPECT_EQ(largenum(100000000000ULL, true), " 100000000000");
  EXPECT_EQ(largenum(100000000000000ULL, true), " 100000000000000");
  EXPECT_EQ(largenum(18446744073709551615ULL, true), " 18446744073709551615");
}

// ---------------------------------------------------------------------------------------------
// -c rows.

TEST(FormatConnections, EmptyIsHeaderOnly) {
  EXPECT_EQ(format_connections({}, ListFormat{}, system_resolver()),
            "IPVS connection entries\n"
            "pro expire state       source             virtual            destination\n");
  ListFormat f;
  f.persistent_conn = true;
  EXPECT_EQ(format_connections({}, f, system_resolver()),
            "IPVS connection entries\n"
            "pro expire state       source             virtual            destination        "
            "pe name          pe_data\n");
}

TEST(FormatConnections, ExpireAndProtocols) {
  std::vector<ConnView> conns = {
      Conn(kProtoTcp, 900, "ESTABLISHED", "10.0.0.9", 1000, "10.0.0.1", 80, "10.0.1.1", 80),
      Conn(kProtoTcp, 3600, "TIME_WAIT", "10.0.0.9", 1001, "10.0.0.1", 80, "10.0.1.1", 80),
      Conn(kProtoTcp, 0, "CLOSE", "10.0.0.9", 1002, "10.0.0.1", 80, "10.0.1.1", 80),
      Conn(kProtoTcp, 6000, "SYN_RECV", "10.0.0.9", 1003, "10.0.0.1", 80, "10.0.1.1", 80),
      Conn(kProtoSctp, 65, "ESTABLISHED", "10.0.0.9", 1004, "10.0.0.1", 3868, "10.0.1.1", 3868),
      Conn(IPPROTO_ICMP, 1, "NONE", "10.0.0.9", 0, "10.0.0.1", 0, "10.0.1.1", 0),
      Conn(IPPROTO_ICMPV6, 1, "NONE", "10.0.0.9", 0, "10.0.0.1", 0, "10.0.1.1", 0),
      Conn(47, 1, "NONE", "10.0.0.9", 0, "10.0.0.1", 0, "10.0.1.1", 0),
  };
  EXPECT_EQ(format_connections(conns, Numeric(), system_resolver()),
            "IPVS connection entries\n"
            "pro expire state       source             virtual            destination\n"
            "TCP 15:00  ESTABLISHED 10.0.0.9:1000      10.0.0.1:80        10.0.1.1:80\n"
            "TCP 60:00  TIME_WAIT   10.0.0.9:1001      10.0.0.1:80        10.0.1.1:80\n"
            "TCP 00:00  CLOSE       10.0.0.9:1002      10.0.0.1:80        10.0.1.1:80\n"
            "TCP 100:00 SYN_RECV    10.0.0.9:1003      10.0.0.1:80        10.0.1.1:80\n"
            "SCTP 01:05  ESTABLISHED 10.0.0.9:1004      10.0.0.1:3868      10.0.1.1:3868\n"
            "ICMP 00:01  NONE        10.0.0.9:0         10.0.0.1:0         10.0.1.1:0\n"
            "ICMPv6 00:01  NONE        10.0.0.9:0         10.0.0.1:0         10.0.1.1:0\n"
            "IP_47 00:01  NONE        10.0.0.9:0         10.0.0.1:0         10.0.1.1:0\n");
}

TEST(FormatConnections, NamesIpv6AndMixedFamilies) {
  ConnView v6 = Conn(kProtoTcp, 119, "FIN_WAIT", "2001:db8::9", 40000, "2001:db8::1", 443,
                     "2001:db8::2", 443);
  // IPv4 service tunnelled to an IPv6 real server: the destination has its own family.
  ConnView mixed = Conn(kProtoUdp, 10, "UDP", "10.0.0.9", 5353, "10.0.0.1", 53, "2001:db8::3", 53);
  ConnView tmpl = Conn(0, 300, "NONE", "10.0.0.9", 0, "0.0.0.5", 0, "10.0.1.1", 0);
  FakeResolver names;
  names.hosts["10.0.0.9"] = "client";
  names.hosts["2001:db8::2"] = "rs6";
  names.services[{443, kProtoTcp}] = "https";
  names.services[{53, kProtoUdp}] = "domain";
  names.services[{0, 0}] = "never";
  EXPECT_EQ(format_connections({v6, mixed, tmpl}, ListFormat{}, names),
            "IPVS connection entries\n"
            "pro expire state       source             virtual            destination\n"
            "TCP 01:59  FIN_WAIT    [2001:db8::9]:40000 [2001:db8::1]:https [rs6]:https\n"
            "UDP 00:10  UDP         client:5353        10.0.0.1:domain    [2001:db8::3]:domain\n"
            "IP  05:00  NONE        client:0           0.0.0.5:0          10.0.1.1:0\n");
}

// ---------------------------------------------------------------------------------------------
// --daemon.

TEST(FormatDaemons, OnlyRunningAndOptionalFields) {
  DaemonConfig master;
  master.state = kDaemonMaster;
  master.mcast_ifn = "eth0";
  master.syncid = 0;
  master.sync_maxlen = 1472;
  master.has_group = true;
  master.mcast_group = A("224.0.0.81");
  master.mcast_port = 8848;
  master.mcast_ttl = 1;
  DaemonConfig backup;
  backup.state = kDaemonBackup;
  backup.mcast_ifn = "ens3";
  backup.syncid = 200;
  DaemonConfig stopped;
  DaemonConfig backup6 = backup;
  backup6.has_group = true;
  backup6.mcast_group = A("ff02::81");
  EXPECT_EQ(format_daemons({}), "");
  EXPECT_EQ(format_daemons({stopped}), "");
  EXPECT_EQ(format_daemons({master, stopped, backup}),
            "master sync daemon (mcast=eth0, syncid=0, maxlen=1472, group=224.0.0.81, "
            "port=8848, ttl=1)\n"
            "backup sync daemon (mcast=ens3, syncid=200)\n");
  EXPECT_EQ(format_daemons({backup6}),
            "backup sync daemon (mcast=ens3, syncid=200, group=ff02::81)\n");
}

// ---------------------------------------------------------------------------------------------
// -G (Alibaba LVS FULLNAT local addresses).

TEST(FormatLaddrs, AlibabaLayout) {
  ServiceView a = Svc(kProtoTcp, "192.168.1.100", 80, "rr");
  a.laddrs = {LaddrView{A("10.0.9.1"), 3, 120}, LaddrView{A("10.0.9.2"), 0, 7}};
  ServiceView b = Svc(kProtoTcp, "2001:db8::80", 443, "rr");
  b.laddrs = {LaddrView{A("2001:db8:9::1"), 12345678901ULL, 0}};
  ServiceView c = Svc(kProtoUdp, "10.0.0.1", 53, "rr");
  FakeResolver names;
  EXPECT_EQ(format_laddrs({a, b, c}, Numeric(), names),
            "VIP:VPORT            TOTAL    SNAT_IP              CONFLICTS  CONNS     \n"
            "192.168.1.100:80     2        \n"
            "                              10.0.9.1             3          120       \n"
            "                              10.0.9.2             0          7         \n"
            "[2001:db8::80]:443   1        \n"
            "                              2001:db8:9::1        12345678901 0         \n"
            "10.0.0.1:53          0        \n");
  EXPECT_EQ(names.calls, 0);
  EXPECT_EQ(format_laddrs({}, Numeric(), names), "");
}

// ---------------------------------------------------------------------------------------------
// Sorting (libipvs ipvs_cmp_services(), ipvs_cmp_dests()).

std::vector<std::string> SvcOrder(std::vector<ServiceView> services) {
  sort_table(services);
  std::vector<std::string> out;
  for (const auto& s : services) {
    out.push_back(s.cfg.key.is_fwmark() ? "fwm" + std::to_string(s.cfg.key.fwmark)
                                        : s.cfg.key.addr.to_string());
  }
  return out;
}

using Order = std::vector<std::string>;

TEST(FormatSort, Ipv4WrapPutsTenAfterOneNinetyTwo) {
  ServiceView ten = Svc(kProtoTcp, "10.0.0.1", 80, "rr");
  ServiceView big = Svc(kProtoTcp, "192.168.0.1", 80, "rr");
  EXPECT_EQ(SvcOrder({ten, big}), (Order{"192.168.0.1", "10.0.0.1"}));
  EXPECT_EQ(SvcOrder({big, ten}), (Order{"192.168.0.1", "10.0.0.1"}));
  // Close addresses sort normally.
  ServiceView eleven = Svc(kProtoTcp, "11.0.0.1", 80, "rr");
  EXPECT_EQ(SvcOrder({eleven, ten}), (Order{"10.0.0.1", "11.0.0.1"}));
}

// A = 10.0.0.1, B = 192.168.0.1, C = 100.0.0.1 form a cycle under the wrapping comparator:
// A < C (diff < 0), C < B, B < A. Hand-run glibc's merge sort (split 1 | 2):
//   [A,B,C]: right [B,C] -> cmp(B,C) > 0 -> [C,B]; merge [A] with [C,B]: cmp(A,C) < 0 -> A,C,B
//   [B,C,A]: right [C,A] -> cmp(C,A) > 0 -> [A,C]; merge [B] with [A,C]: cmp(B,A) < 0 -> B,A,C
//   [C,A,B]: right [A,B] -> cmp(A,B) > 0 -> [B,A]; merge [C] with [B,A]: cmp(C,B) < 0 -> C,B,A
TEST(FormatSort, NonTransitiveThreeItems) {
  ServiceView a = Svc(kProtoTcp, "10.0.0.1", 80, "rr");
  ServiceView b = Svc(kProtoTcp, "192.168.0.1", 80, "rr");
  ServiceView c = Svc(kProtoTcp, "100.0.0.1", 80, "rr");
  EXPECT_EQ(SvcOrder({a, b, c}), (Order{"10.0.0.1", "100.0.0.1", "192.168.0.1"}));
  EXPECT_EQ(SvcOrder({b, c, a}), (Order{"192.168.0.1", "10.0.0.1", "100.0.0.1"}));
  EXPECT_EQ(SvcOrder({c, a, b}), (Order{"100.0.0.1", "192.168.0.1", "10.0.0.1"}));
}

TEST(FormatSort, FamilyProtocolPortAndFwmark) {
  ServiceView udp = Svc(kProtoUdp, "10.0.0.1", 53, "rr");
  ServiceView tcp81 = Svc(kProtoTcp, "10.0.0.1", 81, "rr");
  ServiceView tcp80 = Svc(kProtoTcp, "10.0.0.1", 80, "rr");
  ServiceView sctp = Svc(kProtoSctp, "10.0.0.1", 80, "rr");
  ServiceView v6 = Svc(kProtoTcp, "::1", 80, "rr");
  ServiceView f2 = Fwm(2, "rr");
  ServiceView f1 = Fwm(1, "rr");
  ServiceView f1v6 = Fwm(1, "rr", AF_INET6);
  std::vector<ServiceView> in = {f2, f1v6, v6, sctp, f1, udp, tcp81, tcp80};
  sort_table(in);
  std::vector<std::string> got;
  for (const auto& s : in) {
    got.push_back(std::to_string(s.cfg.key.fwmark) + "/" + std::to_string(s.cfg.key.af) + "/" +
                  std::to_string(s.cfg.key.protocol) + "/" + std::to_string(s.cfg.key.port));
  }
  EXPECT_EQ(got, (Order{"0/2/6/80", "0/2/6/81", "0/2/17/53", "0/2/132/80", "0/10/6/80", "1/2/6/0",
                        "1/10/6/0", "2/2/6/0"}));
}

TEST(FormatSort, FwmarkDifferenceWrapsToo) {
  // 0 - 0x90000000 is positive as an int: such a mark sorts before every address service.
  ServiceView addr = Svc(kProtoTcp, "10.0.0.1", 80, "rr");
  ServiceView high = Fwm(0x90000000u, "rr");
  ServiceView one = Fwm(1, "rr");
  EXPECT_EQ(SvcOrder({addr, high}), (Order{"fwm2415919104", "10.0.0.1"}));
  EXPECT_EQ(SvcOrder({one, high}), (Order{"fwm2415919104", "fwm1"}));
}

TEST(FormatSort, Ipv6WordByWord) {
  ServiceView a = Svc(kProtoTcp, "2001:db8::2", 80, "rr");
  ServiceView b = Svc(kProtoTcp, "2001:db8::1", 80, "rr");
  ServiceView c = Svc(kProtoTcp, "2001:db8:0:1::", 80, "rr");
  ServiceView d = Svc(kProtoTcp, "fe80::1", 80, "rr");  // 0xfe800000 - 0x20010db8 wraps
  EXPECT_EQ(SvcOrder({c, a, b}), (Order{"2001:db8::1", "2001:db8::2", "2001:db8:0:1::"}));
  EXPECT_EQ(SvcOrder({a, d}), (Order{"fe80::1", "2001:db8::2"}));
}

TEST(FormatSort, DestsByAddressThenPortWithWrap) {
  TableView t;
  ServiceView s = Svc(kProtoTcp, "10.0.0.1", 80, "rr");
  s.dests = {Dest("10.0.1.1", 8081, Fwd::kMasq, 1), Dest("200.0.0.1", 80, Fwd::kMasq, 1),
             Dest("10.0.1.1", 8080, Fwd::kMasq, 1), Dest("10.0.0.200", 80, Fwd::kMasq, 1)};
  t.services = {s};
  EXPECT_EQ(format_save(t, true, system_resolver()),
            "-A -t 10.0.0.1:80 -s rr\n"
            "-a -t 10.0.0.1:80 -r 200.0.0.1:80 -m -w 1\n"
            "-a -t 10.0.0.1:80 -r 10.0.0.200:80 -m -w 1\n"
            "-a -t 10.0.0.1:80 -r 10.0.1.1:8080 -m -w 1\n"
            "-a -t 10.0.0.1:80 -r 10.0.1.1:8081 -m -w 1\n");
}

TEST(FormatSort, NosortKeepsGivenOrder) {
  TableView t;
  ServiceView b = Svc(kProtoTcp, "10.0.0.2", 80, "rr");
  b.dests = {Dest("10.0.1.2", 80, Fwd::kRoute, 1), Dest("10.0.1.1", 80, Fwd::kRoute, 1)};
  ServiceView a = Svc(kProtoTcp, "10.0.0.1", 80, "rr");
  t.services = {b, a};
  ListFormat f = Numeric();
  f.nosort = true;
  EXPECT_EQ(format_list(t, f, system_resolver()),
            "IP Virtual Server version 1.2.1 (size=4096)\n"
            "Prot LocalAddress:Port Scheduler Flags\n"
            "  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn\n"
            "TCP  10.0.0.2:80 rr\n"
            "  -> 10.0.1.2:80                  Route   1      0          0         \n"
            "  -> 10.0.1.1:80                  Route   1      0          0         \n"
            "TCP  10.0.0.1:80 rr\n");
  f.nosort = false;
  EXPECT_EQ(format_list(t, f, system_resolver()),
            "IP Virtual Server version 1.2.1 (size=4096)\n"
            "Prot LocalAddress:Port Scheduler Flags\n"
            "  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn\n"
            "TCP  10.0.0.1:80 rr\n"
            "TCP  10.0.0.2:80 rr\n"
            "  -> 10.0.1.1:80                  Route   1      0          0         \n"
            "  -> 10.0.1.2:80                  Route   1      0          0         \n");
}

}  // namespace
}  // namespace uvs::cli
