// One small interface for the fourteen IPVS schedulers (net/netfilter/ipvs/ip_vs_{rr,wrr,...}.c),
// split the way many workers need it: the control plane builds each scheduler's read-only state,
// workers keep their own mutable state, and a pick touches only those two and the shared Dest
// counters. No locks, no allocation.
//
//   Scheduler      the algorithm, stateless, one instance per name (registry.h).
//   SchedTable     what the control plane builds for one service at one generation (wrr's
//                  gcd/max weight, dh/sh/mh lookup tables). Immutable once published.
//   WorkerState    one per (service binding, worker): rr/wrr cursor, twos RNG, lblc/lblcr cache.
//                  Created up front by the control plane, then touched only by its worker.
//   SchedView      what a worker schedules from: the dest list in kernel order, service flags,
//                  the table and the worker states. Published in the configuration snapshot.
//   ServiceSched   (service_sched.h) the control-plane side that runs the kernel's hooks and
//                  produces a new SchedView after every change.
#pragma once

#include <array>
#include <cassert>
#include <chrono>
#include <cstdint>
#include <memory>
#include <span>
#include <string_view>
#include <vector>

#include "sched/dest.h"

namespace uvs::sched {

// Monotonic time as the caller's clock sees it; only lblc/lblcr read it.
using Nanos = std::chrono::nanoseconds;

// What the hashing schedulers look at in a packet that starts a new connection.
struct PacketKey {
  InetAddr saddr;        // client address (sh, mh)
  InetAddr daddr;        // destination address of the packet (dh, lblc, lblcr)
  uint16_t sport = 0;    // client port, host order (sh-port, mh-port)
  uint8_t protocol = 0;  // IPPROTO_*: ports count only for TCP, UDP and SCTP
};

// The Maglev table sizes the kernel can be built with (CONFIG_IP_VS_MH_TAB_INDEX 8..17).
inline constexpr std::array<uint32_t, 10> kMhTableSizes = {251,  509,   1021,  2039,  4093,
                                                           8191, 16381, 32749, 65521, 131071};

struct SchedOptions {
  uint32_t mh_table_size = 4093;  // the kernel default (index 12); must be in kMhTableSizes
  Nanos lblc_expiration = std::chrono::hours(24);   // sysctl lblc_expiration
  Nanos lblcr_expiration = std::chrono::hours(24);  // sysctl lblcr_expiration
  // Entries each worker's lblc/lblcr cache can hold. The kernel's table grows without limit and
  // only trims above 16384 entries; ours is allocated up front, and when it is full a new
  // destination address is scheduled but not cached (as the kernel does when kmalloc fails).
  uint32_t locality_capacity = 2 * 16384;
  // Seed of twos' per-worker generators; 0 takes one from std::random_device.
  uint64_t rng_seed = 0;
};

class SchedTable {
 public:
  virtual ~SchedTable() = default;
};

// Aligned to a cache line so that two workers' states never share one.
class alignas(64) WorkerState {
 public:
  virtual ~WorkerState() = default;
  // Entries in a per-worker cache (lblc/lblcr), for tests and metrics.
  virtual size_t cached_entries() const { return 0; }
};

// The kernel's struct ip_vs_scheduler hooks: init_service, add_dest, del_dest, upd_dest.
enum class DestChangeKind : uint8_t { kInit, kAdd, kDel, kEdit };

struct DestChange {
  DestChangeKind kind = DestChangeKind::kInit;
  const Dest* dest = nullptr;        // added, deleted or edited dest
  uint64_t removed_prev_serial = 0;  // kDel: serial of the dest before it in the list, 0 = head
};

struct BuildContext {
  std::span<const std::shared_ptr<Dest>> dests;  // after the change, newest first
  const std::shared_ptr<const SchedTable>& previous;  // null at kInit
  DestChange change;
  uint64_t generation;  // of the view being built; 0 at kInit, +1 per hook
  const SchedOptions& options;
};

struct BuildResult {
  std::shared_ptr<const SchedTable> table;
  int error = 0;  // errno; the previous table stays in use (mh with more dests than slots)
};

class SchedView;

class Scheduler {
 public:
  virtual ~Scheduler() = default;
  virtual std::string_view name() const = 0;
  // Control plane: the read-only state for the dest list in `ctx`. Default: none.
  virtual BuildResult build(const BuildContext& ctx) const;
  // Control plane: the mutable state of one worker, sized for everything schedule() will do.
  virtual std::unique_ptr<WorkerState> new_worker_state(const SchedOptions& options,
                                                        unsigned worker) const;
  // Data path: the dest for a new connection, or null ("no destination available").
  virtual Dest* schedule(const SchedView& view, WorkerState* state, const PacketKey& key,
                         Nanos now) const = 0;
  // Whether schedule() reads only the packet key, the table and the dests' weights and OVERLOAD
  // flags (no worker state, no clock, no connection counts of its own): dh, sh and mh. The
  // control plane may then run it, with no worker state, for uvsadm --pick and get what any
  // worker would pick.
  virtual bool picks_by_packet_key() const { return false; }
};

// Per-worker states of one scheduler binding; shared by all views of that binding so that they
// live as long as any snapshot a worker may still be using.
struct WorkerStateSet {
  std::vector<std::unique_ptr<WorkerState>> states;
};

class SchedView {
 public:
  // The data-path entry point. `worker` is the caller's index, below workers().
  Dest* schedule(unsigned worker, const PacketKey& key, Nanos now) const {
    return scheduler_->schedule(*this, worker_state(worker), key, now);
  }

  const Scheduler& scheduler() const { return *scheduler_; }
  // The service's dests in kernel list order: most recently added first.
  std::span<Dest* const> dests() const { return dests_; }
  uint32_t flags() const { return flags_; }  // service flags (kSvcSched1/2/3 matter here)
  uint64_t generation() const { return generation_; }
  const SchedOptions& options() const { return options_; }
  unsigned workers() const { return static_cast<unsigned>(worker_states_->states.size()); }
  WorkerState* worker_state(unsigned worker) const {
    assert(worker < worker_states_->states.size());
    return worker_states_->states[worker].get();
  }

  // For schedulers: their own table (only valid in the scheduler that built it).
  template <typename T>
  const T& table() const {
    return static_cast<const T&>(*table_);
  }
  // Position of the dest with this serial in dests(), or -1 if it is not in this list.
  int index_of_serial(uint64_t serial) const;
  Dest* dest_by_serial(uint64_t serial) const {
    const int i = index_of_serial(serial);
    return i < 0 ? nullptr : dests_[i];
  }

 private:
  friend class ServiceSched;
  SchedView() = default;
  void index_serials();

  struct SerialSlot {
    uint64_t serial = 0;  // 0 = empty
    int32_t index = -1;
  };

  const Scheduler* scheduler_ = nullptr;
  std::vector<Dest*> dests_;
  std::vector<std::shared_ptr<Dest>> owners_;  // keeps dests_ alive as long as this view
  uint32_t flags_ = 0;
  uint64_t generation_ = 0;
  SchedOptions options_;
  std::shared_ptr<const SchedTable> table_;
  std::shared_ptr<const WorkerStateSet> worker_states_;
  std::vector<SerialSlot> serial_index_;  // open addressing, power-of-two size
  uint32_t serial_mask_ = 0;
};

}  // namespace uvs::sched
