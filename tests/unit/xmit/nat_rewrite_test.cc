// pkt/nat_rewrite.h, the NAT rewrite shared by the C++ transmitters and the XDP programs: the
// same frames through xmit::rewrite_tuple() and through the BPF build of the header
// (bpf/nat_rewrite_check.bpf.c, run by the kernel with BPF_PROG_TEST_RUN) must both come out as
// the frame built from scratch with the new tuple, checksums computed in full.
#include <gtest/gtest.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/bpf.h>
#include <unistd.h>

#include <cstring>
#include <string>

#include "io/memory_io.h"
#include "pkt/builder.h"
#include "pkt/nat_rewrite.h"
#include "pkt/parse.h"
#include "tests/common/bpf_test_run.h"
#include "xmit/l3.h"

namespace uvs::xmit {
namespace {

using pkt::addr;
using pkt::Bytes;
using pkt::FrameBuilder;

struct Case {
  const char* name;
  bool v6;
  uint8_t proto;
  pkt::CsumMode csum;
  bool ip_options;
};

void PrintTo(const Case& c, std::ostream* os) { *os << c.name; }

struct Tuple {
  const char* saddr;
  const char* daddr;
  uint16_t sport;
  uint16_t dport;
};

Bytes frame(const Case& c, const Tuple& t) {
  FrameBuilder b;
  if (c.v6) {
    b.ipv6(t.saddr, t.daddr);
  } else {
    b.ipv4(t.saddr, t.daddr);
    if (c.ip_options) b.ipv4_options({0x94, 0x04, 0x00, 0x00});  // router alert
  }
  b.ttl(61);
  if (c.proto == IPPROTO_TCP)
    b.tcp(t.sport, t.dport, pkt::kTcpAck).payload("GET / HTTP/1.1\r\n");
  else
    b.udp(t.sport, t.dport).payload("a datagram of odd length");
  b.l4_csum(c.csum);
  return b.build();
}

// Client -> VIP becomes local address -> real server: both addresses and ports change, as for
// FULLNAT (NAT changes a subset; the code has no separate path for it).
const Tuple kBefore4{"10.0.1.5", "10.0.100.1", 40000, 80};
const Tuple kAfter4{"10.0.3.1", "10.0.2.11", 5123, 8080};
const Tuple kBefore6{"2001:db8:1::5", "2001:db8:100::1", 40000, 80};
const Tuple kAfter6{"2001:db8:3::1", "2001:db8:2::11", 5123, 8080};

const Case kCases[] = {
    {"Ipv4Tcp", false, IPPROTO_TCP, pkt::CsumMode::kCorrect, false},
    {"Ipv4TcpWithOptions", false, IPPROTO_TCP, pkt::CsumMode::kCorrect, true},
    {"Ipv4Udp", false, IPPROTO_UDP, pkt::CsumMode::kCorrect, false},
    {"Ipv4UdpWithoutChecksum", false, IPPROTO_UDP, pkt::CsumMode::kZero, false},
    {"Ipv6Tcp", true, IPPROTO_TCP, pkt::CsumMode::kCorrect, false},
    {"Ipv6Udp", true, IPPROTO_UDP, pkt::CsumMode::kCorrect, false},
};

uvs_nat_tuple nat_tuple(const Tuple& t) {
  uvs_nat_tuple to{};
  std::memcpy(to.saddr, addr(t.saddr).bytes.data(), 16);
  std::memcpy(to.daddr, addr(t.daddr).bytes.data(), 16);
  to.sport = htons(t.sport);
  to.dport = htons(t.dport);
  return to;
}

class NatRewrite : public ::testing::TestWithParam<Case> {
 protected:
  const Tuple& before() const { return GetParam().v6 ? kBefore6 : kBefore4; }
  const Tuple& after() const { return GetParam().v6 ? kAfter6 : kAfter4; }
};

TEST_P(NatRewrite, RewriteTupleMatchesTheFrameBuiltWithTheNewTuple) {
  const Bytes in = frame(GetParam(), before());
  io::MemoryIo mem({io::PortInfo{}}, 2, 4096, 256);
  ASSERT_TRUE(mem.inject(0, in));
  io::Frame f;
  ASSERT_EQ(mem.rx_burst({&f, 1}), 1u);
  pkt::ParsedPacket p;
  ASSERT_EQ(pkt::parse_frame(f.data, f.len, &p), pkt::Verdict::kOk);
  const Tuple& t = after();
  rewrite_tuple(f.data, p, addr(t.saddr), t.sport, addr(t.daddr), t.dport);
  EXPECT_EQ(pkt::describe_diff(frame(GetParam(), t), Bytes(f.data, f.data + f.len)), "");
  mem.free({&f, 1});
}

// The kernel runs the BPF build of the same header on the same frame.
TEST_P(NatRewrite, TheXdpBuildGivesTheSameBytes) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root (BPF)";
  const std::string path = std::string(UVS_BUILD_DIR) + "/bpf/nat_rewrite_check.bpf.o";
  bpf_object* object = bpf_object__open_file(path.c_str(), nullptr);
  ASSERT_NE(object, nullptr) << path;
  ASSERT_EQ(bpf_object__load(object), 0) << path << ": rejected by the verifier?";
  const int prog = bpf_program__fd(bpf_object__find_program_by_name(object, "uvs_nat_check"));
  const int map = bpf_object__find_map_fd_by_name(object, "uvs_nat_check_tuple");
  ASSERT_GE(prog, 0);
  ASSERT_GE(map, 0);
  const uint32_t key = 0;
  const uvs_nat_tuple to = nat_tuple(after());
  ASSERT_EQ(bpf_map_update_elem(map, &key, &to, BPF_ANY), 0);

  const auto [verdict, out] = test::xdp_test_run(prog, frame(GetParam(), before()));
  EXPECT_EQ(verdict, static_cast<uint32_t>(XDP_TX));
  EXPECT_EQ(pkt::describe_diff(frame(GetParam(), after()), out), "");
  bpf_object__close(object);
}

INSTANTIATE_TEST_SUITE_P(Frames, NatRewrite, ::testing::ValuesIn(kCases),
                         [](const auto& info) { return std::string(info.param.name); });

}  // namespace
}  // namespace uvs::xmit
