#include "pkt/reasm.h"

#include <algorithm>

#include "pkt/checksum.h"
#include "util/hash.h"

namespace uvs::pkt {

const char* reasm_drop_name(ReasmDrop drop) {
  switch (drop) {
    case ReasmDrop::kNone: return "none";
    case ReasmDrop::kNotFragment: return "not_fragment";
    case ReasmDrop::kDuplicate: return "duplicate";
    case ReasmDrop::kOverlap: return "overlap";
    case ReasmDrop::kBeyondEnd: return "beyond_end";
    case ReasmDrop::kTooManyFragments: return "too_many_fragments";
    case ReasmDrop::kOversize: return "oversize";
    case ReasmDrop::kHeaderTooLong: return "header_too_long";
    case ReasmDrop::kNoMemory: return "no_memory";
    case ReasmDrop::kCount: break;
  }
  return "unknown";
}

namespace {

uint32_t round_up_pow2(uint32_t v) {
  uint32_t p = 1;
  while (p < v) p <<= 1;
  return p;
}

}  // namespace

Reassembler::Reassembler(const ReasmConfig& config)
    : max_datagrams_(std::max<uint32_t>(config.max_datagrams, 1)),
      max_fragments_(std::clamp<uint32_t>(config.max_fragments, 2, 1024)),
      num_blocks_(std::clamp<uint32_t>(config.max_bytes / kReasmBlockSize, 1, 65535)),
      timeout_ns_(config.timeout_ns),
      bucket_mask_(round_up_pow2(max_datagrams_ * 2) - 1) {
  slots_ = std::make_unique<Slot[]>(max_datagrams_);
  buckets_ = std::make_unique<int32_t[]>(bucket_mask_ + 1);
  ranges_ = std::make_unique<Range[]>(size_t(max_datagrams_) * max_fragments_);
  block_table_ = std::make_unique<uint16_t[]>(size_t(max_datagrams_) * kBlocksPerDatagram);
  headers_ = std::make_unique<uint8_t[]>(size_t(max_datagrams_) * kReasmMaxHeader);
  pool_ = std::make_unique<uint8_t[]>(size_t(num_blocks_) * kReasmBlockSize);
  free_blocks_ = std::make_unique<uint16_t[]>(num_blocks_);
  free_slots_ = std::make_unique<int32_t[]>(max_datagrams_);
  output_ = std::make_unique<uint8_t[]>(kReasmMaxOutput);

  std::fill_n(buckets_.get(), bucket_mask_ + 1, kNil);
  std::fill_n(block_table_.get(), size_t(max_datagrams_) * kBlocksPerDatagram, kNoBlock);
  for (uint32_t i = 0; i < num_blocks_; ++i)
    free_blocks_[i] = static_cast<uint16_t>(num_blocks_ - 1 - i);
  free_block_count_ = num_blocks_;
  for (uint32_t i = 0; i < max_datagrams_; ++i) {
    slots_[i] = Slot{};
    free_slots_[i] = static_cast<int32_t>(max_datagrams_ - 1 - i);
  }
  free_slot_count_ = max_datagrams_;
}

uint32_t Reassembler::bucket_of(const ParsedPacket& p) const {
  uint64_t h = uint64_t{p.frag_id} * util::kGolden64;
  h ^= uint64_t{p.af} << 8 | (p.is_v6() ? 0 : p.proto);
  const int words = p.is_v6() ? 4 : 1;
  for (int i = 0; i < words; ++i) {
    h = (h ^ load_u32(p.saddr.bytes.data() + 4 * i)) * 0xff51afd7ed558ccdull;
    h = (h ^ load_u32(p.daddr.bytes.data() + 4 * i)) * 0xc4ceb9fe1a85ec53ull;
  }
  return static_cast<uint32_t>(h >> 32) & bucket_mask_;
}

int32_t Reassembler::find(const ParsedPacket& p, uint32_t bucket) const {
  const uint8_t proto = p.is_v6() ? 0 : p.proto;
  for (int32_t i = buckets_[bucket]; i != kNil; i = slots_[i].hash_next) {
    const Slot& s = slots_[i];
    if (s.id == p.frag_id && s.af == p.af && s.proto == proto &&
        std::memcmp(s.saddr, p.saddr.bytes.data(), 16) == 0 &&
        std::memcmp(s.daddr, p.daddr.bytes.data(), 16) == 0)
      return i;
  }
  return kNil;
}

int32_t Reassembler::create(const ParsedPacket& p, uint32_t bucket, uint64_t now_ns) {
  if (free_slot_count_ == 0) evict_oldest(kNil);
  const int32_t i = free_slots_[--free_slot_count_];
  Slot& s = slots_[i];
  s = Slot{};
  std::memcpy(s.saddr, p.saddr.bytes.data(), 16);
  std::memcpy(s.daddr, p.daddr.bytes.data(), 16);
  s.id = p.frag_id;
  s.af = p.af;
  s.proto = p.is_v6() ? 0 : p.proto;
  s.in_use = true;
  s.created_ns = now_ns;
  s.bucket = bucket;
  s.hash_next = buckets_[bucket];
  buckets_[bucket] = i;
  s.age_prev = newest_;
  s.age_next = kNil;
  if (newest_ != kNil) slots_[newest_].age_next = i; else oldest_ = i;
  newest_ = i;
  ++used_slots_;
  return i;
}

void Reassembler::release(int32_t i) {
  Slot& s = slots_[i];
  uint16_t* table = blocks(i);
  for (uint32_t b = 0; b < kBlocksPerDatagram; ++b) {
    if (table[b] != kNoBlock) {
      free_blocks_[free_block_count_++] = table[b];
      table[b] = kNoBlock;
    }
  }
  int32_t* link = &buckets_[s.bucket];
  while (*link != i) link = &slots_[*link].hash_next;
  *link = s.hash_next;
  // Unlink from the age list.
  if (s.age_prev != kNil) slots_[s.age_prev].age_next = s.age_next; else oldest_ = s.age_next;
  if (s.age_next != kNil) slots_[s.age_next].age_prev = s.age_prev; else newest_ = s.age_prev;
  s.in_use = false;
  free_slots_[free_slot_count_++] = i;
  --used_slots_;
}

void Reassembler::evict_oldest(int32_t keep) {
  int32_t victim = oldest_;
  if (victim == keep) victim = slots_[victim].age_next;
  if (victim == kNil) return;
  ++stats_.evicted;
  release(victim);
}

uint16_t Reassembler::alloc_block(int32_t keep) {
  while (free_block_count_ == 0) {
    const uint32_t before = used_slots_;
    evict_oldest(keep);
    if (used_slots_ == before) return kNoBlock;  // only KEEP is left
  }
  return free_blocks_[--free_block_count_];
}

ReasmStatus Reassembler::drop(ReasmDrop reason) {
  last_drop_ = reason;
  ++stats_.drops[static_cast<int>(reason)];
  return ReasmStatus::kDropped;
}

ReasmStatus Reassembler::discard(int32_t slot, ReasmDrop reason) {
  ++stats_.discarded;
  release(slot);
  return drop(reason);
}

bool Reassembler::copy_data(int32_t slot, const uint8_t* src, uint32_t start, uint32_t len) {
  uint16_t* table = blocks(slot);
  const uint32_t end = start + len;
  for (uint32_t pos = start; pos < end;) {
    const uint32_t b = pos / kReasmBlockSize;
    if (table[b] == kNoBlock) {
      table[b] = alloc_block(slot);
      if (table[b] == kNoBlock) return false;
    }
    const uint32_t in_block = pos % kReasmBlockSize;
    const uint32_t n = std::min(kReasmBlockSize - in_block, end - pos);
    std::memcpy(pool_.get() + size_t(table[b]) * kReasmBlockSize + in_block, src + (pos - start), n);
    pos += n;
  }
  return true;
}

bool Reassembler::assemble(int32_t slot) {
  const Slot& s = slots_[slot];
  const uint8_t* hdr = header(slot);
  uint8_t* out = output_.get();
  uint32_t data_at;
  if (s.af == AF_INET) {
    const uint32_t ip_len = s.hdr_len - s.l3_off + s.total_len;
    if (ip_len > kIpMaxDatagram) return false;
    std::memcpy(out, hdr, s.hdr_len);
    Ipv4Hdr* ip = header_at<Ipv4Hdr>(out, s.l3_off);
    ip->tot_len = htons(static_cast<uint16_t>(ip_len));
    ip->frag_off = htons(ntohs(ip->frag_off) & kIpv4FlagDf);
    set_ipv4_header_checksum(out + s.l3_off);
    data_at = s.hdr_len;
  } else {
    // The fragment header goes; everything before it (the unfragmentable part) stays.
    const uint32_t unfrag_len = s.frag_hdr_off - (s.l3_off + kIpv6HdrLen);
    const uint32_t payload_len = unfrag_len + s.total_len;
    if (payload_len > kIpMaxDatagram) return false;
    std::memcpy(out, hdr, s.frag_hdr_off);
    out[s.frag_nexthdr_off] = hdr[s.frag_hdr_off];  // the fragment header's next header
    store_be16(out + s.l3_off + offsetof(Ipv6Hdr, payload_len), static_cast<uint16_t>(payload_len));
    data_at = s.frag_hdr_off;
  }
  const uint16_t* table = blocks(slot);
  for (uint32_t pos = 0; pos < s.total_len; pos += kReasmBlockSize) {
    const uint32_t n = std::min(kReasmBlockSize, s.total_len - pos);
    std::memcpy(out + data_at + pos, pool_.get() + size_t(table[pos / kReasmBlockSize]) * kReasmBlockSize, n);
  }
  output_len_ = data_at + s.total_len;
  return true;
}

void Reassembler::expire(uint64_t now_ns) {
  while (oldest_ != kNil) {
    const uint64_t created = slots_[oldest_].created_ns;
    if (now_ns < created || now_ns - created < timeout_ns_) break;
    ++stats_.timed_out;
    release(oldest_);
  }
}

ReasmStatus Reassembler::add(const uint8_t* frame, uint32_t len, const ParsedPacket& p,
                             uint64_t now_ns) {
  last_drop_ = ReasmDrop::kNone;
  ++stats_.fragments;
  if (!p.ok() || !p.is_fragment || p.l3_end > len || p.frag_data_off >= p.l3_end)
    return drop(ReasmDrop::kNotFragment);
  expire(now_ns);

  const uint32_t start = p.frag_offset;
  const uint32_t data_len = p.l3_end - p.frag_data_off;
  const uint32_t end = start + data_len;
  if (end > kIpMaxDatagram) return drop(ReasmDrop::kOversize);  // the parser refuses these

  const uint32_t bucket = bucket_of(p);
  int32_t slot = find(p, bucket);
  if (slot == kNil) slot = create(p, bucket, now_ns);
  Slot& s = slots_[slot];
  const bool last = !p.more_fragments;

  // Where the fragment's data ends must agree with the end the last fragment set.
  if (s.has_last && (last ? end != s.total_len : end > s.total_len))
    return discard(slot, ReasmDrop::kBeyondEnd);
  Range* r = ranges(slot);
  const uint32_t n = s.nfrags;
  if (last && !s.has_last && n > 0 && r[n - 1].end > end)
    return discard(slot, ReasmDrop::kBeyondEnd);

  // Ranges are sorted by start and never overlap.
  uint32_t i = 0;
  while (i < n && r[i].start < start) ++i;
  if (i < n && r[i].start == start && r[i].end == end) return drop(ReasmDrop::kDuplicate);
  if ((i > 0 && r[i - 1].end > start) || (i < n && r[i].start < end))
    return discard(slot, ReasmDrop::kOverlap);
  if (n == max_fragments_) return discard(slot, ReasmDrop::kTooManyFragments);

  if (start == 0) {
    if (p.frag_data_off > kReasmMaxHeader) return discard(slot, ReasmDrop::kHeaderTooLong);
    std::memcpy(header(slot), frame, p.frag_data_off);
    s.hdr_len = p.frag_data_off;
    s.l3_off = p.l3_off;
    s.frag_hdr_off = p.ipv6_frag_hdr_off;
    s.frag_nexthdr_off = p.ipv6_frag_nexthdr_off;
  }
  if (!copy_data(slot, frame + p.frag_data_off, start, data_len))
    return discard(slot, ReasmDrop::kNoMemory);

  std::memmove(r + i + 1, r + i, (n - i) * sizeof(Range));
  r[i] = Range{start, end};
  s.nfrags = n + 1;
  s.received += data_len;
  if (last) {
    s.has_last = true;
    s.total_len = end;
  }
  if (!s.has_last || s.received != s.total_len || s.hdr_len == 0) return ReasmStatus::kHeld;

  if (!assemble(slot)) return discard(slot, ReasmDrop::kOversize);
  release(slot);
  ++stats_.completed;
  return ReasmStatus::kComplete;
}

}  // namespace uvs::pkt
