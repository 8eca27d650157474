// One connection-table entry: the kernel's struct ip_vs_conn cut down to what a user-space data
// plane needs, in exactly 128 bytes (two cache lines, 64-byte aligned).
//
// Layout: the first cache line holds everything an input or NAT-output lookup compares and the
// state a transition writes, so a lookup that hits touches one line of the entry before it
// decides; the second holds the timer, the dest, FULLNAT and persistence fields. IPv4 and IPv6
// share 16-byte address slots (IPv4 in the first 4 bytes, network order, the rest zero -- the
// same layout as InetAddr::bytes, so copies need no conversion).
//
// Entries live in a per-worker pool (table.h) and are referred to by 32-bit pool index where a
// link is stored (the template of a controlled connection, the timer wheel's blocks), so an
// entry never holds a pointer into its own table.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "model/address.h"
#include "model/service.h"

namespace uvs::sched {
class Dest;
}  // namespace uvs::sched

namespace uvs::conn {

// Connection flags: the kernel's IP_VS_CONN_F_* values (include/uapi/linux/ip_vs.h), so a sync
// record can carry them unchanged, as ip_vs_sync_conn() puts cp->flags on the wire.
inline constexpr uint16_t kConnFwdMask = 0x0007;   // forwarding method, values of uvs::Fwd
inline constexpr uint16_t kConnSync = 0x0020;      // created by the sync backup
inline constexpr uint16_t kConnHashed = 0x0040;    // in the table's index
inline constexpr uint16_t kConnNoOutput = 0x0080;  // no reply seen yet (set for non-NAT)
inline constexpr uint16_t kConnInactive = 0x0100;  // counted in the dest's inactconns
inline constexpr uint16_t kConnOutSeq = 0x0200;    // sequence adjustment (payload helpers)
inline constexpr uint16_t kConnInSeq = 0x0400;
inline constexpr uint16_t kConnNoCport = 0x0800;    // client port not known yet
inline constexpr uint16_t kConnTemplate = 0x1000;   // persistence template
inline constexpr uint16_t kConnOnePacket = 0x2000;  // -o: forwarded once, never indexed

// uvs-only bits in Conn::xflags; never on the wire.
inline constexpr uint8_t kXInUse = 0x01;        // the pool slot holds a live entry
inline constexpr uint8_t kXOpsTemplate = 0x02;  // template of a one-packet (-o) service: the
                                                // drop_entry defence treats it like a UDP conn
// The SYN proxy (Alibaba LVS's ip_vs_synproxy.c): the connection was opened by a client's ACK
// carrying a valid cookie. While kXSynproxyPending (state SYN_SENT, waiting for the real
// server's SYN-ACK) seq_delta holds the worker's slot of stored packets; from the SYN-ACK on,
// kXSynproxySeq: seq_delta is cookie ISN - real server ISN (xmit/tcp_opts.h).
inline constexpr uint8_t kXSynproxyPending = 0x04;
inline constexpr uint8_t kXSynproxySeq = 0x08;
// Bits owned by the FULLNAT transform (Alibaba LVS), kept here so they survive between packets.
inline constexpr uint8_t kXFnatSeqDelta = 0x10;   // seq_delta is FULLNAT's (set on client SYN)
inline constexpr uint8_t kXFnatTsStrip = 0x20;    // timestamps removed on this connection
inline constexpr uint8_t kXFnatToaDone = 0x40;    // TOA delivered on the handshake's last ACK
inline constexpr uint8_t kXFnatMssAdjust = 0x80;  // MSS toward the client was reduced

// Template states (IP_VS_CTPL_S_*): a template becomes ASSURED when a connection it controls
// reaches ESTABLISHED (TCP, SCTP) or sees a reply (UDP).
inline constexpr uint8_t kTemplateNone = 0;
inline constexpr uint8_t kTemplateAssured = 1;

inline constexpr uint32_t kNoConn = UINT32_MAX;   // "no entry" for a pool index
inline constexpr uint16_t kInvalidPort = 0xffff;  // vport/dport of an invalidated template

using AddrBytes = std::array<uint8_t, 16>;

inline bool addr_equal(const AddrBytes& a, const AddrBytes& b) {
  return std::memcmp(a.data(), b.data(), 16) == 0;
}

inline InetAddr to_inet(uint8_t af, const AddrBytes& bytes) {
  InetAddr a;
  a.family = af;
  a.bytes = bytes;
  return a;
}

struct alignas(64) Conn {
  // --- Cache line 1: lookup keys and per-packet state -------------------------------------
  AddrBytes caddr;  // client (templates: the client network, snet)
  AddrBytes vaddr;  // virtual (fwmark templates: the mark, network order, first 4 bytes)
  AddrBytes daddr;  // real server, in family daf
  uint16_t cport;   // host order; 0 for templates and NO_CPORT entries
  uint16_t vport;
  uint16_t dport;
  uint16_t flags;       // kConn*
  uint8_t af;           // AF_INET / AF_INET6 of caddr and vaddr
  uint8_t protocol;     // IPPROTO_*; 0 (IPPROTO_IP) for fwmark templates
  uint8_t state;        // per-protocol state (state.h); templates: kTemplate*
  uint8_t old_state;    // state the last sync record carried (ip_vs_sync_conn_needed())
  uint32_t timeout_ms;  // of the current state; what a refresh re-arms

  // --- Cache line 2: timer, dest, FULLNAT, persistence ------------------------------------
  uint64_t expires_ms;      // absolute, on the caller's clock; refreshing is storing this
  sched::Dest* dest;        // bound real server (counted in its counters); null only for
                            // entries created by sync before their dest exists
  AddrBytes laddr;          // FULLNAT local address; TUN: the tunnel's source (family daf)
  uint16_t lport;           // FULLNAT local port, host order
  uint8_t daf;              // family of daddr/laddr (differs from af only across tunnels/NAT64)
  uint8_t xflags;           // kX*
  uint32_t control;         // pool index of the controlling template, or kNoConn
  uint32_t n_control;       // connections this entry controls (templates)
  uint32_t in_pkts;         // input packets seen (sync thresholds, drop_entry)
  uint32_t fwmark;          // packet mark at creation (sync carries it)
  uint32_t seq_delta;       // the TCP sequence shift: FULLNAT's (LB-to-RS ISN minus client
                            // ISN) or the SYN proxy's; one per entry, so a proxied FULLNAT
                            // connection keeps the client's ISN toward the real server
  uint32_t wheel_next;      // timer wheel block (timer_wheel.h), kNoConn when not armed;
                            // the pool's free-list link while the entry is free
  uint32_t wheel_prev;      // timer wheel slot and position in the block

  Fwd fwd() const { return static_cast<Fwd>(flags & kConnFwdMask); }
  bool is_template() const { return flags & kConnTemplate; }
  bool inactive() const { return flags & kConnInactive; }
  bool in_use() const { return xflags & kXInUse; }
  bool controlled() const { return control != kNoConn; }
};

static_assert(sizeof(Conn) == 128, "a connection entry is two cache lines");
static_assert(alignof(Conn) == 64);
static_assert(offsetof(Conn, timeout_ms) + sizeof(uint32_t) == 64,
              "lookup keys and per-packet state fill exactly the first cache line");

}  // namespace uvs::conn
