// State machines: every row of the kernel's TCP tables (tcp_states[] and, for secure_tcp,
// tcp_states_dos[]: INPUT, OUTPUT and INPUT-ONLY, 4 events, 11 states) and of its
// sctp_states[], checked against hand transcriptions kept apart from state.cc; event
// selection, NOOUTPUT, timeouts, active/inactive accounting through the dest, template
// ASSURED, names.
#include "conn/state.h"

#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "conn_test_util.h"

namespace uvs::conn::test {
namespace {

// The kernel's tcp_states[] and, next, tcp_states_dos[] (ip_vs_proto_tcp.c), transcribed by
// hand as an independent copy to test against.
constexpr const char* kTcpSpec = R"(Current state:  NO  ES  SS  SR  FW  TW  CL  CW  LA  LI  SA
INPUT  syn      SR  ES  ES  SR  SR  SR  SR  SR  SR  SR  SR
INPUT  fin      CL  CW  SS  TW  TW  TW  CL  CW  LA  LI  TW
INPUT  ack      ES  ES  SS  ES  FW  TW  CL  CW  CL  LI  ES
INPUT  rst      CL  CL  CL  SR  CL  CL  CL  CL  LA  LI  SR
OUTPUT syn      SS  ES  SS  SR  SS  SS  SS  SS  SS  LI  SR
OUTPUT fin      TW  FW  SS  TW  FW  TW  CL  TW  LA  LI  TW
OUTPUT ack      ES  ES  SS  ES  FW  TW  CL  CW  LA  ES  ES
OUTPUT rst      CL  CL  SS  CL  CL  TW  CL  CL  CL  CL  CL
IN-ONLY syn     SR  ES  ES  SR  SR  SR  SR  SR  SR  SR  SR
IN-ONLY fin     CL  FW  SS  TW  FW  TW  CL  CW  LA  LI  TW
IN-ONLY ack     ES  ES  SS  ES  FW  TW  CL  CW  CL  LI  ES
IN-ONLY rst     CL  CL  CL  SR  CL  CL  CL  CL  LA  LI  CL
)";
constexpr const char* kTcpSecureSpec = R"(INPUT  syn      SR  ES  ES  SR  SR  SR  SR  SR  SR  SR  SA
INPUT  fin      CL  CW  SS  TW  TW  TW  CL  CW  LA  LI  SA
INPUT  ack      ES  ES  SS  SR  FW  TW  CL  CW  CL  LI  SA
INPUT  rst      CL  CL  CL  SR  CL  CL  CL  CL  LA  LI  CL
OUTPUT syn      SS  ES  SS  SA  SS  SS  SS  SS  SS  LI  SA
OUTPUT fin      TW  FW  SS  TW  FW  TW  CL  TW  LA  LI  TW
OUTPUT ack      ES  ES  SS  ES  FW  TW  CL  CW  LA  ES  ES
OUTPUT rst      CL  CL  SS  CL  CL  TW  CL  CL  CL  CL  CL
IN-ONLY syn     SA  ES  ES  SR  SA  SA  SA  SA  SA  SA  SA
IN-ONLY fin     CL  FW  SS  TW  FW  TW  CL  CW  LA  LI  TW
IN-ONLY ack     ES  ES  SS  ES  FW  TW  CL  CW  CL  LI  ES
IN-ONLY rst     CL  CL  CL  SR  CL  CL  CL  CL  LA  LI  CL
)";
// The kernel's sctp_states[] (ip_vs_proto_sctp.c), transcribed by hand likewise.
constexpr const char* kSctpSpec =
    R"(from:     NO  I1  IN  CS  CR  CW  CO  CE  ES  SS  SR  SA  RJ  CL
