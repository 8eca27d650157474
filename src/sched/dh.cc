// dh -- destination hashing (ip_vs_dh.c): 256 buckets filled round-robin from the dest list
// (weights ignored), looked up by hash_32 of the packet's destination address. The table is
// rebuilt on add and delete; an edit does not change it.
#include <array>

#include "sched/hash.h"
#include "sched/lookup_tables.h"
#include "sched/schedulers.h"

namespace uvs::sched {

namespace {

struct DhTable final : SchedTable {
  DhBuckets buckets{};
};

class DestinationHashing final : public Scheduler {
 public:
  std::string_view name() const override { return "dh"; }

  BuildResult build(const BuildContext& ctx) const override {
    if (ctx.change.kind == DestChangeKind::kEdit) return {ctx.previous, 0};
    auto table = std::make_shared<DhTable>();
    table->buckets = build_dh_table(ctx.dests);
    return {std::move(table), 0};
  }

  bool picks_by_packet_key() const override { return true; }

  Dest* schedule(const SchedView& view, WorkerState*, const PacketKey& key,
                 Nanos) const override {
    Dest* d = view.table<DhTable>().buckets[hash_32(addr_fold(key.daddr), kDhBits)];
    if (d == nullptr || !d->available() || d->weight() <= 0 || d->overloaded()) return nullptr;
    return d;
  }
};

}  // namespace

DhBuckets build_dh_table(std::span<const std::shared_ptr<Dest>> dests) {
  DhBuckets buckets{};
  const size_t n = dests.size();
  if (n > 0)
    for (size_t i = 0; i < buckets.size(); ++i) buckets[i] = dests[i % n].get();
  return buckets;
}

const Scheduler& dh_scheduler() {
  static const DestinationHashing scheduler;
  return scheduler;
}

}  // namespace uvs::sched
