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
      TableView table = control.table();
      if (cmd.kind == CommandKind::kList && cmd.list.connections) {
        reply.conns = control.connections();
      } else if (cmd.has(kOptService)) {
        std::vector<ServiceView> one;
        for (auto& s : table.services)
          if (s.cfg.key == cmd.svc.key) one.push_back(std::move(s));
        if (one.empty()) {
          reply.err = ESRCH;
          return reply;
        }
        table.services = std::move(one);
      }
      reply.table = std::move(table);
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

}  // namespace uvs::api
