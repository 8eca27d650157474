// SPDX-License-Identifier: GPL-2.0
/* uvs-decap: the real-server end of uvs TUN forwarding (what the kernel's ip_vs_tunnel_xmit()
 * sends) on kernels built without the ipip, gre and fou modules. Attached to the real server's
 * interface, it strips the outer headers of
 *   - IPIP: outer IPv4 protocol 4 / IPv6 next header 4 (IPv4 inside),
 *     outer IPv4 protocol 41 / IPv6 next header 41 (IPv6 inside);
 *   - GUE: outer UDP to a configured port (uvs_decap_gue_ports), GUE version 0 with no options
 *     and proto 4 or 41, or GUE version 1 (the inner IP header right after UDP);
 *   - GRE: protocol 47, version 0, protocol type 0x0800 or 0x86DD, with or without checksum;
 * when the inner destination is a configured virtual service address (uvs_decap_vips), and
 * passes the inner packet to the kernel, which delivers it to the VIP held on lo.
 *
 * The outer destination is not checked: the inner VIP decides. A packet to a VIP is accepted
 * by this host anyway (the VIP is local), so decapsulating one whatever its outer address
 * grants a sender nothing it could not do by sending to the VIP directly.
 *
 * Checksums are verified as the kernel's tunnel drivers would: the outer IPv4 header, the GRE
 * checksum when its flag is set, the GUE UDP checksum when it is not zero (a zero checksum is
 * accepted over IPv6 too, as RFC 6935 allows for tunnels). ECN is decapsulated as the kernel
 * does (RFC 6040): a CE outer marks an ECN-capable inner packet CE; a CE outer over a not-ECT
 * inner packet is left alone (counted malformed; the kernel would drop it).
 *
 * The program never drops: everything it does not decapsulate is XDP_PASS untouched, and each
 * packet is counted once in uvs_decap_counters. Not handled (passed untouched): outer
 * fragments, IPv6 extension headers before the tunnel header, GRE key/sequence/routing, GUE
 * options and control messages, inner protocols other than IPv4/IPv6. */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/udp.h>

#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "decap/decap_abi.h"

/* Header offsets beyond this are not parsed (it also bounds offsets for the verifier). */
#define MAX_HDR_OFFSET 256
#include "xdp_parse.h"
/* Bytes of the link header before its last ethertype: MACs plus up to two VLAN tags. */
#define L2_PREFIX_MAX (2 * ETH_ALEN + MAX_VLAN_TAGS * 4)

#define GRE_FLAG_CSUM 0x8000
/* Every other bit of the GRE flags/version word: routing, key, sequence, strict source
 * route, recursion, reserved flags and version (RFC 2784, RFC 2890). */
#define GRE_FLAGS_OTHER 0x7fff
#define GRE_HDR_LEN 4
#define GRE_CSUM_LEN 4

#define GUE_HDR_LEN 4
#define GUE_VERSION_SHIFT 6
#define GUE_CONTROL_BIT 0x20
#define GUE_HLEN_MASK 0x1f

#define ECN_MASK 0x03
#define ECN_NOT_ECT 0x00
#define ECN_CE 0x03

/* Checksums over the payload are summed in chunks copied to a per-CPU scratch buffer (the
 * verifier cannot bound a variable-length sum over packet memory). 16 chunks of 512 bytes
 * cover any frame an XDP program without frags support can see. */
#define CSUM_CHUNK 512
#define MAX_CSUM_CHUNKS 16

/* Verdicts: a counter index. Below UVS_DECAP_CNT_PASSED means "decapsulate". */
#define IS_DECAP(verdict) ((verdict) < UVS_DECAP_CNT_PASSED)

struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, UVS_DECAP_MAX_VIPS);
  __type(key, struct uvs_decap_vip_key);
  __type(value, __u8);
} uvs_decap_vips SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, UVS_DECAP_MAX_GUE_PORTS);
  __type(key, __be16);
  __type(value, __u8);
} uvs_decap_gue_ports SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, UVS_DECAP_CNT_MAX);
  __type(key, __u32);
  __type(value, __u64);
} uvs_decap_counters SEC(".maps");

/* Four spare bytes so that the zero padding of an odd tail never writes past the buffer. */
struct csum_scratch {
  __u8 bytes[CSUM_CHUNK + 4];
};

struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, struct csum_scratch);
} uvs_decap_scratch SEC(".maps");

/* The UDP pseudo-header, laid out as IPv6's; an IPv4 one (addresses in word 0, the rest zero)
 * has the same ones' complement sum. */
struct pseudo_hdr {
  __be32 saddr[4];
  __be32 daddr[4];
  __be32 length;
  __be32 protocol;
};

/* What the outer IP header says. */
struct outer_ip {
  __be32 saddr[4];
  __be32 daddr[4];
  __u32 off;         /* outer IP header offset = link header length */
  __u32 hdr_len;     /* outer IP header length */
  __u32 payload_len; /* bytes after the outer IP header, from its length field */
  __u8 family;
  __u8 protocol;
  __u8 ecn;
};

/* What decapsulation does to a frame. */
struct decap_plan {
  __u32 l2_len;          /* Ethernet header plus VLAN tags, kept */
  __u32 strip;           /* outer IP header plus tunnel header, removed */
  __be16 inner_ethertype;
  __u8 inner_family;
  __u8 set_ce;           /* mark the inner packet CE (RFC 6040) */
};

static __always_inline void count(__u32 index) {
  __u64 *value = bpf_map_lookup_elem(&uvs_decap_counters, &index);
  if (value) *value += 1;
}

static __always_inline __u16 csum_fold(__u32 sum) {
  sum = (sum & 0xffff) + (sum >> 16);
  sum = (sum & 0xffff) + (sum >> 16);
  return (__u16)sum;
}

/* Whether the frame bytes [off, off + len) plus `seed` sum to all ones, i.e. carry a valid
 * internet checksum: 0 valid, 1 invalid, -1 not verifiable (the range is longer than the
 * scratch chunks cover, or lies outside the frame).
 *
 * A global function on purpose: the verifier checks it once, on its own, instead of walking
 * its chunk loop again at every call site for every state the callers can be in (which made
 * loading take hundreds of milliseconds). */
__attribute__((noinline)) int uvs_decap_verify_csum(struct xdp_md *ctx, __u32 off, __u32 len,
                                                    __u32 seed) {
  __u32 zero = 0;
  struct csum_scratch *scratch = bpf_map_lookup_elem(&uvs_decap_scratch, &zero);
  if (!scratch) return -1;
  __u32 sum = seed;
  /* 64-bit lengths: a 32-bit one is zero-extended into a copy, which is what gets checked,
   * while the helpers receive the original, of which the verifier then knows nothing. */
  __u64 remaining = len;
  for (int i = 0; i < MAX_CSUM_CHUNKS; i++) {
    if (remaining == 0) break;
    __u64 n = remaining > CSUM_CHUNK ? CSUM_CHUNK : remaining;
    /* clang knows n is in range and would drop the check the verifier needs to see. */
    asm volatile("" : "+r"(n));
    if (n == 0 || n > CSUM_CHUNK) return -1;
    /* bpf_csum_diff sums whole 32-bit words: clear the word the chunk ends in, so that an odd
     * tail is padded with zeros, as RFC 1071 pads it. Chunks are even-sized, so every chunk
     * but the last starts on an even offset of the summed range. */
    *(__u32 *)&scratch->bytes[n & ~3ull] = 0;
    if (bpf_xdp_load_bytes(ctx, off, scratch->bytes, n) < 0) return -1;
    sum = (__u32)bpf_csum_diff(NULL, 0, (__be32 *)scratch->bytes, (n + 3) & ~3ull, sum);
    off += n;
    remaining -= n;
  }
  if (remaining != 0) return -1;
  return csum_fold(sum) == 0xffff ? 0 : 1;
}

static __always_inline __u8 ipv6_ecn(const struct ipv6hdr *ip6) {
  /* The traffic class straddles the first two bytes; its low two bits (ECN) are bits 5-4 of
   * flow_lbl[0]. */
  return (ip6->flow_lbl[0] >> 4) & ECN_MASK;
}

static __always_inline int is_tunnel_protocol(__u8 protocol) {
  return protocol == IPPROTO_IPIP || protocol == IPPROTO_IPV6 || protocol == IPPROTO_GRE ||
         protocol == IPPROTO_UDP;
}

