// libFuzzer target over parse + Pipeline::process: arbitrary frames, from either side, into a
// director that has a service of every forwarding method. Nothing may crash, leak or read out
// of bounds, and every frame must come back to the pool.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <vector>

#include "cli/parse.h"
#include "ctl/control.h"
#include "dp/pipeline.h"
#include "dp/router.h"
#include "io/memory_io.h"
#include "pkt/builder.h"

namespace {

using uvs::InetAddr;

struct Director {
  uvs::ctl::Control ctl{uvs::ctl::ControlOptions{4096, 1, {}, {}}};
  std::unique_ptr<uvs::io::MemoryIo> io;
  uvs::dp::StaticRouter router;
  std::unique_ptr<uvs::dp::Pipeline> pipe;
  uint64_t now = 1000000;

  Director() {
    io = std::make_unique<uvs::io::MemoryIo>(
        std::vector<uvs::io::PortInfo>{uvs::io::PortInfo{}, uvs::io::PortInfo{}}, 256);
    uvs::dp::Hop hop{{1, {2, 0, 0, 0, 0, 1}, {2, 0, 0, 0, 0, 2}}, *InetAddr::parse("10.0.2.1"), 1500};
    router.set_default(AF_INET, hop);
    hop.src = *InetAddr::parse("fd00::1");
    router.set_default(AF_INET6, hop);
    for (const char* line : {
             "-A -t 10.0.100.1:80 -s rr", "-a -t 10.0.100.1:80 -r 10.0.2.11:8080 -m",
             "-a -t 10.0.100.1:80 -r 10.0.2.12 -g", "-A -u 10.0.100.1:53 -s sh -p 60",
             "-a -u 10.0.100.1:53 -r 10.0.2.13 -i --tun-type gue --tun-port 6080",
             "-A -t 10.0.100.2:80 -s wrr", "-a -t 10.0.100.2:80 -r 10.0.2.14 -b",
             "-P -t 10.0.100.2:80 -z 10.0.2.100", "-A -t [fd00:100::1]:80 -s wlc",
             "-a -t [fd00:100::1]:80 -r fd00:2::11 -m", "-A -t 10.0.100.3:0 -s rr -p",
             "-a -t 10.0.100.3:0 -r 10.0.2.15 -i --tun-type gre --tun-csum",
             "-A --sctp-service 10.0.100.4:9 -s rr"}) {
      auto parsed = uvs::cli::parse_command_line(uvs::cli::split_restore_line(line, "uvsadm"));
      if (parsed.command) ctl.apply(*parsed.command);
    }
    uvs::dp::PipelineOptions po;
    po.tracker.table.capacity = 1024;
    po.tracker.table.hash_seed = 1;
    po.tracker.rng_seed = 1;
    pipe = std::make_unique<uvs::dp::Pipeline>(po, ctl.data_plane(), router, *io, now);
  }
};

}  // namespace

// A well-formed frame toward (or from) one of the services, chosen by 8 input bytes, so the
// fuzzer reaches connection states instead of stopping at the parser.
std::vector<uint8_t> synth(const uint8_t* b) {
  static const char* const kVips[] = {"10.0.100.1", "10.0.100.2", "10.0.100.3", "fd00:100::1"};
  static const char* const kReals[] = {"10.0.2.11", "10.0.2.12", "10.0.2.14", "fd00:2::11"};
  const int svc = b[0] & 3;
  const bool v6 = svc == 3;
  const char* client = v6 ? "fd00:1::5" : "10.0.1.5";
  uvs::pkt::FrameBuilder f;
  const bool reply = b[0] & 4;
  if (v6)
    reply ? f.ipv6(kReals[svc], client) : f.ipv6(client, kVips[svc]);
  else
    reply ? f.ipv4(kReals[svc], svc == 1 ? "10.0.2.100" : client) : f.ipv4(client, kVips[svc]);
  const uint16_t cport = static_cast<uint16_t>(1024 + (b[1] & 7));
  const uint16_t vport = (b[0] & 8) ? 53 : 80;
  const uint16_t rport = (b[0] & 16) ? 8080 : vport;
  if (b[0] & 32)
    reply ? f.udp(rport, cport) : f.udp(cport, vport);
  else
    reply ? f.tcp(rport, cport, b[2], b[3], b[4]) : f.tcp(cport, vport, b[2], b[3], b[4]);
  if (b[0] & 64) f.l4_csum(uvs::pkt::CsumMode::kPartial);
  f.ttl(b[5]).df(b[6] & 1).payload_size(b[7] * 8);
  return f.build();
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static Director* d = new Director();
  // Input: records processed as one burst, then time moves on. A record is either
  // [0b0xxxxxxp][len:2][bytes] (raw frame on port p) or [0b1xxxxxxp][8 bytes] (a synthesised
  // frame on port p, see synth()).
  size_t off = 0;
  while (off + 3 <= size) {
    uint16_t port = data[off] & 1;
    if (data[off] & 0x80) {
      if (off + 9 > size) break;
      d->io->inject(port, synth(data + off + 1));
      off += 9;
      continue;
    }
    size_t len = (size_t{data[off + 1]} << 8 | data[off + 2]) % 2048;
    off += 3;
    if (len > size - off) len = size - off;
    d->io->inject(port, std::vector<uint8_t>(data + off, data + off + len));
    off += len;
  }
  d->now += 1 + (size & 0xfff) * 100;
  while (d->pipe->poll(d->now) != 0) {
  }
  d->io->take();
  if (d->io->free_buffers() != 256) std::abort();  // a frame leaked
  return 0;
}