INPUT
 d        ES  I1  IN  CS  CR  CW  CO  CE  ES  SS  SR  SA  RJ  CL
 i        I1  IN  IN  CS  CR  CW  CO  CE  ES  SS  SR  SA  IN  IN
 i_a      CW  CW  CW  CS  CR  CO  CO  CE  ES  SS  SR  SA  RJ  CL
 c_e      CR  IN  IN  CR  CR  CW  CO  CE  ES  SS  SR  SA  RJ  CL
 c_a      ES  I1  IN  CS  CR  CW  CO  ES  ES  SS  SR  SA  RJ  CL
 s        SR  I1  IN  CS  CR  CW  CO  CE  SR  SS  SR  SA  RJ  CL
 s_a      CL  IN  IN  CS  CR  CW  CO  CE  ES  CL  SR  CL  RJ  CL
 s_c      CL  CL  CL  CS  CR  CW  CO  CE  ES  SS  SR  CL  RJ  CL
 err      CL  I1  IN  CS  CR  CW  CO  CL  ES  SS  SR  SA  RJ  CL
 ab       CL  CL  CL  CL  CL  RJ  CL  CL  CL  CL  CL  CL  CL  CL
OUTPUT
 d        ES  I1  IN  CS  CR  CW  CO  CE  ES  SS  SR  SA  RJ  CL
 i        CW  CW  CW  CW  CW  CW  CW  CW  ES  CW  CW  CW  CW  CW
 i_a      CS  CS  CS  CS  CR  CW  CO  CE  ES  SS  SR  SA  RJ  CL
 c_e      CE  CE  CE  CE  CE  CE  CE  CE  ES  SS  SR  SA  RJ  CL
 c_a      ES  ES  ES  ES  ES  ES  ES  ES  ES  SS  SR  SA  RJ  CL
 s        SS  SS  SS  SS  SS  SS  SS  SS  SS  SS  SR  SA  RJ  CL
 s_a      SA  SA  SA  SA  SA  CW  CO  CE  ES  SA  SA  SA  RJ  CL
 s_c      CL  I1  IN  CS  CR  CW  CO  CE  ES  SS  SR  SA  RJ  CL
 err      CL  CL  CL  CL  CL  CW  CO  CE  ES  SS  SR  SA  RJ  CL
 ab       CL  RJ  CL  CL  CL  CL  CL  CL  CL  CL  CL  CL  CL  CL
INPUT-ONLY
 d        ES  I1  IN  CS  CR  ES  CO  CE  ES  SS  SR  SA  RJ  CL
 i        I1  IN  IN  IN  IN  IN  CO  CE  ES  SS  SR  SA  IN  IN
 i_a      CE  CE  CE  CE  CE  CE  CO  CE  ES  SS  SR  SA  RJ  CL
 c_e      ES  ES  ES  ES  ES  ES  CO  CE  ES  SS  SR  SA  RJ  CL
 c_a      ES  I1  IN  ES  ES  CW  ES  ES  ES  SS  SR  SA  RJ  CL
 s        SR  I1  IN  CS  CR  CW  CO  CE  SR  SS  SR  SA  RJ  CL
 s_a      CL  IN  IN  CS  CR  CW  CO  CE  CL  CL  SR  CL  RJ  CL
 s_c      CL  CL  CL  CL  CL  CW  CO  CE  ES  SS  CL  CL  RJ  CL
 err      CL  I1  IN  CS  CR  CW  CO  CE  ES  SS  SR  SA  RJ  CL
 ab       CL  CL  CL  CL  CL  RJ  CL  CL  CL  CL  CL  CL  CL  CL
)";

const std::vector<std::string> kTcpAbbrev = {"NO", "ES", "SS", "SR", "FW", "TW",
                                             "CL", "CW", "LA", "LI", "SA"};
const std::vector<std::string> kSctpAbbrev = {"NO", "I1", "IN", "CS", "CR", "CW", "CO",
                                              "CE", "ES", "SS", "SR", "SA", "RJ", "CL"};

int index_of(const std::vector<std::string>& names, const std::string& s) {
  for (size_t i = 0; i < names.size(); ++i)
    if (names[i] == s) return static_cast<int>(i);
  ADD_FAILURE() << "unknown state " << s;
  return -1;
}

struct Row {
  std::string dir;    // INPUT, OUTPUT, IN-ONLY / INPUT-ONLY
  std::string event;  // syn fin ack rst / d i i_a ...
  std::vector<int> next;
};

