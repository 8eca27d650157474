// Next hops for the data path. A worker asks "where does a packet to daddr go": egress
// interface, both MAC addresses, the source address the kernel would use, the path MTU, and
// whether daddr is this host. The answers come from the kernel (route lookups, ARP/ND) through
// the kernel cache, are computed on one helper thread and published to the workers as
// immutable tables: a worker never blocks, never takes a lock and never allocates to read
// them, and never makes a syscall except to wake the helper for a destination it has not
// asked about before.
//
//   uvsd (control thread):
//     std::string error;
//     auto resolver = nl::NextHopResolver::start({}, &error);   // in the data plane's netns
//     nl::WorkerNextHops* hops = resolver->add_worker();        // one per worker thread
//     resolver->prefetch(rs_addr);                              // optional, on "-a"
//
//   worker loop:
//     hops->begin_burst();                                      // quiescent point
//     const nl::NextHop& nh = hops->resolve(conn.daddr);
//     switch (nh.state) {
//       case kResolved:    eth.src = nh.src_mac; eth.dst = nh.dst_mac; tx on nh.ifindex;
//       case kPending:     hold the frame, remember hops->generation();
//       case kUnreachable: drop (ICMP unreachable, as __ip_vs_get_out_rt());
//     }
//     // next bursts: once hops->generation() differs from the one remembered, resolve the
//     // held frames' destinations again; drop what is still pending after a short while.
//     hops->go_idle();                                          // before blocking in poll()
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

#include "model/address.h"
#include "nl/cache.h"

namespace uvs::nl {

enum class NextHopState : uint8_t {
  // The kernel is being asked (a route lookup, or ARP/ND for the neighbour). Hold the packet
  // briefly and resolve again when the worker's generation() moves. The kernel gives up on an
  // unanswered neighbour after mcast_solicit x retrans_time (3 s by default), at which point
  // the answer becomes kUnreachable.
  kPending,
  // Every field of the NextHop is valid: send.
  kResolved,
  // No way to send: no route, an unreachable/prohibit route, a neighbour that does not answer,
  // a link that is down or not Ethernet. `error` says which.
  kUnreachable,
};

struct NextHop {
  NextHopState state = NextHopState::kPending;
  // daddr is one of this host's addresses (the kernel's RTN_LOCAL): deliver locally, do not
  // forward, as the kernel's __ip_vs_get_out_rt() does for a local real server (ipvsadm lists it as
  // "Local"). MACs are meaningless then.
  bool is_local = false;
  // The neighbour is a gateway, not daddr itself: daddr is not on a directly connected link
  // (DR, which sends the frame to daddr's own MAC as ip_vs_dr_xmit() does, must refuse such a
  // real server).
  bool via_gateway = false;
  uint32_t ifindex = 0;  // egress interface
  // Path MTU toward daddr: the route's MTU (its `mtu` metric or a path MTU the kernel
  // learned), never above the egress link's MTU; the link's MTU when the route has none.
  uint32_t mtu = 0;
  MacAddr src_mac;  // the egress interface's address
  MacAddr dst_mac;  // the neighbour's address (daddr's, or the gateway's)
  // The source address the kernel chooses toward daddr (the tunnel's outer source, as in
  // ip_vs_tunnel_xmit()); zero when the egress link has no address of daddr's family.
  InetAddr src;
  InetAddr neighbour;  // the address dst_mac belongs to: daddr, or the gateway
  int error = 0;       // kUnreachable: ENETUNREACH, EHOSTUNREACH, EACCES, ENETDOWN, ENOTSUP...

  friend bool operator==(const NextHop&, const NextHop&) = default;
};

// One immutable version of every answer, published to the workers. Open addressing over a
// power-of-two array, at most half full.
class NextHopTable {
 public:
  NextHopTable(uint64_t generation, const std::vector<std::pair<InetAddr, NextHop>>& entries);

  uint64_t generation() const { return generation_; }
  size_t size() const { return size_; }

  const NextHop* find(const InetAddr& addr) const {
    for (size_t i = InetAddrHash()(addr) & mask_;; i = (i + 1) & mask_) {
      const Slot& slot = slots_[i];
      if (!slot.used) return nullptr;
      if (slot.key == addr) return &slot.hop;
    }
  }

