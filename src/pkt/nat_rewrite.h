/* The NAT rewrite of a packet's addresses and ports with incremental checksum updates
 * (RFC 1624: HC' = ~(~HC + ~m + m')), in plain C with no library, so that the XDP programs
 * (clang -target bpf) and the C++ data path compile one implementation: what xmit::rewrite_tuple()
 * does to every NAT and FULLNAT packet is what the XDP fast path will do to established flows.
 *
 * Conventions: words are loaded as they sit in the packet (network order in memory); a "delta"
 * is an unfolded 64-bit ones' complement sum of ~old + new terms; loads and stores go through
 * __builtin_memcpy, so any alignment works (packet headers after a 14-byte Ethernet header are
 * 2-byte aligned) for both compilers. Callers check bounds: the BPF verifier wants to see the
 * header fit before these are called. */
#ifndef UVS_PKT_NAT_REWRITE_H_
#define UVS_PKT_NAT_REWRITE_H_

#include <linux/types.h>

/* Inlined everywhere: a BPF call passes at most five arguments in registers, and the verifier
 * follows packet bounds best within one function. */
#define UVS_INLINE static inline __attribute__((always_inline))

UVS_INLINE __u32 uvs_load32(const void *p) {
  __u32 v;
  __builtin_memcpy(&v, p, 4);
  return v;
}
UVS_INLINE __u16 uvs_load16(const void *p) {
  __u16 v;
  __builtin_memcpy(&v, p, 2);
  return v;
}
UVS_INLINE void uvs_store32(void *p, __u32 v) { __builtin_memcpy(p, &v, 4); }
UVS_INLINE void uvs_store16(void *p, __u16 v) { __builtin_memcpy(p, &v, 2); }

/* A 64-bit accumulator folded to 16 bits (end-around carries), not complemented. */
UVS_INLINE __u16 uvs_csum_fold64(__u64 sum) {
  sum = (sum & 0xffffffffULL) + (sum >> 32);
  sum = (sum & 0xffffffffULL) + (sum >> 32);
  __u32 s = (__u32)sum;
  s = (s & 0xffff) + (s >> 16);
  s = (s & 0xffff) + (s >> 16);
  return (__u16)s;
}

/* The delta of one 32-bit or 16-bit word changing from `from` to `to`. */
UVS_INLINE __u64 uvs_csum_delta32(__u32 from, __u32 to) { return (__u64)(__u32)~from + to; }
UVS_INLINE __u64 uvs_csum_delta16(__u16 from, __u16 to) { return (__u64)(__u16)~from + to; }

/* The checksum field `check` after the changes summed in `delta`. Exact: it equals what a full
 * recomputation stores (never the other zero), since a header is never all zero. */
UVS_INLINE __u16 uvs_csum_apply(__u16 check, __u64 delta) {
  return (__u16)~uvs_csum_fold64(delta + (__u16)~check);
}

/* The delta of `words` 32-bit words at `from` becoming those at `to` (1 for IPv4, 4 for IPv6). */
UVS_INLINE __u64 uvs_csum_delta_words(const void *from, const void *to, int words) {
  __u64 d = 0;
  for (int i = 0; i < 4 && i < words; i++)
    d += uvs_csum_delta32(uvs_load32((const __u8 *)from + 4 * i),
                          uvs_load32((const __u8 *)to + 4 * i));
  return d;
}

/* Where a NAT rewrite sends a packet: new addresses (IPv4 in the first 4 bytes) and ports, as
 * they sit in the packet (network order). */
struct uvs_nat_tuple {
  __u8 saddr[16];
  __u8 daddr[16];
  __u16 sport;
  __u16 dport;
};

#define UVS_IPV4_CHECK_OFF 10
#define UVS_IPV4_SADDR_OFF 12
#define UVS_IPV6_SADDR_OFF 8

/* Writes `to`'s addresses into the IP header at `ip` (IPv6 when `v6`), updating the IPv4
 * header checksum. Returns the delta the change makes to a transport pseudo header, for
 * uvs_nat_l4(). */
UVS_INLINE __u64 uvs_nat_l3(__u8 *ip, int v6, const struct uvs_nat_tuple *to) {
  const int words = v6 ? 4 : 1;
  __u8 *saddr = ip + (v6 ? UVS_IPV6_SADDR_OFF : UVS_IPV4_SADDR_OFF);
  __u8 *daddr = saddr + 4 * words;
  const __u64 delta =
      uvs_csum_delta_words(saddr, to->saddr, words) + uvs_csum_delta_words(daddr, to->daddr, words);
  if (!v6)
    uvs_store16(ip + UVS_IPV4_CHECK_OFF,
                uvs_csum_apply(uvs_load16(ip + UVS_IPV4_CHECK_OFF), delta));
  for (int i = 0; i < 4 && i < words; i++) {  /* constant-size copies: BPF has no memcpy */
    uvs_store32(saddr + 4 * i, uvs_load32(to->saddr + 4 * i));
    uvs_store32(daddr + 4 * i, uvs_load32(to->daddr + 4 * i));
  }
  return delta;
}

