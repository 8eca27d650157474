// Fragments wait here until their datagram is whole, because the kernel defragments
// (ip_defrag(), nf_ct_frag6_gather()) before IPVS sees a packet: a datagram is scheduled and
// forwarded only when every fragment has arrived, whatever their order, and a lone or
// incomplete fragment set is never forwarded. Unlike ip_defrag() the fragments are not merged
// into one buffer: they leave as they came, in offset order, each rewritten as the first one's
// connection says -- what nf_ct_frag6_gather() does for IPv6 (it keeps the original fragments
// and sends them on), and for IPv4 the same sizes ip_fragment() would cut with the original
// fragment size as its limit.
//
// Per worker, no locks, no allocation after construction. Bounded: at most kMaxDatagrams
// incomplete datagrams and kMaxFrames held frames (the oldest datagram makes room), at most
// kMaxFragments fragments each; a datagram not complete within ipfrag_time (30 s) is dropped.
// Overlapping fragments discard the datagram (RFC 5722, as Linux does), an exact duplicate is
// dropped on its own.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <span>

#include "io/packet_io.h"
#include "model/address.h"
#include "pkt/parse.h"

namespace uvs::dp {

class FragQueue {
 public:
  static constexpr uint32_t kMaxDatagrams = 64;
  static constexpr uint32_t kMaxFragments = 48;  // a 64 KiB datagram at MTU 1500 has 45
  static constexpr uint32_t kMaxFrames = 256;    // UMEM frames this worker may hold
  static constexpr uint64_t kTimeoutMs = 30'000;  // ipfrag_time

  enum class Added : uint8_t {
    kHeld,       // kept; the datagram is still incomplete
    kComplete,   // the datagram's frames, first fragment first, are in whole()
    kDuplicate,  // the same range again: the caller drops this frame
    kBad,        // an overlap or a second end: the datagram's other frames are in dropped()
  };

  FragQueue();

  // A first fragment too short for its whole L4 header (RFC 791 allows 8 bytes of data): moves
  // the header's missing bytes, in 8-byte units, from the second fragment into the first, so
  // the first fragment says what the reassembled datagram would (its ports, its TCP flags).
  // Returns how many frames of `whole` still carry the datagram: one less when the second
  // fragment was emptied, which is then moved to the end for the caller to free. Leaves
  // `whole` as it was when it cannot (no tailroom).
  static size_t complete_l4_header(std::span<io::Frame> whole);

  // Takes fragment `f` (parsed as `p`) unless it says kDuplicate or kBad.
  Added add(const io::Frame& f, const pkt::ParsedPacket& p, uint64_t now_ms);
  // After kComplete: the datagram in offset order. Valid until the next add().
  std::span<io::Frame> whole() { return {out_.data(), out_count_}; }
  // Frames given up on (discarded, evicted or timed out) since clear_dropped(); the caller
  // drops them.
  std::span<io::Frame> dropped() { return {dropped_.get(), dropped_count_}; }
  void clear_dropped() { dropped_count_ = 0; }
  // Gives up on datagrams older than the timeout (their frames go to dropped()).
  void expire(uint64_t now_ms);

  uint32_t datagrams() const { return used_; }
  uint32_t frames_held() const { return frames_held_; }

 private:
  struct Piece {
    io::Frame frame;
    uint32_t start;  // offset of its data in the datagram
    uint32_t end;
  };
  struct Datagram {
    bool in_use = false;
    InetAddr saddr, daddr;
    uint32_t id = 0;
    uint8_t proto = 0;  // IPv4's key has it; IPv6's is the fragment header's next header
    uint64_t first_ms = 0;
    uint32_t end = 0;  // datagram data length once the last fragment arrived, else 0
    uint32_t count = 0;
    std::array<Piece, kMaxFragments> pieces;  // ordered by start
  };

  Datagram* find(const pkt::ParsedPacket& p);
  Datagram* create(const pkt::ParsedPacket& p, uint64_t now_ms);
  void give_up(Datagram& d);
  bool complete(const Datagram& d) const;
  void make_room(uint32_t frames);

  std::unique_ptr<Datagram[]> datagrams_;
  uint32_t used_ = 0;
  uint32_t frames_held_ = 0;
  std::array<io::Frame, kMaxFragments> out_;
  uint32_t out_count_ = 0;
  std::unique_ptr<io::Frame[]> dropped_;  // kMaxFrames + kMaxFragments
  uint32_t dropped_count_ = 0;
};

}  // namespace uvs::dp
