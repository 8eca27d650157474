// A large zero-filled memory block for the connection pool and its index, mapped once when a
// worker starts. Anonymous mmap with transparent huge pages requested: a table of millions of
// entries is read at random, and 2 MiB pages keep the TLB from becoming the bottleneck.
// Mapped MAP_NORESERVE and touched only as used, so a large --conn-max costs memory as
// connections arrive; uvsd checks the full size against MemAvailable before it starts.
#pragma once

#include <cstddef>

namespace uvs::conn {

class Region {
 public:
  // Throws std::bad_alloc if the memory cannot be mapped (start-up only).
  explicit Region(size_t bytes);
  ~Region();
  Region(const Region&) = delete;
  Region& operator=(const Region&) = delete;

  // The bytes a Region of `bytes` maps (whole pages).
  static size_t mapped_size(size_t bytes);

  void* data() const { return data_; }
  size_t size() const { return size_; }

 private:
  void* data_ = nullptr;
  size_t size_ = 0;
};

}  // namespace uvs::conn
