#include "conn/region.h"

#include <sys/mman.h>

#include <new>

namespace uvs::conn {

namespace {

constexpr size_t kHugePage = size_t{2} << 20;
constexpr size_t kBasePage = 4096;

}  // namespace

size_t Region::mapped_size(size_t bytes) {
  // Whole huge pages, so the kernel can back all of it with them; small blocks (tests, tiny
  // tables) in whole base pages.
  const size_t unit = bytes >= kHugePage ? kHugePage : kBasePage;
  return bytes == 0 ? unit : (bytes + unit - 1) / unit * unit;
}

Region::Region(size_t bytes) : size_(mapped_size(bytes)) {
  // NORESERVE: pages are committed as they are first written, not all at start.
  void* p = mmap(nullptr, size_, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (p == MAP_FAILED) throw std::bad_alloc();
  // Advice only: without THP the table works the same, with more TLB misses.
  madvise(p, size_, MADV_HUGEPAGE);
  data_ = p;
}

Region::~Region() {
  if (data_) munmap(data_, size_);
}

}  // namespace uvs::conn
