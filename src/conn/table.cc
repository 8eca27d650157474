#include "conn/table.h"

#include <algorithm>
#include <random>

#include "util/hash.h"

namespace uvs::conn {

namespace {

// Buckets are provisioned for this load; links are refused above kMaxLoad so probe chains stay
// short even when FULLNAT fills an index sized for one tuple per connection.
constexpr double kSizedLoad = 0.8;
constexpr double kMaxLoad = 0.9;

uint32_t capacity_of(const TableOptions& o) { return std::max<uint32_t>(1, o.capacity); }

uint32_t buckets_for(const TableOptions& o) {
  const double slots = static_cast<double>(capacity_of(o)) * std::max<uint32_t>(1, o.tuples_per_conn);
  const double buckets = slots / (Table::kSlotsPerBucket * kSizedLoad);
  return std::max<uint32_t>(1, static_cast<uint32_t>(buckets) + 1);
}

}  // namespace

size_t Table::memory_for(const TableOptions& options) {
  return Region::mapped_size(sizeof(Conn) * size_t{capacity_of(options)}) +
         Region::mapped_size(sizeof(Bucket) * size_t{buckets_for(options)});
}

Table::Table(const TableOptions& options)
    : capacity_(capacity_of(options)),
      n_buckets_(buckets_for(options)),
      pool_region_(sizeof(Conn) * size_t{capacity_}),
      index_region_(sizeof(Bucket) * size_t{n_buckets_}) {
  index_limit_ =
      static_cast<uint32_t>(static_cast<double>(n_buckets_) * kSlotsPerBucket * kMaxLoad);
  uint64_t seed = options.hash_seed;
  if (seed == 0) seed = (uint64_t{std::random_device{}()} << 32) | std::random_device{}();
  util::SplitMix64 seeds(seed);
  for (auto& s : seed_) s = seeds.next();

  pool_ = static_cast<Conn*>(pool_region_.data());
  buckets_ = static_cast<Bucket*>(index_region_.data());
  // Nothing is written here: zeroed memory is a valid empty index (Bucket::idx) and unused
  // entries (not in use), and alloc() takes never-used entries in order. A 100-million-entry
  // table costs what its connections use, not 16 GB at start.
}

Conn* Table::alloc() {
  uint32_t i;
  if (free_head_ != kNoConn) {
    i = free_head_;
    free_head_ = pool_[i].wheel_next;
  } else if (fresh_ < capacity_) {
    i = fresh_++;
  } else {
    return nullptr;
  }
  Conn& c = pool_[i];
  c = Conn{};
  c.control = kNoConn;
  c.wheel_next = kNoConn;
  c.wheel_prev = kNoConn;
  c.xflags = kXInUse;
  ++size_;
  return &c;
}

void Table::free(Conn& c) {
  c.xflags = 0;
  c.flags = 0;
  c.dest = nullptr;
  c.wheel_prev = kNoConn;
  c.wheel_next = free_head_;
  free_head_ = index_of(c);
  --size_;
}

bool Table::link(Conn& c) {
  if (c.flags & kConnHashed) return true;
  const uint32_t n = fullnat_reply_key(c) ? 2 : 1;
  if (index_used_ + n > index_limit_) return false;
  const uint32_t i = index_of(c);
  insert_slot(hash(c.af, c.protocol, c.caddr, c.cport), i);
  if (n == 2) insert_slot(hash(c.daf, c.protocol, c.laddr, c.lport), i);
  index_used_ += n;
  c.flags |= kConnHashed;
  if (c.flags & kConnNoCport) ++no_cport_;
  return true;
}

void Table::unlink(Conn& c) {
  if (!(c.flags & kConnHashed)) return;
  const uint32_t i = index_of(c);
  erase_slot(hash(c.af, c.protocol, c.caddr, c.cport), i);
  uint32_t n = 1;
  if (fullnat_reply_key(c)) {
    erase_slot(hash(c.daf, c.protocol, c.laddr, c.lport), i);
    n = 2;
  }
  index_used_ -= n;
  c.flags &= ~kConnHashed;
  if (c.flags & kConnNoCport) --no_cport_;
}

void Table::insert_slot(uint64_t h, uint32_t index) {
  uint32_t b = bucket_of(h);
  // index_limit_ < total slots, so a bucket with room exists.
  for (;;) {
    Bucket& bucket = buckets_[b];
    if (bucket.used < kSlotsPerBucket) {
      for (uint32_t s = 0; s < kSlotsPerBucket; ++s) {
        if (bucket.idx[s] == ~kNoConn) {
          bucket.sig[s] = signature(h);
          bucket.idx[s] = ~index;
          ++bucket.used;
          return;
        }
      }
    }
    ++bucket.overflow;
    b = next_bucket(b);
  }
}

void Table::erase_slot(uint64_t h, uint32_t index) {
  uint32_t b = bucket_of(h);
  const uint32_t sig = signature(h);
  // The entry is on its probe path; every full bucket before it counted it in its overflow.
  // (Should a FULLNAT connection's two keys share a signature and a path, taking the other
  // key's slot first leaves the same counts once both are erased.)
  for (;;) {
    Bucket& bucket = buckets_[b];
    for (uint32_t s = 0; s < kSlotsPerBucket; ++s) {
      if (bucket.idx[s] == ~index && bucket.sig[s] == sig) {
        bucket.idx[s] = ~kNoConn;
        bucket.sig[s] = 0;
        --bucket.used;
        return;
      }
    }
    --bucket.overflow;
    b = next_bucket(b);
  }
}

}  // namespace uvs::conn
