#include "conn/region.h"

#include <sys/mman.h>

#include <new>

namespace uvs::conn {

namespace {

constexpr size_t kHugePage = size_t{2} << 20;
constexpr size_t kBasePage = 4096;

}  // namespace

Region::Region(size_t bytes) {
  // Whole huge pages, so the kernel can back all of it with them; small blocks (tests, tiny
  // tables) in whole base pages.
  const size_t unit = bytes >= kHugePage ? kHugePage : kBasePage;
  size_ = bytes == 0 ? unit : (bytes + unit - 1) / unit * unit;
  void* p = mmap(nullptr, size_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) throw std::bad_alloc();
  // Advice only: without THP the table works the same, with more TLB misses.
  madvise(p, size_, MADV_HUGEPAGE);
  data_ = p;
}

Region::~Region() {
  if (data_) munmap(data_, size_);
}

}  // namespace uvs::conn
