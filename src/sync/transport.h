// The sync daemon's sockets, set up as the kernel's make_send_sock() and make_receive_sock() do:
// multicast on one interface, port mcast_port + id for sync thread `id` (sync_ports), the
// master's loopback off, TTL as configured and fragmentation allowed, the backup bound to the
// group and the interface and joined to the group there.
#pragma once

#include <string>

#include "model/service.h"

namespace uvs::sync {

// Both return a blocking UDP socket (CLOEXEC), or -1 with `error` saying which step failed.
// The master's socket is connected to group:port+id and bound to the interface's first IPv4
// address when the group is IPv4 (bind_mcastif_addr()), so backups see a stable source.
// SOCK_SIZE > 0 (sync_sock_size) sets the master's send buffer or the backup's receive buffer,
// as set_sock_size().
int open_master_socket(const DaemonConfig& d, unsigned id, int sock_size, std::string& error);
int open_backup_socket(const DaemonConfig& d, unsigned id, int sock_size, std::string& error);

// The largest message a daemon builds or accepts: sync_maxlen as configured (start_daemon()
// filled the master's default); a backup reads up to the interface's MTU less the headers,
// at least 1500 (the kernel's default for a backup), so any master's message fits.
size_t backup_buffer_len(const DaemonConfig& d);

}  // namespace uvs::sync
