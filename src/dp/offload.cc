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
  egress_.assign(2 * size_t{pairs}, 0);
  free_pairs_.reserve(pairs);
  pending_removals_.reserve(2 * size_t{pairs});  // never more than the installed directions
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
  if (!enabled() || slot_of_[conn] != kNoSlot || (!in && !out) || !has_room()) return false;
  const uint32_t pair = free_pairs_.back();
  const uvs_flow_key* keys[2] = {in_key, out_key};
  uvs_flow* flows[2] = {in, out};
  bool queued = false;
  for (uint32_t dir = 0; dir < 2; ++dir) {
    const uint32_t slot = 2 * pair + dir;
    keys_[slot] = uvs_flow_key{};
    if (!flows[dir]) continue;
    // XDP may still be adding to the slot's previous owner; start from what is there now.
    folded_[slot].packets = options_.stats[options_.first_slot + slot].packets;
    folded_[slot].bytes = options_.stats[options_.first_slot + slot].bytes;
    flows[dir]->stats = options_.first_slot + slot;
    // A direction the ring had no room for stays in user space; one that was queued is
    // remembered, so that it is taken back with the connection.
    if (!queue(OffloadRequest::Op::kInstall, *keys[dir], flows[dir])) continue;
    keys_[slot] = *keys[dir];
    egress_[slot] = flows[dir]->ifindex;
    queued = true;
  }
  if (!queued) return false;
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
    // A removal the ring has no room for waits for the next turn: a flow left in the map
    // would go on forwarding for a connection that no longer exists.
    if (key.family && !queue(OffloadRequest::Op::kRemove, key, nullptr))
      pending_removals_.push_back(key);
    key = uvs_flow_key{};
  }
  conn_of_[pair] = conn::kNoConn;
  slot_of_[conn] = kNoSlot;
  free_pairs_.push_back(pair);
}

void Offload::retry_removals() {
  size_t done = 0;
  while (done < pending_removals_.size() &&
         queue(OffloadRequest::Op::kRemove, pending_removals_[done], nullptr))
    ++done;
  pending_removals_.erase(pending_removals_.begin(), pending_removals_.begin() + done);
}

uint64_t Offload::last_seen_ms(uint32_t conn) const {
  if (!enabled() || slot_of_[conn] == kNoSlot) return 0;
  const uvs_flow_stats* s = options_.stats + options_.first_slot + slot_of_[conn];
  return std::max(s[0].last_seen_ns, s[1].last_seen_ns) / 1000000;
}

}  // namespace uvs::dp
