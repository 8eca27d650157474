// SPDX-License-Identifier: GPL-2.0
/* uvs XDP steering: on every data interface, hand to the owning worker's AF_XDP socket only
 * the packets uvs handles and XDP_PASS everything else, so ARP, ND, SSH, VRRP, BGP and all
 * other host traffic keep working through the kernel.
 *
 * uvs takes:
 *   - TCP/UDP/SCTP to a virtual service: uvs_vips (daddr, dport), then (daddr, port 0);
 *   - TCP/UDP/SCTP replies from NAT real servers: uvs_nat_replies (saddr, sport), then port 0;
 *   - TCP/UDP/SCTP matching a fwmark rule (uvs_fwmark; the worker classifies again);
 *   - TCP/UDP/SCTP, fragments and ICMP errors to a FULLNAT local address (uvs_laddrs);
 *   - every fragment to a virtual-service address or from a NAT real server (uvs_frag_addrs),
 *     because only the first fragment carries ports and uvs reassembles;
 *   - ICMP errors whose embedded packet belongs to one of the above;
 * but what a NAT real server sends to this host itself is the kernel's (for_this_host()).
 * Before any of that, the fast path (fast_path.h): a packet of a connection user space has
 * offloaded into uvs_flows is rewritten and sent from here (XDP_TX / redirect).
 * The socket is found through uvs_if_slots (ifindex -> XSKMAP base) plus the rx queue index.
 * The control plane (io/xdp_steering.cc) keeps every map in sync with the configuration. */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/in6.h>
#include <linux/ip.h>
#include <linux/ipv6.h>

#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "io/xdp_steering_abi.h"

/* Header offsets beyond this are not parsed (and it bounds offsets for the verifier). */
#define MAX_HDR_OFFSET 1024
#include "xdp_parse.h"
#include "fast_path.h"

/* ICMPv4 error types (linux/icmp.h drags in libc headers, which a BPF build cannot use). */
#define ICMP_DEST_UNREACH 3
#define ICMP_SOURCE_QUENCH 4
#define ICMP_TIME_EXCEEDED 11

/* Verdicts of classify(): a counter index >= UVS_STEER_CNT_VIP means "steer". */
#define VERDICT_PASS UVS_STEER_CNT_PASSED
#define VERDICT_PARSE_ERROR UVS_STEER_CNT_PARSE_ERROR

struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, 16384);
  __type(key, struct uvs_steer_l4_key);
  __type(value, struct uvs_steer_value);
} uvs_vips SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, 131072);
  __type(key, struct uvs_steer_l4_key);
  __type(value, struct uvs_steer_value);
} uvs_nat_replies SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, 4096);
  __type(key, struct uvs_steer_addr_key);
  __type(value, struct uvs_steer_value);
} uvs_laddrs SEC(".maps");

/* One entry per service address and per real server at most: uvs_vips + uvs_nat_replies. */
struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, 16384 + 131072);
  __type(key, struct uvs_steer_addr_key);
  __type(value, struct uvs_steer_value);
} uvs_frag_addrs SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(max_entries, UVS_STEER_MAX_FWMARK_RULES);
  __type(key, __u32);
  __type(value, struct uvs_steer_fwmark_rule);
} uvs_fwmark SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, struct uvs_steer_config);
} uvs_config SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_XSKMAP);
  __uint(max_entries, UVS_STEER_DEFAULT_MAX_IFS * UVS_STEER_QUEUES_PER_IF);
  __type(key, __u32);
  __type(value, __u32);
} uvs_xsks SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, 256);
  __type(key, __u32);   /* ifindex */
  __type(value, __u32); /* first XSKMAP slot of that interface */
} uvs_if_slots SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, UVS_STEER_CNT_MAX);
  __type(key, __u32);
  __type(value, __u64);
} uvs_counters SEC(".maps");

struct ipv6_fragment_hdr {
  __u8 nexthdr;
  __u8 reserved;
  __be16 frag_off; /* offset in 8-byte units << 3 | M flag */
  __be32 identification;
};

