// Persistence keys and ports, as ip_vs_sched_persist() derives them: which template a packet
// to a persistent service belongs to, and the ports its template and connection get. Pure
// functions; the Tracker finds, checks and creates the templates themselves.
#pragma once

#include <cstdint>

#include "conn/table.h"
#include "model/service.h"

namespace uvs::conn {

inline constexpr uint16_t kFtpPort = 21;

// The client address reduced to the service's granularity: IPv4 AND netmask (host order in
// ServiceConfig::netmask), IPv6 the first `netmask` bits (a prefix length).
AddrBytes persist_client_net(uint8_t af, const AddrBytes& caddr, uint32_t netmask);

// <protocol, snet, cport 0, vaddr, vport> for a packet from a client (`pkt` as received):
//   dport == service port: vport = service port, or 0 for a port-21 service (one template
//     covers FTP control and data);
//   otherwise (fwmark and port-0 services): vport 0, and for fwmark services protocol 0 and
//     the service's mark in place of vaddr.
TemplateKey persist_template_key(const ServiceConfig& svc, const Tuple& pkt);

// dport of a new template: the dest's port when the packet went to the service port of a
// non-FTP service, else 0.
uint16_t template_dport(const ServiceConfig& svc, uint16_t pkt_dport, uint16_t dest_port);

// dport of a connection scheduled through a template: the packet's, replaced by the dest's
// port when the packet went to the service port and the dest has one.
uint16_t persist_conn_dport(const ServiceConfig& svc, uint16_t pkt_dport, uint16_t dest_port);

// dport of a connection scheduled without persistence: the dest's port, or the packet's when
// the dest has none (fwmark services).
inline uint16_t conn_dport(uint16_t dest_port, uint16_t pkt_dport) {
  return dest_port != 0 ? dest_port : pkt_dport;
}

// ONE_PACKET for `-o` services, UDP only (as ip_vs_schedule()); TCP and SCTP ignore the flag.
inline uint16_t one_packet_flag(const ServiceConfig& svc, uint8_t protocol) {
  return (svc.flags & kSvcOnePacket) && protocol == kProtoUdp ? kConnOnePacket : 0;
}

}  // namespace uvs::conn
