// IPv4/IPv6 fragment reassembly with strictly bounded, preallocated memory. One instance per
// worker (not thread-safe, no locks): packets for a virtual service are reassembled before they
// are scheduled, so every fragment of a datagram follows the same connection.
//
// Bounds: at most `max_datagrams` incomplete datagrams, at most `max_bytes` of fragment data
// (held in 1 KiB blocks, so tiny fragments are charged a whole block), at most `max_fragments`
// fragments per datagram, at most 65535 bytes per datagram. When a new datagram or new data does
// not fit, the oldest incomplete datagrams are evicted. A datagram not completed within
// `timeout_ns` of its first fragment is dropped. Everything is allocated by the constructor;
// add() and expire() never allocate, throw or lock.
//
// Odd input is dropped safely: overlapping fragments discard the whole datagram (RFC 5722; Linux
// does the same for IPv4), an exact duplicate is dropped on its own, fragments past the end set
// by the last fragment, a second and different last fragment, and datagrams over 65535 bytes
// discard the datagram.
#pragma once

#include <cstdint>
#include <memory>

#include "pkt/parse.h"

namespace uvs::pkt {

struct ReasmConfig {
  uint32_t max_datagrams = 256;
  uint32_t max_bytes = 4u << 20;  // clamped to [1 block, 65535 blocks]
  uint32_t max_fragments = 64;    // per datagram; clamped to [2, 1024]
  uint64_t timeout_ns = 30'000'000'000ull;  // Linux ipfrag_time
};

enum class ReasmStatus : uint8_t {
  kHeld,      // the fragment was stored; the datagram is not complete yet
  kComplete,  // the datagram is complete: output() holds it
  kDropped,   // the fragment was dropped (see last_drop())
};

// Why a fragment was dropped; one counter per value in ReasmStats::drops.
enum class ReasmDrop : uint8_t {
  kNone = 0,
  kNotFragment,       // not an ok, fragmented packet
  kDuplicate,         // same range as a fragment already held: just this one is dropped
  kOverlap,           // partial overlap: the datagram is discarded
  kBeyondEnd,         // data past the end the last fragment set, or two different ends
  kTooManyFragments,  // more than max_fragments: the datagram is discarded
  kOversize,          // reassembled datagram over 65535 bytes: discarded
  kHeaderTooLong,     // link + IP header (+ unfragmentable IPv6 part) over kReasmMaxHeader
  kNoMemory,          // the datagram alone exceeds max_bytes: discarded
  kCount,
};
const char* reasm_drop_name(ReasmDrop drop);

struct ReasmStats {
  uint64_t fragments = 0;           // fragments fed to add()
  uint64_t completed = 0;           // datagrams delivered
  uint64_t timed_out = 0;           // datagrams expired
  uint64_t evicted = 0;             // datagrams evicted to make room
  uint64_t discarded = 0;           // datagrams discarded for bad fragments
  uint64_t drops[static_cast<int>(ReasmDrop::kCount)] = {};  // fragments dropped, by reason
};

inline constexpr uint32_t kReasmBlockSize = 1024;
inline constexpr uint32_t kReasmMaxHeader = 256;  // link header + IP header kept per datagram
inline constexpr uint32_t kReasmMaxOutput = kReasmMaxHeader + kIpMaxDatagram;

class Reassembler {
 public:
  explicit Reassembler(const ReasmConfig& config = {});
  Reassembler(const Reassembler&) = delete;
  Reassembler& operator=(const Reassembler&) = delete;

  // Feeds one fragment: FRAME of LEN bytes and its ParsedPacket (verdict kOk, is_fragment).
  // NOW_NS is the caller's monotonic clock; expired datagrams are dropped first.
  ReasmStatus add(const uint8_t* frame, uint32_t len, const ParsedPacket& p, uint64_t now_ns);
  ReasmDrop last_drop() const { return last_drop_; }