std::vector<Row> parse_tcp(const char* text) {
  std::vector<Row> rows;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream ls(line);
    Row r;
    ls >> r.dir >> r.event;
    if (r.dir != "INPUT" && r.dir != "OUTPUT" && r.dir != "IN-ONLY") continue;
    std::string s;
    while (ls >> s) r.next.push_back(index_of(kTcpAbbrev, s));
    rows.push_back(r);
  }
  return rows;
}

std::vector<Row> parse_sctp(const char* text) {
  std::vector<Row> rows;
  std::istringstream in(text);
  std::string line, dir;
  while (std::getline(in, line)) {
    std::istringstream ls(line);
    std::string first;
    ls >> first;
    if (first == "INPUT" || first == "OUTPUT" || first == "INPUT-ONLY") {
      dir = first;
      continue;
    }
    if (dir.empty() || first.empty() || first == "from:") continue;
    Row r;
    r.dir = dir;
    r.event = first;
    std::string s;
    while (ls >> s) r.next.push_back(index_of(kSctpAbbrev, s));
    rows.push_back(r);
  }
  return rows;
}

uint8_t tcp_flags_of(const std::string& event) {
  if (event == "syn") return kTcpSyn;
  if (event == "fin") return kTcpFin;
  if (event == "ack") return kTcpAck;
  return kTcpRst;
}

// A connection as the tracker makes it: bound to `dest`, inactive, NOOUTPUT if `noout`.
Conn make_conn(uint8_t proto, uint8_t state, sched::Dest* dest, bool noout) {
  Conn c{};
  c.protocol = proto;
  c.state = state;
  c.control = kNoConn;
  c.flags = kConnInactive | (noout ? kConnNoOutput : 0);
  c.dest = dest;
  dest->bind_conn(sched::ConnKind::kInactive);
  return c;
}

void check_tcp_table(const char* spec, bool secure) {
  const std::vector<Row> rows = parse_tcp(spec);
  ASSERT_EQ(rows.size(), 12u);
  Dests dests;
  sched::Dest* d = dests.add(v4(kRip), 80);
  TimeoutTable timeouts;
  int checked = 0;
  for (const Row& row : rows) {
    ASSERT_EQ(row.next.size(), 11u);
    for (uint8_t state = 0; state < tcp::kStateCount; ++state) {
      // IN-ONLY is what INPUT means for a connection that has seen no reply (NOOUTPUT).
      const bool noout = row.dir == "IN-ONLY";
      const Dir dir = row.dir == "OUTPUT" ? Dir::kOutput : Dir::kInput;
      Conn c = make_conn(kProtoTcp, state, d, noout);
      if (tcp_state_active(state)) {  // start consistent with the state
        d->conn_became_active();
        c.flags &= ~kConnInactive;
      }
      const int expected = row.next[state];
      transition(c, nullptr, dir, tcp_flags(tcp_flags_of(row.event)), timeouts, secure);
      EXPECT_EQ(c.state, expected) << (secure ? "secure " : "") << row.dir << " " << row.event
                                   << " from " << kTcpAbbrev[state];
      EXPECT_EQ(c.timeout_ms, timeouts.tcp_ms(static_cast<uint8_t>(expected)));
      EXPECT_EQ(c.inactive(), !tcp_state_active(static_cast<uint8_t>(expected)));
      EXPECT_EQ(tcp_next_state(secure, noout ? Dir::kInputOnly : dir,
                               tcp_event(tcp_flags_of(row.event)), state),
                expected);
      // Undo the counters for the next row.
      d->unbind_conn(c.inactive() ? sched::ConnKind::kInactive : sched::ConnKind::kActive);
      ++checked;
    }
  }
  EXPECT_EQ(checked, 3 * 4 * 11);
  EXPECT_EQ(counts(d), (Counts{0, 0, 0}));
}

TEST(TcpState, EveryRowOfTheTable) { check_tcp_table(kTcpSpec, /*secure=*/false); }
TEST(TcpState, EveryRowOfTheSecureTable) { check_tcp_table(kTcpSecureSpec, /*secure=*/true); }

