// The control socket's framing: a 4-byte big-endian length, then the payload. Kept apart from
// the request model so that libuvs-ipvs, loaded into other processes, takes only this.
#pragma once

#include <cstddef>
#include <string>

namespace uvs::api {

// Both retry on EINTR.
bool write_frame(int fd, const std::string& payload);
// The bytes write_frame() sends, for a non-blocking writer.
std::string encode_frame(const std::string& payload);
enum class ReadStatus { kOk, kClosed, kTooLarge, kError };
ReadStatus read_frame(int fd, size_t max_bytes, std::string& payload);

// The same framing for a non-blocking reader (uvsd's event loop): bytes go in as they arrive,
// whole payloads come out. A length over the limit is refused as soon as the prefix is in, so
// a client cannot make uvsd buffer more than one frame's worth.
class FrameDecoder {
 public:
  explicit FrameDecoder(size_t max_bytes) : max_bytes_(max_bytes) {}
  enum class Status { kNeedMore, kFrame, kTooLarge };
  void feed(const char* bytes, size_t n);
  // Moves the next whole payload into `payload` (kFrame); kNeedMore until one is complete.
  Status next(std::string& payload);
  // Bytes received and not yet returned as a payload.
  size_t buffered() const { return buf_.size() - start_; }

 private:
  size_t max_bytes_;
  std::string buf_;
  size_t start_ = 0;  // consumed prefix of buf_, dropped on the next feed()
};

}  // namespace uvs::api
