#include "nl/xdp_owner.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/if_link.h>
#include <net/if.h>
#include <unistd.h>

#include <fmt/core.h>

namespace uvs::nl {

std::optional<std::string> xdp_owner(const std::string& ifname) {
  const unsigned ifindex = if_nametoindex(ifname.c_str());
  if (ifindex == 0) return std::nullopt;
  bpf_xdp_query_opts opts{};
  opts.sz = sizeof opts;
  if (bpf_xdp_query(static_cast<int>(ifindex), 0, &opts) != 0) return std::nullopt;
  const uint32_t id = opts.prog_id     ? opts.prog_id
                      : opts.drv_prog_id ? opts.drv_prog_id
                      : opts.skb_prog_id ? opts.skb_prog_id
                                         : opts.hw_prog_id;
  if (id == 0) return std::nullopt;
  std::string name = "?";
  // The name needs CAP_SYS_ADMIN, which an attaching uvsd has; without it the id still says it.
  if (int fd = bpf_prog_get_fd_by_id(id); fd >= 0) {
    bpf_prog_info info{};
    uint32_t len = sizeof info;
    if (bpf_obj_get_info_by_fd(fd, &info, &len) == 0 && info.name[0]) name = info.name;
    close(fd);
  }
  return fmt::format("{} already has an XDP program (id {}, name {})", ifname, id, name);
}

}  // namespace uvs::nl
