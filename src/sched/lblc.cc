// lblc -- locality-based least connection (ip_vs_lblc_schedule()): each destination address (a
// cache's object) sticks to the dest it was first given, while that dest is available, has a weight
// and is not overloaded in lblc's sense; otherwise wlc picks again and the mapping moves.
//
// The kernel has one table per service behind a lock; here each worker has its own bounded
// table, so locality holds per worker (a destination address seen by two workers may be mapped
// by each, to the same dest when loads agree). Entries name their dest by serial, so a deleted
// dest is simply not found in the current list -- the kernel's "not AVAILABLE".
#include "sched/least_conn.h"
#include "sched/locality_table.h"
#include "sched/schedulers.h"

namespace uvs::sched {

namespace {

struct LblcMapping {
  uint64_t dest_serial = 0;
};

struct LblcCache final : WorkerState {
  explicit LblcCache(uint32_t capacity) : table(capacity) {}
  size_t cached_entries() const override { return table.size(); }
  LocalityTable<LblcMapping> table;
};

constexpr auto kNothingToRelease = [](auto&) {};

class LocalityBasedLeastConnection final : public Scheduler {
 public:
  std::string_view name() const override { return "lblc"; }

  std::unique_ptr<WorkerState> new_worker_state(const SchedOptions& options,
                                                unsigned) const override {
    return std::make_unique<LblcCache>(options.locality_capacity);
  }

  Dest* schedule(const SchedView& view, WorkerState* state, const PacketKey& key,
                 Nanos now) const override {
    auto& table = static_cast<LblcCache&>(*state).table;
    table.collect_if_due(now, view.options().lblc_expiration, kNothingToRelease);
    const auto dests = view.dests();

    auto* entry = table.find(key.daddr);
    if (entry != nullptr) {
      entry->lastuse = now;
      Dest* cached = view.dest_by_serial(entry->payload.dest_serial);
      if (cached != nullptr && cached->available() && cached->weight() > 0 &&
          !locality_overloaded(*cached, dests))
        return cached;
    }

    Dest* dest = pick_weighted_least_conn(dests);
    if (dest == nullptr) return nullptr;
    // Remap: an entry that already names this dest stays; any other is replaced by a new one
    // at the head of its chain.
    if (entry != nullptr) {
      if (entry->payload.dest_serial == dest->serial()) return dest;
      table.erase(entry, kNothingToRelease);
    }
    if (auto* fresh = table.insert(key.daddr, now)) fresh->payload.dest_serial = dest->serial();
    return dest;
  }
};

}  // namespace

const Scheduler& lblc_scheduler() {
  static const LocalityBasedLeastConnection scheduler;
  return scheduler;
}

}  // namespace uvs::sched
