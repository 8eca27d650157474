// Netlink datagram helpers for libuvs-ipvs: walking the messages of a datagram as
// netlink_rcv_skb() does, deciding which ones uvsd answers, and the few replies the library
// writes itself (netlink_ack()'s error when uvsd cannot be reached). No state, no uvs model.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace uvs::preload {

using Bytes = std::vector<uint8_t>;

// One message of a datagram: its bytes up to the next message (alignment padding included).
struct Message {
  size_t offset = 0;
  size_t size = 0;  // nlmsg_len rounded up to NLMSG_ALIGNTO, capped at the datagram's end
  uint32_t len = 0;
  uint16_t type = 0;
  uint16_t flags = 0;
  uint32_t seq = 0;
};

// The well-formed messages of a datagram, in order; stops at the first message netlink_rcv_skb()
// would stop at (length below the header or past the datagram's end).
std::vector<Message> split_messages(std::span<const uint8_t> datagram);

enum class Route { kUvsd, kKernel };

// uvsd answers requests to the IPVS family and CTRL_CMD_GETFAMILY (not a dump) naming "IPVS" or
// its id, as ctrl_getfamily() decides (the name, when present, wins over the id).
Route route_of(std::span<const uint8_t> msg, uint16_t ipvs_family_id);

// A CTRL_CMD_GETFAMILY dump (the kernel's list of families, which gets IPVS added).
bool is_family_dump(std::span<const uint8_t> msg);

// netlink_ack()'s message for `msg` with `err` (a positive errno, or 0 for an ACK): a failure
// echoes the whole request unless cap_ack, an ACK only its header, with NLM_F_CAPPED then.
Bytes encode_error(std::span<const uint8_t> msg, int err, uint32_t portid, bool cap_ack);

// The replies netlink_rcv_skb() would queue for a datagram whose family is gone: `err` for every
// request, an ACK for what only asks for one.
std::vector<Bytes> answer_all(std::span<const uint8_t> datagram, int err, uint32_t portid,
                              bool cap_ack);

// Sets nlmsg_pid to `to` in every message of `datagram` whose nlmsg_pid is `from`.
void rewrite_portid(Bytes& datagram, uint32_t from, uint32_t to);

// CTRL_CMD_GETFAMILY naming `name`, not a dump.
Bytes encode_getfamily(const char* name, uint32_t seq, uint32_t portid);

// The family id a CTRL_CMD_NEWFAMILY message carries (0 when it is not one).
uint16_t family_id_of(std::span<const uint8_t> msg);

}  // namespace uvs::preload
