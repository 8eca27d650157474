// JSON encoding of the model for the control socket (nlohmann-json).
#pragma once

#include <nlohmann/json.hpp>

#include "model/command.h"
#include "model/listing.h"
#include "model/pick.h"

namespace uvs {

void to_json(nlohmann::json& j, const InetAddr& a);
void from_json(const nlohmann::json& j, InetAddr& a);
// A --pick client travels as its "ADDR:PORT" text: a million of them in objects would be twice
// the bytes to send and parse.
void to_json(nlohmann::json& j, const ClientTuple& c);
void from_json(const nlohmann::json& j, ClientTuple& c);

NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(ServiceKey, af, protocol, addr, port, fwmark)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(ServiceConfig, key, sched_name, flags, timeout,
                                                netmask, pe_name)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(DestKey, addr, port)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(DestConfig, key, fwd, weight, u_threshold,
                                                l_threshold, tun_type, tun_port, tun_flags)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(Timeouts, tcp, tcp_fin, udp)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(DaemonConfig, state, mcast_ifn, syncid,
                                                sync_maxlen, mcast_group, has_group, mcast_port,
                                                mcast_ttl)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(ListFormat, numeric, connections, timeout, daemon,
                                                stats, rate, thresholds, persistent_conn,
                                                tun_info, nosort, exact)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(Command, kind, options, svc, dest, timeouts,
                                                daemon, laddr, list)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(StatsView, conns, inpkts, outpkts, inbytes,
                                                outbytes)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(RateView, cps, inpps, outpps, inbps, outbps)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(DestView, cfg, activeconns, inactconns,
                                                persistconns, stats, rate)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(LaddrView, addr, port_conflicts, conns)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(ServiceView, cfg, dests, laddrs, stats, rate)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(ConnView, protocol, af, daf, caddr, vaddr, daddr,
                                                cport, vport, dport, state, expire_secs, pe_name,
                                                pe_data)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(PickView, sched_name, dests, picks)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(TableView, conn_tab_size, services, timeouts,
                                                daemons)

}  // namespace uvs
