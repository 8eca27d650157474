// The in-kernel ceiling for bench/lab: NAT-mode forwarding done entirely in XDP. Packets to
// VIP (TCP or UDP) get the destination RIP[hash of the source port % 2] with incremental IPv4
// and L4 checksum updates and TTL-1, the kernel's FIB and neighbour table give the next hop
// (bpf_fib_lookup), and bpf_redirect sends the frame out of that interface. No connection
// state and no reverse NAT: it is a packet-rate ceiling, not a load balancer.
// Built by bench/lab with -DVIP=... -DRIP0=... -DRIP1=... (IPv4, host order).
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/tcp.h>
#include <linux/udp.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#ifndef AF_INET
#define AF_INET 2
#endif

static __always_inline __u16 csum_fold(__u32 sum) {
  sum = (sum & 0xffff) + (sum >> 16);
  sum = (sum & 0xffff) + (sum >> 16);
  return (__u16)~sum;
}

// RFC 1624: checksum after a 32-bit field changed from `from` to `to`.
static __always_inline __u16 csum_replace4(__u16 check, __be32 from, __be32 to) {
  __u32 sum = (__u16)~check;
  sum += (~from & 0xffff) + (~from >> 16);
  sum += (to & 0xffff) + (to >> 16);
  return csum_fold(sum);
}

SEC("xdp")
int redirect(struct xdp_md* ctx) {
  void* data = (void*)(long)ctx->data;
  void* end = (void*)(long)ctx->data_end;
  struct ethhdr* eth = data;
  if ((void*)(eth + 1) > end || eth->h_proto != bpf_htons(ETH_P_IP)) return XDP_PASS;
  struct iphdr* ip = (void*)(eth + 1);
  if ((void*)(ip + 1) > end || ip->ihl != 5 || ip->daddr != bpf_htonl(VIP)) return XDP_PASS;
  if (ip->ttl <= 1) return XDP_PASS;
  __u16 sport;
  __sum16* l4check;
  if (ip->protocol == IPPROTO_UDP) {
    struct udphdr* udp = (void*)(ip + 1);
    if ((void*)(udp + 1) > end) return XDP_PASS;
    sport = udp->source;
    l4check = udp->check ? &udp->check : 0;
  } else if (ip->protocol == IPPROTO_TCP) {
    struct tcphdr* tcp = (void*)(ip + 1);
    if ((void*)(tcp + 1) > end) return XDP_PASS;
    sport = tcp->source;
    l4check = &tcp->check;
  } else {
    return XDP_PASS;
  }
  __be32 rip = bpf_htonl((bpf_ntohs(sport) & 1) ? RIP1 : RIP0);

  struct bpf_fib_lookup fib = {};
  fib.family = AF_INET;
  fib.ipv4_src = ip->saddr;
  fib.ipv4_dst = rip;
  fib.tos = ip->tos;
  fib.l4_protocol = ip->protocol;
  fib.tot_len = bpf_ntohs(ip->tot_len);
  fib.ifindex = ctx->ingress_ifindex;
  if (bpf_fib_lookup(ctx, &fib, sizeof fib, 0) != BPF_FIB_LKUP_RET_SUCCESS) return XDP_PASS;

  if (l4check) *l4check = csum_replace4(*l4check, ip->daddr, rip);
  ip->check = csum_replace4(ip->check, ip->daddr, rip);
  ip->daddr = rip;
  // TTL-1: the TTL is the high byte of the 16-bit word it shares with the protocol.
  __u32 sum = (__u16)~ip->check + (__u16)~bpf_htons(0x0100);
  ip->check = csum_fold(sum);
  ip->ttl--;
  __builtin_memcpy(eth->h_dest, fib.dmac, ETH_ALEN);
  __builtin_memcpy(eth->h_source, fib.smac, ETH_ALEN);
  return bpf_redirect(fib.ifindex, 0);
}

char _license[] SEC("license") = "GPL";
