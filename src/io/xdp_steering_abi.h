/* The contract between the XDP steering program (bpf/steer.bpf.c) and its loader
 * (io/xdp_steering.cc): map names, key and value layouts, counter indices. Plain C so that
 * both clang -target bpf and the C++ build include it. Every struct has explicit padding, so a
 * value-initialised key has no stray bytes for the hash maps to compare. */
#ifndef UVS_IO_XDP_STEERING_ABI_H_
#define UVS_IO_XDP_STEERING_ABI_H_

#include <linux/types.h>

/* Program and map names, as the loader finds them in the object file. */
#define UVS_STEER_PROG_NAME "uvs_steer"
#define UVS_STEER_MAP_VIPS "uvs_vips"
#define UVS_STEER_MAP_NAT_REPLIES "uvs_nat_replies"
#define UVS_STEER_MAP_LADDRS "uvs_laddrs"
#define UVS_STEER_MAP_FRAG_ADDRS "uvs_frag_addrs"
#define UVS_STEER_MAP_FWMARK "uvs_fwmark"
#define UVS_STEER_MAP_CONFIG "uvs_config"
#define UVS_STEER_MAP_XSKS "uvs_xsks"
#define UVS_STEER_MAP_IF_SLOTS "uvs_if_slots"
#define UVS_STEER_MAP_COUNTERS "uvs_counters"

/* XSKMAP layout: interface i (in attach order) owns slots [i * QUEUES, (i + 1) * QUEUES); the
 * slot of a packet is its interface's base plus its rx queue index. One program and one set of
 * maps serve every data interface, so the queue alone cannot name a socket. */
#define UVS_STEER_QUEUES_PER_IF 256
#define UVS_STEER_DEFAULT_MAX_IFS 16

#define UVS_STEER_MAX_FWMARK_RULES 64
/* IPv6 extension headers skipped before giving up on finding the transport header. */
#define UVS_STEER_MAX_EXT_HDRS 6

/* Families use the kernel's AF_INET / AF_INET6 values. */
#define UVS_STEER_AF_INET 2
#define UVS_STEER_AF_INET6 10

/* (family, protocol, address, port): a virtual service in uvs_vips (matched against the
 * destination) or a NAT real server in uvs_nat_replies (matched against the source). port is
 * network order; 0 means "any port" (persistent port-0 services). IPv4 lives in addr[0]. */
struct uvs_steer_l4_key {
  __u8 family;
  __u8 protocol;
  __be16 port;
  __be32 addr[4];
};

/* An address alone: FULLNAT local addresses (uvs_laddrs, role 0) and the addresses whose
 * fragments uvs takes (uvs_frag_addrs: role DST for virtual-service addresses, role SRC for
 * NAT real servers, whose reply fragments carry no ports after the first). */
#define UVS_STEER_ROLE_LADDR 0
#define UVS_STEER_ROLE_FRAG_DST 1
#define UVS_STEER_ROLE_FRAG_SRC 2
struct uvs_steer_addr_key {
  __u8 family;
  __u8 role;
  __u16 pad;
  __be32 addr[4];
};

/* Values of the hash maps: reserved for later use (worker hints), written as zero. */
struct uvs_steer_value {
  __u32 flags;
};

/* One fwmark classification rule: destination prefix (addr & mask == addr), protocol (0 = TCP,
 * UDP or SCTP), destination port range in host order (0-65535 = any). The program only decides
 * "steer or not"; the worker classifies again and finds the mark. */
struct uvs_steer_fwmark_rule {
  __u8 family;
  __u8 protocol;
  __u16 port_min;
  __u16 port_max;
  __u16 pad;
  __be32 addr[4];
  __be32 mask[4];
  __u32 mark;
  __u32 pad2;
};

/* Drop, rather than pass to the kernel, a packet uvs should handle when no socket is
 * registered for its queue (workers not started yet, or a queue no worker owns). */
#define UVS_STEER_F_DROP_NO_SOCKET (1u << 0)
/* Look offloaded flows up first (uvsd --offload); without it the fast path costs nothing. */
#define UVS_STEER_F_OFFLOAD (1u << 1)
/* Hand everything to the kernel (sysctl backup_only while a backup sync daemon runs: the
 * director does not load balance, as ip_vs_in() accepts every packet then). */
#define UVS_STEER_F_PASS_ALL (1u << 2)
struct uvs_steer_config {
  __u32 fwmark_rules; /* valid entries at the front of uvs_fwmark */
  __u32 flags;        /* UVS_STEER_F_* */
};

/* Per-CPU counters, one __u64 per index. A packet counts exactly once: in the PASS/PARSE_ERROR
 * bucket or in the bucket of the rule that steered it (or NO_SOCKET if the redirect failed). */
enum uvs_steer_counter {
  UVS_STEER_CNT_PASSED = 0,      /* not for uvs: XDP_PASS */
  UVS_STEER_CNT_PARSE_ERROR,     /* truncated or malformed headers: XDP_PASS */
  UVS_STEER_CNT_VIP,             /* to a virtual service (addr, port) or port-0 service */
  UVS_STEER_CNT_FWMARK,          /* matched a fwmark rule */
  UVS_STEER_CNT_NAT_REPLY,       /* from a NAT real server (addr, port) */
  UVS_STEER_CNT_FULLNAT,         /* to a FULLNAT local address */
  UVS_STEER_CNT_FRAGMENT,        /* fragment to a virtual-service address / from a real server */
  UVS_STEER_CNT_ICMP_ERROR,      /* ICMP error about a uvs flow */
  UVS_STEER_CNT_NO_SOCKET,       /* steered, but no socket in the slot */
  UVS_STEER_CNT_FLOW_FORWARDED,  /* an offloaded flow's packet, forwarded by XDP itself */
  UVS_STEER_CNT_MAX
};

#endif /* UVS_IO_XDP_STEERING_ABI_H_ */
