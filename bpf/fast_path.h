/* SPDX-License-Identifier: GPL-2.0 */
/* The fast path: a packet of a connection user space has offloaded (uvs_flows, see
 * io/xdp_flow_abi.h) is rewritten and sent from XDP, with the same code the user-space
 * transmitters run (pkt/nat_rewrite.h, pkt/tunnel_hdr.h). User space stays the authority: whatever may change the
 * connection's state or needs an answer goes up as before -- TCP SYN, FIN and RST, fragments,
 * IP options of IPv4 and extension headers of IPv6, VLAN-tagged frames, a packet larger than
 * the path MTU or with its TTL run out, and a local sender's partial checksum (which an
 * incremental update would corrupt).
 *
 * The including program defines MAX_HDR_OFFSET and includes xdp_parse.h first. */
#ifndef UVS_BPF_FAST_PATH_H
#define UVS_BPF_FAST_PATH_H

#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/tcp.h>

#include "io/xdp_flow_abi.h"
#include "pkt/tunnel_hdr.h"

struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, UVS_FLOW_DEFAULT_MAX);
  __type(key, struct uvs_flow_key);
  __type(value, struct uvs_flow);
} uvs_flows SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(max_entries, UVS_FLOW_DEFAULT_MAX);
  __uint(map_flags, BPF_F_MMAPABLE);
  __type(key, __u32);
  __type(value, struct uvs_flow_stats);
} uvs_flow_stats SEC(".maps");

/* The fast path's verdict when the packet is user space's. */
#define FAST_PATH_MISS -1

/* A local sender's CHECKSUM_PARTIAL leaves only the folded pseudo-header sum in the field (not
 * complemented); nothing else marks it at XDP. A final checksum that happens to equal it only
 * sends one packet the slow way. */
static __always_inline int partial_checksum(const __u8 *ip, int v6, __u8 protocol, __u16 l4_len,
                                            __u16 field) {
  __u64 sum = (__u64)bpf_htons(protocol) + bpf_htons(l4_len);
  const __u8 *addrs = ip + (v6 ? UVS_IPV6_SADDR_OFF : UVS_IPV4_SADDR_OFF);
  const int words = v6 ? 8 : 2;
#pragma unroll
  for (int i = 0; i < 8; i++)
    if (i < words) sum += uvs_load32(addrs + 4 * i);
  return field == uvs_csum_fold64(sum);
}

/* Counts the packet in its direction's slot and sends it. */
static __always_inline int fast_path_send(struct xdp_md *ctx, const struct uvs_flow *flow,
                                          __u16 datagram_len) {
  __u32 slot = flow->stats;
  struct uvs_flow_stats *stats = bpf_map_lookup_elem(&uvs_flow_stats, &slot);
  if (stats) {
    __sync_fetch_and_add(&stats->packets, 1);
    __sync_fetch_and_add(&stats->bytes, datagram_len);
    stats->last_seen_ns = bpf_ktime_get_ns();
  }
  if (flow->ifindex == ctx->ingress_ifindex) return XDP_TX;
  return bpf_redirect(flow->ifindex, 0);
}

/* The smallest Ethernet frame without its FCS: a shorter datagram arrives padded to it. */
#define ETH_MIN_FRAME 60

/* TUN: the flow's outer headers go in front of the inner datagram at `ip` (checked up to its
 * transport header), written as xmit::tunnel_encap() writes them (pkt/tunnel_hdr.h), then the
 * Ethernet header of the outer family. Misses, with nothing changed, what user space must do:
 * an outer IPv4 header for an inner packet without DF (ip_vs_tunnel_xmit() gives it a fresh id
 * and may fragment it), TTL expiry, an odd frame. Returns 0 when the frame is ready. */
