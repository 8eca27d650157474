// sh -- source hashing (ip_vs_sh.c): 256 buckets, each dest taking max(weight, 1) consecutive
// buckets in list order, cycling until all are filled; rebuilt on add, delete and edit. Looked
// up by hash_32 of the client address (plus its port with sh-port). With sh-fallback an
// unavailable dest's clients are re-hashed with growing offsets until an available dest is hit.
#include <array>

#include "sched/hash.h"
#include "sched/lookup_tables.h"
#include "sched/schedulers.h"
#include "util/proto.h"

namespace uvs::sched {

namespace {

constexpr uint32_t kShBuckets = 1u << kShBits;
constexpr uint32_t kShFallback = kSvcSched1;
constexpr uint32_t kShPort = kSvcSched2;

struct ShTable final : SchedTable {
  ShBuckets buckets{};
};

bool unavailable(const Dest& d) { return d.weight() <= 0 || d.overloaded(); }

class SourceHashing final : public Scheduler {
 public:
  std::string_view name() const override { return "sh"; }

  BuildResult build(const BuildContext& ctx) const override {
    auto table = std::make_shared<ShTable>();
    table->buckets = build_sh_table(ctx.dests);
    return {std::move(table), 0};
  }

  bool picks_by_packet_key() const override { return true; }

  Dest* schedule(const SchedView& view, WorkerState*, const PacketKey& key,
                 Nanos) const override {
    const auto& buckets = view.table<ShTable>().buckets;
    const uint32_t flags = view.flags();
    const uint32_t port = (flags & kShPort) && util::has_ports(key.protocol) ? key.sport : 0;
    const uint32_t hash = hash_32(port + addr_fold(key.saddr), kShBits);
    const auto bucket = [hash](uint32_t offset) { return (offset + hash) & (kShBuckets - 1); };

    const uint32_t first = bucket(0);
    Dest* d = buckets[first];
    if (!(flags & kShFallback)) return d != nullptr && !unavailable(*d) ? d : nullptr;
    if (d == nullptr) return nullptr;
    if (!unavailable(*d)) return d;
    for (uint32_t offset = 0; offset < kShBuckets; ++offset) {
      d = buckets[bucket((offset + first) % kShBuckets)];
      if (d == nullptr) return nullptr;
      if (!unavailable(*d)) return d;
    }
    return nullptr;
  }
};

}  // namespace

ShBuckets build_sh_table(std::span<const std::shared_ptr<Dest>> dests) {
  ShBuckets buckets{};
  const size_t n = dests.size();
  if (n == 0) return buckets;
  size_t current = 0;
  int32_t given = 0;  // buckets the current dest has received
  for (Dest*& bucket : buckets) {
    Dest* d = dests[current].get();
    bucket = d;
    if (++given >= d->weight()) {  // weight <= 0 still gets its one bucket
      current = (current + 1) % n;
      given = 0;
    }
  }
  return buckets;
}

const Scheduler& sh_scheduler() {
  static const SourceHashing scheduler;
  return scheduler;
}

}  // namespace uvs::sched
