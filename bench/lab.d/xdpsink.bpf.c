// XDP sink for bench/lab's XDP_REDIRECT row, on the bridge's port facing the director (wd):
// XDP_REDIRECT into a veth needs an XDP program (or GRO) on its peer, and this one drops the
// 64-byte UDP test packets (to port SINK_PORT) there, so the row pays the least possible for
// handing a packet on. Everything else passes. The veth driver counts the drops (ethtool -S:
// rx_queue_N_xdp_drops), which bench/lab adds to the delivered count.
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/udp.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#ifndef SINK_PORT
#define SINK_PORT 9
#endif

SEC("xdp")
int xdpsink(struct xdp_md* ctx) {
  void* data = (void*)(long)ctx->data;
  void* end = (void*)(long)ctx->data_end;
  struct ethhdr* eth = data;
  if ((void*)(eth + 1) > end || eth->h_proto != bpf_htons(ETH_P_IP)) return XDP_PASS;
  struct iphdr* ip = (void*)(eth + 1);
  if ((void*)(ip + 1) > end || ip->ihl != 5 || ip->protocol != IPPROTO_UDP) return XDP_PASS;
  struct udphdr* udp = (void*)(ip + 1);
  if ((void*)(udp + 1) > end) return XDP_PASS;
  return udp->dest == bpf_htons(SINK_PORT) ? XDP_DROP : XDP_PASS;
}

char _license[] SEC("license") = "GPL";