static __always_inline int tunnel_push(struct xdp_md *ctx, const struct uvs_flow *flow, __u8 *ip,
                                       int v6, __u16 datagram_len) {
  const struct uvs_tun_hdr *t = &flow->tun;
  const __u32 len = t->len;
  const int outer_v6 = t->flags & UVS_TUN_F_V6;
  if (!outer_v6 && (v6 || !(ip[UVS_IPV4_FRAG_OFF] & UVS_IPV4_DF))) return FAST_PATH_MISS;
  /* The template is copied in words at constant offsets, so the frame must hold them all once
   * pushed; only an IPIP datagram under 32 bytes does not, and is user space's. */
  if (len > UVS_TUN_HDR_MAX || (len & 3) || datagram_len + len < UVS_TUN_HDR_MAX)
    return FAST_PATH_MISS;
  if (uvs_inner_ttl(ip, v6) <= 1) return FAST_PATH_MISS;
  /* Link padding after a short datagram would end up inside the tunnel: trimmed, as
   * tunnel_encap() trims it. Other trailing bytes: user space. */
  void *data = (void *)(long)ctx->data;
  void *data_end = (void *)(long)ctx->data_end;
  int pad = 0;
  if (data + ETH_HLEN + datagram_len < data_end) {
    if (data + ETH_MIN_FRAME != data_end) return FAST_PATH_MISS;
    pad = ETH_MIN_FRAME - ETH_HLEN - datagram_len;
  }
  if (pad > 0 && bpf_xdp_adjust_tail(ctx, -pad)) return FAST_PATH_MISS;
  if (bpf_xdp_adjust_head(ctx, -(int)len)) return FAST_PATH_MISS;
  data = (void *)(long)ctx->data;
  data_end = (void *)(long)ctx->data_end;
  __u8 *outer = data + ETH_HLEN;
  __u8 *inner = outer + (len & 0x3c); /* len itself, bounded for the verifier */
  if ((void *)(outer + UVS_TUN_HDR_MAX) > data_end ||
      (void *)(inner + UVS_IPV4_HDR_LEN) > data_end) {
    bpf_xdp_adjust_head(ctx, (int)len); /* cannot happen (checked above); user space's */
    return FAST_PATH_MISS;
  }
  uvs_decrement_ttl(inner, v6);
  uvs_tun_copy(outer, t);
  /* Outer IPv4 here always has DF, so id 0 (ip_select_ident_segs()). */
  uvs_tun_fill(outer, t, datagram_len, uvs_inner_tos(inner, v6), uvs_inner_ttl(inner, v6),
               !outer_v6, 0);
  struct ethhdr *eth = data;
  __builtin_memcpy(eth->h_dest, flow->dmac, ETH_ALEN);
  __builtin_memcpy(eth->h_source, flow->smac, ETH_ALEN);
  eth->h_proto = outer_v6 ? bpf_htons(ETH_P_IPV6) : bpf_htons(ETH_P_IP);
  return 0;
}

