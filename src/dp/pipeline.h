// One worker's run-to-completion loop: a burst in, each frame parsed, matched to its
// connection (or scheduled), moved through its protocol state machine, and handed to the
// transmitter bound to the connection (xmit/transmitter.h), whose result is queued for
// transmission. Pure of I/O except through PacketIo.
//
// Per burst: parse every frame and prefetch its connection bucket, then handle the frames in
// order (DPDK l3fwd / VPP style), then hand each port its transmissions in one call.
//
// Reading order: process() -> handle() -> schedule() for a new flow -> forward_in() /
// forward_out() -> transmit() -> the connection's transmitter -> emit(). Every handle_* and
// forward_* function consumes its frame; see "Frame ownership" below.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <unordered_map>
#include <vector>

#include "conn/listing.h"
#include "conn/syncookie.h"
#include "conn/local_addr.h"
#include "conn/tracker.h"
#include "dp/epoch.h"
#include "dp/frag_queue.h"
#include "dp/handoff.h"
#include "dp/offload.h"
#include "dp/router.h"
#include "dp/snapshot.h"
#include "dp/sync_port.h"
#include "io/packet_io.h"
#include "pkt/parse.h"
#include "util/hash.h"
#include "xmit/icmp.h"
#include "xmit/reset.h"
#include "xmit/transmitter.h"

namespace uvs::dp {

// Why the pipeline dropped (or passed) a frame; one counter each.
enum class Drop : uint8_t {
  kMalformed,      // pkt::Reason has the detail
  kNotOurs,        // no connection, no service, for this host: the kernel's, freed here
  kNoConnection,   // a non-SYN for a service without a connection
  kNoDestination,  // the scheduler found none (ICMP unreachable sent)
  kDestGone,       // connection to a deleted real server, expire_nodest_conn off
  kTableFull,
  kDefence,        // drop_packet refused a new connection
  kTtlExceeded,    // ICMP time exceeded sent
  kTooBig,         // ICMP fragmentation needed sent
  kNoRoute,
  kNeighbourPending,  // held too long waiting for the neighbour
  kNoRoom,         // no headroom/tailroom for the transform
  kFragmentOrphan,  // a non-first fragment whose first fragment was not seen
  kNoLocalPort,    // FULLNAT local address pool exhausted
  kUnsupported,    // a case the data plane does not handle (counted, never crashes)
  kTxFull,
  kFragmentBad,         // overlapping, duplicate or beyond the datagram's end (RFC 5722)
  kFragmentIncomplete,  // its datagram was not complete in time, or made room for others
  kSynproxyBadCookie,   // an ACK to a SYN-proxy service without a valid cookie of ours
  kSynproxyDupAck,      // a client segment not kept while the real server has not answered
  kSynproxyBadReply,    // the real server's answer to the proxy's SYN did not fit it
  kCount,
};
const char* drop_name(Drop d);

struct PipelineStats {
  uint64_t rx = 0;
  uint64_t tx = 0;
  uint64_t passed = 0;  // not IP / not ours: left to the kernel path
  uint64_t forwarded = 0;  // no connection, no service: routed on untranslated
  uint64_t icmp_sent = 0;
  uint64_t held = 0;  // waited for a neighbour
  uint64_t handed_off = 0;  // sent to the worker owning the flow
  uint64_t taken_over = 0;  // received from another worker
  // The SYN proxy (services with -j enable).
  uint64_t synproxy_synacks = 0;      // cookie SYN-ACKs sent for client SYNs: no connection
  uint64_t synproxy_opened = 0;       // client ACKs with valid cookies: connections made
  uint64_t synproxy_syn_retries = 0;  // SYNs sent to a real server again
  uint64_t synproxy_established = 0;  // real servers' SYN-ACKs consumed
  uint64_t synproxy_gave_up = 0;      // real servers that never answered: client reset
  std::array<uint64_t, static_cast<size_t>(Drop::kCount)> drops{};
  std::array<uint64_t, static_cast<size_t>(pkt::Reason::kCount)> malformed{};

  uint64_t drop(Drop d) const { return drops[static_cast<size_t>(d)]; }
};

struct PipelineOptions {
  unsigned worker = 0;
  unsigned workers = 1;
  conn::TrackerOptions tracker;
  // How long a packet may wait for its neighbour: the kernel queues for up to its 3 s of
  // solicitations; a second covers a first ARP or ND exchange on a loaded host.
  uint32_t hold_ms = 1000;
  // Rings to the other workers (null with one worker): packets of flows another worker owns
  // cross over to it.
  Handoff* handoff = nullptr;
  // The XDP fast path (dp/offload.h); none by default.
  OffloadOptions offload;
  // Connection sync (dp/sync_port.h): this worker's outbox and inbox; none by default.
  SyncPort* sync = nullptr;
  // The SYN cookies' secret: drawn from getrandom() unless given (tests).
  std::optional<conn::SynCookies::Secret> synproxy_secret;
};

// The worker that owns a flow, by its client's address and port (both directions of a
// connection that is not FULLNAT hash to it); the sync backup routes records with it.
inline unsigned client_owner(const InetAddr& client, uint16_t port, unsigned workers) {
  return util::mix32(client.fold() ^ (uint32_t{port} << 16 | port)) % workers;
}

class Pipeline {
 public:
  static constexpr uint32_t kBurst = 64;

