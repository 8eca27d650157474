// The IPVS sysctls that change data-path behaviour (/proc/sys/net/ipv4/vs/*, spec D.5), with
// the kernel's defaults.
#pragma once

#include <cstdint>

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
  // FULLNAT (Alibaba LVS defaults).
  int fullnat_lport_min = 5000;
  int fullnat_lport_max = 65535;
  int fullnat_lport_tries = 10000;
  int fullnat_toa = 1;
  int fullnat_timestamp_remove = 1;
  int fullnat_mss_adjust = 1;
};

}  // namespace uvs
