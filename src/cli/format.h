// ipvsadm's output, byte for byte (print_title(), print_service_entry(), list_conn(), ...):
// listings, --stats/--rate/--thresholds/--persistent-conn/--tun-info, -c, --timeout, --daemon, -S,
// and the -G local-address listing of Alibaba LVS's ipvsadm (FULLNAT).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "model/command.h"
#include "model/listing.h"

namespace uvs::cli {

// Turns addresses and ports into text. Without -n ipvsadm asks the resolver (gethostbyaddr,
// getservbyport); tests inject a fixed one.
class NameResolver {
 public:
  virtual ~NameResolver() = default;
  // Host name for addr, or empty to print it numerically.
  virtual std::string host(const InetAddr& addr) const = 0;
  // Service name for port/protocol, or empty to print the number.
  virtual std::string service(uint16_t port, uint8_t protocol) const = 0;
};

// The system resolver (gethostbyaddr/getservbyport).
const NameResolver& system_resolver();

// The whole -L output (version line, title, every service) for `fmt`.
std::string format_list(const TableView& table, const ListFormat& fmt, const NameResolver& names);
// -L with a service: title and that one service, no version line.
std::string format_list_service(const ServiceView& svc, const ListFormat& fmt,
                                const NameResolver& names);
// -L -c: header and one row per connection.
std::string format_connections(const std::vector<ConnView>& conns, const ListFormat& fmt,
                               const NameResolver& names);
// -L --timeout.
std::string format_timeout(const Timeouts& t);
// -L --daemon.
std::string format_daemons(const std::vector<DaemonConfig>& daemons);
// -S (rules, sorted as -L).
std::string format_save(const TableView& table, bool numeric, const NameResolver& names);
// -G: local addresses of the given services (Alibaba LVS FULLNAT).
std::string format_laddrs(const std::vector<ServiceView>& services, const ListFormat& fmt,
                          const NameResolver& names);

// ipvsadm's print_largenum() into a string.
std::string largenum(uint64_t n, bool exact);

// Sorts services and each service's dests as libipvs does, including the 32-bit wrap of the
// address comparison (ipvs_cmp_services(), ipvs_cmp_dests()) and glibc 2.36's merge sort.
void sort_table(std::vector<ServiceView>& services);

}  // namespace uvs::cli
