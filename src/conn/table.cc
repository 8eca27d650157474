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

uint32_t buckets_for(const TableOptions& o) {
  const double slots = static_cast<double>(o.capacity) * std::max<uint32_t>(1, o.tuples_per_conn);
  const double buckets = slots / (Table::kSlotsPerBucket * kSizedLoad);
  return std::max<uint32_t>(1, static_cast<uint32_t>(buckets) + 1);
}

}  // namespace

Table::Table(const TableOptions& options)
    : capacity_(std::max<uint32_t>(1, options.capacity)),
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
  // Writing every entry and bucket now also faults the memory in, so the first packets do not
  // pay for page faults.
  for (uint32_t i = 0; i < capacity_; ++i) {
    Conn& c = pool_[i];
    c = Conn{};
    c.control = kNoConn;
    c.wheel_prev = kNoConn;
    c.wheel_next = i + 1 < capacity_ ? i + 1 : kNoConn;
  }
  free_head_ = 0;
  for (uint32_t b = 0; b < n_buckets_; ++b) {
    Bucket& bucket = buckets_[b];
    for (uint32_t s = 0; s < kSlotsPerBucket; ++s) {
      bucket.sig[s] = 0;
      bucket.idx[s] = kNoConn;
    }
    bucket.overflow = 0;
    bucket.used = 0;
  }
}

Conn* Table::alloc() {
  if (free_head_ == kNoConn) return nullptr;
  const uint32_t i = free_head_;
  Conn& c = pool_[i];
  free_head_ = c.wheel_next;
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
        if (bucket.idx[s] == kNoConn) {
          bucket.sig[s] = signature(h);
          bucket.idx[s] = index;
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
      if (bucket.idx[s] == index && bucket.sig[s] == sig) {
        bucket.idx[s] = kNoConn;
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
