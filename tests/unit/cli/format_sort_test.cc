// sort_table against the real thing: glibc's own qsort (<= 2.36, the merge sort Debian bookworm's
// ipvsadm runs) over C records compared the way libipvs compares them. Random tables whose
// addresses straddle the 2^31 boundary make the comparator non-transitive, so any deviation
// from glibc's algorithm shows up as a different order.

#include <arpa/inet.h>
#include <gnu/libc-version.h>
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <vector>

#include "cli/format.h"

namespace uvs::cli {
namespace {

bool glibc_uses_merge_sort() {
  int major = 0, minor = 0;
  if (std::sscanf(gnu_get_libc_version(), "%d.%d", &major, &minor) != 2) return false;
  return major == 2 && minor <= 36;
}

// Shaped like libipvs' entries: large enough that glibc sorts them indirectly, as it does the
// real ipvs_service_entry_t.
struct CService {
  uint32_t fwmark;
  uint16_t af;
  uint16_t protocol;
  uint32_t addr[4];  // network order
  uint16_t port;     // network order
  int id;
  char pad[64];
};

struct CDest {
  uint16_t af;
  uint32_t addr[4];
  uint16_t port;
  int id;
  char pad[64];
};

int c_cmp_addr(const uint32_t* a, const uint32_t* b, uint16_t af) {
  int r = 0;
  if (af == AF_INET6) {
    for (int i = 0; r == 0 && i < 4; ++i) r = static_cast<int>(ntohl(a[i]) - ntohl(b[i]));
  } else {
    r = static_cast<int>(ntohl(a[0]) - ntohl(b[0]));
  }
  return r;
}

extern "C" int c_cmp_service(const void* pa, const void* pb) {
  const auto* a = static_cast<const CService*>(pa);
  const auto* b = static_cast<const CService*>(pb);
  int r = static_cast<int>(a->fwmark - b->fwmark);
  if (r) return r;
  r = a->af - b->af;
  if (r) return r;
  r = a->protocol - b->protocol;
  if (r) return r;
  r = c_cmp_addr(a->addr, b->addr, a->af);
  if (r) return r;
  return ntohs(a->port) - ntohs(b->port);
}

extern "C" int c_cmp_dest(const void* pa, const void* pb) {
  const auto* a = static_cast<const CDest*>(pa);
  const auto* b = static_cast<const CDest*>(pb);
  int r = c_cmp_addr(a->addr, b->addr, a->af);
  if (r) return r;
  return ntohs(a->port) - ntohs(b->port);
}

InetAddr random_addr(std::mt19937& rng, bool v6) {
  // First bytes on both sides of 0x80 so that differences often exceed 2^31.
  static const uint8_t kFirst[] = {1, 10, 100, 127, 128, 150, 192, 200, 255};
  InetAddr a;
  a.family = v6 ? AF_INET6 : AF_INET;
  const int len = v6 ? 16 : 4;
  for (int i = 0; i < len; ++i) a.bytes[i] = static_cast<uint8_t>(rng() % 4);
  a.bytes[0] = kFirst[rng() % sizeof kFirst];
  if (v6 && rng() % 2) a.bytes[4] = kFirst[rng() % sizeof kFirst];
  return a;
}

TEST(FormatSortGlibc, ServicesAndDestsMatchQsort) {
  if (!glibc_uses_merge_sort()) GTEST_SKIP() << "glibc " << gnu_get_libc_version();
  std::mt19937 rng(20240601);
  static const uint8_t kProtos[] = {IPPROTO_TCP, IPPROTO_UDP, IPPROTO_SCTP};
  static const uint32_t kMarks[] = {1, 2, 3, 0x7fffffff, 0x80000000u, 0x90000000u, 0xffffffffu};
  for (int round = 0; round < 2000; ++round) {
    const size_t n = rng() % 40;
    std::vector<ServiceView> services;
    std::vector<CService> c(n);
    for (size_t i = 0; i < n; ++i) {
      ServiceView s;
      const bool v6 = rng() % 4 == 0;
      s.cfg.key.af = v6 ? AF_INET6 : AF_INET;
      std::memset(&c[i], 0, sizeof c[i]);
      c[i].af = s.cfg.key.af;
      c[i].id = static_cast<int>(i);
      if (rng() % 5 == 0) {
        s.cfg.key.fwmark = kMarks[rng() % std::size(kMarks)];
        c[i].fwmark = s.cfg.key.fwmark;
      } else {
        s.cfg.key.protocol = kProtos[rng() % 3];
        s.cfg.key.addr = random_addr(rng, v6);
        s.cfg.key.port = static_cast<uint16_t>(rng() % 3 == 0 ? 0 : rng());
        c[i].protocol = s.cfg.key.protocol;
        std::memcpy(c[i].addr, s.cfg.key.addr.bytes.data(), 16);
        c[i].port = htons(s.cfg.key.port);
      }
      // Use the scheduler name to carry the original index through the sort.
      s.cfg.sched_name = std::to_string(i);
      services.push_back(s);
    }
    if (n > 0) std::qsort(c.data(), c.size(), sizeof(CService), c_cmp_service);
    sort_table(services);
    ASSERT_EQ(services.size(), c.size());
    for (size_t i = 0; i < n; ++i) {
      ASSERT_EQ(services[i].cfg.sched_name, std::to_string(c[i].id)) << "round " << round;
    }
  }

  for (int round = 0; round < 2000; ++round) {
    const size_t n = rng() % 40;
    ServiceView s;
    std::vector<CDest> c(n);
    for (size_t i = 0; i < n; ++i) {
      DestView d;
      // Mostly one family, sometimes mixed as for tunnels.
      const bool v6 = round % 3 == 0 ? rng() % 2 == 0 : round % 3 == 1;
      d.cfg.key.addr = random_addr(rng, v6);
      d.cfg.key.port = static_cast<uint16_t>(rng() % 4);
      d.cfg.weight = static_cast<int32_t>(i);
      std::memset(&c[i], 0, sizeof c[i]);
      c[i].af = d.cfg.key.addr.family;
      std::memcpy(c[i].addr, d.cfg.key.addr.bytes.data(), 16);
      c[i].port = htons(d.cfg.key.port);
      c[i].id = static_cast<int>(i);
      s.dests.push_back(d);
    }
    if (n > 0) std::qsort(c.data(), c.size(), sizeof(CDest), c_cmp_dest);
    std::vector<ServiceView> table = {s};
    sort_table(table);
    for (size_t i = 0; i < n; ++i) {
      ASSERT_EQ(table[0].dests[i].cfg.weight, c[i].id) << "round " << round;
    }
  }
}

}  // namespace
}  // namespace uvs::cli
