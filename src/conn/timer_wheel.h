// Per-worker expiry of connection entries: a single-level hashed timer wheel over the table's
// pool, driven by the caller's clock (milliseconds, any epoch).
//
// Refreshing a connection on every packet must cost no more than a store, so the wheel is
// lazy: an entry is filed in the slot of the expiry it had when armed, and when that slot comes
// due each entry is checked again -- still in the future (a packet moved Conn::expires_ms), it
// is filed again by its new expiry; due, it is handed to the caller. A connection is therefore
// visited about once per timeout, not once per packet. Only an expiry that moves *earlier*
// (a state with a shorter timeout) must be refiled at once; Tracker::refresh does that.
//
// Slots are slot_width ms wide. An entry fires at the first advance() at or after its expiry,
// or up to one slot width later if it was armed into a slot already opened. Expiries beyond one
// revolution (65536 slots x 16 ms = 17.5 min by default) are filed modulo the wheel and refiled
// each revolution, which supports any timeout (31-day persistence included) at one or two
// visits per revolution.
//
// A slot is a stack of 64-byte blocks of 15 pool indexes (all but the top block full), not a
// linked list through the entries: opening a slot reads its indexes sequentially and fetches
// the entries several at a time, instead of chasing one cache miss per entry, and arming
// touches no other entry. An armed entry records its block and position (Conn::wheel_next,
// Conn::wheel_prev), so disarming is O(1): the slot's top index moves into the hole. Blocks come
// from a pool sized for the worst case at construction (capacity/15 + one partial block per
// slot), so arming never fails and never allocates.
//
// advance() takes a budget: expiry never stalls a burst, it catches up over later calls.
#pragma once

#include <cstdint>

#include "conn/region.h"
#include "conn/table.h"

namespace uvs::conn {

struct WheelOptions {
  uint32_t slot_bits = 16;  // 2^slot_bits slots (at most 2^24)
  uint32_t slot_shift = 4;  // slot width 2^slot_shift ms (16 ms)
};

struct WheelRun {
  uint32_t steps = 0;      // budget used
  uint32_t visited = 0;    // entries taken off a due slot
  uint32_t refiled = 0;    // of those, not due any more (refreshed) and filed again
  uint32_t fired = 0;      // of those, handed to fire()
  uint32_t kept = 0;       // of the fired, re-armed because fire() returned true
  bool caught_up = false;  // nothing due at `now` is left unvisited
};

class TimerWheel {
 public:
  TimerWheel(Table& table, uint64_t now_ms, const WheelOptions& options = {});
  TimerWheel(const TimerWheel&) = delete;
  TimerWheel& operator=(const TimerWheel&) = delete;

  // Files `c` by c.expires_ms; `c` must not be armed. An expiry in a slot already opened (or
  // past) is filed in the next slot to open.
  void arm(Conn& c) { push(slot_for(c.expires_ms), table_.index_of(c)); }
  // Takes `c` off the wheel if it is on it.
  void disarm(Conn& c) {
    if (armed(c)) remove(c);
  }
  // After c.expires_ms moved earlier than where it is filed.
  void refile(Conn& c) {
    disarm(c);
    arm(c);
  }
  bool armed(const Conn& c) const { return c.wheel_next != kNoConn; }
  uint32_t armed_count() const { return armed_; }
  uint64_t slot_width_ms() const { return uint64_t{1} << shift_; }
  uint64_t span_ms() const { return uint64_t{n_slots_} << shift_; }
  size_t memory_bytes() const { return blocks_region_.size() + slots_region_.size(); }

  // Visits due entries, at most `budget` steps (an entry visited or a slot opened is a step,
  // sixteen empty slots passed are one). fire(Conn&) -> bool receives each entry whose
  // expires_ms <= now_ms, already off the wheel; it either frees it (return false) or sets a
  // new expires_ms and returns true to re-arm it. fire() may disarm or free other entries.
  template <typename Fire>
  WheelRun advance(uint64_t now_ms, uint32_t budget, Fire&& fire) {
    WheelRun run;
    const uint64_t now_tick = now_ms >> shift_;
    for (;;) {
      if (!open_) {
        if (cursor_ > now_tick) {
          run.caught_up = true;
          return run;
        }
        if (run.steps == budget) return run;
        // A worker that slept through more than a revolution needs each slot only once.
        if (now_tick - cursor_ >= n_slots_) cursor_ = now_tick - n_slots_ + 1;
        // Opening a slot is a step; passing an empty one is a sixteenth of one (a load of a
        // sequential slot head), so idle stretches do not eat the budget of due entries.
        if (slots_[slot_of(cursor_)].top != kNoBlock) {
          ++run.steps;
          open_ = true;
        } else {
          if ((++empty_passed_ & 15) == 0) ++run.steps;
          ++cursor_;
          continue;
        }
      }
      Slot& slot = slots_[slot_of(cursor_)];
      if (slot.top == kNoBlock) {
        open_ = false;
        ++cursor_;
        continue;
      }
      if (run.steps == budget) return run;
      ++run.steps;
      const uint32_t node = pop(slot);
      Conn& c = table_.at(node);
      ++run.visited;
      if (c.expires_ms > now_ms) {
        arm(c);
        ++run.refiled;
        continue;
      }
      ++run.fired;
      if (fire(c)) {
        arm(c);
        ++run.kept;
      }
    }
  }