/* The layer-3 facts classification needs, for the outer packet or an ICMP error's payload. */
struct l3_info {
  __be32 saddr[4];
  __be32 daddr[4];
  __u32 l4_offset; /* transport header offset from the frame start */
  __u8 family;
  __u8 protocol;   /* after IPv6 extension headers */
  __u8 fragment;   /* the datagram is fragmented (this piece may be the first) */
  __u8 has_l4;     /* l4_offset points at a transport header (not a later fragment) */
};

static __always_inline void count(__u32 index) {
  __u64 *value = bpf_map_lookup_elem(&uvs_counters, &index);
  if (value) *value += 1;
}

static __always_inline int is_port_protocol(__u8 protocol) {
  return protocol == IPPROTO_TCP || protocol == IPPROTO_UDP || protocol == IPPROTO_SCTP;
}

/* Skips IPv6 extension headers (bounded), updating info's protocol, fragment state and
 * transport offset. Returns -1 on a truncated header. Stops at a non-first fragment: nothing
 * after its fragment header is a header. */
static __always_inline int skip_ipv6_extensions(void *data, void *data_end, struct l3_info *info) {
  __u32 off = info->l4_offset;
  __u8 next = info->protocol;
#pragma unroll
  for (int i = 0; i < UVS_STEER_MAX_EXT_HDRS; i++) {
    if (next == IPPROTO_HOPOPTS || next == IPPROTO_ROUTING || next == IPPROTO_DSTOPTS) {
      struct ipv6_opt_hdr *opt = header_at(data, data_end, off, sizeof(*opt));
      if (!opt) return -1;
      next = opt->nexthdr;
      off += ((__u32)opt->hdrlen + 1) * 8;
    } else if (next == IPPROTO_AH) {
      struct ipv6_opt_hdr *ah = header_at(data, data_end, off, sizeof(*ah));
      if (!ah) return -1;
      next = ah->nexthdr;
      off += ((__u32)ah->hdrlen + 2) * 4;
    } else if (next == IPPROTO_FRAGMENT) {
      struct ipv6_fragment_hdr *frag = header_at(data, data_end, off, sizeof(*frag));
      if (!frag) return -1;
      next = frag->nexthdr;
      off += sizeof(*frag);
      info->fragment = 1;
      if (bpf_ntohs(frag->frag_off) & 0xfff8) {
        info->has_l4 = 0;
        break;
      }
    } else {
      break;
    }
  }
  info->protocol = next;
  info->l4_offset = off;
  return 0;
}

/* Parses an IPv4 or IPv6 header at off. Returns -1 when truncated or malformed. */
static __always_inline int parse_ip(void *data, void *data_end, __u32 off, __u8 family,
                                    struct l3_info *info) {
  info->family = family;
  info->has_l4 = 1;
  info->fragment = 0;
  if (family == UVS_STEER_AF_INET) {
    struct iphdr *ip = header_at(data, data_end, off, sizeof(*ip));
    if (!ip || ip->version != 4 || ip->ihl < 5) return -1;
    info->saddr[0] = ip->saddr;
    info->daddr[0] = ip->daddr;
    info->saddr[1] = info->saddr[2] = info->saddr[3] = 0;
    info->daddr[1] = info->daddr[2] = info->daddr[3] = 0;
    info->protocol = ip->protocol;
    info->l4_offset = off + (__u32)ip->ihl * 4;
    __u16 frag = bpf_ntohs(ip->frag_off);
    if (frag & 0x3fff) info->fragment = 1; /* MF or a non-zero offset */
    if (frag & 0x1fff) info->has_l4 = 0;
    return 0;
  }
  struct ipv6hdr *ip6 = header_at(data, data_end, off, sizeof(*ip6));
  if (!ip6 || ip6->version != 6) return -1;
  __builtin_memcpy(info->saddr, &ip6->saddr, 16);
  __builtin_memcpy(info->daddr, &ip6->daddr, 16);
  info->protocol = ip6->nexthdr;
  info->l4_offset = off + sizeof(*ip6);
  return skip_ipv6_extensions(data, data_end, info);
}

static __always_inline int l4_known(void *map, __u8 family, __u8 protocol, const __be32 *addr,
                                    __be16 port) {
  struct uvs_steer_l4_key key = {};
  key.family = family;
  key.protocol = protocol;
  key.port = port;
  __builtin_memcpy(key.addr, addr, 16);
  if (bpf_map_lookup_elem(map, &key)) return 1;
  key.port = 0; /* a port-0 ("any port") service or real server */
  return bpf_map_lookup_elem(map, &key) != NULL;
}