TEST(TcpState, EventPriorityRstSynFinAck) {
  EXPECT_EQ(tcp_event(kTcpRst | kTcpSyn | kTcpFin | kTcpAck), tcp::kEvRst);
  EXPECT_EQ(tcp_event(kTcpSyn | kTcpFin | kTcpAck), tcp::kEvSyn);
  EXPECT_EQ(tcp_event(kTcpSyn | kTcpAck), tcp::kEvSyn);
  EXPECT_EQ(tcp_event(kTcpFin | kTcpAck), tcp::kEvFin);
  EXPECT_EQ(tcp_event(kTcpAck), tcp::kEvAck);
  EXPECT_EQ(tcp_event(0x08 /* PSH */), -1);
  EXPECT_EQ(tcp_event(0), -1);
}

TEST(TcpState, NoFlagsMeansClose) {
  Dests dests;
  sched::Dest* d = dests.add(v4(kRip), 80);
  TimeoutTable timeouts;
  for (Dir dir : {Dir::kInput, Dir::kOutput}) {
    Conn c = make_conn(kProtoTcp, tcp::kEstablished, d, false);
    d->conn_became_active();
    c.flags &= ~kConnInactive;
    EXPECT_TRUE(transition(c, nullptr, dir, tcp_flags(0x08), timeouts, false));
    EXPECT_EQ(c.state, tcp::kClose);
    EXPECT_EQ(c.timeout_ms, 10 * kSec);
    EXPECT_TRUE(c.inactive());
    d->unbind_conn(sched::ConnKind::kInactive);
  }
}

TEST(TcpState, FirstReplyClearsNoOutput) {
  Dests dests;
  sched::Dest* d = dests.add(v4(kRip), 80, Fwd::kRoute);
  TimeoutTable timeouts;
  Conn c = make_conn(kProtoTcp, tcp::kEstablished, d, /*noout=*/true);
  // INPUT fin from ES: IN-ONLY says FW (INPUT would say CW).
  transition(c, nullptr, Dir::kInput, tcp_flags(kTcpFin | kTcpAck), timeouts, false);
  EXPECT_EQ(c.state, tcp::kFinWait);
  EXPECT_TRUE(c.flags & kConnNoOutput);
  transition(c, nullptr, Dir::kOutput, tcp_flags(kTcpAck), timeouts, false);
  EXPECT_FALSE(c.flags & kConnNoOutput);
  c.state = tcp::kEstablished;
  transition(c, nullptr, Dir::kInput, tcp_flags(kTcpFin), timeouts, false);
  EXPECT_EQ(c.state, tcp::kCloseWait);  // the INPUT table now
}

TEST(TcpState, DirectRoutingFlowAndCounters) {
  // With the kernel's default timeouts: SYN -> SYN_RECV (60 s) -> ACK -> ESTABLISHED (900 s)
  // -> FIN -> FIN_WAIT (120 s).
  Dests dests;
  sched::Dest* d = dests.add(v4(kRip), 80, Fwd::kRoute);
  TimeoutTable timeouts;
  Conn c = make_conn(kProtoTcp, tcp::kNone, d, true);
  EXPECT_EQ(counts(d), (Counts{0, 1, 0}));
  transition(c, nullptr, Dir::kInput, tcp_flags(kTcpSyn), timeouts, false);
  EXPECT_EQ(c.state, tcp::kSynRecv);
  EXPECT_EQ(c.timeout_ms, 60 * kSec);
  EXPECT_EQ(counts(d), (Counts{1, 0, 0}));  // SYN_RECV is active (kernel >= 5.x)
  transition(c, nullptr, Dir::kInput, tcp_flags(kTcpAck), timeouts, false);
  EXPECT_EQ(c.state, tcp::kEstablished);
  EXPECT_EQ(c.timeout_ms, 900 * kSec);
  EXPECT_EQ(counts(d), (Counts{1, 0, 0}));
  transition(c, nullptr, Dir::kInput, tcp_flags(kTcpFin | kTcpAck), timeouts, false);
  EXPECT_EQ(c.state, tcp::kFinWait);
  EXPECT_EQ(c.timeout_ms, 120 * kSec);
  EXPECT_EQ(counts(d), (Counts{0, 1, 0}));
  transition(c, nullptr, Dir::kInput, tcp_flags(kTcpAck), timeouts, false);
  EXPECT_EQ(c.state, tcp::kFinWait);
}

