#include "api/dispatch.h"

#include <cerrno>

namespace uvs::api {

bool is_table_change(CommandKind kind) {
  switch (kind) {
    case CommandKind::kAddService:
    case CommandKind::kEditService:
    case CommandKind::kDelService:
    case CommandKind::kFlush:
    case CommandKind::kAddDest:
    case CommandKind::kEditDest:
    case CommandKind::kDelDest:
    case CommandKind::kZero:
    case CommandKind::kSetTimeout:
    case CommandKind::kStartDaemon:
    case CommandKind::kStopDaemon:
    case CommandKind::kAddLaddr:
    case CommandKind::kDelLaddr:
      return true;
    default:
      return false;
  }
}

Reply handle_request(ctl::Control& control, const Command& cmd) {
  Reply reply;
  switch (cmd.kind) {
    case CommandKind::kList:
    case CommandKind::kSave:
    case CommandKind::kGetLaddr: {
      const ListFormat& f = cmd.list;
      // -c, --timeout and --daemon need no service: their cost must not grow with the table.
      if (cmd.kind == CommandKind::kList && (f.connections || f.timeout || f.daemon)) {
        reply.table = control.summary();
        if (f.connections) reply.conns = control.connections();
        return reply;
      }
      if (cmd.has(kOptService)) {
        std::optional<ServiceView> one = control.service(cmd.svc.key);
        if (!one) {
          reply.err = ESRCH;
          return reply;
        }
        reply.table = control.summary();
        reply.table->services.push_back(std::move(*one));
        return reply;
      }
      reply.table = control.table();
      return reply;
    }
    default:
      if (!is_table_change(cmd.kind)) {
        reply.err = EINVAL;
        return reply;
      }
      reply.err = control.apply(cmd);
      return reply;
  }
}

Reply handle_pick(const ctl::Control& control, const Command& cmd,
                  std::span<const ClientTuple> clients) {
  Reply reply;
  if (cmd.kind != CommandKind::kPick || !cmd.has(kOptService)) {
    reply.err = EINVAL;
    return reply;
  }
  reply.pick.emplace();
  reply.err = control.pick(cmd.svc.key, clients, *reply.pick);
  return reply;
}

}  // namespace uvs::api
