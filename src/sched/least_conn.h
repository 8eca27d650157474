// Helpers of the least-connection family: the kernel's lc, wlc, sed, nq, fo, ovf, lblc and lblcr
// schedulers (ip_vs_lc.c ... ip_vs_lblcr.c).
#pragma once

#include <span>

#include "sched/dest.h"

namespace uvs::sched {

// Cross-multiplied load comparisons: a * b > c * d with loads (overheads, up to 2^39) and
// weights (up to 2^31). The kernel keeps overhead in an int and wraps past 2^31; exact answers
// need 128 bits only when a load reaches 2^32 (2^24 active connections on one dest), so the
// usual case stays in 64-bit arithmetic.
inline bool products_greater(int64_t a_load, int64_t b_weight, int64_t c_load, int64_t d_weight) {
  if (((a_load | c_load) >> 32) == 0) return a_load * b_weight > c_load * d_weight;
  return static_cast<__int128>(a_load) * b_weight > static_cast<__int128>(c_load) * d_weight;
}

// Marks a branch that is rarely taken in a walk over many dests (a new minimum or maximum).
// The empty asm keeps it a predicted branch: as conditional moves, the running best would chain
// every iteration to the previous one's multiply and compare, about 5 cycles per dest instead
// of 2-3 on the 1000-dest benchmark.
inline void new_best_found() { asm volatile(""); }

// The walk of ip_vs_wlc_schedule() and ip_vs_sed_schedule(), which differ only in a dest's load
// (overhead for wlc, activeconns + 1 for sed): the first dest that is not OVERLOAD and has
// weight > 0 seeds the search; a later non-OVERLOAD dest d replaces the least one l when
// load(l) * weight(d) > load(d) * weight(l), so ties keep the earlier dest and weight-0 dests
// never win. A template, so that `load` inlines into the loop.
template <typename LoadFn>
inline Dest* pick_least_load_per_weight(std::span<Dest* const> dests, LoadFn load) {
  const size_t n = dests.size();
  size_t i = 0;
  Dest* least = nullptr;
  for (; i < n; ++i) {
    if (!dests[i]->overloaded() && dests[i]->weight() > 0) {
      least = dests[i];
      break;
    }
  }
  if (least == nullptr) return nullptr;
  int64_t least_load = load(*least);
  int64_t least_weight = least->weight();
  for (++i; i < n; ++i) {
    Dest* d = dests[i];
    if (d->overloaded()) continue;
    const int64_t d_load = load(*d);
    const int64_t weight = d->weight();
    if (products_greater(least_load, weight, d_load, least_weight)) {
      new_best_found();
      least = d;
      least_load = d_load;
      least_weight = weight;
    }
  }
  return least;
}

// wlc's choice (ip_vs_wlc_schedule()), also lblc/lblcr's fallback.
inline Dest* pick_weighted_least_conn(std::span<Dest* const> dests) {
  return pick_least_load_per_weight(dests, [](const Dest& d) { return d.overhead(); });
}

// lblc/lblcr's notion of overloaded (not the OVERLOAD flag): more active connections than its
// weight while some dest of the service is below half of its own weight.
inline bool locality_overloaded(const Dest& dest, std::span<Dest* const> dests) {
  if (dest.activeconns() <= dest.weight()) return false;
  for (const Dest* d : dests)
    if (int64_t{d->activeconns()} * 2 < d->weight()) return true;
  return false;
}

}  // namespace uvs::sched
