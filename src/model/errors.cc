#include "model/errors.h"

#include <cerrno>
#include <cstring>

namespace uvs {

namespace {

struct OpError {
  CommandKind kind;
  int err;
  const char* text;
};

// Operation-specific texts first, as libipvs lists them.
constexpr OpError kOpErrors[] = {
    {CommandKind::kAddService, EEXIST, "Service already exists"},
    {CommandKind::kAddService, ENOENT, "Scheduler or persistence engine not found"},
    {CommandKind::kEditService, ENOENT, "Scheduler or persistence engine not found"},
    {CommandKind::kEditService, ESRCH, "No such service"},
    {CommandKind::kDelService, ESRCH, "No such service"},
    {CommandKind::kZero, ESRCH, "No such service"},
    {CommandKind::kAddDest, ESRCH, "Service not defined"},
    {CommandKind::kEditDest, ESRCH, "Service not defined"},
    {CommandKind::kDelDest, ESRCH, "Service not defined"},
    {CommandKind::kAddDest, EEXIST, "Destination already exists"},
    {CommandKind::kEditDest, ENOENT, "No such destination"},
    {CommandKind::kDelDest, ENOENT, "No such destination"},
    {CommandKind::kStartDaemon, EEXIST, "Daemon has already run"},
    {CommandKind::kStopDaemon, ESRCH, "No daemon is running"},
    {CommandKind::kList, ESRCH, "No such service"},
    {CommandKind::kAddLaddr, ESRCH, "Service not defined"},
    {CommandKind::kDelLaddr, ESRCH, "Service not defined"},
    {CommandKind::kGetLaddr, ESRCH, "No such service"},
    {CommandKind::kPick, ESRCH, "No such service"},
    {CommandKind::kAddLaddr, EEXIST, "Local address already exists"},
    {CommandKind::kDelLaddr, ENOENT, "No such local address"},
};

struct GenericError {
  int err;
  const char* text;
};

constexpr GenericError kGenericErrors[] = {
    {EPERM, "Permission denied (you must be root)"},
    {EINVAL, "Invalid operation.  Possibly wrong module version, address not unicast, ..."},
    {ENOPROTOOPT, "Protocol not available"},
    {ENOMEM, "Memory allocation problem"},
    {EOPNOTSUPP, "Operation not supported with IPv6"},
    {EAFNOSUPPORT, "Operation not supported with specified address family"},
    {EMSGSIZE, "Module is wrong version"},
};

}  // namespace

std::string ipvs_strerror(CommandKind kind, int err) {
  for (const auto& e : kOpErrors)
    if (e.kind == kind && e.err == err) return e.text;
  for (const auto& e : kGenericErrors)
    if (e.err == err) return e.text;
  return std::strerror(err);
}

}  // namespace uvs
