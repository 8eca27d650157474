#include "sched/scheduler.h"

#include "util/hash.h"

namespace uvs::sched {

namespace {

// Fibonacci hashing of a dest serial; serials are dense, so any odd multiplier spreads them.
uint32_t serial_slot(uint64_t serial, uint32_t mask) {
  return static_cast<uint32_t>((serial * util::kGolden64) >> 40) & mask;
}

}  // namespace

BuildResult Scheduler::build(const BuildContext&) const { return {}; }

std::unique_ptr<WorkerState> Scheduler::new_worker_state(const SchedOptions&, unsigned) const {
  return nullptr;
}

int SchedView::index_of_serial(uint64_t serial) const {
  if (serial == 0) return -1;
  uint32_t slot = serial_slot(serial, serial_mask_);
  for (;;) {
    const SerialSlot& s = serial_index_[slot];
    if (s.serial == serial) return s.index;
    if (s.serial == 0) return -1;
    slot = (slot + 1) & serial_mask_;
  }
}

void SchedView::index_serials() {
  size_t size = 4;
  while (size < dests_.size() * 2) size *= 2;
  serial_index_.assign(size, SerialSlot{});
  serial_mask_ = static_cast<uint32_t>(size - 1);
  for (size_t i = 0; i < dests_.size(); ++i) {
    const uint64_t serial = dests_[i]->serial();
    uint32_t slot = serial_slot(serial, serial_mask_);
    while (serial_index_[slot].serial != 0) slot = (slot + 1) & serial_mask_;
    serial_index_[slot] = SerialSlot{serial, static_cast<int32_t>(i)};
  }
}

}  // namespace uvs::sched
