// wrr -- weighted round robin, as the kernel's ip_vs_wrr_schedule() and its
// ip_vs_wrr_dest_changed() hook.
//
// The control plane computes di (gcd of the positive weights) and mw (max weight - (di - 1)) at
// every hook; each worker keeps its own cursor and current weight cw. Every hook resets the
// cursor to the head and adjusts cw; the table keeps the recent (mw, di) values so a worker that
// missed several changes applies each adjustment in order, as the kernel would have.
#include <numeric>

#include "sched/change_log.h"
#include "sched/schedulers.h"

namespace uvs::sched {

namespace {

struct Levels {
  int64_t mw = 0;
  int64_t di = 1;
};

// ip_vs_wrr_dest_changed()'s adjustment of the current weight.
int64_t adjust_current_weight(int64_t cw, const Levels& levels) {
  if (cw > levels.mw || cw == 0) return levels.mw;
  if (levels.di > 1) return (cw / levels.di) * levels.di + 1;
  return cw;
}

struct WrrTable final : SchedTable {
  Levels levels;
  int64_t fresh_cw = 0;  // cw of a worker that has not picked yet (init, then every adjustment)
  ChangeLog<Levels> changes;
};

struct WrrCursor final : WorkerState {
  uint64_t generation = kNeverSynced;
  int32_t index = -1;  // last dest picked, -1 = list head
  int64_t cw = 0;
};

class WeightedRoundRobin final : public Scheduler {
 public:
  std::string_view name() const override { return "wrr"; }

  BuildResult build(const BuildContext& ctx) const override {
    auto table = std::make_shared<WrrTable>();
    int64_t gcd = 0;
    int64_t max_weight = 0;
    for (const auto& d : ctx.dests) {
      const int64_t w = d->weight();
      if (w > 0) gcd = gcd > 0 ? std::gcd(gcd, w) : w;
      if (w > max_weight) max_weight = w;
    }
    table->levels.di = gcd > 0 ? gcd : 1;
    table->levels.mw = max_weight - (table->levels.di - 1);
    if (ctx.change.kind == DestChangeKind::kInit) {
      table->fresh_cw = table->levels.mw;
    } else {
      const auto& previous = static_cast<const WrrTable&>(*ctx.previous);
      table->changes = previous.changes;
      table->changes.push(ctx.generation, table->levels);
      table->fresh_cw = adjust_current_weight(previous.fresh_cw, table->levels);
    }
    return {std::move(table), 0};
  }

  std::unique_ptr<WorkerState> new_worker_state(const SchedOptions&, unsigned) const override {
    return std::make_unique<WrrCursor>();
  }

  Dest* schedule(const SchedView& view, WorkerState* state, const PacketKey&,
                 Nanos) const override {
    auto& cursor = static_cast<WrrCursor&>(*state);
    const auto& table = view.table<WrrTable>();
    if (cursor.generation != view.generation()) resync(cursor, table, view.generation());
    const int64_t mw = table.levels.mw;
    const int64_t di = table.levels.di;
    if (mw == 0) return nullptr;  // no dest with a positive weight

    const auto dests = view.dests();
    const int n = static_cast<int>(dests.size());
    const int last = cursor.index;  // where this pick started
    int stop = -2;                  // none yet; -1 would be the head
    bool last_pass = false;
    bool restarted = false;
    int64_t cw = cursor.cw;
    int pos = last;
    for (;;) {
      for (int i = pos + 1; i < n; ++i) {
        Dest* d = dests[i];
        if (!d->overloaded() && d->weight() >= cw) {
          cursor.index = i;
          cursor.cw = cw;
          return d;
        }
        if (i == stop) {  // the second half of the last pass is done: everything is overloaded
          cursor.index = i;
          cursor.cw = cw;
          return nullptr;
        }
      }
      pos = -1;  // wrapped past the head: next weight level
      cw -= di;
      if (cw <= 0) {
        cw = mw;
        // Either the last pass (cw == 1 level) already covered every dest, or the pass that
        // started at the head did.
        if (last_pass || last == -1) {
          cursor.index = -1;
          cursor.cw = cw;
          return nullptr;
        }
        restarted = true;
      }
      last_pass = cw <= di;
      // Started mid-list: the dests before `last` still need their weight >= 1 pass.
      if (last_pass && restarted && last != -1) stop = last;
    }
  }

 private:
  static void resync(WrrCursor& cursor, const WrrTable& table, uint64_t generation) {
    if (cursor.generation == kNeverSynced) {
      cursor.cw = table.fresh_cw;
    } else if (table.changes.covers(cursor.generation)) {
      table.changes.replay_after(cursor.generation, [&](const Levels& levels) {
        cursor.cw = adjust_current_weight(cursor.cw, levels);
      });
    } else {
      cursor.cw = adjust_current_weight(cursor.cw, table.levels);
    }
    cursor.index = -1;
    cursor.generation = generation;
  }
};

}  // namespace

const Scheduler& wrr_scheduler() {
  static const WeightedRoundRobin scheduler;
  return scheduler;
}

}  // namespace uvs::sched