static __always_inline int fast_path(struct xdp_md *ctx) {
  void *data = (void *)(long)ctx->data;
  void *data_end = (void *)(long)ctx->data_end;
  struct ethhdr *eth = header_at(data, data_end, 0, sizeof(*eth));
  if (!eth) return FAST_PATH_MISS;
  const int v6 = eth->h_proto == bpf_htons(ETH_P_IPV6);
  if (!v6 && eth->h_proto != bpf_htons(ETH_P_IP)) return FAST_PATH_MISS;

  struct uvs_flow_key key = {};
  __u8 *ip;
  __u32 l4_off;
  __u16 datagram_len;
  if (v6) {
    struct ipv6hdr *ip6 = header_at(data, data_end, ETH_HLEN, sizeof(*ip6));
    if (!ip6) return FAST_PATH_MISS;
    key.family = UVS_STEER_AF_INET6;
    key.protocol = ip6->nexthdr;
    __builtin_memcpy(key.saddr, &ip6->saddr, 16);
    __builtin_memcpy(key.daddr, &ip6->daddr, 16);
    datagram_len = sizeof(*ip6) + bpf_ntohs(ip6->payload_len);
    ip = (__u8 *)ip6;
    l4_off = ETH_HLEN + sizeof(*ip6);
  } else {
    struct iphdr *ip4 = header_at(data, data_end, ETH_HLEN, sizeof(*ip4));
    if (!ip4 || ip4->ihl != 5 || (ip4->frag_off & bpf_htons(0x3fff))) return FAST_PATH_MISS;
    key.family = UVS_STEER_AF_INET;
    key.protocol = ip4->protocol;
    key.saddr[0] = ip4->saddr;
    key.daddr[0] = ip4->daddr;
    datagram_len = bpf_ntohs(ip4->tot_len);
    ip = (__u8 *)ip4;
    l4_off = ETH_HLEN + sizeof(*ip4);
  }
  const int tcp = key.protocol == IPPROTO_TCP;
  if (!tcp && key.protocol != IPPROTO_UDP) return FAST_PATH_MISS;
  /* Separate bounds per protocol, so the verifier knows each header's extent. */
  __u8 *l4;
  __u8 *check;
  struct tcphdr *th = NULL;
  if (tcp) {
    th = header_at(data, data_end, l4_off, sizeof(*th));
    if (!th || th->syn || th->fin || th->rst) return FAST_PATH_MISS;
    l4 = (__u8 *)th;
    check = (__u8 *)&th->check;
  } else {
    l4 = header_at(data, data_end, l4_off, 8);
    if (!l4) return FAST_PATH_MISS;
    check = l4 + UVS_UDP_CHECK_OFF;
  }
  key.sport = uvs_load16(l4);
  key.dport = uvs_load16(l4 + 2);

  struct uvs_flow *flow = bpf_map_lookup_elem(&uvs_flows, &key);
  if (!flow) return FAST_PATH_MISS;
  /* TUN's outer headers count against the path MTU too (user space answers frag-needed). */
  const int tun = flow->flags & UVS_FLOW_F_TUN;
  if (datagram_len + (tun ? flow->tun.len : 0) > flow->mtu) return FAST_PATH_MISS;
  /* A datagram longer than the frame, or shorter than its headers (IPv6 jumbograms among
   * them), is user space's to count as malformed. */
  if (data + ETH_HLEN + datagram_len > data_end || datagram_len < l4_off - ETH_HLEN + 8)
    return FAST_PATH_MISS;
  const __u16 l4_len = datagram_len - (l4_off - ETH_HLEN);
  const __u16 field = uvs_load16(check);
  if ((tcp || field) && partial_checksum(ip, v6, key.protocol, l4_len, field))
    return FAST_PATH_MISS;
  /* Segments with options whose ack is shifted may carry SACK edges to shift: user space. */
  if (th && (flow->flags & UVS_FLOW_F_ACK) && th->doff != 5) return FAST_PATH_MISS;
  if (tun) {
    if (tunnel_push(ctx, flow, ip, v6, datagram_len) == FAST_PATH_MISS) return FAST_PATH_MISS;
    return fast_path_send(ctx, flow, datagram_len);
  }
  if (!uvs_decrement_ttl(ip, v6)) return FAST_PATH_MISS;

  if (flow->flags & UVS_FLOW_F_NAT) {
    __u64 shift = 0;
    if (th && (flow->flags & (UVS_FLOW_F_SEQ | UVS_FLOW_F_ACK)))
      shift = uvs_tcp_shift((__u8 *)th, (flow->flags & UVS_FLOW_F_SEQ) ? flow->seq_delta : 0,
                            (flow->flags & UVS_FLOW_F_ACK) ? flow->seq_delta : 0);
    uvs_nat_l4(l4, check, !tcp, v6, uvs_nat_l3(ip, v6, &flow->to) + shift, &flow->to);
  }
  __builtin_memcpy(eth->h_dest, flow->dmac, ETH_ALEN);
  __builtin_memcpy(eth->h_source, flow->smac, ETH_ALEN);
  return fast_path_send(ctx, flow, datagram_len);
}

#endif /* UVS_BPF_FAST_PATH_H */
