// rr -- round robin, as the kernel's ip_vs_rr_schedule().
//
// The kernel keeps one cursor per service; here every worker keeps its own, so N workers each
// run the kernel's sequence over their own connections. A cursor is the position of the last
// dest picked, or the list head. The control plane records deletions in the table, because the
// kernel's del_dest moves a cursor that sat on the deleted dest to its predecessor.
#include "sched/change_log.h"
#include "sched/schedulers.h"

namespace uvs::sched {

namespace {

struct Removal {
  uint64_t serial = 0;       // deleted dest
  uint64_t prev_serial = 0;  // the dest before it at that time, 0 = list head
};

struct RrTable final : SchedTable {
  ChangeLog<Removal> removals;
};

struct RrCursor final : WorkerState {
  uint64_t generation = kNeverSynced;  // view generation `index` refers to
  int32_t index = -1;                  // in that view's dests(); -1 = list head
  uint64_t serial = 0;                 // dest at `index`; 0 = list head
};

class RoundRobin final : public Scheduler {
 public:
  std::string_view name() const override { return "rr"; }

  BuildResult build(const BuildContext& ctx) const override {
    auto table = std::make_shared<RrTable>();
    if (ctx.previous) table->removals = static_cast<const RrTable&>(*ctx.previous).removals;
    if (ctx.change.kind == DestChangeKind::kDel)
      table->removals.push(ctx.generation,
                           Removal{ctx.change.dest->serial(), ctx.change.removed_prev_serial});
    return {std::move(table), 0};
  }

  std::unique_ptr<WorkerState> new_worker_state(const SchedOptions&, unsigned) const override {
    return std::make_unique<RrCursor>();
  }

  Dest* schedule(const SchedView& view, WorkerState* state, const PacketKey&,
                 Nanos) const override {
    auto& cursor = static_cast<RrCursor&>(*state);
    if (cursor.generation != view.generation()) resync(cursor, view);
    const auto dests = view.dests();
    const int n = static_cast<int>(dests.size());
    // After the cursor to the end, then from the head up to and including the cursor.
    for (int i = cursor.index + 1; i < n; ++i)
      if (eligible(*dests[i])) return take(cursor, i, dests[i]);
    for (int i = 0; i <= cursor.index; ++i)
      if (eligible(*dests[i])) return take(cursor, i, dests[i]);
    return nullptr;
  }

 private:
  static bool eligible(const Dest& d) { return !d.overloaded() && d.weight() > 0; }

  static Dest* take(RrCursor& cursor, int index, Dest* d) {
    cursor.index = index;
    cursor.serial = d->serial();
    return d;
  }

  // Brings a cursor from the generation it was set in to the view's: replays deletions of the
  // dest it points at, then finds that dest's position in the new list.
  static void resync(RrCursor& cursor, const SchedView& view) {
    if (cursor.generation != kNeverSynced) {
      const auto& removals = view.table<RrTable>().removals;
      // If changes were lost, a cursor on a dest that is gone falls back to the head below.
      if (removals.covers(cursor.generation)) {
        removals.replay_after(cursor.generation, [&](const Removal& r) {
          if (cursor.serial == r.serial) cursor.serial = r.prev_serial;
        });
      }
    } else {
      cursor.serial = 0;
    }
    cursor.index = view.index_of_serial(cursor.serial);
    if (cursor.index < 0) cursor.serial = 0;
    cursor.generation = view.generation();
  }
};

}  // namespace

const Scheduler& rr_scheduler() {
  static const RoundRobin scheduler;
  return scheduler;
}

}  // namespace uvs::sched
