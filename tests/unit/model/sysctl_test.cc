// uvsd --sysctl: the names of /proc/sys/net/ipv4/vs and the ranges the kernel's handlers take.
#include "model/sysctl.h"

#include <gtest/gtest.h>

namespace uvs {
namespace {

TEST(SetSysctl, NamesAndRangesAsTheKernelTakesThem) {
  Sysctls s;
  std::string error;
  EXPECT_TRUE(set_sysctl(s, "expire_nodest_conn=1", error)) << error;
  EXPECT_EQ(s.expire_nodest_conn, 1);
  EXPECT_TRUE(set_sysctl(s, "sync_threshold=2", error)) << error;
  EXPECT_TRUE(set_sysctl(s, "sync_period=0", error)) << error;
  EXPECT_EQ(s.sync_threshold, 2);
  EXPECT_EQ(s.sync_period, 0);
  EXPECT_TRUE(set_sysctl(s, "drop_entry=3", error));
  const Sysctls before = s;
  for (const char* bad : {"drop_entry=4", "secure_tcp=-1", "sync_version=0", "nosuch=1",
                          "expire_nodest_conn", "pmtu_disc=", "pmtu_disc=1x", "fullnat_toa=2"}) {
    EXPECT_FALSE(set_sysctl(s, bad, error)) << bad;
    EXPECT_FALSE(error.empty()) << bad;
  }
  EXPECT_EQ(s.drop_entry, before.drop_entry);  // refused: unchanged
  s.sync_period = 50;
  EXPECT_FALSE(set_sysctl(s, "sync_threshold=50", error));
  EXPECT_NE(error.find("below sync_period"), std::string::npos);
}

TEST(SetSysctl, TheSyncDaemonsKnobs) {
  Sysctls s;
  std::string error;
  for (const char* good : {"sync_refresh_period=30", "sync_retries=3", "sync_ports=4",
                           "sync_qlen_max=100", "sync_sock_size=262144", "backup_only=1"})
    EXPECT_TRUE(set_sysctl(s, good, error)) << good << ": " << error;
  EXPECT_EQ(s.sync_refresh_period, 30);
  EXPECT_EQ(s.sync_retries, 3);
  EXPECT_EQ(s.sync_ports, 4);
  EXPECT_EQ(s.backup_only, 1);
  for (const char* bad : {"sync_retries=4", "sync_ports=3", "sync_ports=0", "backup_only=2",
                          "sync_refresh_period=-1"}) {
    EXPECT_FALSE(set_sysctl(s, bad, error)) << bad;
    EXPECT_FALSE(error.empty()) << bad;
  }
  EXPECT_EQ(s.sync_ports, 4);
  EXPECT_NE((set_sysctl(s, "sync_ports=6", error), error).find("power of two"), std::string::npos);
}

}  // namespace
}  // namespace uvs
