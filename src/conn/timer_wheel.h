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
// Slots are slot_width ms wide; an entry fires within one slot width after it is due. Expiries
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

  // Files `c` by c.expires_ms; `c` must not be armed. An expiry already past is filed in the
  // next slot to come due.
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

  // Visits due entries, at most `budget` steps (an entry visited or a slot opened is a step).
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
        if (budget == 0) return run;
        --budget;
        unlink(node);
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
      // A slot is due once all of it is in the past, so nothing in it can be refiled into it.
      if (cursor_ >= now_tick) {
        run.caught_up = true;
        return run;
      }
      if (budget == 0) return run;
      --budget;
      // A worker that slept through more than a revolution needs each slot only once.
      if (now_tick - cursor_ > n_slots_) cursor_ = now_tick - n_slots_;
      move_slot_to_pending(slot_head(cursor_));
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
  void move_slot_to_pending(uint32_t slot);

  Table& table_;
  const uint32_t capacity_;
  const uint32_t n_slots_;
  const uint32_t shift_;
  uint64_t cursor_;  // tick of the next slot to open
  uint32_t armed_ = 0;
  std::vector<Link> heads_;  // n_slots_ slot sentinels, then the pending sentinel
};

}  // namespace uvs::conn
