// The per-worker connection table (the kernel's ip_vs_conn.c hash table): a pool of entries
// and an open-addressing index over it, both sized when the worker starts and never grown.
//
// Index: buckets of one cache line, each holding 7 (signature, pool index) slots and an
// overflow count. An index entry lives in its home bucket or, when that is full, in the next
// bucket with room; every bucket passed on the way counts the entry in its overflow, so a
// lookup stops at the first bucket with overflow 0 and an erase needs no tombstones.
//
// Keys, as in the kernel: a connection is hashed by (af, protocol, client address, client
// port). An input lookup hashes the packet's source, a NAT reply lookup the reply's
// destination -- the same key, so one index entry serves both directions. A FULLNAT
// connection's reply is addressed to (laddr, lport), so it has a second index entry under that
// key; output lookups hash the reply's destination either way and match both kinds. Templates
// hash like connections with cport 0.
//
// Memory: both blocks are mapped at construction and touched as used (region.h), so an entry
// costs memory only once a connection has used it; memory_for() is what a full table takes.
//
// Single-threaded: one worker owns a table. No allocation, exception, lock or system call
// after construction (page faults aside, as entries are first used). Lookups are inline so a pipeline can split them DPDK-style: compute the
// hash of every packet in a burst and prefetch its bucket, then look each up with its hash.
//
//   Tuple t = Tuple::of(pkt.af, pkt.proto, pkt.saddr, pkt.sport, pkt.daddr, pkt.dport);
//   uint64_t h = table.hash_in(t);       // hash_out(t) for a packet from a real server
//   table.prefetch(h);                   // ... for the rest of the burst ...
//   Conn* c = table.lookup_in_with_hash(h, t);
#pragma once

#include <cstdint>
#include <cstring>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "conn/conn.h"
#include "conn/region.h"

namespace uvs::conn {

// Starts fetching the cache line at `p`. GCC models __builtin_prefetch as free of side effects,
// so a function that only prefetches can be judged `const` and every call to it deleted
// before it is inlined; a volatile asm is never deleted.
inline void prefetch_line(const void* p) {
#if defined(__x86_64__) || defined(__i386__)
  asm volatile("prefetcht0 %0" : : "m"(*static_cast<const char*>(p)));
#else
  __builtin_prefetch(p);
#endif
}

struct TableOptions {
  // Entries, connections and templates together: --conn-max divided by the worker count.
  uint32_t capacity = 4096;
  // Index entries to provision per connection: 2 if FULLNAT services may exist (their
  // connections are indexed under two keys), 1 otherwise. With 1, FULLNAT connections still
  // work but the index, not the pool, may be what fills first.
  uint32_t tuples_per_conn = 2;
  // Seed of the keyed hash; 0 draws one from std::random_device (tests pass a fixed one).
  uint64_t hash_seed = 0;
};

// The addresses and ports of a packet, as it is on the wire (ports host order).
struct Tuple {
  AddrBytes saddr{};
  AddrBytes daddr{};
  uint16_t sport = 0;
  uint16_t dport = 0;
  uint8_t protocol = 0;
  uint8_t af = AF_INET;

  static Tuple of(uint8_t af, uint8_t protocol, const InetAddr& saddr, uint16_t sport,
                  const InetAddr& daddr, uint16_t dport) {
    Tuple t;
    t.saddr = saddr.bytes;
    t.daddr = daddr.bytes;
    t.sport = sport;
    t.dport = dport;
    t.protocol = protocol;
    t.af = af;
    return t;
  }
};

// What a persistence template is found by (what ip_vs_ct_in_get() matches).
struct TemplateKey {
  AddrBytes snet{};   // client address masked to the service's granularity
  AddrBytes vaddr{};  // virtual address, or the fwmark (network order, first 4 bytes)
  uint16_t vport = 0;
  uint8_t protocol = 0;  // 0 (IPPROTO_IP) for fwmark templates
  uint8_t af = AF_INET;
};

class Table {
 public:
  static constexpr uint32_t kSlotsPerBucket = 7;

