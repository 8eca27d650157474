#include "conn/persistence.h"

#include <arpa/inet.h>

namespace uvs::conn {

AddrBytes persist_client_net(uint8_t af, const AddrBytes& caddr, uint32_t netmask) {
  AddrBytes net{};
  if (af == AF_INET6) {
    const uint32_t bits = netmask > 128 ? 128 : netmask;
    const uint32_t whole = bits / 8;
    for (uint32_t i = 0; i < whole; ++i) net[i] = caddr[i];
    if (whole < 16 && bits % 8 != 0)
      net[whole] = static_cast<uint8_t>(caddr[whole] & (0xff << (8 - bits % 8)));
    return net;
  }
  uint32_t a;
  std::memcpy(&a, caddr.data(), 4);
  a &= htonl(netmask);
  std::memcpy(net.data(), &a, 4);
  return net;
}

namespace {

// A fwmark service has port 0 in the kernel whatever the model carries.
uint16_t service_port(const ServiceConfig& svc) { return svc.key.is_fwmark() ? 0 : svc.key.port; }

}  // namespace

TemplateKey persist_template_key(const ServiceConfig& svc, const Tuple& pkt) {
  TemplateKey k;
  k.af = pkt.af;
  k.protocol = pkt.protocol;
  k.snet = persist_client_net(pkt.af, pkt.saddr, svc.netmask);
  k.vaddr = pkt.daddr;
  k.vport = 0;
  const uint16_t port = service_port(svc);
  if (pkt.dport == port) {
    if (port != kFtpPort) k.vport = pkt.dport;
  } else if (svc.key.is_fwmark()) {
    // One template per client network across every port and protocol the mark covers.
    k.protocol = 0;
    k.vaddr = AddrBytes{};
    const uint32_t mark = htonl(svc.key.fwmark);
    std::memcpy(k.vaddr.data(), &mark, 4);
  }
  return k;
}

uint16_t template_dport(const ServiceConfig& svc, uint16_t pkt_dport, uint16_t dest_port) {
  const uint16_t port = service_port(svc);
  return pkt_dport == port && port != kFtpPort ? dest_port : 0;
}

uint16_t persist_conn_dport(const ServiceConfig& svc, uint16_t pkt_dport, uint16_t dest_port) {
  return pkt_dport == service_port(svc) && dest_port != 0 ? dest_port : pkt_dport;
}

}  // namespace uvs::conn
