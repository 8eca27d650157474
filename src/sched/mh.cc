// mh -- Maglev hashing (the kernel's ip_vs_mh.c; Eisenbud et al., NSDI 2016): a lookup table of M
// slots (a prime) in which every dest owns slots in proportion to its last non-zero weight, filled
// so that removing one of N dests moves about 1/N of the clients. Rebuilt on add, delete and edit.
//
// Each dest walks its own permutation of the slots (start `offset`, stride `skip`, both hashed
// from its address and port); rounds over the dests give each dest `turns` slots per round,
// each the next free slot of its permutation, until all M are taken.
//
// Unlike ip_vs_mh_populate(), which walks the service's list (newest first, so the table depends
// on the order the dests were added in), the rounds walk the dests sorted by (family, address,
// port): directors of a cluster behind ECMP must pick the same dest for a flow from the same set
// of real servers however each was configured (keepalived's order, a restore, a dest deleted and
// added back). The kernel builds the same table only when its dests were added in descending
// order.
//
// last_weight is the kernel's: a dest quiesced to weight 0 keeps its slots (its clients get no
// destination, or mh-fallback's next choice), while one added with weight 0 has none. So two
// directors agree only if their weight-0 dests got there the same way: operators add, then
// quiesce, and a director restored from -S (which saves -w 0) gives a quiesced dest no slots.
//
// The hash is SipHash-1-3 with the kernel's fixed keys over the 32-bit value
// offset + port + fold(addr): the 64-bit kernel's hsiphash() (hash_test checks it against the
// kernel's self-test vectors). Only the spread and disruption properties are required, and
// mh_test checks those and that the table does not depend on the add order.
#include <algorithm>
#include <bit>
#include <cerrno>
#include <numeric>
#include <vector>

#include "sched/hash.h"
#include "sched/lookup_tables.h"
#include "sched/schedulers.h"
#include "util/proto.h"

namespace uvs::sched {

namespace {

constexpr int kMhTabBits = 6;  // IP_VS_MH_TAB_BITS: turns are kept below 2^6 per round
constexpr uint32_t kMhFallback = kSvcSched1;
constexpr uint32_t kMhPort = kSvcSched2;

bool unavailable(const Dest& d) { return d.weight() <= 0 || d.overloaded(); }

struct MhTable final : SchedTable {
  uint32_t size = 0;         // M
  std::vector<Dest*> slots;  // M entries; all null when no dest has a last weight
  // The slots' dests stay alive with the table, even when a refused rebuild (EINVAL) leaves
  // this table in use after one of them was deleted.
  std::vector<std::shared_ptr<Dest>> owners;
};

uint32_t table_size(const BuildContext& ctx) {
  if (ctx.previous) return static_cast<const MhTable&>(*ctx.previous).size;
  const uint32_t wanted = ctx.options.mh_table_size;
  return std::find(kMhTableSizes.begin(), kMhTableSizes.end(), wanted) != kMhTableSizes.end()
             ? wanted
             : 4093;
}

class MaglevHashing final : public Scheduler {
 public:
  std::string_view name() const override { return "mh"; }

  BuildResult build(const BuildContext& ctx) const override {
    const uint32_t m = table_size(ctx);
    auto slots = build_mh_table(ctx.dests, m);
    if (!slots) return {ctx.previous, EINVAL};
    auto table = std::make_shared<MhTable>();
    table->size = m;
    table->slots = std::move(*slots);
    table->owners.assign(ctx.dests.begin(), ctx.dests.end());
    return {std::move(table), 0};
  }

  bool picks_by_packet_key() const override { return true; }

  Dest* schedule(const SchedView& view, WorkerState*, const PacketKey& key,
                 Nanos) const override {
    const auto& table = view.table<MhTable>();
    const uint32_t m = table.size;
    const uint32_t flags = view.flags();
    const uint32_t port = (flags & kMhPort) && util::has_ports(key.protocol) ? key.sport : 0;

    const uint32_t first = mh_hash(key.saddr, port, kMhKey1, 0) % m;
    Dest* d = table.slots[first];
    if (!(flags & kMhFallback)) return d != nullptr && !unavailable(*d) ? d : nullptr;
    if (d == nullptr) return nullptr;
    if (!unavailable(*d)) return d;
    for (uint32_t offset = 0; offset < m; ++offset) {
      const uint32_t roffset = (offset + first) % m;
      d = table.slots[mh_hash(key.saddr, port, kMhKey1, roffset) % m];
      if (d == nullptr) return nullptr;
      if (!unavailable(*d)) return d;
    }
    return nullptr;
  }
};

}  // namespace

uint32_t mh_hash(const InetAddr& addr, uint32_t port, uint64_t key, uint32_t offset) {
  return siphash13_u32(offset + port + addr_fold(addr), key, key);
}

std::optional<std::vector<Dest*>> build_mh_table(std::span<const std::shared_ptr<Dest>> dests,
                                                 uint32_t size) {
  const uint32_t m = size;
  if (m < 2 || dests.size() > m) return std::nullopt;  // m < 2: no permutation to walk
  std::vector<Dest*> slots(m, nullptr);

  int32_t gcd = 0;
  int32_t max_weight = 0;
  for (const auto& d : dests) {
    const int32_t w = d->last_weight();
    if (w > 0) gcd = gcd > 0 ? std::gcd(gcd, w) : w;
    max_weight = std::max(max_weight, w);
  }
  if (gcd < 1) return slots;  // no weights: every lookup fails
  // Scale turns down so that the largest is below 2^kMhTabBits: rounds stay short and every
  // dest still gets at least one slot per round.
  const int shift = std::max(
      0, static_cast<int>(std::bit_width(static_cast<uint32_t>(max_weight / gcd))) - kMhTabBits);

  struct Walk {
    Dest* dest;
    uint32_t perm;  // current position in this dest's permutation of the slots
    uint32_t skip;
    int32_t turns;  // slots taken per round
  };
  // By (family, address, port), not list order: see the top of this file.
  std::vector<Dest*> ordered;
  ordered.reserve(dests.size());
  for (const auto& d : dests) ordered.push_back(d.get());
  std::sort(ordered.begin(), ordered.end(), [](const Dest* a, const Dest* b) {
    const DestKey& x = a->key();
    const DestKey& y = b->key();
    return x.addr != y.addr ? x.addr < y.addr : x.port < y.port;
  });
  std::vector<Walk> walks;
  walks.reserve(ordered.size());
  for (Dest* d : ordered) {
    const int32_t w = d->last_weight();
    int32_t turns = (w / gcd) >> shift;
    if (turns == 0) turns = w != 0 ? 1 : 0;  // added with weight 0 and never weighted: no slots
    const InetAddr& addr = d->key().addr;
    const uint32_t port = d->key().port;
    walks.push_back(Walk{d, mh_hash(addr, port, kMhKey1, 0) % m,
                         mh_hash(addr, port, kMhKey2, 0) % (m - 1) + 1, turns});
  }

  uint32_t filled = 0;
  for (;;) {
    for (Walk& walk : walks) {
      for (int32_t t = 0; t < walk.turns; ++t) {
        while (slots[walk.perm] != nullptr) {
          walk.perm += walk.skip;
          if (walk.perm >= m) walk.perm -= m;
        }
        slots[walk.perm] = walk.dest;
        if (++filled == m) return slots;
      }
    }
  }
}

const Scheduler& mh_scheduler() {
  static const MaglevHashing scheduler;
  return scheduler;
}

}  // namespace uvs::sched