static __always_inline int addr_known(void *map, __u8 family, __u8 role, const __be32 *addr) {
  struct uvs_steer_addr_key key = {};
  key.family = family;
  key.role = role;
  __builtin_memcpy(key.addr, addr, 16);
  return bpf_map_lookup_elem(map, &key) != NULL;
}

/* Whether (addr, protocol, port) matches one of the first `rules` fwmark rules. Without a
 * port (fragments), the rule's address and protocol decide. */
static __always_inline int fwmark_match(__u32 rules, __u8 family, const __be32 *addr,
                                        __u8 protocol, __u16 port, int has_port) {
  for (__u32 i = 0; i < UVS_STEER_MAX_FWMARK_RULES; i++) {
    if (i >= rules) break;
    __u32 index = i;
    struct uvs_steer_fwmark_rule *rule = bpf_map_lookup_elem(&uvs_fwmark, &index);
    if (!rule) break;
    if (rule->family != family) continue;
    if (rule->protocol && rule->protocol != protocol) continue;
    if ((addr[0] & rule->mask[0]) != rule->addr[0] || (addr[1] & rule->mask[1]) != rule->addr[1] ||
        (addr[2] & rule->mask[2]) != rule->addr[2] || (addr[3] & rule->mask[3]) != rule->addr[3])
      continue;
    if (has_port && (port < rule->port_min || port > rule->port_max)) continue;
    return 1;
  }
  return 0;
}

static __always_inline int is_icmp_error(__u8 family, __u8 type) {
  /* The errors IPVS relates to connections: unreachable, source quench, time exceeded; for
   * IPv6 every error type (below 128). */
  if (family == UVS_STEER_AF_INET)
    return type == ICMP_DEST_UNREACH || type == ICMP_SOURCE_QUENCH || type == ICMP_TIME_EXCEEDED;
  return type < 128;
}

/* An ICMP error belongs to uvs when the packet it quotes was sent by uvs: from a virtual
 * service (quoted source = VIP:vport), to a NAT real server (quoted destination = RIP:rport),
 * or from a fwmark service. */
static __always_inline __u32 classify_icmp_error(void *data, void *data_end,
                                                 const struct l3_info *outer, __u32 rules) {
  __u8 *type = header_at(data, data_end, outer->l4_offset, 8);
  if (!type) return VERDICT_PARSE_ERROR;
  if (!is_icmp_error(outer->family, *type)) return VERDICT_PASS;
  if (addr_known(&uvs_laddrs, outer->family, UVS_STEER_ROLE_LADDR, outer->daddr))
    return UVS_STEER_CNT_ICMP_ERROR;

  struct l3_info inner = {};
  if (parse_ip(data, data_end, outer->l4_offset + 8, outer->family, &inner) < 0)
    return VERDICT_PASS; /* a short quote is the sender's problem, not ours */
  if (!inner.has_l4 || !is_port_protocol(inner.protocol)) return VERDICT_PASS;
  __be16 *ports = header_at(data, data_end, inner.l4_offset, 4);
  if (!ports) return VERDICT_PASS;
  if (l4_known(&uvs_vips, inner.family, inner.protocol, inner.saddr, ports[0]) ||
      l4_known(&uvs_nat_replies, inner.family, inner.protocol, inner.daddr, ports[1]) ||
      fwmark_match(rules, inner.family, inner.saddr, inner.protocol, bpf_ntohs(ports[0]), 1))
    return UVS_STEER_CNT_ICMP_ERROR;
  return VERDICT_PASS;
}

