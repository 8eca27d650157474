#include "conn/timer_wheel.h"

#include <algorithm>

namespace uvs::conn {

namespace {

uint32_t block_count(uint32_t capacity, uint32_t n_slots) {
  // Every armed entry fills a block position; each slot has at most one block not full.
  return capacity / 15 + n_slots + 2;
}

}  // namespace

TimerWheel::TimerWheel(Table& table, uint64_t now_ms, const WheelOptions& options)
    : table_(table),
      n_slots_(uint32_t{1} << std::clamp<uint32_t>(options.slot_bits, 1, 24)),
      shift_(std::min<uint32_t>(options.slot_shift, 20)),
      cursor_(now_ms >> shift_),
      blocks_region_(sizeof(Block) * size_t{block_count(table.capacity(), n_slots_)}),
      slots_region_(sizeof(Slot) * size_t{n_slots_}) {
  blocks_ = static_cast<Block*>(blocks_region_.data());
  slots_ = static_cast<Slot*>(slots_region_.data());
  const uint32_t n_blocks = block_count(table.capacity(), n_slots_);
  for (uint32_t b = 0; b < n_blocks; ++b) blocks_[b].below = b + 1 < n_blocks ? b + 1 : kNoBlock;
  free_block_ = 0;
  for (uint32_t s = 0; s < n_slots_; ++s) slots_[s] = Slot{};
}

}  // namespace uvs::conn