TEST(TcpState, NatFlow) {
  Dests dests;
  sched::Dest* d = dests.add(v4(kRip), 80, Fwd::kMasq);
  TimeoutTable timeouts;
  Conn c = make_conn(kProtoTcp, tcp::kNone, d, false);
  transition(c, nullptr, Dir::kInput, tcp_flags(kTcpSyn), timeouts, false);
  EXPECT_EQ(c.state, tcp::kSynRecv);
  transition(c, nullptr, Dir::kOutput, tcp_flags(kTcpSyn | kTcpAck), timeouts, false);
  EXPECT_EQ(c.state, tcp::kSynRecv);
  transition(c, nullptr, Dir::kInput, tcp_flags(kTcpAck), timeouts, false);
  EXPECT_EQ(c.state, tcp::kEstablished);
  transition(c, nullptr, Dir::kInput, tcp_flags(kTcpFin | kTcpAck), timeouts, false);
  EXPECT_EQ(c.state, tcp::kCloseWait);
  transition(c, nullptr, Dir::kOutput, tcp_flags(kTcpFin | kTcpAck), timeouts, false);
  EXPECT_EQ(c.state, tcp::kTimeWait);
  EXPECT_EQ(counts(d), (Counts{0, 1, 0}));
}

TEST(TcpState, SetTimeoutsChangeOnlyTheirStates) {
  Timeouts t;
  t.tcp = 3600;
  t.tcp_fin = 30;
  t.udp = 10;
  TimeoutTable table(t);
  EXPECT_EQ(table.tcp_ms(tcp::kEstablished), 3600 * kSec);
  EXPECT_EQ(table.tcp_ms(tcp::kFinWait), 30 * kSec);
  EXPECT_EQ(table.udp_ms(), 10 * kSec);
  EXPECT_EQ(table.tcp_ms(tcp::kTimeWait), 120 * kSec);
  EXPECT_EQ(table.tcp_ms(tcp::kSynRecv), 60 * kSec);
  EXPECT_EQ(table.sctp_ms(sctp::kEstablished), 900 * kSec);
  EXPECT_EQ(table.timeouts().tcp, 3600);
  EXPECT_EQ(table.timeouts().tcp_fin, 30);
  EXPECT_EQ(table.timeouts().udp, 10);
}

TEST(TcpState, DefaultTimeouts) {
  TimeoutTable t;
  const uint32_t expected[] = {2, 900, 120, 60, 120, 120, 10, 60, 30, 120, 120};
  for (uint8_t s = 0; s < tcp::kStateCount; ++s) EXPECT_EQ(t.tcp_ms(s), expected[s] * kSec);
  EXPECT_EQ(t.udp_ms(), 300 * kSec);
  const uint32_t sctp_expected[] = {2, 4, 61, 61, 61, 61, 61, 61, 900, 61, 61, 61, 4, 61};
  for (uint8_t s = 0; s < sctp::kStateCount; ++s) EXPECT_EQ(t.sctp_ms(s), sctp_expected[s] * kSec);
}

TEST(TcpState, EstablishedAssuresTheTemplate) {
  Dests dests;
  sched::Dest* d = dests.add(v4(kRip), 80);
  TimeoutTable timeouts;
  Conn tpl{};
  tpl.flags = kConnTemplate;
  tpl.state = kTemplateNone;
  Conn c = make_conn(kProtoTcp, tcp::kNone, d, false);
  transition(c, &tpl, Dir::kInput, tcp_flags(kTcpSyn), timeouts, false);
  EXPECT_EQ(tpl.state, kTemplateNone);
  transition(c, &tpl, Dir::kInput, tcp_flags(kTcpAck), timeouts, false);
  EXPECT_EQ(tpl.state, kTemplateAssured);
  EXPECT_STREQ(state_name(tpl), "ASSURED");
}

