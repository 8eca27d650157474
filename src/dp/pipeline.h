// One worker's run-to-completion loop: a burst in, each frame parsed, matched to its
// connection (or scheduled), moved through its protocol state machine, transformed for its
// forwarding method and queued for transmission. Pure of I/O except through PacketIo.
//
// Per burst: parse every frame and prefetch its connection bucket, then handle the frames in
// order (DPDK l3fwd / VPP style), then hand each port its transmissions in one call.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <span>
#include <unordered_map>
#include <vector>

#include "conn/listing.h"
#include "conn/local_addr.h"
#include "conn/tracker.h"
#include "dp/epoch.h"
#include "dp/handoff.h"
#include "dp/router.h"
#include "dp/snapshot.h"
#include "io/packet_io.h"
#include "pkt/parse.h"
#include "xmit/tunnel.h"

namespace uvs::dp {

// Why the pipeline dropped (or passed) a frame; one counter each.
enum class Drop : uint8_t {
  kMalformed,      // pkt::Reason has the detail
  kNotOurs,        // no connection, no service: passed to the kernel's side
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
  kCount,
};
const char* drop_name(Drop d);

struct PipelineStats {
  uint64_t rx = 0;
  uint64_t tx = 0;
  uint64_t passed = 0;  // not IP / not ours: left to the kernel path
  uint64_t icmp_sent = 0;
  uint64_t held = 0;  // waited for a neighbour
  uint64_t handed_off = 0;  // sent to the worker owning the flow
  uint64_t taken_over = 0;  // received from another worker
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
};

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
  };

  void process(std::span<io::Frame> burst, uint64_t now_ms, bool taken_over);
  // The worker that owns the packet's flow: a hash of the client's address and port (FULLNAT
  // replies: the worker whose port slice holds the local port).
  unsigned owner_of(const pkt::ParsedPacket& p) const;
  void take_over(uint64_t now_ms);
  void handle(io::Frame& f, pkt::ParsedPacket& p, uint64_t hash_in);
  void handle_icmp_error(io::Frame& f, pkt::ParsedPacket& p);
  void handle_fragment(io::Frame& f, pkt::ParsedPacket& p);
  conn::Conn* schedule(io::Frame& f, pkt::ParsedPacket& p, const conn::Tuple& t,
                       const ServiceEntry& svc, uint32_t mark, bool* done);
  // The client -> real server direction of `c` for the packet in `f`.
  void forward_in(io::Frame& f, pkt::ParsedPacket& p, conn::Conn& c);
  // The real server -> client direction (NAT and FULLNAT replies).
  void forward_out(io::Frame& f, pkt::ParsedPacket& p, conn::Conn& c);
  // Acts on a route lookup's result, then checks MTU and TTL; `overhead` is what encapsulation
  // adds. Returns false if the frame was consumed otherwise (ICMP, drop, held, passed).
  // With `may_fragment`, an IPv4 packet without DF that does not fit goes on (a tunnel
  // fragments its outer packet, see send_fragmented()).
  bool next_hop(io::Frame& f, const pkt::ParsedPacket& p, RouteResult route, const Hop& hop,
                uint32_t overhead, bool may_fragment = false);
  // The outer header of connection c's tunnel to daddr (src is the route's, set later).
  xmit::TunnelParams tunnel_params(const conn::Conn& c, const InetAddr& daddr);
  // Sends an encapsulated frame, fragmenting its outer IPv4 packet to the hop's MTU if needed.
  void send_fragmented(io::Frame& f, const Hop& hop);
  void hold(io::Frame& f);
  // Spec G.1: a connection's traffic counts (IP datagram bytes) only while its real server is
  // available.
  void count_in(const conn::Conn& c, uint32_t bytes);
  void count_out(const conn::Conn& c, uint32_t bytes);
  void remember_fragment(const pkt::ParsedPacket& p, const conn::Conn& c, bool to_real);
  void icmp_to_sender(io::Frame& f, const pkt::ParsedPacket& p, uint8_t type, uint8_t code,
                      uint32_t info);
  conn::LocalAddrPool* pool_for(const ServiceEntry& svc);
  const ServiceEntry* service_of(const conn::Conn& c) const;
  void on_expire(const conn::Conn& c, conn::ExpireEvent ev);
  static void expire_hook(void* ctx, const conn::Conn& c, conn::ExpireEvent ev);
  void adopt(const Snapshot* snap);

  void send(io::Frame& f, uint16_t port);
  void drop(io::Frame& f, Drop why);
  void pass(io::Frame& f);
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
  std::vector<FragSlot> frags_;  // direct-mapped
  static constexpr uint32_t kFragSlots = 1024;
  // FULLNAT local-address pools of this worker, by service identity.
  std::unordered_map<uint64_t, std::unique_ptr<conn::LocalAddrPool>> pools_;
  uint64_t isn_state_;
  uint16_t ip_id_ = 0;
};

}  // namespace uvs::dp
