#include "dp/snapshot.h"

#include <gtest/gtest.h>

namespace uvs::dp {
namespace {

ServiceEntry svc(uint8_t proto, const char* ip, uint16_t port, uint32_t mark = 0,
                 uint16_t af = AF_INET) {
  ServiceEntry e;
  e.cfg.key.af = af;
  e.cfg.key.protocol = proto;
  if (!mark) e.cfg.key.addr = *InetAddr::parse(ip);
  e.cfg.key.port = port;
  e.cfg.key.fwmark = mark;
  return e;
}

TEST(Snapshot, KernelLookupOrder) {
  std::vector<ServiceEntry> v = {svc(kProtoTcp, "10.0.0.1", 80), svc(kProtoTcp, "10.0.0.1", 21),
                                 svc(kProtoUdp, "10.0.0.2", 0), svc(kProtoTcp, "", 0, 7),
                                 svc(kProtoTcp, "2001:db8::1", 443, 0, AF_INET6)};
  Snapshot s(std::move(v), Timeouts{}, Sysctls{}, 1);
  auto a = *InetAddr::parse("10.0.0.1");
  EXPECT_EQ(s.find(AF_INET, kProtoTcp, a, 80, 0)->cfg.key.port, 80);
  // fwmark first when the packet is marked
  EXPECT_EQ(s.find(AF_INET, kProtoTcp, a, 80, 7)->cfg.key.fwmark, 7u);
  EXPECT_EQ(s.find(AF_INET6, kProtoTcp, a, 80, 7), nullptr);
  // FTP data: dport 20 or >= 1024 goes to the port-21 service
  EXPECT_EQ(s.find(AF_INET, kProtoTcp, a, 20, 0)->cfg.key.port, 21);
  EXPECT_EQ(s.find(AF_INET, kProtoTcp, a, 40000, 0)->cfg.key.port, 21);
  EXPECT_EQ(s.find(AF_INET, kProtoTcp, a, 81, 0), nullptr);
  EXPECT_EQ(s.find(AF_INET, kProtoUdp, a, 40000, 0), nullptr);
  // port 0 catches any port of its address and protocol
  auto b = *InetAddr::parse("10.0.0.2");
  EXPECT_EQ(s.find(AF_INET, kProtoUdp, b, 53, 0)->cfg.key.port, 0);
  EXPECT_EQ(s.find(AF_INET, kProtoTcp, b, 53, 0), nullptr);
  EXPECT_NE(s.find(AF_INET6, kProtoTcp, *InetAddr::parse("2001:db8::1"), 443, 0), nullptr);
}

TEST(Snapshot, ManyServices) {
  std::vector<ServiceEntry> v;
  for (int i = 0; i < 5000; ++i)
    v.push_back(svc(kProtoTcp, ("10.1." + std::to_string(i / 250) + "." + std::to_string(i % 250)).c_str(), 80));
  Snapshot s(std::move(v), Timeouts{}, Sysctls{}, 1);
  for (int i = 0; i < 5000; ++i) {
    auto a = *InetAddr::parse("10.1." + std::to_string(i / 250) + "." + std::to_string(i % 250));
    ASSERT_NE(s.find(AF_INET, kProtoTcp, a, 80, 0), nullptr) << i;
    ASSERT_EQ(s.find(AF_INET, kProtoTcp, a, 81, 0), nullptr) << i;
  }
}

}  // namespace
}  // namespace uvs::dp
