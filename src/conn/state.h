// The protocol state machines of the kernel's ip_vs_proto_{tcp,udp,sctp}.c: TCP (with the
// secure_tcp table), UDP and SCTP, their per-state timeouts with the `--set` values applied,
// the dest's active/inactive accounting on each change, and the state names `ipvsadm -Lc`
// prints.
//
// Pure functions over one entry; no allocation, no locks. The Tracker (tracker.h) wraps
// transition() with the controlling template and the worker's secure_tcp switch.
#pragma once

#include <cstdint>

#include "conn/conn.h"
#include "model/service.h"

namespace uvs::conn {

// Which way a packet goes, as the kernel's state tables index it. kInputOnly is never passed
// by a caller: it is what kInput becomes while the connection is NOOUTPUT.
enum class Dir : uint8_t { kInput = 0, kOutput = 1, kInputOnly = 2 };

// TCP header flag bits (byte 13).
inline constexpr uint8_t kTcpFin = 0x01;
inline constexpr uint8_t kTcpSyn = 0x02;
inline constexpr uint8_t kTcpRst = 0x04;
inline constexpr uint8_t kTcpAck = 0x10;

namespace tcp {
// IP_VS_TCP_S_*, in the kernel's order (the order of the -c names).
enum State : uint8_t {
  kNone = 0,
  kEstablished,
  kSynSent,
  kSynRecv,
  kFinWait,
  kTimeWait,
  kClose,
  kCloseWait,
  kLastAck,
  kListen,
  kSynAck,
  kStateCount,
};
// Table rows; -1 (no flag of these) means "go to CLOSE".
enum Event : uint8_t { kEvSyn = 0, kEvFin, kEvAck, kEvRst, kEventCount };
}  // namespace tcp

namespace udp {
inline constexpr uint8_t kNormal = 0;  // the only UDP state, named "UDP"
}  // namespace udp

namespace sctp {
// IP_VS_SCTP_S_*.
enum State : uint8_t {
  kNone = 0,
  kInit1,
  kInit,
  kCookieSent,
  kCookieReplied,
  kCookieWait,
  kCookie,
  kCookieEchoed,
  kEstablished,
  kShutdownSent,
  kShutdownReceived,
  kShutdownAckSent,
  kRejected,
  kClosed,
  kStateCount,
};
enum Event : uint8_t {
  kEvData = 0,  // also SACK, HEARTBEAT(-ACK), ECNE, CWR and unknown chunk types
  kEvInit,
  kEvInitAck,
  kEvCookieEcho,
  kEvCookieAck,
  kEvShutdown,
  kEvShutdownAck,
  kEvShutdownComplete,
  kEvError,
  kEvAbort,
  kEventCount,
};
// Chunk types (RFC 9260) the event mapping names.
inline constexpr uint8_t kChunkData = 0;
inline constexpr uint8_t kChunkInit = 1;
inline constexpr uint8_t kChunkInitAck = 2;
inline constexpr uint8_t kChunkAbort = 6;
inline constexpr uint8_t kChunkShutdown = 7;
inline constexpr uint8_t kChunkShutdownAck = 8;
inline constexpr uint8_t kChunkError = 9;
inline constexpr uint8_t kChunkCookieEcho = 10;
inline constexpr uint8_t kChunkCookieAck = 11;
inline constexpr uint8_t kChunkShutdownComplete = 14;
}  // namespace sctp

// What the state machines read from a packet (pkt::ParsedPacket has these fields).
struct L4Info {
  uint8_t tcp_flags = 0;    // kTcp* bits
  uint8_t sctp_chunk = 0;   // type of the first chunk
  uint8_t sctp_chunk2 = 0;  // type of the second chunk, if has_sctp_chunk2
  bool has_sctp_chunk2 = false;
};

// --- Tables --------------------------------------------------------------------------------
// RST > SYN > FIN > ACK; -1 when none of them is set.
int tcp_event(uint8_t tcp_flags);
// The tcp_states[] entry; event -1 gives CLOSE. `state` must be below tcp::kStateCount.
uint8_t tcp_next_state(bool secure_tcp, Dir dir, int event, uint8_t state);
// ESTABLISHED, SYN_SENT, SYN_RECV and SYNACK count in activeconns (kernel >= 5.x).
bool tcp_state_active(uint8_t state);

// The first chunk's type, except COOKIE_ECHO or COOKIE_ACK followed by ABORT is ABORT.
int sctp_event(uint8_t chunk, bool has_chunk2, uint8_t chunk2);
uint8_t sctp_next_state(Dir dir, int event, uint8_t state);

// --- Timeouts ------------------------------------------------------------------------------
// Per-state timeouts in milliseconds: the kernel defaults (tcp_timeouts[] and the like) with
// the three values `--set` controls applied (tcp = ESTABLISHED, tcpfin = FIN_WAIT, udp = UDP).
// The control plane resolves "0 = unchanged" before passing Timeouts here.
class TimeoutTable {
 public:
  TimeoutTable() : TimeoutTable(Timeouts{}) {}
  explicit TimeoutTable(const Timeouts& timeouts);

