#include "dp/offload.h"

#include <algorithm>

#include "conn/state.h"

namespace uvs::dp {

bool offloadable(const conn::Conn& c) {
  if (c.is_template() || (c.flags & (conn::kConnOnePacket | conn::kConnNoCport))) return false;
  switch (c.protocol) {
    case IPPROTO_TCP:
      return c.state == conn::tcp::kEstablished;
    case IPPROTO_UDP:
      return true;
    case IPPROTO_SCTP:
      return c.state == conn::sctp::kEstablished;
    default:
      return false;
  }
}

Offload::Offload(const OffloadOptions& options, uint32_t conn_capacity)
    : options_(options), slot_of_(conn_capacity, kNoSlot) {
  const uint32_t pairs = enabled() ? options.slots / 2 : 0;
  conn_of_.assign(pairs, conn::kNoConn);
  folded_.assign(2 * size_t{pairs}, uvs_flow_stats{});
  keys_.assign(2 * size_t{pairs}, uvs_flow_key{});
  free_pairs_.reserve(pairs);
  for (uint32_t p = pairs; p-- > 0;) free_pairs_.push_back(p);
}

bool Offload::queue(OffloadRequest::Op op, const uvs_flow_key& key, const uvs_flow* flow) {
  OffloadRequest* r = options_.ring->claim();
  if (!r) {
    ++queue_full_;
    return false;
  }
  r->op = op;
  r->key = key;
  if (flow) r->flow = *flow;
  options_.ring->publish();
  return true;
}

bool Offload::install(uint32_t conn, const uvs_flow_key* in_key, uvs_flow* in,
                      const uvs_flow_key* out_key, uvs_flow* out) {
  if (!enabled() || slot_of_[conn] != kNoSlot || (!in && !out)) return false;
  if (free_pairs_.empty()) {
    ++no_slot_;
    return false;
  }
  const uint32_t pair = free_pairs_.back();
  const uvs_flow_key* keys[2] = {in_key, out_key};
  uvs_flow* flows[2] = {in, out};
  for (uint32_t dir = 0; dir < 2; ++dir) {
    const uint32_t slot = 2 * pair + dir;
    keys_[slot] = uvs_flow_key{};
    if (!flows[dir]) continue;
    // XDP may still be adding to the slot's previous owner; start from what is there now.
    folded_[slot].packets = options_.stats[options_.first_slot + slot].packets;
    folded_[slot].bytes = options_.stats[options_.first_slot + slot].bytes;
    flows[dir]->stats = options_.first_slot + slot;
    if (!queue(OffloadRequest::Op::kInstall, *keys[dir], flows[dir])) {
      // Undo the direction already queued, so nothing is left behind in the maps.
      if (dir == 1 && keys_[2 * pair].family) queue(OffloadRequest::Op::kRemove, keys_[2 * pair], nullptr);
      return false;
    }
    keys_[slot] = *keys[dir];
  }
  free_pairs_.pop_back();
  conn_of_[pair] = conn;
  slot_of_[conn] = 2 * pair;
  return true;
}

void Offload::remove(uint32_t conn) {
  if (!enabled() || slot_of_[conn] == kNoSlot) return;
  const uint32_t pair = slot_of_[conn] / 2;
  for (uint32_t dir = 0; dir < 2; ++dir) {
    uvs_flow_key& key = keys_[2 * pair + dir];
    // A full ring loses the removal; the stale entry then matches no connection and is
    // overwritten when the tuple is offloaded again (its slot counts for nobody meanwhile).
    if (key.family) queue(OffloadRequest::Op::kRemove, key, nullptr);
    key = uvs_flow_key{};
  }
  conn_of_[pair] = conn::kNoConn;
  slot_of_[conn] = kNoSlot;
  free_pairs_.push_back(pair);
}

uint64_t Offload::last_seen_ms(uint32_t conn) const {
  if (!enabled() || slot_of_[conn] == kNoSlot) return 0;
  const uvs_flow_stats* s = options_.stats + options_.first_slot + slot_of_[conn];
  return std::max(s[0].last_seen_ns, s[1].last_seen_ns) / 1000000;
}

}  // namespace uvs::dp