  explicit Table(const TableOptions& options);
  Table(const Table&) = delete;
  Table& operator=(const Table&) = delete;

  uint32_t capacity() const { return capacity_; }
  uint32_t size() const { return size_; }
  uint32_t available() const { return capacity_ - size_; }
  uint32_t index_buckets() const { return n_buckets_; }
  uint32_t index_entries() const { return index_used_; }
  // Entries with NO_CPORT set and linked: while there are none, input lookups skip the
  // second, cport-0 probe (as ip_vs_conn_in_get()).
  uint32_t no_cport_count() const { return no_cport_; }
  // Memory mapped for entries and index (what they take once every entry has been used).
  size_t memory_bytes() const { return pool_region_.size() + index_region_.size(); }
  // memory_bytes() of a table built with `options`, without building it.
  static size_t memory_for(const TableOptions& options);
  // Entries ever handed out: those at and above it are untouched (still zero) memory.
  uint32_t high_water() const { return fresh_; }

  // --- Pool --------------------------------------------------------------------------------
  // A zeroed entry marked in use (control/wheel links set to kNoConn), not linked in the
  // index; null when every entry is taken. The caller fills it, then link()s it.
  Conn* alloc();
  // Returns an entry to the pool; it must be unlinked and off the timer wheel.
  void free(Conn& c);
  Conn& at(uint32_t index) const { return pool_[index]; }
  uint32_t index_of(const Conn& c) const { return static_cast<uint32_t>(&c - pool_); }

  // --- Index (the kernel's ip_vs_conn_hash / ip_vs_conn_unhash) ----------------------------
  // Indexes `c` under its client tuple and, for a FULLNAT connection, its reply tuple; sets
  // HASHED. False if the index has no room (only possible when sized for 1 tuple per
  // connection and FULLNAT fills it). Key fields must not change while linked.
  bool link(Conn& c);
  void unlink(Conn& c);

  // --- Lookups -----------------------------------------------------------------------------
  uint64_t hash(uint8_t af, uint8_t protocol, const AddrBytes& addr, uint16_t port) const {
    uint64_t lo, hi;
    std::memcpy(&lo, addr.data(), 8);
    std::memcpy(&hi, addr.data() + 8, 8);
    const uint64_t meta = uint64_t{port} | uint64_t{protocol} << 16 | uint64_t{af} << 24;
    // Two rounds of 64x64->128 multiply folding (wyhash's "mum"): keyed, so a client cannot
    // aim its ports at one bucket chain.
    const uint64_t h = mum(lo ^ seed_[0], hi ^ meta ^ seed_[1]);
    return mum(h ^ seed_[2], meta ^ seed_[3]);
  }
  // Packet from a client: its source is the connection's client tuple.
  uint64_t hash_in(const Tuple& t) const { return hash(t.af, t.protocol, t.saddr, t.sport); }
  // Packet from a real server: its destination is the client (NAT) or (laddr, lport) (FULLNAT).
  uint64_t hash_out(const Tuple& t) const { return hash(t.af, t.protocol, t.daddr, t.dport); }
  uint64_t hash_template(const TemplateKey& k) const { return hash(k.af, k.protocol, k.snet, 0); }

  // Stage 1 of a burst: bring the bucket of `h` toward the cache.
  void prefetch(uint64_t h) const { prefetch_line(&buckets_[bucket_of(h)]); }
  // Optional stage 2, after the bucket has arrived: prefetch the entries whose signature
  // matches (usually the one that will hit), so stage 3 finds them in cache too.
  void prefetch_candidates(uint64_t h) const {
    const Bucket& b = buckets_[bucket_of(h)];
    for (uint32_t mask = matching_slots(b, signature(h)); mask != 0; mask &= mask - 1) {
      const uint32_t idx = ~b.idx[__builtin_ctz(mask)];
      if (idx == kNoConn) continue;
      const char* e = reinterpret_cast<const char*>(&pool_[idx]);
      prefetch_line(e);
      prefetch_line(e + 64);
    }
  }

