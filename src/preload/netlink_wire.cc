#include "preload/netlink_wire.h"

#include <linux/genetlink.h>
#include <linux/netlink.h>

#include <algorithm>
#include <cstring>
#include <string_view>

namespace uvs::preload {

namespace {

constexpr std::string_view kIpvsName = "IPVS";  // IPVS_GENL_NAME

uint16_t get16(std::span<const uint8_t> b, size_t off) {
  uint16_t v;
  std::memcpy(&v, b.data() + off, sizeof v);
  return v;
}

uint32_t get32(std::span<const uint8_t> b, size_t off) {
  uint32_t v;
  std::memcpy(&v, b.data() + off, sizeof v);
  return v;
}

// The message without padding, as nlmsg_len bounds it.
std::span<const uint8_t> body(std::span<const uint8_t> msg) {
  if (msg.size() < NLMSG_HDRLEN) return {};
  return msg.first(std::min<size_t>(get32(msg, 0), msg.size()));
}

// Calls f(type, payload) for each attribute after the generic-netlink header; nla_type's
// NLA_F_NESTED/NLA_F_NET_BYTEORDER bits masked off as nla_type() does.
template <typename F>
void for_each_attr(std::span<const uint8_t> msg, F f) {
  msg = body(msg);
  size_t off = NLMSG_HDRLEN + GENL_HDRLEN;
  while (off + NLA_HDRLEN <= msg.size()) {
    const uint16_t len = get16(msg, off);
    const uint16_t type = get16(msg, off + 2) & NLA_TYPE_MASK;
    if (len < NLA_HDRLEN || off + len > msg.size()) return;
    f(type, msg.subspan(off + NLA_HDRLEN, len - NLA_HDRLEN));
    off += NLA_ALIGN(len);
  }
}

bool is_ctrl_cmd(std::span<const uint8_t> msg, uint8_t cmd) {
  msg = body(msg);
  return msg.size() >= NLMSG_HDRLEN + GENL_HDRLEN && get16(msg, 4) == GENL_ID_CTRL &&
         msg[NLMSG_HDRLEN] == cmd;
}

bool is_dump(std::span<const uint8_t> msg) {
  return (get16(msg, 6) & NLM_F_DUMP) == NLM_F_DUMP;  // genl_family_rcv_msg()'s test
}

void put_header(Bytes& out, uint32_t len, uint16_t type, uint16_t flags, uint32_t seq,
                uint32_t portid) {
  const nlmsghdr h{len, type, flags, seq, portid};
  const auto* p = reinterpret_cast<const uint8_t*>(&h);
  out.insert(out.end(), p, p + sizeof h);
}

}  // namespace

std::vector<Message> split_messages(std::span<const uint8_t> datagram) {
  std::vector<Message> out;
  size_t off = 0;
  while (datagram.size() - off >= NLMSG_HDRLEN) {
    const uint32_t len = get32(datagram, off);
    if (len < NLMSG_HDRLEN || len > datagram.size() - off) break;
    Message m;
    m.offset = off;
    m.len = len;
    m.size = std::min<size_t>(NLMSG_ALIGN(len), datagram.size() - off);
    m.type = get16(datagram, off + 4);
    m.flags = get16(datagram, off + 6);
    m.seq = get32(datagram, off + 8);
    out.push_back(m);
    off += m.size;
  }
  return out;
}

Route route_of(std::span<const uint8_t> msg, uint16_t ipvs_family_id) {
  msg = body(msg);
  if (msg.empty()) return Route::kKernel;
  if (get16(msg, 4) == ipvs_family_id) return Route::kUvsd;
  if (!is_ctrl_cmd(msg, CTRL_CMD_GETFAMILY) || is_dump(msg)) return Route::kKernel;
  bool has_name = false, name_is_ipvs = false, has_id = false, id_is_ipvs = false;
  for_each_attr(msg, [&](uint16_t type, std::span<const uint8_t> value) {
    if (type == CTRL_ATTR_FAMILY_NAME) {
      has_name = true;
      const auto* s = reinterpret_cast<const char*>(value.data());
      name_is_ipvs = std::string_view(s, strnlen(s, value.size())) == kIpvsName;
    } else if (type == CTRL_ATTR_FAMILY_ID && value.size() >= 2) {
      has_id = true;
      id_is_ipvs = get16(value, 0) == ipvs_family_id;
    }
  });
  if (has_name) return name_is_ipvs ? Route::kUvsd : Route::kKernel;
  return has_id && id_is_ipvs ? Route::kUvsd : Route::kKernel;
}

bool is_family_dump(std::span<const uint8_t> msg) {
  return is_ctrl_cmd(msg, CTRL_CMD_GETFAMILY) && is_dump(body(msg)) &&
         (get16(msg, 6) & NLM_F_REQUEST);
}

Bytes encode_error(std::span<const uint8_t> msg, int err, uint32_t portid, bool cap_ack) {
  msg = body(msg);
  const bool echo = err != 0 && !cap_ack;
  const size_t echoed = echo ? msg.size() : NLMSG_HDRLEN;
  const uint32_t len = static_cast<uint32_t>(NLMSG_HDRLEN + sizeof(int) + echoed);
  Bytes out;
  out.reserve(NLMSG_ALIGN(len));
  put_header(out, len, NLMSG_ERROR, echo ? 0 : NLM_F_CAPPED, get32(msg, 8), portid);
  const int error = -err;
  const auto* e = reinterpret_cast<const uint8_t*>(&error);
  out.insert(out.end(), e, e + sizeof error);
  out.insert(out.end(), msg.begin(), msg.begin() + static_cast<ptrdiff_t>(echoed));
  out.resize(NLMSG_ALIGN(len), 0);
  return out;
}

std::vector<Bytes> answer_all(std::span<const uint8_t> datagram, int err, uint32_t portid,
                              bool cap_ack) {
  std::vector<Bytes> out;
  for (const Message& m : split_messages(datagram)) {
    const auto msg = datagram.subspan(m.offset, m.size);
    if ((m.flags & NLM_F_REQUEST) && m.type >= NLMSG_MIN_TYPE)
      out.push_back(encode_error(msg, err, portid, cap_ack));
    else if (m.flags & NLM_F_ACK)
      out.push_back(encode_error(msg, 0, portid, cap_ack));
  }
  return out;
}

void rewrite_portid(Bytes& datagram, uint32_t from, uint32_t to) {
  for (const Message& m : split_messages(datagram)) {
    if (get32(datagram, m.offset + 12) == from)
      std::memcpy(datagram.data() + m.offset + 12, &to, sizeof to);
  }
}

Bytes encode_getfamily(const char* name, uint32_t seq, uint32_t portid) {
  const size_t name_len = std::strlen(name) + 1;
  const uint32_t len = static_cast<uint32_t>(NLMSG_HDRLEN + GENL_HDRLEN + NLA_HDRLEN + name_len);
  Bytes out;
  put_header(out, len, GENL_ID_CTRL, NLM_F_REQUEST, seq, portid);
  out.push_back(CTRL_CMD_GETFAMILY);
  out.push_back(1);  // what libnl's genl_ctrl_resolve() sends
  out.push_back(0);
  out.push_back(0);
  const uint16_t nla[2] = {static_cast<uint16_t>(NLA_HDRLEN + name_len), CTRL_ATTR_FAMILY_NAME};
  const auto* p = reinterpret_cast<const uint8_t*>(nla);
  out.insert(out.end(), p, p + sizeof nla);
  out.insert(out.end(), name, name + name_len);
  out.resize(NLMSG_ALIGN(len), 0);
  return out;
}

uint16_t family_id_of(std::span<const uint8_t> msg) {
  if (!is_ctrl_cmd(msg, CTRL_CMD_NEWFAMILY)) return 0;
  uint16_t id = 0;
  for_each_attr(msg, [&](uint16_t type, std::span<const uint8_t> value) {
    if (type == CTRL_ATTR_FAMILY_ID && value.size() >= 2) id = get16(value, 0);
  });
  return id;
}

}  // namespace uvs::preload
