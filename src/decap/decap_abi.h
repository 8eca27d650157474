/* The contract between the real-server decapsulation program (bpf/decap.bpf.c) and its loader
 * (decap/uvs_decap_main.cc): program and map names, key layouts, counter indices. Plain C so
 * that both clang -target bpf and the C++ build include it. Keys have explicit padding, so a
 * zero-initialised key has no stray bytes for the hash maps to compare. */
#ifndef UVS_DECAP_DECAP_ABI_H_
#define UVS_DECAP_DECAP_ABI_H_

#include <linux/types.h>

#define UVS_DECAP_PROG_NAME "uvs_decap"
#define UVS_DECAP_OBJECT_FILE "decap.bpf.o"
#define UVS_DECAP_MAP_VIPS "uvs_decap_vips"
#define UVS_DECAP_MAP_GUE_PORTS "uvs_decap_gue_ports"
#define UVS_DECAP_MAP_COUNTERS "uvs_decap_counters"

#define UVS_DECAP_MAX_VIPS 4096
#define UVS_DECAP_MAX_GUE_PORTS 64

/* Families use the kernel's AF_INET / AF_INET6 values. */
#define UVS_DECAP_AF_INET 2
#define UVS_DECAP_AF_INET6 10

/* A virtual service address the inner packet must be sent to. IPv4 lives in addr[0]. */
struct uvs_decap_vip_key {
  __u8 family;
  __u8 pad[3];
  __be32 addr[4];
};

/* uvs_decap_gue_ports is keyed by the UDP destination port in network order (__be16). Values
 * of both hash maps are a __u8 written as 1: only the presence of a key matters. */

/* Per-CPU counters, one __u64 per index. Every packet the program sees counts exactly once. */
enum uvs_decap_counter {
  UVS_DECAP_CNT_IPIP = 0,    /* IPIP or IPv6-in-IPv4/IPv6 decapsulated */
  UVS_DECAP_CNT_GUE,         /* GUE decapsulated */
  UVS_DECAP_CNT_GRE,         /* GRE decapsulated */
  UVS_DECAP_CNT_PASSED,      /* not a tunnel packet (or GUE to another port): untouched */
  UVS_DECAP_CNT_FOREIGN,     /* a tunnel packet whose inner destination is no VIP: untouched */
  UVS_DECAP_CNT_MALFORMED,   /* truncated or inconsistent headers, bad checksum: untouched */
  UVS_DECAP_CNT_UNSUPPORTED, /* outer fragment, GRE key/sequence/routing, GUE options or
                              * control message, other inner protocol: untouched */
  UVS_DECAP_CNT_MAX
};

#endif /* UVS_DECAP_DECAP_ABI_H_ */