  void apply(const Timeouts& timeouts);
  Timeouts timeouts() const;

  uint32_t tcp_ms(uint8_t state) const { return state < tcp::kStateCount ? tcp_[state] : 0; }
  uint32_t udp_ms() const { return udp_; }
  uint32_t sctp_ms(uint8_t state) const { return state < sctp::kStateCount ? sctp_[state] : 0; }

 private:
  uint32_t tcp_[tcp::kStateCount];
  uint32_t udp_;
  uint32_t sctp_[sctp::kStateCount];
};

// Timeout of a connection before its first transition (ip_vs_conn_new).
inline constexpr uint32_t kInitialTimeoutMs = 3000;

// --- Transitions ---------------------------------------------------------------------------
// One packet's effect on `c`, as ip_vs_set_state() and set_tcp_state(): INPUT becomes
// INPUT-ONLY while `c` is NOOUTPUT, and the first OUTPUT packet clears NOOUTPUT; on a state
// change the dest moves the connection between activeconns and inactconns, and reaching
// ESTABLISHED (TCP, SCTP) -- or any OUTPUT packet (UDP) -- marks `control` ASSURED if it is a
// template; then the timeout becomes the new state's. Returns true if the state changed.
// Protocols other than TCP/UDP/SCTP are left as they are. Not for templates.
bool transition(Conn& c, Conn* control, Dir dir, const L4Info& l4, const TimeoutTable& timeouts,
                bool secure_tcp);

// Puts a TCP connection in `state` whatever its packets say, with the same accounting as a
// transition: what the SYN proxy does (Alibaba LVS sets cp->state itself), SYN_SENT while it
// waits for the real server and ESTABLISHED when the server answered. Not for templates.
void set_tcp_state(Conn& c, Conn* control, uint8_t state, const TimeoutTable& timeouts);

// --- ip_vs_in() predicates -----------------------------------------------------------------
// "New connection" packets for the reuse checks: TCP with SYN, SCTP with INIT first.
bool is_new_conn_packet(uint8_t protocol, const L4Info& l4);
// Whether a packet with no connection may create one (the protocols' conn_schedule hooks,
// e.g. tcp_conn_schedule()): TCP SYN without RST (any non-RST with sloppy_tcp), any UDP, SCTP
// INIT first (any non-ABORT with sloppy_sctp).
bool may_create_conn(uint8_t protocol, const L4Info& l4, bool sloppy_tcp, bool sloppy_sctp);

// --- Names (as /proc/net/ip_vs_conn shows them) --------------------------------------------
const char* tcp_state_name(uint8_t state);
const char* sctp_state_name(uint8_t state);
// What `-c` prints for `c`: template NONE/ASSURED, the protocol's state name, "NONE" for an
// IPPROTO_IP entry, "ERR!" for an unknown protocol or out-of-range state.
const char* state_name(const Conn& c);

}  // namespace uvs::conn
