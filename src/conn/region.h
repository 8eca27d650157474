// A large zero-filled memory block for the connection pool and its index, taken once when a
// worker starts. Anonymous mmap with transparent huge pages requested: a table of millions of
// entries is read at random, and 2 MiB pages keep the TLB from becoming the bottleneck.
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

  void* data() const { return data_; }
  size_t size() const { return size_; }

 private:
  void* data_ = nullptr;
  size_t size_ = 0;
};

}  // namespace uvs::conn
