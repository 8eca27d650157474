/* SPDX-License-Identifier: GPL-2.0 */
/* Frame parsing shared by the uvs XDP programs (steer.bpf.c, decap.bpf.c): bounded access to a
 * header and the walk over the Ethernet header and its VLAN tags.
 *
 * A program defines MAX_HDR_OFFSET before including this header: how far into a frame it ever
 * parses. The bound is the program's own because it is also what the verifier explores: a
 * program that only looks at the first headers keeps its offsets, and its load time, small. */
#ifndef UVS_BPF_XDP_PARSE_H
#define UVS_BPF_XDP_PARSE_H

#include <linux/bpf.h>
#include <linux/if_ether.h>

#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#ifndef MAX_HDR_OFFSET
#error "define MAX_HDR_OFFSET before including xdp_parse.h"
#endif

/* 802.1Q / 802.1ad tags parsed after the Ethernet header (QinQ); a frame with more is left to
 * the kernel. */
#define MAX_VLAN_TAGS 2

struct vlan_tag {
  __be16 tci;
  __be16 encapsulated_proto;
};

/* A pointer to len bytes at off, or NULL when the frame is too short. */
static __always_inline void *header_at(void *data, void *data_end, __u32 off, __u32 len) {
  if (off > MAX_HDR_OFFSET) return NULL;
  void *p = data + off;
  if (p + len > data_end) return NULL;
  return p;
}

/* Reads the Ethernet header and up to MAX_VLAN_TAGS VLAN tags: *ether_type is the ethertype
 * after them (still a VLAN ethertype when there are more tags) and *l3_off the offset of what
 * follows. -1 when the frame ends inside them. */
static __always_inline int parse_ethernet(void *data, void *data_end, __be16 *ether_type,
                                          __u32 *l3_off) {
  struct ethhdr *eth = header_at(data, data_end, 0, sizeof(*eth));
  if (!eth) return -1;
  __be16 type = eth->h_proto;
  __u32 off = sizeof(*eth);
#pragma unroll
  for (int i = 0; i < MAX_VLAN_TAGS; i++) {
    if (type != bpf_htons(ETH_P_8021Q) && type != bpf_htons(ETH_P_8021AD)) break;
    struct vlan_tag *tag = header_at(data, data_end, off, sizeof(*tag));
    if (!tag) return -1;
    type = tag->encapsulated_proto;
    off += sizeof(*tag);
  }
  *ether_type = type;
  *l3_off = off;
  return 0;
}

#endif /* UVS_BPF_XDP_PARSE_H */
