/* TUN's outer headers (the kernel's ip_vs_tunnel_xmit() with its IPIP, GUE and GRE variants) as
 * a per-connection template plus the per-packet fields, in plain C shared by the user-space
 * transmitter (xmit::tunnel_encap()) and the XDP fast path (bpf/fast_path.h), so both write the
 * same bytes. The template (built by xmit::tunnel_template()) holds what is constant for a
 * connection: version, protocol, addresses, GUE's ports and header, GRE's header. What changes
 * per packet is written by uvs_tun_fill(): lengths, TOS, TTL, DF, IPv4 id and header checksum.
 * Checksums over the payload (GUE with a UDP checksum, GRE with its checksum) are user space's.
 *
 * Conventions as pkt/nat_rewrite.h: bytes as they sit in the packet, any alignment. */
#ifndef UVS_PKT_TUNNEL_HDR_H_
#define UVS_PKT_TUNNEL_HDR_H_

#include <linux/types.h>

#include "pkt/nat_rewrite.h"

/* The largest outer headers: IPv6 (40) + UDP (8) + GUE (4). A multiple of 4: the template is
 * copied in 32-bit words. */
#define UVS_TUN_HDR_MAX 52

#define UVS_TUN_F_V6 0x01  /* outer IPv6 (else IPv4) */
#define UVS_TUN_F_UDP 0x02 /* GUE: a UDP header follows the outer IP header */

struct uvs_tun_hdr {
  __u8 len;   /* bytes of outer headers before the inner datagram (a multiple of 4) */
  __u8 flags; /* UVS_TUN_F_* */
  __u8 pad[2];
  __u8 hdr[UVS_TUN_HDR_MAX]; /* the outer headers, per-packet fields zero */
};

#define UVS_IPV4_HDR_LEN 20
#define UVS_IPV6_HDR_LEN 40
#define UVS_IPV4_TOT_LEN_OFF 2
#define UVS_IPV4_ID_OFF 4
#define UVS_IPV4_FRAG_OFF 6
#define UVS_IPV4_DF 0x40 /* in the first byte of frag_off */
#define UVS_IPV6_PAYLOAD_LEN_OFF 4
#define UVS_UDP_LEN_OFF 4

/* A 16-bit number as it sits in the packet. */
UVS_INLINE __u16 uvs_be16(__u16 v) {
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
  return __builtin_bswap16(v);
#else
  return v;
#endif
}

/* ECN on encapsulation, as INET_ECN_encapsulate(): DSCP copied, CE becomes ECT(0), so the outer
 * header never claims congestion the tunnel did not see. */
UVS_INLINE __u8 uvs_outer_tos(__u8 inner_tos) {
  return (inner_tos & 0x03) == 0x03 ? (__u8)((inner_tos & ~0x03) | 0x02) : inner_tos;
}

/* The inner datagram's TOS (IPv6: traffic class) and TTL (hop limit). */
UVS_INLINE __u8 uvs_inner_tos(const __u8 *ip, int v6) {
  return v6 ? (__u8)(((ip[0] & 0x0f) << 4) | (ip[1] >> 4)) : ip[1];
}
UVS_INLINE __u8 uvs_inner_ttl(const __u8 *ip, int v6) {
  return ip[v6 ? UVS_IPV6_HOP_LIMIT_OFF : UVS_IPV4_TTL_OFF];
}

/* The header checksum of the IPv4 header (no options) at `ip`, its field zero. */
UVS_INLINE __u16 uvs_ipv4_hdr_csum(const __u8 *ip) {
  __u64 sum = 0;
  for (int i = 0; i < UVS_IPV4_HDR_LEN / 4; i++) sum += uvs_load32(ip + 4 * i);
  return (__u16)~uvs_csum_fold64(sum);
}

/* The template's t->len bytes at `outer`, in constant-size words (BPF has no memcpy). */
UVS_INLINE void uvs_tun_copy(__u8 *outer, const struct uvs_tun_hdr *t) {
  for (int i = 0; i < UVS_TUN_HDR_MAX / 4; i++)
    if (4 * i < t->len) uvs_store32(outer + 4 * i, uvs_load32(t->hdr + 4 * i));
}

/* The per-packet fields of the outer headers at `outer` (a copy of t's), for an inner datagram
 * of `inner_len` bytes with TOS `inner_tos` and TTL `inner_ttl` (already decremented), as
 * ip_vs_tunnel_xmit() sets them: the outer TTL is the inner one, DF (IPv4) is the inner
 * packet's under sysctl pmtu_disc (`df`), `id` is the IPv4 identification (network order; 0
 * with DF, as ip_select_ident_segs() writes for a packet without a socket). */
UVS_INLINE void uvs_tun_fill(__u8 *outer, const struct uvs_tun_hdr *t, __u16 inner_len,
                             __u8 inner_tos, __u8 inner_ttl, int df, __u16 id) {
  const __u8 tos = uvs_outer_tos(inner_tos);
  const int v6 = t->flags & UVS_TUN_F_V6;
  const __u16 ip_len = v6 ? UVS_IPV6_HDR_LEN : UVS_IPV4_HDR_LEN;
  const __u16 payload_len = t->len - ip_len + inner_len; /* after the outer IP header */
  if (v6) {
    outer[0] = (__u8)(0x60 | (tos >> 4)); /* version 6, traffic class, flow label 0 */
    outer[1] = (__u8)(tos << 4);
    uvs_store16(outer + UVS_IPV6_PAYLOAD_LEN_OFF, uvs_be16(payload_len));
    outer[UVS_IPV6_HOP_LIMIT_OFF] = inner_ttl;
  } else {
    outer[1] = tos;
    uvs_store16(outer + UVS_IPV4_TOT_LEN_OFF, uvs_be16(ip_len + payload_len));
    uvs_store16(outer + UVS_IPV4_ID_OFF, id);
    outer[UVS_IPV4_FRAG_OFF] = df ? UVS_IPV4_DF : 0;
    outer[UVS_IPV4_TTL_OFF] = inner_ttl;
    uvs_store16(outer + UVS_IPV4_CHECK_OFF, 0);
    uvs_store16(outer + UVS_IPV4_CHECK_OFF, uvs_ipv4_hdr_csum(outer));
  }
  if (t->flags & UVS_TUN_F_UDP)
    uvs_store16(outer + ip_len + UVS_UDP_LEN_OFF, uvs_be16(payload_len));
}

#endif /* UVS_PKT_TUNNEL_HDR_H_ */
