// lblcr -- locality-based least connection with replication (ip_vs_lblcr_schedule()): each
// destination address maps to a set of dests; the least loaded member serves it, a new member is
// added (the wlc choice) when that one is overloaded, and once the set has not changed for
// lblcr_expiration the most loaded member is dropped.
//
// Per-worker bounded tables as in lblc.cc. Set members are kept in a pool of their own, newest
// first like the kernel's list. A member whose dest has been deleted is never chosen (the
// kernel's AVAILABLE test); when the set is trimmed it goes first, because uvs cannot read a
// deleted dest's counters the way the kernel reads them from its trash.
#include "sched/least_conn.h"
#include "sched/locality_table.h"
#include "sched/schedulers.h"

namespace uvs::sched {

namespace {

constexpr uint32_t kNil = UINT32_MAX;

struct DestSet {
  Nanos lastmod{0};
  uint32_t head = kNil;  // newest member
  uint32_t size = 0;
};

class MemberPool {
 public:
  explicit MemberPool(uint32_t capacity) : members_(capacity == 0 ? 1 : capacity) {
    for (uint32_t i = 0; i < members_.size(); ++i)
      members_[i].next = i + 1 < members_.size() ? i + 1 : kNil;
    free_ = 0;
  }

  // ip_vs_dest_set_insert(): at the head; with `check`, nothing if already a member. A full
  // pool leaves the set as it is (the kernel's failed allocation).
  void insert(DestSet& set, uint64_t serial, Nanos now, bool check) {
    if (check)
      for (uint32_t i = set.head; i != kNil; i = members_[i].next)
        if (members_[i].serial == serial) return;
    if (free_ == kNil) return;
    const uint32_t i = free_;
    free_ = members_[i].next;
    members_[i] = Member{serial, set.head};
    set.head = i;
    ++set.size;
    set.lastmod = now;
  }

  // ip_vs_dest_set_erase().
  void erase(DestSet& set, uint64_t serial, Nanos now) {
    for (uint32_t* link = &set.head; *link != kNil; link = &members_[*link].next) {
      const uint32_t i = *link;
      if (members_[i].serial != serial) continue;
      *link = members_[i].next;
      release(i);
      --set.size;
      set.lastmod = now;
      return;
    }
  }

  void release_all(DestSet& set) {
    while (set.head != kNil) {
      const uint32_t i = set.head;
      set.head = members_[i].next;
      release(i);
    }
    set.size = 0;
  }

  // Calls f(serial) for each member, newest first, until f returns false.
  template <typename F>
  void for_each(const DestSet& set, F&& f) const {
    for (uint32_t i = set.head; i != kNil; i = members_[i].next)
      if (!f(members_[i].serial)) return;
  }

 private:
  struct Member {
    uint64_t serial = 0;
    uint32_t next = kNil;
  };

  void release(uint32_t i) {
    members_[i].next = free_;
    free_ = i;
  }

  std::vector<Member> members_;
  uint32_t free_ = kNil;
};

struct LblcrCache final : WorkerState {
  explicit LblcrCache(uint32_t capacity) : table(capacity), members(capacity * 2) {}
  size_t cached_entries() const override { return table.size(); }
  LocalityTable<DestSet> table;
  MemberPool members;
};

// ip_vs_dest_set_min(): the weighted least-loaded member that is available, has a weight and
// is not OVERLOAD.
Dest* least_loaded_member(const MemberPool& pool, const DestSet& set, const SchedView& view) {
  Dest* least = nullptr;
  int64_t least_overhead = 0, least_weight = 0;
  pool.for_each(set, [&](uint64_t serial) {
    Dest* d = view.dest_by_serial(serial);
    if (d == nullptr || d->overloaded()) return true;
    if (least == nullptr) {
      if (d->weight() > 0 && d->available()) {
        least = d;
        least_overhead = d->overhead();
        least_weight = d->weight();
      }
      return true;
    }
    const int64_t overhead = d->overhead();
    const int64_t weight = d->weight();
    if (products_greater(least_overhead, weight, overhead, least_weight) && d->available()) {
      least = d;
      least_overhead = overhead;
      least_weight = weight;
    }
    return true;
  });
  return least;
}

// ip_vs_dest_set_max(): the serial of the member to drop, 0 for none.
uint64_t most_loaded_member(const MemberPool& pool, const DestSet& set, const SchedView& view) {
  uint64_t most = 0;
  uint64_t deleted = 0;
  int64_t most_overhead = 0, most_weight = 0;
  pool.for_each(set, [&](uint64_t serial) {
    const Dest* d = view.dest_by_serial(serial);
    if (d == nullptr) {
      deleted = serial;
      return false;
    }
    const int64_t weight = d->weight();
    if (most == 0) {
      if (weight > 0) {
        most = serial;
        most_overhead = d->overhead();
        most_weight = weight;
      }
      return true;
    }
    const int64_t overhead = d->overhead();
    // most/most_weight < d/weight, the kernel's moh * dw < doh * mw.
    if (products_greater(overhead, most_weight, most_overhead, weight) && weight > 0) {
      most = serial;
      most_overhead = overhead;
      most_weight = weight;
    }
    return true;
  });
  return deleted != 0 ? deleted : most;
}

class LocalityBasedLeastConnectionReplicated final : public Scheduler {
 public:
  std::string_view name() const override { return "lblcr"; }

  std::unique_ptr<WorkerState> new_worker_state(const SchedOptions& options,
                                                unsigned) const override {
    return std::make_unique<LblcrCache>(options.locality_capacity);
  }

  Dest* schedule(const SchedView& view, WorkerState* state, const PacketKey& key,
                 Nanos now) const override {
    auto& cache = static_cast<LblcrCache&>(*state);
    const Nanos expiration = view.options().lblcr_expiration;
    cache.table.collect_if_due(now, expiration,
                               [&](auto& entry) { cache.members.release_all(entry.payload); });
    const auto dests = view.dests();

    auto* entry = cache.table.find(key.daddr);
    if (entry != nullptr) {
      entry->lastuse = now;
      DestSet& set = entry->payload;
      Dest* dest = least_loaded_member(cache.members, set, view);
      // A set that has not changed for a while sheds its most loaded member.
      if (set.size > 1 && now > set.lastmod + expiration) {
        const uint64_t most = most_loaded_member(cache.members, set, view);
        if (most != 0) cache.members.erase(set, most, now);
      }
      if (dest != nullptr && !locality_overloaded(*dest, dests)) return dest;
      dest = pick_weighted_least_conn(dests);
      if (dest == nullptr) return nullptr;
      cache.members.insert(set, dest->serial(), now, /*check=*/true);
      return dest;
    }

    Dest* dest = pick_weighted_least_conn(dests);
    if (dest == nullptr) return nullptr;
    if (auto* fresh = cache.table.insert(key.daddr, now))
      cache.members.insert(fresh->payload, dest->serial(), now, /*check=*/false);
    return dest;
  }
};

}  // namespace

const Scheduler& lblcr_scheduler() {
  static const LocalityBasedLeastConnectionReplicated scheduler;
  return scheduler;
}

}  // namespace uvs::sched
