#include "io/xdp_flows.h"

#include <bpf/bpf.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace uvs::io {

std::unique_ptr<XdpFlows> XdpFlows::open(const XdpSteering& steering, std::string* error) {
  std::unique_ptr<XdpFlows> flows(new XdpFlows());
  flows->flows_fd_ = steering.map_fd(UVS_STEER_MAP_FLOWS);
  const int stats_fd = steering.map_fd(UVS_STEER_MAP_FLOW_STATS);
  if (flows->flows_fd_ < 0 || stats_fd < 0) {
    if (error) *error = "the steering object has no fast-path maps";
    return nullptr;
  }
  bpf_map_info info{};
  uint32_t info_len = sizeof(info);
  if (bpf_obj_get_info_by_fd(stats_fd, &info, &info_len) != 0) {
    if (error) *error = std::string("reading " UVS_STEER_MAP_FLOW_STATS ": ") + std::strerror(errno);
    return nullptr;
  }
  flows->slots_ = info.max_entries;
  flows->stats_bytes_ = sizeof(uvs_flow_stats) * size_t{info.max_entries};
  void* mem = mmap(nullptr, flows->stats_bytes_, PROT_READ, MAP_SHARED, stats_fd, 0);
  if (mem == MAP_FAILED) {
    if (error) *error = std::string("mapping " UVS_STEER_MAP_FLOW_STATS ": ") + std::strerror(errno);
    return nullptr;
  }
  flows->stats_ = static_cast<const uvs_flow_stats*>(mem);
  return flows;
}

XdpFlows::~XdpFlows() {
  if (stats_) munmap(const_cast<uvs_flow_stats*>(stats_), stats_bytes_);
}

int XdpFlows::install(const uvs_flow_key& key, const uvs_flow& flow) {
  return bpf_map_update_elem(flows_fd_, &key, &flow, BPF_ANY) == 0 ? 0 : errno;
}

int XdpFlows::remove(const uvs_flow_key& key) {
  return bpf_map_delete_elem(flows_fd_, &key) == 0 ? 0 : errno;
}

}  // namespace uvs::io