 private:
  struct Slot {
    bool used = false;
    InetAddr key;
    NextHop hop;
  };
  uint64_t generation_;
  size_t size_;
  size_t mask_;
  std::vector<Slot> slots_;
};

// Lock-free publication of tables to reader threads (quiescent-state-based reclamation). The
// writer swaps the current table; a reader picks it up at its next quiescent point, where it
// promises to hold no table it got earlier; a replaced table is freed once every reader has
// passed a quiescent point after the swap, or is offline.
class TablePublisher {
 public:
  class Reader {
   public:
    // Quiescent point: forget every table obtained before, return the current one. Wait-free.
    const NextHopTable* refresh();
    // Holds no table until the next refresh(): lets the writer free tables while the reader
    // sleeps.
    void go_offline();

   private:
    friend class TablePublisher;
    static constexpr uint64_t kOffline = UINT64_MAX;
    TablePublisher* publisher_ = nullptr;
    // The writer's epoch as of this reader's last quiescent point (kOffline: holds nothing).
    // A cache line of its own: each reader writes it every burst.
    alignas(64) std::atomic<uint64_t> seen_epoch_{kOffline};
  };

  explicit TablePublisher(size_t max_readers);
  // Frees every table; no reader may be using one any more.
  ~TablePublisher();
  TablePublisher(const TablePublisher&) = delete;
  TablePublisher& operator=(const TablePublisher&) = delete;

  // A new reader, offline until its first refresh(); null when max_readers are registered.
  // Any thread.
  Reader* add_reader();

  // ---- Writer thread only ----
  void publish(std::unique_ptr<const NextHopTable> table);
  // Frees the replaced tables no reader can still hold; returns how many are still waiting.
  size_t reclaim();
  const NextHopTable* current() const { return current_.load(); }

 private:
  std::atomic<const NextHopTable*> current_{nullptr};
  std::atomic<uint64_t> epoch_{1};
  std::unique_ptr<Reader[]> readers_;
  size_t max_readers_;
  std::mutex add_mu_;  // serialises add_reader() callers (control plane)
  std::atomic<size_t> reader_count_{0};
  std::vector<std::pair<uint64_t, const NextHopTable*>> retired_;  // (epoch freed at, table)
};

// Destinations a worker asks about, on their way to the helper thread. Single producer (the
// worker), single consumer (the helper), fixed size, no allocation.
class RequestRing {
 public:
  static constexpr uint32_t kCapacity = 256;
  bool push(const InetAddr& addr);
  bool pop(InetAddr& addr);

 private:
  alignas(64) std::atomic<uint32_t> head_{0};  // next slot the producer writes
  alignas(64) std::atomic<uint32_t> tail_{0};  // next slot the consumer reads
  std::array<InetAddr, kCapacity> slots_{};
};

class NextHopResolver;

// One worker's view of the next hops. Used by its worker thread only.
class WorkerNextHops {
 public:
  // Quiescent point: call at the start of every burst. Answers obtained before are invalid
  // afterwards; the latest table is picked up.
  void begin_burst();
  // Call before the worker blocks (poll, sleep), so that old tables can be freed meanwhile.
  void go_idle();

  // The next hop toward `daddr`, valid until the next begin_burst(). A destination nobody has
  // asked about yet is handed to the helper thread (woken at most once per burst) and answered
  // kPending.
  const NextHop& resolve(const InetAddr& daddr);

  // Moves whenever any answer changes (a pending one resolved or failed, a route, a link or a
  // neighbour changed): the signal to resolve held packets again, and the validity stamp of
  // any next hop a worker copies into its own structures. 0 before the first begin_burst().
  uint64_t generation() const { return table_ != nullptr ? table_->generation() : 0; }

 private:
  friend class NextHopResolver;
  WorkerNextHops(TablePublisher::Reader* reader, int wake_fd)
      : reader_(reader), wake_fd_(wake_fd) {}
  void request(const InetAddr& daddr);

  // Destinations asked for recently, so that a burst of packets to one unknown destination
  // makes one request, not one per packet. Direct-mapped; a collision only costs a duplicate.
  struct RecentRequest {
    InetAddr addr;
    uint64_t generation = 0;
  };
  static constexpr size_t kRecentSlots = 64;