  Pipeline(const PipelineOptions& options, EpochPublisher<Snapshot>& snapshots, Router& router,
           io::PacketIo& io, uint64_t now_ms);
  ~Pipeline();
  Pipeline(const Pipeline&) = delete;
  Pipeline& operator=(const Pipeline&) = delete;

  // Processes frames received from the io (at most kBurst): each is transmitted, held or
  // freed before this returns (held ones later).
  void process(std::span<io::Frame> burst, uint64_t now_ms) { process(burst, now_ms, false); }
  // One turn of the worker loop: receive, process, retry held frames, expire connections,
  // serve a pending listing. Returns the frames received.
  uint32_t poll(uint64_t now_ms);

  const PipelineStats& stats() const { return stats_; }
  conn::Tracker& tracker() { return tracker_; }
  const Offload& offload() const { return offload_; }
  // Control plane: asks for a connection listing, served by the worker between bursts.
  conn::ConnListing& listing() { return listing_; }

 private:
  struct Tx {
    std::array<io::Frame, kBurst * 2> frames;
    uint32_t count = 0;
  };
  struct Held {
    io::Frame frame;
    uint64_t deadline_ms;
  };
  struct FragKey {
    InetAddr saddr, daddr;
    uint32_t id = 0;
    uint8_t proto = 0;
  };
  struct FragSlot {
    FragKey key;
    uint32_t conn = conn::kNoConn;
    bool to_real = true;  // direction of the first fragment
    bool untranslated = false;  // no connection: forward_untranslated() (conn is kNoConn)
  };

  // What a stage did with the frame (Katran's FURTHER_PROCESSING): kContinue, the caller still
  // owns it; kConsumed, it was queued, held, passed or dropped and must not be touched again.
  enum class Step : uint8_t { kContinue, kConsumed };

  void process(std::span<io::Frame> burst, uint64_t now_ms, bool taken_over);
  // The worker that owns the packet's flow: a hash of the client's address and port (FULLNAT
  // replies: the worker whose port slice holds the local port).
  unsigned owner_of(const pkt::ParsedPacket& p) const;
  unsigned flow_owner(const pkt::ParsedPacket& p) const;
  // FULLNAT replies: the worker whose slice of local ports holds `lport`.
  unsigned worker_of_lport(uint16_t lport) const;
  // Every fragment of a datagram meets on one worker (by addresses and identification), which
  // collects them; the whole datagram then goes to its flow's owner.
  unsigned fragment_owner(const pkt::ParsedPacket& p) const;
  // The connection-table hash of the packet's input tuple; 0 for a packet not looked up by
  // its ports.
  uint64_t flow_hash(const pkt::ParsedPacket& p) const;
  void take_over(uint64_t now_ms);

  // Each of these consumes the frame: transmitted, held, answered, passed or dropped.
  // `collected`: a fragment whose datagram is already whole (released by frag_queue_).
  void handle(io::Frame& f, pkt::ParsedPacket& p, uint64_t hash_in, bool collected = false);
  void handle_ports(io::Frame& f, pkt::ParsedPacket& p, uint64_t hash_in);
  void handle_icmp_error(io::Frame& f, pkt::ParsedPacket& p);
  void handle_fragment(io::Frame& f, pkt::ParsedPacket& p);
  // Keeps a fragment until its datagram is whole, then forwards the datagram.
  void collect_fragment(io::Frame& f, const pkt::ParsedPacket& p);
  void forward_datagram(std::span<io::Frame> frames);
  void drop_given_up_fragments();
  // The client -> real server direction of `c` for the packet in `f`.
  void forward_in(io::Frame& f, pkt::ParsedPacket& p, conn::Conn& c);
  // The real server -> client direction (NAT and FULLNAT replies).
  void forward_out(io::Frame& f, pkt::ParsedPacket& p, conn::Conn& c);
  // A packet no connection or service claims, routed on as it came (ip_vs_out() accepts it
  // and the kernel's ip_forward() takes over): a real server talking to another host through
  // the director, a late packet of a connection that expired.
  void forward_untranslated(io::Frame& f, pkt::ParsedPacket& p);

