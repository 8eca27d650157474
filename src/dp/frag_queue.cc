#include "dp/frag_queue.h"

namespace uvs::dp {

FragQueue::FragQueue()
    : datagrams_(std::make_unique<Datagram[]>(kMaxDatagrams)),
      dropped_(std::make_unique<io::Frame[]>(kMaxFrames + kMaxFragments)) {}

FragQueue::Datagram* FragQueue::find(const pkt::ParsedPacket& p) {
  for (uint32_t i = 0; i < kMaxDatagrams; ++i) {
    Datagram& d = datagrams_[i];
    if (d.in_use && d.id == p.frag_id && d.proto == p.proto && d.saddr == p.saddr &&
        d.daddr == p.daddr)
      return &d;
  }
  return nullptr;
}

FragQueue::Datagram* FragQueue::create(const pkt::ParsedPacket& p, uint64_t now_ms) {
  if (used_ == kMaxDatagrams) make_room(0);
  for (uint32_t i = 0; i < kMaxDatagrams; ++i) {
    Datagram& d = datagrams_[i];
    if (d.in_use) continue;
    d.in_use = true;
    d.saddr = p.saddr;
    d.daddr = p.daddr;
    d.id = p.frag_id;
    d.proto = p.proto;
    d.first_ms = now_ms;
    d.end = 0;
    d.count = 0;
    ++used_;
    return &d;
  }
  return nullptr;  // unreachable: make_room() freed one
}

void FragQueue::give_up(Datagram& d) {
  for (uint32_t i = 0; i < d.count; ++i) dropped_[dropped_count_++] = d.pieces[i].frame;
  frames_held_ -= d.count;
  d.count = 0;
  d.in_use = false;
  --used_;
}

// Drops the oldest datagrams until `frames` more fit and a datagram slot is free (as
// inet_frag_kill() of the oldest queue when ipfrag_high_thresh is reached).
void FragQueue::make_room(uint32_t frames) {
  while (used_ && (used_ == kMaxDatagrams || frames_held_ + frames > kMaxFrames)) {
    Datagram* oldest = nullptr;
    for (uint32_t i = 0; i < kMaxDatagrams; ++i) {
      Datagram& d = datagrams_[i];
      if (d.in_use && (!oldest || d.first_ms < oldest->first_ms)) oldest = &d;
    }
    give_up(*oldest);
  }
}

bool FragQueue::complete(const Datagram& d) const {
  if (!d.end || !d.count || d.pieces[0].start != 0) return false;
  uint32_t covered = 0;
  for (uint32_t i = 0; i < d.count; ++i) {
    if (d.pieces[i].start != covered) return false;
    covered = d.pieces[i].end;
  }
  return covered == d.end;
}

FragQueue::Added FragQueue::add(const io::Frame& f, const pkt::ParsedPacket& p,
                                uint64_t now_ms) {
  const uint32_t start = p.frag_offset;
  const uint32_t end = start + (p.l3_end - p.frag_data_off);
  Datagram* d = find(p);
  if (!d) {
    make_room(1);
    d = create(p, now_ms);
  }
  // Where it goes, and whether it overlaps what is held (ip_frag_queue()'s checks).
  uint32_t at = d->count;
  while (at > 0 && d->pieces[at - 1].start >= start) --at;
  for (uint32_t i = 0; i < d->count; ++i) {
    const Piece& q = d->pieces[i];
    if (q.start == start && q.end == end) return Added::kDuplicate;
  }
  const bool overlaps = (at > 0 && d->pieces[at - 1].end > start) ||
                        (at < d->count && d->pieces[at].start < end);
  const bool bad_end = !p.more_fragments ? (d->end && d->end != end) || (d->count &&
                                            d->pieces[d->count - 1].end > end)
                                         : d->end && end > d->end;
  if (overlaps || bad_end || d->count == kMaxFragments) {
    give_up(*d);
    return Added::kBad;
  }
  if (frames_held_ == kMaxFrames) {
    make_room(1);
    if (!d->in_use) {  // it was the oldest: start it again
      d = create(p, now_ms);
      at = 0;
    }
  }
  for (uint32_t i = d->count; i > at; --i) d->pieces[i] = d->pieces[i - 1];
  d->pieces[at] = Piece{f, start, end};
  ++d->count;
  ++frames_held_;
  if (!p.more_fragments) d->end = end;
  if (!complete(*d)) return Added::kHeld;
  out_count_ = d->count;
  for (uint32_t i = 0; i < d->count; ++i) out_[i] = d->pieces[i].frame;
  frames_held_ -= d->count;
  d->count = 0;
  d->in_use = false;
  --used_;
  return Added::kComplete;
}

void FragQueue::expire(uint64_t now_ms) {
  if (!used_) return;
  for (uint32_t i = 0; i < kMaxDatagrams; ++i) {
    Datagram& d = datagrams_[i];
    if (d.in_use && now_ms >= d.first_ms + kTimeoutMs) give_up(d);
  }
}

}  // namespace uvs::dp
