// The kernel's checks on what ipvsadm sends (ip_vs_ctl.c), returning its errnos.
#pragma once

#include "model/service.h"

namespace uvs::ctl {

// Checks a service definition for -A/-E: scheduler and persistence engine known, IPv6 prefix.
int check_service(const ServiceConfig& svc);
// Checks a real server for -a/-e against its service.
int check_dest(const ServiceConfig& svc, const DestConfig& dest);
// Accepts only unicast real-server addresses, as the kernel does.
bool dest_address_ok(const InetAddr& addr);

}  // namespace uvs::ctl
