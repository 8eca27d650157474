// The kernel's checks on what ipvsadm sends (ip_vs_ctl.c), returning its errnos, plus every
// check ipvsadm itself makes before sending: uvsd's socket takes JSON from any local client,
// so nothing uvsadm would refuse may reach the table.
#pragma once

#include "model/command.h"
#include "model/service.h"

namespace uvs::ctl {

// Checks a service definition for -A/-E: family, address, protocol, flags, persistence timeout,
// IPv6 prefix, scheduler and persistence engine known.
int check_service(const ServiceConfig& svc);
// Checks a real server for -a/-e against its service.
int check_dest(const ServiceConfig& svc, const DestConfig& dest);
// Accepts only unicast real-server addresses, as the kernel does.
bool dest_address_ok(const InetAddr& addr);
// Checks --set's timeouts (0 = unchanged).
int check_timeouts(const Timeouts& timeouts);
// Checks --start-daemon's settings.
int check_daemon(const DaemonConfig& daemon);

}  // namespace uvs::ctl
