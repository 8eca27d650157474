// The lookup tables of the hashing schedulers, built by the control plane (dh.cc, sh.cc, mh.cc).
// Exposed so tests can check their contents and benchmarks can time their construction.
#pragma once

#include <array>
#include <memory>
#include <optional>
#include <span>
#include <vector>

#include "sched/dest.h"

namespace uvs::sched {

inline constexpr unsigned kDhBits = 8;  // CONFIG_IP_VS_DH_TAB_BITS
inline constexpr unsigned kShBits = 8;  // CONFIG_IP_VS_SH_TAB_BITS
using DhBuckets = std::array<Dest*, size_t{1} << kDhBits>;
using ShBuckets = std::array<Dest*, size_t{1} << kShBits>;

// dh: bucket i holds dests[i % n] (list order, weights ignored); all null without dests.
DhBuckets build_dh_table(std::span<const std::shared_ptr<Dest>> dests);

// sh: walking the list from the head, each dest takes max(weight, 1) consecutive buckets,
// cycling until all are filled.
ShBuckets build_sh_table(std::span<const std::shared_ptr<Dest>> dests);

// mh: the Maglev table of `size` slots (a prime from kMhTableSizes) by last_weight, the dests
// walked by (family, address, port) whatever their list order (so the same set always gives the
// same table); all null if no dest has a last weight; nullopt if there are more dests than slots
// (the kernel's EINVAL).
std::optional<std::vector<Dest*>> build_mh_table(std::span<const std::shared_ptr<Dest>> dests,
                                                 uint32_t size);

// mh's hash: SipHash-1-3 keyed {key, key} of the u32 offset + port + fold(addr).
inline constexpr uint64_t kMhKey1 = 2654435761ULL;  // slot of a client, offset of a dest
inline constexpr uint64_t kMhKey2 = 2654446892ULL;  // skip of a dest
uint32_t mh_hash(const InetAddr& addr, uint32_t port, uint64_t key, uint32_t offset);

}  // namespace uvs::sched
