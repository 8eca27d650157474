// libFuzzer target over what uvsd does with bytes from its control socket before the control
// plane sees them: the frame readers (the event loop's FrameDecoder, fed in pieces, and the
// blocking read_frame() over a real socket) and api::decode_request(). Nothing may crash or
// leak; a request that decodes must encode and decode again to the same request.
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <exception>
#include <string>

#include "api/protocol.h"

namespace {

// Small limit so that the fuzzer reaches the too-large path with short inputs.
constexpr size_t kMaxFrame = 4096;

void decode_one(const std::string& payload) {
  uvs::Command cmd;
  try {
    cmd = uvs::api::decode_request(payload);
  } catch (const std::exception&) {
    return;  // refused: uvsd replies EINVAL
  }
  // What decoded must survive a round trip unchanged (uvsd never sees a half-read command).
  const std::string again = uvs::api::encode_request(cmd);
  const std::string twice = uvs::api::encode_request(uvs::api::decode_request(again));
  if (again != twice) std::abort();
}

void frame_decoder(const uint8_t* data, size_t size) {
  if (size == 0) return;
  // The first byte sets how the stream is cut into reads, as a socket would.
  const size_t chunk = 1 + data[0] % 16;
  uvs::api::FrameDecoder dec(kMaxFrame);
  std::string payload;
  for (size_t off = 1; off < size; off += chunk) {
    dec.feed(reinterpret_cast<const char*>(data) + off, std::min(chunk, size - off));
    for (;;) {
      auto st = dec.next(payload);
      if (st == uvs::api::FrameDecoder::Status::kTooLarge) return;  // uvsd hangs up
      if (st == uvs::api::FrameDecoder::Status::kNeedMore) break;
      if (payload.size() > kMaxFrame) std::abort();
      decode_one(payload);
    }
  }
}

void read_frame_over_socket(const uint8_t* data, size_t size) {
  // One socket pair for the whole run (a new one per input would cost more than the input);
  // the reader is non-blocking, so a frame cut short ends in kError as a stalled client would.
  static int sv[2] = {-1, -1};
  if (sv[0] < 0) {
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) std::abort();
    fcntl(sv[1], F_SETFL, O_NONBLOCK);
  }
  // Inputs are far below the socket buffer, so one send never blocks.
  if (size > 0 && send(sv[0], data, size, MSG_NOSIGNAL) != static_cast<ssize_t>(size))
    std::abort();
  std::string payload;
  while (uvs::api::read_frame(sv[1], kMaxFrame, payload) == uvs::api::ReadStatus::kOk) {
    if (payload.size() > kMaxFrame) std::abort();
    decode_one(payload);
  }
  char drain[8192];
  while (read(sv[1], drain, sizeof drain) > 0) {
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  decode_one(std::string(reinterpret_cast<const char*>(data), size));
  frame_decoder(data, size);
  read_frame_over_socket(data, size);
  return 0;
}