  TablePublisher::Reader* reader_;
  int wake_fd_;
  const NextHopTable* table_ = nullptr;
  bool woke_helper_this_burst_ = false;
  std::array<RecentRequest, kRecentSlots> recent_{};
  RequestRing requests_;
};

class NextHopResolver {
 public:
  struct Options {
    // How often every answer is checked with the kernel even without an event: a path MTU the
    // kernel learned raises no event, and a neighbour the kernel has marked stale is not
    // re-verified by the kernel while uvs's traffic bypasses it, so uvs asks for that.
    std::chrono::milliseconds refresh_interval{5000};
    // How often a neighbour that failed to answer is asked for again (a real server that was
    // down comes back resolved without anyone touching the configuration).
    std::chrono::milliseconds failed_neighbour_retry{5000};
    size_t max_workers = 256;
  };

  // Opens the netlink sockets in the calling thread's network namespace (where the data
  // plane's interfaces are), loads the kernel's state, publishes an empty table and starts the
  // helper thread. Null and `error` on failure.
  static std::unique_ptr<NextHopResolver> start(const Options& options, std::string* error);
  // Stops the helper thread. Workers must have stopped using their WorkerNextHops.
  ~NextHopResolver();
  NextHopResolver(const NextHopResolver&) = delete;
  NextHopResolver& operator=(const NextHopResolver&) = delete;

  // A view for one worker thread, owned by the resolver; null when max_workers are taken.
  WorkerNextHops* add_worker();

  // ---- Control plane (may block briefly on a mutex) ----
  // Resolves `daddr` ahead of traffic (a real server being added).
  void prefetch(const InetAddr& daddr);
  // Drops `daddr` from the tables (a real server removed); it comes back if asked for again.
  void forget(const InetAddr& daddr);
  // The published answer for `daddr`; nullopt when it has not been asked about.
  std::optional<NextHop> lookup(const InetAddr& daddr);
  // The generation of the latest published table.
  uint64_t generation() const { return generation_.load(); }
  // Links, addresses and neighbours as the kernel reports them (interface MAC/MTU for the
  // I/O layer, "is this address local" for validation).
  const KernelCache& cache() const { return *cache_; }

 private:
  using Clock = std::chrono::steady_clock;

  NextHopResolver(const Options& options, std::unique_ptr<KernelCache> cache, int wake_fd);
  void wake_helper();
  void run();
  // What take_requests() moved into destinations_.
  struct Taken {
    std::vector<InetAddr> added;
    bool removed = false;
    bool from_worker = false;  // a worker asked (it holds a packet for the answer)
    bool changed() const { return removed || !added.empty(); }
  };
  // Moves requests from the worker rings and the control plane into destinations_.
  Taken take_requests();
  // Asks the kernel again about every destination; publishes a table when an answer changed
  // or `force_publish`.
  void recompute(bool refresh, bool force_publish);
  // Asks about the new destinations alone and publishes within kCoalesce, at once when a
  // worker asked (a restore prefetches its real servers one command at a time: a whole
  // recompute and table for each made it quadratic).
  void add_destinations(const Taken& taken);
  void publish();
  NextHop compute(const InetAddr& daddr, const NextHop* previous, bool refresh);
  // Asks the kernel to resolve a neighbour, at most once per `min_gap` per neighbour. True
  // when a request went out now.
  bool probe_neighbour(uint32_t ifindex, const InetAddr& addr, std::chrono::milliseconds min_gap);

  const Options options_;
  std::unique_ptr<KernelCache> cache_;
  const int wake_fd_;  // eventfd: workers and the control plane wake the helper through it
  TablePublisher publisher_;
  std::vector<std::unique_ptr<WorkerNextHops>> workers_;  // max_workers slots, filled in order
  std::atomic<size_t> worker_count_{0};
  std::atomic<uint64_t> generation_{0};
  std::atomic<bool> stopping_{false};

  // Control-plane requests, and the control plane's own reader for lookup().
  std::mutex control_mu_;
  std::vector<InetAddr> prefetch_queue_;
  std::vector<InetAddr> forget_queue_;
  TablePublisher::Reader* control_reader_ = nullptr;

  // Helper thread state.
  std::unordered_map<InetAddr, NextHop, InetAddrHash> destinations_;
  std::unordered_map<NeighbourKey, Clock::time_point, NeighbourKeyHash> last_probe_;
  std::optional<Clock::time_point> publish_due_;
  static constexpr std::chrono::milliseconds kCoalesce{50};
  std::thread helper_;
};

}  // namespace uvs::nl