static __always_inline int is_gue_port(void *data, void *data_end, __u32 udp_off) {
  struct udphdr *udp = header_at(data, data_end, udp_off, sizeof(*udp));
  if (!udp) return 0;
  __be16 port = udp->dest;
  return bpf_map_lookup_elem(&uvs_decap_gue_ports, &port) != NULL;
}

/* Parses the outer IPv4 header at off. Returns 0 to go on with a tunnel packet, else the
 * verdict. */
static __always_inline __u32 parse_outer_ipv4(struct xdp_md *ctx, __u32 off,
                                              struct outer_ip *outer) {
  void *data = (void *)(long)ctx->data;
  void *data_end = (void *)(long)ctx->data_end;
  struct iphdr *ip = header_at(data, data_end, off, sizeof(*ip));
  if (!ip || ip->version != 4 || ip->ihl < 5) return UVS_DECAP_CNT_MALFORMED;
  if (!is_tunnel_protocol(ip->protocol)) return UVS_DECAP_CNT_PASSED;
  __u32 hdr_len = (__u32)ip->ihl * 4;
  if (bpf_ntohs(ip->frag_off) & 0x3fff) {
    /* MF or an offset: the tunnel header of a later piece is not there to read, and a
     * fragmented UDP datagram is just as likely not GUE. */
    return ip->protocol == IPPROTO_UDP ? UVS_DECAP_CNT_PASSED : UVS_DECAP_CNT_UNSUPPORTED;
  }
  if (ip->protocol == IPPROTO_UDP && !is_gue_port(data, data_end, off + hdr_len))
    return UVS_DECAP_CNT_PASSED;

  __u32 tot_len = bpf_ntohs(ip->tot_len);
  __u32 frame_len = (__u32)(data_end - data);
  if (tot_len < hdr_len || off + tot_len > frame_len) return UVS_DECAP_CNT_MALFORMED;
  outer->family = UVS_DECAP_AF_INET;
  outer->protocol = ip->protocol;
  outer->ecn = ip->tos & ECN_MASK;
  outer->saddr[0] = ip->saddr;
  outer->daddr[0] = ip->daddr;
  outer->off = off;
  outer->hdr_len = hdr_len;
  outer->payload_len = tot_len - hdr_len;
  /* ip is not used past this point: after a call to a global function the verifier no longer
   * trusts packet pointers taken before it. */
  if (uvs_decap_verify_csum(ctx, off, hdr_len, 0) != 0) return UVS_DECAP_CNT_MALFORMED;
  return 0;
}

/* Parses the outer IPv6 header at off (no extension headers). Returns 0 or the verdict. */
static __always_inline __u32 parse_outer_ipv6(struct xdp_md *ctx, __u32 off,
                                              struct outer_ip *outer) {
  void *data = (void *)(long)ctx->data;
  void *data_end = (void *)(long)ctx->data_end;
  struct ipv6hdr *ip6 = header_at(data, data_end, off, sizeof(*ip6));
  if (!ip6 || ip6->version != 6) return UVS_DECAP_CNT_MALFORMED;
  if (!is_tunnel_protocol(ip6->nexthdr)) return UVS_DECAP_CNT_PASSED;
  if (ip6->nexthdr == IPPROTO_UDP && !is_gue_port(data, data_end, off + sizeof(*ip6)))
    return UVS_DECAP_CNT_PASSED;
  __u32 payload_len = bpf_ntohs(ip6->payload_len);
  __u32 frame_len = (__u32)(data_end - data);
  /* A zero payload length is a jumbogram: never a tunnel packet uvs sends. */
  if (payload_len == 0 || off + sizeof(*ip6) + payload_len > frame_len)
    return UVS_DECAP_CNT_MALFORMED;
  outer->family = UVS_DECAP_AF_INET6;
  outer->protocol = ip6->nexthdr;
  outer->ecn = ipv6_ecn(ip6);
  __builtin_memcpy(outer->saddr, &ip6->saddr, 16);
  __builtin_memcpy(outer->daddr, &ip6->daddr, 16);
  outer->off = off;
  outer->hdr_len = sizeof(*ip6);
  outer->payload_len = payload_len;
  return 0;
}

