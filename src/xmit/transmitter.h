// One transmitter per forwarding method, bound to a connection the way the kernel's
// ip_vs_bind_xmit() sets cp->packet_xmit: the forwarding bits Tracker::create() copies from the
// real server into Conn::flags index the table below, so the method is chosen once, when the
// connection is made, and the pipeline never switches on it.
//
// Which file to open:
//
//   method (ipvsadm)      file         in: client -> RS   out: RS -> client   ICMP errors
//   NAT (-m, Masq)        nat.cc       nat_in             nat_out             both ways
//   DR (-g, Route)        dr.cc        dr_in              (bypasses us)       toward the RS
//   TUN (-i, Tunnel)      tun.cc       tun_in             (bypasses us)       toward the RS
//   FULLNAT (-b)          fullnat.cc   fullnat_in         fullnat_out         (not relayed)
//   local / bypass        transmitter.cc: handed to the local stack (ip_vs_null_xmit())
//
// The pieces they share: l3.h (tuple rewrite, TTL, MTU check, Ethernet), tunnel.h (IPIP, GUE,
// GRE), tcp_opts.h (FULLNAT's sequence, SACK, TOA and SYN option edits), icmp.h (ICMP errors).
//
// Contract of every entry point: the pipeline has looked up the connection, routed the packet
// (`hop` is resolved), moved the state machine and counted it. The transmitter checks MTU and
// TTL (prepare_forward()), transforms the frame in place and says what to do with it (a
// Result). It never sends, frees or holds a frame itself, and it touches nothing but the frame,
// the connection's per-method fields and the worker's Context: no I/O, no allocation, so the
// XDP fast path can repeat the same rewrites.
#pragma once

#include <cstdint>

#include "conn/conn.h"
#include "io/packet_io.h"
#include "io/xdp_flow_abi.h"
#include "model/sysctl.h"
#include "pkt/parse.h"
#include "util/hash.h"
#include "xmit/l3.h"

namespace uvs::xmit {

// A worker's state that transmitters read or advance; one per worker, no sharing.
struct Context {
  explicit Context(uint64_t seed) : isn(seed) {}

  const Sysctls* sysctls = nullptr;  // the current snapshot's (pmtu_disc, fullnat_*)
  util::SplitMix64 isn;              // FULLNAT initial sequence numbers toward real servers
  uint16_t ip_id = 0;                // identification of the outer IPv4 headers tunnels build
};

using XmitFn = Result (*)(Context& ctx, io::Frame& f, pkt::ParsedPacket& p, conn::Conn& c,
                          const Hop& hop);

// The fast path's copy of one direction of `c` (io/xdp_flow_abi.h): the key its packets arrive
// with and the rewrite the transmitter would give them; the caller adds the next hop. False
// when XDP cannot repeat it (yet), e.g. FULLNAT TCP before its TOA got through.
using OffloadFn = bool (*)(const Context& ctx, const conn::Conn& c, uvs_flow_key* key,
                           uvs_flow* flow);

struct Transmitter {
  const char* name;
  // False for methods that deliver locally: no route is looked up for them.
  bool routed;
  // The client's packet toward the real server (also the fragments that follow it).
  XmitFn in;
  // The real server's reply toward the client (DR and TUN replies normally bypass the
  // director; one that does not is NAT-ed back, as the kernel's handle_response() does).
  XmitFn out;
  // An ICMP error from the client's side about the connection, relayed to the real server
  // (ip_vs_in_icmp()); null where the method does not relay it.
  XmitFn icmp_in;
  // An ICMP error from the real server about the connection, relayed to the client
  // (ip_vs_out_icmp()); null where the method does not relay it.
  XmitFn icmp_out;
  // The fast path's entries for `in` and `out`; null where XDP does not repeat the method
  // (local delivery) or no reply passes.
  OffloadFn offload_in;
  OffloadFn offload_out;
};

// A fast-path key: the packet as it arrives, for the addresses and ports (host order) of `c`.
uvs_flow_key flow_key(uint8_t af, uint8_t protocol, const conn::AddrBytes& saddr, uint16_t sport,
                      const conn::AddrBytes& daddr, uint16_t dport);

// The transmitter bound to connection `c`.
const Transmitter& transmitter_of(const conn::Conn& c);

// The methods' entry points, for the table and for tests.
Result nat_in(Context& ctx, io::Frame& f, pkt::ParsedPacket& p, conn::Conn& c, const Hop& hop);
Result nat_out(Context& ctx, io::Frame& f, pkt::ParsedPacket& p, conn::Conn& c, const Hop& hop);
Result nat_icmp_in(Context& ctx, io::Frame& f, pkt::ParsedPacket& p, conn::Conn& c,
                   const Hop& hop);
Result nat_icmp_out(Context& ctx, io::Frame& f, pkt::ParsedPacket& p, conn::Conn& c,
                    const Hop& hop);
Result dr_in(Context& ctx, io::Frame& f, pkt::ParsedPacket& p, conn::Conn& c, const Hop& hop);
Result dr_icmp_in(Context& ctx, io::Frame& f, pkt::ParsedPacket& p, conn::Conn& c,
                  const Hop& hop);
Result tun_in(Context& ctx, io::Frame& f, pkt::ParsedPacket& p, conn::Conn& c, const Hop& hop);
Result tun_icmp_in(Context& ctx, io::Frame& f, pkt::ParsedPacket& p, conn::Conn& c,
                   const Hop& hop);
Result fullnat_in(Context& ctx, io::Frame& f, pkt::ParsedPacket& p, conn::Conn& c,
                  const Hop& hop);
Result fullnat_out(Context& ctx, io::Frame& f, pkt::ParsedPacket& p, conn::Conn& c,
                   const Hop& hop);
bool nat_offload_in(const Context& ctx, const conn::Conn& c, uvs_flow_key* key, uvs_flow* flow);
bool nat_offload_out(const Context& ctx, const conn::Conn& c, uvs_flow_key* key, uvs_flow* flow);
bool dr_offload_in(const Context& ctx, const conn::Conn& c, uvs_flow_key* key, uvs_flow* flow);
bool tun_offload_in(const Context& ctx, const conn::Conn& c, uvs_flow_key* key, uvs_flow* flow);
Result fullnat_icmp_in(Context& ctx, io::Frame& f, pkt::ParsedPacket& p, conn::Conn& c,
                       const Hop& hop);
Result fullnat_icmp_out(Context& ctx, io::Frame& f, pkt::ParsedPacket& p, conn::Conn& c,
                        const Hop& hop);
bool fullnat_offload_in(const Context& ctx, const conn::Conn& c, uvs_flow_key* key,
                        uvs_flow* flow);
bool fullnat_offload_out(const Context& ctx, const conn::Conn& c, uvs_flow_key* key,
                         uvs_flow* flow);

}  // namespace uvs::xmit