TEST(UdpState, OneStateRefreshedBothWaysReplyAssures) {
  Dests dests;
  sched::Dest* d = dests.add(v4(kRip), 53);
  Timeouts t;
  t.udp = 30;
  TimeoutTable timeouts(t);
  Conn tpl{};
  tpl.flags = kConnTemplate;
  Conn c = make_conn(kProtoUdp, udp::kNormal, d, false);
  c.timeout_ms = kInitialTimeoutMs;
  EXPECT_FALSE(transition(c, &tpl, Dir::kInput, L4Info{}, timeouts, false));
  EXPECT_EQ(c.timeout_ms, 30 * kSec);
  EXPECT_EQ(c.state, udp::kNormal);
  EXPECT_EQ(tpl.state, kTemplateNone);
  EXPECT_STREQ(state_name(c), "UDP");
  EXPECT_FALSE(transition(c, &tpl, Dir::kOutput, L4Info{}, timeouts, false));
  EXPECT_EQ(tpl.state, kTemplateAssured);
  EXPECT_EQ(counts(d), (Counts{0, 1, 0}));  // always inactive
}

int sctp_event_index(const std::string& e) {
  static const std::map<std::string, int> m = {
      {"d", sctp::kEvData},          {"i", sctp::kEvInit},
      {"i_a", sctp::kEvInitAck},     {"c_e", sctp::kEvCookieEcho},
      {"c_a", sctp::kEvCookieAck},   {"s", sctp::kEvShutdown},
      {"s_a", sctp::kEvShutdownAck}, {"s_c", sctp::kEvShutdownComplete},
      {"err", sctp::kEvError},       {"ab", sctp::kEvAbort}};
  return m.at(e);
}

// One chunk type per event, as a packet would carry it.
uint8_t chunk_of(int event) {
  switch (event) {
    case sctp::kEvData:
      return sctp::kChunkData;
    case sctp::kEvInit:
      return sctp::kChunkInit;
    case sctp::kEvInitAck:
      return sctp::kChunkInitAck;
    case sctp::kEvCookieEcho:
      return sctp::kChunkCookieEcho;
    case sctp::kEvCookieAck:
      return sctp::kChunkCookieAck;
    case sctp::kEvShutdown:
      return sctp::kChunkShutdown;
    case sctp::kEvShutdownAck:
      return sctp::kChunkShutdownAck;
    case sctp::kEvShutdownComplete:
      return sctp::kChunkShutdownComplete;
    case sctp::kEvError:
      return sctp::kChunkError;
    default:
      return sctp::kChunkAbort;
  }
}

TEST(SctpState, EveryRowOfAppendixS) {
  const std::vector<Row> rows = parse_sctp(kSctpSpec);
  ASSERT_EQ(rows.size(), 30u);
  Dests dests;
  sched::Dest* d = dests.add(v4(kRip), 80);
  TimeoutTable timeouts;
  int checked = 0;
  for (const Row& row : rows) {
    ASSERT_EQ(row.next.size(), 14u);
    const int event = sctp_event_index(row.event);
    for (uint8_t state = 0; state < sctp::kStateCount; ++state) {
      const bool noout = row.dir == "INPUT-ONLY";
      const Dir dir = row.dir == "OUTPUT" ? Dir::kOutput : Dir::kInput;
      Conn c = make_conn(kProtoSctp, state, d, noout);
      if (state == sctp::kEstablished) {
        d->conn_became_active();
        c.flags &= ~kConnInactive;
      }
      const int expected = row.next[state];
      transition(c, nullptr, dir, sctp_chunk(chunk_of(event)), timeouts, false);
      EXPECT_EQ(c.state, expected) << row.dir << " " << row.event << " from " << kSctpAbbrev[state];
      EXPECT_EQ(c.timeout_ms, timeouts.sctp_ms(static_cast<uint8_t>(expected)));
      EXPECT_EQ(c.inactive(), expected != sctp::kEstablished);
      d->unbind_conn(c.inactive() ? sched::ConnKind::kInactive : sched::ConnKind::kActive);
      ++checked;
    }
  }
  EXPECT_EQ(checked, 3 * 10 * 14);
  EXPECT_EQ(counts(d), (Counts{0, 0, 0}));
}