/* The GRE header after the outer IP header. Sets *tunnel_len and the inner family. */
static __always_inline __u32 parse_gre(struct xdp_md *ctx, const struct outer_ip *outer,
                                       __u32 *tunnel_len, __u8 *inner_family) {
  void *data = (void *)(long)ctx->data;
  void *data_end = (void *)(long)ctx->data_end;
  __u32 off = outer->off + outer->hdr_len;
  __be16 *gre = header_at(data, data_end, off, GRE_HDR_LEN);
  if (!gre || outer->payload_len < GRE_HDR_LEN) return UVS_DECAP_CNT_MALFORMED;
  __u16 flags = bpf_ntohs(gre[0]);
  __be16 protocol = gre[1];
  if (flags & GRE_FLAGS_OTHER) return UVS_DECAP_CNT_UNSUPPORTED;
  if (protocol == bpf_htons(ETH_P_IP))
    *inner_family = UVS_DECAP_AF_INET;
  else if (protocol == bpf_htons(ETH_P_IPV6))
    *inner_family = UVS_DECAP_AF_INET6;
  else
    return UVS_DECAP_CNT_UNSUPPORTED; /* Ethernet over GRE, MPLS...: not from uvs */
  *tunnel_len = GRE_HDR_LEN;
  if (flags & GRE_FLAG_CSUM) {
    *tunnel_len = GRE_HDR_LEN + GRE_CSUM_LEN;
    if (outer->payload_len < *tunnel_len) return UVS_DECAP_CNT_MALFORMED;
    /* The checksum covers the GRE header and everything after it (RFC 2784). */
    int bad = uvs_decap_verify_csum(ctx, off, outer->payload_len, 0);
    if (bad < 0) return UVS_DECAP_CNT_UNSUPPORTED;
    if (bad) return UVS_DECAP_CNT_MALFORMED;
  }
  return 0;
}

/* The UDP and GUE headers after the outer IP header (the port was matched already). Sets
 * *tunnel_len, *inner_room and the inner family. */
static __always_inline __u32 parse_gue(struct xdp_md *ctx, const struct outer_ip *outer,
                                       __u32 *tunnel_len, __u32 *inner_room,
                                       __u8 *inner_family) {
  void *data = (void *)(long)ctx->data;
  void *data_end = (void *)(long)ctx->data_end;
  __u32 off = outer->off + outer->hdr_len;
  struct udphdr *udp = header_at(data, data_end, off, sizeof(*udp));
  if (!udp) return UVS_DECAP_CNT_MALFORMED;
  __u32 udp_len = bpf_ntohs(udp->len);
  __be16 check = udp->check;
  if (udp_len < sizeof(*udp) || udp_len > outer->payload_len) return UVS_DECAP_CNT_MALFORMED;

  __u8 *gue = header_at(data, data_end, off + sizeof(*udp), GUE_HDR_LEN);
  if (!gue) return UVS_DECAP_CNT_MALFORMED;
  __u8 first = gue[0];
  __u8 proto = gue[1];
  __u16 flags = ((__u16)gue[2] << 8) | gue[3];
  __u8 version = first >> GUE_VERSION_SHIFT;
  if (version == 1) {
    /* GUE version 1: no GUE header, the inner IP header follows UDP directly; its version
     * nibble (0100 or 0110) supplies the 01 version bits. */
    __u8 ip_version = first >> 4;
    if (ip_version == 4)
      *inner_family = UVS_DECAP_AF_INET;
    else if (ip_version == 6)
      *inner_family = UVS_DECAP_AF_INET6;
    else
      return UVS_DECAP_CNT_UNSUPPORTED;
    *tunnel_len = sizeof(*udp);
  } else if (version == 0) {
    /* uvs sends data messages without options (hlen 0, flags 0); options such as remote
     * checksum offload would leave the inner checksum to be completed here. */
    if ((first & GUE_CONTROL_BIT) || (first & GUE_HLEN_MASK) || flags)
      return UVS_DECAP_CNT_UNSUPPORTED;
    if (proto == IPPROTO_IPIP)
      *inner_family = UVS_DECAP_AF_INET;
    else if (proto == IPPROTO_IPV6)
      *inner_family = UVS_DECAP_AF_INET6;
    else
      return UVS_DECAP_CNT_UNSUPPORTED;
    *tunnel_len = sizeof(*udp) + GUE_HDR_LEN;
  } else {
    return UVS_DECAP_CNT_UNSUPPORTED;
  }
  if (udp_len < *tunnel_len) return UVS_DECAP_CNT_MALFORMED;
  *inner_room = udp_len - *tunnel_len;

  if (check) {
    struct pseudo_hdr pseudo = {};
    __builtin_memcpy(pseudo.saddr, outer->saddr, 16);
    __builtin_memcpy(pseudo.daddr, outer->daddr, 16);
    pseudo.length = bpf_htonl(udp_len);
    pseudo.protocol = bpf_htonl(IPPROTO_UDP);
    __u32 seed = (__u32)bpf_csum_diff(NULL, 0, (__be32 *)&pseudo, sizeof(pseudo), 0);
    int bad = uvs_decap_verify_csum(ctx, off, udp_len, seed);
    if (bad < 0) return UVS_DECAP_CNT_UNSUPPORTED;
    if (bad) return UVS_DECAP_CNT_MALFORMED;
  }
  return 0;
}