#define UVS_IPV4_TTL_OFF 8
#define UVS_IPV6_HOP_LIMIT_OFF 7

/* TTL (IPv6: hop limit) minus one, the IPv4 header checksum updated. 0, with nothing changed,
 * when it is already 1 or 0 and the packet must not be forwarded (ICMP time exceeded). */
UVS_INLINE int uvs_decrement_ttl(__u8 *ip, int v6) {
  __u8 *ttl = ip + (v6 ? UVS_IPV6_HOP_LIMIT_OFF : UVS_IPV4_TTL_OFF);
  if (*ttl <= 1) return 0;
  if (v6) {
    *ttl -= 1;
    return 1;
  }
  /* TTL and protocol form the 16-bit word at offset 8. */
  const __u16 before = uvs_load16(ttl);
  *ttl -= 1;
  uvs_store16(ip + UVS_IPV4_CHECK_OFF,
              uvs_csum_apply(uvs_load16(ip + UVS_IPV4_CHECK_OFF),
                             uvs_csum_delta16(before, uvs_load16(ttl))));
  return 1;
}

#define UVS_TCP_SEQ_OFF 4
#define UVS_TCP_ACK_OFF 8
#define UVS_TCP_FLAGS_OFF 13
#define UVS_TCP_FLAG_ACK 0x10

/* A 32-bit word of the packet (network order) plus `add`, as a number. */
UVS_INLINE __u32 uvs_be32_add(__u32 be, __u32 add) {
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
  return __builtin_bswap32(__builtin_bswap32(be) + add);
#else
  return be + add;
#endif
}

/* FULLNAT's sequence shift: seq += seq_add (toward the real server) and, on a segment with
 * ACK, ack -= ack_sub (toward the client). Returns the checksum delta for uvs_nat_l4(). SACK
 * blocks are not touched: a caller whose segment may carry them (the real server's side) must
 * leave segments with options to code that edits them (xmit::tcp_unshift_ack()). */
UVS_INLINE __u64 uvs_tcp_shift(__u8 *tcp, __u32 seq_add, __u32 ack_sub) {
  __u64 delta = 0;
  if (seq_add) {
    const __u32 before = uvs_load32(tcp + UVS_TCP_SEQ_OFF);
    const __u32 after = uvs_be32_add(before, seq_add);
    uvs_store32(tcp + UVS_TCP_SEQ_OFF, after);
    delta += uvs_csum_delta32(before, after);
  }
  if (ack_sub && (tcp[UVS_TCP_FLAGS_OFF] & UVS_TCP_FLAG_ACK)) {
    const __u32 before = uvs_load32(tcp + UVS_TCP_ACK_OFF);
    const __u32 after = uvs_be32_add(before, (__u32)0 - ack_sub);
    uvs_store32(tcp + UVS_TCP_ACK_OFF, after);
    delta += uvs_csum_delta32(before, after);
  }
  return delta;
}

#define UVS_TCP_CHECK_OFF 16
#define UVS_UDP_CHECK_OFF 6

/* Writes `to`'s ports into the TCP or UDP header at `l4` and updates its checksum, the field at
 * `check` (l4 + UVS_TCP_CHECK_OFF or UVS_UDP_CHECK_OFF: the caller's pointer, bounds-checked),
 * by `l3_delta` (from uvs_nat_l3()) and the ports' own change. The checksum must be final (not
 * a local sender's partial sum). An IPv4 UDP checksum of 0 means none and stays 0; a UDP
 * checksum that comes out 0 is sent as 0xffff (RFC 768). A first fragment's checksum covers the
 * whole datagram; the same delta applies. */
UVS_INLINE void uvs_nat_l4(__u8 *l4, __u8 *check, int udp, int v6, __u64 l3_delta,
                           const struct uvs_nat_tuple *to) {
  const __u64 delta = l3_delta + uvs_csum_delta16(uvs_load16(l4), to->sport) +
                      uvs_csum_delta16(uvs_load16(l4 + 2), to->dport);
  uvs_store16(l4, to->sport);
  uvs_store16(l4 + 2, to->dport);
  const __u16 old = uvs_load16(check);
  if (udp && old == 0 && !v6) return;
  __u16 updated = uvs_csum_apply(old, delta);
  if (udp && updated == 0) updated = 0xffff;
  uvs_store16(check, updated);
}

#endif /* UVS_PKT_NAT_REWRITE_H_ */