  // The bucket `c` is indexed in (its client key), ahead of unlinking it.
  void prefetch_links(const Conn& c) const { prefetch(hash(c.af, c.protocol, c.caddr, c.cport)); }

  // Input direction, as ip_vs_conn_in_get(): protocol, af, caddr == saddr, cport == sport,
  // vaddr == daddr, vport == dport; if that misses and NO_CPORT entries exist, again with
  // client port 0 matching only NO_CPORT entries. Templates never match.
  Conn* lookup_in(const Tuple& t) const { return lookup_in_with_hash(hash_in(t), t); }
  Conn* lookup_in_with_hash(uint64_t h, const Tuple& t) const {
    Conn* c = find(h, [&](const Conn& e) { return match_in(e, t, t.sport); });
    if (c != nullptr || no_cport_ == 0 || t.sport == 0) return c;
    return find(hash(t.af, t.protocol, t.saddr, 0),
                [&](const Conn& e) { return match_in(e, t, 0); });
  }

  // Output direction, a reply from a real server. Matches a NAT-style entry (saddr:sport ==
  // daddr:dport, daddr:dport == caddr:cport, af) or a FULLNAT entry (saddr:sport ==
  // daddr:dport, daddr:dport == laddr:lport, daf), whichever the reply belongs to.
  Conn* lookup_out(const Tuple& t) const { return lookup_out_with_hash(hash_out(t), t); }
  Conn* lookup_out_with_hash(uint64_t h, const Tuple& t) const {
    return find(h, [&](const Conn& e) { return match_out_nat(e, t) || match_out_fullnat(e, t); });
  }
  // The same restricted to one kind.
  Conn* lookup_out_nat(const Tuple& t) const {
    return find(hash_out(t), [&](const Conn& e) { return match_out_nat(e, t); });
  }
  Conn* lookup_out_fullnat(const Tuple& t) const {
    return find(hash_out(t), [&](const Conn& e) { return match_out_fullnat(e, t); });
  }

  Conn* lookup_template(const TemplateKey& k) const {
    return find(hash_template(k), [&](const Conn& e) { return match_template(e, k); });
  }

 private:
  struct alignas(64) Bucket {
    uint32_t sig[kSlotsPerBucket];
    // Bitwise NOT of the pool index, so that an empty slot (kNoConn) is 0 and a fresh, untouched
    // page of buckets is already a valid empty index.
    uint32_t idx[kSlotsPerBucket];
    uint32_t overflow;              // index entries that passed this bucket, full, on insert
    uint32_t used;                  // occupied slots
  };
  static_assert(sizeof(Bucket) == 64);

  static uint64_t mum(uint64_t a, uint64_t b) {
    const unsigned __int128 r = static_cast<unsigned __int128>(a) * b;
    return static_cast<uint64_t>(r) ^ static_cast<uint64_t>(r >> 64);
  }
  // Low half picks the bucket (multiply-shift range reduction, any bucket count), high half
  // is the signature, so the two are independent.
  uint32_t bucket_of(uint64_t h) const {
    return static_cast<uint32_t>((uint64_t{static_cast<uint32_t>(h)} * n_buckets_) >> 32);
  }
  static uint32_t signature(uint64_t h) { return static_cast<uint32_t>(h >> 32); }
  uint32_t next_bucket(uint32_t b) const { return b + 1 == n_buckets_ ? 0 : b + 1; }