 private:
  static constexpr uint32_t kBlockSlots = 15;
  static constexpr uint32_t kNoBlock = UINT32_MAX;
  // Entries ahead of the one being expired whose cache lines are already being fetched.
  static constexpr uint32_t kFetchAhead = 8;

  struct alignas(64) Block {
    uint32_t idx[kBlockSlots];
    uint32_t below;  // next block down the slot's stack (full), or kNoBlock
  };
  static_assert(sizeof(Block) == 64);

  struct Slot {
    uint32_t top = kNoBlock;  // block being filled
    uint32_t count = 0;       // indexes in the top block, 1..15 when top is set
  };

  uint32_t slot_of(uint64_t tick) const { return static_cast<uint32_t>(tick & (n_slots_ - 1)); }
  // The slot an expiry is filed in. While a slot is open (being drained) nothing new goes into
  // it, or an entry not yet due would come straight back to the same pass.
  uint32_t slot_for(uint64_t expires_ms) const {
    uint64_t tick = expires_ms >> shift_;
    const uint64_t first = open_ ? cursor_ + 1 : cursor_;
    if (tick < first || (open_ && slot_of(tick) == slot_of(cursor_))) tick = first;
    return slot_of(tick);
  }
  void push(uint32_t s, uint32_t node) {
    Slot& slot = slots_[s];
    if (slot.top == kNoBlock || slot.count == kBlockSlots) {
      const uint32_t b = free_block_;
      free_block_ = blocks_[b].below;
      blocks_[b].below = slot.top;
      slot.top = b;
      slot.count = 0;
    }
    blocks_[slot.top].idx[slot.count] = node;
    Conn& c = table_.at(node);
    c.wheel_next = slot.top;
    c.wheel_prev = s << 4 | slot.count;
    ++slot.count;
    ++armed_;
  }
  // Takes the top index off `slot` (fetching the entries that follow it).
  uint32_t pop(Slot& slot) {
    Block& top = blocks_[slot.top];
    const uint32_t node = top.idx[slot.count - 1];
    drop_top(slot);
    prefetch_ahead(slot);
    Conn& c = table_.at(node);
    c.wheel_next = kNoConn;
    --armed_;
    return node;
  }
  void remove(Conn& c) {
    const uint32_t block = c.wheel_next;
    const uint32_t s = c.wheel_prev >> 4;
    const uint32_t pos = c.wheel_prev & 15;
    Slot& slot = slots_[s];
    const uint32_t last = blocks_[slot.top].idx[slot.count - 1];
    if (block != slot.top || pos != slot.count - 1) {
      // The slot's top index fills the hole.
      blocks_[block].idx[pos] = last;
      Conn& moved = table_.at(last);
      moved.wheel_next = block;
      moved.wheel_prev = s << 4 | pos;
    }
    drop_top(slot);
    c.wheel_next = kNoConn;
    --armed_;
  }
  // Forgets the top index of `slot`, returning an emptied block to the pool.
  void drop_top(Slot& slot) {
    if (--slot.count > 0) return;
    const uint32_t b = slot.top;
    slot.top = blocks_[b].below;
    slot.count = slot.top == kNoBlock ? 0 : kBlockSlots;
    blocks_[b].below = free_block_;
    free_block_ = b;
  }
  // The index `depth` places below the top of `slot` (0 = top), or kNoConn; depth < 15.
  uint32_t peek(const Slot& slot, uint32_t depth) const {
    if (slot.top == kNoBlock) return kNoConn;
    const Block& top = blocks_[slot.top];
    if (depth < slot.count) return top.idx[slot.count - 1 - depth];
    if (top.below == kNoBlock) return kNoConn;
    // Blocks below the top are full.
    return blocks_[top.below].idx[kBlockSlots - 1 - (depth - slot.count)];
  }
  // Expiring an entry costs two dependent cache misses, the entry and then its index bucket.
  // Fetch entries kFetchAhead places ahead, and the buckets of those kFetchAhead / 2 ahead
  // (whose entries were fetched kFetchAhead / 2 steps ago).
  void prefetch_ahead(const Slot& slot) const {
    if (const uint32_t far = peek(slot, kFetchAhead); far != kNoConn) {
      const char* e = reinterpret_cast<const char*>(&table_.at(far));
      prefetch_line(e);
      prefetch_line(e + 64);
    }
    if (const uint32_t mid = peek(slot, kFetchAhead / 2); mid != kNoConn)
      table_.prefetch_links(table_.at(mid));
  }

  Table& table_;
  const uint32_t n_slots_;
  const uint32_t shift_;
  uint64_t cursor_;    // tick of the open slot, or of the next slot to open
  bool open_ = false;  // slot cursor_ is being drained
  uint32_t armed_ = 0;
  uint32_t empty_passed_ = 0;
  uint32_t free_block_ = kNoBlock;
  Region blocks_region_;
  Region slots_region_;
  Block* blocks_ = nullptr;
  Slot* slots_ = nullptr;
};

}  // namespace uvs::conn
