// SPDX-License-Identifier: GPL-2.0
/* pkt/nat_rewrite.h under the BPF verifier: the NAT rewrite the C++ transmitters run
 * (xmit::rewrite_tuple()), compiled for XDP. Rewrites the untagged IPv4 (any header length) or
 * IPv6 (no extension headers) TCP or UDP frame it is given to the tuple in
 * uvs_nat_check_tuple[0] and returns XDP_TX; anything else is XDP_DROP. Test-only: the unit test
 * tests/unit/xmit/nat_rewrite_test.cc runs it with BPF_PROG_TEST_RUN on the frames the C++ side
 * rewrites, so the fast path starts from code proven identical. */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>

#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "pkt/nat_rewrite.h"

#define MAX_HDR_OFFSET 128
#include "xdp_parse.h"

struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, struct uvs_nat_tuple);
} uvs_nat_check_tuple SEC(".maps");

SEC("xdp")
int uvs_nat_check(struct xdp_md *ctx) {
  void *data = (void *)(long)ctx->data;
  void *data_end = (void *)(long)ctx->data_end;
  const __u32 key = 0;
  const struct uvs_nat_tuple *to = bpf_map_lookup_elem(&uvs_nat_check_tuple, &key);
  struct ethhdr *eth = header_at(data, data_end, 0, sizeof(*eth));
  if (!to || !eth) return XDP_DROP;
  const int v6 = eth->h_proto == bpf_htons(ETH_P_IPV6);
  if (!v6 && eth->h_proto != bpf_htons(ETH_P_IP)) return XDP_DROP;
  __u8 *ip = header_at(data, data_end, ETH_HLEN, v6 ? sizeof(struct ipv6hdr) : sizeof(struct iphdr));
  if (!ip) return XDP_DROP;
  __u8 proto;
  __u32 l4_off;
  if (v6) {
    proto = ((struct ipv6hdr *)ip)->nexthdr;
    l4_off = ETH_HLEN + sizeof(struct ipv6hdr);
  } else {
    proto = ((struct iphdr *)ip)->protocol;
    l4_off = ETH_HLEN + ((struct iphdr *)ip)->ihl * 4;
  }
  if (proto != IPPROTO_TCP && proto != IPPROTO_UDP) return XDP_DROP;
  const int udp = proto == IPPROTO_UDP;
  __u8 *l4 = header_at(data, data_end, l4_off, udp ? 8 : 20);
  if (!l4) return XDP_DROP;
  __u8 *check = udp ? l4 + UVS_UDP_CHECK_OFF : l4 + UVS_TCP_CHECK_OFF;
  if ((void *)(check + 2) > data_end) return XDP_DROP;
  uvs_nat_l4(l4, check, udp, v6, uvs_nat_l3(ip, v6, to), to);
  return XDP_TX;
}

char _license[] SEC("license") = "GPL";
