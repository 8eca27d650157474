// Generic-netlink datagrams relayed over the control socket. libuvs-ipvs sends what a process
// wrote to its (captured) netlink socket; uvsd answers with the datagrams the kernel would have
// queued on that socket, which the library hands back to the process unchanged. Plain JSON over
// the control socket's framing (api/frame.h), so the library links nothing of uvs's model.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace uvs::api {

struct GenlRelayRequest {
  uint16_t family_id = 0;  // the id the library gives the IPVS family in this process
  uint32_t portid = 0;     // the socket's bound portid: every reply's nlmsg_pid
  bool cap_ack = false;    // NETLINK_CAP_ACK set on the socket
  std::vector<uint8_t> datagram;
};

struct GenlRelayReply {
  int err = 0;  // 0, or why uvsd could not answer at all (EINVAL: malformed relay request)
  std::vector<std::vector<uint8_t>> datagrams;
};

// A relay request is a JSON object whose one member is "genl"; uvsadm's are "command".
std::string encode_genl_request(const GenlRelayRequest& request);
bool is_genl_request(const nlohmann::json& request);
// nullopt when a member is missing, of the wrong type or out of range.
std::optional<GenlRelayRequest> decode_genl_request(const nlohmann::json& request);
std::string encode_genl_reply(const GenlRelayReply& reply);
std::optional<GenlRelayReply> decode_genl_reply(const std::string& bytes);

// Bytes as lowercase hex and back (nullopt for anything else): how the control socket's JSON
// carries datagrams and sync messages.
std::string to_hex(const std::vector<uint8_t>& bytes);
std::optional<std::vector<uint8_t>> from_hex(const std::string& hex);

// One request and its reply on a connected control socket; blocking, bounded by whatever
// timeouts the socket has (SO_SNDTIMEO/SO_RCVTIMEO). nullopt when uvsd cannot be reached in time
// or answers with something that is not a relay reply.
std::optional<GenlRelayReply> genl_round_trip(int fd, const GenlRelayRequest& request);

}  // namespace uvs::api
