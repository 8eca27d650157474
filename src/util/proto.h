// Facts about IP protocols that more than one layer asks.
#pragma once

#include <netinet/in.h>

#include <cstdint>

namespace uvs::util {

// TCP, UDP and SCTP carry 16-bit source and destination ports in their first four bytes: the
// protocols IPVS schedules by port (and the only ones sh-port / mh-port hash a port for).
inline bool has_ports(uint8_t protocol) {
  return protocol == IPPROTO_TCP || protocol == IPPROTO_UDP || protocol == IPPROTO_SCTP;
}

}  // namespace uvs::util