static __always_inline __u32 classify(void *data, void *data_end, __u32 rules) {
  __be16 ether_type;
  __u32 off;
  if (parse_ethernet(data, data_end, &ether_type, &off) < 0) return VERDICT_PARSE_ERROR;

  struct l3_info l3 = {};
  if (ether_type == bpf_htons(ETH_P_IP)) {
    if (parse_ip(data, data_end, off, UVS_STEER_AF_INET, &l3) < 0) return VERDICT_PARSE_ERROR;
  } else if (ether_type == bpf_htons(ETH_P_IPV6)) {
    if (parse_ip(data, data_end, off, UVS_STEER_AF_INET6, &l3) < 0) return VERDICT_PARSE_ERROR;
  } else {
    return VERDICT_PASS; /* ARP, LLDP, MPLS...: the kernel's */
  }

  int port_protocol = is_port_protocol(l3.protocol);
  int icmp = (l3.family == UVS_STEER_AF_INET && l3.protocol == IPPROTO_ICMP) ||
             (l3.family == UVS_STEER_AF_INET6 && l3.protocol == IPPROTO_ICMPV6);

  if (l3.fragment) {
    if (addr_known(&uvs_laddrs, l3.family, UVS_STEER_ROLE_LADDR, l3.daddr))
      return UVS_STEER_CNT_FULLNAT;
    if (addr_known(&uvs_frag_addrs, l3.family, UVS_STEER_ROLE_FRAG_DST, l3.daddr) ||
        addr_known(&uvs_frag_addrs, l3.family, UVS_STEER_ROLE_FRAG_SRC, l3.saddr) ||
        (port_protocol && fwmark_match(rules, l3.family, l3.daddr, l3.protocol, 0, 0)))
      return UVS_STEER_CNT_FRAGMENT;
    return VERDICT_PASS;
  }

  if (port_protocol) {
    __be16 *ports = header_at(data, data_end, l3.l4_offset, 4);
    if (!ports) return VERDICT_PARSE_ERROR;
    if (l4_known(&uvs_vips, l3.family, l3.protocol, l3.daddr, ports[1]))
      return UVS_STEER_CNT_VIP;
    if (l4_known(&uvs_nat_replies, l3.family, l3.protocol, l3.saddr, ports[0]))
      return UVS_STEER_CNT_NAT_REPLY;
    if (addr_known(&uvs_laddrs, l3.family, UVS_STEER_ROLE_LADDR, l3.daddr))
      return UVS_STEER_CNT_FULLNAT;
    if (fwmark_match(rules, l3.family, l3.daddr, l3.protocol, bpf_ntohs(ports[1]), 1))
      return UVS_STEER_CNT_FWMARK;
    return VERDICT_PASS;
  }

  if (icmp) return classify_icmp_error(data, data_end, &l3, rules);
  return VERDICT_PASS; /* echo, VRRP, OSPF, GRE...: the kernel's */
}

/* Whether the packet comes from a NAT real server's address to this host itself (a local
 * address, broadcast or multicast: the FIB says "not forwarded", also when there is no route,
 * which the kernel drops just as well), and is not for a virtual service, a fwmark rule or a
 * FULLNAT local address. The kernel's IPVS accepts such a packet (ip_vs_out() finds no
 * connection) and delivers it: the server's answer to a health check the director sent from
 * its own address (keepalived's checkers), or anything a server behind a port-0 service sends
 * the director. AF_XDP has no way back into the stack, so user space could only drop it; XDP
 * may decide here because no connection is missed: every client of one came from outside
 * through this program, so no connection's client is an address of this host, FULLNAT local
 * addresses aside. Whatever else from a real server belongs to no connection only user space
 * can tell (XDP sees only the offloaded flows), and it routes that on itself.
 *
 * A global function, verified once on its own: it adds nothing to the paths of classify().
 * Headers it does not follow simply (IPv6 extension headers) stay with user space. */
