#include "xmit/transmitter.h"

#include <array>
#include <cstring>

namespace uvs::xmit {

namespace {

// Local delivery (the kernel's ip_vs_null_xmit()) and the bypass method: the local stack's.
Result local_in(Context&, io::Frame&, pkt::ParsedPacket&, conn::Conn&, const Hop&) {
  return {Verdict::kPass};
}

// A reply that does come back through the director on a non-FULLNAT connection gets NAT's
// treatment whatever the method, as the kernel's handle_response() gives any connection
// ip_vs_conn_out_get() finds.
constexpr Transmitter kNat{"nat",        true,           nat_in,         nat_out,
                          nat_icmp_in,  nat_icmp_out,   nat_offload_in, nat_offload_out};
constexpr Transmitter kLocal{"local", false, local_in, nat_out, nullptr, nullptr, nullptr, nullptr};
constexpr Transmitter kTun{"tun",       true,    tun_in,         nat_out,
                          tun_icmp_in, nullptr, tun_offload_in, nullptr};
constexpr Transmitter kDr{"dr",       true,    dr_in,         nat_out,
                         dr_icmp_in, nullptr, dr_offload_in, nullptr};
constexpr Transmitter kFullNat{"fullnat",          true,
                               fullnat_in,         fullnat_out,
                               fullnat_icmp_in,    fullnat_icmp_out,
                               fullnat_offload_in, fullnat_offload_out};

// By the values of uvs::Fwd (the kernel's IP_VS_CONN_F_* forwarding bits); unused values
// deliver locally, as the kernel's default case does.
constexpr std::array<const Transmitter*, conn::kConnFwdMask + 1> kByFwd = {
    &kNat,       // Fwd::kMasq
    &kLocal,     // Fwd::kLocal
    &kTun,       // Fwd::kTunnel
    &kDr,        // Fwd::kRoute
    &kLocal,     // Fwd::kBypass
    &kFullNat,   // Fwd::kFullNat
    &kLocal,
    &kLocal,
};
static_assert(static_cast<int>(Fwd::kMasq) == 0 && static_cast<int>(Fwd::kTunnel) == 2 &&
              static_cast<int>(Fwd::kRoute) == 3 && static_cast<int>(Fwd::kFullNat) == 5);

}  // namespace

const Transmitter& transmitter_of(const conn::Conn& c) {
  return *kByFwd[c.flags & conn::kConnFwdMask];
}

uvs_flow_key flow_key(uint8_t af, uint8_t protocol, const conn::AddrBytes& saddr, uint16_t sport,
                      const conn::AddrBytes& daddr, uint16_t dport) {
  uvs_flow_key key{};
  key.family = af;
  key.protocol = protocol;
  key.sport = htons(sport);
  key.dport = htons(dport);
  std::memcpy(key.saddr, saddr.data(), 16);
  std::memcpy(key.daddr, daddr.data(), 16);
  return key;
}

}  // namespace uvs::xmit
