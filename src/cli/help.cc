#include "cli/help.h"

#include <fmt/core.h>

namespace uvs::cli {

std::string version_line(const std::string& progname) {
  return fmt::format("{} v0.1.0 (uvs user-space LVS; speaks ipvsadm 1.31, IPVS v1.2.1)\n",
                     progname);
}

std::string help_text(const std::string& p) {
  return version_line(p) + fmt::format(
R"(Manage the uvsd virtual server table with ipvsadm's commands.

Services
  {0} -A|-E SERVICE [-s SCHED] [-p [SECONDS]] [-M MASK] [--pe ENGINE] [-b FLAGS] [-o] [-j enable|disable]
  {0} -D SERVICE
  {0} -C                         remove every service
  {0} -R                         read commands from stdin (the -S format)
  {0} -S [-n]                    print the table as commands
Real servers
  {0} -a|-e SERVICE -r SERVER[:PORT] [-g|-i|-m|-b] [-w WEIGHT] [-x UPPER] [-y LOWER] [TUNNEL]
  {0} -d SERVICE -r SERVER[:PORT]
Listing and counters
  {0} -L|-l [SERVICE] [-n] [--exact] [--nosort] [--stats|--rate|--thresholds|--persistent-conn|--tun-info]
  {0} -L -c [-n] [--persistent-conn]   connections
  {0} -L --timeout | -L --daemon
  {0} -Z [SERVICE]               restart counters and rates
  {0} --pick SERVICE < CLIENTS   the real server mh, sh or dh gives each client, without
        sending packets: stdin lines ADDR:PORT ([ADDR]:PORT for IPv6), stdout lines
        ADDR:PORT -> SERVER:PORT (or -> - for none), in input order
Timeouts and connection sync
  {0} --set TCP TCPFIN UDP       seconds; 0 keeps the current value
  {0} --start-daemon master|backup [--mcast-interface IF] [--syncid ID] [--sync-maxlen N]
        [--mcast-group ADDR] [--mcast-port PORT] [--mcast-ttl TTL]
  {0} --stop-daemon master|backup [--syncid ID]
FULLNAT local addresses
  {0} -P|-Q SERVICE -z ADDR      add / remove a local (source) address of a FULLNAT service
  {0} -G [SERVICE] [-n]          list local addresses
  {0} -h | -v

SERVICE is one of
  -t|--tcp-service ADDR[:PORT]   -u|--udp-service ADDR[:PORT]   --sctp-service ADDR[:PORT]
  -f|--fwmark-service MARK [-6|--ipv6]
  IPv6 addresses are written [ADDR]:PORT.

Options
  -s, --scheduler NAME        rr wrr lc wlc sed nq fo ovf twos dh sh mh lblc lblcr (default wlc)
  -p, --persistent [SECONDS]  keep a client on one server (default 360 s)
  -M, --netmask MASK          client granularity for persistence (IPv4 mask or IPv6 prefix)
      --pe NAME               persistence engine (sip)
  -b, --sched-flags LIST      on -A/-E: flag-1,flag-2,flag-3,sh-fallback,sh-port,mh-fallback,mh-port
  -o, --ops                   one-packet scheduling (UDP)
  -j, --synproxy WORD         enable or disable SYN proxy on a TCP service
  -r, --real-server ADDR[:PORT]
  -g, --gatewaying            direct routing (default)
  -i, --ipip                  tunnelling
  -m, --masquerading          NAT
  -b, --fullnat               on -a/-e: full NAT (source becomes a local address)
  -w, --weight N              0 stops new connections to the server (default 1)
  -x, --u-threshold N         stop new connections above N (0 = no limit)
  -y, --l-threshold N         resume below N
      --tun-type ipip|gue|gre   --tun-port PORT   --tun-nocsum | --tun-csum | --tun-remcsum
  -z, --laddr ADDR            local address for -P/-Q
  -c, --connection            list connections
      --timeout  --daemon  --stats  --rate  --thresholds  --persistent-conn  --tun-info
      --nosort  --sort        list in kernel order / sorted (default)
  -X, --exact                 full numbers instead of K/M/G/T
  -n, --numeric               no name lookups
      --mcast-interface IF  --syncid ID  --sync-maxlen N  --mcast-group ADDR
      --mcast-port PORT  --mcast-ttl TTL
      --socket PATH           uvsd control socket (also $UVS_SOCKET; default /run/uvs/uvsd.sock)
)",
                                            p);
}

}  // namespace uvs::cli
