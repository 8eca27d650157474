// The IPVS sysctls that change data-path behaviour (/proc/sys/net/ipv4/vs/*, see the kernel's
// Documentation/networking/ipvs-sysctl.rst), with the kernel's defaults.
#pragma once

#include <cstdint>
#include <string>

#include "model/address.h"

namespace uvs {

struct Sysctls {
  int am_droprate = 10;
  int amemthresh = 1024;
  int cache_bypass = 0;
  int conn_reuse_mode = 1;
  int drop_entry = 0;
  int drop_packet = 0;
  int expire_nodest_conn = 0;
  int expire_quiescent_template = 0;
  int nat_icmp_send = 0;
  int pmtu_disc = 1;
  int schedule_icmp = 0;
  int secure_tcp = 0;
  int sloppy_sctp = 0;
  int sloppy_tcp = 0;
  int sync_threshold = 3;
  int sync_period = 50;
  int sync_persist_mode = 0;
  int sync_version = 1;
  int sync_refresh_period = 0;  // seconds
  int sync_retries = 0;
  int sync_qlen_max = 0;  // 0: the kernel's default, nr_free_buffer_pages() / 32 messages
  int sync_ports = 1;
  int sync_sock_size = 0;
  int backup_only = 0;
  // FULLNAT (Alibaba LVS defaults).
  int fullnat_lport_min = 5000;
  int fullnat_lport_max = 65535;
  int fullnat_lport_tries = 10000;
  int fullnat_toa = 1;
  int fullnat_timestamp_remove = 1;
  int fullnat_mss_adjust = 1;
  // SYN proxy (Alibaba LVS defaults), for services with -j enable.
  int synproxy_init_mss = 1452;   // MSS the cookie SYN-ACK announces
  int synproxy_sack = 1;          // SACK-permitted passed on when the client offers it
  int synproxy_wscale = 0;        // 0: no window scaling; N: announce shift N to the client
                                  // and pass the client's on (the real servers must use N)
  int synproxy_timestamp = 0;     // timestamps passed on when the client offers them
  int synproxy_synack_ttl = 63;
  int synproxy_syn_retry = 3;     // SYN retransmissions toward the real server
  int synproxy_skb_store_thresh = 3;  // client data segments kept until the server answers
  int synproxy_dup_ack_thresh = 10;   // client segments dropped before the server answers
  int synproxy_conn_reuse = 1;    // a SYN may replace an entry in one of these states:
  int synproxy_conn_reuse_cl = 1;
  int synproxy_conn_reuse_tw = 1;
  int synproxy_conn_reuse_fw = 0;
  int synproxy_conn_reuse_cw = 0;
  int synproxy_conn_reuse_la = 0;
};

// What iptables' MARK target does in front of kernel IPVS: packets to `prefix` with protocol
// `protocol` (0 = TCP, UDP or SCTP) and a destination port in [port_min, port_max] carry `mark`,
// which selects a fwmark service. uvs classifies in the data path itself (the XDP program
// only steers matching packets to it).
struct FwmarkRule {
  InetAddr prefix{};
  uint8_t prefix_len = 32;
  uint8_t protocol = 0;
  uint16_t port_min = 0;
  uint16_t port_max = 65535;
  uint32_t mark = 0;

  bool matches(uint8_t proto, const InetAddr& daddr, uint16_t dport) const {
    if (daddr.family != prefix.family || (protocol && protocol != proto)) return false;
    if (dport < port_min || dport > port_max) return false;
    for (int bit = 0; bit < prefix_len; bit += 8) {
      int left = prefix_len - bit;
      uint8_t mask = left >= 8 ? 0xff : static_cast<uint8_t>(0xff << (8 - left));
      if ((daddr.bytes[bit / 8] ^ prefix.bytes[bit / 8]) & mask) return false;
    }
    return true;
  }

  friend auto operator<=>(const FwmarkRule&, const FwmarkRule&) = default;
};

// Sets one of the above from "NAME=VALUE" as writing /proc/sys/net/ipv4/vs/NAME would, with the
// kernel's ranges; false with `error` for an unknown name or a value out of range.
bool set_sysctl(Sysctls& s, const std::string& assignment, std::string& error);

// Parses "MARK:PROTO:ADDR/LEN[:PORT[-PORT]]" (PROTO tcp, udp, sctp or any). False if bad.
bool parse_fwmark_rule(const std::string& text, FwmarkRule* rule);

}  // namespace uvs