  // After kComplete: the datagram as one frame, with the link header of the first fragment, the
  // IP header with the fragment fields cleared (IPv4) or the fragment header removed (IPv6),
  // the lengths and the IPv4 header checksum fixed. Parse it again with parse_frame(). Valid
  // until the next add().
  uint8_t* output() { return output_.get(); }
  uint32_t output_len() const { return output_len_; }

  // Drops every datagram whose first fragment is older than the timeout.
  void expire(uint64_t now_ns);

  uint32_t datagrams_in_use() const { return used_slots_; }
  uint32_t bytes_in_use() const { return (num_blocks_ - free_block_count_) * kReasmBlockSize; }
  uint32_t capacity_bytes() const { return num_blocks_ * kReasmBlockSize; }
  const ReasmStats& stats() const { return stats_; }

 private:
  static constexpr uint32_t kBlocksPerDatagram = (kIpMaxDatagram + 1) / kReasmBlockSize;
  static constexpr uint16_t kNoBlock = 0xffff;
  static constexpr int32_t kNil = -1;

  struct Range {
    uint32_t start;
    uint32_t end;
  };
  struct Slot {
    uint8_t saddr[16];
    uint8_t daddr[16];
    uint32_t id;
    uint8_t af;
    uint8_t proto;  // IPv4 only (part of the key); 0 for IPv6
    bool in_use;
    bool has_last;
    uint64_t created_ns;
    uint32_t total_len;  // data length, known once the last fragment arrived
    uint32_t received;   // data bytes held
    uint32_t nfrags;
    uint32_t hdr_len;  // bytes of the first fragment before its fragmentable part (0: not yet)
    uint32_t l3_off;
    uint32_t frag_hdr_off;      // IPv6
    uint32_t frag_nexthdr_off;  // IPv6
    uint32_t bucket;
    int32_t hash_next;
    int32_t age_prev;  // list of live slots, oldest first
    int32_t age_next;
  };

  int32_t find(const ParsedPacket& p, uint32_t bucket) const;
  int32_t create(const ParsedPacket& p, uint32_t bucket, uint64_t now_ns);
  void release(int32_t slot);
  void evict_oldest(int32_t keep);
  uint16_t alloc_block(int32_t keep);
  ReasmStatus drop(ReasmDrop reason);
  ReasmStatus discard(int32_t slot, ReasmDrop reason);
  bool copy_data(int32_t slot, const uint8_t* src, uint32_t start, uint32_t len);
  bool assemble(int32_t slot);
  uint32_t bucket_of(const ParsedPacket& p) const;
  Range* ranges(int32_t slot) { return ranges_.get() + size_t(slot) * max_fragments_; }
  uint16_t* blocks(int32_t slot) { return block_table_.get() + size_t(slot) * kBlocksPerDatagram; }
  uint8_t* header(int32_t slot) { return headers_.get() + size_t(slot) * kReasmMaxHeader; }

  const uint32_t max_datagrams_;
  const uint32_t max_fragments_;
  const uint32_t num_blocks_;
  const uint64_t timeout_ns_;
  const uint32_t bucket_mask_;

  std::unique_ptr<Slot[]> slots_;
  std::unique_ptr<int32_t[]> buckets_;
  std::unique_ptr<Range[]> ranges_;
  std::unique_ptr<uint16_t[]> block_table_;
  std::unique_ptr<uint8_t[]> headers_;
  std::unique_ptr<uint8_t[]> pool_;
  std::unique_ptr<uint16_t[]> free_blocks_;  // stack of free block indices
  std::unique_ptr<int32_t[]> free_slots_;    // stack of free slot indices
  std::unique_ptr<uint8_t[]> output_;

  uint32_t free_block_count_ = 0;
  uint32_t free_slot_count_ = 0;
  uint32_t used_slots_ = 0;
  int32_t oldest_ = kNil;
  int32_t newest_ = kNil;
  uint32_t output_len_ = 0;
  ReasmDrop last_drop_ = ReasmDrop::kNone;
  ReasmStats stats_;
};

}  // namespace uvs::pkt
