// libFuzzer target over what a sync backup does with a datagram from the sync socket: the
// reader must never crash, never hand out more records than the message holds or states a
// protocol lacks, and every record it accepts must survive being sent again by a master.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>
#include <vector>

#include "sync/message.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace uvs::sync;
  static std::vector<SyncConn> out(kMaxConnsPerMessage);
  ReadStats stats;
  const uint8_t syncid = size > 0 ? data[0] % 3 : 0;  // 0: take all; else a filter
  const size_t n = read_message({data, size}, syncid, out, stats);
  if (n > kMaxConnsPerMessage || n * 24 > size) std::abort();
  MessageBuilder again(0, 65535);
  for (size_t i = 0; i < n; ++i) {
    if (out[i].flags & ~kBackupFlagsMask) std::abort();
    if (!again.add(out[i])) std::abort();
  }
  std::vector<SyncConn> back(kMaxConnsPerMessage);
  ReadStats stats2;
  if (read_message(again.bytes(), 0, back, stats2) != n) std::abort();
  for (size_t i = 0; i < n; ++i)
    if (back[i].cport != out[i].cport || back[i].daddr != out[i].daddr ||
        back[i].flags != out[i].flags || back[i].has_fnat != out[i].has_fnat)
      std::abort();
  return 0;
}
