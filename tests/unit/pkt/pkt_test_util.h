// Helpers shared by the pkt/ tests.
#pragma once

#include <cstring>
#include <memory>

#include "pkt/builder.h"
#include "pkt/parse.h"

namespace uvs::pkt::testing {

// A heap copy of exactly the frame's bytes, so that ASan flags any read past the end (a
// std::vector may have spare capacity behind its size).
class ExactBuffer {
 public:
  explicit ExactBuffer(const Bytes& bytes)
      : size_(static_cast<uint32_t>(bytes.size())), data_(new uint8_t[bytes.size() ? bytes.size() : 1]) {
    if (size_) std::memcpy(data_.get(), bytes.data(), size_);
  }
  ExactBuffer(const uint8_t* p, uint32_t n) : size_(n), data_(new uint8_t[n ? n : 1]) {
    if (n) std::memcpy(data_.get(), p, n);
  }
  uint8_t* data() { return data_.get(); }
  uint32_t size() const { return size_; }
  Bytes bytes() const { return Bytes(data_.get(), data_.get() + size_); }

 private:
  uint32_t size_;
  std::unique_ptr<uint8_t[]> data_;
};

inline ParsedPacket parse_exact(const Bytes& frame, uint32_t flags = 0) {
  ExactBuffer buf(frame);
  ParsedPacket p;
  parse_frame(buf.data(), buf.size(), &p, flags);
  return p;
}

inline ParsedPacket parse_prefix(const Bytes& frame, uint32_t len, uint32_t flags = 0) {
  ExactBuffer buf(frame.data(), len);
  ParsedPacket p;
  parse_frame(buf.data(), buf.size(), &p, flags);
  return p;
}

}  // namespace uvs::pkt::testing