TEST(SctpState, EventFromChunks) {
  EXPECT_EQ(sctp_event(sctp::kChunkData, false, 0), sctp::kEvData);
  EXPECT_EQ(sctp_event(3 /* SACK */, false, 0), sctp::kEvData);
  EXPECT_EQ(sctp_event(4 /* HEARTBEAT */, false, 0), sctp::kEvData);
  EXPECT_EQ(sctp_event(5 /* HEARTBEAT ACK */, false, 0), sctp::kEvData);
  EXPECT_EQ(sctp_event(12 /* ECNE */, false, 0), sctp::kEvData);
  EXPECT_EQ(sctp_event(13 /* CWR */, false, 0), sctp::kEvData);
  EXPECT_EQ(sctp_event(200 /* unknown */, false, 0), sctp::kEvData);
  EXPECT_EQ(sctp_event(sctp::kChunkInit, false, 0), sctp::kEvInit);
  EXPECT_EQ(sctp_event(sctp::kChunkShutdownComplete, false, 0), sctp::kEvShutdownComplete);
  // COOKIE_ECHO / COOKIE_ACK followed by ABORT is ABORT; others keep their first chunk.
  EXPECT_EQ(sctp_event(sctp::kChunkCookieEcho, true, sctp::kChunkAbort), sctp::kEvAbort);
  EXPECT_EQ(sctp_event(sctp::kChunkCookieAck, true, sctp::kChunkAbort), sctp::kEvAbort);
  EXPECT_EQ(sctp_event(sctp::kChunkCookieEcho, true, sctp::kChunkData), sctp::kEvCookieEcho);
  EXPECT_EQ(sctp_event(sctp::kChunkCookieEcho, false, sctp::kChunkAbort), sctp::kEvCookieEcho);
  EXPECT_EQ(sctp_event(sctp::kChunkShutdown, true, sctp::kChunkAbort), sctp::kEvShutdown);
}

TEST(SctpState, HandshakeThroughTheTables) {
  Dests dests;
  sched::Dest* d = dests.add(v4(kRip), 80, Fwd::kMasq);
  TimeoutTable timeouts;
  Conn tpl{};
  tpl.flags = kConnTemplate;
  Conn c = make_conn(kProtoSctp, sctp::kNone, d, false);
  transition(c, &tpl, Dir::kInput, sctp_chunk(sctp::kChunkInit), timeouts, false);
  EXPECT_EQ(c.state, sctp::kInit1);
  transition(c, &tpl, Dir::kOutput, sctp_chunk(sctp::kChunkInitAck), timeouts, false);
  EXPECT_EQ(c.state, sctp::kCookieSent);
  transition(c, &tpl, Dir::kInput, sctp_chunk(sctp::kChunkCookieEcho), timeouts, false);
  EXPECT_EQ(c.state, sctp::kCookieReplied);
  EXPECT_EQ(tpl.state, kTemplateNone);
  transition(c, &tpl, Dir::kOutput, sctp_chunk(sctp::kChunkCookieAck), timeouts, false);
  EXPECT_EQ(c.state, sctp::kEstablished);
  EXPECT_EQ(tpl.state, kTemplateAssured);
  EXPECT_EQ(counts(d), (Counts{1, 0, 0}));
  L4Info abort_after_echo = sctp_chunk(sctp::kChunkCookieEcho);
  abort_after_echo.has_sctp_chunk2 = true;
  abort_after_echo.sctp_chunk2 = sctp::kChunkAbort;
  transition(c, &tpl, Dir::kInput, abort_after_echo, timeouts, false);
  EXPECT_EQ(c.state, sctp::kClosed);
  EXPECT_EQ(counts(d), (Counts{0, 1, 0}));
}

