// twos -- power of two choices (ip_vs_twos_schedule()): two dests drawn at random in proportion to
// weight, the one with the lower overhead / weight wins (the first draw on ties). Each worker draws
// from its own generator, seeded from SchedOptions::rng_seed and the worker index.
#include "sched/least_conn.h"
#include "util/hash.h"
#include "sched/schedulers.h"

namespace uvs::sched {

namespace {

struct TwosRng final : WorkerState {
  explicit TwosRng(uint64_t seed) : rng(seed) {}
  util::SplitMix64 rng;
};

class PowerOfTwoChoices final : public Scheduler {
 public:
  std::string_view name() const override { return "twos"; }

  std::unique_ptr<WorkerState> new_worker_state(const SchedOptions& options,
                                                unsigned worker) const override {
    // Distinct, unrelated streams per worker: seed the generator with a mixed value rather than
    // with seed + worker (neighbouring SplitMix64 states give shifted copies of one stream).
    util::SplitMix64 mixer(options.rng_seed + worker);
    return std::make_unique<TwosRng>(mixer.next());
  }

  Dest* schedule(const SchedView& view, WorkerState* state, const PacketKey&,
                 Nanos) const override {
    auto& rng = static_cast<TwosRng&>(*state).rng;
    const auto dests = view.dests();
    int64_t total_weight = 0;
    Dest* choice1 = nullptr;
    for (Dest* d : dests) {
      if (d->overloaded()) continue;
      const int32_t weight = d->weight();
      if (weight > 0) {
        total_weight += weight;
        choice1 = d;
      }
    }
    if (choice1 == nullptr) return nullptr;

    // Both draws in [0, total]: a draw of 0 lands on the first dest, which so gets weight + 1
    // chances in total + 1 (the kernel's arithmetic).
    int64_t draw1 = static_cast<int64_t>(rng.below(static_cast<uint64_t>(total_weight) + 1));
    int64_t draw2 = static_cast<int64_t>(rng.below(static_cast<uint64_t>(total_weight) + 1));
    Dest* choice2 = nullptr;
    int64_t weight1 = -1, weight2 = -1;
    int64_t overhead1 = 0, overhead2 = 0;
    for (Dest* d : dests) {
      if (d->overloaded()) continue;
      const int32_t weight = d->weight();
      if (weight <= 0) continue;
      draw1 -= weight;
      draw2 -= weight;
      if (draw1 <= 0 && weight1 == -1) {
        choice1 = d;
        weight1 = weight;
        overhead1 = d->overhead();
      }
      if (draw2 <= 0 && weight2 == -1) {
        choice2 = d;
        weight2 = weight;
        overhead2 = d->overhead();
      }
      if (weight1 != -1 && weight2 != -1) break;
    }
    if (choice2 != nullptr && products_greater(overhead1, weight2, overhead2, weight1))
      return choice2;
    return choice1;
  }
};

}  // namespace

const Scheduler& twos_scheduler() {
  static const PowerOfTwoChoices scheduler;
  return scheduler;
}

}  // namespace uvs::sched
