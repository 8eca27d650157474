// Runs a loaded XDP program on one frame with BPF_PROG_TEST_RUN: the kernel hands back the
// program's verdict and the exact bytes it lets out.
#pragma once

#include <gtest/gtest.h>

#include <bpf/bpf.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <utility>

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

}  // namespace uvs::test