  // Slots of `bucket` whose signature is `sig`, as bits 0..6.
  static uint32_t matching_slots(const Bucket& bucket, uint32_t sig) {
#if defined(__SSE2__)
    // Two overlapping 4-lane compares cover the 7 signatures without a data-dependent branch.
    const __m128i want = _mm_set1_epi32(static_cast<int>(sig));
    const __m128i lo = _mm_loadu_si128(reinterpret_cast<const __m128i*>(&bucket.sig[0]));
    const __m128i hi = _mm_loadu_si128(reinterpret_cast<const __m128i*>(&bucket.sig[3]));
    const uint32_t m_lo =
        static_cast<uint32_t>(_mm_movemask_ps(_mm_castsi128_ps(_mm_cmpeq_epi32(lo, want))));
    const uint32_t m_hi =
        static_cast<uint32_t>(_mm_movemask_ps(_mm_castsi128_ps(_mm_cmpeq_epi32(hi, want))));
    return m_lo | (m_hi << 3);
#else
    uint32_t mask = 0;
    for (uint32_t s = 0; s < kSlotsPerBucket; ++s) mask |= uint32_t{bucket.sig[s] == sig} << s;
    return mask;
#endif
  }

  template <typename Match>
  Conn* find(uint64_t h, Match&& match) const {
    uint32_t b = bucket_of(h);
    const uint32_t sig = signature(h);
    for (;;) {
      const Bucket& bucket = buckets_[b];
      for (uint32_t mask = matching_slots(bucket, sig); mask != 0; mask &= mask - 1) {
        const uint32_t idx = ~bucket.idx[__builtin_ctz(mask)];
        if (idx == kNoConn) continue;  // an empty slot when `sig` happens to be 0
        Conn& c = pool_[idx];
        if (match(c)) return &c;
      }
      if (bucket.overflow == 0) return nullptr;
      b = next_bucket(b);
    }
  }

  static bool match_in(const Conn& c, const Tuple& t, uint16_t cport) {
    // Kernel rule: a lookup with client port 0 matches only NO_CPORT entries and a lookup with
    // a port only entries without it; templates (cport 0, no NO_CPORT) match neither.
    const uint16_t want = cport == 0 ? kConnNoCport : 0;
    return c.cport == cport && c.vport == t.dport && c.protocol == t.protocol && c.af == t.af &&
           (c.flags & (kConnNoCport | kConnTemplate)) == want && addr_equal(c.caddr, t.saddr) &&
           addr_equal(c.vaddr, t.daddr);
  }
  static bool match_out_nat(const Conn& c, const Tuple& t) {
    return c.cport == t.dport && c.dport == t.sport && c.protocol == t.protocol && c.af == t.af &&
           (c.flags & kConnTemplate) == 0 && c.fwd() != Fwd::kFullNat &&
           addr_equal(c.caddr, t.daddr) && addr_equal(c.daddr, t.saddr);
  }
  static bool match_out_fullnat(const Conn& c, const Tuple& t) {
    return c.lport == t.dport && c.dport == t.sport && c.protocol == t.protocol && c.daf == t.af &&
           c.fwd() == Fwd::kFullNat && (c.flags & kConnTemplate) == 0 &&
           addr_equal(c.laddr, t.daddr) && addr_equal(c.daddr, t.saddr);
  }
  static bool match_template(const Conn& c, const TemplateKey& k) {
    return c.cport == 0 && c.vport == k.vport && c.protocol == k.protocol && c.af == k.af &&
           (c.flags & kConnTemplate) != 0 && addr_equal(c.caddr, k.snet) &&
           addr_equal(c.vaddr, k.vaddr);
  }

  static bool fullnat_reply_key(const Conn& c) {
    return c.fwd() == Fwd::kFullNat && !c.is_template();
  }
  void insert_slot(uint64_t h, uint32_t index);
  void erase_slot(uint64_t h, uint32_t index);

  const uint32_t capacity_;
  uint32_t n_buckets_ = 0;
  uint32_t index_limit_ = 0;  // index entries allowed (keeps probe chains short)
  uint32_t index_used_ = 0;
  uint32_t size_ = 0;
  uint32_t no_cport_ = 0;
  uint32_t free_head_ = kNoConn;  // entries freed since they were first used
  uint32_t fresh_ = 0;            // entries [fresh_, capacity_) were never used
  uint64_t seed_[4];
  Region pool_region_;
  Region index_region_;
  Conn* pool_ = nullptr;
  Bucket* buckets_ = nullptr;
};

}  // namespace uvs::conn
