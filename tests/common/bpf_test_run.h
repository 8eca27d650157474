// Running a loaded XDP program on one frame with BPF_PROG_TEST_RUN (the kernel hands back the
// program's verdict and the exact bytes it lets out), and reading its counters.
#pragma once

#include <gtest/gtest.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <utility>
#include <vector>

#include "pkt/builder.h"

namespace uvs::test {

// `room` bytes beyond the input let a program grow the frame (bpf_xdp_adjust_head/tail).
inline std::pair<uint32_t, pkt::Bytes> xdp_test_run(int prog_fd, const pkt::Bytes& in,
                                                     size_t room = 256) {
  pkt::Bytes out(in.size() + room);
  bpf_test_run_opts opts{};
  opts.sz = sizeof(opts);
  opts.data_in = in.data();
  opts.data_size_in = static_cast<uint32_t>(in.size());
  opts.data_out = out.data();
  opts.data_size_out = static_cast<uint32_t>(out.size());
  opts.repeat = 1;
  EXPECT_EQ(bpf_prog_test_run_opts(prog_fd, &opts), 0) << std::strerror(errno);
  out.resize(opts.data_size_out);
  return {opts.retval, out};
}

// A per-CPU array's entry summed over the CPUs (0 if it cannot be read).
inline uint64_t percpu_sum(int map_fd, uint32_t index) {
  std::vector<uint64_t> per_cpu(static_cast<size_t>(libbpf_num_possible_cpus()));
  if (bpf_map_lookup_elem(map_fd, &index, per_cpu.data()) != 0) return 0;
  uint64_t total = 0;
  for (uint64_t value : per_cpu) total += value;
  return total;
}

}  // namespace uvs::test
