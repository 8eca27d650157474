// The fast path's maps as user space holds them (io/xdp_flow_abi.h): uvs_flows, written one
// entry at a time by the offload thread, and uvs_flow_stats, mmap-ed read-only so workers read
// XDP's counters and last-seen times without a system call.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "io/xdp_flow_abi.h"
#include "io/xdp_steering.h"

namespace uvs::io {

class XdpFlows {
 public:
  // The maps of the steering object. Null and *error if they are missing or cannot be mapped.
  static std::unique_ptr<XdpFlows> open(const XdpSteering& steering, std::string* error);
  ~XdpFlows();
  XdpFlows(const XdpFlows&) = delete;
  XdpFlows& operator=(const XdpFlows&) = delete;

  // A system call each; errno-style error (0 on success). Installing over an existing key
  // replaces it; E2BIG when the map is full.
  int install(const uvs_flow_key& key, const uvs_flow& flow);
  int remove(const uvs_flow_key& key);

  const uvs_flow_stats* stats() const { return stats_; }
  uint32_t slots() const { return slots_; }

 private:
  XdpFlows() = default;
  int flows_fd_ = -1;
  const uvs_flow_stats* stats_ = nullptr;
  size_t stats_bytes_ = 0;
  uint32_t slots_ = 0;
};

}  // namespace uvs::io