__noinline int for_this_host(struct xdp_md *ctx, __u32 rules) {
  void *data = (void *)(long)ctx->data;
  void *data_end = (void *)(long)ctx->data_end;
  __be16 ether_type;
  __u32 off;
  if (parse_ethernet(data, data_end, &ether_type, &off) < 0) return 0;
  struct l3_info l3 = {};
  if (ether_type == bpf_htons(ETH_P_IP)) {
    if (parse_ip(data, data_end, off, UVS_STEER_AF_INET, &l3) < 0) return 0;
  } else if (ether_type == bpf_htons(ETH_P_IPV6)) {
    struct ipv6hdr *ip6 = header_at(data, data_end, off, sizeof(*ip6));
    if (!ip6 || ip6->version != 6) return 0;
    if (!is_port_protocol(ip6->nexthdr) && ip6->nexthdr != IPPROTO_ICMPV6) return 0;
    l3.family = UVS_STEER_AF_INET6;
    l3.protocol = ip6->nexthdr;
    l3.l4_offset = off + sizeof(*ip6);
    l3.has_l4 = 1;
    __builtin_memcpy(l3.saddr, &ip6->saddr, 16);
    __builtin_memcpy(l3.daddr, &ip6->daddr, 16);
  } else {
    return 0;
  }
  if (!addr_known(&uvs_frag_addrs, l3.family, UVS_STEER_ROLE_FRAG_SRC, l3.saddr) ||
      addr_known(&uvs_laddrs, l3.family, UVS_STEER_ROLE_LADDR, l3.daddr))
    return 0;
  if (l3.fragment) {
    /* Every fragment of a datagram must go the same way: decided by addresses alone. */
    if (addr_known(&uvs_frag_addrs, l3.family, UVS_STEER_ROLE_FRAG_DST, l3.daddr) ||
        (is_port_protocol(l3.protocol) &&
         fwmark_match(rules, l3.family, l3.daddr, l3.protocol, 0, 0)))
      return 0;
  } else if (is_port_protocol(l3.protocol)) {
    __be16 *ports = header_at(data, data_end, l3.l4_offset, 4);
    if (!ports) return 0;
    if (l4_known(&uvs_vips, l3.family, l3.protocol, l3.daddr, ports[1]) ||
        fwmark_match(rules, l3.family, l3.daddr, l3.protocol, bpf_ntohs(ports[1]), 1))
      return 0;
  }
  struct bpf_fib_lookup fib = {};
  fib.family = l3.family; /* UVS_STEER_AF_* are the kernel's AF_* */
  fib.l4_protocol = l3.protocol;
  fib.ifindex = ctx->ingress_ifindex;
  if (l3.family == UVS_STEER_AF_INET) {
    fib.ipv4_src = l3.saddr[0];
    fib.ipv4_dst = l3.daddr[0];
  } else {
    __builtin_memcpy(fib.ipv6_src, l3.saddr, 16);
    __builtin_memcpy(fib.ipv6_dst, l3.daddr, 16);
  }
  return bpf_fib_lookup(ctx, &fib, sizeof(fib), 0) == BPF_FIB_LKUP_RET_NOT_FWDED;
}

SEC("xdp")
int uvs_steer(struct xdp_md *ctx) {
  void *data = (void *)(long)ctx->data;
  void *data_end = (void *)(long)ctx->data_end;
  __u32 zero = 0;
  struct uvs_steer_config *config = bpf_map_lookup_elem(&uvs_config, &zero);
  __u32 rules = config ? config->fwmark_rules : 0;
  __u32 flags = config ? config->flags : 0;

  if (flags & UVS_STEER_F_PASS_ALL) {
    count(VERDICT_PASS);
    return XDP_PASS;
  }
  if (flags & UVS_STEER_F_OFFLOAD) {
    int forwarded = fast_path(ctx);
    if (forwarded != FAST_PATH_MISS) {
      count(UVS_STEER_CNT_FLOW_FORWARDED);
      return forwarded;
    }
    data = (void *)(long)ctx->data, data_end = (void *)(long)ctx->data_end; /* TUN may move them */
  }

  if (for_this_host(ctx, rules)) {
    count(VERDICT_PASS);
    return XDP_PASS;
  }
  data = (void *)(long)ctx->data, data_end = (void *)(long)ctx->data_end;

  __u32 verdict = classify(data, data_end, rules);
  if (verdict < UVS_STEER_CNT_VIP) {
    count(verdict);
    return XDP_PASS;
  }

  __u32 ifindex = ctx->ingress_ifindex;
  __u32 queue = ctx->rx_queue_index;
  __u32 *base = bpf_map_lookup_elem(&uvs_if_slots, &ifindex);
  if (base && queue < UVS_STEER_QUEUES_PER_IF) {
    /* With XDP_PASS in the flags, an empty slot makes the helper return XDP_PASS. */
    if (bpf_redirect_map(&uvs_xsks, *base + queue, XDP_PASS) == XDP_REDIRECT) {
      count(verdict);
      return XDP_REDIRECT;
    }
  }
  count(UVS_STEER_CNT_NO_SOCKET);
  return (flags & UVS_STEER_F_DROP_NO_SOCKET) ? XDP_DROP : XDP_PASS;
}

char _license[] SEC("license") = "GPL";