TEST(StateNames, AsMinusCPrintsThem) {
  Conn c{};
  c.protocol = kProtoTcp;
  const char* tcp_names[] = {"NONE",     "ESTABLISHED", "SYN_SENT", "SYN_RECV",
                             "FIN_WAIT", "TIME_WAIT",   "CLOSE",    "CLOSE_WAIT",
                             "LAST_ACK", "LISTEN",      "SYNACK"};
  for (uint8_t s = 0; s < tcp::kStateCount; ++s) {
    c.state = s;
    EXPECT_STREQ(state_name(c), tcp_names[s]);
  }
  c.state = tcp::kStateCount;
  EXPECT_STREQ(state_name(c), "ERR!");
  c.protocol = kProtoSctp;
  const char* sctp_names[] = {"NONE",       "INIT1",      "INIT",     "C-SENT",      "C-REPLIED",
                              "C-WAIT",     "COOKIE",     "C-ECHOED", "ESTABLISHED", "S-SENT",
                              "S-RECEIVED", "S-ACK-SENT", "REJECTED", "CLOSED"};
  for (uint8_t s = 0; s < sctp::kStateCount; ++s) {
    c.state = s;
    EXPECT_STREQ(state_name(c), sctp_names[s]);
  }
  c.protocol = kProtoUdp;
  c.state = 0;
  EXPECT_STREQ(state_name(c), "UDP");
  c.protocol = 0;
  EXPECT_STREQ(state_name(c), "NONE");
  c.protocol = 50;  // ESP
  EXPECT_STREQ(state_name(c), "ERR!");
  c.flags = kConnTemplate;
  c.protocol = 0;
  c.state = kTemplateNone;
  EXPECT_STREQ(state_name(c), "NONE");
  c.state = kTemplateAssured;
  EXPECT_STREQ(state_name(c), "ASSURED");
}

TEST(NewConnPredicates, WhatStartsAndWhatReuses) {
  EXPECT_TRUE(is_new_conn_packet(kProtoTcp, tcp_flags(kTcpSyn)));
  EXPECT_TRUE(is_new_conn_packet(kProtoTcp, tcp_flags(kTcpSyn | kTcpAck)));
  EXPECT_FALSE(is_new_conn_packet(kProtoTcp, tcp_flags(kTcpAck)));
  EXPECT_TRUE(is_new_conn_packet(kProtoSctp, sctp_chunk(sctp::kChunkInit)));
  EXPECT_FALSE(is_new_conn_packet(kProtoSctp, sctp_chunk(sctp::kChunkData)));
  EXPECT_FALSE(is_new_conn_packet(kProtoUdp, L4Info{}));

  EXPECT_TRUE(may_create_conn(kProtoTcp, tcp_flags(kTcpSyn), false, false));
  EXPECT_FALSE(may_create_conn(kProtoTcp, tcp_flags(kTcpSyn | kTcpRst), false, false));
  EXPECT_FALSE(may_create_conn(kProtoTcp, tcp_flags(kTcpAck), false, false));
  EXPECT_TRUE(may_create_conn(kProtoTcp, tcp_flags(kTcpAck), true, false));
  EXPECT_FALSE(may_create_conn(kProtoTcp, tcp_flags(kTcpRst), true, false));
  EXPECT_TRUE(may_create_conn(kProtoUdp, L4Info{}, false, false));
  EXPECT_TRUE(may_create_conn(kProtoSctp, sctp_chunk(sctp::kChunkInit), false, false));
  EXPECT_FALSE(may_create_conn(kProtoSctp, sctp_chunk(sctp::kChunkData), false, false));
  EXPECT_TRUE(may_create_conn(kProtoSctp, sctp_chunk(sctp::kChunkData), false, true));
  EXPECT_FALSE(may_create_conn(kProtoSctp, sctp_chunk(sctp::kChunkAbort), false, true));
  EXPECT_FALSE(may_create_conn(1 /* ICMP */, L4Info{}, true, true));
}

}  // namespace
}  // namespace uvs::conn::test
