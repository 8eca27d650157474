// Answers one control-socket request: table changes go to Control::apply, reads get a
// snapshot (filtered to one service when the command names one).
#pragma once

#include <span>

#include "api/protocol.h"
#include "ctl/control.h"

namespace uvs::api {

Reply handle_request(ctl::Control& control, const Command& cmd);
// One batch of uvsadm --pick: the Command must be kPick with a service.
Reply handle_pick(const ctl::Control& control, const Command& cmd,
                  std::span<const ClientTuple> clients);

// True for the commands that change the table (what a config file may contain).
bool is_table_change(CommandKind kind);

}  // namespace uvs::api