/* The inner header at off, within room bytes: well formed, of the announced family and sent
 * to a VIP? Sets *inner_ecn. Returns 0 or the verdict. */
static __always_inline __u32 check_inner(struct xdp_md *ctx, __u32 off, __u32 room, __u8 family,
                                         __u8 *inner_ecn) {
  void *data = (void *)(long)ctx->data;
  void *data_end = (void *)(long)ctx->data_end;
  struct uvs_decap_vip_key key = {};
  key.family = family;
  if (family == UVS_DECAP_AF_INET) {
    struct iphdr *ip = header_at(data, data_end, off, sizeof(*ip));
    if (!ip || room < sizeof(*ip) || ip->version != 4 || ip->ihl < 5)
      return UVS_DECAP_CNT_MALFORMED;
    __u32 tot_len = bpf_ntohs(ip->tot_len);
    if (tot_len < (__u32)ip->ihl * 4 || tot_len > room) return UVS_DECAP_CNT_MALFORMED;
    key.addr[0] = ip->daddr;
    *inner_ecn = ip->tos & ECN_MASK;
  } else {
    struct ipv6hdr *ip6 = header_at(data, data_end, off, sizeof(*ip6));
    if (!ip6 || room < sizeof(*ip6) || ip6->version != 6) return UVS_DECAP_CNT_MALFORMED;
    if (sizeof(*ip6) + bpf_ntohs(ip6->payload_len) > room) return UVS_DECAP_CNT_MALFORMED;
    __builtin_memcpy(key.addr, &ip6->daddr, 16);
    *inner_ecn = ipv6_ecn(ip6);
  }
  if (!bpf_map_lookup_elem(&uvs_decap_vips, &key)) return UVS_DECAP_CNT_FOREIGN;
  return 0;
}

/* Decides what to do with the frame: a decapsulation verdict with *plan filled, or the
 * counter of a packet left alone. */
static __always_inline __u32 plan_decap(struct xdp_md *ctx, struct decap_plan *plan) {
  void *data = (void *)(long)ctx->data;
  void *data_end = (void *)(long)ctx->data_end;
  __be16 ether_type;
  __u32 off;
  if (parse_ethernet(data, data_end, &ether_type, &off) < 0) return UVS_DECAP_CNT_PASSED;

  struct outer_ip outer = {};
  __u32 verdict;
  if (ether_type == bpf_htons(ETH_P_IP))
    verdict = parse_outer_ipv4(ctx, off, &outer);
  else if (ether_type == bpf_htons(ETH_P_IPV6))
    verdict = parse_outer_ipv6(ctx, off, &outer);
  else
    return UVS_DECAP_CNT_PASSED; /* ARP, a third VLAN tag...: the kernel's */
  if (verdict) return verdict;

  __u32 tunnel_len = 0;
  __u32 inner_room = 0;
  __u8 inner_family = 0;
  __u32 decapsulated;
  if (outer.protocol == IPPROTO_IPIP || outer.protocol == IPPROTO_IPV6) {
    inner_family = outer.protocol == IPPROTO_IPIP ? UVS_DECAP_AF_INET : UVS_DECAP_AF_INET6;
    inner_room = outer.payload_len;
    decapsulated = UVS_DECAP_CNT_IPIP;
  } else if (outer.protocol == IPPROTO_GRE) {
    verdict = parse_gre(ctx, &outer, &tunnel_len, &inner_family);
    if (verdict) return verdict;
    inner_room = outer.payload_len - tunnel_len;
    decapsulated = UVS_DECAP_CNT_GRE;
  } else {
    verdict = parse_gue(ctx, &outer, &tunnel_len, &inner_room, &inner_family);
    if (verdict) return verdict;
    decapsulated = UVS_DECAP_CNT_GUE;
  }

  __u8 inner_ecn = 0;
  verdict = check_inner(ctx, outer.off + outer.hdr_len + tunnel_len, inner_room, inner_family,
                        &inner_ecn);
  if (verdict) return verdict;
  if (outer.ecn == ECN_CE && inner_ecn == ECN_NOT_ECT) return UVS_DECAP_CNT_MALFORMED;

  plan->l2_len = outer.off;
  plan->strip = outer.hdr_len + tunnel_len;
  plan->inner_family = inner_family;
  plan->inner_ethertype =
      inner_family == UVS_DECAP_AF_INET ? bpf_htons(ETH_P_IP) : bpf_htons(ETH_P_IPV6);
  plan->set_ce = outer.ecn == ECN_CE && inner_ecn != ECN_CE;
  return decapsulated;
}

