#include "genl/handler.h"

#include <linux/genetlink.h>
#include <linux/ip_vs.h>
#include <linux/netlink.h>

#include <cerrno>

namespace uvs::genl {

Handler::Handler(ControlPlane& control, HandlerOptions options)
    : control_(control), options_(options) {}

Datagrams Handler::handle(std::span<const uint8_t> datagram, const Peer& peer) {
  Datagrams out;
  for (auto msg : split_messages(datagram)) handle_message(msg, peer, out);
  return out;
}

// netlink_rcv_skb(): only requests reach a handler, control types (< NLMSG_MIN_TYPE) are
// skipped; either way an ACK goes back when asked for or when the handler failed, except after
// a dump (netlink_dump_start()'s -EINTR).
void Handler::handle_message(std::span<const uint8_t> msg, const Peer& peer, Datagrams& out) {
  const NlHeader h = header_of(msg);
  int err = 0;
  if ((h.flags & NLM_F_REQUEST) && h.type >= NLMSG_MIN_TYPE) {
    if (h.type == GENL_ID_CTRL)
      err = handle_ctrl(msg, peer, out);
    else if (h.type == options_.family_id)
      err = handle_ipvs(msg, peer, out);
    else
      err = ENOENT;  // genl_rcv_msg(): no family with that id
  }
  if (err == kDumped) return;
  if ((h.flags & NLM_F_ACK) || err) out.push_back(encode_ack(msg, err, peer.portid, peer.cap_ack));
}

// ctrl_getfamily() / ctrl_dumpfamily(), for a registry holding the IPVS family only.
int Handler::handle_ctrl(std::span<const uint8_t> msg, const Peer& peer, Datagrams& out) {
  const CtrlRequest req = decode_ctrl(msg);
  if (req.nlh.len < NLMSG_HDRLEN + GENL_HDRLEN) return EINVAL;
  if (req.cmd != CTRL_CMD_GETFAMILY) return EOPNOTSUPP;
  if (req.dump) {
    emit_dump({encode_family(options_.family_id, req.nlh.seq, peer.portid, NLM_F_MULTI)},
              req.nlh.seq, peer, out);
    return kDumped;
  }
  if (req.err) return req.err;
  // The name, when given, decides; without either attribute the request is invalid.
  bool found = false;
  int err = EINVAL;
  if (req.has_id) {
    found = req.id == options_.family_id;
    err = ENOENT;
  }
  if (req.has_name) {
    found = req.name == IPVS_GENL_NAME;
    err = ENOENT;
  }
  if (!found) return err;
  out.push_back(encode_family(options_.family_id, req.nlh.seq, peer.portid, 0));
  return 0;
}

// genl_family_rcv_msg(): header length, then the op (EOPNOTSUPP when the command has no
// handler of the requested kind), then ip_vs_ctl.c's handler.
int Handler::handle_ipvs(std::span<const uint8_t> msg, const Peer& peer, Datagrams& out) {
  IpvsRequest req = decode_ipvs(msg);
  if (req.nlh.len < NLMSG_HDRLEN + GENL_HDRLEN) return EINVAL;
  if (!ipvs_has_op(req.cmd, req.dump)) return EOPNOTSUPP;
  if (req.dump) return handle_ipvs_dump(req, peer, out);
  if (req.err) return req.err;
  const uint32_t seq = req.nlh.seq;
  switch (req.cmd) {
    case IPVS_CMD_GET_SERVICE: {
      // ip_vs_genl_get_cmd(): the service or ESRCH, the reply before the ACK.
      auto svc = control_.service(req.command.svc.key);
      if (!svc) return ESRCH;
      out.push_back(encode_service(options_.family_id, seq, peer.portid, 0, *svc));
      return 0;
    }
    case IPVS_CMD_GET_INFO:
      out.push_back(
          encode_info(options_.family_id, seq, peer.portid, control_.summary().conn_tab_size));
      return 0;
    case IPVS_CMD_GET_CONFIG:
      out.push_back(
          encode_config(options_.family_id, seq, peer.portid, control_.summary().timeouts));
      return 0;
    default:
      return handle_ipvs_set(req);
  }
}

// ip_vs_genl_dump_services(), ip_vs_genl_dump_dests(), ip_vs_genl_dump_daemons().
int Handler::handle_ipvs_dump(const IpvsRequest& req, const Peer& peer, Datagrams& out) {
  const uint32_t seq = req.nlh.seq;
  const uint16_t id = options_.family_id;
  std::vector<Bytes> entries;
  switch (req.cmd) {
    case IPVS_CMD_GET_SERVICE:
      for (const auto& svc : control_.table().services)
        entries.push_back(encode_service(id, seq, peer.portid, NLM_F_MULTI, svc));
      break;
    case IPVS_CMD_GET_DEST:
      // A malformed request or a missing service lists nothing: the dump is just DONE.
      if (req.err == 0 && req.has_service) {
        if (auto svc = control_.service(req.command.svc.key))
          for (const auto& dest : svc->dests)
            entries.push_back(encode_dest(id, seq, peer.portid, NLM_F_MULTI, dest));
      }
      break;
    case IPVS_CMD_GET_DAEMON:
      for (const auto& d : control_.summary().daemons)
        entries.push_back(encode_daemon(id, seq, peer.portid, NLM_F_MULTI, d));
      break;
    default:
      break;
  }
  emit_dump(entries, seq, peer, out);
  return kDumped;
}

// ip_vs_genl_set_cmd() and ip_vs_genl_set_daemon(), in the kernel's order of checks: the
// service must exist for everything but NEW_SERVICE (ESRCH) before the dest nest is looked at;
// NEW_SERVICE of an existing service is EEXIST whatever its definition; the rest is
// Control::apply's shared validation.
int Handler::handle_ipvs_set(IpvsRequest& req) {
  Command& cmd = req.command;
  if (req.has_service) {
    const auto existing = control_.service(cmd.svc.key);
    if (req.cmd == IPVS_CMD_NEW_SERVICE) {
      if (existing) return EEXIST;
    } else if (!existing) {
      return ESRCH;
    }
    if (req.dest_err) return req.dest_err;
    if (req.cmd == IPVS_CMD_NEW_SERVICE || req.cmd == IPVS_CMD_SET_SERVICE) {
      // ip_vs_genl_parse_service(): flags outside the mask keep the existing service's.
      const uint32_t old = existing ? existing->cfg.flags : 0;
      cmd.svc.flags = ((old & ~req.svc_flags_mask) | cmd.svc.flags) & ~kSvcHashed;
    }
  }
  return control_.apply(cmd);
}

void Handler::emit_dump(const std::vector<Bytes>& entries, uint32_t seq, const Peer& peer,
                        Datagrams& out) const {
  Bytes current;
  for (const Bytes& e : entries) {
    if (!current.empty() && current.size() + e.size() > options_.dump_datagram_max) {
      out.push_back(std::move(current));
      current.clear();
    }
    current.insert(current.end(), e.begin(), e.end());
  }
  if (!current.empty()) out.push_back(std::move(current));
  // netlink_dump(): the call that finds nothing more writes DONE into a fresh skb.
  out.push_back(encode_done(seq, peer.portid));
}

}  // namespace uvs::genl
