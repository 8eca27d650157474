#include "sched/dest.h"

namespace uvs::sched {

namespace {

std::atomic<uint64_t> next_serial{1};  // 0 means "no dest" in per-worker caches

uint64_t pack(const DestForwarding& f) {
  return uint64_t{static_cast<uint8_t>(f.fwd)} | uint64_t{static_cast<uint8_t>(f.tun_type)} << 8 |
         uint64_t{static_cast<uint8_t>(f.tun_flags)} << 16 | uint64_t{f.tun_port} << 24;
}

}  // namespace

Dest::Dest(const DestKey& key)
    : serial_(next_serial.fetch_add(1, std::memory_order_relaxed)), key_(key) {
  forwarding_.store(pack(DestForwarding{}), std::memory_order_relaxed);
}

DestForwarding Dest::forwarding() const {
  const uint64_t w = forwarding_.load(std::memory_order_relaxed);
  DestForwarding f;
  f.fwd = static_cast<Fwd>(w & 0xff);
  f.tun_type = static_cast<TunType>((w >> 8) & 0xff);
  f.tun_flags = static_cast<TunCsum>((w >> 16) & 0xff);
  f.tun_port = static_cast<uint16_t>((w >> 24) & 0xffff);
  return f;
}

void Dest::apply_config(const DestConfig& config, bool add) {
  if (add || config.weight != 0) last_weight_.store(config.weight, std::memory_order_relaxed);
  weight_.store(config.weight, std::memory_order_relaxed);
  forwarding_.store(pack(DestForwarding{config.fwd, config.tun_type, config.tun_flags,
                                        config.tun_port}),
                    std::memory_order_relaxed);
  flags_.fetch_or(kDestAvailable, std::memory_order_relaxed);
  // Raising the upper threshold (or removing it) lets the dest take connections again at once;
  // lowering it waits for the next bind to re-evaluate.
  if (config.u_threshold == 0 || config.u_threshold > u_threshold())
    flags_.fetch_and(~kDestOverload, std::memory_order_relaxed);
  u_threshold_.store(config.u_threshold, std::memory_order_relaxed);
  l_threshold_.store(config.l_threshold, std::memory_order_relaxed);
}

void Dest::bind_conn(ConnKind kind) {
  switch (kind) {
    case ConnKind::kActive:
      activeconns_.fetch_add(1, std::memory_order_relaxed);
      break;
    case ConnKind::kInactive:
      inactconns_.fetch_add(1, std::memory_order_relaxed);
      break;
    case ConnKind::kTemplate:
      persistconns_.fetch_add(1, std::memory_order_relaxed);
      break;
  }
  // The kernel evaluates this after binding templates too; their count is not in the total,
  // but a threshold lowered by an edit takes effect at that bind.
  const uint32_t upper = u_threshold();
  if (upper != 0 && total_conns() >= upper && !overloaded())
    flags_.fetch_or(kDestOverload, std::memory_order_relaxed);
}

void Dest::unbind_conn(ConnKind kind) {
  switch (kind) {
    case ConnKind::kActive:
      activeconns_.fetch_sub(1, std::memory_order_relaxed);
      break;
    case ConnKind::kInactive:
      inactconns_.fetch_sub(1, std::memory_order_relaxed);
      break;
    case ConnKind::kTemplate:
      persistconns_.fetch_sub(1, std::memory_order_relaxed);
      break;
  }
  if (!overloaded()) return;  // only clearing is left to decide; skip the shared write
  const uint32_t lower = l_threshold();
  const uint32_t upper = u_threshold();
  const int64_t total = total_conns();
  bool clear;
  if (lower != 0)
    clear = total < lower;
  else if (upper != 0)
    clear = total * 4 < int64_t{upper} * 3;
  else
    clear = true;
  if (clear) flags_.fetch_and(~kDestOverload, std::memory_order_relaxed);
}

void Dest::conn_became_active() {
  activeconns_.fetch_add(1, std::memory_order_relaxed);
  inactconns_.fetch_sub(1, std::memory_order_relaxed);
}

void Dest::conn_became_inactive() {
  activeconns_.fetch_sub(1, std::memory_order_relaxed);
  inactconns_.fetch_add(1, std::memory_order_relaxed);
}

}  // namespace uvs::sched
