// Answers the datagrams a process sends to the IPVS generic-netlink family (and to nlctrl,
// for the family lookup) as the kernel would: netlink_rcv_skb()'s walk and ACK rules,
// genetlink's op dispatch, ip_vs_ctl.c's genl handlers. The table lives behind ControlPlane,
// so uvsd plugs in its ctl::Control (control_adapter.h) and tests plug in what they like.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

#include "genl/codec.h"
#include "model/command.h"
#include "model/listing.h"

namespace uvs::genl {

// What the handler needs from the control plane.
class ControlPlane {
 public:
  virtual ~ControlPlane() = default;
  // Applies a table command: 0 or the kernel's errno, the table unchanged on error.
  virtual int apply(const Command& cmd) = 0;
  // The whole table with counters and rates (GET_SERVICE dumps).
  virtual TableView table() = 0;
  // Size, timeouts and daemons, without services (GET_INFO, GET_CONFIG, GET_DAEMON).
  virtual TableView summary() = 0;
  // One service with its real servers, nullopt if absent.
  virtual std::optional<ServiceView> service(const ServiceKey& key) = 0;
};

// The requesting socket, as the relay knows it.
struct Peer {
  uint32_t portid = 0;   // its bound portid: every reply's nlmsg_pid
  bool cap_ack = false;  // NETLINK_CAP_ACK set: errors echo the request's header only
};

struct HandlerOptions {
  uint16_t family_id = kDefaultIpvsFamilyId;
  // How many bytes of dump entries share one datagram: NLMSG_GOODSIZE on 4 KiB pages, what
  // netlink_dump() allocates for a reader that has not asked for more.
  size_t dump_datagram_max = 3776;
};

class Handler {
 public:
  explicit Handler(ControlPlane& control, HandlerOptions options = {});

  // Answers every message of one datagram, in order. Non-dump replies and ACKs are one
  // message per datagram (libnl drops the rest of a datagram after a reply); dump entries share
  // datagrams, NLMSG_DONE comes alone, and a dump gets no ACK.
  Datagrams handle(std::span<const uint8_t> datagram, const Peer& peer);

  const HandlerOptions& options() const { return options_; }

 private:
  // Returned by the dispatchers when a dump was answered: netlink_rcv_skb() skips the ACK.
  static constexpr int kDumped = -1;

  void handle_message(std::span<const uint8_t> msg, const Peer& peer, Datagrams& out);
  int handle_ctrl(std::span<const uint8_t> msg, const Peer& peer, Datagrams& out);
  int handle_ipvs(std::span<const uint8_t> msg, const Peer& peer, Datagrams& out);
  int handle_ipvs_dump(const IpvsRequest& req, const Peer& peer, Datagrams& out);
  int handle_ipvs_set(IpvsRequest& req);
  // Packs dump entries into datagrams, then NLMSG_DONE in its own.
  void emit_dump(const std::vector<Bytes>& entries, uint32_t seq, const Peer& peer,
                 Datagrams& out) const;

  ControlPlane& control_;
  HandlerOptions options_;
};

}  // namespace uvs::genl