  // As ip_vs_schedule(): a new connection for the packet, or null when the frame was consumed
  // instead (dropped, passed, or answered with ICMP port unreachable).
  conn::Conn* schedule(io::Frame& f, pkt::ParsedPacket& p, const conn::Tuple& t,
                       const ServiceEntry& svc, uint32_t mark);
  // ip_vs_schedule() past the admission checks: the real server, the local address (FULLNAT),
  // the entry, counted; or null with the frame consumed.
  conn::Conn* create_conn(io::Frame& f, pkt::ParsedPacket& p, const conn::Tuple& t,
                          const ServiceEntry& svc, uint32_t mark);
  // May this packet open a connection at all (its flags, the drop_packet defence, FTP data)?
  Step admit_new_conn(io::Frame& f, const pkt::ParsedPacket& p);
  // The real server for a new connection: through the client's persistence template, or the
  // service's scheduler.
  struct Choice {
    sched::Dest* dest = nullptr;
    uint16_t dport = 0;          // for Tracker::create()
    conn::Conn* tmpl = nullptr;  // the controlling persistence template, if any
  };
  Step choose_dest(io::Frame& f, const pkt::ParsedPacket& p, const conn::Tuple& t,
                   const ServiceEntry& svc, uint32_t mark, Choice* choice);
  // Looks up the next hop toward `dst`. A neighbour still being resolved holds the frame
  // (kConsumed); any other answer is the caller's, in `route`, to act on after counting.
  Step route_or_hold(io::Frame& f, const InetAddr& dst, xmit::Hop* hop, RouteResult* route);
  // Consumes the frame: passed for a local destination, dropped without a route or without an
  // entry point (`xmit` null), else transformed by `xmit` and emitted.
  [[gnu::always_inline]] inline void transmit(io::Frame& f, pkt::ParsedPacket& p, conn::Conn& c,
                                              RouteResult route, const xmit::Hop& hop,
                                              xmit::XmitFn xmit);
  // Acts on a transmitter's result: queue, fragment and queue, answer with ICMP, or drop.
  [[gnu::always_inline]] inline void emit(io::Frame& f, const pkt::ParsedPacket& p,
                                          const xmit::Hop& hop, xmit::Result r);
  // Turns the frame into an ICMP error back to the packet's sender and queues it.
  void answer_icmp(io::Frame& f, const pkt::ParsedPacket& p, xmit::IcmpKind kind,
                   uint32_t info);
  static xmit::L2Next back_to_sender(const io::Frame& f);
  // Turns a TCP segment into the reset the local stack would send for it (xmit/reset.h).
  void answer_reset(io::Frame& f, const pkt::ParsedPacket& p);
  void count_in(const conn::Conn& c, uint64_t bytes, uint64_t packets = 1);
  void count_out(const conn::Conn& c, uint64_t bytes, uint64_t packets = 1);
  // The fast path: hands the connection's directions to XDP once its state leaves nothing to
  // decide, takes them back when it does again (see dp/offload.h).
  void update_offload(conn::Conn& c) {
    if (offload_.enabled()) offload_settle(c);
  }
  void offload_settle(conn::Conn& c);
  void remove_offload(const conn::Conn& c);
  // The next hop of an offloaded direction toward `dst`; false when XDP cannot send there,
  // with *retry set when that may change soon (the neighbour is being resolved).
  bool offload_next_hop(const InetAddr& dst, uvs_flow* flow, bool* retry);
  // XDP's counters into the statistics, for every offloaded connection or one.
  void fold_offloaded();
  void count_offloaded(uint32_t conn, uint32_t dir, uint64_t packets, uint64_t bytes);
  static uint64_t activity_hook(void* ctx, const conn::Conn& c);
  static uint32_t frag_slot(const pkt::ParsedPacket& p);
  void remember_fragment(const pkt::ParsedPacket& p, const conn::Conn& c, bool to_real);
  void remember_untranslated(const pkt::ParsedPacket& p);
  conn::LocalAddrPool* pool_for(const ServiceEntry& svc);

