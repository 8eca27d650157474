// A large --conn-max costs memory as connections use it: building a table touches nothing, and
// memory_for() states what a full one takes.
#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>

#include "conn/table.h"

namespace uvs::conn {
namespace {

// Resident bytes of this process.
size_t resident() {
  std::ifstream in("/proc/self/statm");
  size_t pages_total, pages_resident;
  in >> pages_total >> pages_resident;
  return pages_resident * static_cast<size_t>(sysconf(_SC_PAGESIZE));
}

TEST(TableMemory, TenMillionSlotsCostNothingUntilUsed) {
  TableOptions o;
  o.capacity = 10'000'000;
  o.hash_seed = 1;
  const size_t before = resident();
  Table t(o);
  const size_t after = resident();
  EXPECT_EQ(t.memory_bytes(), Table::memory_for(o));
  // 128 bytes an entry plus about 23 of index (2 keys a connection, 7 a 64-byte bucket, 80%).
  EXPECT_GT(t.memory_bytes(), size_t{150} * o.capacity);
  EXPECT_LT(t.memory_bytes(), size_t{155} * o.capacity);
  EXPECT_LT(after - before, size_t{16} << 20) << "built table made resident";
  std::printf("table of %u slots: %zu bytes mapped (%.1f per slot), %zu resident at start\n",
              o.capacity, t.memory_bytes(), double(t.memory_bytes()) / o.capacity,
              after - before);

  // Used entries come in order and go back to the pool as before.
  Conn* a = t.alloc();
  Conn* b = t.alloc();
  ASSERT_TRUE(a && b);
  EXPECT_EQ(t.index_of(*a), 0u);
  EXPECT_EQ(t.index_of(*b), 1u);
  a->af = AF_INET;
  a->protocol = 6;
  a->cport = 1000;
  a->vport = 80;
  ASSERT_TRUE(t.link(*a));
  Tuple tu;
  tu.af = AF_INET;
  tu.protocol = 6;
  tu.sport = 1000;
  tu.dport = 80;
  EXPECT_EQ(t.lookup_in(tu), a);
  t.unlink(*a);
  EXPECT_EQ(t.lookup_in(tu), nullptr);
  t.free(*a);
  EXPECT_EQ(t.alloc(), a);
  EXPECT_EQ(t.high_water(), 2u);
}

TEST(TableMemory, FillsToCapacityLazily) {
  TableOptions o;
  o.capacity = 1000;
  o.hash_seed = 2;
  Table t(o);
  for (uint32_t i = 0; i < o.capacity; ++i) ASSERT_NE(t.alloc(), nullptr) << i;
  EXPECT_EQ(t.alloc(), nullptr);
  EXPECT_EQ(t.size(), o.capacity);
}

}  // namespace
}  // namespace uvs::conn
