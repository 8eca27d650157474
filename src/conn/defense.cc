#include "conn/defense.h"

namespace uvs::conn {

namespace {

constexpr uint64_t kIdleBeforeDropMs = 60 * 1000;

}  // namespace

void Defense::set_modes(const DefenseModes& modes) {
  modes_ = modes;
  if (modes_.full_percent > 100) modes_.full_percent = 100;
}

void Defense::update(uint32_t available, uint32_t capacity) {
  // amemthresh: the free entries a table "more than full_percent full" has at most.
  const uint64_t threshold = uint64_t{capacity} * (100 - modes_.full_percent) / 100;
  low_memory_ = available < threshold;

  switch (modes_.drop_entry) {
    case 0:
      drop_entry_active_ = false;
      break;
    case 1:
      drop_entry_active_ = low_memory_;
      if (low_memory_) modes_.drop_entry = 2;
      break;
    case 2:
      drop_entry_active_ = low_memory_;
      if (!low_memory_) modes_.drop_entry = 1;
      break;
    default:
      drop_entry_active_ = true;
      break;
  }

  // The kernel's rate: amemthresh / (amemthresh - available), so the fuller, the more dropped.
  auto pressure_rate = [&]() -> uint32_t {
    const uint64_t rate = threshold / (threshold - available);
    return static_cast<uint32_t>(rate == 0 ? 1 : rate);
  };
  switch (modes_.drop_packet) {
    case 0:
      drop_rate_ = 0;
      break;
    case 1:
      if (low_memory_) {
        drop_rate_ = pressure_rate();
        drop_counter_ = static_cast<int32_t>(drop_rate_);
        modes_.drop_packet = 2;
      } else {
        drop_rate_ = 0;
      }
      break;
    case 2:
      if (low_memory_) {
        drop_rate_ = pressure_rate();
        drop_counter_ = static_cast<int32_t>(drop_rate_);
      } else {
        drop_rate_ = 0;
        modes_.drop_packet = 1;
      }
      break;
    default:
      drop_rate_ = modes_.am_droprate > 0 ? static_cast<uint32_t>(modes_.am_droprate) : 0;
      break;
  }

  // secure_tcp_active() reads the mode: the secure table is in use while it is 2 or 3.
  if (modes_.secure_tcp == 1 && low_memory_)
    modes_.secure_tcp = 2;
  else if (modes_.secure_tcp == 2 && !low_memory_)
    modes_.secure_tcp = 1;
}

bool Defense::drop_entry_candidate(const Conn& c, uint64_t now_ms) {
  // expires = last packet + timeout, so this is "idle for less than 60 s".
  if (now_ms + c.timeout_ms < c.expires_ms + kIdleBeforeDropMs) return false;
  const uint32_t pkts = c.in_pkts;
  if (pkts < 1 || pkts > 8) return false;
  const uint32_t i = pkts - 1;
  if (--entry_counters_[i] > 0) return false;
  entry_counters_[i] = static_cast<int8_t>(i + 1);
  return true;
}

}  // namespace uvs::conn