  // --- The SYN proxy (dp/synproxy.cc), Alibaba LVS's ip_vs_synproxy.c ----------------------
  // A handshake the proxy completed with the client and is doing with the real server: the
  // client's segments kept until the server answers (the ACK first), the cookie's options.
  static constexpr uint32_t kSynproxyStoreMax = 6;  // the ACK + synproxy_skb_store_thresh (5)
  static constexpr uint32_t kSynproxySlots = 256;   // handshakes in progress per worker
  struct SynproxyWait {
    uint32_t conn = conn::kNoConn;
    uint32_t cookie_isn = 0;  // ours toward the client
    uint32_t client_isn = 0;
    uint32_t tsval = 0;       // the client's, for the SYN's timestamp option
    conn::SynOptions opts;
    uint8_t stored = 0;
    uint8_t retries = 0;
    uint16_t dups = 0;
    uint64_t next_syn_ms = 0;
    std::array<io::Frame, kSynproxyStoreMax> frames;
  };
  // For a packet to a SYN-proxy service that found no connection: a SYN is answered with a
  // cookie, an ACK with a valid one opens the connection; kContinue leaves the rest to the
  // usual path.
  Step synproxy_new(io::Frame& f, pkt::ParsedPacket& p, const conn::Tuple& t,
                    const ServiceEntry& svc, uint32_t mark);
  void synproxy_answer_syn(io::Frame& f, const pkt::ParsedPacket& p);
  void synproxy_open(io::Frame& f, pkt::ParsedPacket& p, const conn::Tuple& t,
                     const ServiceEntry& svc, uint32_t mark, const conn::SynOptions& opts);
  // A SYN to a proxied connection that is over: reused (expired, kContinue to be answered
  // afresh) as the synproxy_conn_reuse* sysctls allow.
  bool synproxy_may_reuse(const conn::Conn& c) const;
  // The client's segment while the real server has not answered (consumed).
  void synproxy_client_waiting(io::Frame& f, pkt::ParsedPacket& p, conn::Conn& c);
  // The real server's segment while it had not answered yet (consumed).
  void synproxy_server_answer(io::Frame& f, pkt::ParsedPacket& p, conn::Conn& c);
  void synproxy_send_syn(conn::Conn& c, SynproxyWait& w);
  // Frees a slot and the frames it still keeps.
  void synproxy_forget(uint32_t slot);
  // Abandons the handshake of `c` (waiting in `slot`): the client is reset from its kept ACK,
  // the other kept frames freed, the entry expired.
  void synproxy_give_up(conn::Conn& c, SynproxyWait& w, uint32_t slot, uint64_t now_ms);
  // Resends SYNs that got no answer; gives up (client reset) after synproxy_syn_retry.
  void synproxy_tick(uint64_t now_ms);
  // Transmits a frame the proxy wrote (not received) through `c`'s transmitter.
  void synproxy_transmit(io::Frame& f, pkt::ParsedPacket& p, conn::Conn& c,
                         const xmit::Hop& hop);
  const ServiceEntry* service_of(const conn::Conn& c) const;
  void on_expire(const conn::Conn& c, conn::ExpireEvent ev);
  static void expire_hook(void* ctx, const conn::Conn& c, conn::ExpireEvent ev);
  void adopt(const Snapshot* snap);
  void adopt_pools(const Snapshot& snap);

  // Frame ownership ends in one of these: queued for its port's next tx_burst, kept until its
  // neighbour resolves, counted and freed.
  void queue_tx(io::Frame& f, uint16_t port);
  // Queues an encapsulated frame, fragmenting its outer IPv4 packet to the hop's MTU if needed.
  void queue_tx_fragmented(io::Frame& f, const xmit::Hop& hop);
  void hold(io::Frame& f);
  void drop(io::Frame& f, Drop why);
  void free_passed(io::Frame& f);  // not ours: counted as passed, freed
  // A drop reason counted for a frame that is answered rather than freed.
  void count_drop(Drop why) { ++stats_.drops[static_cast<size_t>(why)]; }
  void flush();
  void retry_held(uint64_t now_ms);

  PipelineOptions options_;
  EpochPublisher<Snapshot>& snapshots_;
  Router& router_;
  io::PacketIo& io_;
  conn::Tracker tracker_;
  conn::ConnListing listing_;
  const Snapshot* snap_ = nullptr;
  uint64_t snap_generation_ = 0;
  uint64_t now_ms_ = 0;
  PipelineStats stats_;

  std::vector<Tx> tx_;  // per port
  std::vector<io::Frame> free_;
  std::vector<Held> held_;
  static constexpr uint32_t kMaxHeld = 256;
  FragQueue frag_queue_;
  std::vector<FragSlot> frags_;  // direct-mapped
  static constexpr uint32_t kFragSlots = 1024;
  // FULLNAT local-address pools of this worker, by service identity.
  std::unordered_map<uint64_t, std::unique_ptr<conn::LocalAddrPool>> pools_;
  // The laddr_services() list they were built from (alive while this worker holds a snapshot
  // that has it, so a new list never takes its address unnoticed).
  const void* pools_from_ = nullptr;
  conn::LocalPortRange pools_range_{};
  xmit::Context xmit_;  // what this worker's transmitters read and advance
  Offload offload_;
  conn::SynCookies cookies_;
  std::vector<SynproxyWait> synproxy_;  // kSynproxySlots
  std::vector<uint32_t> synproxy_free_;
  uint32_t synproxy_waiting_ = 0;
  uint64_t next_synproxy_tick_ms_ = 0;
  uint64_t next_fold_ms_ = 0;
  static constexpr uint64_t kFoldMs = 1000;  // the rate estimator's resolution is 2 s
};

}  // namespace uvs::dp
