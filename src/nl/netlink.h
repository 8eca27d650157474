// A small rtnetlink client on libmnl: one NETLINK_ROUTE socket, request/acknowledge and dump
// exchanges, a request builder and attribute tables. It runs on control-plane threads only (the
// kernel cache's helper thread); nothing here is meant for the data path.
#pragma once

#include <libmnl/libmnl.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "model/address.h"

namespace uvs::nl {

// The attributes of one message (or of one nested attribute), indexed by type. Types beyond
// kCapacity are ignored: every rtnetlink attribute uvs reads is far below it.
class Attrs {
 public:
  static constexpr uint16_t kCapacity = 128;

  // Parses the attributes that follow a family header of `header_len` bytes. False when the
  // message is malformed.
  bool parse(const nlmsghdr* nlh, size_t header_len);
  // Parses the attributes nested in `nest`.
  bool parse_nested(const nlattr* nest);

  const nlattr* get(uint16_t type) const { return type < kCapacity ? table_[type] : nullptr; }
  bool has(uint16_t type) const { return get(type) != nullptr; }
  // Typed reads: nullopt when the attribute is absent or its payload has the wrong size.
  std::optional<uint8_t> u8(uint16_t type) const;
  std::optional<uint32_t> u32(uint16_t type) const;
  std::optional<std::string_view> str(uint16_t type) const;
  // An address attribute of `family` (4 or 16 bytes of payload).
  std::optional<InetAddr> addr(uint16_t type, int family) const;
  // The raw payload; nullopt when the attribute is absent or its payload is not exactly `len`.
  const uint8_t* bytes(uint16_t type, size_t len) const;

 private:
  static int store(const nlattr* attr, void* data);
  std::array<const nlattr*, kCapacity> table_{};
};

// A request message under construction: the netlink header, the family header, attributes.
class Request {
 public:
  Request(uint16_t type, uint16_t flags);

  // Appends the family header (rtmsg, ndmsg, ...) zeroed and returns it for filling in. Call
  // once, before any attribute.
  template <typename Header>
  Header* put_header() {
    return static_cast<Header*>(mnl_nlmsg_put_extra_header(nlh_, sizeof(Header)));
  }
  void put_u32(uint16_t type, uint32_t value);
  // The address bytes of `addr` (4 for IPv4, 16 for IPv6).
  void put_addr(uint16_t type, const InetAddr& addr);

  nlmsghdr* nlh() { return nlh_; }

 private:
  // Requests are a header and a few attributes; this bounds them generously.
  alignas(nlmsghdr) std::array<uint8_t, 512> buf_{};
  nlmsghdr* nlh_;
};

// Called for each data message of a reply or of an event batch.
using MessageFn = std::function<void(const nlmsghdr*)>;

class NetlinkSocket {
 public:
  // Opens a NETLINK_ROUTE socket in the calling thread's network namespace (a socket stays in
  // the namespace it was made in, whatever thread uses it later). `groups` are RTMGRP_* bits
  // to subscribe to (0 for a request socket); an event socket is non-blocking and gets a large
  // receive buffer so that bursts of events do not overrun it. Null and `error` on failure.
  static std::unique_ptr<NetlinkSocket> open(unsigned groups, std::string* error);
  ~NetlinkSocket();
  NetlinkSocket(const NetlinkSocket&) = delete;
  NetlinkSocket& operator=(const NetlinkSocket&) = delete;

  int fd() const;

  // Sends `request` and feeds every data message of the answer to `on_message` until the
  // kernel's acknowledgement (NLM_F_ACK is added) or the end of a dump (NLM_F_DUMP requests).
  // Returns 0 or a negative errno: the kernel's refusal (-ENETUNREACH for a route lookup),
  // -EINTR when a dump was interrupted by a concurrent change (retry it), -ETIMEDOUT when the
  // kernel did not answer in time.
  int transact(Request& request, const MessageFn& on_message);

  // Reads every queued event without blocking and feeds each message to `on_message`. Returns
  // 0 once the queue is empty, -ENOBUFS when the kernel dropped events because the queue
  // overran (the caller must reload its state), or another negative errno.
  int drain_events(const MessageFn& on_message);

 private:
  explicit NetlinkSocket(mnl_socket* socket);
  // Discards whatever a failed exchange left in the socket so that the next one starts clean.
  void discard_stale_replies();

  mnl_socket* socket_;
  uint32_t port_id_ = 0;
  uint32_t next_seq_ = 1;
  bool needs_discard_ = false;
  // Large enough for any dump batch the kernel builds (it caps them at 32 KiB).
  std::vector<uint8_t> buf_;
};

}  // namespace uvs::nl
