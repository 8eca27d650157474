#include "conn/timer_wheel.h"

#include <algorithm>

namespace uvs::conn {

TimerWheel::TimerWheel(Table& table, uint64_t now_ms, const WheelOptions& options)
    : table_(table),
      capacity_(table.capacity()),
      n_slots_(uint32_t{1} << std::clamp<uint32_t>(options.slot_bits, 1, 24)),
      shift_(std::min<uint32_t>(options.slot_shift, 20)),
      cursor_(now_ms >> shift_),
      heads_(n_slots_ + 1) {
  for (uint32_t k = 0; k <= n_slots_; ++k) heads_[k] = Link{capacity_ + k, capacity_ + k};
}

bool TimerWheel::move_slot_to_pending(uint32_t slot) {
  const uint32_t first = next_of(slot);
  if (first == slot) return false;
  const uint32_t last = prev_of(slot);
  const uint32_t pending = pending_head();
  // The pending list is empty whenever a slot is opened.
  next_of(pending) = first;
  prev_of(pending) = last;
  prev_of(first) = pending;
  next_of(last) = pending;
  next_of(slot) = slot;
  prev_of(slot) = slot;
  return true;
}

}  // namespace uvs::conn
