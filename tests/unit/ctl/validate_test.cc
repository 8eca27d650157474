// uvsd's own checks on a definition (ctl/validate.h): every value uvsadm refuses is refused
// again, with the errno the kernel would give, whatever client sent it.
#include "ctl/validate.h"

#include <gtest/gtest.h>

#include <cerrno>

namespace uvs::ctl {
namespace {

ServiceConfig tcp_service(const char* ip = "10.0.0.1", uint16_t port = 80) {
  ServiceConfig s;
  s.key.af = AF_INET;
  s.key.protocol = kProtoTcp;
  s.key.addr = *InetAddr::parse(ip);
  s.key.port = port;
  s.sched_name = "rr";
  return s;
}

DestConfig dest(const char* ip, uint16_t port, Fwd fwd) {
  DestConfig d;
  d.key = DestKey{*InetAddr::parse(ip), port};
  d.fwd = fwd;
  return d;
}

TEST(Validate, ServiceAccepted) {
  EXPECT_EQ(check_service(tcp_service()), 0);
  ServiceConfig p = tcp_service("10.0.0.1", 0);
  p.flags = kSvcPersistent;
  p.timeout = 360;
  EXPECT_EQ(check_service(p), 0);
  ServiceConfig v6 = tcp_service("2001:db8::1");
  v6.key.af = AF_INET6;
  v6.netmask = 64;
  EXPECT_EQ(check_service(v6), 0);
  ServiceConfig fwm;
  fwm.key.fwmark = 7;
  EXPECT_EQ(check_service(fwm), 0);
}

TEST(Validate, FamilyMustMatchTheAddress) {
  ServiceConfig s = tcp_service("2001:db8::1");  // af AF_INET, IPv6 address
  EXPECT_EQ(check_service(s), EINVAL);
  s.key.af = 7;
  EXPECT_EQ(check_service(s), EAFNOSUPPORT);
  ServiceConfig unset = tcp_service();
  unset.key.addr.family = 0;
  EXPECT_EQ(check_service(unset), EINVAL);
}

TEST(Validate, FlagsOnlyThoseIpvsadmSets) {
  ServiceConfig s = tcp_service();
  s.flags = 0xffffffff;
  s.timeout = 60;
  EXPECT_EQ(check_service(s), EINVAL);
  s.flags = 0x0002;  // IP_VS_SVC_F_HASHED is the kernel's own
  EXPECT_EQ(check_service(s), EINVAL);
  s.flags = kSvcSchedMask | kSvcSynproxy;
  EXPECT_EQ(check_service(s), 0);
}

TEST(Validate, PersistenceTimeoutInIpvsadmsRange) {
  ServiceConfig s = tcp_service();
  s.flags = kSvcPersistent;
  s.timeout = 0;
  EXPECT_EQ(check_service(s), EINVAL);
  s.timeout = kMaxTimeout + 1;
  EXPECT_EQ(check_service(s), EINVAL);
  s.timeout = kMaxTimeout;
  EXPECT_EQ(check_service(s), 0);
}

TEST(Validate, ProcessOptionsRefusals) {
  EXPECT_EQ(check_service(tcp_service("10.0.0.1", 0)), EINVAL);  // zero port, not persistent
  ServiceConfig ops = tcp_service();
  ops.flags = kSvcOnePacket;
  EXPECT_EQ(check_service(ops), EINVAL);  // one-packet is UDP only
  ops.key.protocol = kProtoUdp;
  EXPECT_EQ(check_service(ops), 0);
  ServiceConfig proto = tcp_service();
  proto.key.protocol = 1;
  EXPECT_EQ(check_service(proto), EINVAL);
  ServiceConfig syn = tcp_service();
  syn.key.protocol = kProtoUdp;
  syn.flags = kSvcSynproxy;
  EXPECT_EQ(check_service(syn), EINVAL);
}

TEST(Validate, SchedulerAndPersistenceEngine) {
  ServiceConfig s = tcp_service();
  s.sched_name = "nosuch";
  EXPECT_EQ(check_service(s), ENOENT);
  s.sched_name = std::string(16, 'r');
  EXPECT_EQ(check_service(s), EINVAL);
  // No engine is built in: --pe sip fails as a missing ip_vs_pe_sip module does.
  ServiceConfig pe = tcp_service();
  pe.flags = kSvcPersistent;
  pe.timeout = 360;
  pe.pe_name = "sip";
  EXPECT_EQ(check_service(pe), ENOENT);
}

TEST(Validate, Ipv6Prefix) {
  ServiceConfig s = tcp_service("2001:db8::1");
  s.key.af = AF_INET6;
  s.netmask = 0;
  EXPECT_EQ(check_service(s), EINVAL);
  s.netmask = 129;
  EXPECT_EQ(check_service(s), EINVAL);
}

TEST(Validate, DestAccepted) {
  const ServiceConfig s = tcp_service();
  EXPECT_EQ(check_dest(s, dest("192.168.0.1", 8080, Fwd::kMasq)), 0);
  EXPECT_EQ(check_dest(s, dest("192.168.0.1", 80, Fwd::kRoute)), 0);
  DestConfig gue = dest("2001:db8::2", 80, Fwd::kTunnel);
  gue.tun_type = TunType::kGue;
  gue.tun_port = 6080;
  gue.tun_flags = TunCsum::kRemCsum;
  EXPECT_EQ(check_dest(s, gue), 0);
}

TEST(Validate, DestRanges) {
  const ServiceConfig s = tcp_service();
  DestConfig d = dest("192.168.0.1", 80, Fwd::kMasq);
  d.weight = -1;
  EXPECT_EQ(check_dest(s, d), ERANGE);
  d.weight = 1;
  d.u_threshold = kMaxThreshold + 1;
  d.l_threshold = 0;
  EXPECT_EQ(check_dest(s, d), EINVAL);
  d.u_threshold = 10;
  d.l_threshold = 20;
  EXPECT_EQ(check_dest(s, d), ERANGE);
  d.l_threshold = 0;
  d.fwd = static_cast<Fwd>(9);
  EXPECT_EQ(check_dest(s, d), EINVAL);
  d.fwd = Fwd::kBypass;
  EXPECT_EQ(check_dest(s, d), EINVAL);
}

TEST(Validate, DestAddress) {
  const ServiceConfig s = tcp_service();
  EXPECT_EQ(check_dest(s, dest("2001:db8::2", 80, Fwd::kMasq)), EINVAL);  // family
  EXPECT_EQ(check_dest(s, dest("224.0.0.1", 80, Fwd::kMasq)), EINVAL);
  DestConfig unset = dest("192.168.0.1", 80, Fwd::kTunnel);
  unset.key.addr = InetAddr{};
  unset.key.addr.family = 0;
  EXPECT_EQ(check_dest(s, unset), EINVAL);
}

TEST(Validate, DirectRoutingKeepsTheServicePort) {
  const ServiceConfig s = tcp_service();
  EXPECT_EQ(check_dest(s, dest("192.168.0.1", 8080, Fwd::kRoute)), EINVAL);
  EXPECT_EQ(check_dest(s, dest("192.168.0.1", 8080, Fwd::kTunnel)), EINVAL);
  ServiceConfig fwm;
  fwm.key.fwmark = 1;
  EXPECT_EQ(check_dest(fwm, dest("192.168.0.1", 8080, Fwd::kRoute)), 0);
}

TEST(Validate, TunnelOptionsAsIpvsadmAllowsThem) {
  const ServiceConfig s = tcp_service();
  DestConfig m = dest("192.168.0.1", 80, Fwd::kMasq);
  m.tun_port = 6080;
  EXPECT_EQ(check_dest(s, m), EINVAL);  // tunnel options on a non-tunnel server
  DestConfig t = dest("192.168.0.1", 80, Fwd::kTunnel);
  t.tun_type = TunType::kGue;
  EXPECT_EQ(check_dest(s, t), EINVAL);  // gue needs a port
  t.tun_type = TunType::kGre;
  t.tun_flags = TunCsum::kRemCsum;
  EXPECT_EQ(check_dest(s, t), EINVAL);  // gre has no remcsum
  t.tun_flags = TunCsum::kCsum;
  EXPECT_EQ(check_dest(s, t), 0);
  t.tun_type = TunType::kIpip;
  EXPECT_EQ(check_dest(s, t), EINVAL);  // ipip takes no checksum option
  t.tun_type = static_cast<TunType>(3);
  EXPECT_EQ(check_dest(s, t), EINVAL);
  t.tun_type = TunType::kGre;
  t.tun_flags = static_cast<TunCsum>(3);
  EXPECT_EQ(check_dest(s, t), EINVAL);
}

TEST(Validate, Timeouts) {
  EXPECT_EQ(check_timeouts(Timeouts{0, 0, 0}), 0);
  EXPECT_EQ(check_timeouts(Timeouts{900, 120, 300}), 0);
  EXPECT_EQ(check_timeouts(Timeouts{-1, 0, 0}), EINVAL);
  EXPECT_EQ(check_timeouts(Timeouts{0, 0, static_cast<int32_t>(kMaxTimeout) + 1}), EINVAL);
}

TEST(Validate, Daemon) {
  DaemonConfig d;
  d.state = kDaemonMaster;
  d.mcast_ifn = "eth0";
  EXPECT_EQ(check_daemon(d), 0);
  d.syncid = 256;
  EXPECT_EQ(check_daemon(d), EINVAL);
  d.syncid = 0;
  d.sync_maxlen = kMaxSyncMaxlen + 1;
  EXPECT_EQ(check_daemon(d), EINVAL);
  d.sync_maxlen = 0;
  d.has_group = true;
  d.mcast_group = *InetAddr::parse("10.0.0.1");
  EXPECT_EQ(check_daemon(d), EINVAL);
  d.mcast_group = *InetAddr::parse("ff02::1");
  EXPECT_EQ(check_daemon(d), 0);
  d.state = 3;
  EXPECT_EQ(check_daemon(d), EINVAL);
}

}  // namespace
}  // namespace uvs::ctl
