// The IPVS generic-netlink family's wire format, as the kernel speaks it (ip_vs_ctl.c and the
// genetlink/af_netlink core): requests decoded into uvs's one Command model, replies encoded
// byte for byte as the kernel's fill functions build them. Plain functions over byte buffers,
// no sockets: libuvs-ipvs relays the bytes, uvsd answers them with genl::Handler.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "model/command.h"
#include "model/listing.h"

namespace uvs::genl {

using Bytes = std::vector<uint8_t>;
// What one request is answered with: one entry per datagram, in order.
using Datagrams = std::vector<Bytes>;

// GENL_ID_CTRL is fixed; the IPVS family's id is whatever the registrar assigns (the kernel
// allocates it dynamically), so it is a parameter everywhere.
inline constexpr uint16_t kCtrlFamilyId = 0x10;
inline constexpr uint16_t kDefaultIpvsFamilyId = 0x1f;
inline constexpr uint8_t kCtrlVersion = 2;     // genl_ctrl.version
inline constexpr uint8_t kIpvsVersion = 1;     // IPVS_GENL_VERSION
inline constexpr uint32_t kIpvsMaxAttr = 6;    // IPVS_CMD_ATTR_MAX
inline constexpr uint32_t kIpvsVersionCode = 0x010201;  // IP_VS_VERSION_CODE (1.2.1)
// IP_VS_SVC_F_HASHED: set on every service the kernel holds, so every listing carries it.
inline constexpr uint32_t kSvcHashed = 0x0002;

// The fixed part of one netlink message (struct nlmsghdr), host order.
struct NlHeader {
  uint32_t len = 0;
  uint16_t type = 0;
  uint16_t flags = 0;
  uint32_t seq = 0;
  uint32_t pid = 0;
};

// Splits a datagram into its messages the way netlink_rcv_skb() walks an skb: it stops at the
// first header shorter than 16 bytes or longer than what remains.
std::vector<std::span<const uint8_t>> split_messages(std::span<const uint8_t> datagram);
// The header of one message (which must hold at least 16 bytes).
NlHeader header_of(std::span<const uint8_t> msg);
// True when the flags ask for a dump (NLM_F_ROOT|NLM_F_MATCH both set, as genetlink tests).
bool is_dump(uint16_t nlmsg_flags);

// Whether the IPVS family implements `cmd` as a single request (doit) or as a dump (dumpit),
// as ip_vs_genl_ops declares them; genl_family_rcv_msg() answers EOPNOTSUPP otherwise.
bool ipvs_has_op(uint8_t cmd, bool dump);

// One IPVS request, decoded. `err` is the errno the kernel answers before it looks at the table
// (a missing or malformed service nest: EINVAL; an unknown family: EAFNOSUPPORT; a malformed
// top-level attribute: ERANGE). The checks that need the table stay with the handler, in the
// kernel's order: the service exists (ESRCH), then `dest_err`, then Control::apply.
struct IpvsRequest {
  NlHeader nlh;
  uint8_t cmd = 0;  // IPVS_CMD_*
  bool dump = false;
  int err = 0;
  Command command;
  bool has_service = false;
  // IPVS_SVC_ATTR_FLAGS's mask: ip_vs_genl_parse_service() merges the new flags into the
  // existing service's as (old & ~mask) | (flags & mask); command.svc.flags holds flags & mask.
  uint32_t svc_flags_mask = 0xffffffff;
  int dest_err = 0;  // ip_vs_genl_parse_dest()'s answer, reported after the service lookup
};

// Decodes one IPVS generic-netlink message (header included). Never fails: problems land in
// the result's err/dest_err, as the kernel would report them.
IpvsRequest decode_ipvs(std::span<const uint8_t> msg);

// CTRL_CMD_GETFAMILY: the family asked for, by name or id (ctrl_getfamily()).
struct CtrlRequest {
  NlHeader nlh;
  uint8_t cmd = 0;  // CTRL_CMD_*
  bool dump = false;
  bool has_name = false;
  std::string name;
  bool has_id = false;
  uint16_t id = 0;
  int err = 0;  // ERANGE/EINVAL for malformed attributes
};
CtrlRequest decode_ctrl(std::span<const uint8_t> msg);

// Reply encoders. `seq` is the request's sequence number, `portid` the requesting socket's
// bound portid (genlmsg_put_reply() and the dump path stamp both), `nlmsg_flags` 0 for a doit
// reply, NLM_F_MULTI for a dump entry.

// ctrl_fill_info() for the IPVS family: CTRL_CMD_NEWFAMILY with name, id, version, hdrsize,
// maxattr and the ops nest (one nest per command with its id and GENL_CMD_CAP_* flags).
Bytes encode_family(uint16_t family_id, uint32_t seq, uint32_t portid, uint16_t nlmsg_flags);
// ip_vs_genl_get_cmd() for GET_INFO: SET_INFO with VERSION and CONN_TAB_SIZE.
Bytes encode_info(uint16_t family_id, uint32_t seq, uint32_t portid, uint32_t conn_tab_size);
// ip_vs_genl_get_cmd() for GET_CONFIG: SET_CONFIG with TIMEOUT_TCP, TCP_FIN and UDP.
Bytes encode_config(uint16_t family_id, uint32_t seq, uint32_t portid, const Timeouts& t);
// ip_vs_genl_fill_service() inside a NEW_SERVICE message.
Bytes encode_service(uint16_t family_id, uint32_t seq, uint32_t portid, uint16_t nlmsg_flags,
                     const ServiceView& svc);
// ip_vs_genl_fill_dest() inside a NEW_DEST message.
Bytes encode_dest(uint16_t family_id, uint32_t seq, uint32_t portid, uint16_t nlmsg_flags,
                  const DestView& dest);
// ip_vs_genl_fill_daemon() inside a NEW_DAEMON message.
Bytes encode_daemon(uint16_t family_id, uint32_t seq, uint32_t portid, uint16_t nlmsg_flags,
                    const DaemonConfig& daemon);
// netlink_dump_done(): NLMSG_DONE, NLM_F_MULTI, payload the int 0.
Bytes encode_done(uint32_t seq, uint32_t portid);
// netlink_ack(): NLMSG_ERROR with -err. Success (err 0), or any error when the socket set
// NETLINK_CAP_ACK, echoes the request's header only and sets NLM_F_CAPPED; an error otherwise
// echoes the whole request. `request` is the request message as received.
Bytes encode_ack(std::span<const uint8_t> request, int err, uint32_t portid, bool cap_ack);

}  // namespace uvs::genl
