#include "conn/state.h"

#include "sched/dest.h"

namespace uvs::conn {

namespace {

namespace tcp_table {
enum : uint8_t { NO, ES, SS, SR, FW, TW, CL, CW, LA, LI, SA };
static_assert(int{SA} == int{tcp::kSynAck});

// [secure_tcp][direction][event][current state] -> next state: the kernel's tcp_states[] and
// tcp_states_dos[] (ip_vs_proto_tcp.c).
// clang-format off
constexpr uint8_t kNext[2][3][tcp::kEventCount][tcp::kStateCount] = {
    {  // normal
      {  // INPUT
          {SR, ES, ES, SR, SR, SR, SR, SR, SR, SR, SR},  // syn
          {CL, CW, SS, TW, TW, TW, CL, CW, LA, LI, TW},  // fin
          {ES, ES, SS, ES, FW, TW, CL, CW, CL, LI, ES},  // ack
          {CL, CL, CL, SR, CL, CL, CL, CL, LA, LI, SR},  // rst
      },
      {  // OUTPUT
          {SS, ES, SS, SR, SS, SS, SS, SS, SS, LI, SR},  // syn
          {TW, FW, SS, TW, FW, TW, CL, TW, LA, LI, TW},  // fin
          {ES, ES, SS, ES, FW, TW, CL, CW, LA, ES, ES},  // ack
          {CL, CL, SS, CL, CL, TW, CL, CL, CL, CL, CL},  // rst
      },
      {  // IN-ONLY
          {SR, ES, ES, SR, SR, SR, SR, SR, SR, SR, SR},  // syn
          {CL, FW, SS, TW, FW, TW, CL, CW, LA, LI, TW},  // fin
          {ES, ES, SS, ES, FW, TW, CL, CW, CL, LI, ES},  // ack
          {CL, CL, CL, SR, CL, CL, CL, CL, LA, LI, CL},  // rst
      },
    },
    {  // secure_tcp
      {  // INPUT
          {SR, ES, ES, SR, SR, SR, SR, SR, SR, SR, SA},  // syn
          {CL, CW, SS, TW, TW, TW, CL, CW, LA, LI, SA},  // fin
          {ES, ES, SS, SR, FW, TW, CL, CW, CL, LI, SA},  // ack
          {CL, CL, CL, SR, CL, CL, CL, CL, LA, LI, CL},  // rst
      },
      {  // OUTPUT
          {SS, ES, SS, SA, SS, SS, SS, SS, SS, LI, SA},  // syn
          {TW, FW, SS, TW, FW, TW, CL, TW, LA, LI, TW},  // fin
          {ES, ES, SS, ES, FW, TW, CL, CW, LA, ES, ES},  // ack
          {CL, CL, SS, CL, CL, TW, CL, CL, CL, CL, CL},  // rst
      },
      {  // IN-ONLY
          {SA, ES, ES, SR, SA, SA, SA, SA, SA, SA, SA},  // syn
          {CL, FW, SS, TW, FW, TW, CL, CW, LA, LI, TW},  // fin
          {ES, ES, SS, ES, FW, TW, CL, CW, CL, LI, ES},  // ack
          {CL, CL, CL, SR, CL, CL, CL, CL, LA, LI, CL},  // rst
      },
    },
};
// clang-format on
}  // namespace tcp_table

namespace sctp_table {
enum : uint8_t { NO, I1, IN, CS, CR, CW, CO, CE, ES, SS, SR, SA, RJ, CL };
static_assert(int{CL} == int{sctp::kClosed});

// [direction][event][current state] -> next state: the kernel's sctp_states[]
// (ip_vs_proto_sctp.c).
// clang-format off
constexpr uint8_t kNext[3][sctp::kEventCount][sctp::kStateCount] = {
    {  // INPUT
        {ES, I1, IN, CS, CR, CW, CO, CE, ES, SS, SR, SA, RJ, CL},  // d
        {I1, IN, IN, CS, CR, CW, CO, CE, ES, SS, SR, SA, IN, IN},  // i
        {CW, CW, CW, CS, CR, CO, CO, CE, ES, SS, SR, SA, RJ, CL},  // i_a
        {CR, IN, IN, CR, CR, CW, CO, CE, ES, SS, SR, SA, RJ, CL},  // c_e
        {ES, I1, IN, CS, CR, CW, CO, ES, ES, SS, SR, SA, RJ, CL},  // c_a
        {SR, I1, IN, CS, CR, CW, CO, CE, SR, SS, SR, SA, RJ, CL},  // s
        {CL, IN, IN, CS, CR, CW, CO, CE, ES, CL, SR, CL, RJ, CL},  // s_a
        {CL, CL, CL, CS, CR, CW, CO, CE, ES, SS, SR, CL, RJ, CL},  // s_c
        {CL, I1, IN, CS, CR, CW, CO, CL, ES, SS, SR, SA, RJ, CL},  // err
        {CL, CL, CL, CL, CL, RJ, CL, CL, CL, CL, CL, CL, CL, CL},  // ab
    },
    {  // OUTPUT
        {ES, I1, IN, CS, CR, CW, CO, CE, ES, SS, SR, SA, RJ, CL},  // d
        {CW, CW, CW, CW, CW, CW, CW, CW, ES, CW, CW, CW, CW, CW},  // i
        {CS, CS, CS, CS, CR, CW, CO, CE, ES, SS, SR, SA, RJ, CL},  // i_a
        {CE, CE, CE, CE, CE, CE, CE, CE, ES, SS, SR, SA, RJ, CL},  // c_e
        {ES, ES, ES, ES, ES, ES, ES, ES, ES, SS, SR, SA, RJ, CL},  // c_a
        {SS, SS, SS, SS, SS, SS, SS, SS, SS, SS, SR, SA, RJ, CL},  // s
        {SA, SA, SA, SA, SA, CW, CO, CE, ES, SA, SA, SA, RJ, CL},  // s_a
        {CL, I1, IN, CS, CR, CW, CO, CE, ES, SS, SR, SA, RJ, CL},  // s_c
        {CL, CL, CL, CL, CL, CW, CO, CE, ES, SS, SR, SA, RJ, CL},  // err
        {CL, RJ, CL, CL, CL, CL, CL, CL, CL, CL, CL, CL, CL, CL},  // ab
    },
    {  // INPUT-ONLY
        {ES, I1, IN, CS, CR, ES, CO, CE, ES, SS, SR, SA, RJ, CL},  // d
        {I1, IN, IN, IN, IN, IN, CO, CE, ES, SS, SR, SA, IN, IN},  // i
        {CE, CE, CE, CE, CE, CE, CO, CE, ES, SS, SR, SA, RJ, CL},  // i_a
        {ES, ES, ES, ES, ES, ES, CO, CE, ES, SS, SR, SA, RJ, CL},  // c_e
        {ES, I1, IN, ES, ES, CW, ES, ES, ES, SS, SR, SA, RJ, CL},  // c_a
        {SR, I1, IN, CS, CR, CW, CO, CE, SR, SS, SR, SA, RJ, CL},  // s
        {CL, IN, IN, CS, CR, CW, CO, CE, CL, CL, SR, CL, RJ, CL},  // s_a
        {CL, CL, CL, CL, CL, CW, CO, CE, ES, SS, CL, CL, RJ, CL},  // s_c
        {CL, I1, IN, CS, CR, CW, CO, CE, ES, SS, SR, SA, RJ, CL},  // err
        {CL, CL, CL, CL, CL, RJ, CL, CL, CL, CL, CL, CL, CL, CL},  // ab
    },
};
// clang-format on

// Event of each chunk type below 15; everything else is DATA-like.
constexpr uint8_t kEventOfChunk[15] = {
    sctp::kEvData,              // 0 DATA
    sctp::kEvInit,              // 1 INIT
    sctp::kEvInitAck,           // 2 INIT ACK
    sctp::kEvData,              // 3 SACK
    sctp::kEvData,              // 4 HEARTBEAT
    sctp::kEvData,              // 5 HEARTBEAT ACK
    sctp::kEvAbort,             // 6 ABORT
    sctp::kEvShutdown,          // 7 SHUTDOWN
    sctp::kEvShutdownAck,       // 8 SHUTDOWN ACK
    sctp::kEvError,             // 9 ERROR
    sctp::kEvCookieEcho,        // 10 COOKIE ECHO
    sctp::kEvCookieAck,         // 11 COOKIE ACK
    sctp::kEvData,              // 12 ECNE
    sctp::kEvData,              // 13 CWR
    sctp::kEvShutdownComplete,  // 14 SHUTDOWN COMPLETE
};
}  // namespace sctp_table

constexpr uint32_t kSec = 1000;

constexpr const char* kTcpNames[tcp::kStateCount] = {
    "NONE",  "ESTABLISHED", "SYN_SENT", "SYN_RECV", "FIN_WAIT", "TIME_WAIT",
    "CLOSE", "CLOSE_WAIT",  "LAST_ACK", "LISTEN",   "SYNACK",
};
constexpr const char* kSctpNames[sctp::kStateCount] = {
    "NONE",     "INIT1",       "INIT",   "C-SENT",     "C-REPLIED",  "C-WAIT",   "COOKIE",
    "C-ECHOED", "ESTABLISHED", "S-SENT", "S-RECEIVED", "S-ACK-SENT", "REJECTED", "CLOSED",
};

// ip_vs_control_assure_ct(): the template a connection is controlled by has seen it through.
void assure_template(Conn* control) {
  if (control != nullptr && control->is_template()) control->state = kTemplateAssured;
}

// The dest's counters follow the connection between active and inactive; nothing else (the
// thresholds are re-evaluated only on bind and unbind, as in the kernel).
void account(Conn& c, bool now_active) {
  if (c.dest == nullptr) return;
  if (!c.inactive() && !now_active) {
    c.dest->conn_became_inactive();
    c.flags |= kConnInactive;
  } else if (c.inactive() && now_active) {
    c.dest->conn_became_active();
    c.flags &= ~kConnInactive;
  }
}

// NOOUTPUT: a reply clears it; an input packet of a NOOUTPUT connection uses INPUT-ONLY.
Dir effective_dir(Conn& c, Dir dir) {
  if (!(c.flags & kConnNoOutput)) return dir;
  if (dir == Dir::kOutput) {
    c.flags &= ~kConnNoOutput;
    return dir;
  }
  return Dir::kInputOnly;
}

bool tcp_transition(Conn& c, Conn* control, Dir dir, uint8_t tcp_flags,
                    const TimeoutTable& timeouts, bool secure_tcp) {
  dir = effective_dir(c, dir);
  const uint8_t old_state = c.state < tcp::kStateCount ? c.state : uint8_t{tcp::kClose};
  const uint8_t next = tcp_next_state(secure_tcp, dir, tcp_event(tcp_flags), old_state);
  const bool changed = next != c.state;
  if (changed) {
    account(c, tcp_state_active(next));
    if (next == tcp::kEstablished) assure_template(control);
  }
  c.state = next;
  c.timeout_ms = timeouts.tcp_ms(next);
  return changed;
}

bool sctp_transition(Conn& c, Conn* control, Dir dir, const L4Info& l4,
                     const TimeoutTable& timeouts) {
  const int event = sctp_event(l4.sctp_chunk, l4.has_sctp_chunk2, l4.sctp_chunk2);
  dir = effective_dir(c, dir);
  const uint8_t old_state = c.state < sctp::kStateCount ? c.state : uint8_t{sctp::kClosed};
  const uint8_t next = sctp_next_state(dir, event, old_state);
  const bool changed = next != c.state;
  if (changed) {
    account(c, next == sctp::kEstablished);
    if (next == sctp::kEstablished) assure_template(control);
  }
  c.state = next;
  c.timeout_ms = timeouts.sctp_ms(next);
  return changed;
}

}  // namespace

int tcp_event(uint8_t tcp_flags) {
  if (tcp_flags & kTcpRst) return tcp::kEvRst;
  if (tcp_flags & kTcpSyn) return tcp::kEvSyn;
  if (tcp_flags & kTcpFin) return tcp::kEvFin;
  if (tcp_flags & kTcpAck) return tcp::kEvAck;
  return -1;
}

uint8_t tcp_next_state(bool secure_tcp, Dir dir, int event, uint8_t state) {
  if (event < 0) return tcp::kClose;
  return tcp_table::kNext[secure_tcp ? 1 : 0][static_cast<int>(dir)][event][state];
}

bool tcp_state_active(uint8_t state) {
  return state == tcp::kEstablished || state == tcp::kSynSent || state == tcp::kSynRecv ||
         state == tcp::kSynAck;
}

int sctp_event(uint8_t chunk, bool has_chunk2, uint8_t chunk2) {
  // Control chunks may be bundled before an ABORT; after the handshake's cookie chunks that
  // ABORT is what the packet means.
  if ((chunk == sctp::kChunkCookieEcho || chunk == sctp::kChunkCookieAck) && has_chunk2 &&
      chunk2 == sctp::kChunkAbort)
    return sctp::kEvAbort;
  return chunk < 15 ? int{sctp_table::kEventOfChunk[chunk]} : int{sctp::kEvData};
}

uint8_t sctp_next_state(Dir dir, int event, uint8_t state) {
  return sctp_table::kNext[static_cast<int>(dir)][event][state];
}

TimeoutTable::TimeoutTable(const Timeouts& timeouts) {
  tcp_[tcp::kNone] = 2 * kSec;
  tcp_[tcp::kEstablished] = 900 * kSec;
  tcp_[tcp::kSynSent] = 120 * kSec;
  tcp_[tcp::kSynRecv] = 60 * kSec;
  tcp_[tcp::kFinWait] = 120 * kSec;
  tcp_[tcp::kTimeWait] = 120 * kSec;
  tcp_[tcp::kClose] = 10 * kSec;
  tcp_[tcp::kCloseWait] = 60 * kSec;
  tcp_[tcp::kLastAck] = 30 * kSec;
  tcp_[tcp::kListen] = 120 * kSec;
  tcp_[tcp::kSynAck] = 120 * kSec;
  udp_ = 300 * kSec;
  // 61 s is the kernel's 60 s plus one "max RTO".
  for (uint32_t& t : sctp_) t = 61 * kSec;
  sctp_[sctp::kNone] = 2 * kSec;
  sctp_[sctp::kInit1] = 4 * kSec;
  sctp_[sctp::kEstablished] = 900 * kSec;
  sctp_[sctp::kRejected] = 4 * kSec;
  apply(timeouts);
}

void TimeoutTable::apply(const Timeouts& timeouts) {
  tcp_[tcp::kEstablished] = static_cast<uint32_t>(timeouts.tcp) * kSec;
  tcp_[tcp::kFinWait] = static_cast<uint32_t>(timeouts.tcp_fin) * kSec;
  udp_ = static_cast<uint32_t>(timeouts.udp) * kSec;
}

Timeouts TimeoutTable::timeouts() const {
  Timeouts t;
  t.tcp = static_cast<int32_t>(tcp_[tcp::kEstablished] / kSec);
  t.tcp_fin = static_cast<int32_t>(tcp_[tcp::kFinWait] / kSec);
  t.udp = static_cast<int32_t>(udp_ / kSec);
  return t;
}

bool transition(Conn& c, Conn* control, Dir dir, const L4Info& l4, const TimeoutTable& timeouts,
                bool secure_tcp) {
  switch (c.protocol) {
    case kProtoTcp:
      return tcp_transition(c, control, dir, l4.tcp_flags, timeouts, secure_tcp);
    case kProtoUdp:
      // One state, refreshed both ways; a reply proves the pinned server answers.
      c.timeout_ms = timeouts.udp_ms();
      if (dir == Dir::kOutput) assure_template(control);
      return false;
    case kProtoSctp:
      return sctp_transition(c, control, dir, l4, timeouts);
    default:
      return false;
  }
}

void set_tcp_state(Conn& c, Conn* control, uint8_t state, const TimeoutTable& timeouts) {
  if (state != c.state) {
    account(c, tcp_state_active(state));
    if (state == tcp::kEstablished) assure_template(control);
  }
  c.state = state;
  c.timeout_ms = timeouts.tcp_ms(state);
}

bool is_new_conn_packet(uint8_t protocol, const L4Info& l4) {
  if (protocol == kProtoTcp) return l4.tcp_flags & kTcpSyn;
  if (protocol == kProtoSctp) return l4.sctp_chunk == sctp::kChunkInit;
  return false;
}

bool may_create_conn(uint8_t protocol, const L4Info& l4, bool sloppy_tcp, bool sloppy_sctp) {
  switch (protocol) {
    case kProtoTcp:
      if (l4.tcp_flags & kTcpRst) return false;
      return sloppy_tcp || (l4.tcp_flags & kTcpSyn);
    case kProtoUdp:
      return true;
    case kProtoSctp:
      if (sloppy_sctp) return l4.sctp_chunk != sctp::kChunkAbort;
      return l4.sctp_chunk == sctp::kChunkInit;
    default:
      return false;
  }
}

const char* tcp_state_name(uint8_t state) {
  return state < tcp::kStateCount ? kTcpNames[state] : "ERR!";
}

const char* sctp_state_name(uint8_t state) {
  return state < sctp::kStateCount ? kSctpNames[state] : "ERR!";
}

const char* state_name(const Conn& c) {
  if (c.is_template()) {
    if (c.state == kTemplateNone) return "NONE";
    return c.state == kTemplateAssured ? "ASSURED" : "ERR!";
  }
  switch (c.protocol) {
    case kProtoTcp:
      return tcp_state_name(c.state);
    case kProtoUdp:
      return c.state == udp::kNormal ? "UDP" : "ERR!";
    case kProtoSctp:
      return sctp_state_name(c.state);
    case 0:  // IPPROTO_IP
      return "NONE";
    default:
      return "ERR!";
  }
}

}  // namespace uvs::conn
