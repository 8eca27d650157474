// SPDX-License-Identifier: GPL-2.0
/* Passes every packet to the kernel. Attached to the far end of a veth pair it turns on the
 * veth NAPI path, which native XDP_REDIRECT / XDP_TX into that veth needs (without an XDP
 * program or GRO on the peer, veth drops redirected frames silently). */
#include <linux/bpf.h>

#include <bpf/bpf_helpers.h>

SEC("xdp")
int uvs_pass(struct xdp_md *ctx) {
  (void)ctx;
  return XDP_PASS;
}

char _license[] SEC("license") = "GPL";
