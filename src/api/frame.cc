#include "api/frame.h"

#include <arpa/inet.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>

namespace uvs::api {

namespace {

bool write_all(int fd, const char* p, size_t n) {
  while (n > 0) {
    ssize_t w = ::send(fd, p, n, MSG_NOSIGNAL);
    if (w < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    p += w;
    n -= static_cast<size_t>(w);
  }
  return true;
}

// Returns bytes read (== n), 0 on EOF before anything, -1 on error or EOF mid-way.
ssize_t read_all(int fd, char* p, size_t n) {
  size_t got = 0;
  while (got < n) {
    ssize_t r = ::read(fd, p + got, n - got);
    if (r < 0) {
      if (errno == EINTR) continue;
      return -1;
    }
    if (r == 0) return got == 0 ? 0 : -1;
    got += static_cast<size_t>(r);
  }
  return static_cast<ssize_t>(got);
}

}  // namespace

bool write_frame(int fd, const std::string& payload) {
  uint32_t len = htonl(static_cast<uint32_t>(payload.size()));
  return write_all(fd, reinterpret_cast<const char*>(&len), sizeof len) &&
         write_all(fd, payload.data(), payload.size());
}

std::string encode_frame(const std::string& payload) {
  uint32_t len = htonl(static_cast<uint32_t>(payload.size()));
  std::string out(reinterpret_cast<const char*>(&len), sizeof len);
  out += payload;
  return out;
}

ReadStatus read_frame(int fd, size_t max_bytes, std::string& payload) {
  uint32_t len;
  ssize_t r = read_all(fd, reinterpret_cast<char*>(&len), sizeof len);
  if (r == 0) return ReadStatus::kClosed;
  if (r < 0) return ReadStatus::kError;
  len = ntohl(len);
  if (len > max_bytes) return ReadStatus::kTooLarge;
  payload.resize(len);
  if (len == 0) return ReadStatus::kOk;
  if (read_all(fd, payload.data(), len) != static_cast<ssize_t>(len)) return ReadStatus::kError;
  return ReadStatus::kOk;
}

void FrameDecoder::feed(const char* bytes, size_t n) {
  if (start_ > 0) {
    buf_.erase(0, start_);
    start_ = 0;
  }
  buf_.append(bytes, n);
}

FrameDecoder::Status FrameDecoder::next(std::string& payload) {
  if (buffered() < 4) return Status::kNeedMore;
  uint32_t len;
  std::memcpy(&len, buf_.data() + start_, sizeof len);
  len = ntohl(len);
  if (len > max_bytes_) return Status::kTooLarge;
  if (buffered() - 4 < len) return Status::kNeedMore;
  payload.assign(buf_, start_ + 4, len);
  start_ += 4 + size_t{len};
  return Status::kFrame;
}

}  // namespace uvs::api