/* Marks an ECN-capable inner packet CE (RFC 6040 decapsulation). */
static __always_inline void set_inner_ce(void *data, void *data_end, __u32 off, __u8 family) {
  if (family == UVS_DECAP_AF_INET) {
    struct iphdr *ip = header_at(data, data_end, off, sizeof(*ip));
    if (!ip) return;
    /* RFC 1624 incremental update of the header checksum for the first 16-bit word. */
    __u16 old_word = *(__u16 *)ip;
    ip->tos |= ECN_CE;
    __u16 new_word = *(__u16 *)ip;
    __u32 sum = (__u16)~ip->check + (__u16)~old_word + new_word;
    ip->check = (__u16)~csum_fold(sum);
  } else {
    struct ipv6hdr *ip6 = header_at(data, data_end, off, sizeof(*ip6));
    if (!ip6) return;
    ip6->flow_lbl[0] |= ECN_CE << 4;
  }
}

/* Removes the outer headers: the link header moves forward over them and announces the inner
 * family. -1 if the frame could not be changed (then it is unchanged). */
static __always_inline int strip_outer(struct xdp_md *ctx, const struct decap_plan *plan) {
  void *data = (void *)(long)ctx->data;
  void *data_end = (void *)(long)ctx->data_end;
  /* A fixed-size copy: the outer IP header behind the link header makes it always there. */
  __u8 l2_prefix[L2_PREFIX_MAX];
  if (data + L2_PREFIX_MAX > data_end) return -1;
  __builtin_memcpy(l2_prefix, data, L2_PREFIX_MAX);

  if (bpf_xdp_adjust_head(ctx, (int)plan->strip)) return -1;
  data = (void *)(long)ctx->data;
  data_end = (void *)(long)ctx->data_end;
  /* The inner IP header (at least 20 bytes) follows the link header (at most 22). */
  if (data + L2_PREFIX_MAX + 2 > data_end) return -1;
  __u32 l2_len = plan->l2_len;
  if (l2_len == ETH_HLEN) {
    __builtin_memcpy(data, l2_prefix, ETH_HLEN - 2);
    *(__be16 *)(data + ETH_HLEN - 2) = plan->inner_ethertype;
  } else if (l2_len == ETH_HLEN + 4) {
    __builtin_memcpy(data, l2_prefix, ETH_HLEN + 4 - 2);
    *(__be16 *)(data + ETH_HLEN + 4 - 2) = plan->inner_ethertype;
  } else {
    __builtin_memcpy(data, l2_prefix, ETH_HLEN + 8 - 2);
    *(__be16 *)(data + ETH_HLEN + 8 - 2) = plan->inner_ethertype;
    l2_len = ETH_HLEN + 8;
  }
  if (plan->set_ce) set_inner_ce(data, data_end, l2_len, plan->inner_family);
  return 0;
}

SEC("xdp")
int uvs_decap(struct xdp_md *ctx) {
  struct decap_plan plan = {};
  __u32 verdict = plan_decap(ctx, &plan);
  if (IS_DECAP(verdict) && strip_outer(ctx, &plan) < 0) verdict = UVS_DECAP_CNT_MALFORMED;
  count(verdict);
  return XDP_PASS;
}

char _license[] SEC("license") = "GPL";
