// dh -- destination hashing (spec C.10): 256 buckets filled round-robin from the dest list
// (weights ignored), looked up by hash_32 of the packet's destination address. The table is
// rebuilt on add and delete; an edit does not change it.
#include <array>

#include "sched/hash.h"
#include "sched/schedulers.h"

namespace uvs::sched {

namespace {

constexpr unsigned kDhBits = 8;  // CONFIG_IP_VS_DH_TAB_BITS
constexpr size_t kDhBuckets = size_t{1} << kDhBits;

struct DhTable final : SchedTable {
  std::array<Dest*, kDhBuckets> buckets{};
};

class DestinationHashing final : public Scheduler {
 public:
  std::string_view name() const override { return "dh"; }

  BuildResult build(const BuildContext& ctx) const override {
    if (ctx.change.kind == DestChangeKind::kEdit) return {ctx.previous, 0};
    auto table = std::make_shared<DhTable>();
    const size_t n = ctx.dests.size();
    if (n > 0)
      for (size_t i = 0; i < kDhBuckets; ++i) table->buckets[i] = ctx.dests[i % n].get();
    return {std::move(table), 0};
  }

  Dest* schedule(const SchedView& view, WorkerState*, const PacketKey& key,
                 Nanos) const override {
    Dest* d = view.table<DhTable>().buckets[hash_32(addr_fold(key.daddr), kDhBits)];
    if (d == nullptr || !d->available() || d->weight() <= 0 || d->overloaded()) return nullptr;
    return d;
  }
};

}  // namespace

const Scheduler& dh_scheduler() {
  static const DestinationHashing scheduler;
  return scheduler;
}

}  // namespace uvs::sched
