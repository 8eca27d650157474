#include "dp/frag_queue.h"

#include <algorithm>
#include <cstring>

#include "pkt/checksum.h"
#include "pkt/headers.h"

namespace uvs::dp {

namespace {

// Bytes of L4 header the first fragment must hold: TCP's data offset once it is there.
uint32_t l4_header_needed(uint8_t proto, const uint8_t* l4, uint32_t have) {
  switch (proto) {
    case IPPROTO_TCP:
      return have >= 13 ? std::max<uint32_t>(pkt::kTcpHdrLen, (l4[12] >> 4) * 4u)
                        : pkt::kTcpHdrLen;
    case IPPROTO_UDP:
      return pkt::kUdpHdrLen;
    case IPPROTO_SCTP:
      return 16;  // common header + the first chunk's header
    default:
      return 0;
  }
}

// Sets a fragment's data length, offset and more-fragments flag in its IP header (and fragment
// header for IPv6).
void set_fragment(uint8_t* frame, const pkt::ParsedPacket& p, uint32_t data_len, uint32_t offset,
                  bool more) {
  uint8_t* ip = frame + p.l3_off;
  const uint32_t ip_len = p.frag_data_off - p.l3_off + data_len;
  if (p.is_v6()) {
    pkt::store_be16(ip + 4, static_cast<uint16_t>(ip_len - pkt::kIpv6HdrLen));
    pkt::store_be16(frame + p.ipv6_frag_hdr_off + 2,
                    static_cast<uint16_t>(offset | (more ? pkt::kIpv6FragMore : 0)));
  } else {
    pkt::store_be16(ip + 2, static_cast<uint16_t>(ip_len));
    const uint16_t df = pkt::load_be16(ip + 6) & pkt::kIpv4FlagDf;
    pkt::store_be16(ip + 6, static_cast<uint16_t>(df | (more ? pkt::kIpv4FlagMf : 0) | offset / 8));
    pkt::set_ipv4_header_checksum(ip);
  }
}

}  // namespace

size_t FragQueue::complete_l4_header(std::span<io::Frame> whole) {
  if (whole.size() < 2) return whole.size();
  io::Frame& a = whole[0];
  io::Frame& b = whole[1];
  pkt::ParsedPacket pa, pb;
  pkt::parse_frame(a.data, a.len, &pa);
  pkt::parse_frame(b.data, b.len, &pb);
  if (!pa.ok() || !pb.ok() || pa.has_l4) return whole.size();
  const uint32_t have = pa.l3_end - pa.frag_data_off;
  const uint32_t b_len = pb.l3_end - pb.frag_data_off;
  // Up to 60 bytes of it may be needed; what the second fragment holds is enough to read TCP's
  // data offset.
  uint8_t head[64];
  const uint32_t seen = std::min<uint32_t>(sizeof head, have + b_len);
  std::memcpy(head, a.data + pa.frag_data_off, std::min(have, seen));
  if (seen > have) std::memcpy(head + have, b.data + pb.frag_data_off, seen - have);
  const uint32_t need = l4_header_needed(pa.proto, head, seen);
  if (need <= have || need > seen) return whole.size();
  // Whole 8-byte units, or all the second fragment holds.
  const uint32_t move = std::min((need - have + 7) & ~7u, b_len);
  a.adjust_tail(-static_cast<int32_t>(a.len - pa.l3_end));  // link padding
  if (!a.adjust_tail(static_cast<int32_t>(move))) return whole.size();
  std::memcpy(a.data + pa.l3_end, b.data + pb.frag_data_off, move);
  if (move < b_len) {
    set_fragment(a.data, pa, have + move, 0, true);
    // The second loses them: its headers slide forward over the moved bytes.
    std::memmove(b.data + move, b.data, pb.frag_data_off);
    b.pull_front(static_cast<uint16_t>(move));
    set_fragment(b.data, pb, b_len - move, pb.frag_offset + move, pb.more_fragments);
    return whole.size();
  }
  // The second is emptied: the first takes its place (and its more-fragments flag); the empty
  // frame goes to the end, for the caller to free.
  set_fragment(a.data, pa, have + move, 0, pb.more_fragments);
  const io::Frame empty = b;
  for (size_t i = 1; i + 1 < whole.size(); ++i) whole[i] = whole[i + 1];
  whole[whole.size() - 1] = empty;
  return whole.size() - 1;
}


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
