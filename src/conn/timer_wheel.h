// Per-worker expiry of connection entries: a single-level hashed timer wheel over the table's
// pool, driven by the caller's clock (milliseconds, any epoch).
//
// Refreshing a connection on every packet must cost no more than a store, so the wheel is
// lazy: an entry is filed in the slot of the expiry it had when armed, and when that slot comes
// due each entry is checked again -- still in the future (a packet moved Conn::expires_ms), it
// is filed again by its new expiry; due, it is handed to the caller. A connection is therefore
// visited about once per timeout, not once per packet. Only an expiry that moves *earlier*
// (a state with a shorter timeout) must be refiled at once; Tracker::release does that.
//
// Slots are slot_width ms wide. An entry fires at the first advance() at or after its expiry,
// or up to one slot width later if it was armed into a slot already opened. Expiries
// beyond one revolution (65536 slots x 16 ms = 17.5 min by default) are filed modulo the
// wheel and refiled each revolution, which supports any timeout (31-day persistence included)
// at one visit per revolution.
//
// Lists are circular and doubly linked through Conn::wheel_next/wheel_prev by pool index, with
// one sentinel per slot, so arming and disarming are O(1) and need no slot number in the
// entry. advance() takes a budget: expiry never stalls a burst, it catches up over later calls.
#pragma once

#include <cstdint>
#include <vector>

#include "conn/table.h"

namespace uvs::conn {

struct WheelOptions {
  uint32_t slot_bits = 16;  // 2^slot_bits slots
  uint32_t slot_shift = 4;  // slot width 2^slot_shift ms (16 ms)
};

struct WheelRun {
  uint32_t steps = 0;    // budget used
  uint32_t visited = 0;  // entries taken off a due slot
  uint32_t refiled = 0;  // of those, not due any more (refreshed) and filed again
  uint32_t fired = 0;    // of those, handed to fire()
  uint32_t kept = 0;     // of the fired, re-armed because fire() returned true
  bool caught_up = false;  // nothing due at `now` is left unvisited
};

class TimerWheel {
 public:
  TimerWheel(Table& table, uint64_t now_ms, const WheelOptions& options = {});
  TimerWheel(const TimerWheel&) = delete;
  TimerWheel& operator=(const TimerWheel&) = delete;

  // Files `c` by c.expires_ms; `c` must not be armed. An expiry in a slot already opened (or
  // past) is filed in the next slot to open.
  void arm(Conn& c) { link_head(slot_head(slot_tick(c.expires_ms)), table_.index_of(c)); }
  // Takes `c` off the wheel if it is on it.
  void disarm(Conn& c) {
    if (!armed(c)) return;
    unlink(table_.index_of(c));
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

  // Visits due entries, at most `budget` steps (an entry visited or a slot opened is a step,
  // sixteen empty slots passed are one).
  // fire(Conn&) -> bool receives each entry whose expires_ms <= now_ms, already off the wheel;
  // it either frees it (return false) or sets a new expires_ms and returns true to re-arm it.
  // fire() may disarm or free other entries.
  template <typename Fire>
  WheelRun advance(uint64_t now_ms, uint32_t budget, Fire&& fire) {
    WheelRun run;
    const uint64_t now_tick = now_ms >> shift_;
    const uint32_t pending = pending_head();
    for (;;) {
      const uint32_t node = next_of(pending);
      if (node != pending) {
        if (run.steps == budget) return run;
        ++run.steps;
        unlink(node);
        // Expiring an entry is a few dependent cache misses; start the next one's now.
        if (const uint32_t next = next_of(pending); next != pending) {
          const char* e = reinterpret_cast<const char*>(&table_.at(next));
          __builtin_prefetch(e);
          __builtin_prefetch(e + 64);
        }
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
        continue;
      }
      // Slots up to the one `now` falls in. The cursor moves past a slot as it is opened, so
      // an entry of the current slot not due yet is refiled into the next one.
      if (cursor_ > now_tick) {
        run.caught_up = true;
        return run;
      }
      if (run.steps == budget) return run;
      // A worker that slept through more than a revolution needs each slot only once.
      if (now_tick - cursor_ >= n_slots_) cursor_ = now_tick - n_slots_ + 1;
      // Opening a slot is a step; passing an empty one is a sixteenth of one (a load of a
      // sequential sentinel), so idle stretches do not eat the budget of due entries.
      if (move_slot_to_pending(slot_head(cursor_)) || (++empty_passed_ & 15) == 0) ++run.steps;
      ++cursor_;
    }
  }

 private:
  struct Link {
    uint32_t next;
    uint32_t prev;
  };

  // Node ids: below capacity_ a pool entry; capacity_ + k the sentinel of slot k;
  // capacity_ + n_slots_ the sentinel of the list being worked through.
  uint32_t slot_head(uint64_t tick) const {
    return capacity_ + static_cast<uint32_t>(tick & (n_slots_ - 1));
  }
  uint32_t pending_head() const { return capacity_ + n_slots_; }
  uint64_t slot_tick(uint64_t expires_ms) const {
    const uint64_t tick = expires_ms >> shift_;
    return tick < cursor_ ? cursor_ : tick;
  }
  uint32_t& next_of(uint32_t node) {
    return node < capacity_ ? table_.at(node).wheel_next : heads_[node - capacity_].next;
  }
  uint32_t& prev_of(uint32_t node) {
    return node < capacity_ ? table_.at(node).wheel_prev : heads_[node - capacity_].prev;
  }
  void link_head(uint32_t head, uint32_t node) {
    const uint32_t first = next_of(head);
    next_of(node) = first;
    prev_of(node) = head;
    prev_of(first) = node;
    next_of(head) = node;
    ++armed_;
  }
  void unlink(uint32_t node) {
    const uint32_t next = next_of(node);
    const uint32_t prev = prev_of(node);
    next_of(prev) = next;
    prev_of(next) = prev;
    next_of(node) = kNoConn;
    prev_of(node) = kNoConn;
    --armed_;
  }
  // False if the slot was empty.
  bool move_slot_to_pending(uint32_t slot);

  Table& table_;
  const uint32_t capacity_;
  const uint32_t n_slots_;
  const uint32_t shift_;
  uint64_t cursor_;  // tick of the next slot to open; slots before it have been opened
  uint32_t armed_ = 0;
  uint32_t empty_passed_ = 0;
  std::vector<Link> heads_;  // n_slots_ slot sentinels, then the pending sentinel
};

}  // namespace uvs::conn
