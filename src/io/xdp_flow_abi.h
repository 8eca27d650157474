/* The fast path's contract between user space and the XDP steering program (bpf/steer.bpf.c,
 * bpf/fast_path.h): an offloaded connection direction is one entry of uvs_flows, keyed by the
 * packet as it arrives and holding what user space decided for it, so XDP repeats the decision
 * (rewrite, next hop) without a trip to user space. User space creates and deletes entries;
 * XDP only adds to the direction's counters and stamps its last-seen time (uvs_flow_stats). Plain C for clang -target bpf and g++;
 * explicit padding, so a value-initialised key has no stray bytes. */
#ifndef UVS_IO_XDP_FLOW_ABI_H_
#define UVS_IO_XDP_FLOW_ABI_H_

#include <linux/types.h>

#include "pkt/nat_rewrite.h"
#include "pkt/tunnel_hdr.h"

#define UVS_STEER_MAP_FLOWS "uvs_flows"
#define UVS_STEER_MAP_FLOW_STATS "uvs_flow_stats"
/* Offloaded directions by default: the fast path holds the busy subset of the connection table;
 * a connection beyond it stays in user space. uvs_flow_stats has as many slots. */
#define UVS_FLOW_DEFAULT_MAX 65536

/* A packet as it arrives (family AF_INET/AF_INET6 values, IPv4 in addr[0], ports network
 * order). */
struct uvs_flow_key {
  __u8 family;
  __u8 protocol;
  __u16 pad;
  __be16 sport;
  __be16 dport;
  __be32 saddr[4];
  __be32 daddr[4];
};

/* Flags of an offloaded direction. */
#define UVS_FLOW_F_NAT (1u << 0) /* rewrite addresses and ports to `to` (NAT, FULLNAT) */
#define UVS_FLOW_F_SEQ (1u << 1) /* TCP seq += seq_delta: FULLNAT toward the real server, the
                                    SYN proxy toward the client */
#define UVS_FLOW_F_ACK (1u << 2) /* TCP ack -= seq_delta: FULLNAT toward the client, the SYN
                                    proxy toward the real server; segments with options (SACK
                                    edges to shift) go to user space */
#define UVS_FLOW_F_TUN (1u << 3) /* TUN: push `tun`'s outer headers (pkt/tunnel_hdr.h); an
                                    outer IPv4 header takes DF from the inner packet, so one
                                    without DF (id per packet, maybe fragments) is user space's */

/* Written by user space only. */
struct uvs_flow {
  struct uvs_nat_tuple to; /* with UVS_FLOW_F_NAT: the tuple the packet leaves with */
  __u8 dmac[6];            /* next hop */
  __u8 smac[6];            /* ours on the egress interface */
  __u32 ifindex;           /* egress; XDP_TX when it is the interface the packet came in on */
  __u16 mtu;               /* the egress path's: a larger packet goes to user space */
  __u8 flags;              /* UVS_FLOW_F_* */
  __u8 pad;
  __u32 stats;             /* this direction's slot in uvs_flow_stats */
  __u32 seq_delta;         /* with UVS_FLOW_F_SEQ / _ACK: the connection's sequence shift */
  __u32 pad2;
  struct uvs_tun_hdr tun;  /* with UVS_FLOW_F_TUN; the inner datagram plus tun.len must fit mtu */
};

/* Written by XDP, read by the worker that owns the connection: an mmap-able array
 * (BPF_F_MMAPABLE), so folding counters and checking last-seen when a timer fires costs the
 * worker a memory read, not a system call. One slot per offloaded direction, handed out by
 * user space (each worker from its own slice). */
struct uvs_flow_stats {
  __u64 packets;
  __u64 bytes;        /* IP datagram bytes, as the statistics count them */
  __u64 last_seen_ns; /* bpf_ktime_get_ns() (CLOCK_MONOTONIC) of the latest packet */
  __u64 pad;
};

#endif /* UVS_IO_XDP_FLOW_ABI_H_ */
